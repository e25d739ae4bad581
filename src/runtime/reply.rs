//! Replies, written by us rather than by `Context::reply`, whose simple-string and error paths
//! panic on text that is not one ASCII-safe line (U+0600 became a NUL there and aborted Redis).
//! Every command handler runs through `guarded`: its panics become error replies.

use crate::error::Error;
use crate::runtime::panic::catch;
use crate::runtime::text::one_line;
use redis_module::redisvalue::RedisValueKey;
use redis_module::{raw, Context, RedisError, RedisResult, RedisString, RedisValue};
use std::os::raw::{c_char, c_long};

pub type Handler = fn(&Context, Vec<RedisString>) -> RedisResult;

/// A reply whose maps keep their order (RedisValue's maps are hashed or sorted): a RESP3
/// client gets a map, a RESP2 client the same names and values as flat pairs, in that order.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Value(RedisValue),
    Map(Vec<(String, Reply)>),
    List(Vec<Reply>),
}

impl Reply {
    /// A map from flat name/value items (`[name, value, name, value, ...]`).
    pub fn pairs(items: Vec<Reply>) -> Reply {
        let mut pairs = Vec::with_capacity(items.len() / 2);
        let mut items = items.into_iter();
        while let (Some(name), Some(value)) = (items.next(), items.next()) {
            pairs.push((name.as_text(), value));
        }
        Reply::Map(pairs)
    }

    fn as_text(&self) -> String {
        match self {
            Reply::Value(RedisValue::SimpleStringStatic(s)) => (*s).to_string(),
            Reply::Value(RedisValue::SimpleString(s) | RedisValue::BulkString(s)) => s.clone(),
            Reply::Value(RedisValue::StringBuffer(b)) => String::from_utf8_lossy(b).into_owned(),
            other => format!("{other:?}"),
        }
    }
}

impl From<RedisValue> for Reply {
    fn from(value: RedisValue) -> Reply {
        Reply::Value(value)
    }
}

impl From<&str> for Reply {
    fn from(text: &str) -> Reply {
        Reply::Value(text.into())
    }
}

impl From<String> for Reply {
    fn from(text: String) -> Reply {
        Reply::Value(text.into())
    }
}

impl From<i64> for Reply {
    fn from(n: i64) -> Reply {
        Reply::Value(RedisValue::Integer(n))
    }
}

/// Sends a reply tree from a command handler; the handler then returns `NoReply`.
pub fn send_tree(ctx: &Context, reply: Reply) -> RedisResult {
    tree_reply(ctx.ctx, reply);
    Ok(RedisValue::NoReply)
}

pub fn tree_reply(ctx: *mut raw::RedisModuleCtx, reply: Reply) {
    match reply {
        Reply::Value(value) => value_reply(ctx, value),
        Reply::Map(pairs) => {
            // RESP2 clients get an array of 2n items from the same call.
            raw::reply_with_map(ctx, pairs.len() as c_long);
            for (name, value) in pairs {
                bulk(ctx, name.as_bytes());
                tree_reply(ctx, value);
            }
        }
        Reply::List(items) => {
            raw::reply_with_array(ctx, items.len() as c_long);
            for item in items {
                tree_reply(ctx, item);
            }
        }
    }
}

/// Runs a command handler inside the panic boundary and sends its reply. Returns `NoReply` so
/// the caller (the `redis_module!` wrapper) sends nothing more.
pub fn guarded(ctx: &Context, args: Vec<RedisString>, handler: Handler) -> RedisResult {
    let result = match catch("command", || handler(ctx, args)) {
        Ok(result) => result,
        Err(panic) => Err(Error::Internal(format!("internal error, {panic}")).into()),
    };
    if let Err(panic) = catch("reply", || send(ctx.ctx, result)) {
        // A partly written reply cannot be repaired; this at least leaves a trace.
        crate::runtime::log::warning(&format!("kafka: {panic}"));
    }
    Ok(RedisValue::NoReply)
}

/// Sends a reply; errors are made one line and given an uppercase code if they lack one.
pub fn send(ctx: *mut raw::RedisModuleCtx, result: RedisResult) {
    match result {
        Ok(value) => value_reply(ctx, value),
        Err(error) => error_reply(ctx, &error_text(&error)),
    }
}

pub fn error_text(error: &RedisError) -> String {
    let text = match error {
        RedisError::WrongArity => "ERR wrong number of arguments".to_string(),
        RedisError::WrongType => {
            "WRONGTYPE Operation against a key holding the wrong kind of value".to_string()
        }
        RedisError::String(s) => s.clone(),
        RedisError::Str(s) => s.to_string(),
    };
    with_code(text)
}

