//! The sink's rdkafka consumer context: on assignment it starts each partition at the offset
//! stored in Redis (falling back to START), and it reports client errors to the bridge status.

use crate::cluster::slots::SLOTS;
use crate::cluster::topology::{self, Ownership};
use crate::kafka::client_error::ClientErrors;
use crate::kafka::log;
use crate::lifecycle::{Run, State};
use crate::runtime::gil::Gil;
use crate::sink::shared::SinkShared;
use crate::spec::sink::StartFrom;
use crate::store::keys::{offset_field, offsets_key, slot_offsets_key};
use crate::store::offsets;
use parking_lot::Mutex;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::Arc;

pub struct SinkContext {
    pub shared: Arc<SinkShared>,
    pub run: Arc<Run>,
    pub gil: Gil,
    task: usize,
    name: String,
    offsets_key: String,
    start: StartFrom,
    /// Set when the sink cannot go on whatever its ON-ERROR policy (its stored offsets cannot
    /// be read); the worker fails the run with it.
    fatal: Mutex<Option<String>>,
    /// Redis Cluster: the slot view the last assignment's start offsets were computed with.
    assigned_view: Mutex<Option<Arc<Ownership>>>,
    /// Where each partition was last started (assignment or seek), for a partition the worker
    /// has consumed nothing from since: rdkafka has no position for it then.
    starts: Mutex<HashMap<(String, i32), Offset>>,
    pub errors: ClientErrors,
}

impl SinkContext {
    pub fn new(
        shared: Arc<SinkShared>,
        run: Arc<Run>,
        task: usize,
        name: &str,
        start: StartFrom,
    ) -> Option<SinkContext> {
        Some(SinkContext {
            shared,
            run,
            gil: Gil::new()?,
            task,
            name: name.to_string(),
            offsets_key: offsets_key(name),
            start,
            fatal: Mutex::new(None),
            assigned_view: Mutex::new(None),
            starts: Mutex::new(HashMap::new()),
            errors: ClientErrors::default(),
        })
    }

    pub fn take_fatal(&self) -> Option<String> {
        self.fatal.lock().take()
    }

    pub fn set_start(&self, topic: &str, partition: i32, offset: Offset) {
        self.starts
            .lock()
            .insert((topic.to_string(), partition), offset);
    }

    pub fn start_of(&self, topic: &str, partition: i32) -> Option<Offset> {
        self.starts
            .lock()
            .get(&(topic.to_string(), partition))
            .copied()
    }

    pub fn take_assigned_view(&self) -> Option<Arc<Ownership>> {
        self.assigned_view.lock().take()
    }

    pub fn task(&self) -> usize {
        self.task
    }

    /// The offsets Redis holds for the assigned partitions; None when stopping or unreadable
    /// (then `fatal` says why).
    fn stored_offsets(&self, tpl: &TopicPartitionList) -> Option<Vec<Option<i64>>> {
        let fields: Vec<String> = tpl
            .elements()
            .iter()
            .map(|e| offset_field(e.topic(), e.partition()))
            .collect();
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        let guard = self.gil.lock(self.run.flag())?;
        if topology::enabled() {
            return self.cluster_offsets(&guard, &fields);
        }
        match offsets::read(&guard, &self.offsets_key, &fields) {
            Ok(values) => Some(values),
            Err(error) => {
                *self.fatal.lock() = Some(format!("reading stored offsets: {error}"));
                None
            }
        }
    }

    /// Redis Cluster: a partition starts at the lowest offset stored for it by the slots this
    /// node serves; records of a slot below its own offset are then passed over (`apply`). A
    /// partition no served slot has an offset for starts from the sink's FROM.
    fn cluster_offsets(
        &self,
        ctx: &redis_module::Context,
        fields: &[&str],
    ) -> Option<Vec<Option<i64>>> {
        let Some(view) = topology::current() else {
            *self.fatal.lock() = Some("this cluster node does not know its slots yet".to_string());
            return None;
        };
        let mut lowest: Vec<Option<i64>> = vec![None; fields.len()];
        for slot in (0..SLOTS as u16).filter(|&s| view.serves(s)) {
            let key = slot_offsets_key(&self.name, slot);
            match offsets::read(ctx, &key, fields) {
                Ok(stored) => {
                    for (low, stored) in lowest.iter_mut().zip(stored) {
                        if let Some(stored) = stored {
                            *low = Some(low.map_or(stored, |l| l.min(stored)));
                        }
                    }
                }
                Err(error) => {
                    *self.fatal.lock() = Some(format!("reading stored offsets: {error}"));
                    return None;
                }
            }
        }
        *self.assigned_view.lock() = Some(view);
        Some(lowest)
    }

    fn on_assign(&self, consumer: &BaseConsumer<Self>, tpl: &mut TopicPartitionList) {
        // Without the stored offsets, starting anywhere could apply records twice or skip
        // them: take no partitions, and let the worker fail the sink.
        let Some(stored) = self.stored_offsets(tpl) else {
            return;
        };
        let fallback = match self.start {
            StartFrom::Earliest => Offset::Beginning,
            StartFrom::Latest => Offset::End,
        };
        let partitions: Vec<(String, i32)> = tpl
            .elements()
            .iter()
            .map(|e| (e.topic().to_string(), e.partition()))
            .collect();
        for (index, (topic, partition)) in partitions.iter().enumerate() {
            let next = stored.get(index).copied().flatten();
            let offset = next.map_or(fallback, Offset::Offset);
            self.set_start(topic, *partition, offset);
            if let Err(e) = tpl.set_partition_offset(topic, *partition, offset) {
                self.shared
                    .life
                    .set_last_error(format!("setting start offset of {topic}/{partition}: {e}"));
            }
            self.shared
                .assign(&self.run, self.task, topic, *partition, next);
        }
        let result = match consumer.rebalance_protocol() {
            RebalanceProtocol::Cooperative => consumer.incremental_assign(tpl),
            _ => consumer.assign(tpl),
        };
        match result {
            // Joined the group and holds its partitions: running, even before a record comes.
            Ok(()) => self.shared.life.report_state(&self.run, State::Running),
            Err(e) => self
                .shared
                .life
                .set_last_error(format!("assigning partitions: {e}")),
        }
    }

    fn on_revoke(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        // Redis holds the real offsets; this commit only keeps Kafka's view (lag tools) current.
        let _ = consumer.commit_consumer_state(CommitMode::Async);
        for e in tpl.elements() {
            self.shared
                .revoke(&self.run, self.task, e.topic(), e.partition());
        }
        let result = match consumer.rebalance_protocol() {
            RebalanceProtocol::Cooperative => consumer.incremental_unassign(tpl),
            _ => consumer.unassign(),
        };
        if let Err(e) = result {
            self.shared
                .life
                .set_last_error(format!("revoking partitions: {e}"));
        }
    }
}

impl ClientContext for SinkContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        log::forward(&self.name, level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if let Some(text) = self.errors.describe(&error, reason) {
            self.shared.life.set_last_error(text);
        }
    }
}

impl ConsumerContext for SinkContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => self.on_assign(consumer, tpl),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => self.on_revoke(consumer, tpl),
            other => {
                self.shared
                    .life
                    .set_last_error(format!("rebalance error: {other:?}"));
                let _ = consumer.unassign();
            }
        }
    }
}
