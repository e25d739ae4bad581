//! One source worker thread. The stream is the log: the worker reads entries after each
//! stream's checkpoint in bounded batches under the lock, produces them outside it, and moves
//! the checkpoint (in Redis) only past entries Kafka acknowledged. Doorbells from XADD
//! notifications tell it which streams to look at; a SCAN at the start of each run finds
//! streams written while it was not running.

use crate::bridge::{add, Run, State};
use crate::gil::{Gil, GilGuard};
use crate::source::forward::Forwarder;
use crate::source::shared::{SourceShared, StreamProgress};
use crate::source::stream_io::{self, Entry, ReadError};
use crate::source::topics::TopicMaker;
use crate::source_record::{map_entry, OutRecord};
use crate::source_spec::SourceSpec;
use redis_module::{CallOptions, CallOptionsBuilder, ContextFlags};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Entries read per batch, over all streams: the most a source holds in memory.
const MAX_BATCH: usize = 2000;
/// Entries read from one stream per visit, so one busy stream does not starve the others.
const PER_STREAM: usize = 500;
const READ_SLICE: Duration = Duration::from_millis(1);
const IDLE_WAIT: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

pub fn run(
    spec: Arc<SourceSpec>,
    shared: Arc<SourceShared>,
    run: Arc<Run>,
    previous: Vec<JoinHandle<()>>,
) {
    // One run at a time per source: a paused run may still be checkpointing its last batch.
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
        cursors: HashMap::new(),
        dirty: VecDeque::new(),
        queued: HashSet::new(),
    };
    if worker.scan_all() {
        worker.shared.life.report_state(&run, State::Running);
        worker.run_loop();
    }
}

/// Where the worker is in one stream.
#[derive(Default, Clone)]
struct Cursor {
    /// Last forwarded ID; None until read from Redis.
    checkpoint: Option<String>,
    loaded: bool,
    /// `entries-added` of the stream minus the entries after the checkpoint, when known.
    added_at_checkpoint: Option<u64>,
    added_now: Option<u64>,
}

