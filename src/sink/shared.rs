//! State a sink worker shares with the command handlers: flags, counters and per-partition
//! progress. Everything here is lock-free or behind short-held mutexes; no Redis access.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Starting,
    Running,
    Failed,
    Stopped,
    Replica,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Running => "running",
            State::Failed => "failed",
            State::Stopped => "stopped",
            State::Replica => "replica",
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct PartitionProgress {
    /// Next offset to apply, as last stored in Redis by this worker.
    pub next_offset: Option<i64>,
    /// Broker's high watermark as last seen by the consumer.
    pub high_watermark: Option<i64>,
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

pub struct SinkShared {
    /// Set by DELETE/unload; checked under the Redis lock before every write slice.
    pub stop: AtomicBool,
    pub records: AtomicU64,
    pub errors: AtomicU64,
    pub brokers: String,
    state: Mutex<State>,
    last_error: Mutex<Option<LastError>>,
    partitions: Mutex<BTreeMap<(String, i32), PartitionProgress>>,
}

impl SinkShared {
    pub fn new(brokers: String) -> SinkShared {
        SinkShared {
            stop: AtomicBool::new(false),
            records: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            brokers,
            state: Mutex::new(State::Starting),
            last_error: Mutex::new(None),
            partitions: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    pub fn state(&self) -> State {
        *self.state.lock()
    }

    pub fn set_state(&self, state: State) {
        let mut current = self.state.lock();
        // A failure stays visible until the bridge is deleted or re-created.
        if *current != State::Failed {
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

    pub fn fail(&self, message: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.set_last_error(message);
        *self.state.lock() = State::Failed;
    }

    pub fn assign(&self, topic: &str, partition: i32, next_offset: Option<i64>) {
        self.partitions.lock().insert(
            (topic.to_string(), partition),
            PartitionProgress {
                next_offset,
                high_watermark: None,
            },
        );
    }

    pub fn revoke(&self, topic: &str, partition: i32) {
        self.partitions
            .lock()
            .remove(&(topic.to_string(), partition));
    }

    pub fn set_next_offset(&self, topic: &str, partition: i32, next: i64) {
        if let Some(p) = self
            .partitions
            .lock()
            .get_mut(&(topic.to_string(), partition))
        {
            p.next_offset = Some(next);
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

    /// Total lag over partitions whose lag is known; None when none is known yet.
    pub fn lag(&self) -> Option<i64> {
        let partitions = self.partitions.lock();
        partitions
            .values()
            .filter_map(PartitionProgress::lag)
            .fold(None, |sum, lag| Some(sum.unwrap_or(0) + lag))
    }
}
