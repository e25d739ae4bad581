//! One source worker thread. The stream is the log: the worker reads entries after each
//! stream's read position in bounded batches under the lock, hands them to the producer without
//! waiting, and moves each stream's checkpoint (in Redis) only past entries Kafka acknowledged,
//! in order. Doorbells from XADD notifications say which streams to look at; a SCAN at the
//! start of each run finds streams written while it was not running. Memory stays bounded: at
//! most MAX_IN_FLIGHT entries and `kafka.source-inflight-max-bytes` are read and not yet
//! acknowledged; the rest waits in the streams. An entry that cannot be mapped, or that Kafka
//! refuses for good (too large, not authorized), follows the source's ON-ERROR policy, like a
//! sink's record; outages are retried for as long as they last. On Redis Cluster it reads only
//! the streams of slots this node serves and keeps each checkpoint in its stream's slot
//! (`placement`); it searches the keyspace again whenever slots start being served here.

use crate::cluster::topology::{self, Ownership};
use crate::error::{Code, Error};
use crate::kafka::dead_letters::{DeadLetters, Letter};
use crate::lifecycle::{add, Run, State};
use crate::runtime::gil::{Gil, GilGuard};
use crate::settings;
use crate::source::begin::begin;
use crate::source::forward::{Failure, Forwarder, Sent};
use crate::source::placement::Placement;
use crate::source::record::{entry_json, map_entry, EntryRecord, ID_HEADER, STREAM_HEADER};
use crate::source::shared::{SourceShared, StreamProgress};
use crate::source::stream_io::{self, Entry, FieldBuffers, Read};
use crate::source::topics::TopicMaker;
use crate::spec::options::OnError;
use crate::spec::source::SourceSpec;
use crate::store::checkpoints;
use redis_module::{CallOptions, CallOptionsBuilder, Context, ContextFlags};

/// Headers of a source's dead letters, beside `redis.error`, `redis.stream` and `redis.id`.
pub const HEADER_SOURCE: &str = "redis.source";
pub const HEADER_TOPIC: &str = "redis.topic";
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Entries read per lock slice, over all streams.
const MAX_BATCH: usize = 2000;
/// Entries read from one stream per visit, so one busy stream does not starve the others.
const PER_STREAM: usize = 1000;
const READ_SLICE: Duration = Duration::from_millis(1);
/// Entries read but not yet acknowledged: the most a source holds in memory.
const MAX_IN_FLIGHT: usize = 50_000;
const COMMIT_EVERY: Duration = Duration::from_millis(10);
const IDLE_WAIT: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// On a cluster: how often the worker re-reads which slots this node serves when nothing else
/// did (a stream that arrives by migration or promotion rings no doorbell), and so the longest
/// it sleeps while idle.
const CLUSTER_REFRESH: Duration = Duration::from_millis(250);

pub fn run(
    spec: Arc<SourceSpec>,
    shared: Arc<SourceShared>,
    run: Arc<Run>,
    previous: Vec<JoinHandle<()>>,
) {
    let Some((gil, forwarder)) = begin(&spec, &shared, &run, previous) else {
        return;
    };
    // cluster-enabled is fixed at startup. The first view is read before the first scan, so
    // streams that scan finds are not found again as if their slots had just arrived.
    let (placement, view) = {
        let Some(guard) = gil.lock(run.flag()) else {
            return;
        };
        let cluster = guard.get_flags().contains(ContextFlags::CLUSTER);
        let view = cluster.then(topology::current).flatten();
        (Placement::new(&spec.name, cluster), view)
    };
    let topics = TopicMaker::new(
        &shared.brokers,
        &spec.config,
        spec.partitions,
        spec.replication,
    );
    let mut worker = SourceWorker {
        spec: &spec,
        shared: &shared,
        run: &run,
        gil: &gil,
        forwarder,
        record: EntryRecord::default(),
        field_buffers: FieldBuffers::default(),
        topics,
        placement,
        rescan: None,
        last_refresh: None,
        read: CallOptionsBuilder::new().errors_as_replies().build(),
        streams: HashMap::new(),
        dirty: VecDeque::new(),
        queued: HashSet::new(),
        outcomes: HashMap::default(),
        abandoned: HashSet::default(),
        next_sequence: 0,
        in_flight: 0,
        in_flight_bytes: 0,
        dead_letters: None,
        last_commit: Instant::now(),
        last_progress: Instant::now(),
        reads_paused_until: None,
        backoff: Duration::from_millis(50),
    };
    worker.placement.follow(view);
    if worker.scan_all() {
        worker.shared.life.report_state(&run, State::Running);
        worker.run_loop();
    }
}

