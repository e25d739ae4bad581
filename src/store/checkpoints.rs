//! Source checkpoints kept in Redis (`__kafka:checkpoints:<source>`: stream key -> last entry ID
//! Kafka acknowledged). A stored value that is not a stream ID is an error, not a restart.

use crate::error::Error;
use crate::runtime::text::quoted;
use crate::spec::source::parse_stream_id;
use crate::store::keyspace::{Key, KeyKind};
use crate::store::write::set_fields;
use redis_module::Context;

pub fn read(ctx: &Context, key: &str, stream: &[u8]) -> Result<Option<String>, Error> {
    let Some(hash) = Key::open(ctx, key.as_bytes(), false) else {
        return Err(Error::State(format!("cannot open {key}")));
    };
    match hash.kind() {
        KeyKind::Empty => return Ok(None),
        KeyKind::Hash => {}
        _ => return Err(Error::State(format!("{key} is not a hash of checkpoints"))),
    }
    let Some(value) = hash.hash_get(stream) else {
        return Ok(None);
    };
    let text = std::str::from_utf8(&value)
        .ok()
        .filter(|t| parse_stream_id(t).is_some());
    match text {
        Some(id) => Ok(Some(id.to_string())),
        None => Err(Error::State(format!(
            "stored checkpoint {key} {} is not a stream ID: {}",
            quoted(stream),
            quoted(&value)
        ))),
    }
}

pub fn write(ctx: &Context, key: &str, checkpoints: &[(Vec<u8>, String)]) -> Result<(), Error> {
    let pairs = checkpoints
        .iter()
        .map(|(stream, id)| (stream.clone(), id.as_bytes().to_vec()))
        .collect();
    set_fields(ctx, key, pairs)
}
