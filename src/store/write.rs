//! Every change to the module's state keys goes through here: it is applied with the key API
//! and replicated (to replicas and the AOF) as `KAFKA._STATE <op> <key> ...`, which replicas
//! and AOF replay apply with the same code. Clients cannot write these keys (see `guard`), so
//! this is the only way state changes.

use crate::error::Error;
use crate::store::guard;
use crate::store::keys::is_reserved;
use crate::store::keyspace::{Key, KeyKind};
use redis_module::{CallOptionsBuilder, CallResult, Context};

pub const STATE_COMMAND: &str = "kafka._state";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    HashSet {
        key: Vec<u8>,
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
    },
    HashDelete {
        key: Vec<u8>,
        fields: Vec<Vec<u8>>,
    },
    SetAdd {
        key: Vec<u8>,
        member: Vec<u8>,
    },
    SetRemove {
        key: Vec<u8>,
        member: Vec<u8>,
    },
    Delete {
        key: Vec<u8>,
    },
}

impl Change {
    fn key(&self) -> &[u8] {
        match self {
            Change::HashSet { key, .. }
            | Change::HashDelete { key, .. }
            | Change::SetAdd { key, .. }
            | Change::SetRemove { key, .. }
            | Change::Delete { key } => key,
        }
    }

    /// The arguments of `KAFKA._STATE` that replay this change.
    pub fn encode(&self) -> Vec<&[u8]> {
        let mut args: Vec<&[u8]> = Vec::new();
        match self {
            Change::HashSet { key, pairs } => {
                args.extend([&b"HSET"[..], key]);
                for (field, value) in pairs {
                    args.extend([field.as_slice(), value.as_slice()]);
                }
            }
            Change::HashDelete { key, fields } => {
                args.extend([&b"HDEL"[..], key]);
                args.extend(fields.iter().map(Vec::as_slice));
            }
            Change::SetAdd { key, member } => args.extend([&b"SADD"[..], key, member]),
            Change::SetRemove { key, member } => args.extend([&b"SREM"[..], key, member]),
            Change::Delete { key } => args.extend([&b"DEL"[..], key]),
        }
        args
    }

    /// Parses `KAFKA._STATE` arguments (after the command name).
    pub fn decode(args: &[Vec<u8>]) -> Result<Change, Error> {
        let (op, rest) = args
            .split_first()
            .ok_or(Error::State("missing operation".to_string()))?;
        let (key, rest) = rest
            .split_first()
            .ok_or(Error::State("missing key".to_string()))?;
        if !is_reserved(key) {
            return Err(Error::State(
                "key outside the module's namespace".to_string(),
            ));
        }
        let key = key.clone();
        let one = |rest: &[Vec<u8>]| match rest {
            [member] => Ok(member.clone()),
            _ => Err(Error::State("expected exactly one member".to_string())),
        };
        Ok(match op.to_ascii_uppercase().as_slice() {
            b"HSET" if !rest.is_empty() && rest.len() % 2 == 0 => Change::HashSet {
                key,
                pairs: rest
                    .chunks(2)
                    .map(|pair| (pair[0].clone(), pair[1].clone()))
                    .collect(),
            },
            b"HDEL" if !rest.is_empty() => Change::HashDelete {
                key,
                fields: rest.to_vec(),
            },
            b"SADD" => Change::SetAdd {
                key,
                member: one(rest)?,
            },
            b"SREM" => Change::SetRemove {
                key,
                member: one(rest)?,
            },
            b"DEL" if rest.is_empty() => Change::Delete { key },
            _ => {
                return Err(Error::State(
                    "unknown operation or wrong number of arguments".to_string(),
                ))
            }
        })
    }
}

