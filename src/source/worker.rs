//! One source worker thread. The stream is the log: the worker reads entries after each
//! stream's read position in bounded batches under the lock, hands them to the producer without
//! waiting, and moves each stream's checkpoint (in Redis) only past entries Kafka acknowledged,
//! in order. Doorbells from XADD notifications say which streams to look at; a SCAN at the
//! start of each run finds streams written while it was not running. Memory stays bounded: at
//! most MAX_IN_FLIGHT entries are read and not yet acknowledged; the rest waits in the streams.

use crate::bridge::{add, Run, State};
use crate::gil::{Gil, GilGuard};
use crate::source::forward::{Forwarder, Outcome, Sent};
use crate::source::shared::{SourceShared, StreamProgress};
use crate::source::stream_io::{self, Entry, ReadError};
use crate::source::topics::TopicMaker;
use crate::source_record::map_entry;
use crate::source_spec::SourceSpec;
use redis_module::{CallOptions, CallOptionsBuilder, Context, ContextFlags};
use std::collections::{HashMap, HashSet, VecDeque};
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

pub fn run(
    spec: Arc<SourceSpec>,
    shared: Arc<SourceShared>,
    run: Arc<Run>,
    previous: Vec<JoinHandle<()>>,
) {
    // One run at a time per source: a paused run may still be checkpointing what it sent.
    for handle in previous {
        let _ = handle.join();
    }
    if run.ending() {
        return;
    }
    let Some(gil) = Gil::new() else {
        shared
            .life
            .fail(&run, "cannot get a thread-safe Redis context".to_string());
        return;
    };
    let reporter = shared.clone();
    let on_error = Arc::new(move |message: String| reporter.life.set_last_error(message));
    let forwarder = match Forwarder::new(&spec.name, &shared.brokers, &spec.config, on_error) {
        Ok(forwarder) => forwarder,
        Err(e) => {
            shared.life.fail(&run, e);
            return;
        }
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
        topics,
        checkpoints_key: stream_io::checkpoints_key(&spec.name),
        read: CallOptionsBuilder::new().errors_as_replies().build(),
        write: CallOptionsBuilder::new()
            .replicate()
            .errors_as_replies()
            .build(),
        streams: HashMap::new(),
        dirty: VecDeque::new(),
        queued: HashSet::new(),
        outcomes: HashMap::default(),
        abandoned: HashSet::default(),
        next_sequence: 0,
        in_flight: 0,
        last_commit: Instant::now(),
        last_progress: Instant::now(),
        reads_paused_until: None,
        backoff: Duration::from_millis(50),
    };
    if worker.scan_all() {
        worker.shared.life.report_state(&run, State::Running);
        worker.run_loop();
    }
}

