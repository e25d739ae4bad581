//! The bridges this Redis runs, by name. Touched by command handlers on the main thread (which
//! holds the Redis lock); workers only hold their sink's `SinkShared` and their run.

use crate::bridge::State;
use crate::sink::shared::SinkShared;
use crate::sink::worker;
use crate::source::doorbell;
use crate::source::shared::SourceShared;
use crate::source::worker as source_worker;
use crate::source_spec::SourceSpec;
use crate::spec::SinkSpec;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;

pub struct SinkEntry {
    pub spec: Arc<SinkSpec>,
    pub shared: Arc<SinkShared>,
    workers: Vec<JoinHandle<()>>,
}

pub struct SourceEntry {
    pub spec: Arc<SourceSpec>,
    pub shared: Arc<SourceShared>,
    /// The current run's thread, or a paused run's thread finishing its last batch.
    workers: Vec<JoinHandle<()>>,
    active: bool,
}

#[derive(Default)]
struct Registry {
    sinks: BTreeMap<String, SinkEntry>,
    sources: BTreeMap<String, SourceEntry>,
    /// Workers told to stop; joined later so the main thread never waits on Kafka I/O.
    retired: Vec<JoinHandle<()>>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

fn with<T>(f: impl FnOnce(&mut Registry) -> T) -> T {
    let mut guard = REGISTRY.lock();
    f(guard.get_or_insert_with(Registry::default))
}

/// Bridge names are unique over sinks and sources, so STATUS <name> is unambiguous.
pub fn contains(name: &str) -> bool {
    with(|r| r.sinks.contains_key(name) || r.sources.contains_key(name))
}

fn spawn_workers(
    spec: &Arc<SinkSpec>,
    shared: &Arc<SinkShared>,
) -> Result<Vec<JoinHandle<()>>, String> {
    let run = shared.life.begin_run();
    let mut handles = Vec::with_capacity(spec.tasks);
    for task in 0..spec.tasks {
        let (spec, worker_shared, run) = (spec.clone(), shared.clone(), run.clone());
        let handle = std::thread::Builder::new()
            .name(format!("kafka-sink-{task}"))
            .spawn(move || worker::run(spec, worker_shared, run, task));
        match handle {
            Ok(handle) => handles.push(handle),
            Err(e) => {
                shared.stop_run(State::Stopped);
                return Err(format!("starting worker thread: {e}"));
            }
        }
    }
    Ok(handles)
}

pub fn start_sink(spec: SinkSpec, brokers: String) -> Result<(), String> {
    let spec = Arc::new(spec);
    let shared = Arc::new(SinkShared::new(brokers));
    let workers = spawn_workers(&spec, &shared)?;
    with(|r| {
        r.retired.retain(|h| !h.is_finished());
        r.sinks.insert(
            spec.name.clone(),
            SinkEntry {
                spec: spec.clone(),
                shared,
                workers,
            },
        );
    });
    Ok(())
}

/// Removes the sink and stops its workers. Called with the Redis lock held, so once this returns
/// the workers can write nothing more.
pub fn remove_sink(name: &str) -> bool {
    with(|r| match r.sinks.remove(name) {
        Some(mut entry) => {
            entry.shared.stop_run(State::Stopped);
            r.retired.append(&mut entry.workers);
            true
        }
        None => false,
    })
}

#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    Done,
    Unknown,
    AlreadyThere,
}

pub fn pause_sink(name: &str) -> Change {
    with(|r| {
        let Some(entry) = r.sinks.get_mut(name) else {
            return Change::Unknown;
        };
        if entry.workers.is_empty() {
            return Change::AlreadyThere;
        }
        entry.shared.stop_run(State::Paused);
        let mut stopped = std::mem::take(&mut entry.workers);
        r.retired.append(&mut stopped);
        Change::Done
    })
}

/// Starts a paused sink again, or retries a failed one from its stored offsets.
pub fn resume_sink(name: &str) -> Result<Change, String> {
    with(|r| {
        let Some(entry) = r.sinks.get_mut(name) else {
            return Ok(Change::Unknown);
        };
        let failed = entry.shared.life.state() == State::Failed;
        if !entry.workers.is_empty() && !failed {
            return Ok(Change::AlreadyThere);
        }
        // A failed run's workers are done or finishing; they write nothing once stopped.
        entry.shared.stop_run(State::Stopped);
        let mut old = std::mem::take(&mut entry.workers);
        r.retired.append(&mut old);
        entry.workers = spawn_workers(&entry.spec, &entry.shared)?;
        Ok(Change::Done)
    })
}

