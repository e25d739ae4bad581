//! What a source's worker shares with the command handlers: counters, per-stream progress and
//! the bridge lifecycle. No Redis access here.

use crate::kafka::dead_letters::{deliver, DeadLetters, Destination, Letter};
use crate::lifecycle::{add, Lifecycle, Run};
use crate::source::channels::ChannelState;
use crate::source::doorbell::{self, Doorbell};
use crate::source::keys::changes::{self, KeyChanges};
use crate::spec::source::{Feed, SourceSpec};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

#[derive(Default)]
pub struct SourceCounters {
    /// Entries acknowledged by Kafka.
    pub records: AtomicU64,
    /// Entries that could not be mapped or delivered (temporary failures are retried).
    pub errors: AtomicU64,
    /// Entries passed over under ON-ERROR SKIP.
    pub skipped: AtomicU64,
    /// Entries sent to the dead-letter topic under ON-ERROR DLQ.
    pub dlq: AtomicU64,
    /// Keys matching the glob that are not streams.
    pub ignored: AtomicU64,
    /// Messages a CHANNELS source received and knows it did not deliver (Kafka's queue full
    /// too long, delivery timed out, stopped with them in flight).
    pub dropped: AtomicU64,
    /// Times a CHANNELS source's subscriber connection was lost and made again.
    pub reconnects: AtomicU64,
}

#[derive(Debug, Clone, Default)]
pub struct StreamProgress {
    /// Last entry ID acknowledged by Kafka and checkpointed in Redis.
    pub checkpoint: Option<String>,
    /// Entries added to the stream after the checkpoint, when known.
    pub backlog: Option<u64>,
}

pub struct SourceShared {
    pub counters: SourceCounters,
    pub brokers: String,
    pub life: Lifecycle,
    feed: Feed,
    /// Rung by XADD on a matching stream (STREAMS sources).
    pub doorbell: Arc<Doorbell>,
    /// Keys changed since the worker last looked (KEYS sources).
    pub changes: Arc<KeyChanges>,
    /// The subscriber connection (CHANNELS sources).
    pub channel: ChannelState,
    streams: Mutex<BTreeMap<Vec<u8>, StreamProgress>>,
}

impl SourceShared {
    /// Sends one of `spec`'s dead letters to `topic`, retrying until the broker acknowledges it
    /// (`dead_letters::deliver`, each attempt reported in `last_error`); false if the run ended
    /// first. `wait` sleeps between attempts.
    #[allow(clippy::too_many_arguments)]
    pub fn deliver_dead_letter(
        &self,
        spec: &SourceSpec,
        producer: &mut Option<DeadLetters>,
        topic: &str,
        letter: &Letter<'_>,
        what: &str,
        run: &Run,
        wait: &mut dyn FnMut(std::time::Duration) -> bool,
    ) -> bool {
        let to = Destination {
            bridge: &spec.name,
            topic,
            brokers: &self.brokers,
            config: &spec.config,
        };
        deliver(
            producer,
            &to,
            letter,
            what,
            run.flag(),
            &|message| self.life.set_last_error(message),
            wait,
        )
    }

    /// A record passed over under ON-ERROR SKIP: counted, and named in `last_error`.
    pub fn note_skipped(&self, message: impl std::fmt::Display) {
        add(&self.counters.skipped, 1);
        self.life.set_last_error(format!("skipped {message}"));
    }

    pub fn new(brokers: String, spec: &SourceSpec) -> SourceShared {
        SourceShared {
            counters: SourceCounters::default(),
            brokers,
            life: Lifecycle::default(),
            feed: spec.feed,
            doorbell: Arc::new(Doorbell::new(&spec.glob)),
            changes: Arc::new(KeyChanges::new(&spec.glob)),
            channel: ChannelState::default(),
            streams: Mutex::new(BTreeMap::new()),
        }
    }

    /// Starts listening to the server events this source's feed follows. Sources listen from
    /// creation, not from their first run, so nothing that happens meanwhile is missed.
    pub fn install_triggers(&self) {
        match self.feed {
            Feed::Streams => doorbell::install(&self.doorbell),
            Feed::Keys { .. } => changes::install(&self.changes),
            Feed::Channels => {}
        }
    }

    pub fn remove_triggers(&self) {
        doorbell::remove(&self.doorbell);
        changes::remove(&self.changes);
        self.nudge();
    }

    /// Wakes the worker without news (stop, pause).
    pub fn nudge(&self) {
        self.doorbell.nudge();
        self.changes.nudge();
    }

    pub fn set_progress(&self, stream: &[u8], progress: StreamProgress) {
        self.streams.lock().insert(stream.to_vec(), progress);
    }

    pub fn forget(&self, stream: &[u8]) {
        self.streams.lock().remove(stream);
    }

    /// The first `limit` streams with their progress, and the number of streams known.
    pub fn streams(&self, limit: usize) -> (Vec<(Vec<u8>, StreamProgress)>, usize) {
        let streams = self.streams.lock();
        let shown = streams
            .iter()
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        (shown, streams.len())
    }

    /// Total backlog over streams whose backlog is known.
    pub fn backlog(&self) -> Option<u64> {
        self.streams
            .lock()
            .values()
            .filter_map(|p| p.backlog)
            .fold(None, |sum, b| Some(sum.unwrap_or(0) + b))
    }
}
