//! Just enough RESP2 for a subscriber: commands out, and a decoder for what a server sends a
//! pub/sub connection (replies to the handshake, then `pmessage` arrays). The decoder is fed
//! whatever the socket returned and yields complete values. Its memory is bounded: a bulk
//! string longer than `max_bulk` is not kept but dropped as it streams past (`TooLong` gives
//! its length), so one huge PUBLISH cannot make the module hold it.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    /// A bulk string longer than the decoder keeps: its length; its bytes were dropped.
    TooLong(usize),
    Array(Option<Vec<Value>>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "protocol error from the server: {}", self.0)
    }
}

/// Longest header or status line accepted (`$<len>`, `+OK`, an error text).
const MAX_LINE: usize = 64 * 1024;
/// Most elements in one array: a subscriber gets arrays of 3 or 4.
const MAX_ARRAY: usize = 64;

/// Encodes one command as a RESP array of bulk strings (binary-safe).
pub fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

pub struct Decoder {
    buf: Vec<u8>,
    start: usize,
    max_bulk: usize,
    /// The array being filled: how many elements it has, and those decoded so far.
    array: Option<(usize, Vec<Value>)>,
    /// Bytes of a too-long bulk string (and its CRLF) still to drop.
    skip: usize,
}

enum Item {
    Value(Value),
    ArrayHeader(i64),
}

impl Decoder {
    pub fn new(max_bulk: usize) -> Decoder {
        Decoder {
            buf: Vec::new(),
            start: 0,
            max_bulk,
            array: None,
            skip: 0,
        }
    }

    /// Bytes held and not decoded yet.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    pub fn feed(&mut self, mut data: &[u8]) {
        if self.skip > 0 && self.buffered() == 0 {
            let n = self.skip.min(data.len());
            self.skip -= n;
            data = &data[n..];
        }
        if self.start > 0 && (self.start == self.buf.len() || self.start > self.buf.len() / 2) {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// The next complete value, None when more bytes are needed.
    pub fn next(&mut self) -> Result<Option<Value>, ProtocolError> {
        loop {
            if self.skip > 0 {
                let n = self.skip.min(self.buffered());
                self.start += n;
                self.skip -= n;
                if self.skip > 0 {
                    return Ok(None);
                }
            }
            let Some(item) = self.item()? else {
                return Ok(None);
            };
            let value = match item {
                Item::ArrayHeader(len) => {
                    if self.array.is_some() {
                        return Err(ProtocolError("nested array".to_string()));
                    }
                    match len {
                        -1 => Value::Array(None),
                        0 => Value::Array(Some(Vec::new())),
                        n if n < -1 || n as u64 > MAX_ARRAY as u64 => {
                            return Err(ProtocolError(format!("array of {n} elements")));
                        }
                        n => {
                            let n = n as usize;
                            self.array = Some((n, Vec::with_capacity(n)));
                            continue;
                        }
                    }
                }
                Item::Value(value) => value,
            };
            let Some((len, items)) = self.array.as_mut() else {
                return Ok(Some(value));
            };
            items.push(value);
            if items.len() == *len {
                let items = self.array.take().map(|(_, items)| items);
                return Ok(Some(Value::Array(items)));
            }
        }
    }

    /// One value or array header from the front of the buffer.
    fn item(&mut self) -> Result<Option<Item>, ProtocolError> {
        let available = &self.buf[self.start..];
        let scan = &available[..available.len().min(MAX_LINE + 2)];
        let Some(eol) = scan.windows(2).position(|w| w == b"\r\n") else {
            if available.len() > MAX_LINE {
                return Err(ProtocolError("line too long".to_string()));
            }
            return Ok(None);
        };
        let line = &available[..eol];
        let Some((&kind, rest)) = line.split_first() else {
            return Err(ProtocolError("empty line".to_string()));
        };
        let header = eol + 2;
        let item = match kind {
            b'+' => Item::Value(Value::Simple(rest.to_vec())),
            b'-' => Item::Value(Value::Error(rest.to_vec())),
            b':' => Item::Value(Value::Integer(number(rest)?)),
            b'*' => Item::ArrayHeader(number(rest)?),
            b'$' => {
                let len = number(rest)?;
                if len == -1 {
                    Item::Value(Value::Bulk(None))
                } else if len < -1 {
                    return Err(ProtocolError(format!("bulk length {len}")));
                } else if len as u64 > self.max_bulk as u64 {
                    let len = usize::try_from(len)
                        .map_err(|_| ProtocolError(format!("bulk length {len}")))?;
                    self.start += header;
                    self.skip = len.saturating_add(2);
                    return Ok(Some(Item::Value(Value::TooLong(len))));
                } else {
                    let end = header.saturating_add(len as usize);
                    if available.len() < end.saturating_add(2) {
                        return Ok(None);
                    }
                    if &available[end..end + 2] != b"\r\n" {
                        return Err(ProtocolError("bulk string without CRLF".to_string()));
                    }
                    let bytes = available[header..end].to_vec();
                    self.start += end + 2;
                    return Ok(Some(Item::Value(Value::Bulk(Some(bytes)))));
                }
            }
            other => return Err(ProtocolError(format!("unexpected type byte 0x{other:02x}"))),
        };
        self.start += header;
        Ok(Some(item))
    }
}

fn number(text: &[u8]) -> Result<i64, ProtocolError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| {
            ProtocolError(format!(
                "bad number '{}'",
                String::from_utf8_lossy(&text[..text.len().min(32)])
            ))
        })
}

