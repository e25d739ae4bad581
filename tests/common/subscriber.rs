//! A real subscriber for tests: a RESP2 connection in PSUBSCRIBE mode.

use crate::common::resp::{RawConnection, Reply};

/// A RESP2 connection in PSUBSCRIBE mode. Reads block at most the connection's read timeout
/// (120 s): that is the deadline of every wait for a message.
pub struct Subscriber(RawConnection);

impl Subscriber {
    pub fn new(port: u16, pattern: &str) -> Subscriber {
        let mut conn = RawConnection::connect(port).expect("connect the subscriber");
        let command = vec![b"PSUBSCRIBE".to_vec(), pattern.as_bytes().to_vec()];
        let replies = conn.pipeline(&[command]).expect("PSUBSCRIBE");
        assert!(
            matches!(&replies[0], Reply::Array(Some(items)) if items.len() == 3),
            "{replies:?}"
        );
        Subscriber(conn)
    }

    /// The next message as (channel, payload).
    pub fn next(&mut self) -> (Vec<u8>, Vec<u8>) {
        let reply = self.0.read_reply().expect("a message before the deadline");
        match reply {
            Reply::Array(Some(items)) => match items.as_slice() {
                [Reply::Bulk(Some(kind)), _, Reply::Bulk(Some(channel)), Reply::Bulk(Some(payload))]
                    if kind == b"pmessage" =>
                {
                    (channel.clone(), payload.clone())
                }
                other => panic!("not a pmessage: {other:?}"),
            },
            other => panic!("not a pmessage: {other:?}"),
        }
    }

    /// The next message, or None when none comes within `quiet`: how a test learns that the
    /// server delivered all it is going to (pub/sub cannot say a message was lost).
    pub fn next_within(&mut self, quiet: std::time::Duration) -> Option<(Vec<u8>, Vec<u8>)> {
        self.0
            .set_read_timeout(quiet)
            .expect("set the read timeout");
        let reply = self.0.read_reply();
        self.0
            .set_read_timeout(std::time::Duration::from_secs(120))
            .expect("restore the read timeout");
        match reply {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(e) => panic!("reading a message: {e}"),
            Ok(Reply::Array(Some(items))) => match items.as_slice() {
                [Reply::Bulk(Some(kind)), _, Reply::Bulk(Some(channel)), Reply::Bulk(Some(payload))]
                    if kind == b"pmessage" =>
                {
                    Some((channel.clone(), payload.clone()))
                }
                other => panic!("not a pmessage: {other:?}"),
            },
            Ok(other) => panic!("not a pmessage: {other:?}"),
        }
    }

    pub fn take(&mut self, count: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..count).map(|_| self.next()).collect()
    }

    /// Messages up to and without the one whose payload is `marker`.
    pub fn until(&mut self, marker: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut before = Vec::new();
        loop {
            let message = self.next();
            if message.1 == marker {
                return before;
            }
            before.push(message);
        }
    }
}