/// Applies a change here only (replicas and AOF replay use this).
pub fn apply(ctx: &Context, change: &Change) -> Result<(), Error> {
    let key_name = String::from_utf8_lossy(change.key()).to_string();
    let refused = |what: &str| Err(Error::State(format!("{what} {key_name} failed")));
    match change {
        Change::HashSet { key, pairs } => {
            let key = Key::open(ctx, key, true)
                .ok_or_else(|| Error::State(format!("cannot open {key_name}")))?;
            if !matches!(key.kind(), KeyKind::Hash | KeyKind::Empty) {
                return Err(Error::State(format!("{key_name} is not a hash")));
            }
            for (field, value) in pairs {
                if !key.hash_put(field, Some(value)) {
                    return refused("writing");
                }
            }
            Ok(())
        }
        Change::HashDelete { key, fields } => {
            let key = Key::open(ctx, key, true)
                .ok_or_else(|| Error::State(format!("cannot open {key_name}")))?;
            match key.kind() {
                KeyKind::Empty => Ok(()),
                KeyKind::Hash => {
                    for field in fields {
                        if !key.hash_put(field, None) {
                            return refused("deleting a field of");
                        }
                    }
                    Ok(())
                }
                _ => Err(Error::State(format!("{key_name} is not a hash"))),
            }
        }
        Change::Delete { key } => {
            let key = Key::open(ctx, key, true)
                .ok_or_else(|| Error::State(format!("cannot open {key_name}")))?;
            if key.kind() == KeyKind::Empty || key.delete() {
                Ok(())
            } else {
                refused("deleting")
            }
        }
        // The key API has no sets: a command, run past the guard, without replication.
        Change::SetAdd { key, member } => set_command(ctx, "SADD", key, member),
        Change::SetRemove { key, member } => set_command(ctx, "SREM", key, member),
    }
}

fn set_command(ctx: &Context, command: &str, key: &[u8], member: &[u8]) -> Result<(), Error> {
    let options = CallOptionsBuilder::new().errors_as_replies().build();
    let reply: CallResult =
        guard::as_module(|| ctx.call_ext(command, &options, &[key, member][..]));
    reply.map(|_| ()).map_err(|e| {
        Error::State(format!(
            "{command} {} failed: {}",
            String::from_utf8_lossy(key),
            e.to_utf8_string().unwrap_or_default()
        ))
    })
}

/// Sets fields of a state hash (offsets, checkpoints) and replicates the change.
pub fn set_fields(ctx: &Context, key: &str, pairs: Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), Error> {
    if pairs.is_empty() {
        return Ok(());
    }
    commit(
        ctx,
        &Change::HashSet {
            key: key.as_bytes().to_vec(),
            pairs,
        },
    )
}

/// Applies a change and replicates it. The caller holds the lock; everything replicated
/// under one hold reaches replicas and the AOF as one MULTI/EXEC.
pub fn commit(ctx: &Context, change: &Change) -> Result<(), Error> {
    apply(ctx, change)?;
    ctx.replicate(STATE_COMMAND, change.encode().as_slice());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(change: Change) {
        let args: Vec<Vec<u8>> = change.encode().iter().map(|a| a.to_vec()).collect();
        assert_eq!(Change::decode(&args), Ok(change));
    }

    #[test]
    fn changes_survive_their_replication_encoding() {
        round_trip(Change::HashSet {
            key: b"__kafka:offsets:s".to_vec(),
            pairs: vec![
                (b"t:0".to_vec(), b"12".to_vec()),
                (b"\0".to_vec(), b"".to_vec()),
            ],
        });
        round_trip(Change::HashDelete {
            key: b"__kafka:x".to_vec(),
            fields: vec![b"a".to_vec()],
        });
        round_trip(Change::SetAdd {
            key: b"__kafka:bridges".to_vec(),
            member: b"n".to_vec(),
        });
        round_trip(Change::SetRemove {
            key: b"__kafka:bridges".to_vec(),
            member: b"n".to_vec(),
        });
        round_trip(Change::Delete {
            key: b"__kafka:bridge:n".to_vec(),
        });
    }

    #[test]
    fn decode_refuses_foreign_keys_and_bad_shapes() {
        let args = |a: &[&str]| a.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
        assert!(Change::decode(&args(&["HSET", "user:1", "f", "v"])).is_err());
        assert!(Change::decode(&args(&["HSET", "__kafka:x", "f"])).is_err());
        assert!(Change::decode(&args(&["SADD", "__kafka:x"])).is_err());
        assert!(Change::decode(&args(&["DEL", "__kafka:x", "extra"])).is_err());
        assert!(Change::decode(&args(&["FLUSHALL", "__kafka:x"])).is_err());
        assert!(Change::decode(&args(&[])).is_err());
    }
}