/// The body of a published message: its bytes, or only its size when it was too long to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Bytes(Vec<u8>),
    TooLong(usize),
}

/// What a subscribed connection receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Message {
        channel: Vec<u8>,
        payload: Payload,
    },
    /// A message whose channel name was too long to keep.
    ChannelTooLong(usize),
    Subscribed,
    Pong,
    /// Anything else, described (an error reply, an unknown push).
    Other(String),
}

/// Reads a value as a pub/sub event (`pmessage`, `psubscribe`, `pong`).
pub fn event(value: Value) -> Event {
    let Value::Array(Some(items)) = value else {
        return Event::Other(describe(&value));
    };
    let kind = match items.first() {
        Some(Value::Bulk(Some(kind))) => kind.to_ascii_lowercase(),
        _ => return Event::Other(describe(&Value::Array(Some(items)))),
    };
    match (kind.as_slice(), items.len()) {
        (b"pmessage", 4) => {
            let mut items = items.into_iter().skip(2);
            let (Some(channel), Some(payload)) = (items.next(), items.next()) else {
                return Event::Other("short pmessage".to_string());
            };
            let payload = match payload {
                Value::Bulk(Some(bytes)) => Payload::Bytes(bytes),
                Value::TooLong(len) => Payload::TooLong(len),
                other => return Event::Other(format!("pmessage with {}", describe(&other))),
            };
            match channel {
                Value::Bulk(Some(channel)) => Event::Message { channel, payload },
                Value::TooLong(len) => Event::ChannelTooLong(len),
                other => Event::Other(format!("pmessage on {}", describe(&other))),
            }
        }
        (b"psubscribe", 3) => Event::Subscribed,
        (b"pong", 2) => Event::Pong,
        _ => Event::Other(describe(&Value::Array(Some(items)))),
    }
}

