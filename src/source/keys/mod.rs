//! KEYS sources (change-data capture): every change to a matching key sends the key's current
//! value to one topic, keyed by the key; deletes, expiries and evictions send tombstones, so a
//! compacted topic mirrors the matching part of the dataset.

pub mod changes;
pub mod readback;
pub mod value;
pub mod worker;