/// Sequence numbers are distinct counters: they need no hashing beyond a multiply.
#[derive(Default)]
pub struct SequenceHasher(u64);

impl Hasher for SequenceHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 << 8 | u64::from(*byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Where the worker is in one stream.
#[derive(Default)]
struct StreamState {
    loaded: bool,
    /// Last ID acknowledged and stored in Redis.
    checkpoint: Option<String>,
    /// Last ID acknowledged, in order, and not yet stored.
    acked: Option<String>,
    /// Last ID read.
    read_position: Option<String>,
    /// Sent and not yet settled, in stream order.
    in_flight: VecDeque<InFlight>,
    /// `entries-added` of the stream at the read position, when known.
    added_at_read: Option<u64>,
    added_now: Option<u64>,
}

/// One entry sent and not settled yet.
struct InFlight {
    sequence: usize,
    id: String,
    bytes: usize,
}

/// What became of a sent entry.
enum Resolution {
    Delivered,
    /// Skipped or sent to the dead-letter topic under the ON-ERROR policy.
    Passed,
    Failed(Failure),
}

/// What stops `settle` from going on by itself.
enum Blocked {
    Nothing,
    /// ON-ERROR FAIL met a permanent failure: the run fails with this message.
    Fail(String),
    /// ON-ERROR DLQ met a permanent failure: this entry must go to the dead-letter topic.
    DeadLetter {
        stream: Vec<u8>,
        sequence: usize,
        id: String,
        error: String,
    },
}

impl StreamState {
    fn backlog(&self) -> Option<u64> {
        let unread = self.added_now?.saturating_sub(self.added_at_read?);
        Some(unread + self.in_flight.len() as u64)
    }
}

struct SourceWorker<'a> {
    spec: &'a SourceSpec,
    shared: &'a SourceShared,
    run: &'a Run,
    gil: &'a Gil,
    forwarder: Forwarder,
    /// Buffers of the record being sent, reused from entry to entry.
    record: EntryRecord,
    field_buffers: FieldBuffers,
    topics: TopicMaker,
    placement: Placement,
    /// SCAN cursor of a search for streams whose slots this node started serving.
    rescan: Option<String>,
    last_refresh: Option<Instant>,
    read: CallOptions,
    streams: HashMap<Vec<u8>, StreamState>,
    dirty: VecDeque<Vec<u8>>,
    queued: HashSet<Vec<u8>>,
    outcomes: HashMap<usize, Resolution, BuildHasherDefault<SequenceHasher>>,
    /// Sequences sent before a failure reset their stream; their reports are dropped.
    abandoned: HashSet<usize, BuildHasherDefault<SequenceHasher>>,
    next_sequence: usize,
    in_flight: usize,
    in_flight_bytes: usize,
    dead_letters: Option<DeadLetters>,
    last_commit: Instant,
    last_progress: Instant,
    reads_paused_until: Option<Instant>,
    backoff: Duration,
}

