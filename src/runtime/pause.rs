//! Whether the module may write now. While Redis pauses writes (CLIENT PAUSE, FAILOVER, a
//! cluster manual failover, SHUTDOWN waiting for replicas), a module that writes and replicates
//! from a thread trips an assertion in Redis (`propagatePendingCommands`). Redis 7.0 offers no
//! way to ask whether writes are paused, so the module notes the commands that pause them (the
//! command filter sees them, a replica announces CLUSTER FAILOVER to its primary over the bus)
//! and holds its own writes for as long as such a pause may last.

use parking_lot::Mutex;
use std::time::{Duration, Instant};

static HELD_UNTIL: Mutex<Option<Instant>> = Mutex::new(None);

/// Holds writes for `duration` from now (a longer hold already in place stays).
pub fn hold_for(duration: Duration) {
    let until = Instant::now() + duration;
    let mut held = HELD_UNTIL.lock();
    if held.is_none_or(|h| h < until) {
        *held = Some(until);
    }
}

pub fn release() {
    *HELD_UNTIL.lock() = None;
}

pub fn writes_held() -> bool {
    HELD_UNTIL
        .lock()
        .is_some_and(|until| Instant::now() < until)
}
