//! Bridge definitions kept in the dataset, so they persist (RDB/AOF), replicate, and come back
//! after a restart or failover (key layout in `keys`). Reading is defensive: the keys may come
//! from a dataset written while the module was absent, so names, types and sizes are checked
//! and a broken definition is returned as the reason it is broken, never a crash or a stall.

use crate::error::Error;
use crate::runtime::text::quoted;
use crate::spec::args::check_kafka_name;
use crate::store::cluster_definitions;
use crate::store::keys::{definition_key, INDEX_KEY};
use crate::store::keyspace::{Key, KeyKind};
use crate::store::write::{commit, Change};
use redis_module::{raw, Context, ContextFlags};
use std::collections::HashMap;

/// The most bridges one Redis manages; more stored names are reported and left alone.
pub const MAX_BRIDGES: usize = 1000;
/// A definition's `args` field is the CREATE command's arguments: this is far beyond any.
pub const MAX_ARGS_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sink,
    Source,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Sink => "sink",
            Kind::Source => "source",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub kind: Kind,
    /// CREATE arguments after the name, exactly as given.
    pub args: Vec<String>,
    pub created_ms: u64,
    pub paused: bool,
}

impl Definition {
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("kind", self.kind.name().to_string()),
            (
                "args",
                serde_json::Value::from(self.args.clone()).to_string(),
            ),
            ("created_ms", self.created_ms.to_string()),
            ("paused", if self.paused { "1" } else { "0" }.to_string()),
        ]
    }

    pub fn from_fields(fields: &HashMap<&str, Vec<u8>>) -> Result<Definition, Error> {
        let field = |name: &str| {
            fields
                .get(name)
                .ok_or_else(|| Error::State(format!("definition has no field '{name}'")))
        };
        let kind = match field("kind")?.as_slice() {
            b"sink" => Kind::Sink,
            b"source" => Kind::Source,
            other => return Err(Error::State(format!("unknown kind {}", quoted(other)))),
        };
        let args = field("args")?;
        if args.len() > MAX_ARGS_BYTES {
            return Err(Error::State(format!(
                "args is {} bytes, more than {MAX_ARGS_BYTES}",
                args.len()
            )));
        }
        let args: Vec<String> = serde_json::from_slice(args)
            .map_err(|e| Error::State(format!("args is not a JSON array of strings: {e}")))?;
        let created_ms = match fields.get("created_ms") {
            Some(text) => std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| {
                    Error::State(format!("created_ms is not a number: {}", quoted(text)))
                })?,
            None => 0,
        };
        let paused = fields.get("paused").is_some_and(|p| p == b"1");
        Ok(Definition {
            kind,
            args,
            created_ms,
            paused,
        })
    }
}

/// Runs `f` with database 0 selected, then gives the client its database back.
pub fn in_db0<T>(ctx: &Context, f: impl FnOnce() -> T) -> T {
    let api = unsafe { (raw::RedisModule_GetSelectedDb, raw::RedisModule_SelectDb) };
    let (Some(get), Some(select)) = api else {
        return f();
    };
    let previous = unsafe { get(ctx.ctx) };
    if previous != 0 {
        unsafe { select(ctx.ctx, 0) };
    }
    let result = f();
    if previous != 0 {
        unsafe { select(ctx.ctx, previous) };
    }
    result
}

/// On Redis Cluster definitions are node state shared over the bus, not keys.
fn on_cluster(ctx: &Context) -> bool {
    ctx.get_flags().contains(ContextFlags::CLUSTER)
}

pub fn save(ctx: &Context, name: &str, definition: &Definition) -> Result<(), Error> {
    if on_cluster(ctx) {
        return cluster_definitions::change_here(ctx, name, Some(definition.clone()), false);
    }
    let pairs = definition
        .fields()
        .into_iter()
        .map(|(field, value)| (field.as_bytes().to_vec(), value.into_bytes()))
        .collect();
    in_db0(ctx, || {
        commit(
            ctx,
            &Change::HashSet {
                key: definition_key(name).into_bytes(),
                pairs,
            },
        )?;
        commit(
            ctx,
            &Change::SetAdd {
                key: INDEX_KEY.as_bytes().to_vec(),
                member: name.as_bytes().to_vec(),
            },
        )
    })
}

pub fn set_paused(ctx: &Context, name: &str, paused: bool) -> Result<(), Error> {
    if on_cluster(ctx) {
        let mut definition = cluster_definitions::get(name)
            .ok_or_else(|| Error::State(format!("no stored definition of {name}")))?;
        definition.paused = paused;
        return cluster_definitions::change_here(ctx, name, Some(definition), false);
    }
    let value: &[u8] = if paused { b"1" } else { b"0" };
    in_db0(ctx, || {
        commit(
            ctx,
            &Change::HashSet {
                key: definition_key(name).into_bytes(),
                pairs: vec![(b"paused".to_vec(), value.to_vec())],
            },
        )
    })
}

