//! One sink task: polls its consumer and maps records outside the lock, applies them in bounded
//! slices under the lock, handles records that cannot be applied by the sink's ON-ERROR policy,
//! then tells Kafka how far it got.
//!
//! Polling and mapping take a third of a sink's time and applying the rest, so off Redis
//! Cluster they run in two threads: a filler maps the next batch while the task's thread applies
//! the current one. On a cluster they take turns, because a slot gained there can seek
//! partitions back, which would make an already mapped next batch stale.

use crate::cluster::slots::{key_slot, SLOTS};
use crate::cluster::topology::{self, Ownership};
use crate::error::Error;
use crate::kafka::dead_letters::{DeadLetters, Letter};
use crate::kafka::headers;
use crate::lifecycle::{add, Run, State};
use crate::runtime::call::Caller;
use crate::settings;
use crate::sink::apply::{apply_slice, ClusterSlice, Limits, PartitionSlot, Pending, SliceEnd};
use crate::sink::context::SinkContext;
use crate::sink::group::{join_group, Starvation};
use crate::sink::mapping::{Mapped, Mapper};
use crate::sink::shared::SinkShared;
use crate::sink::slot_progress::SlotProgress;
use crate::spec::options::OnError;
use crate::spec::record::{HeaderLookup, Record, TTL_HEADER_C};
use crate::spec::sink::SinkSpec;
use crate::store::keys::{offset_field, offsets_key, slot_offsets_key};
use crate::store::offsets;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, SendTimeoutError, Sender};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use redis_module::ContextFlags;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MAX_BATCH: usize = 5000;

/// Headers of a sink's dead letters, beside `redis.error`.
pub const HEADER_TOPIC: &str = "redis.source.topic";
pub const HEADER_PARTITION: &str = "redis.source.partition";
pub const HEADER_OFFSET: &str = "redis.source.offset";
pub const HEADER_SINK: &str = "redis.sink";

/// The original record, kept only by sinks with a DLQ.
#[derive(Debug, Clone)]
pub struct Original {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}
const POLL_WAIT: Duration = Duration::from_millis(100);
const LAG_REFRESH: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// A slot migration moves a slot's keys in milliseconds: held records look again this soon.
const HOLD_WAIT: Duration = Duration::from_millis(5);

pub fn run(spec: Arc<SinkSpec>, shared: Arc<SinkShared>, run: Arc<Run>, task: usize) {
    while !run.stopping() {
        let Some(consumer) = join_group(&spec, &shared, &run, task) else {
            return;
        };
        match Worker::new(&spec, &shared, &run, &consumer).run() {
            WorkerEnd::Stop => return,
            // Dropping the consumer leaves the group; the next one joins as a new member.
            WorkerEnd::Rejoin => continue,
        }
    }
}

/// One poll's records, mapped, with the partitions they come from.
#[derive(Default)]
struct Batch {
    pending: Vec<Pending>,
    /// Original key/value per entry, kept only when the sink has a DLQ.
    originals: Vec<Original>,
    slots: Vec<PartitionSlot>,
    /// Bytes held by `pending` and `originals`, bounded by `kafka.sink-batch-max-bytes`.
    bytes: usize,
}

impl Batch {
    fn clear(&mut self) {
        self.pending.clear();
        self.originals.clear();
        self.slots.clear();
        self.bytes = 0;
    }

    fn slot(&mut self, topic: &str, partition: i32) -> usize {
        // A batch spans few partitions: a scan beats hashing an owned key per record.
        if let Some(slot) = self
            .slots
            .iter()
            .position(|s| s.partition == partition && s.topic == topic)
        {
            return slot;
        }
        self.slots.push(PartitionSlot {
            topic: topic.to_string(),
            partition,
            field: offset_field(topic, partition),
            stored: None,
            dirty: false,
        });
        self.slots.len() - 1
    }
}

/// Polls the consumer and maps what it gives into batches.
struct Filler<'a> {
    spec: &'a SinkSpec,
    shared: &'a SinkShared,
    run: &'a Run,
    consumer: &'a BaseConsumer<SinkContext>,
    mapper: Mapper,
    on_cluster: bool,
}

