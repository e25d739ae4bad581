//! Part of the command filter: on a cluster node, `CLUSTER SETSLOT <slot> MIGRATING <node>`
//! becomes `KAFKA._SETSLOT SETSLOT <slot> MIGRATING <node>`, which writes the sinks' handover
//! into the slot before running the real command (see `commands::setslot`). The filter is the
//! one place that sees the command before Redis runs it, whoever sends it.

use redis_module::raw;
use std::os::raw::c_char;
use std::ptr;

pub const SETSLOT_COMMAND: &str = "kafka._setslot";

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
    if !(is(0, b"cluster") && is(1, b"setslot")) {
        return false;
    }
    if is(3, b"importing") {
        // Keys of the slot are about to arrive: the guard lets them in (`cluster_moves`), and
        // no worker writes the slot until it is stable here.
        if let Some(slot) = std::str::from_utf8(&arg(2))
            .ok()
            .and_then(|s| s.parse().ok())
        {
            crate::cluster::topology::mark_moving(slot);
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
    if !is(3, b"migrating") {
        return false;
    }
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
            SETSLOT_COMMAND.as_ptr().cast::<c_char>(),
            SETSLOT_COMMAND.len(),
        )
    };
    if name.is_null() {
        return false;
    }
    // Redis takes ownership of the string.
    unsafe { replace(fctx, 0, name) };
    true
}
