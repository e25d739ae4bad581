//! Every key the module keeps its state in. All live in database 0 under the reserved prefix;
//! clients cannot write them (see `guard`), the module writes them through `write`.
//!
//!   __kafka:bridges              set   bridge names
//!   __kafka:bridge:<name>        hash  kind, args (JSON array of the CREATE arguments),
//!                                      created_ms, paused (0|1)
//!   __kafka:offsets:<sink>       hash  <topic>:<partition> -> next offset to apply
//!   __kafka:checkpoints:<source> hash  <stream key> -> last entry ID Kafka acknowledged

pub const RESERVED_PREFIX: &[u8] = b"__kafka:";
pub const INDEX_KEY: &str = "__kafka:bridges";
const DEFINITION_PREFIX: &str = "__kafka:bridge:";
const OFFSETS_PREFIX: &str = "__kafka:offsets:";
const CHECKPOINTS_PREFIX: &str = "__kafka:checkpoints:";

pub fn is_reserved(key: &[u8]) -> bool {
    key.starts_with(RESERVED_PREFIX)
}

pub fn definition_key(name: &str) -> String {
    format!("{DEFINITION_PREFIX}{name}")
}

pub fn offsets_key(sink: &str) -> String {
    format!("{OFFSETS_PREFIX}{sink}")
}

pub fn checkpoints_key(source: &str) -> String {
    format!("{CHECKPOINTS_PREFIX}{source}")
}

/// The field of a partition in a sink's offsets hash.
pub fn offset_field(topic: &str, partition: i32) -> String {
    format!("{topic}:{partition}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_key_is_reserved() {
        for key in [
            INDEX_KEY.to_string(),
            definition_key("a"),
            offsets_key("a"),
            checkpoints_key("a"),
        ] {
            assert!(is_reserved(key.as_bytes()), "{key}");
        }
        assert!(!is_reserved(b"__kafka"));
        assert!(!is_reserved(b"kafka:x"));
    }
}
