//! The keyspace side of KEYS sources: a change to a matching key only marks it changed (with
//! the name of the last event) and wakes the worker, which reads the key's current value later
//! under the lock. Marks coalesce per key, so a hot key costs one entry. The set is bounded by
//! `kafka.source-changes-max-keys` (and its key names by `kafka.source-inflight-max-bytes`);
//! past it the marks are dropped and the worker reconciles every matching key instead, so an
//! overflow costs work, never a change.

use crate::settings;
use crate::spec::glob::glob_match;
use crate::store::keys::is_reserved;
use crossbeam_channel::{bounded, Receiver, Sender};
use parking_lot::{Mutex, RwLock};
use redis_module::{raw, Context, ContextFlags, NotifyEvent};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the worker takes: the keys changed since it last looked, or a request to look at all.
#[derive(Default)]
pub struct Changed {
    /// Each changed key with the last event seen for it (`set`, `hset`, `del`, `expired`...).
    pub keys: HashMap<Vec<u8>, String>,
    /// Marks were dropped (too many to keep): every matching key must be looked at again, and
    /// keys gone since must get their tombstones. (FLUSHALL and SWAPDB of database 0 need
    /// nothing here: they take the source's own definition with them.)
    pub rescan: bool,
    /// Bytes of the key names held, bounded by `kafka.source-inflight-max-bytes`.
    bytes: usize,
}

impl Changed {
    /// Adds a key unless the bounds are reached; then drops every mark for a rescan.
    fn add(&mut self, key: Vec<u8>, event: String) {
        if self.keys.len() < settings::source_changes_max_keys()
            && self.bytes + key.len() <= settings::source_inflight_max_bytes()
        {
            self.bytes += key.len();
            self.keys.insert(key, event);
        } else {
            self.keys = HashMap::new();
            self.bytes = 0;
            self.rescan = true;
        }
    }
}

pub struct KeyChanges {
    glob: Vec<u8>,
    /// Marks may be missing (no run of this process has reconciled yet, or one ended with
    /// records unsettled): the next run starts by reconciling.
    needs_reconcile: AtomicBool,
    changed: Mutex<Changed>,
    ring: Sender<()>,
    wake: Receiver<()>,
}

impl KeyChanges {
    pub fn new(glob: &str) -> KeyChanges {
        // One pending wake-up is enough: the worker takes every mark when it wakes.
        let (ring, wake) = bounded(1);
        KeyChanges {
            glob: glob.as_bytes().to_vec(),
            needs_reconcile: AtomicBool::new(true),
            changed: Mutex::new(Changed::default()),
            ring,
            wake,
        }
    }

    pub fn mark(&self, key: &[u8], event: &str) {
        let mut changed = self.changed.lock();
        if !changed.rescan {
            if let Some(last) = changed.keys.get_mut(key) {
                if last != event {
                    last.clear();
                    last.push_str(event);
                }
            } else {
                changed.add(key.to_vec(), event.to_string());
            }
        }
        drop(changed);
        let _ = self.ring.try_send(());
    }

    pub fn nudge(&self) {
        let _ = self.ring.try_send(());
    }

    pub fn take(&self) -> Changed {
        std::mem::take(&mut *self.changed.lock())
    }

    /// Puts back marks the worker took and could not finish (a slice ended, a send failed):
    /// a newer mark of the same key wins.
    pub fn put_back(&self, key: Vec<u8>, event: String) {
        let mut changed = self.changed.lock();
        if changed.rescan || changed.keys.contains_key(&key) {
            return;
        }
        changed.add(key, event);
    }

    pub fn needs_reconcile(&self) -> bool {
        self.needs_reconcile.load(Ordering::Acquire)
    }

    pub fn set_needs_reconcile(&self, needed: bool) {
        self.needs_reconcile.store(needed, Ordering::Release);
    }

    pub fn pending(&self) -> usize {
        self.changed.lock().keys.len()
    }

    pub fn wait(&self, timeout: Duration) {
        let _ = self.wake.recv_timeout(timeout);
    }
}

static TRACKERS: RwLock<Vec<Arc<KeyChanges>>> = RwLock::new(Vec::new());
/// Set while any KEYS source exists, so every other write in Redis pays one atomic load.
static ANY: AtomicBool = AtomicBool::new(false);

pub fn install(changes: &Arc<KeyChanges>) {
    let mut trackers = TRACKERS.write();
    trackers.push(changes.clone());
    ANY.store(true, Ordering::Release);
}

pub fn remove(changes: &Arc<KeyChanges>) {
    let mut trackers = TRACKERS.write();
    trackers.retain(|c| !Arc::ptr_eq(c, changes));
    ANY.store(!trackers.is_empty(), Ordering::Release);
}

/// Events that leave the value as it was: TTL changes.
fn changes_value(event: &str) -> bool {
    !matches!(event, "expire" | "persist")
}

/// Keyspace callback for every event on keys. Runs inside Redis's call stack (the main thread,
/// or a worker holding the lock), so it only marks and rings.
pub fn on_key_event(ctx: &Context, _event_type: NotifyEvent, event: &str, key: &[u8]) {
    if !ANY.load(Ordering::Acquire) {
        return;
    }
    crate::runtime::panic::catch_and_log("keyspace callback", || mark(ctx, event, key));
}

fn mark(ctx: &Context, event: &str, key: &[u8]) {
    if !changes_value(event) || is_reserved(key) {
        return;
    }
    let flags = ctx.get_flags();
    if flags.contains(ContextFlags::LOADING) || !flags.contains(ContextFlags::MASTER) {
        return;
    }
    // KEYS sources follow database 0, where workers read.
    let db = unsafe { raw::RedisModule_GetSelectedDb }.map(|f| unsafe { f(ctx.ctx) });
    if db != Some(0) {
        return;
    }
    for changes in TRACKERS.read().iter() {
        if glob_match(&changes.glob, key) {
            changes.mark(key, event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_coalesce_and_keep_the_last_event() {
        let c = KeyChanges::new("*");
        c.mark(b"a", "set");
        c.mark(b"a", "del");
        c.mark(b"b", "hset");
        let taken = c.take();
        assert!(!taken.rescan);
        assert_eq!(taken.keys.len(), 2);
        assert_eq!(taken.keys[&b"a".to_vec()], "del");
        assert!(c.take().keys.is_empty());
    }

    #[test]
    fn too_many_marks_turn_into_a_rescan_and_put_back_defers_to_newer_marks() {
        settings::SOURCE_CHANGES_MAX_KEYS.set(2).unwrap();
        let c = KeyChanges::new("*");
        c.mark(b"a", "set");
        c.mark(b"b", "set");
        c.mark(b"a", "incrby");
        assert!(!c.take().rescan);
        c.mark(b"a", "set");
        c.mark(b"b", "set");
        c.mark(b"c", "set");
        let taken = c.take();
        assert!(taken.rescan && taken.keys.is_empty());
        c.mark(b"a", "lpush");
        c.put_back(b"a".to_vec(), "set".into());
        c.put_back(b"b".to_vec(), "set".into());
        let taken = c.take();
        assert_eq!(taken.keys[&b"a".to_vec()], "lpush");
        assert_eq!(taken.keys.len(), 2);
        settings::SOURCE_CHANGES_MAX_KEYS.set(1_000_000).unwrap();
    }

    #[test]
    fn ttl_changes_are_not_value_changes() {
        assert!(!changes_value("expire"));
        assert!(changes_value("expired"));
        assert!(changes_value("del"));
    }
}
