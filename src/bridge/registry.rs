//! The bridges this Redis knows, by name. Touched on the main thread (which holds the Redis
//! lock) by command handlers, reconciliation and INFO; workers only hold their bridge's shared
//! state and their run.

use crate::error::Error;
use crate::lifecycle::State;
use crate::runtime::panic::catch;
use crate::sink::shared::SinkShared;
use crate::sink::worker;
use crate::source::shared::SourceShared;
use crate::spec::sink::SinkSpec;
use crate::spec::source::SourceSpec;
use crate::store::definitions::{Definition, Kind};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub struct SinkEntry {
    pub spec: Arc<SinkSpec>,
    pub shared: Arc<SinkShared>,
    pub definition: Definition,
    workers: Vec<JoinHandle<()>>,
    running: bool,
}

pub struct SourceEntry {
    pub spec: Arc<SourceSpec>,
    pub shared: Arc<SourceShared>,
    pub definition: Definition,
    /// The current run's thread, or a paused run's thread finishing its last batch.
    workers: Vec<JoinHandle<()>>,
    running: bool,
}

#[derive(Default)]
struct Registry {
    sinks: BTreeMap<String, SinkEntry>,
    sources: BTreeMap<String, SourceEntry>,
    /// Stored definitions that cannot be started, by stored name (any bytes), with the reason.
    invalid: BTreeMap<Vec<u8>, String>,
    /// A problem with the stored state as a whole, and how many bridge names it holds.
    state_error: Option<String>,
    stored: usize,
    /// Workers told to stop; joined later so the main thread never waits on Kafka I/O.
    retired: Vec<JoinHandle<()>>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

fn with<T>(f: impl FnOnce(&mut Registry) -> T) -> T {
    let mut guard = REGISTRY.lock();
    f(guard.get_or_insert_with(Registry::default))
}

#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    Done,
    Unknown,
    AlreadyThere,
}

/// Bridge names are unique over sinks and sources, so STATUS <name> is unambiguous.
pub fn contains(name: &str) -> bool {
    with(|r| r.sinks.contains_key(name) || r.sources.contains_key(name))
}

fn spawn_sink(
    spec: &Arc<SinkSpec>,
    shared: &Arc<SinkShared>,
) -> Result<Vec<JoinHandle<()>>, Error> {
    let run = shared.life.begin_run();
    let mut handles = Vec::with_capacity(spec.tasks);
    for task in 0..spec.tasks {
        let (spec, worker_shared, run) = (spec.clone(), shared.clone(), run.clone());
        let handle = std::thread::Builder::new()
            .name(format!("kafka-sink-{task}"))
            .spawn(move || {
                let life = worker_shared.clone();
                let this_run = run.clone();
                if let Err(panic) = catch("sink worker", || {
                    worker::run(spec, worker_shared, run, task)
                }) {
                    life.life.fail_and_stop(&this_run, panic);
                }
            });
        match handle {
            Ok(handle) => handles.push(handle),
            Err(e) => {
                shared.stop_run(State::Stopped);
                return Err(Error::Internal(format!("starting worker thread: {e}")));
            }
        }
    }
    Ok(handles)
}

fn spawn_source(
    spec: &Arc<SourceSpec>,
    shared: &Arc<SourceShared>,
    previous: Vec<JoinHandle<()>>,
) -> Result<JoinHandle<()>, Error> {
    let run = shared.life.begin_run();
    let (spec, worker_shared) = (spec.clone(), shared.clone());
    std::thread::Builder::new()
        .name("kafka-source".to_string())
        .spawn(move || {
            let life = worker_shared.clone();
            let this_run = run.clone();
            if let Err(panic) = catch("source worker", || {
                crate::source::run(spec, worker_shared, run, previous)
            }) {
                life.life.fail_and_stop(&this_run, panic);
            }
        })
        .map_err(|e| {
            shared.life.stop_run(State::Stopped);
            Error::Internal(format!("starting worker thread: {e}"))
        })
}

