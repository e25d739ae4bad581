//! The bridges this Redis runs, by name. Touched by command handlers on the main thread; workers
//! only hold their own `SinkShared`.

use crate::sink::shared::SinkShared;
use crate::sink::worker;
use crate::spec::SinkSpec;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

pub struct SinkEntry {
    pub spec: Arc<SinkSpec>,
    pub shared: Arc<SinkShared>,
    worker: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Registry {
    sinks: BTreeMap<String, SinkEntry>,
    /// Workers told to stop; joined later so the main thread never waits on Kafka I/O.
    retired: Vec<JoinHandle<()>>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

fn with<T>(f: impl FnOnce(&mut Registry) -> T) -> T {
    let mut guard = REGISTRY.lock();
    f(guard.get_or_insert_with(Registry::default))
}

pub fn contains(name: &str) -> bool {
    with(|r| r.sinks.contains_key(name))
}

pub fn start_sink(spec: SinkSpec, brokers: String) -> Result<(), String> {
    let spec = Arc::new(spec);
    let shared = Arc::new(SinkShared::new(brokers));
    let handle = {
        let (spec, shared) = (spec.clone(), shared.clone());
        std::thread::Builder::new()
            .name(format!("kafka-sink-{}", spec.name))
            .spawn(move || worker::run(spec, shared))
            .map_err(|e| format!("starting worker thread: {e}"))?
    };
    with(|r| {
        r.retired.retain(|h| !h.is_finished());
        r.sinks.insert(
            spec.name.clone(),
            SinkEntry {
                spec: spec.clone(),
                shared,
                worker: Some(handle),
            },
        );
    });
    Ok(())
}

/// Removes the sink and tells its worker to stop. Called with the Redis lock held, so once this
/// returns the worker can write nothing more.
pub fn remove_sink(name: &str) -> bool {
    with(|r| match r.sinks.remove(name) {
        Some(mut entry) => {
            entry.shared.stop.store(true, Ordering::Release);
            r.retired.extend(entry.worker.take());
            true
        }
        None => false,
    })
}

pub fn sinks<T>(f: impl Fn(&SinkEntry) -> T) -> Vec<T> {
    with(|r| r.sinks.values().map(&f).collect())
}

pub fn sink<T>(name: &str, f: impl FnOnce(&SinkEntry) -> T) -> Option<T> {
    with(|r| r.sinks.get(name).map(f))
}

/// Stops every worker and waits for all of them (MODULE UNLOAD, SHUTDOWN). Workers give up the
/// Redis lock wait as soon as they see the stop flag, so joining here cannot deadlock.
pub fn stop_all() {
    let handles: Vec<JoinHandle<()>> = with(|r| {
        let mut handles = std::mem::take(&mut r.retired);
        for (_, mut entry) in std::mem::take(&mut r.sinks) {
            entry.shared.stop.store(true, Ordering::Release);
            handles.extend(entry.worker.take());
        }
        handles
    });
    for handle in handles {
        let _ = handle.join();
    }
}
