//! The module's one error type. Each variant says whose problem it is, and so what happens
//! next: a command replies with it, a sink or source decides by variant (never by text)
//! whether to retry, skip, dead-letter or fail. Error texts are written where the variant is
//! built; this file only adds the reply code and the classification.

use redis_module::RedisError;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The caller's arguments are wrong; nothing was changed.
    Arg(String),
    /// A required argument is absent: "missing <what>".
    Missing(String),
    /// No bridge of that kind ("sink", "source", "bridge") is named so; `name` is shown as
    /// quoted by the caller.
    NoSuchBridge { kind: &'static str, name: String },
    /// CREATE with a name a sink or source already has.
    BridgeExists(String),
    /// The caller may not do this (the reply ACL itself would give).
    NoPerm(String),
    /// A Kafka record or stream entry cannot become a write or a record; ON-ERROR applies.
    Record(String),
    /// Redis refused a command the module ran.
    Refused(Refusal),
    /// Kafka or librdkafka failed (connection, topic creation, delivery, client setup).
    Kafka(String),
    /// Module state in the dataset (`__kafka:*`) cannot be read or written.
    State(String),
    /// The module's own machinery failed (a thread, a panic, a lost context).
    Internal(String),
}

/// An error reply from a command the module ran, with its code parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub command: String,
    pub code: Code,
    /// The whole reply, code included.
    pub reply: String,
}

/// The error codes the module acts on; every other code is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Oom,
    Loading,
    Busy,
    MasterDown,
    TryAgain,
    ReadOnly,
    /// Redis Cluster, from RM_Call: the cluster is down, or the key's slot is not served here
    /// (yet, or any more); both pass once the cluster has settled.
    ClusterDown,
    WrongType,
    Err,
    Other,
}

impl Code {
    pub fn parse(reply: &str) -> Code {
        // RM_Call words these as plain ERR replies.
        if reply.contains("while the cluster is down") || reply.contains("non local key") {
            return Code::ClusterDown;
        }
        match reply.split(' ').next().unwrap_or("") {
            "CLUSTERDOWN" => Code::ClusterDown,
            "OOM" => Code::Oom,
            "LOADING" => Code::Loading,
            "BUSY" => Code::Busy,
            "MASTERDOWN" => Code::MasterDown,
            "TRYAGAIN" => Code::TryAgain,
            "READONLY" => Code::ReadOnly,
            "WRONGTYPE" => Code::WrongType,
            "ERR" => Code::Err,
            _ => Code::Other,
        }
    }

    /// Codes that say "not now" rather than "never": the same write may succeed later.
    pub fn is_temporary(self) -> bool {
        matches!(
            self,
            Code::Oom
                | Code::Loading
                | Code::Busy
                | Code::MasterDown
                | Code::TryAgain
                | Code::ReadOnly
                | Code::ClusterDown
        )
    }
}

impl Refusal {
    pub fn new(command: impl Into<String>, reply: impl Into<String>) -> Refusal {
        let reply = reply.into();
        Refusal {
            command: command.into(),
            code: Code::parse(&reply),
            reply,
        }
    }
}

impl Error {
    /// True when retrying the same work later may succeed.
    pub fn is_temporary(&self) -> bool {
        match self {
            Error::Refused(refusal) => refusal.code.is_temporary(),
            _ => false,
        }
    }

    /// The same error with context in front of its text ("reading offsets: ...").
    pub fn context(self, what: &str) -> Error {
        match self {
            Error::Arg(m) => Error::Arg(format!("{what}: {m}")),
            other @ (Error::Missing(_) | Error::NoSuchBridge { .. } | Error::BridgeExists(_)) => {
                Error::Arg(format!("{what}: {other}"))
            }
            Error::NoPerm(m) => Error::NoPerm(format!("{what}: {m}")),
            Error::Record(m) => Error::Record(format!("{what}: {m}")),
            Error::Refused(r) => Error::Refused(Refusal {
                command: format!("{what}: {}", r.command),
                ..r
            }),
            Error::Kafka(m) => Error::Kafka(format!("{what}: {m}")),
            Error::State(m) => Error::State(format!("{what}: {m}")),
            Error::Internal(m) => Error::Internal(format!("{what}: {m}")),
        }
    }

    #[cfg(test)]
    pub fn contains(&self, needle: &str) -> bool {
        self.to_string().contains(needle)
    }

    /// The error reply: `NOPERM ...` for permissions, `ERR ...` for the rest.
    pub fn reply_text(&self) -> String {
        match self {
            Error::NoPerm(m) => format!("NOPERM {m}"),
            other => format!("ERR {other}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Arg(m)
            | Error::NoPerm(m)
            | Error::Record(m)
            | Error::Kafka(m)
            | Error::State(m)
            | Error::Internal(m) => f.write_str(m),
            Error::Refused(r) => write!(f, "{} failed: {}", r.command, r.reply),
            Error::Missing(what) => write!(f, "missing {what}"),
            Error::NoSuchBridge { kind, name } => write!(f, "no {kind} named {name}"),
            Error::BridgeExists(name) => write!(f, "a bridge named '{name}' already exists"),
        }
    }
}

impl From<Error> for RedisError {
    fn from(error: Error) -> RedisError {
        RedisError::String(error.reply_text())
    }
}

/// Shorthand for a failed argument check.
pub fn arg_error<T>(message: impl Into<String>) -> Result<T, Error> {
    Err(Error::Arg(message.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_is_decided_by_the_parsed_code() {
        for reply in [
            "OOM command not allowed when used memory > 'maxmemory'.",
            "LOADING Redis is loading the dataset in memory",
            "BUSY Redis is busy running a script",
            "MASTERDOWN Link with MASTER is down",
            "TRYAGAIN Multiple keys request during rehashing of slot",
            "READONLY You can't write against a read only replica.",
            "ERR Can not execute a command 'xadd' while the cluster is down",
            "ERR Attempted to access a non local key in a cluster node",
            "CLUSTERDOWN The cluster is down",
        ] {
            assert!(
                Error::Refused(Refusal::new("SET", reply)).is_temporary(),
                "{reply}"
            );
        }
        for reply in [
            "WRONGTYPE Operation against a key holding the wrong kind of value",
            "ERR new objects must be created at the root",
            "NOSCRIPT No matching script",
            "OOMX not a code we know",
            "",
        ] {
            assert!(
                !Error::Refused(Refusal::new("SET", reply)).is_temporary(),
                "{reply}"
            );
        }
        assert!(!Error::Kafka("OOM".into()).is_temporary());
    }

    #[test]
    fn replies_carry_a_code() {
        assert_eq!(Error::Arg("bad".into()).reply_text(), "ERR bad");
        assert_eq!(Error::NoPerm("no".into()).reply_text(), "NOPERM no");
        assert_eq!(
            Error::Missing("sink name".into()).reply_text(),
            "ERR missing sink name"
        );
        let none = Error::NoSuchBridge {
            kind: "sink",
            name: "'x'".into(),
        };
        assert_eq!(none.reply_text(), "ERR no sink named 'x'");
        assert_eq!(
            Error::BridgeExists("s".into()).reply_text(),
            "ERR a bridge named 's' already exists"
        );
        let refused = Error::Refused(Refusal::new("XADD", "OOM full"));
        assert_eq!(refused.to_string(), "XADD failed: OOM full");
        assert_eq!(
            refused.context("slice").to_string(),
            "slice: XADD failed: OOM full"
        );
    }
}
