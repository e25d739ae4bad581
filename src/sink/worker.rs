//! One sink worker thread: polls its consumer, maps records outside the lock, applies them in
//! bounded slices under the lock, then tells Kafka how far it got.

use crate::gil::Gil;
use crate::kafka_config;
use crate::mapping::Mapper;
use crate::offsets;
use crate::record::Record;
use crate::settings;
use crate::sink::apply::{apply_slice, Limits, Options, PartitionSlot, Pending, SliceEnd};
use crate::sink::context::SinkContext;
use crate::sink::shared::{SinkShared, State};
use crate::spec::SinkSpec;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use redis_module::{CallOptionsBuilder, ContextFlags};
use std::collections::HashMap;
use std::ffi::CString;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MAX_BATCH: usize = 5000;
const POLL_WAIT: Duration = Duration::from_millis(100);
const LAG_REFRESH: Duration = Duration::from_millis(500);

pub fn run(spec: Arc<SinkSpec>, shared: Arc<SinkShared>) {
    let Some(gil) = Gil::new() else {
        shared.fail("cannot get a thread-safe Redis context".to_string());
        return;
    };
    let context = SinkContext::new(shared.clone(), gil, &spec.name, spec.start);
    let config = kafka_config::sink_consumer_config(&spec, &shared.brokers, 0);
    let consumer: BaseConsumer<SinkContext> = match config.create_with_context(context) {
        Ok(consumer) => consumer,
        Err(e) => {
            shared.fail(format!("creating consumer: {e}"));
            return;
        }
    };
    let topics: Vec<&str> = spec.topics.iter().map(String::as_str).collect();
    if let Err(e) = consumer.subscribe(&topics) {
        shared.fail(format!("subscribing to {}: {e}", spec.topics.join(",")));
        return;
    }
    Worker::new(&spec, &shared, &consumer).run();
    shared.set_state(State::Stopped);
}

struct Worker<'a> {
    spec: &'a SinkSpec,
    shared: &'a SinkShared,
    consumer: &'a BaseConsumer<SinkContext>,
    mapper: Mapper,
    offsets_key: String,
    options: Options,
    slots: Vec<PartitionSlot>,
    slot_index: HashMap<(String, i32), usize>,
    batch: Vec<Pending>,
    last_lag_refresh: Instant,
}

enum BatchEnd {
    Done,
    Stop,
}

impl<'a> Worker<'a> {
    fn new(
        spec: &'a SinkSpec,
        shared: &'a SinkShared,
        consumer: &'a BaseConsumer<SinkContext>,
    ) -> Worker<'a> {
        Worker {
            spec,
            shared,
            consumer,
            mapper: Mapper::new(spec.sink_type, spec.key.clone()),
            offsets_key: offsets::offsets_key(&spec.name),
            options: Options {
                data: CallOptionsBuilder::new()
                    .replicate()
                    .verify_oom()
                    .errors_as_replies()
                    .build(),
                offsets: CallOptionsBuilder::new()
                    .replicate()
                    .errors_as_replies()
                    .build(),
            },
            slots: Vec::new(),
            slot_index: HashMap::new(),
            batch: Vec::with_capacity(MAX_BATCH),
            last_lag_refresh: Instant::now(),
        }
    }

    fn run(&mut self) {
        while !self.shared.stopping() {
            self.poll_batch();
            self.refresh_lag();
            if self.batch.is_empty() {
                continue;
            }
            let end = self.apply_batch();
            self.store_consumed_offsets();
            if matches!(end, BatchEnd::Stop) {
                return;
            }
        }
    }

    fn poll_batch(&mut self) {
        self.batch.clear();
        self.slots.clear();
        self.slot_index.clear();
        let mut wait = POLL_WAIT;
        while self.batch.len() < MAX_BATCH {
            match self.consumer.poll(wait) {
                None => break,
                Some(Ok(message)) => self.push(&message),
                Some(Err(e)) => self.shared.set_last_error(format!("kafka: {e}")),
            }
            wait = Duration::ZERO;
        }
        if !self.batch.is_empty() {
            self.shared.set_state(State::Running);
        }
    }

    fn push(&mut self, message: &BorrowedMessage<'_>) {
        let topic = message.topic();
        let partition = message.partition();
        let slot = match self.slot_index.get(&(topic.to_string(), partition)) {
            Some(&slot) => slot,
            None => {
                self.slots.push(PartitionSlot {
                    topic: topic.to_string(),
                    partition,
                    field: offsets::offset_field(topic, partition),
                    stored: None,
                    dirty: false,
                });
                let slot = self.slots.len() - 1;
                self.slot_index.insert((topic.to_string(), partition), slot);
                slot
            }
        };
        let record = Record {
            topic,
            partition,
            offset: message.offset(),
            timestamp: message.timestamp().to_millis(),
            key: message.key(),
            value: message.payload(),
        };
        self.batch.push(Pending {
            partition: slot,
            offset: record.offset,
            write: self.mapper.map(&record),
        });
    }

    fn apply_batch(&mut self) -> BatchEnd {
        let limits = Limits {
            max_records: settings::slice_max_records(),
            max_time: settings::slice_max_time(),
        };
        let mut start = 0;
        let mut backoff = Duration::from_millis(10);
        while start < self.batch.len() {
            let Some(guard) = self.shared_gil().lock(&self.shared.stop) else {
                return BatchEnd::Stop;
            };
            let flags = guard.get_flags();
            if !flags.contains(ContextFlags::MASTER) || flags.contains(ContextFlags::LOADING) {
                drop(guard);
                self.shared.set_state(State::Replica);
                if !self.pause(Duration::from_millis(200)) {
                    return BatchEnd::Stop;
                }
                continue;
            }
            let report = apply_slice(
                &guard,
                &self.options,
                &self.offsets_key,
                &mut self.slots,
                &self.batch[start..],
                &limits,
            );
            drop(guard);
            self.shared
                .records
                .fetch_add(report.applied, Ordering::Relaxed);
            start += report.consumed;
            self.publish_progress();
            match report.end {
                SliceEnd::Limit => backoff = Duration::from_millis(10),
                SliceEnd::Temporary(error) => {
                    self.shared
                        .set_last_error(format!("Redis refused a write, retrying: {error}"));
                    if !self.pause(backoff) {
                        return BatchEnd::Stop;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                SliceEnd::Failed { at, error } => {
                    let failed = &self.batch[start - report.consumed + at];
                    let slot = &self.slots[failed.partition];
                    self.shared.fail(format!(
                        "{}/{} offset {}: {error}",
                        slot.topic, slot.partition, failed.offset
                    ));
                    return BatchEnd::Stop;
                }
            }
        }
        BatchEnd::Done
    }

    fn shared_gil(&self) -> &'a Gil {
        &self.consumer.context().gil
    }

    /// Sleeps up to `duration` in short steps; false if the bridge was told to stop meanwhile.
    fn pause(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        while Instant::now() < deadline {
            if self.shared.stopping() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5).min(duration));
        }
        !self.shared.stopping()
    }

    fn publish_progress(&self) {
        for slot in &self.slots {
            if let Some(next) = slot.stored {
                self.shared
                    .set_next_offset(&slot.topic, slot.partition, next);
            }
        }
    }

    /// Feeds Kafka's committed offsets (for lag tools); Redis stays the source of truth.
    fn store_consumed_offsets(&self) {
        let mut tpl = TopicPartitionList::new();
        for slot in &self.slots {
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
        for ((topic, partition), _) in self.shared.partitions() {
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
        let _ = self.spec;
    }
}