/// Registers a sink; its workers start when `run` (a primary, not paused).
pub fn add_sink(
    spec: SinkSpec,
    brokers: String,
    definition: Definition,
    run: bool,
    resting: State,
) -> Result<(), Error> {
    let spec = Arc::new(spec);
    let shared = Arc::new(SinkShared::new(brokers));
    let workers = if run {
        spawn_sink(&spec, &shared)?
    } else {
        shared.stop_run(resting);
        Vec::new()
    };
    with(|r| {
        r.retired.retain(|h| !h.is_finished());
        r.invalid.remove(spec.name.as_bytes());
        r.sinks.insert(
            spec.name.clone(),
            SinkEntry {
                spec: spec.clone(),
                shared,
                definition,
                workers,
                running: run,
            },
        );
    });
    Ok(())
}

pub fn add_source(
    spec: SourceSpec,
    brokers: String,
    definition: Definition,
    run: bool,
    resting: State,
) -> Result<(), Error> {
    let spec = Arc::new(spec);
    let shared = Arc::new(SourceShared::new(brokers, &spec));
    shared.install_triggers();
    let workers = if run {
        vec![spawn_source(&spec, &shared, Vec::new())?]
    } else {
        shared.life.stop_run(resting);
        Vec::new()
    };
    with(|r| {
        r.retired.retain(|h| !h.is_finished());
        r.invalid.remove(spec.name.as_bytes());
        r.sources.insert(
            spec.name.clone(),
            SourceEntry {
                spec: spec.clone(),
                shared,
                definition,
                workers,
                running: run,
            },
        );
    });
    Ok(())
}

fn retire_sink(r: &mut Registry, mut entry: SinkEntry) {
    entry.shared.stop_run(State::Stopped);
    r.retired.append(&mut entry.workers);
}

fn retire_source(r: &mut Registry, mut entry: SourceEntry) {
    entry.shared.life.stop_run(State::Stopped);
    entry.shared.remove_triggers();
    r.retired.append(&mut entry.workers);
}

/// Removes a bridge and stops its workers at once. Called with the Redis lock held, so once
/// this returns the workers write nothing more.
pub fn remove(name: &str) -> Option<Kind> {
    with(|r| {
        if let Some(entry) = r.sinks.remove(name) {
            retire_sink(r, entry);
            return Some(Kind::Sink);
        }
        if let Some(entry) = r.sources.remove(name) {
            retire_source(r, entry);
            return Some(Kind::Source);
        }
        None
    })
}

pub fn kind_of(name: &str) -> Option<Kind> {
    with(|r| {
        if r.sinks.contains_key(name) {
            Some(Kind::Sink)
        } else if r.sources.contains_key(name) {
            Some(Kind::Source)
        } else {
            None
        }
    })
}

/// Starts or stops a bridge's workers to match `should_run`; `resting` is the state of a
/// bridge left stopped (replica, paused).
pub fn set_running(name: &str, should_run: bool, resting: State) -> Result<Change, Error> {
    with(|r| {
        if let Some(entry) = r.sinks.get_mut(name) {
            if entry.running == should_run {
                if !should_run {
                    entry.shared.life.rest_as(resting);
                }
                return Ok(Change::AlreadyThere);
            }
            let mut old = std::mem::take(&mut entry.workers);
            r.retired.append(&mut old);
            if should_run {
                entry.shared.stop_run(State::Stopped);
                entry.workers = spawn_sink(&entry.spec, &entry.shared)?;
            } else {
                entry.shared.stop_run(resting);
            }
            entry.running = should_run;
            return Ok(Change::Done);
        }
        if let Some(entry) = r.sources.get_mut(name) {
            if entry.running == should_run {
                if !should_run {
                    entry.shared.life.rest_as(resting);
                }
                return Ok(Change::AlreadyThere);
            }
            if should_run {
                entry.shared.life.drain_run(State::Stopped);
                let previous = std::mem::take(&mut entry.workers);
                entry.workers = vec![spawn_source(&entry.spec, &entry.shared, previous)?];
            } else if resting == State::Paused {
                // Let the worker deliver and checkpoint the batch in hand.
                entry.shared.life.drain_run(resting);
                entry.shared.nudge();
            } else {
                entry.shared.life.stop_run(resting);
                entry.shared.nudge();
            }
            entry.running = should_run;
            return Ok(Change::Done);
        }
        Ok(Change::Unknown)
    })
}

