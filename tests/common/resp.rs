//! A minimal, byte-exact RESP2 client for tests that must see replies exactly as the server
//! wrote them (redis-rs refuses error replies that are not UTF-8).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The error code (first word) of an error reply.
    pub fn error_code(&self) -> Option<&[u8]> {
        match self {
            Reply::Error(text) => Some(text.split(|b| *b == b' ').next().unwrap_or(&[])),
            _ => None,
        }
    }
}

pub struct RawConnection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl RawConnection {
    pub fn connect(port: u16) -> std::io::Result<RawConnection> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        Ok(RawConnection {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    /// How long a read may block before it fails with `WouldBlock`/`TimedOut`.
    pub fn set_read_timeout(&mut self, timeout: Duration) -> std::io::Result<()> {
        self.reader.get_ref().set_read_timeout(Some(timeout))
    }

    /// Sends every command, then reads one reply per command.
    pub fn pipeline(&mut self, commands: &[Vec<Vec<u8>>]) -> std::io::Result<Vec<Reply>> {
        let mut out = Vec::new();
        for command in commands {
            out.extend(format!("*{}\r\n", command.len()).as_bytes());
            for arg in command {
                out.extend(format!("${}\r\n", arg.len()).as_bytes());
                out.extend(arg);
                out.extend(b"\r\n");
            }
        }
        self.writer.write_all(&out)?;
        commands.iter().map(|_| self.read_reply()).collect()
    }

    fn line(&mut self) -> std::io::Result<Vec<u8>> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\r\n") {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed mid-reply",
            ));
        }
        line.truncate(line.len() - 2);
        Ok(line)
    }

    fn number(text: &[u8]) -> std::io::Result<i64> {
        std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "bad number"))
    }

    pub fn read_reply(&mut self) -> std::io::Result<Reply> {
        let line = self.line()?;
        let (kind, rest) = line.split_first().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "empty reply line")
        })?;
        Ok(match kind {
            b'+' => Reply::Simple(rest.to_vec()),
            b'-' => Reply::Error(rest.to_vec()),
            b':' => Reply::Integer(Self::number(rest)?),
            b'$' => {
                let len = Self::number(rest)?;
                if len < 0 {
                    Reply::Bulk(None)
                } else {
                    let mut data = vec![0; len as usize + 2];
                    self.reader.read_exact(&mut data)?;
                    data.truncate(len as usize);
                    Reply::Bulk(Some(data))
                }
            }
            b'*' => {
                let len = Self::number(rest)?;
                if len < 0 {
                    Reply::Array(None)
                } else {
                    let items = (0..len)
                        .map(|_| self.read_reply())
                        .collect::<Result<_, _>>()?;
                    Reply::Array(Some(items))
                }
            }
            _ => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("unknown reply type {}", *kind as char),
                ))
            }
        })
    }
}
