//! State a sink's workers share with the command handlers: counters and per-partition progress
//! that outlive PAUSE/RESUME, plus the stop flag of the current run. No Redis access here.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

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

/// One start of a sink's workers. PAUSE, DELETE and unload set `stop`; workers check it under the
/// Redis lock before every write slice, so once it is set (on the main thread, which holds the
/// lock) that run writes nothing more.
#[derive(Default)]
pub struct Run {
    pub id: u64,
    stop: AtomicBool,
}

impl Run {
    pub fn new(id: u64) -> Run {
        Run {
            id,
            stop: AtomicBool::new(false),
        }
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
}

#[derive(Debug, Clone, Copy, Default)]
pub struct PartitionProgress {
    /// Next offset to apply, as last stored in Redis.
    pub next_offset: Option<i64>,
    /// Broker's high watermark as last seen by the consumer.
    pub high_watermark: Option<i64>,
    pub task: usize,
    run: u64,
}

impl PartitionProgress {
    pub fn lag(&self) -> Option<i64> {
        Some((self.high_watermark? - self.next_offset?).max(0))
    }
}

#[derive(Debug, Clone)]
pub struct LastError {
    pub at_ms: u64,
    pub message: String,
}

#[derive(Default)]
pub struct Counters {
    /// Records written to Redis.
    pub records: AtomicU64,
    /// Records that could not be applied (whatever the policy did with them).
    pub errors: AtomicU64,
    /// Records passed over: tombstones for STREAM/TIMESERIES, and errors under ON-ERROR SKIP.
    pub skipped: AtomicU64,
    /// Records sent to the dead-letter topic.
    pub dlq: AtomicU64,
}

impl Counters {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

pub struct SinkShared {
    pub counters: Counters,
    pub brokers: String,
    state: Mutex<State>,
    run: Mutex<Arc<Run>>,
    last_error: Mutex<Option<LastError>>,
    partitions: Mutex<BTreeMap<(String, i32), PartitionProgress>>,
}

impl SinkShared {
    pub fn new(brokers: String) -> SinkShared {
        SinkShared {
            counters: Counters::default(),
            brokers,
            state: Mutex::new(State::Starting),
            run: Mutex::new(Arc::new(Run::new(0))),
            last_error: Mutex::new(None),
            partitions: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn state(&self) -> State {
        *self.state.lock()
    }

    /// Stops the current run and records the state the sink rests in (paused, stopped).
    pub fn stop_run(&self, resting: State) {
        let run = self.run.lock().clone();
        let mut state = self.state.lock();
        run.stop();
        if !(resting == State::Paused && *state == State::Failed) {
            *state = resting;
        }
        self.partitions.lock().clear();
    }

    /// Begins a new run (CREATE, RESUME): clears a failure so the failed record is retried.
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
        if !run.stopping() && *current != State::Failed {
            *current = state;
        }
    }

    pub fn set_last_error(&self, message: String) {
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        *self.last_error.lock() = Some(LastError { at_ms, message });
    }

    pub fn last_error(&self) -> Option<LastError> {
        self.last_error.lock().clone()
    }

    /// A record the sink cannot apply under ON-ERROR FAIL: the run stops in state failed.
    pub fn fail(&self, run: &Run, message: String) {
        Counters::add(&self.counters.errors, 1);
        self.set_last_error(message);
        let mut state = self.state.lock();
        if !run.stopping() {
            *state = State::Failed;
        }
    }

    pub fn assign(&self, run: &Run, task: usize, topic: &str, partition: i32, next: Option<i64>) {
        if run.stopping() {
            return;
        }
        self.partitions.lock().insert(
            (topic.to_string(), partition),
            PartitionProgress {
                next_offset: next,
                high_watermark: None,
                task,
                run: run.id,
            },
        );
    }

    /// Forgets a partition unless another task (or a newer run) owns it by now.
    pub fn revoke(&self, run: &Run, task: usize, topic: &str, partition: i32) {
        let mut partitions = self.partitions.lock();
        let key = (topic.to_string(), partition);
        if partitions
            .get(&key)
            .is_some_and(|p| p.task == task && p.run == run.id)
        {
            partitions.remove(&key);
        }
    }

    pub fn set_next_offset(&self, topic: &str, partition: i32, next: i64) {
        if let Some(p) = self
            .partitions
            .lock()
            .get_mut(&(topic.to_string(), partition))
        {
            p.next_offset = Some(next.max(p.next_offset.unwrap_or(next)));
        }
    }

    pub fn set_high_watermark(&self, topic: &str, partition: i32, high: i64) {
        if let Some(p) = self
            .partitions
            .lock()
            .get_mut(&(topic.to_string(), partition))
        {
            p.high_watermark = Some(high);
        }
    }

    pub fn partitions(&self) -> Vec<((String, i32), PartitionProgress)> {
        self.partitions
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    pub fn partitions_of(&self, task: usize) -> Vec<(String, i32)> {
        self.partitions
            .lock()
            .iter()
            .filter(|(_, p)| p.task == task)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Total lag over partitions whose lag is known; None when none is known yet.
    pub fn lag(&self) -> Option<i64> {
        let partitions = self.partitions.lock();
        partitions
            .values()
            .filter_map(PartitionProgress::lag)
            .fold(None, |sum, lag| Some(sum.unwrap_or(0) + lag))
    }
}