/// A short, printable account of a value (for errors; never a message's content).
pub fn describe(value: &Value) -> String {
    match value {
        Value::Simple(text) => format!("+{}", String::from_utf8_lossy(text)),
        Value::Error(text) => String::from_utf8_lossy(text).into_owned(),
        Value::Integer(n) => format!(":{n}"),
        Value::Bulk(None) => "a null bulk string".to_string(),
        Value::Bulk(Some(bytes)) => format!("a bulk string of {} bytes", bytes.len()),
        Value::TooLong(len) => format!("a bulk string of {len} bytes"),
        Value::Array(None) => "a null array".to_string(),
        Value::Array(Some(items)) => match items.first() {
            Some(Value::Bulk(Some(kind))) => format!(
                "a '{}' array of {}",
                String::from_utf8_lossy(&kind[..kind.len().min(32)]),
                items.len()
            ),
            _ => format!("an array of {}", items.len()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(decoder: &mut Decoder) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(value) = decoder.next().unwrap() {
            out.push(value);
        }
        out
    }

    fn pmessage(channel: &[u8], message: &[u8]) -> Vec<u8> {
        let mut out = b"*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n".to_vec();
        out.extend(format!("${}\r\n", channel.len()).as_bytes());
        out.extend(channel);
        out.extend(format!("\r\n${}\r\n", message.len()).as_bytes());
        out.extend(message);
        out.extend(b"\r\n");
        out
    }

    #[test]
    fn commands_are_binary_safe_arrays() {
        assert_eq!(
            command(&[b"PSUBSCRIBE", b"a\r\n\x00"]),
            b"*2\r\n$10\r\nPSUBSCRIBE\r\n$4\r\na\r\n\x00\r\n"
        );
    }

    #[test]
    fn decodes_handshake_replies_and_messages_byte_exact() {
        let mut d = Decoder::new(1024);
        let mut bytes = b"+OK\r\n-ERR wrong\r\n:7\r\n$-1\r\n*-1\r\n*0\r\n".to_vec();
        bytes.extend(b"*3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:1\r\n");
        bytes.extend(pmessage(b"ch\x00\r\n", b"\x00\r\nbody\n\r"));
        d.feed(&bytes);
        let values = decode_all(&mut d);
        assert_eq!(values[0], Value::Simple(b"OK".to_vec()));
        assert_eq!(values[1], Value::Error(b"ERR wrong".to_vec()));
        assert_eq!(values[2], Value::Integer(7));
        assert_eq!(values[3], Value::Bulk(None));
        assert_eq!(values[4], Value::Array(None));
        assert_eq!(values[5], Value::Array(Some(vec![])));
        assert_eq!(event(values[6].clone()), Event::Subscribed);
        assert_eq!(
            event(values[7].clone()),
            Event::Message {
                channel: b"ch\x00\r\n".to_vec(),
                payload: Payload::Bytes(b"\x00\r\nbody\n\r".to_vec()),
            }
        );
        assert_eq!(values.len(), 8);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn any_split_of_the_input_gives_the_same_values() {
        let mut bytes = Vec::new();
        for n in 0..20 {
            bytes.extend(pmessage(format!("c{n}").as_bytes(), &vec![b'\r'; n * 7]));
        }
        bytes.extend(pmessage(b"big", &[b'x'; 300]));
        bytes.extend(pmessage(b"after", b"ok"));
        let mut whole = Decoder::new(100);
        whole.feed(&bytes);
        let expected = decode_all(&mut whole);
        assert_eq!(expected.len(), 22);
        for step in [1, 2, 3, 5, 7, 64, 301] {
            let mut d = Decoder::new(100);
            let mut got = Vec::new();
            for chunk in bytes.chunks(step) {
                d.feed(chunk);
                got.extend(decode_all(&mut d));
            }
            assert_eq!(got, expected, "chunks of {step}");
        }
    }

    #[test]
    fn too_long_bulk_strings_are_dropped_not_kept() {
        let mut d = Decoder::new(10);
        let mut bytes = pmessage(b"ch", &[b'x'; 10_000]);
        bytes.extend(pmessage(b"ch", b"small"));
        let header_end = bytes.windows(8).position(|w| w == b"$10000\r\n").unwrap() + 8;
        let (head, tail) = bytes.split_at(header_end + 5);
        d.feed(head);
        assert_eq!(
            event(d.next().unwrap().unwrap()),
            Event::Message {
                channel: b"ch".to_vec(),
                payload: Payload::TooLong(10_000)
            }
        );
        for chunk in tail.chunks(1000) {
            d.feed(chunk);
            assert!(d.buffered() <= 1000 + 64, "held {}", d.buffered());
            if let Some(value) = d.next().unwrap() {
                assert_eq!(
                    event(value),
                    Event::Message {
                        channel: b"ch".to_vec(),
                        payload: Payload::Bytes(b"small".to_vec())
                    }
                );
            }
        }
        let mut d = Decoder::new(10);
        d.feed(&pmessage(b"long-channel", b"m"));
        assert_eq!(event(d.next().unwrap().unwrap()), Event::ChannelTooLong(12));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in [
            &b"?\r\n"[..],
            b"\r\n",
            b"$x\r\n",
            b"$-5\r\n",
            b"*-2\r\n",
            b"*100000\r\n",
            b"*2\r\n*1\r\n",
            b":99999999999999999999\r\n",
            b"$3\r\nabcde",
        ] {
            let mut d = Decoder::new(16);
            d.feed(bad);
            assert!(d.next().is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let mut d = Decoder::new(16);
        d.feed(&vec![b'+'; MAX_LINE + 10]);
        assert!(d.next().is_err());
        let mut d = Decoder::new(usize::MAX);
        d.feed(b"$9223372036854775807\r\n");
        assert_eq!(d.next().unwrap(), None, "waits for the bytes");
    }

    #[test]
    fn other_values_are_described_without_content() {
        assert_eq!(
            event(Value::Error(b"NOPERM no".to_vec())),
            Event::Other("NOPERM no".to_string())
        );
        let pong = Value::Array(Some(vec![
            Value::Bulk(Some(b"pong".to_vec())),
            Value::Bulk(Some(Vec::new())),
        ]));
        assert_eq!(event(pong), Event::Pong);
        let secret = Value::Array(Some(vec![
            Value::Bulk(Some(b"message".to_vec())),
            Value::Bulk(Some(b"ch".to_vec())),
            Value::Bulk(Some(b"secret".to_vec())),
        ]));
        let Event::Other(text) = event(secret) else {
            panic!()
        };
        assert!(!text.contains("secret"), "{text}");
    }
}
