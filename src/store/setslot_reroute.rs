//! Part of the command filter, on a cluster node. `CLUSTER SETSLOT <slot> MIGRATING|IMPORTING`
//! marks the slot moving at once (no worker writes it any more); `NODE|STABLE` ends the mark.
//! The first `CLUSTER GETKEYSINSLOT <slot> <count>` of a slot this node is migrating becomes
//! `KAFKA._HANDOVER GETKEYSINSLOT <slot> <count>`, which writes the sinks' handover into the slot
//! and then lists the keys as Redis would (see `commands::setslot`), so the handover moves with
//! the first batch of keys. SETSLOT itself is left alone: Valkey 8 replicates it and runs it
//! only once its replicas answered, which a module's RM_Call cannot wait for.

use redis_module::raw;
use std::os::raw::c_char;
use std::ptr;

pub const HANDOVER_COMMAND: &str = "kafka._handover";

/// True when the command was rerouted. `arg(i)` reads argument i.
pub fn reroute(
    fctx: *mut raw::RedisModuleCommandFilterCtx,
    argc: i32,
    arg: impl Fn(i32) -> Vec<u8>,
) -> bool {
    if !(4..=5).contains(&argc) || !crate::cluster::topology::enabled() {
        return false;
    }
    let is = |i: i32, word: &[u8]| arg(i).eq_ignore_ascii_case(word);
    let slot = || {
        std::str::from_utf8(&arg(2))
            .ok()
            .and_then(|s| s.parse::<u16>().ok())
    };
    if is(0, b"cluster") && is(1, b"getkeysinslot") {
        return match slot() {
            Some(slot) if crate::cluster::topology::needs_handover(slot) => rename(fctx),
            _ => false,
        };
    }
    if !(is(0, b"cluster") && is(1, b"setslot")) {
        return false;
    }
    if is(3, b"importing") || is(3, b"migrating") {
        // Keys of the slot are about to move: the guard lets them through (`cluster_moves`),
        // and no worker writes the slot until it has settled.
        if let Some(slot) = std::str::from_utf8(&arg(2))
            .ok()
            .and_then(|s| s.parse().ok())
        {
            crate::cluster::topology::mark_moving(slot, is(3, b"migrating"));
        }
        return false;
    }
    if is(3, b"node") || is(3, b"stable") {
        if let Some(slot) = std::str::from_utf8(&arg(2))
            .ok()
            .and_then(|s| s.parse().ok())
        {
            crate::cluster::topology::settle(slot);
        }
        return false;
    }
    false
}

fn rename(fctx: *mut raw::RedisModuleCommandFilterCtx) -> bool {
    let api = unsafe {
        (
            raw::RedisModule_CreateString,
            raw::RedisModule_CommandFilterArgReplace,
        )
    };
    let (Some(create), Some(replace)) = api else {
        return false;
    };
    let name = unsafe {
        create(
            ptr::null_mut(),
            HANDOVER_COMMAND.as_ptr().cast::<c_char>(),
            HANDOVER_COMMAND.len(),
        )
    };
    if name.is_null() {
        return false;
    }
    // Redis takes ownership of the string.
    unsafe { replace(fctx, 0, name) };
    true
}
