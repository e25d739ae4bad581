//! Redis Cluster: what a sink leaves in a slot's offsets key when the slot starts to move away
//! (`CLUSTER SETSLOT <slot> MIGRATING`, on the main thread, so no slice runs meanwhile). The
//! entry says how far this primary has read each partition: every record of the slot below it
//! was applied here. It moves with the slot's keys, and the new owner reads the slot's records
//! from there, so none is lost even if this primary never met one of them.

use crate::error::Error;
use crate::sink::shared::SinkShared;
use crate::store::keys::{offset_field, slot_offsets_key};
use crate::store::offsets;
use redis_module::Context;

pub fn write(ctx: &Context, sink: &str, shared: &SinkShared, slot: u16) -> Result<(), Error> {
    let positions: Vec<(String, i64)> = shared
        .partitions()
        .into_iter()
        .filter_map(|((topic, partition), progress)| {
            Some((offset_field(&topic, partition), progress.next_offset?))
        })
        .collect();
    if positions.is_empty() {
        return Ok(());
    }
    let key = slot_offsets_key(sink, slot);
    let fields: Vec<&str> = positions.iter().map(|(f, _)| f.as_str()).collect();
    let stored = offsets::read(ctx, &key, &fields)?;
    // Never lower an entry: records of the slot up to it were applied (a rewind for another
    // slot may have moved the read position back since).
    let entries: Vec<(String, i64)> = positions
        .into_iter()
        .zip(stored)
        .filter(|((_, position), stored)| stored.is_none_or(|s| s < *position))
        .map(|(entry, _)| entry)
        .collect();
    offsets::write(ctx, &key, &entries)
}
