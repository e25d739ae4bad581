//! Bridge definitions kept in the dataset, so they persist (RDB/AOF), replicate, and come back
//! after a restart or failover:
//!   `__kafka:bridges`        set of bridge names
//!   `__kafka:bridge:<name>`  hash: kind (sink|source), args (the CREATE arguments after the
//!                            name, as a JSON array), created_ms, paused (0|1)
//! All module keys live in database 0, whatever database the client selected.

use redis_module::{raw, CallOptions, CallOptionsBuilder, CallReply, CallResult, Context};
use std::collections::HashMap;

pub const INDEX_KEY: &str = "__kafka:bridges";
const DEFINITION_PREFIX: &str = "__kafka:bridge:";

pub fn definition_key(name: &str) -> String {
    format!("{DEFINITION_PREFIX}{name}")
}

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

    pub fn from_fields(fields: &HashMap<String, String>) -> Result<Definition, String> {
        let field = |name: &str| {
            fields
                .get(name)
                .ok_or_else(|| format!("definition has no field '{name}'"))
        };
        let kind = match field("kind")?.as_str() {
            "sink" => Kind::Sink,
            "source" => Kind::Source,
            other => return Err(format!("unknown kind '{other}'")),
        };
        let args: Vec<String> = serde_json::from_str(field("args")?)
            .map_err(|e| format!("args is not a JSON array of strings: {e}"))?;
        let created_ms = match fields.get("created_ms") {
            Some(text) => text
                .parse()
                .map_err(|_| format!("created_ms is not a number: '{text}'"))?,
            None => 0,
        };
        let paused = fields.get("paused").is_some_and(|p| p == "1");
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

fn write_options() -> CallOptions {
    CallOptionsBuilder::new()
        .replicate()
        .errors_as_replies()
        .build()
}

fn call(ctx: &Context, options: &CallOptions, command: &str, args: &[&[u8]]) -> Result<(), String> {
    let reply: CallResult = ctx.call_ext(command, options, args);
    reply.map(|_| ()).map_err(|e| {
        format!(
            "{command} failed: {}",
            e.to_utf8_string().unwrap_or_default()
        )
    })
}

pub fn save(ctx: &Context, name: &str, definition: &Definition) -> Result<(), String> {
    let options = write_options();
    let key = definition_key(name);
    let fields = definition.fields();
    let mut args: Vec<&[u8]> = vec![key.as_bytes()];
    for (field, value) in &fields {
        args.push(field.as_bytes());
        args.push(value.as_bytes());
    }
    in_db0(ctx, || {
        call(ctx, &options, "HSET", &args)?;
        call(
            ctx,
            &options,
            "SADD",
            &[INDEX_KEY.as_bytes(), name.as_bytes()],
        )
    })
}

pub fn set_paused(ctx: &Context, name: &str, paused: bool) -> Result<(), String> {
    let options = write_options();
    let key = definition_key(name);
    let value: &[u8] = if paused { b"1" } else { b"0" };
    in_db0(ctx, || {
        call(ctx, &options, "HSET", &[key.as_bytes(), b"paused", value])
    })
}

/// Removes the definition and, when given, the bridge's progress key (offsets, checkpoints).
pub fn remove(ctx: &Context, name: &str, progress_key: Option<&str>) -> Result<(), String> {
    let options = write_options();
    let key = definition_key(name);
    in_db0(ctx, || {
        call(
            ctx,
            &options,
            "SREM",
            &[INDEX_KEY.as_bytes(), name.as_bytes()],
        )?;
        call(ctx, &options, "DEL", &[key.as_bytes()])?;
        match progress_key {
            Some(progress) => call(ctx, &options, "DEL", &[progress.as_bytes()]),
            None => Ok(()),
        }
    })
}

fn strings(reply: &CallReply<'_>) -> Vec<String> {
    match reply {
        CallReply::Array(items) => items
            .iter()
            .filter_map(|item| match item {
                Ok(CallReply::String(s)) => Some(String::from_utf8_lossy(s.as_bytes()).to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Every stored definition by name; a broken one comes back as the reason it is broken.
/// A stored bridge: its name and its definition, or why the definition cannot be read.
pub type Stored = (String, Result<Definition, String>);

pub fn load_all(ctx: &Context) -> Result<Vec<Stored>, String> {
    let options = CallOptionsBuilder::new().errors_as_replies().build();
    in_db0(ctx, || {
        let reply: CallResult = ctx.call_ext("SMEMBERS", &options, &[INDEX_KEY.as_bytes()][..]);
        let names = match reply {
            Ok(reply) => strings(&reply),
            Err(e) => {
                return Err(format!(
                    "reading {INDEX_KEY}: {}",
                    e.to_utf8_string().unwrap_or_default()
                ))
            }
        };
        let mut all = Vec::with_capacity(names.len());
        for name in names {
            let key = definition_key(&name);
            let reply: CallResult = ctx.call_ext("HGETALL", &options, &[key.as_bytes()][..]);
            let definition = match reply {
                Ok(reply) => {
                    let flat = strings(&reply);
                    let fields: HashMap<String, String> = flat
                        .chunks(2)
                        .filter_map(|p| Some((p.first()?.clone(), p.get(1)?.clone())))
                        .collect();
                    if fields.is_empty() {
                        Err(format!("{key} is missing or not a hash"))
                    } else {
                        Definition::from_fields(&fields)
                    }
                }
                Err(e) => Err(format!(
                    "reading {key}: {}",
                    e.to_utf8_string().unwrap_or_default()
                )),
            };
            all.push((name, definition));
        }
        Ok(all)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let fields: HashMap<String, String> = definition
            .fields()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(Definition::from_fields(&fields).unwrap(), definition);
    }

    #[test]
    fn broken_definitions_say_why() {
        let mut fields = HashMap::new();
        assert!(Definition::from_fields(&fields)
            .unwrap_err()
            .contains("kind"));
        fields.insert("kind".to_string(), "pipe".to_string());
        assert!(Definition::from_fields(&fields)
            .unwrap_err()
            .contains("unknown kind"));
        fields.insert("kind".to_string(), "sink".to_string());
        fields.insert("args".to_string(), "{not json".to_string());
        assert!(Definition::from_fields(&fields)
            .unwrap_err()
            .contains("JSON array"));
    }
}
