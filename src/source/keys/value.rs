//! Reads one key's current value under the lock and renders it as a Kafka record value:
//! STRING as its raw bytes; HASH as a JSON object; LIST as a JSON array in list order; SET as a
//! JSON array sorted bytewise (so one set always renders the same); ZSET as a JSON object
//! member → score in rank order; JSON (RedisJSON) as the document. Like stream entries, names
//! and members that are not UTF-8 are converted lossily (U+FFFD). Streams and other modules'
//! types are not carried (use a STREAMS source for streams).

use crate::error::Error;
use crate::runtime::text::quoted;
use crate::store::keyspace::{Key, KeyKind};
use redis_module::{CallOptions, CallReply, CallResult, Context};
use serde_json::{Map, Number, Value};

/// What a key holds now, as the source sends it.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyValue {
    /// The key does not exist (deleted, expired, evicted): a tombstone.
    Absent,
    /// A type KEYS sources do not carry (its `TYPE` name): a tombstone too, so the topic does
    /// not keep a value the key no longer has.
    Unsupported(String),
    Present {
        kind: &'static str,
        value: Vec<u8>,
    },
}

/// The smallest a member can take in the rendered JSON (`"",`): used to refuse a collection
/// that cannot fit before reading it.
const MIN_MEMBER_BYTES: usize = 3;
/// The most memory Redis spends per byte of content in a collection (per-element overhead of
/// hashtable and skiplist encodings on tiny members): a value using more than this many times
/// the limit cannot render within it.
const MEMORY_PER_BYTE: usize = 16;

/// A key's value as copied under the lock, before rendering.
pub enum Fetched {
    Absent,
    Unsupported(String),
    Raw { kind: &'static str, raw: Raw },
}

pub enum Raw {
    /// A string's bytes, or a JSON document's text.
    Bytes(Vec<u8>),
    /// A collection's reply: members, or field/value and member/score pairs.
    Members(Vec<Vec<u8>>),
}

/// Copies a key's value under the lock, refusing (as a record error) one that cannot fit in
/// `max_bytes` once rendered, before it is read whole where it can tell.
pub fn fetch(
    ctx: &Context,
    options: &CallOptions,
    key: &[u8],
    max_bytes: usize,
) -> Result<Fetched, Error> {
    // The key API answers the type and a string's length without a reply to build (and the
    // string is then read with GET, not RM_StringDMA, which would turn a shared or embedded
    // string into a raw copy).
    let kind = {
        let Some(open) = Key::open(ctx, key, false) else {
            return Err(Error::State(format!("cannot open {}", quoted(key))));
        };
        match open.kind() {
            KeyKind::Empty => return Ok(Fetched::Absent),
            KeyKind::String if open.len() > max_bytes => {
                return Err(too_large(key, "string", open.len(), max_bytes))
            }
            KeyKind::String => b"string".to_vec(),
            KeyKind::Hash => b"hash".to_vec(),
            KeyKind::List => b"list".to_vec(),
            KeyKind::Set => b"set".to_vec(),
            KeyKind::Zset => b"zset".to_vec(),
            KeyKind::Stream => return Ok(Fetched::Unsupported("stream".to_string())),
            KeyKind::Module | KeyKind::Other => match call(ctx, options, "TYPE", &[key])? {
                CallReply::String(s) => s.as_bytes().to_vec(),
                _ => return Err(unexpected("TYPE", key)),
            },
        }
    };
    let (kind, size_command, read_command, args): (&'static str, _, _, Vec<&[u8]>) =
        match kind.as_slice() {
            b"string" => ("string", "", "GET", vec![key]),
            b"hash" => ("hash", "HLEN", "HGETALL", vec![key]),
            b"list" => ("list", "LLEN", "LRANGE", vec![key, b"0", b"-1"]),
            b"set" => ("set", "SCARD", "SMEMBERS", vec![key]),
            b"zset" => (
                "zset",
                "ZCARD",
                "ZRANGE",
                vec![key, b"0", b"-1", b"WITHSCORES"],
            ),
            b"ReJSON-RL" => ("json", "", "JSON.GET", vec![key]),
            other => {
                return Ok(Fetched::Unsupported(
                    String::from_utf8_lossy(other).into_owned(),
                ))
            }
        };
    if !size_command.is_empty() {
        let size = match call(ctx, options, size_command, &[key])? {
            CallReply::I64(n) => usize::try_from(n.to_i64()).unwrap_or(0),
            _ => return Err(unexpected(size_command, key)),
        };
        let least = size.saturating_mul(MIN_MEMBER_BYTES);
        if least > max_bytes {
            return Err(too_large(key, kind, least, max_bytes));
        }
    }
    if kind != "string" {
        // A few huge members pass the count check: Redis's sampled estimate of the value's
        // memory bounds what the read would copy under the lock.
        let sampled = match call(ctx, options, "MEMORY", &[b"USAGE", key, b"SAMPLES", b"5"])? {
            CallReply::I64(n) => usize::try_from(n.to_i64()).unwrap_or(0),
            _ => 0,
        };
        if sampled > max_bytes.saturating_mul(MEMORY_PER_BYTE) {
            return Err(Error::Record(format!(
                "the {kind} at {} uses about {sampled} bytes of memory, more than \
                 {MEMORY_PER_BYTE} times the {max_bytes}-byte limit (the producer's \
                 message.max.bytes)",
                quoted(key)
            )));
        }
    }
    let reply = call(ctx, options, read_command, &args)?;
    Ok(match (kind, reply) {
        ("string" | "json", CallReply::String(s)) => Fetched::Raw {
            kind,
            raw: Raw::Bytes(s.as_bytes().to_vec()),
        },
        // The key went away between TYPE and the read (it expired on access).
        (_, CallReply::Null(_)) => Fetched::Absent,
        (_, CallReply::Array(items)) => Fetched::Raw {
            kind,
            raw: Raw::Members(strings(items.iter())),
        },
        _ => return Err(unexpected(read_command, key)),
    })
}

impl Fetched {
    /// Renders the value as the record carries it (outside the lock: rendering a large
    /// collection takes longer than copying it).
    pub fn render(self, key: &[u8], max_bytes: usize) -> Result<KeyValue, Error> {
        let (kind, raw) = match self {
            Fetched::Absent => return Ok(KeyValue::Absent),
            Fetched::Unsupported(kind) => return Ok(KeyValue::Unsupported(kind)),
            Fetched::Raw { kind, raw } => (kind, raw),
        };
        let value = match (kind, raw) {
            (_, Raw::Bytes(bytes)) => bytes,
            ("hash", Raw::Members(flat)) => {
                let object = pairs(&flat)
                    .map(|(f, v)| (lossy(f), Value::String(lossy(v))))
                    .collect::<Map<_, _>>();
                to_json(&Value::Object(object))?
            }
            ("zset", Raw::Members(flat)) => {
                let object = pairs(&flat)
                    .map(|(member, score)| (lossy(member), score_value(score)))
                    .collect::<Map<_, _>>();
                to_json(&Value::Object(object))?
            }
            ("set", Raw::Members(mut members)) => {
                members.sort_unstable();
                let set = members.iter().map(|m| Value::String(lossy(m)));
                to_json(&Value::Array(set.collect()))?
            }
            (_, Raw::Members(members)) => {
                let list = members.iter().map(|m| Value::String(lossy(m)));
                to_json(&Value::Array(list.collect()))?
            }
        };
        if value.len() > max_bytes {
            return Err(too_large(key, kind, value.len(), max_bytes));
        }
        Ok(KeyValue::Present { kind, value })
    }
}

fn call<'a>(
    ctx: &'a Context,
    options: &CallOptions,
    command: &str,
    args: &[&[u8]],
) -> Result<CallReply<'a>, Error> {
    let reply: CallResult = ctx.call_ext(command, options, args);
    reply.map_err(|e| {
        Error::State(format!(
            "{command} {} failed: {}",
            quoted(args.first().copied().unwrap_or_default()),
            e.to_utf8_string().unwrap_or_default()
        ))
    })
}

