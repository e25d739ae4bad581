//! A CHANNELS source's connection to its own server: a plain RESP2 client that authenticates
//! with the process's token (`KAFKA._SUBSCRIBER`), names itself so operators find it in
//! CLIENT LIST, and PSUBSCRIBEs the source's pattern. It then sees exactly what any
//! subscriber sees: messages from clients, Lua, MULTI/EXEC and other modules, after ACL
//! allowed their PUBLISH. Reads wait at most the time asked, so the worker notices a stop.

use crate::error::Code;
use crate::source::channels::endpoint::Endpoint;
use crate::source::channels::resp::{self, Decoder, Event, Value};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Bytes read from the socket at a time: the most decoded per read.
const READ_CHUNK: usize = 64 * 1024;
/// The server is this process: its listener answers at once, or not at all (a stale bind
/// address), and a stop must not wait long for it.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// The least the decoder keeps whole, whatever the producer's limit: the words of the
/// protocol itself (`pmessage`, a pattern, a channel) must never arrive as sizes only.
const MIN_BULK: usize = 1024;

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn open(endpoint: &Endpoint) -> std::io::Result<Stream> {
        match endpoint {
            Endpoint::Unix(path) => UnixStream::connect(path).map(Stream::Unix),
            Endpoint::Tcp(address) => {
                let stream = TcpStream::connect_timeout(address, CONNECT_TIMEOUT)?;
                // Small writes (the handshake) go out at once; nothing is written after it.
                stream.set_nodelay(true)?;
                Ok(Stream::Tcp(stream))
            }
        }
    }

    fn set_read_timeout(&self, wait: Duration) -> std::io::Result<()> {
        let wait = Some(wait.max(Duration::from_millis(1)));
        match self {
            Stream::Tcp(s) => s.set_read_timeout(wait),
            Stream::Unix(s) => s.set_read_timeout(wait),
        }
    }

    fn set_write_timeout(&self, wait: Duration) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(Some(wait)),
            Stream::Unix(s) => s.set_write_timeout(Some(wait)),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

/// Why a subscription could not be made.
#[derive(Debug)]
pub enum ConnectError {
    /// Nothing answered, or the connection broke: try again later.
    Unreachable(String),
    /// The server answered and refused (no subscriber user, ACL): trying again will not help.
    Refused(String),
    Stopped,
}

/// The connection ended (the server closed it, or it broke).
#[derive(Debug)]
pub struct Closed(pub String);

/// What the subscriber identifies as.
pub struct Identity<'a> {
    pub token: &'a str,
    pub client_name: &'a str,
    pub pattern: &'a str,
}

pub struct Subscriber {
    stream: Stream,
    decoder: Decoder,
    chunk: Vec<u8>,
    timeout: Duration,
    pub endpoint: Endpoint,
}

impl Subscriber {
    /// Connects to the first endpoint that answers and subscribes; `max_bulk` bounds what
    /// one message may hold in memory (longer ones arrive as their size only).
    pub fn connect(
        endpoints: &[Endpoint],
        identity: &Identity<'_>,
        max_bulk: usize,
        stop: &AtomicBool,
    ) -> Result<(Subscriber, Option<String>), ConnectError> {
        let mut failures = Vec::new();
        for endpoint in endpoints {
            if stop.load(Ordering::Acquire) {
                return Err(ConnectError::Stopped);
            }
            let stream = match Stream::open(endpoint) {
                Ok(stream) => stream,
                Err(e) => {
                    failures.push(format!("{endpoint}: {e}"));
                    continue;
                }
            };
            let mut subscriber = Subscriber {
                stream,
                decoder: Decoder::new(max_bulk.max(MIN_BULK)),
                chunk: vec![0; READ_CHUNK],
                timeout: Duration::ZERO,
                endpoint: endpoint.clone(),
            };
            return match subscriber.handshake(identity, stop) {
                Ok(warning) => Ok((subscriber, warning)),
                Err(ConnectError::Unreachable(e)) => {
                    failures.push(format!("{endpoint}: {e}"));
                    continue;
                }
                Err(other) => Err(other),
            };
        }
        Err(ConnectError::Unreachable(format!(
            "cannot connect to this server to subscribe: {}",
            failures.join("; ")
        )))
    }