/// Sequence numbers are distinct counters: they need no hashing beyond a multiply.
#[derive(Default)]
struct SequenceHasher(u64);

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
    in_flight: VecDeque<(usize, String)>,
    /// `entries-added` of the stream at the read position, when known.
    added_at_read: Option<u64>,
    added_now: Option<u64>,
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
    topics: TopicMaker,
    checkpoints_key: String,
    read: CallOptions,
    write: CallOptions,
    streams: HashMap<Vec<u8>, StreamState>,
    dirty: VecDeque<Vec<u8>>,
    queued: HashSet<Vec<u8>>,
    outcomes: HashMap<usize, Outcome, BuildHasherDefault<SequenceHasher>>,
    /// Sequences sent before a failure reset their stream; their reports are dropped.
    abandoned: HashSet<usize, BuildHasherDefault<SequenceHasher>>,
    next_sequence: usize,
    in_flight: usize,
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
            let step = stream_io::scan_streams(&guard, &self.read, &cursor, &self.spec.streams);
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
                    if !self.sleep(Duration::from_millis(200)) {
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
            let draining = self.run.ending();
            if draining && self.in_flight == 0 {
                self.commit();
                return;
            }
            for stream in self.shared.doorbell.take() {
                self.mark_dirty(stream);
            }
            let may_read = !draining
                && self.in_flight < MAX_IN_FLIGHT
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
            self.settle();
            let acked_waiting = self.streams.values().any(|s| s.acked != s.checkpoint);
            if acked_waiting && (self.in_flight == 0 || self.last_commit.elapsed() >= COMMIT_EVERY)
            {
                self.commit();
            }
            if self.in_flight == 0 && self.dirty.is_empty() && !draining {
                self.shared.doorbell.wait(IDLE_WAIT);
            } else if !may_read && self.in_flight == 0 {
                // Reads are paused after a failure: wait out the backoff without spinning.
                self.sleep(Duration::from_millis(20));
            }
        }
    }

    /// Takes the producer's delivery reports, dropping those of abandoned sends.
    fn collect_reports(&mut self, wait: Duration) {
        for (sequence, outcome) in self.forwarder.poll(wait) {
            if !self.abandoned.remove(&sequence) {
                self.outcomes.insert(sequence, outcome);
            }
        }
    }

    /// Reads one slice of entries and queues them to the producer; false if stopped.
    fn read_and_send(&mut self) -> bool {
        let Some(entries) = self.read_slice() else {
            return false;
        };
        for (stream, entry) in entries {
            let sequence = self.next_sequence;
            self.next_sequence = self.next_sequence.wrapping_add(1);
            self.in_flight += 1;
            let mapped = map_entry(
                &self.spec.topic,
                &self.spec.key,
                &stream,
                entry.id.as_bytes(),
                &entry.fields,
            );
            if let Err(e) = &mapped {
                // An entry that cannot be mapped would block its stream forever: count it,
                // report it, and let the checkpoint pass it.
                add(&self.shared.counters.errors, 1);
                self.shared.life.set_last_error(format!(
                    "{} {}: {e}",
                    String::from_utf8_lossy(&stream),
                    entry.id
                ));
                self.outcomes.insert(sequence, Ok(()));
            }
            if let Some(state) = self.streams.get_mut(&stream) {
                state.in_flight.push_back((sequence, entry.id));
            }
            let Ok(record) = mapped else {
                continue;
            };
            let forwarder = &self.forwarder;
            if let Err(e) = self
                .topics
                .ensure(&record.topic, |t| forwarder.topic_exists(t))
            {
                self.shared.life.set_last_error(e);
            }
            loop {
                match self.forwarder.send(&record, sequence) {
                    Sent::Queued => break,
                    Sent::Refused(e) => {
                        self.outcomes.insert(sequence, Err(e));
                        break;
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
        true
    }

    /// Up to MAX_BATCH entries from dirty streams, read under one lock hold; None if stopped.
    fn read_slice(&mut self) -> Option<Vec<(Vec<u8>, Entry)>> {
        let guard = self.lock()?;
        let flags = guard.get_flags();
        if !flags.contains(ContextFlags::MASTER) || flags.contains(ContextFlags::LOADING) {
            drop(guard);
            self.shared.life.report_state(self.run, State::Replica);
            self.sleep(Duration::from_millis(200));
            return Some(Vec::new());
        }
        let started = Instant::now();
        let budget = MAX_BATCH.min(MAX_IN_FLIGHT - self.in_flight);
        let mut entries: Vec<(Vec<u8>, Entry)> = Vec::new();
        let streams_now = self.dirty.len();
        let mut visited = 0;
        while entries.len() < budget && visited < streams_now && started.elapsed() < READ_SLICE {
            let Some(stream) = self.dirty.pop_front() else {
                break;
            };
            visited += 1;
            let want = PER_STREAM.min(budget - entries.len());
            match self.read_stream(&guard, &stream, want) {
                Ok(read) => {
                    if read.len() == want {
                        self.dirty.push_back(stream.clone());
                    } else {
                        self.queued.remove(&stream);
                    }
                    entries.extend(read.into_iter().map(|e| (stream.clone(), e)));
                }
                Err(ReadError::WrongType) => {
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
                Err(ReadError::Other(e)) => {
                    self.shared.life.set_last_error(e);
                    self.dirty.push_back(stream);
                }
            }
        }
        Some(entries)
    }

    /// Entries after the stream's read position.
    fn read_stream(
        &mut self,
        ctx: &Context,
        stream: &[u8],
        want: usize,
    ) -> Result<Vec<Entry>, ReadError> {
        let state = self.streams.entry(stream.to_vec()).or_default();
        if !state.loaded {
            state.checkpoint =
                stream_io::read_checkpoint(ctx, &self.read, &self.checkpoints_key, stream)
                    .map_err(ReadError::Other)?;
            state.acked = state.checkpoint.clone();
            state.read_position = state.checkpoint.clone();
            state.loaded = true;
        }
        let (start, inclusive) = match &state.read_position {
            Some(id) => (id.clone(), false),
            None => self.spec.start(),
        };
        let entries = stream_io::read_entries(ctx, stream, &start, inclusive, want)?;
        state.added_now = stream_io::entries_added(ctx, &self.read, stream);
        if entries.len() < want {
            state.added_at_read = state.added_now;
        } else if let Some(base) = state.added_at_read.as_mut() {
            *base += entries.len() as u64;
        }
        if let Some(last) = entries.last() {
            state.read_position = Some(last.id.clone());
        }
        Ok(entries)
    }

    /// Moves each stream's acknowledged position over settled deliveries, in order. A failed
    /// delivery resets its stream to the acknowledged position so the entries are read again.
    fn settle(&mut self) {
        let mut delivered = 0u64;
        let mut failures = Vec::new();
        for (stream, state) in self.streams.iter_mut() {
            while let Some((sequence, _)) = state.in_flight.front() {
                let Some(outcome) = self.outcomes.remove(sequence) else {
                    break;
                };
                let Some((_, id)) = state.in_flight.pop_front() else {
                    break;
                };
                self.in_flight -= 1;
                match outcome {
                    Ok(()) => {
                        delivered += 1;
                        state.acked = Some(id);
                    }
                    Err(e) => {
                        failures.push(format!(
                            "delivering {} {id}: {e}",
                            String::from_utf8_lossy(stream)
                        ));
                        for (sequence, _) in state.in_flight.drain(..) {
                            self.in_flight -= 1;
                            if self.outcomes.remove(&sequence).is_none() {
                                self.abandoned.insert(sequence);
                            }
                        }
                        state.read_position = state.acked.clone();
                        state.added_at_read = None;
                        if self.queued.insert(stream.clone()) {
                            self.dirty.push_back(stream.clone());
                        }
                        break;
                    }
                }
            }
        }
        add(&self.shared.counters.records, delivered);
        if let Some(failure) = failures.pop() {
            add(&self.shared.counters.errors, 1 + failures.len() as u64);
            self.shared.life.set_last_error(failure);
            self.reads_paused_until = Some(Instant::now() + self.backoff);
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        } else if delivered > 0 {
            self.backoff = Duration::from_millis(50);
        }
    }

    /// Stores acknowledged positions as checkpoints (replicated) and publishes progress.
    fn commit(&mut self) {
        self.last_commit = Instant::now();
        let advanced: Vec<(Vec<u8>, String)> = self
            .streams
            .iter()
            .filter(|(_, s)| s.acked != s.checkpoint)
            .filter_map(|(stream, s)| Some((stream.clone(), s.acked.clone()?)))
            .collect();
        if !advanced.is_empty() {
            let Some(guard) = self.lock() else {
                return;
            };
            let result =
                stream_io::write_checkpoints(&guard, &self.write, &self.checkpoints_key, &advanced);
            drop(guard);
            if let Err(e) = result {
                // Delivered but not checkpointed: retried at the next commit.
                self.shared.life.set_last_error(e);
                return;
            }
            for (stream, id) in &advanced {
                if let Some(state) = self.streams.get_mut(stream) {
                    state.checkpoint = Some(id.clone());
                }
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

    /// Sleeps in short steps; false if the run is ending.
    fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        while Instant::now() < deadline {
            if self.run.ending() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5).min(duration));
        }
        !self.run.ending()
    }
}