/// "ERR ..." unless the text already starts with an uppercase code word.
pub fn with_code(text: String) -> String {
    let code = text.split(' ').next().unwrap_or("");
    let coded = code.len() >= 2
        && text.len() > code.len()
        && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
    if coded {
        text
    } else {
        format!("ERR {text}")
    }
}

fn error_reply(ctx: *mut raw::RedisModuleCtx, text: &str) {
    let line = one_line(text.as_bytes());
    // Not raw::reply_with_error: it re-encodes the text with the same panicking conversion.
    if let Some(reply) = unsafe { raw::RedisModule_ReplyWithError } {
        unsafe { reply(ctx, line.as_ptr()) };
    }
}

fn simple(ctx: *mut raw::RedisModuleCtx, text: &str) {
    let line = one_line(text.as_bytes());
    raw::reply_with_simple_string(ctx, line.as_ptr());
}

fn bulk(ctx: *mut raw::RedisModuleCtx, bytes: &[u8]) {
    raw::reply_with_string_buffer(ctx, bytes.as_ptr().cast::<c_char>(), bytes.len());
}

fn value_reply(ctx: *mut raw::RedisModuleCtx, value: RedisValue) {
    match value {
        RedisValue::SimpleStringStatic(s) => simple(ctx, s),
        RedisValue::SimpleString(s) => simple(ctx, &s),
        RedisValue::BulkString(s) => bulk(ctx, s.as_bytes()),
        RedisValue::StringBuffer(b) => bulk(ctx, &b),
        RedisValue::BigNumber(s) => bulk(ctx, s.as_bytes()),
        RedisValue::VerbatimString((_, b)) => bulk(ctx, &b),
        RedisValue::BulkRedisString(s) => {
            raw::reply_with_string(ctx, s.inner);
        }
        RedisValue::Integer(i) => {
            raw::reply_with_long_long(ctx, i);
        }
        RedisValue::Bool(b) => {
            raw::reply_with_bool(ctx, b.into());
        }
        RedisValue::Float(f) => {
            raw::reply_with_double(ctx, f);
        }
        RedisValue::Null => {
            raw::reply_with_null(ctx);
        }
        RedisValue::NoReply => {}
        RedisValue::StaticError(s) => error_reply(ctx, &with_code(s.to_string())),
        RedisValue::Array(items) => {
            raw::reply_with_array(ctx, items.len() as c_long);
            for item in items {
                value_reply(ctx, item);
            }
        }
        RedisValue::Map(map) => {
            raw::reply_with_map(ctx, map.len() as c_long);
            for (key, value) in map {
                key_reply(ctx, key);
                value_reply(ctx, value);
            }
        }
        RedisValue::OrderedMap(map) => {
            raw::reply_with_map(ctx, map.len() as c_long);
            for (key, value) in map {
                key_reply(ctx, key);
                value_reply(ctx, value);
            }
        }
        RedisValue::Set(set) => {
            raw::reply_with_set(ctx, set.len() as c_long);
            for key in set {
                key_reply(ctx, key);
            }
        }
        RedisValue::OrderedSet(set) => {
            raw::reply_with_set(ctx, set.len() as c_long);
            for key in set {
                key_reply(ctx, key);
            }
        }
    }
}

fn key_reply(ctx: *mut raw::RedisModuleCtx, key: RedisValueKey) {
    match key {
        RedisValueKey::Integer(i) => {
            raw::reply_with_long_long(ctx, i);
        }
        RedisValueKey::String(s) => bulk(ctx, s.as_bytes()),
        RedisValueKey::BulkString(b) => bulk(ctx, &b),
        RedisValueKey::BulkRedisString(s) => {
            raw::reply_with_string(ctx, s.inner);
        }
        RedisValueKey::Bool(b) => {
            raw::reply_with_bool(ctx, b.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_code;

    #[test]
    fn errors_always_carry_an_uppercase_code() {
        assert_eq!(with_code("ERR x".into()), "ERR x");
        assert_eq!(with_code("NOPERM no".into()), "NOPERM no");
        assert_eq!(with_code("bad thing".into()), "ERR bad thing");
        assert_eq!(with_code("OK".into()), "ERR OK");
        assert_eq!(with_code("".into()), "ERR ");
        assert_eq!(with_code("Err x".into()), "ERR Err x");
    }
}
