//! Bridge definitions on a Redis Cluster node. A key cannot hold them there: it lives in one
//! slot, which this node may not own and which moves when the cluster is resharded. So each
//! node holds them in memory (a `shared_definitions::Table`, the same on every primary once
//! they have exchanged records over the cluster bus), persists them in the RDB as module aux
//! data (`definitions_aux`), and replicates each change to its replicas and AOF as
//! `KAFKA._STATE RECORD <record>`.

use crate::error::Error;
use crate::runtime::clock::now_ms;
use crate::store::definitions::{Definition, StoredBridges, MAX_BRIDGES};
use crate::store::shared_definitions::{Record, Table, Version};
use crate::store::write::STATE_COMMAND;
use parking_lot::Mutex;
use redis_module::{raw, Context};
use std::ffi::CStr;

static TABLE: Mutex<Table> = Mutex::new(Table::new());
/// Records made or learnt here that the other primaries still have to hear about.
static OUTBOX: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// The `KAFKA._STATE` operation that carries a record.
pub const RECORD_OP: &[u8] = b"RECORD";

/// This node's cluster id, the origin of the changes made here.
pub fn my_id() -> String {
    let Some(get) = (unsafe { raw::RedisModule_GetMyClusterID }) else {
        return String::new();
    };
    let id = unsafe { get() };
    if id.is_null() {
        return String::new();
    }
    unsafe { CStr::from_ptr(id) }.to_string_lossy().into_owned()
}

/// Creates, changes (Some) or deletes (None) a bridge from a command run on this node.
pub fn change_here(
    ctx: &Context,
    name: &str,
    definition: Option<Definition>,
    purge: bool,
) -> Result<(), Error> {
    let origin = my_id();
    let mut table = TABLE.lock();
    let last = table
        .records()
        .filter(|r| r.version.origin == origin)
        .map(|r| r.version.clone())
        .max();
    // Never older than what the table holds for the name, or the change would lose.
    let held = table.get(name).map(|r| r.version.clone());
    let floor = last.max(held);
    let record = Record {
        name: name.to_string(),
        version: Version::next(&origin, now_ms(), floor.as_ref()),
        definition,
        purge,
    };
    let encoded = record.encode();
    table.merge(record);
    drop(table);
    replicate(ctx, &encoded);
    OUTBOX.lock().push(encoded);
    if purge {
        purge_progress(ctx, name);
    }
    Ok(())
}

/// A record another primary sent; true when it changed this node's definitions.
pub fn merge_received(ctx: &Context, record: Record) -> bool {
    let encoded = record.encode();
    let purge = record.purge && record.definition.is_none();
    let name = record.name.clone();
    if !TABLE.lock().merge(record) {
        return false;
    }
    replicate(ctx, &encoded);
    if purge {
        purge_progress(ctx, &name);
    }
    true
}

/// A record replicated by this node's primary or read back from the AOF.
pub fn apply_replicated(bytes: &[u8]) -> Result<(), Error> {
    let record = Record::decode(bytes)?;
    TABLE.lock().merge(record);
    Ok(())
}

fn replicate(ctx: &Context, encoded: &[u8]) {
    ctx.replicate(STATE_COMMAND, &[RECORD_OP, encoded][..]);
}

/// Progress keys of a deleted bridge present on this node: the per-slot offsets and
/// checkpoints (a name is a sink or a source, never both).
fn purge_progress(ctx: &Context, name: &str) {
    use crate::store::keys::{slot_checkpoints_key, slot_offsets_key};
    use crate::store::slot_keys::remove_slot_keys;
    let removed = remove_slot_keys(ctx, |slot| slot_offsets_key(name, slot))
        .and_then(|_| remove_slot_keys(ctx, |slot| slot_checkpoints_key(name, slot)));
    if let Err(e) = removed {
        crate::runtime::log::warning(&format!(
            "kafka: {name}: cannot remove its progress keys: {e}"
        ));
    }
}

/// The bridges this node knows, as `definitions::load_all` reports them.
pub fn load_all() -> StoredBridges {
    let table = TABLE.lock();
    let live: Vec<_> = table.live().collect();
    StoredBridges {
        total: live.len(),
        bridges: live
            .into_iter()
            .take(MAX_BRIDGES)
            .map(|(name, definition)| (name.as_bytes().to_vec(), Ok(definition.clone())))
            .collect(),
    }
}

pub fn get(name: &str) -> Option<Definition> {
    TABLE.lock().get(name).and_then(|r| r.definition.clone())
}

/// What a primary gossips: equal digests mean equal definitions.
pub fn digest() -> (u64, usize) {
    let table = TABLE.lock();
    (table.digest(), table.records().count())
}

/// Every record (deletions included), encoded, for a peer that asked or for the RDB.
pub fn encoded_records() -> Vec<Vec<u8>> {
    TABLE.lock().records().map(Record::encode).collect()
}

/// Replaces everything with what an RDB holds (restart, or full sync from the primary).
pub fn replace_all(records: Vec<Record>) {
    let mut table = TABLE.lock();
    table.clear();
    for record in records {
        table.merge(record);
    }
}

pub fn take_outbox() -> Vec<Vec<u8>> {
    std::mem::take(&mut *OUTBOX.lock())
}