/// Retries a failed bridge: a new run from the stored offsets or checkpoints.
pub fn restart_failed(name: &str) -> Result<Change, Error> {
    let failed = with(|r| {
        r.sinks
            .get(name)
            .map(|e| e.shared.life.state())
            .or_else(|| r.sources.get(name).map(|e| e.shared.life.state()))
    });
    match failed {
        Some(State::Failed) => {
            set_running(name, false, State::Stopped)?;
            set_running(name, true, State::Stopped)
        }
        Some(_) => Ok(Change::AlreadyThere),
        None => Ok(Change::Unknown),
    }
}

pub fn set_paused_flag(name: &str, paused: bool) {
    with(|r| {
        if let Some(e) = r.sinks.get_mut(name) {
            e.definition.paused = paused;
        }
        if let Some(e) = r.sources.get_mut(name) {
            e.definition.paused = paused;
        }
    })
}

/// Every registered bridge with the definition it was started from.
pub fn definitions() -> Vec<(String, Definition)> {
    with(|r| {
        r.sinks
            .iter()
            .map(|(n, e)| (n.clone(), e.definition.clone()))
            .chain(
                r.sources
                    .iter()
                    .map(|(n, e)| (n.clone(), e.definition.clone())),
            )
            .collect()
    })
}

pub fn set_invalid(name: &[u8], reason: String) {
    with(|r| {
        r.invalid.insert(name.to_vec(), reason);
    })
}

/// Forgets invalid definitions that are no longer stored.
pub fn retain_invalid(stored: &[Vec<u8>]) {
    with(|r| r.invalid.retain(|name, _| stored.contains(name)))
}

pub fn forget_invalid(name: &[u8]) {
    with(|r| {
        r.invalid.remove(name);
    })
}

pub fn invalid() -> Vec<(Vec<u8>, String)> {
    with(|r| {
        r.invalid
            .iter()
            .map(|(n, e)| (n.clone(), e.clone()))
            .collect()
    })
}

pub fn invalid_reason(name: &[u8]) -> Option<String> {
    with(|r| r.invalid.get(name).cloned())
}

pub fn set_state_error(error: Option<String>, stored: usize) {
    with(|r| {
        r.state_error = error;
        r.stored = stored;
    })
}

pub fn state_error() -> Option<String> {
    with(|r| r.state_error.clone())
}

/// Bridge names stored in the dataset, as last read.
pub fn stored_count() -> usize {
    with(|r| r.stored)
}

pub fn sinks<T>(f: impl Fn(&SinkEntry) -> T) -> Vec<T> {
    with(|r| r.sinks.values().map(&f).collect())
}

pub fn sink<T>(name: &str, f: impl FnOnce(&SinkEntry) -> T) -> Option<T> {
    with(|r| r.sinks.get(name).map(f))
}

pub fn sources<T>(f: impl Fn(&SourceEntry) -> T) -> Vec<T> {
    with(|r| r.sources.values().map(&f).collect())
}

pub fn source<T>(name: &str, f: impl FnOnce(&SourceEntry) -> T) -> Option<T> {
    with(|r| r.sources.get(name).map(f))
}

/// Stops every worker and waits for them until `deadline` (MODULE UNLOAD, SHUTDOWN). Workers
/// give up the Redis lock wait as soon as they see their run stopped, so waiting here cannot
/// deadlock. False when some worker was still running at the deadline (closing a Kafka client
/// against a broker that does not answer); it stays in the retired list.
pub fn stop_all(deadline: Instant) -> bool {
    let mut handles: Vec<JoinHandle<()>> = with(|r| {
        for (_, entry) in std::mem::take(&mut r.sinks) {
            retire_sink(r, entry);
        }
        for (_, entry) in std::mem::take(&mut r.sources) {
            retire_source(r, entry);
        }
        r.invalid.clear();
        std::mem::take(&mut r.retired)
    });
    loop {
        let (finished, running): (Vec<_>, Vec<_>) =
            handles.into_iter().partition(JoinHandle::is_finished);
        for handle in finished {
            let _ = handle.join();
        }
        if running.is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            with(|r| r.retired.extend(running));
            return false;
        }
        handles = running;
        std::thread::sleep(Duration::from_millis(2));
    }
}
