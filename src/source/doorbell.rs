//! The keyspace notification side of sources: an XADD on a matching stream only marks that
//! stream dirty and wakes the source's worker. Nothing here reads or writes Redis or talks to
//! Kafka, so Redis's call stack stays short.

use crate::spec::glob::glob_match;
use crossbeam_channel::{bounded, Receiver, Sender};
use parking_lot::{Mutex, RwLock};
use redis_module::{Context, ContextFlags, NotifyEvent};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

pub struct Doorbell {
    glob: Vec<u8>,
    dirty: Mutex<HashSet<Vec<u8>>>,
    ring: Sender<()>,
    wake: Receiver<()>,
}

impl Doorbell {
    pub fn new(glob: &str) -> Doorbell {
        // One pending wake-up is enough: the worker drains the whole dirty set when it wakes.
        let (ring, wake) = bounded(1);
        Doorbell {
            glob: glob.as_bytes().to_vec(),
            dirty: Mutex::new(HashSet::new()),
            ring,
            wake,
        }
    }

    pub fn mark(&self, stream: &[u8]) {
        let mut dirty = self.dirty.lock();
        if !dirty.contains(stream) {
            dirty.insert(stream.to_vec());
        }
        drop(dirty);
        let _ = self.ring.try_send(());
    }

    /// Wakes the worker without marking anything (stop, pause).
    pub fn nudge(&self) {
        let _ = self.ring.try_send(());
    }

    pub fn take(&self) -> HashSet<Vec<u8>> {
        std::mem::take(&mut *self.dirty.lock())
    }

    pub fn wait(&self, timeout: Duration) {
        let _ = self.wake.recv_timeout(timeout);
    }
}

static DOORBELLS: RwLock<Vec<Arc<Doorbell>>> = RwLock::new(Vec::new());

pub fn install(doorbell: &Arc<Doorbell>) {
    DOORBELLS.write().push(doorbell.clone());
}

pub fn remove(doorbell: &Arc<Doorbell>) {
    DOORBELLS.write().retain(|d| !Arc::ptr_eq(d, doorbell));
}

/// Keyspace callback for stream events. Runs inside Redis's call stack (the main thread, or a
/// sink worker holding the lock when the sink XADDs), so it only marks and rings.
pub fn on_stream_event(ctx: &Context, _event_type: NotifyEvent, event: &str, key: &[u8]) {
    crate::runtime::panic::catch_and_log("keyspace callback", || ring(ctx, event, key));
}

fn ring(ctx: &Context, event: &str, key: &[u8]) {
    if event != "xadd" {
        return;
    }
    let flags = ctx.get_flags();
    if flags.contains(ContextFlags::LOADING) || !flags.contains(ContextFlags::MASTER) {
        return;
    }
    for doorbell in DOORBELLS.read().iter() {
        if glob_match(&doorbell.glob, key) {
            doorbell.mark(key);
        }
    }
}