impl<'a> SourceWorker<'a> {
    fn lock(&self) -> Option<GilGuard<'a>> {
        self.gil.lock(self.run.flag())
    }

    fn mark_dirty(&mut self, stream: Vec<u8>) {
        if self.queued.insert(stream.clone()) {
            self.dirty.push_back(stream);
        }
    }

    /// Finds every existing stream that matches, a slice of SCAN per lock; false if stopped.
    fn scan_all(&mut self) -> bool {
        let mut cursor = "0".to_string();
        loop {
            let Some(guard) = self.lock() else {
                return false;
            };
            let step = stream_io::scan_streams(&guard, &self.read, &cursor, &self.spec.glob);
            drop(guard);
            match step {
                Ok(step) => {
                    add(&self.shared.counters.ignored, step.others);
                    for key in step.streams {
                        self.mark_dirty(key);
                    }
                    if step.cursor == "0" {
                        return true;
                    }
                    cursor = step.cursor;
                }
                Err(e) => {
                    self.shared.life.set_last_error(e);
                    if !self.run.sleep(Duration::from_millis(200)) {
                        return false;
                    }
                }
            }
        }
    }

    fn run_loop(&mut self) {
        loop {
            if self.run.stopping() {
                return;
            }
            crate::runtime::faults::maybe_panic_worker(&self.spec.name);
            let draining = self.run.ending();
            if draining && self.in_flight == 0 {
                self.commit();
                return;
            }
            for stream in self.shared.doorbell.take() {
                self.mark_dirty(stream);
            }
            if self.placement.is_cluster() && !self.follow_cluster() {
                return;
            }
            let may_read = !draining
                && self.in_flight < MAX_IN_FLIGHT
                && self.in_flight_bytes < settings::source_inflight_max_bytes()
                && !self.dirty.is_empty()
                && self.reads_paused_until.is_none_or(|t| Instant::now() >= t);
            if may_read && !self.read_and_send() {
                return;
            }
            let wait = if may_read || self.in_flight == 0 {
                Duration::ZERO
            } else {
                Duration::from_millis(5)
            };
            self.collect_reports(wait);
            if !self.settle() {
                return;
            }
            let acked_waiting = self.streams.values().any(|s| s.acked != s.checkpoint);
            if acked_waiting && (self.in_flight == 0 || self.last_commit.elapsed() >= COMMIT_EVERY)
            {
                self.commit();
            }
            if self.in_flight == 0 && self.dirty.is_empty() && !draining && self.rescan.is_none() {
                let idle = if self.placement.is_cluster() {
                    CLUSTER_REFRESH
                } else {
                    IDLE_WAIT
                };
                self.shared.doorbell.wait(idle);
            } else if !may_read && self.in_flight == 0 && self.rescan.is_none() {
                // Reads are paused after a failure: wait out the backoff without spinning.
                self.run.sleep(Duration::from_millis(20));
            }
        }
    }

    /// On a cluster, at each turn of the loop: re-reads the served slots when due, follows
    /// them, and takes one step of a pending search for streams; false if stopped.
    fn follow_cluster(&mut self) -> bool {
        let due = self
            .last_refresh
            .is_none_or(|t| t.elapsed() >= CLUSTER_REFRESH);
        if !due && self.rescan.is_none() {
            return true;
        }
        let Some(guard) = self.lock() else {
            return false;
        };
        if due {
            self.last_refresh = Some(Instant::now());
        }
        self.follow_view(topology::current());
        let step = self
            .rescan
            .as_ref()
            .map(|cursor| stream_io::scan_streams(&guard, &self.read, cursor, &self.spec.glob));
        drop(guard);
        match step {
            None => {}
            Some(Ok(step)) => {
                for stream in step.streams {
                    if self.placement.serves(&stream) {
                        self.mark_dirty(stream);
                    }
                }
                self.rescan = (step.cursor != "0").then_some(step.cursor);
            }
            Some(Err(e)) => {
                self.shared.life.set_last_error(e);
                return self.run.sleep(Duration::from_millis(200));
            }
        }
        true
    }

    /// Follows a view of the served slots read under the lock: forgets the streams of slots
    /// no longer served, and searches the keyspace again when slots started being served —
    /// streams that arrive by migration (RESTORE-ASKING) or with a promotion ring no doorbell.
    fn follow_view(&mut self, view: Option<Arc<Ownership>>) {
        let moved = self.placement.follow(view);
        if moved.lost {
            let lost: Vec<Vec<u8>> = self
                .streams
                .keys()
                .filter(|stream| !self.placement.serves(stream))
                .cloned()
                .collect();
            for stream in lost {
                self.forget_stream(&stream);
            }
            let (placement, queued) = (&self.placement, &mut self.queued);
            self.dirty.retain(|stream| {
                let keep = placement.serves(stream);
                if !keep {
                    queued.remove(stream);
                }
                keep
            });
        }
        if moved.gained {
            self.rescan = Some("0".to_string());
        }
    }

    /// Drops all the worker holds for a stream whose slot this node stopped serving. Its
    /// sends in flight are abandoned (their reports dropped) and what Kafka acknowledged since
    /// the last checkpoint is not checkpointed here: a checkpoint written into a slot that is
    /// migrating or gone would be a key the cluster no longer routes to, or a BUSYKEY when the
    /// reshard's MIGRATE meets it again. The slot's next owner resends from the checkpoint
    /// that moved with the stream, so the duplicates are bounded by what was sent and not
    /// checkpointed: at most MAX_IN_FLIGHT entries (and `kafka.source-inflight-max-bytes`) in
    /// flight, plus what was acknowledged in the last COMMIT_EVERY.
    fn forget_stream(&mut self, stream: &[u8]) {
        if let Some(state) = self.streams.remove(stream) {
            for entry in state.in_flight {
                self.in_flight -= 1;
                self.in_flight_bytes -= entry.bytes;
                if self.outcomes.remove(&entry.sequence).is_none() {
                    self.abandoned.insert(entry.sequence);
                }
            }
        }
        self.shared.forget(stream);
    }

    /// Takes the producer's delivery reports, dropping those of abandoned sends.
    fn collect_reports(&mut self, wait: Duration) {
        for (sequence, outcome) in self.forwarder.poll(wait) {
            if !self.abandoned.remove(&sequence) {
                let resolution = match outcome {
                    Ok(()) => Resolution::Delivered,
                    Err(failure) => Resolution::Failed(failure),
                };
                self.outcomes.insert(sequence, resolution);
            }
        }
    }

    /// Reads one slice of entries and queues them to the producer; false if stopped.
    fn read_and_send(&mut self) -> bool {
        let Some(reads) = self.read_slice() else {
            return false;
        };
        for (stream, entries) in reads {
            for entry in entries {
                if self.run.stopping() || !self.send_entry(&stream, entry) {
                    return false;
                }
            }
        }
        true
    }

    /// Maps one entry and queues it to the producer; false if stopped while librdkafka's
    /// queue was full.
    fn send_entry(&mut self, stream: &[u8], entry: Entry) -> bool {
        let sequence = self.next_sequence;
        self.next_sequence = self.next_sequence.wrapping_add(1);
        let bytes = entry.bytes();
        self.in_flight += 1;
        self.in_flight_bytes += bytes;
        let mapped = self.record.map(
            &self.spec.topic,
            &self.spec.key,
            stream,
            entry.id.as_bytes(),
            &entry.fields,
        );
        self.field_buffers.give_back(entry.fields);
        let queued = match mapped {
            Ok(()) => self.forward(stream, &entry.id, sequence),
            Err(e) => {
                // Settled by the ON-ERROR policy, in stream order, like a refused delivery.
                let failure = Failure {
                    message: e.to_string(),
                    permanent: true,
                };
                self.outcomes.insert(sequence, Resolution::Failed(failure));
                true
            }
        };
        self.record.release_large();
        if let Some(state) = self.streams.get_mut(stream) {
            state.in_flight.push_back(InFlight {
                sequence,
                id: entry.id,
                bytes,
            });
        }
        queued
    }

    /// Queues the record last mapped into `self.record`, with the stream and ID as headers.
    fn forward(&mut self, stream: &[u8], id: &str, sequence: usize) -> bool {
        let forwarder = &self.forwarder;
        if let Err(e) = self.topics.ensure(
            &self.record.topic,
            |t| forwarder.topic_exists(t),
            self.run.flag(),
        ) {
            self.shared.life.set_last_error(e);
        }
        let headers: [(&str, &[u8]); 2] = [(STREAM_HEADER, stream), (ID_HEADER, id.as_bytes())];
        loop {
            let record = &self.record;
            let sent = self.forwarder.send_parts(
                &record.topic,
                &record.key,
                Some(&record.value),
                &headers,
                sequence,
            );
            match sent {
                Sent::Queued => return true,
                Sent::Refused(failure) => {
                    self.outcomes.insert(sequence, Resolution::Failed(failure));
                    return true;
                }
                Sent::Full => {
                    if self.run.stopping() {
                        return false;
                    }
                    self.collect_reports(Duration::from_millis(5));
                }
            }
        }
    }

    /// Up to MAX_BATCH entries from dirty streams, read under one lock hold; None if stopped.
    fn read_slice(&mut self) -> Option<Vec<(Vec<u8>, Vec<Entry>)>> {
        let guard = self.lock()?;
        let flags = guard.get_flags();
        if !flags.contains(ContextFlags::MASTER) || flags.contains(ContextFlags::LOADING) {
            drop(guard);
            self.shared.life.report_state(self.run, State::Replica);
            self.run.sleep(Duration::from_millis(200));
            return Some(Vec::new());
        }
        if self.placement.is_cluster() {
            // Read under this slice's lock: a SETSLOT the main thread saw holds from here on.
            self.follow_view(topology::current());
        }
        let started = Instant::now();
        let budget = MAX_BATCH.min(MAX_IN_FLIGHT - self.in_flight);
        let mut bytes_budget =
            settings::source_inflight_max_bytes().saturating_sub(self.in_flight_bytes);
        let mut reads: Vec<(Vec<u8>, Vec<Entry>)> = Vec::new();
        let mut entries = 0;
        let streams_now = self.dirty.len();
        let mut visited = 0;
        while entries < budget
            && bytes_budget > 0
            && visited < streams_now
            && started.elapsed() < READ_SLICE
        {
            let Some(stream) = self.dirty.pop_front() else {
                break;
            };
            visited += 1;
            if !self.placement.serves(&stream) {
                // Not this node's to read now; searched for again once its slot is served.
                self.queued.remove(&stream);
                self.forget_stream(&stream);
                continue;
            }
            let want = PER_STREAM.min(budget - entries);
            match self.read_stream(&guard, &stream, want, bytes_budget) {
                Ok(read) => {
                    if read.more {
                        self.dirty.push_back(stream.clone());
                    } else {
                        self.queued.remove(&stream);
                    }
                    let read_bytes: usize = read.entries.iter().map(Entry::bytes).sum();
                    bytes_budget = bytes_budget.saturating_sub(read_bytes);
                    entries += read.entries.len();
                    if !read.entries.is_empty() {
                        reads.push((stream, read.entries));
                    }
                }
                Err(Error::Refused(refusal)) if refusal.code == Code::WrongType => {
                    add(&self.shared.counters.ignored, 1);
                    self.queued.remove(&stream);
                    if self
                        .streams
                        .get(&stream)
                        .is_none_or(|s| s.in_flight.is_empty())
                    {
                        self.streams.remove(&stream);
                        self.shared.forget(&stream);
                    }
                }
                Err(error @ Error::State(_)) => {
                    self.shared.life.fail(self.run, error);
                    return None;
                }
                Err(error) => {
                    self.shared.life.set_last_error(error);
                    self.dirty.push_back(stream);
                }
            }
        }
        Some(reads)
    }

    /// Entries after the stream's read position.
    fn read_stream(
        &mut self,
        ctx: &Context,
        stream: &[u8],
        want: usize,
        max_bytes: usize,
    ) -> Result<Read, Error> {
        let state = self.streams.entry(stream.to_vec()).or_default();
        if !state.loaded {
            let key = self.placement.checkpoint_key(stream);
            state.checkpoint = checkpoints::read(ctx, &key, stream)?;
            state.acked = state.checkpoint.clone();
            state.read_position = state.checkpoint.clone();
            state.loaded = true;
        }
        let (start, inclusive) = match &state.read_position {
            Some(id) => (id.clone(), false),
            None => self.spec.start(),
        };
        let read = stream_io::read_entries(
            ctx,
            stream,
            &start,
            inclusive,
            want,
            max_bytes,
            &mut self.field_buffers,
        )?;
        state.added_now = stream_io::entries_added(ctx, &self.read, stream);
        if !read.more {
            state.added_at_read = state.added_now;
        } else if let Some(base) = state.added_at_read.as_mut() {
            *base += read.entries.len() as u64;
        }
        if let Some(last) = read.entries.last() {
            state.read_position = Some(last.id.clone());
        }
        Ok(read)
    }

    /// Moves each stream's acknowledged position over settled entries, in order; false when
    /// the run must stop (ON-ERROR FAIL, or stopped while sending a dead letter).
    fn settle(&mut self) -> bool {
        loop {
            match self.settle_pass() {
                Blocked::Nothing => return true,
                Blocked::Fail(message) => {
                    add(&self.shared.counters.errors, 1);
                    self.commit();
                    self.shared.life.fail(self.run, message);
                    return false;
                }
                Blocked::DeadLetter {
                    stream,
                    sequence,
                    id,
                    error,
                } => {
                    if !self.send_dead_letter(&stream, &id, &error) {
                        return false;
                    }
                    let counters = &self.shared.counters;
                    add(&counters.errors, 1);
                    add(&counters.dlq, 1);
                    self.outcomes.insert(sequence, Resolution::Passed);
                }
            }
        }
    }

    /// One pass over the streams. A temporary failure resets its stream to the acknowledged
    /// position so the entries are read again; a permanent one goes to the ON-ERROR policy.
    fn settle_pass(&mut self) -> Blocked {
        let mut delivered = 0u64;
        let mut temporary = Vec::new();
        let mut blocked = Blocked::Nothing;
        'streams: for (stream, state) in self.streams.iter_mut() {
            while let Some(front) = state.in_flight.front() {
                let sequence = front.sequence;
                let Some(resolution) = self.outcomes.remove(&sequence) else {
                    break;
                };
                let was_delivered = matches!(resolution, Resolution::Delivered);
                let failure = match resolution {
                    Resolution::Delivered | Resolution::Passed => None,
                    Resolution::Failed(failure) => Some(failure),
                };
                let described = |f: &Failure, id: &str| {
                    format!("{} {id}: {}", String::from_utf8_lossy(stream), f.message)
                };
                match failure {
                    None => {}
                    Some(f) if !f.permanent => {
                        temporary.push(format!("delivering {}", described(&f, &front.id)));
                        for entry in state.in_flight.drain(..) {
                            self.in_flight -= 1;
                            self.in_flight_bytes -= entry.bytes;
                            if self.outcomes.remove(&entry.sequence).is_none() {
                                self.abandoned.insert(entry.sequence);
                            }
                        }
                        state.read_position = state.acked.clone();
                        state.added_at_read = None;
                        if self.queued.insert(stream.clone()) {
                            self.dirty.push_back(stream.clone());
                        }
                        continue 'streams;
                    }
                    Some(f) => match &self.spec.on_error {
                        OnError::Fail => {
                            blocked = Blocked::Fail(described(&f, &front.id));
                            self.outcomes.insert(sequence, Resolution::Failed(f));
                            break 'streams;
                        }
                        OnError::Skip => {
                            add(&self.shared.counters.errors, 1);
                            self.shared.note_skipped(described(&f, &front.id));
                        }
                        OnError::Dlq(_) => {
                            blocked = Blocked::DeadLetter {
                                stream: stream.clone(),
                                sequence,
                                id: front.id.clone(),
                                error: f.message.clone(),
                            };
                            self.outcomes.insert(sequence, Resolution::Failed(f));
                            break 'streams;
                        }
                    },
                }
                let Some(entry) = state.in_flight.pop_front() else {
                    break;
                };
                self.in_flight -= 1;
                self.in_flight_bytes -= entry.bytes;
                delivered += u64::from(was_delivered);
                state.acked = Some(entry.id);
            }
        }
        add(&self.shared.counters.records, delivered);
        if let Some(failure) = temporary.pop() {
            add(&self.shared.counters.errors, 1 + temporary.len() as u64);
            self.shared.life.set_last_error(failure);
            self.reads_paused_until = Some(Instant::now() + self.backoff);
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        } else if delivered > 0 {
            self.backoff = Duration::from_millis(50);
        }
        blocked
    }

    /// Sends the entry to the dead-letter topic, retrying until the broker acknowledges it;
    /// false if the run stopped first. The entry is read again from the stream: in-flight
    /// entries are not copied for the rare one that needs it.
    fn send_dead_letter(&mut self, stream: &[u8], id: &str, error: &str) -> bool {
        let OnError::Dlq(topic) = &self.spec.on_error else {
            return true;
        };
        let entry = match self.lock() {
            Some(guard) => {
                let buffers = &mut FieldBuffers::default();
                stream_io::read_entries(&guard, stream, id, true, 1, usize::MAX, buffers)
                    .ok()
                    .and_then(|read| read.entries.into_iter().next())
                    .filter(|entry| entry.id == id)
            }
            None => return false,
        };
        let mapped = entry.as_ref().map(|e| {
            map_entry(
                &self.spec.topic,
                &self.spec.key,
                stream,
                id.as_bytes(),
                &e.fields,
            )
        });
        let (key, value, intended_topic) = match (&mapped, &entry) {
            (Some(Ok(record)), _) => (
                Some(record.key.clone()),
                Some(record.value.clone()),
                Some(record.topic.clone()),
            ),
            (_, Some(entry)) => (Some(stream.to_vec()), entry_json(&entry.fields).ok(), None),
            _ => (Some(stream.to_vec()), None, None),
        };
        let mut origin = vec![
            (STREAM_HEADER, stream.to_vec()),
            (ID_HEADER, id.as_bytes().to_vec()),
            (HEADER_SOURCE, self.spec.name.as_bytes().to_vec()),
        ];
        if let Some(topic) = intended_topic {
            origin.push((HEADER_TOPIC, topic.into_bytes()));
        }
        let letter = Letter {
            key: key.as_deref(),
            value: value.as_deref(),
            error,
            origin,
        };
        let what = format!("{} {id}: {error}", String::from_utf8_lossy(stream));
        let run = self.run;
        self.shared.deliver_dead_letter(
            self.spec,
            &mut self.dead_letters,
            topic,
            &letter,
            &what,
            run,
            &mut |pause| run.sleep(pause),
        )
    }

    /// Stores acknowledged positions as checkpoints (replicated) and publishes progress.
    fn commit(&mut self) {
        self.last_commit = Instant::now();
        let mut advanced: Vec<(Vec<u8>, String)> = Vec::new();
        if self
            .streams
            .values()
            .any(|s| s.acked.is_some() && s.acked != s.checkpoint)
        {
            let Some(guard) = self.lock() else {
                return;
            };
            if crate::runtime::pause::writes_held() {
                // Redis pauses writes: the checkpoint waits for the next commit.
                return;
            }
            if self.placement.is_cluster() {
                // Checked under the lock that writes: no checkpoint for a slot not served. The
                // main thread re-reads the view every cron tick and marks a slot moving the
                // moment CLUSTER SETSLOT MIGRATING arrives.
                self.follow_view(topology::current());
            }
            advanced = self
                .streams
                .iter()
                .filter(|(_, s)| s.acked != s.checkpoint)
                .filter_map(|(stream, s)| Some((stream.clone(), s.acked.clone()?)))
                .collect();
            // One hash standalone; on a cluster, one per slot the streams are in.
            let mut by_key: BTreeMap<String, Vec<(Vec<u8>, String)>> = BTreeMap::new();
            for (stream, id) in &advanced {
                let key = self.placement.checkpoint_key(stream).into_owned();
                by_key
                    .entry(key)
                    .or_default()
                    .push((stream.clone(), id.clone()));
            }
            let mut failure = None;
            advanced.clear();
            for (key, pairs) in by_key {
                match checkpoints::write(&guard, &key, &pairs) {
                    Ok(()) => advanced.extend(pairs),
                    Err(e) => failure = Some(e),
                }
            }
            drop(guard);
            for (stream, id) in &advanced {
                if let Some(state) = self.streams.get_mut(stream) {
                    state.checkpoint = Some(id.clone());
                }
            }
            if let Some(e) = failure {
                // Delivered but not checkpointed: retried at the next commit.
                self.shared.life.set_last_error(e);
                return;
            }
        }
        let touched: HashSet<&Vec<u8>> = advanced.iter().map(|(s, _)| s).collect();
        let everything = self.last_progress.elapsed() >= Duration::from_secs(1);
        if everything {
            self.last_progress = Instant::now();
        }
        for (stream, state) in &self.streams {
            if !everything && !touched.contains(stream) {
                continue;
            }
            self.shared.set_progress(
                stream,
                StreamProgress {
                    checkpoint: state.checkpoint.clone(),
                    backlog: state.backlog(),
                },
            );
        }
    }
}