/// Removes the definition and, when given, the bridge's progress key (offsets, checkpoints).
pub fn remove(ctx: &Context, name: &[u8], progress_key: Option<&str>) -> Result<(), Error> {
    if on_cluster(ctx) {
        let name = String::from_utf8_lossy(name);
        return cluster_definitions::change_here(ctx, &name, None, progress_key.is_some());
    }
    let mut definition_key = b"__kafka:bridge:".to_vec();
    definition_key.extend_from_slice(name);
    in_db0(ctx, || {
        commit(
            ctx,
            &Change::SetRemove {
                key: INDEX_KEY.as_bytes().to_vec(),
                member: name.to_vec(),
            },
        )?;
        commit(
            ctx,
            &Change::Delete {
                key: definition_key,
            },
        )?;
        match progress_key {
            Some(progress) => commit(
                ctx,
                &Change::Delete {
                    key: progress.as_bytes().to_vec(),
                },
            ),
            None => Ok(()),
        }
    })
}

/// A stored bridge: its name (as stored, possibly not valid text) and its definition, or why
/// the definition cannot be used.
pub type Stored = (Vec<u8>, Result<Definition, Error>);

/// What the dataset holds: up to MAX_BRIDGES definitions, and how many names are stored.
pub struct StoredBridges {
    pub bridges: Vec<Stored>,
    pub total: usize,
}

/// Every stored definition, read with the key API (bounded, no commands run).
pub fn load_all(ctx: &Context) -> Result<StoredBridges, Error> {
    if on_cluster(ctx) {
        return Ok(cluster_definitions::load_all());
    }
    in_db0(ctx, || {
        let Some(index) = Key::open(ctx, INDEX_KEY.as_bytes(), false) else {
            return Err(Error::State(format!("cannot open {INDEX_KEY}")));
        };
        match index.kind() {
            KeyKind::Empty => {
                return Ok(StoredBridges {
                    bridges: Vec::new(),
                    total: 0,
                })
            }
            KeyKind::Set => {}
            _ => return Err(Error::State(format!("{INDEX_KEY} is not a set"))),
        }
        let total = index.len();
        let names = index.scan(MAX_BRIDGES);
        drop(index);
        let bridges = names
            .into_iter()
            .map(|(name, _)| {
                let definition = load_one(ctx, &name);
                (name, definition)
            })
            .collect();
        Ok(StoredBridges { bridges, total })
    })
}

fn load_one(ctx: &Context, name: &[u8]) -> Result<Definition, Error> {
    let text = std::str::from_utf8(name)
        .map_err(|_| Error::State("the name is not UTF-8 text".to_string()))?;
    check_kafka_name("bridge name", text, 200)?;
    let key_name = definition_key(text);
    let key = Key::open(ctx, key_name.as_bytes(), false)
        .ok_or_else(|| Error::State(format!("cannot open {key_name}")))?;
    if key.kind() != KeyKind::Hash {
        return Err(Error::State(format!("{key_name} is missing or not a hash")));
    }
    let mut fields = HashMap::new();
    for field in ["kind", "args", "created_ms", "paused"] {
        if let Some(value) = key.hash_get(field.as_bytes()) {
            fields.insert(field, value);
        }
    }
    Definition::from_fields(&fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields_of(definition: &Definition) -> HashMap<&'static str, Vec<u8>> {
        definition
            .fields()
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()))
            .collect()
    }

    #[test]
    fn definitions_round_trip_through_hash_fields() {
        let definition = Definition {
            kind: Kind::Source,
            args: vec![
                "STREAMS".into(),
                "a:*".into(),
                "KEY".into(),
                "${field.\"x\"}".into(),
            ],
            created_ms: 1_700_000_000_000,
            paused: true,
        };
        assert_eq!(
            Definition::from_fields(&fields_of(&definition)).unwrap(),
            definition
        );
    }

    #[test]
    fn broken_definitions_say_why() {
        let mut fields = HashMap::new();
        assert!(Definition::from_fields(&fields)
            .unwrap_err()
            .contains("kind"));
        fields.insert("kind", b"pipe\0\n".to_vec());
        let error = Definition::from_fields(&fields).unwrap_err();
        assert!(error.contains("unknown kind 'pipe??'"), "{error}");
        fields.insert("kind", b"sink".to_vec());
        fields.insert("args", b"{not json".to_vec());
        assert!(Definition::from_fields(&fields)
            .unwrap_err()
            .contains("JSON array"));
        fields.insert("args", vec![b' '; MAX_ARGS_BYTES + 1]);
        assert!(Definition::from_fields(&fields)
            .unwrap_err()
            .contains("more than"));
        fields.insert("args", b"[]".to_vec());
        fields.insert("created_ms", b"\xff".to_vec());
        assert!(Definition::from_fields(&fields)
            .unwrap_err()
            .contains("created_ms"));
    }
}
