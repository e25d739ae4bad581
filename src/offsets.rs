//! Sink offsets kept in Redis: hash `__kafka:offsets:<sink>`, field `<topic>:<partition>`,
//! value = next offset to apply. Written in the same locked step as the data they cover.

use redis_module::{CallOptions, CallReply, CallResult, Context};

pub const KEY_PREFIX: &str = "__kafka:offsets:";

pub fn offsets_key(sink: &str) -> String {
    format!("{KEY_PREFIX}{sink}")
}

pub fn offset_field(topic: &str, partition: i32) -> String {
    format!("{topic}:{partition}")
}

/// Stored next offsets for `fields`, in order; None where Redis holds none.
pub fn read(
    ctx: &Context,
    options: &CallOptions,
    key: &str,
    fields: &[&str],
) -> Result<Vec<Option<i64>>, String> {
    let mut args: Vec<&[u8]> = Vec::with_capacity(fields.len() + 1);
    args.push(key.as_bytes());
    args.extend(fields.iter().map(|f| f.as_bytes()));
    let reply: CallResult = ctx.call_ext("HMGET", options, args.as_slice());
    match reply {
        Ok(CallReply::Array(items)) => Ok(items
            .iter()
            .map(|item| match item {
                Ok(CallReply::String(s)) => s.to_string().and_then(|t| t.parse().ok()),
                _ => None,
            })
            .collect()),
        Ok(_) => Err(format!("unexpected reply reading {key}")),
        Err(e) => Err(format!(
            "reading {key}: {}",
            e.to_utf8_string().unwrap_or_default()
        )),
    }
}

pub fn write(
    ctx: &Context,
    options: &CallOptions,
    key: &str,
    entries: &[(String, i64)],
) -> Result<(), String> {
    if entries.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = entries.iter().map(|(_, o)| o.to_string()).collect();
    let mut args: Vec<&[u8]> = Vec::with_capacity(entries.len() * 2 + 1);
    args.push(key.as_bytes());
    for ((field, _), value) in entries.iter().zip(&values) {
        args.push(field.as_bytes());
        args.push(value.as_bytes());
    }
    let reply: CallResult = ctx.call_ext("HSET", options, args.as_slice());
    reply
        .map(|_| ())
        .map_err(|e| format!("writing {key}: {}", e.to_utf8_string().unwrap_or_default()))
}
