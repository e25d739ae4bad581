//! Sink offsets kept in Redis (`__kafka:offsets:<sink>`: `<topic>:<partition>` -> next offset
//! to apply), written in the same locked step as the data they cover. A stored value that is not
//! an offset is an error, never a silent fall back to START (which would apply records twice).

use crate::error::Error;
use crate::runtime::text::quoted;
use crate::store::keyspace::{Key, KeyKind};
use crate::store::write::set_fields;
use redis_module::Context;

/// Stored next offsets for `fields`, in order; None where Redis holds none.
pub fn read(ctx: &Context, key: &str, fields: &[&str]) -> Result<Vec<Option<i64>>, Error> {
    let Some(hash) = Key::open(ctx, key.as_bytes(), false) else {
        return Err(Error::State(format!("cannot open {key}")));
    };
    match hash.kind() {
        KeyKind::Empty => return Ok(vec![None; fields.len()]),
        KeyKind::Hash => {}
        _ => return Err(Error::State(format!("{key} is not a hash of offsets"))),
    }
    fields
        .iter()
        .map(|field| match hash.hash_get(field.as_bytes()) {
            None => Ok(None),
            Some(text) => parse_offset(&text).map(Some).ok_or_else(|| {
                Error::State(format!(
                    "stored offset {key} {field} is not an offset: {}",
                    quoted(&text)
                ))
            }),
        })
        .collect()
}

fn parse_offset(text: &[u8]) -> Option<i64> {
    std::str::from_utf8(text)
        .ok()?
        .parse::<i64>()
        .ok()
        .filter(|o| *o >= 0)
}

pub fn write(ctx: &Context, key: &str, entries: &[(String, i64)]) -> Result<(), Error> {
    let pairs = entries
        .iter()
        .map(|(field, offset)| (field.as_bytes().to_vec(), offset.to_string().into_bytes()))
        .collect();
    set_fields(ctx, key, pairs)
}

#[cfg(test)]
mod tests {
    use super::parse_offset;

    #[test]
    fn only_whole_non_negative_offsets_parse() {
        assert_eq!(parse_offset(b"0"), Some(0));
        assert_eq!(parse_offset(b"9223372036854775807"), Some(i64::MAX));
        for bad in [&b"-1"[..], b"garbage", b"1.5", b"", b"\xff", b" 1"] {
            assert_eq!(parse_offset(bad), None, "{bad:?}");
        }
    }
}
