//! Progress keys kept per hash slot on Redis Cluster (`keys::slot_offsets_key`,
//! `keys::slot_checkpoints_key`): removing all of a bridge's, whichever slots they are in.

use crate::cluster::slots::SLOTS;
use crate::error::Error;
use crate::store::keyspace::{Key, KeyKind};
use crate::store::write::{commit, Change};
use redis_module::Context;

/// Deletes `key_of(slot)` for every slot whose key is on this node, through the replicated
/// write path; returns how many were deleted. Bounded: one key lookup per slot (16384), on
/// whatever slots the node holds keys of, served or not — a key left in a slot that is
/// migrating would otherwise move on with the data and outlive its bridge.
pub fn remove_slot_keys(ctx: &Context, key_of: impl Fn(u16) -> String) -> Result<usize, Error> {
    let mut removed = 0;
    for slot in 0..SLOTS as u16 {
        let key = key_of(slot);
        let present =
            Key::open(ctx, key.as_bytes(), false).is_some_and(|k| k.kind() != KeyKind::Empty);
        if present {
            commit(
                ctx,
                &Change::Delete {
                    key: key.into_bytes(),
                },
            )?;
            removed += 1;
        }
    }
    Ok(removed)
}
