//! What every bridge (sink or source) has: a state, the current run of its workers, and its
//! last error. Shared by the command handlers and the workers; no Redis access here.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Starting,
    Running,
    Paused,
    Failed,
    Stopped,
    Replica,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Running => "running",
            State::Paused => "paused",
            State::Failed => "failed",
            State::Stopped => "stopped",
            State::Replica => "replica",
        }
    }
}

/// One start of a bridge's workers. PAUSE, DELETE and unload stop it; workers check it under the
/// Redis lock before every write, so once it is stopped (on the main thread, which holds the
/// lock) that run writes nothing more.
pub struct Run {
    pub id: u64,
    stop: AtomicBool,
    /// Finish the work in hand (a source's in-flight batch and its checkpoint), then stop.
    drain: AtomicBool,
}

impl Run {
    pub fn new(id: u64) -> Run {
        Run {
            id,
            stop: AtomicBool::new(false),
            drain: AtomicBool::new(false),
        }
    }

    pub fn drain(&self) {
        self.drain.store(true, Ordering::Release);
    }

    /// True when the run should end at the next clean point.
    pub fn ending(&self) -> bool {
        self.stopping() || self.drain.load(Ordering::Acquire)
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    pub fn flag(&self) -> &AtomicBool {
        &self.stop
    }

    /// Sleeps in short steps; false if the run is ending.
    pub fn sleep(&self, duration: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + duration;
        while std::time::Instant::now() < deadline {
            if self.ending() {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(5).min(duration));
        }
        !self.ending()
    }
}

#[derive(Debug, Clone)]
pub struct LastError {
    pub at_ms: u64,
    pub message: String,
}

pub use crate::runtime::clock::now_ms;

pub fn count(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

pub struct Lifecycle {
    state: Mutex<State>,
    run: Mutex<Arc<Run>>,
    last_error: Mutex<Option<LastError>>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            state: Mutex::new(State::Starting),
            run: Mutex::new(Arc::new(Run::new(0))),
            last_error: Mutex::new(None),
        }
    }
}

impl Lifecycle {
    pub fn state(&self) -> State {
        *self.state.lock()
    }

    /// Stops the current run and records the state the bridge rests in (paused, stopped).
    pub fn stop_run(&self, resting: State) {
        let run = self.run.lock().clone();
        let mut state = self.state.lock();
        run.stop();
        if !(resting == State::Paused && *state == State::Failed) {
            *state = resting;
        }
    }

    /// A bridge that runs nowhere here changes why it rests: a replica's bridge paused or
    /// resumed on the primary shows `paused` / `replica` like it.
    pub fn rest_as(&self, resting: State) {
        let mut state = self.state.lock();
        if matches!(*state, State::Replica | State::Paused) {
            *state = resting;
        }
    }

    /// Lets the current run finish the work in hand, then end (a source's PAUSE).
    pub fn drain_run(&self, resting: State) {
        let run = self.run.lock().clone();
        let mut state = self.state.lock();
        run.drain();
        if *state != State::Failed {
            *state = resting;
        }
    }

    /// Begins a new run (CREATE, RESUME); a failure is cleared so the failed work is retried.
    pub fn begin_run(&self) -> Arc<Run> {
        let mut run = self.run.lock();
        let next = Arc::new(Run::new(run.id + 1));
        *run = next.clone();
        *self.state.lock() = State::Starting;
        next
    }

    /// A worker's state report; ignored once its run was stopped, and a failure stays visible.
    pub fn report_state(&self, run: &Run, state: State) {
        let mut current = self.state.lock();
        if !run.ending() && *current != State::Failed {
            *current = state;
        }
    }

    pub fn set_last_error(&self, message: impl std::fmt::Display) {
        *self.last_error.lock() = Some(LastError {
            at_ms: now_ms(),
            message: message.to_string(),
        });
    }

    pub fn last_error(&self) -> Option<LastError> {
        self.last_error.lock().clone()
    }

    /// A worker died (panicked): the whole run stops in state failed, so no task of it keeps
    /// going and a dead worker is never shown as running.
    pub fn fail_and_stop(&self, run: &Run, message: impl std::fmt::Display) {
        self.set_last_error(message);
        let mut state = self.state.lock();
        if !run.stopping() {
            *state = State::Failed;
        }
        run.stop();
    }

    /// The run stops in state failed with `message` as the last error.
    pub fn fail(&self, run: &Run, message: impl std::fmt::Display) {
        self.set_last_error(message);
        let mut state = self.state.lock();
        if !run.stopping() {
            *state = State::Failed;
        }
    }
}
