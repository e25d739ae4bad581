//! Every key the module keeps its state in. All live in database 0 under the reserved prefix;
//! clients cannot write them (see `guard`), the module writes them through `write`.
//!
//!   __kafka:bridges              set   bridge names
//!   __kafka:bridge:<name>        hash  kind, args (JSON array of the CREATE arguments),
//!                                      created_ms, paused (0|1)
//!   __kafka:offsets:<sink>       hash  <topic>:<partition> -> next offset to apply
//!   __kafka:checkpoints:<source> hash  <stream key> -> last entry ID Kafka acknowledged
//!
//! On Redis Cluster, progress lives in the slot it is about, so it moves with the data:
//!
//!   __kafka:o:<sink>:{<tag>}     hash  <topic>:<partition> -> next offset to apply to keys of
//!                                      the slot <tag> hashes to
//!   __kafka:c:<source>:{<tag>}   hash  <stream key> -> last entry ID Kafka acknowledged, for
//!                                      the streams of that slot
//!
//! Bridge names are Kafka names (no braces), so `{<tag>}` is the key's hash tag.

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

/// The offsets of a sink for the keys of one hash slot (Redis Cluster).
pub fn slot_offsets_key(sink: &str, slot: u16) -> String {
    format!(
        "__kafka:o:{sink}:{{{}}}",
        crate::cluster::slots::tag_for_slot(slot)
    )
}

/// The checkpoints of a source for the streams of one hash slot (Redis Cluster).
pub fn slot_checkpoints_key(source: &str, slot: u16) -> String {
    format!(
        "__kafka:c:{source}:{{{}}}",
        crate::cluster::slots::tag_for_slot(slot)
    )
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
            slot_offsets_key("a", 7),
            slot_checkpoints_key("a", 16383),
        ] {
            assert!(is_reserved(key.as_bytes()), "{key}");
        }
        assert!(!is_reserved(b"__kafka"));
        assert!(!is_reserved(b"kafka:x"));
    }

    #[test]
    fn slot_keys_live_in_their_slot() {
        use crate::cluster::slots::key_slot;
        for slot in [0u16, 1, 5460, 12182, 16383] {
            assert_eq!(
                key_slot(slot_offsets_key("my-sink.1", slot).as_bytes()),
                slot
            );
            assert_eq!(
                key_slot(slot_checkpoints_key("src_2", slot).as_bytes()),
                slot
            );
        }
    }
}