struct Worker<'a> {
    spec: &'a SinkSpec,
    shared: &'a SinkShared,
    run: &'a Run,
    consumer: &'a BaseConsumer<SinkContext>,
    offsets_key: String,
    caller: Caller,
    dead_letters: Option<DeadLetters>,
    last_lag_refresh: Instant,
    starvation: Starvation,
    /// Redis Cluster: the slot view of the last slice, to see which slots were gained since.
    on_cluster: bool,
    last_view: Option<Arc<Ownership>>,
}

enum BatchEnd {
    Done,
    Stop,
    Rejoin,
}

enum WorkerEnd {
    Stop,
    /// The group gave the sink nothing for too long: leave it and join again.
    Rejoin,
}

impl<'a> Worker<'a> {
    fn new(
        spec: &'a SinkSpec,
        shared: &'a SinkShared,
        run: &'a Run,
        consumer: &'a BaseConsumer<SinkContext>,
    ) -> Worker<'a> {
        Worker {
            spec,
            shared,
            run,
            consumer,
            offsets_key: offsets_key(&spec.name),
            // Replicated, refused past maxmemory, errors as replies (not a NULL reply).
            caller: Caller::new(c"v!ME"),
            dead_letters: None,
            last_lag_refresh: Instant::now(),
            starvation: Starvation::new(spec),
            on_cluster: topology::enabled(),
            last_view: None,
        }
    }

    fn run(&mut self) -> WorkerEnd {
        let filler = Filler {
            spec: self.spec,
            shared: self.shared,
            run: self.run,
            consumer: self.consumer,
            mapper: Mapper::new(self.spec),
            on_cluster: self.on_cluster,
        };
        if self.on_cluster {
            self.run_in_turns(filler)
        } else {
            self.run_pipelined(filler)
        }
    }

    fn run_in_turns(&mut self, mut filler: Filler<'_>) -> WorkerEnd {
        let mut batch = Batch::default();
        while !self.run.stopping() {
            crate::runtime::faults::maybe_panic_worker(&self.spec.name);
            filler.fill(&mut batch);
            if let Some(end) = self.checks() {
                return end;
            }
            if batch.pending.is_empty() {
                continue;
            }
            if let Some(end) = self.apply_and_store(&mut batch) {
                return end;
            }
        }
        WorkerEnd::Stop
    }

    /// The filler maps the next batch in its own thread while this one applies. At most two
    /// batches are alive: the one being applied and the one waiting to be taken.
    fn run_pipelined(&mut self, mut filler: Filler<'_>) -> WorkerEnd {
        let (full_tx, full_rx) = bounded::<Batch>(0);
        let (empty_tx, empty_rx) = bounded::<Batch>(1);
        let done = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let filling = std::thread::Builder::new()
                .name(format!("kafka-fill-{}", self.consumer.context().task()))
                .spawn_scoped(scope, || filler.feed(&done, full_tx, empty_rx));
            if let Err(e) = filling {
                self.shared.fail(
                    self.run,
                    format!("cannot start the sink's filler thread: {e}"),
                );
                return WorkerEnd::Stop;
            }
            // Set however this side ends, a panic included: the scope waits for the filler.
            let _done = SetOnDrop(&done);
            // Dropped on the way out too: a filler waiting to hand a batch over is released.
            let full_rx = full_rx;
            self.apply_from(&full_rx, &empty_tx)
        })
    }

    fn apply_from(&mut self, full: &Receiver<Batch>, empty: &Sender<Batch>) -> WorkerEnd {
        while !self.run.stopping() {
            crate::runtime::faults::maybe_panic_worker(&self.spec.name);
            let received = full.recv_timeout(POLL_WAIT);
            if let Some(end) = self.checks() {
                return end;
            }
            let mut batch = match received {
                Ok(batch) => batch,
                Err(RecvTimeoutError::Timeout) => continue,
                // The filler ended: the run is stopping (or the filler panicked, which the
                // scope passes on).
                Err(RecvTimeoutError::Disconnected) => return WorkerEnd::Stop,
            };
            if let Some(end) = self.apply_and_store(&mut batch) {
                return end;
            }
            batch.clear();
            // Its buffers serve the filler again.
            let _ = empty.try_send(batch);
        }
        WorkerEnd::Stop
    }

    /// Between batches: a fatal consumer error, a group that gives this sink nothing, lag.
    fn checks(&mut self) -> Option<WorkerEnd> {
        if let Some(fatal) = self.consumer.context().take_fatal() {
            self.shared.fail(self.run, fatal);
            return Some(WorkerEnd::Stop);
        }
        if let Some(reason) = self.starvation.check(self.spec, self.shared, self.consumer) {
            self.shared.life.set_last_error(reason);
            return Some(WorkerEnd::Rejoin);
        }
        self.refresh_lag();
        None
    }

    fn apply_and_store(&mut self, batch: &mut Batch) -> Option<WorkerEnd> {
        let end = self.apply_batch(batch);
        self.store_consumed_offsets(batch);
        match end {
            BatchEnd::Done => None,
            BatchEnd::Stop => Some(WorkerEnd::Stop),
            BatchEnd::Rejoin => Some(WorkerEnd::Rejoin),
        }
    }

    fn apply_batch(&mut self, batch: &mut Batch) -> BatchEnd {
        let limits = Limits {
            max_records: settings::slice_max_records(),
            max_bytes: settings::slice_max_bytes(),
            max_time: settings::slice_max_time(),
        };
        let mut start = 0;
        let mut backoff = Duration::from_millis(10);
        while start < batch.pending.len() {
            let gil = &self.consumer.context().gil;
            let Some(guard) = gil.lock(self.run.flag()) else {
                return BatchEnd::Stop;
            };
            let flags = guard.get_flags();
            if crate::runtime::pause::writes_held() {
                drop(guard);
                if !self.pause(Duration::from_millis(50)) {
                    return BatchEnd::Stop;
                }
                continue;
            }
            if !flags.contains(ContextFlags::MASTER) || flags.contains(ContextFlags::LOADING) {
                drop(guard);
                self.shared.life.report_state(self.run, State::Replica);
                if !self.pause(Duration::from_millis(200)) {
                    return BatchEnd::Stop;
                }
                continue;
            }
            let view = if self.on_cluster {
                let Some(view) = topology::current() else {
                    drop(guard);
                    if !self.pause(Duration::from_millis(100)) {
                        return BatchEnd::Stop;
                    }
                    continue;
                };
                match self.rewinds(&guard, &view, batch, start) {
                    Ok(seeks) if seeks.is_empty() => {}
                    Ok(seeks) => {
                        for (topic, partition, offset) in &seeks {
                            self.shared.rewind_to(topic, *partition, *offset);
                        }
                        drop(guard);
                        return self.seek(seeks);
                    }
                    Err(error) => {
                        drop(guard);
                        self.shared.fail(self.run, error.to_string());
                        return BatchEnd::Stop;
                    }
                }
                Some(view)
            } else {
                None
            };
            // Only a cluster slice reads per-slot offsets: no copy of the fields otherwise.
            let fields: Vec<String> = match view {
                Some(_) => batch.slots.iter().map(|s| s.field.clone()).collect(),
                None => Vec::new(),
            };
            let cluster = view.as_deref().map(|view| ClusterSlice {
                view,
                progress: SlotProgress::new(&self.spec.name, &fields),
            });
            let report = apply_slice(
                &guard,
                &mut self.caller,
                &self.offsets_key,
                &mut batch.slots,
                &batch.pending[start..],
                &limits,
                cluster,
            );
            // Published under the lock: a slot handover (on the main thread) reads it.
            self.publish_progress(batch);
            drop(guard);
            let counters = &self.shared.counters;
            add(&counters.records, report.applied);
            add(&counters.skipped, report.skipped);
            add(&counters.errors, report.expire_failures);
            if let Some(error) = report.expire_error {
                self.shared.life.set_last_error(error);
            }
            start += report.consumed;
            match report.end {
                SliceEnd::Limit => backoff = Duration::from_millis(10),
                SliceEnd::Held { slot, .. } => {
                    self.shared.life.set_last_error(format!(
                        "records for hash slot {slot} wait until its migration ends (CLUSTER SETSLOT)"
                    ));
                    if !self.pause(HOLD_WAIT) {
                        return BatchEnd::Stop;
                    }
                }
                SliceEnd::Stopped { error, .. } if error.is_temporary() => {
                    self.shared
                        .life
                        .set_last_error(format!("Redis refused a write, retrying: {error}"));
                    if !self.pause(backoff) {
                        return BatchEnd::Stop;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                SliceEnd::Stopped {
                    error: error @ (Error::State(_) | Error::Internal(_)),
                    ..
                } => {
                    self.shared.fail(self.run, error.to_string());
                    return BatchEnd::Stop;
                }
                SliceEnd::Stopped { at, error } => {
                    let index = start - report.consumed + at;
                    if !self.handle_failure(batch, index, error.to_string()) {
                        return BatchEnd::Stop;
                    }
                }
            }
        }
        BatchEnd::Done
    }

    /// Redis Cluster: for the slots this node serves since the last slice, the offsets that
    /// moved in with them may be below where this task has read: those partitions must be read
    /// again from there (records of other slots below their own offsets are then passed over).
    /// Returns where to seek each partition of the unapplied batch; empty when nothing to do.
    fn rewinds(
        &mut self,
        ctx: &redis_module::Context,
        view: &Arc<Ownership>,
        batch: &Batch,
        start: usize,
    ) -> Result<Vec<(String, i32, i64)>, Error> {
        // A new assignment started its partitions from the offsets of the slots served then.
        if let Some(assigned) = self.consumer.context().take_assigned_view() {
            self.last_view = Some(assigned);
        }
        let Some(previous) = self.last_view.replace(view.clone()) else {
            return Ok(Vec::new());
        };
        if previous.generation == view.generation {
            return Ok(Vec::new());
        }
        let gained: Vec<u16> = (0..SLOTS as u16)
            .filter(|&s| view.serves(s) && !previous.serves(s))
            .collect();
        if gained.is_empty() {
            return Ok(Vec::new());
        }
        let task = self.consumer.context().task();
        let partitions = self.shared.partitions_of(task);
        let fields: Vec<String> = partitions
            .iter()
            .map(|(topic, partition)| offset_field(topic, *partition))
            .collect();
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        let mut targets: Vec<Option<i64>> = vec![None; partitions.len()];
        for slot in gained {
            let stored = offsets::read(ctx, &slot_offsets_key(&self.spec.name, slot), &fields)?;
            for (target, stored) in targets.iter_mut().zip(stored) {
                if let Some(stored) = stored {
                    *target = Some(target.map_or(stored, |t| t.min(stored)));
                }
            }
        }
        let positions = self.consumer.position().unwrap_or_default();
        let context = self.consumer.context();
        let mut seeks = Vec::new();
        let mut rewound = false;
        for ((topic, partition), target) in partitions.iter().zip(targets) {
            let unapplied = batch.pending[start..]
                .iter()
                .find(|p| {
                    let s = &batch.slots[p.partition];
                    s.partition == *partition && s.topic == *topic
                })
                .map(|p| p.offset)
                .or_else(
                    || match positions.find_partition(topic, *partition)?.offset() {
                        Offset::Offset(o) => Some(o),
                        _ => None,
                    },
                )
                // Nothing consumed since the partition was started: it reads from that start.
                .or_else(|| match context.start_of(topic, *partition)? {
                    Offset::Offset(o) => Some(o),
                    Offset::Beginning => Some(0),
                    _ => Some(i64::MAX),
                });
            // Only ever back: a seek forward would pass over records of the other slots.
            let back = match (target, unapplied) {
                (Some(target), Some(unapplied)) if target < unapplied => Some(target),
                _ => None,
            };
            rewound |= back.is_some();
            // The rest of the batch is dropped: its partitions are read again too.
            if let Some(offset) = back.or(unapplied.filter(|_| {
                batch.pending[start..].iter().any(|p| {
                    batch.slots[p.partition].partition == *partition
                        && batch.slots[p.partition].topic == *topic
                })
            })) {
                seeks.push((topic.clone(), *partition, offset));
            }
        }
        if !rewound {
            seeks.clear();
        }
        Ok(seeks)
    }

    /// Moves partitions back for slots gained (see `rewinds`); a failed seek rejoins the group,
    /// whose assignment starts every partition from the stored offsets again.
    fn seek(&mut self, seeks: Vec<(String, i32, i64)>) -> BatchEnd {
        for (topic, partition, offset) in seeks {
            self.consumer
                .context()
                .set_start(&topic, partition, Offset::Offset(offset));
            if let Err(e) = self.consumer.seek(
                &topic,
                partition,
                Offset::Offset(offset),
                Duration::from_secs(5),
            ) {
                self.shared
                    .life
                    .set_last_error(format!("seeking {topic}/{partition} to {offset}: {e}"));
                return BatchEnd::Rejoin;
            }
        }
        BatchEnd::Done
    }

    /// Applies the ON-ERROR policy to the record at `index`; false when the run must stop.
    fn handle_failure(&mut self, batch: &mut Batch, index: usize, error: String) -> bool {
        let pending = &batch.pending[index];
        let slot = &batch.slots[pending.partition];
        let described = format!(
            "{}/{} offset {}: {error}",
            slot.topic, slot.partition, pending.offset
        );
        let counters = &self.shared.counters;
        match &self.spec.on_error {
            OnError::Fail => {
                self.shared.fail(self.run, described);
                return false;
            }
            OnError::Skip => {
                add(&counters.errors, 1);
                add(&counters.skipped, 1);
                self.shared
                    .life
                    .set_last_error(format!("skipped {described}"));
            }
            OnError::Dlq(topic) => {
                let mut backoff = Duration::from_millis(100);
                loop {
                    match self.send_dead_letter(batch, index, topic, &error) {
                        Ok(()) => break,
                        Err(dlq_error) => {
                            self.shared.life.set_last_error(format!(
                                "{described}; dead letter not delivered, retrying: {dlq_error}"
                            ));
                            if !self.pause(backoff) {
                                return false;
                            }
                            backoff = (backoff * 2).min(MAX_BACKOFF * 5);
                        }
                    }
                }
                add(&counters.errors, 1);
                add(&counters.dlq, 1);
                self.shared
                    .life
                    .set_last_error(format!("sent to DLQ {topic}: {described}"));
            }
        }
        batch.pending[index].mapped = Ok(Mapped::resolved());
        true
    }

    fn send_dead_letter(
        &mut self,
        batch: &Batch,
        index: usize,
        topic: &str,
        error: &str,
    ) -> Result<(), Error> {
        if self.dead_letters.is_none() {
            self.dead_letters = Some(DeadLetters::new(
                &self.spec.name,
                topic,
                &self.shared.brokers,
                &self.spec.config,
            )?);
        }
        let (Some(dead_letters), Some(original)) =
            (self.dead_letters.as_ref(), batch.originals.get(index))
        else {
            return Err(Error::Internal("original record not kept".to_string()));
        };
        let pending = &batch.pending[index];
        let slot = &batch.slots[pending.partition];
        dead_letters.send(
            &Letter {
                key: original.key.as_deref(),
                value: original.value.as_deref(),
                error,
                origin: vec![
                    (HEADER_TOPIC, slot.topic.as_bytes().to_vec()),
                    (HEADER_PARTITION, slot.partition.to_string().into_bytes()),
                    (HEADER_OFFSET, pending.offset.to_string().into_bytes()),
                    (HEADER_SINK, self.spec.name.as_bytes().to_vec()),
                ],
            },
            self.run.flag(),
        )
    }

    /// Sleeps up to `duration` in short steps; false if the run was stopped meanwhile.
    fn pause(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        while Instant::now() < deadline {
            if self.run.stopping() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5).min(duration));
        }
        !self.run.stopping()
    }

    fn publish_progress(&self, batch: &Batch) {
        for slot in &batch.slots {
            if let Some(next) = slot.stored {
                self.shared
                    .set_next_offset(&slot.topic, slot.partition, next);
            }
        }
    }

    /// Feeds Kafka's committed offsets (for lag tools); Redis stays the source of truth.
    fn store_consumed_offsets(&self, batch: &Batch) {
        let mut tpl = TopicPartitionList::new();
        for slot in &batch.slots {
            if let Some(next) = slot.stored {
                let _ = tpl.add_partition_offset(&slot.topic, slot.partition, Offset::Offset(next));
            }
        }
        if tpl.count() > 0 {
            let _ = self.consumer.store_offsets(&tpl);
        }
    }

    fn refresh_lag(&mut self) {
        if self.last_lag_refresh.elapsed() < LAG_REFRESH {
            return;
        }
        self.last_lag_refresh = Instant::now();
        let client = self.consumer.client().native_ptr();
        let task = self.consumer.context().task();
        for (topic, partition) in self.shared.partitions_of(task) {
            let Ok(topic_c) = CString::new(topic.as_str()) else {
                continue;
            };
            let (mut low, mut high) = (-1i64, -1i64);
            // Cached values from the last fetch response: no network round trip.
            let err = unsafe {
                rdkafka::bindings::rd_kafka_get_watermark_offsets(
                    client,
                    topic_c.as_ptr(),
                    partition,
                    &mut low,
                    &mut high,
                )
            };
            if err == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
                && high >= 0
            {
                self.shared.set_high_watermark(&topic, partition, high);
            }
        }
    }
}

struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

impl Filler<'_> {
    /// Maps batches and hands each to the applying thread until `done`, the run stops, or the
    /// applying side goes away.
    fn feed(&mut self, done: &AtomicBool, full: Sender<Batch>, empty: Receiver<Batch>) {
        let mut batch = Batch::default();
        while !done.load(Ordering::Acquire) && !self.run.stopping() {
            self.fill(&mut batch);
            if batch.pending.is_empty() {
                continue;
            }
            loop {
                match full.send_timeout(batch, POLL_WAIT) {
                    Ok(()) => break,
                    Err(SendTimeoutError::Timeout(back)) => {
                        if done.load(Ordering::Acquire) || self.run.stopping() {
                            return;
                        }
                        batch = back;
                    }
                    Err(SendTimeoutError::Disconnected(_)) => return,
                }
            }
            batch = empty.try_recv().unwrap_or_default();
        }
    }

    /// Polls up to a batch of records (waiting at most `POLL_WAIT` for the first) and maps them.
    fn fill(&mut self, batch: &mut Batch) {
        batch.clear();
        // Pipelined, two batches are alive at once: each gets half of the bound.
        let batches_alive = if self.on_cluster { 1 } else { 2 };
        let max_bytes = settings::sink_batch_max_bytes() / batches_alive;
        let mut wait = POLL_WAIT;
        while batch.pending.len() < MAX_BATCH && batch.bytes < max_bytes {
            match self.consumer.poll(wait) {
                None => break,
                Some(Ok(message)) => self.push(batch, &message),
                // An error event already reached SinkContext::error with its text.
                Some(Err(e)) => {
                    if !self.consumer.context().errors.take_reported() {
                        self.shared.life.set_last_error(format!("kafka: {e}"));
                    }
                }
            }
            wait = Duration::ZERO;
        }
        if !batch.pending.is_empty() {
            self.shared.life.report_state(self.run, State::Running);
        }
    }

    fn push(&mut self, batch: &mut Batch, message: &BorrowedMessage<'_>) {
        let topic = message.topic();
        let partition = message.partition();
        let slot = batch.slot(topic, partition);
        let headers = message.headers();
        // A null `redis.ttl` is no header: the sink's TTL applies.
        let ttl_header = headers.and_then(|h| headers::last(h, TTL_HEADER_C).flatten());
        let record = Record {
            topic,
            partition,
            offset: message.offset(),
            timestamp: message.timestamp().to_millis(),
            key: message.key(),
            value: message.payload(),
            ttl_header,
            headers: headers.map(|h| h as &dyn HeaderLookup),
        };
        let size = record.key.map_or(0, <[u8]>::len) + record.value.map_or(0, <[u8]>::len);
        if matches!(self.spec.on_error, OnError::Dlq(_)) {
            batch.originals.push(Original {
                key: record.key.map(<[u8]>::to_vec),
                value: record.value.map(<[u8]>::to_vec),
            });
            batch.bytes += size;
        }
        let mapped = self.mapper.map(&record);
        batch.bytes += mapped.as_ref().map_or(size, |m| m.bytes);
        let hash_slot = if self.on_cluster {
            match mapped.as_ref().ok().and_then(|m| m.write.slot_name()) {
                Some(key) => key_slot(key),
                None => record_slot(&record),
            }
        } else {
            0
        };
        batch.pending.push(Pending {
            partition: slot,
            offset: record.offset,
            hash_slot,
            mapped,
        });
    }
}

/// The slot of a record with neither key nor channel (a mapping error, a tombstone passed over):
/// its Kafka key's, or its partition's, so exactly one primary handles it.
fn record_slot(record: &Record<'_>) -> u16 {
    match record.key {
        Some(key) => key_slot(key),
        None => key_slot(format!("{}:{}", record.topic, record.partition).as_bytes()),
    }
}
