//! Faults KAFKA.DEBUG arms (tests prove the panic boundary from outside); workers and the cron
//! handler check them at their loop tops.

use parking_lot::Mutex;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

static PANIC_WORKERS: Mutex<Option<HashSet<String>>> = Mutex::new(None);
static ANY_WORKER_PANIC: AtomicBool = AtomicBool::new(false);
static EVENT_PANIC: AtomicBool = AtomicBool::new(false);

pub fn arm_worker_panic(bridge: String) {
    PANIC_WORKERS
        .lock()
        .get_or_insert_with(HashSet::new)
        .insert(bridge);
    ANY_WORKER_PANIC.store(true, Ordering::Release);
}

pub fn arm_event_panic() {
    EVENT_PANIC.store(true, Ordering::Release);
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