    /// Authenticates, names the connection and subscribes, in one round trip. A refused
    /// CLIENT SETNAME (a renamed CLIENT command, say) is only a warning.
    fn handshake(
        &mut self,
        identity: &Identity<'_>,
        stop: &AtomicBool,
    ) -> Result<Option<String>, ConnectError> {
        let mut out = resp::command(&[b"KAFKA._SUBSCRIBER", identity.token.as_bytes()]);
        out.extend(resp::command(&[
            b"CLIENT",
            b"SETNAME",
            identity.client_name.as_bytes(),
        ]));
        out.extend(resp::command(&[b"PSUBSCRIBE", identity.pattern.as_bytes()]));
        let broken = |e: std::io::Error| ConnectError::Unreachable(e.to_string());
        self.stream
            .set_write_timeout(HANDSHAKE_TIMEOUT)
            .map_err(broken)?;
        self.stream.write_all(&out).map_err(broken)?;
        let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
        let mut replies = Vec::new();
        while replies.len() < 3 {
            if stop.load(Ordering::Acquire) {
                return Err(ConnectError::Stopped);
            }
            if Instant::now() >= deadline {
                return Err(ConnectError::Unreachable(
                    "the server did not answer the subscription in time".to_string(),
                ));
            }
            match self.decoder.next() {
                Ok(Some(value)) => {
                    replies.push(value);
                    continue;
                }
                Ok(None) => {}
                Err(e) => return Err(ConnectError::Unreachable(e.to_string())),
            }
            self.fill(Duration::from_millis(100))
                .map_err(|Closed(e)| ConnectError::Unreachable(e))?;
        }
        let mut replies = replies.into_iter();
        match replies.next() {
            Some(Value::Simple(ok)) if ok == b"OK" => {}
            // A long script (BUSY), loading, a pause: not a refusal, try again later.
            Some(Value::Error(text))
                if Code::parse(&String::from_utf8_lossy(&text)).is_temporary() =>
            {
                return Err(ConnectError::Unreachable(format!(
                    "the server cannot take the subscriber now: {}",
                    String::from_utf8_lossy(&text)
                )))
            }
            Some(other) => {
                return Err(ConnectError::Refused(format!(
                    "the server refused the subscriber's authentication: {}",
                    resp::describe(&other)
                )))
            }
            None => return Err(ConnectError::Unreachable("no reply".to_string())),
        }
        let warning = match replies.next() {
            Some(Value::Simple(ok)) if ok == b"OK" => None,
            other => Some(format!(
                "CLIENT SETNAME {} refused: {}",
                identity.client_name,
                other.map_or_else(|| "no reply".to_string(), |v| resp::describe(&v))
            )),
        };
        match replies.next().map(resp::event) {
            Some(Event::Subscribed) => Ok(warning),
            other => Err(ConnectError::Refused(format!(
                "PSUBSCRIBE {} refused: {}",
                identity.pattern,
                match other {
                    Some(Event::Other(text)) => text,
                    _ => "unexpected reply".to_string(),
                }
            ))),
        }
    }

    /// Reads once, waiting up to `wait`; Ok(false) when nothing arrived.
    fn fill(&mut self, wait: Duration) -> Result<bool, Closed> {
        if wait != self.timeout {
            self.stream
                .set_read_timeout(wait)
                .map_err(|e| Closed(e.to_string()))?;
            self.timeout = wait;
        }
        match self.stream.read(&mut self.chunk) {
            Ok(0) => Err(Closed("the server closed the connection".to_string())),
            Ok(n) => {
                self.decoder.feed(&self.chunk[..n]);
                Ok(true)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(false),
            Err(e) => Err(Closed(e.to_string())),
        }
    }

    /// Appends the events already received to `out`, or, when there are none, waits up to
    /// `wait` for more (at most one read's worth: READ_CHUNK bytes).
    pub fn read(&mut self, wait: Duration, out: &mut Vec<Event>) -> Result<(), Closed> {
        let before = out.len();
        self.decode(out)?;
        if out.len() == before && self.fill(wait)? {
            self.decode(out)?;
        }
        Ok(())
    }

    fn decode(&mut self, out: &mut Vec<Event>) -> Result<(), Closed> {
        loop {
            match self.decoder.next() {
                Ok(Some(value)) => out.push(resp::event(value)),
                Ok(None) => return Ok(()),
                Err(e) => return Err(Closed(e.to_string())),
            }
        }
    }
}
