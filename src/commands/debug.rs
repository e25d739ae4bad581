//! KAFKA.DEBUG: fault injection, so the tests can prove the panic boundary from outside.
//! Like Redis's own DEBUG it is off unless the module is loaded with `kafka.debug-command yes`,
//! and it is an admin command.
//!   KAFKA.DEBUG PANIC                 this command panics
//!   KAFKA.DEBUG PANIC-WORKER <name>   the bridge's worker panics at its next loop
//!   KAFKA.DEBUG PANIC-EVENT           the next cron event handler panics

use crate::acl;
use crate::commands::{command_args, error};
use crate::settings;
use parking_lot::Mutex;
use redis_module::{Context, RedisResult, RedisString, RedisValue};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

static PANIC_WORKERS: Mutex<Option<HashSet<String>>> = Mutex::new(None);
static ANY_WORKER_PANIC: AtomicBool = AtomicBool::new(false);
static EVENT_PANIC: AtomicBool = AtomicBool::new(false);

pub fn debug(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    acl::require_admin(ctx)?;
    if !settings::debug_command_enabled() {
        return Err(error(
            "KAFKA.DEBUG is disabled: load the module with kafka.debug-command yes",
        ));
    }
    let mut args = command_args(args);
    let subcommand = args
        .next_keyword()
        .ok_or_else(|| error("missing KAFKA.DEBUG subcommand"))?;
    match subcommand.as_str() {
        "PANIC" => panic!("KAFKA.DEBUG PANIC"),
        "PANIC-WORKER" => {
            let name = args.next_str("bridge name")?;
            PANIC_WORKERS
                .lock()
                .get_or_insert_with(HashSet::new)
                .insert(name);
            ANY_WORKER_PANIC.store(true, Ordering::Release);
        }
        "PANIC-EVENT" => EVENT_PANIC.store(true, Ordering::Release),
        _ => return Err(error("unknown KAFKA.DEBUG subcommand")),
    }
    Ok(RedisValue::SimpleStringStatic("OK"))
}

/// Called by workers once per loop: panics when KAFKA.DEBUG PANIC-WORKER named this bridge.
pub fn maybe_panic_worker(bridge: &str) {
    if !ANY_WORKER_PANIC.load(Ordering::Acquire) {
        return;
    }
    let hit = PANIC_WORKERS
        .lock()
        .as_mut()
        .is_some_and(|names| names.remove(bridge));
    if hit {
        panic!("KAFKA.DEBUG PANIC-WORKER {bridge}");
    }
}

/// Called by the cron event handler.
pub fn maybe_panic_in_event() {
    if EVENT_PANIC.swap(false, Ordering::AcqRel) {
        panic!("KAFKA.DEBUG PANIC-EVENT");
    }
}