pub fn sinks<T>(f: impl Fn(&SinkEntry) -> T) -> Vec<T> {
    with(|r| r.sinks.values().map(&f).collect())
}

pub fn sink<T>(name: &str, f: impl FnOnce(&SinkEntry) -> T) -> Option<T> {
    with(|r| r.sinks.get(name).map(f))
}

fn spawn_source(
    spec: &Arc<SourceSpec>,
    shared: &Arc<SourceShared>,
    previous: Vec<JoinHandle<()>>,
) -> Result<JoinHandle<()>, String> {
    let run = shared.life.begin_run();
    let (spec, worker_shared) = (spec.clone(), shared.clone());
    std::thread::Builder::new()
        .name("kafka-source".to_string())
        .spawn(move || source_worker::run(spec, worker_shared, run, previous))
        .map_err(|e| {
            shared.life.stop_run(State::Stopped);
            format!("starting worker thread: {e}")
        })
}

pub fn start_source(spec: SourceSpec, brokers: String) -> Result<(), String> {
    let spec = Arc::new(spec);
    let shared = Arc::new(SourceShared::new(brokers, &spec.streams));
    let handle = spawn_source(&spec, &shared, Vec::new())?;
    doorbell::install(&shared.doorbell);
    with(|r| {
        r.retired.retain(|h| !h.is_finished());
        r.sources.insert(
            spec.name.clone(),
            SourceEntry {
                spec: spec.clone(),
                shared,
                workers: vec![handle],
                active: true,
            },
        );
    });
    Ok(())
}

/// Removes the source and stops its worker at once (no further checkpoint is written).
pub fn remove_source(name: &str) -> bool {
    with(|r| match r.sources.remove(name) {
        Some(mut entry) => {
            entry.shared.life.stop_run(State::Stopped);
            doorbell::remove(&entry.shared.doorbell);
            entry.shared.doorbell.nudge();
            r.retired.append(&mut entry.workers);
            true
        }
        None => false,
    })
}

/// Lets the worker deliver and checkpoint the batch in hand, then stop.
pub fn pause_source(name: &str) -> Change {
    with(|r| {
        let Some(entry) = r.sources.get_mut(name) else {
            return Change::Unknown;
        };
        if !entry.active {
            return Change::AlreadyThere;
        }
        entry.shared.life.drain_run(State::Paused);
        entry.shared.doorbell.nudge();
        entry.active = false;
        Change::Done
    })
}

pub fn resume_source(name: &str) -> Result<Change, String> {
    with(|r| {
        let Some(entry) = r.sources.get_mut(name) else {
            return Ok(Change::Unknown);
        };
        if entry.active && entry.shared.life.state() != State::Failed {
            return Ok(Change::AlreadyThere);
        }
        entry.shared.life.drain_run(State::Stopped);
        let previous = std::mem::take(&mut entry.workers);
        entry.workers = vec![spawn_source(&entry.spec, &entry.shared, previous)?];
        entry.active = true;
        Ok(Change::Done)
    })
}

pub fn sources<T>(f: impl Fn(&SourceEntry) -> T) -> Vec<T> {
    with(|r| r.sources.values().map(&f).collect())
}

pub fn source<T>(name: &str, f: impl FnOnce(&SourceEntry) -> T) -> Option<T> {
    with(|r| r.sources.get(name).map(f))
}

/// Stops every worker and waits for all of them (MODULE UNLOAD, SHUTDOWN). Workers give up the
/// Redis lock wait as soon as they see their run stopped, so joining here cannot deadlock.
pub fn stop_all() {
    let handles: Vec<JoinHandle<()>> = with(|r| {
        let mut handles = std::mem::take(&mut r.retired);
        for (_, mut entry) in std::mem::take(&mut r.sinks) {
            entry.shared.stop_run(State::Stopped);
            handles.append(&mut entry.workers);
        }
        for (_, mut entry) in std::mem::take(&mut r.sources) {
            entry.shared.life.stop_run(State::Stopped);
            doorbell::remove(&entry.shared.doorbell);
            entry.shared.doorbell.nudge();
            handles.append(&mut entry.workers);
        }
        handles
    });
    for handle in handles {
        let _ = handle.join();
    }
}