fn strings<'a>(items: impl Iterator<Item = CallResult<'a>>) -> Vec<Vec<u8>> {
    items
        .filter_map(|item| match item {
            Ok(CallReply::String(s)) => Some(s.as_bytes().to_vec()),
            _ => None,
        })
        .collect()
}

fn pairs(flat: &[Vec<u8>]) -> impl Iterator<Item = (&Vec<u8>, &Vec<u8>)> {
    flat.chunks_exact(2).map(|pair| (&pair[0], &pair[1]))
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A score as a JSON number; `inf` and `-inf`, which JSON cannot write, as strings.
fn score_value(text: &[u8]) -> Value {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .and_then(Number::from_f64)
        .map_or_else(|| Value::String(lossy(text)), Value::Number)
}

fn to_json(value: &Value) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|e| Error::Internal(format!("rendering JSON: {e}")))
}

fn unexpected(command: &str, key: &[u8]) -> Error {
    Error::State(format!("unexpected {command} reply for {}", quoted(key)))
}

fn too_large(key: &[u8], kind: &str, bytes: usize, max: usize) -> Error {
    Error::Record(format!(
        "the {kind} at {} takes at least {bytes} bytes, over the {max}-byte limit \
         (the producer's message.max.bytes)",
        quoted(key)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_numbers_unless_json_cannot_write_them() {
        assert_eq!(score_value(b"1.5"), serde_json::json!(1.5));
        assert_eq!(score_value(b"3"), serde_json::json!(3.0));
        assert_eq!(score_value(b"inf"), serde_json::json!("inf"));
        assert_eq!(score_value(b"-inf"), serde_json::json!("-inf"));
    }
}