struct Batch {
    /// None for an entry that could not be mapped (reported, then passed over).
    records: Vec<Option<OutRecord>>,
    /// (stream, entry ID) per record, in the same order.
    origins: Vec<(Vec<u8>, String)>,
    /// Streams that were read to their end in this batch, with `entries-added` at that time.
    caught_up: HashMap<Vec<u8>, u64>,
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
    cursors: HashMap<Vec<u8>, Cursor>,
    dirty: VecDeque<Vec<u8>>,
    queued: HashSet<Vec<u8>>,
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
        let mut backoff = Duration::from_millis(50);
        while !self.run.ending() {
            for stream in self.shared.doorbell.take() {
                self.mark_dirty(stream);
            }
            if self.dirty.is_empty() {
                self.shared.doorbell.wait(IDLE_WAIT);
                continue;
            }
            let Some(batch) = self.read_batch() else {
                return;
            };
            if batch.records.is_empty() && batch.caught_up.is_empty() {
                continue;
            }
            match self.forward(batch) {
                Some(true) => backoff = Duration::from_millis(50),
                Some(false) => {
                    if !self.sleep(backoff) {
                        return;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                None => return,
            }
        }
    }

    /// Reads up to MAX_BATCH entries from dirty streams in one lock slice; None if stopped.
    fn read_batch(&mut self) -> Option<Batch> {
        let guard = self.lock()?;
        let flags = guard.get_flags();
        if !flags.contains(ContextFlags::MASTER) || flags.contains(ContextFlags::LOADING) {
            drop(guard);
            self.shared.life.report_state(self.run, State::Replica);
            self.sleep(Duration::from_millis(200));
            return Some(Batch {
                records: Vec::new(),
                origins: Vec::new(),
                caught_up: HashMap::new(),
            });
        }
        let started = Instant::now();
        let mut entries: Vec<(Vec<u8>, Entry)> = Vec::new();
        let mut caught_up = HashMap::new();
        let mut visited = 0;
        let streams_now = self.dirty.len();
        while entries.len() < MAX_BATCH && visited < streams_now && started.elapsed() < READ_SLICE {
            let Some(stream) = self.dirty.pop_front() else {
                break;
            };
            visited += 1;
            let want = PER_STREAM.min(MAX_BATCH - entries.len());
            match self.read_stream(&guard, &stream, want) {
                Ok((read, added)) => {
                    let full = read.len() == want;
                    entries.extend(read.into_iter().map(|e| (stream.clone(), e)));
                    if full {
                        self.dirty.push_back(stream);
                    } else {
                        self.queued.remove(&stream);
                        if let Some(added) = added {
                            caught_up.insert(stream, added);
                        }
                    }
                }
                Err(ReadError::WrongType) => {
                    add(&self.shared.counters.ignored, 1);
                    self.queued.remove(&stream);
                    self.cursors.remove(&stream);
                    self.shared.forget(&stream);
                }
                Err(ReadError::Other(e)) => {
                    self.shared.life.set_last_error(e);
                    self.dirty.push_back(stream);
                }
            }
        }
        drop(guard);
        let mut batch = Batch {
            records: Vec::with_capacity(entries.len()),
            origins: Vec::with_capacity(entries.len()),
            caught_up,
        };
        for (stream, entry) in entries {
            match map_entry(
                &self.spec.topic,
                &self.spec.key,
                &stream,
                entry.id.as_bytes(),
                &entry.fields,
            ) {
                Ok(record) => {
                    batch.records.push(Some(record));
                    batch.origins.push((stream, entry.id));
                }
                Err(e) => {
                    // An entry that cannot be mapped would block its stream forever: count it,
                    // report it, and let the checkpoint pass it with the next delivered entry.
                    add(&self.shared.counters.errors, 1);
                    self.shared.life.set_last_error(format!(
                        "{} {}: {e}",
                        String::from_utf8_lossy(&stream),
                        entry.id
                    ));
                    batch.records.push(None);
                    batch.origins.push((stream, entry.id));
                }
            }
        }
        Some(batch)
    }

    /// Entries after the stream's checkpoint, and the stream's `entries-added` when the read
    /// reached its end.
    fn read_stream(
        &mut self,
        ctx: &redis_module::Context,
        stream: &[u8],
        want: usize,
    ) -> Result<(Vec<Entry>, Option<u64>), ReadError> {
        let cursor = self.cursors.entry(stream.to_vec()).or_default();
        if !cursor.loaded {
            cursor.checkpoint =
                stream_io::read_checkpoint(ctx, &self.read, &self.checkpoints_key, stream)
                    .map_err(ReadError::Other)?;
            cursor.loaded = true;
        }
        let (start, inclusive) = match &cursor.checkpoint {
            Some(id) => (id.clone(), false),
            None => self.spec.start(),
        };
        let entries = stream_io::read_entries(ctx, &self.read, stream, &start, inclusive, want)?;
        let added = stream_io::entries_added(ctx, &self.read, stream);
        cursor.added_now = added;
        let reached_end = entries.len() < want;
        Ok((entries, added.filter(|_| reached_end)))
    }

    /// Produces the batch and checkpoints what Kafka acknowledged. Some(false) asks for a
    /// backoff (a delivery failed); None means the run was stopped.
    fn forward(&mut self, batch: Batch) -> Option<bool> {
        for record in batch.records.iter().flatten() {
            if let Err(e) = self.topics.ensure(&record.topic) {
                self.shared.life.set_last_error(e);
            }
        }
        let outcomes = self.forwarder.send_all(&batch.records, self.run);
        if self.run.stopping() {
            return None;
        }
        // Per stream: the last ID of the acknowledged prefix.
        let mut advanced: Vec<(Vec<u8>, String)> = Vec::new();
        let mut blocked: HashSet<&[u8]> = HashSet::new();
        let mut delivered = 0u64;
        let mut failure = None;
        for ((record, (stream, id)), outcome) in
            batch.records.iter().zip(&batch.origins).zip(outcomes)
        {
            if blocked.contains(stream.as_slice()) {
                continue;
            }
            match (record, outcome) {
                (None, _) => {}
                (Some(_), Some(Ok(()))) => delivered += 1,
                (Some(record), outcome) => {
                    blocked.insert(stream);
                    if let Some(Err(e)) = outcome {
                        failure = Some(format!(
                            "delivering {} {id} to {}: {e}",
                            String::from_utf8_lossy(stream),
                            record.topic
                        ));
                    }
                    continue;
                }
            }
            match advanced.iter_mut().find(|(s, _)| s == stream) {
                Some(entry) => entry.1 = id.clone(),
                None => advanced.push((stream.clone(), id.clone())),
            }
        }
        let committed = self.commit(&advanced)?;
        if committed {
            add(&self.shared.counters.records, delivered);
            self.update_progress(&batch, &advanced, &blocked);
        }
        for stream in blocked {
            self.mark_dirty(stream.to_vec());
        }
        if let Some(failure) = failure {
            add(&self.shared.counters.errors, 1);
            self.shared.life.set_last_error(failure);
            return Some(false);
        }
        Some(committed)
    }

    /// Writes the new checkpoints (replicated). None if the run was stopped.
    fn commit(&mut self, advanced: &[(Vec<u8>, String)]) -> Option<bool> {
        if advanced.is_empty() {
            return Some(true);
        }
        let guard = self.lock()?;
        let result =
            stream_io::write_checkpoints(&guard, &self.write, &self.checkpoints_key, advanced);
        drop(guard);
        match result {
            Ok(()) => {
                for (stream, id) in advanced {
                    let cursor = self.cursors.entry(stream.clone()).or_default();
                    cursor.checkpoint = Some(id.clone());
                    cursor.loaded = true;
                }
                Some(true)
            }
            Err(e) => {
                // The entries were delivered but the checkpoint did not move: they will be sent
                // again, which the idempotent producer cannot prevent across batches.
                self.shared.life.set_last_error(e);
                for (stream, _) in advanced {
                    self.mark_dirty(stream.clone());
                }
                Some(false)
            }
        }
    }

    fn update_progress(
        &mut self,
        batch: &Batch,
        advanced: &[(Vec<u8>, String)],
        blocked: &HashSet<&[u8]>,
    ) {
        let mut forwarded: HashMap<&[u8], u64> = HashMap::new();
        for (stream, _) in &batch.origins {
            if !blocked.contains(stream.as_slice()) {
                *forwarded.entry(stream.as_slice()).or_default() += 1;
            }
        }
        let touched: HashSet<&Vec<u8>> = advanced
            .iter()
            .map(|(s, _)| s)
            .chain(batch.caught_up.keys())
            .collect();
        for stream in touched {
            let Some(cursor) = self.cursors.get_mut(stream) else {
                continue;
            };
            if let (Some(added), false) = (
                batch.caught_up.get(stream),
                blocked.contains(stream.as_slice()),
            ) {
                cursor.added_at_checkpoint = Some(*added);
            } else if let Some(base) = cursor.added_at_checkpoint.as_mut() {
                *base += forwarded.get(stream.as_slice()).copied().unwrap_or(0);
            }
            let backlog = match (cursor.added_now, cursor.added_at_checkpoint) {
                (Some(now), Some(base)) => Some(now.saturating_sub(base)),
                _ => None,
            };
            self.shared.set_progress(
                stream,
                StreamProgress {
                    checkpoint: cursor.checkpoint.clone(),
                    backlog,
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
