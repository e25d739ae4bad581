//! State a sink's workers share with the command handlers: counters and per-partition progress
//! that outlive PAUSE/RESUME, plus the stop flag of the current run. No Redis access here.

use crate::lifecycle::{add, Lifecycle, Run, State};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

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

#[derive(Default)]
pub struct Counters {
    /// Records written to Redis.
    pub records: AtomicU64,
    /// Records that could not be applied (whatever the policy did with them).
    pub errors: AtomicU64,
    /// Records passed over: tombstones for STREAM/TIMESERIES/PUBLISH, and errors under ON-ERROR SKIP.
    pub skipped: AtomicU64,
    /// Records sent to the dead-letter topic.
    pub dlq: AtomicU64,
}

pub struct SinkShared {
    pub counters: Counters,
    pub brokers: String,
    pub life: Lifecycle,
    partitions: Mutex<BTreeMap<(String, i32), PartitionProgress>>,
}

impl SinkShared {
    pub fn new(brokers: String) -> SinkShared {
        SinkShared {
            counters: Counters::default(),
            brokers,
            life: Lifecycle::default(),
            partitions: Mutex::new(BTreeMap::new()),
        }
    }

    /// Stops the current run; its partitions are forgotten until a new run is assigned some.
    pub fn stop_run(&self, resting: State) {
        self.life.stop_run(resting);
        self.partitions.lock().clear();
    }

    /// A record the sink cannot apply under ON-ERROR FAIL.
    pub fn fail(&self, run: &Run, message: impl std::fmt::Display) {
        add(&self.counters.errors, 1);
        self.life.fail(run, message);
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

    /// Redis Cluster: the partition is read again from `next` (a slot was gained). Set while
    /// holding the lock, so a slot handover never claims the records between `next` and the
    /// old position, which are not applied yet for the gained slot.
    pub fn rewind_to(&self, topic: &str, partition: i32, next: i64) {
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

    pub fn holds_any_partition(&self) -> bool {
        !self.partitions.lock().is_empty()
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
