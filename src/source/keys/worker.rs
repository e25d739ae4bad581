//! One KEYS source's worker thread. Marks from keyspace events say which keys changed; the
//! worker reads each one's current value under the lock, in slices, and produces it keyed by
//! the Redis key (a tombstone when the key is gone), so one key's records keep their order in
//! one partition. Every read happens after the change that marked it, so the last record sent
//! for a key always shows a state at least as new as its last change: coalescing may skip
//! intermediate values, never the final one.
//!
//! What memory cannot carry across a crash, a failover or a dropped mark is recovered by
//! reconciling: the worker reads its topic back, then sends every matching key whose latest
//! record differs from the dataset and a tombstone for every key the topic holds that is gone.
//! A run reconciles when it starts, unless the previous run of this process ended with
//! nothing unsettled, and whenever marks were dropped (overflow, FLUSHALL, SWAPDB, reload).

use crate::error::Error;
use crate::kafka::dead_letters::{DeadLetters, Letter};
use crate::lifecycle::{add, Run, State};
use crate::runtime::gil::{Gil, GilGuard};
use crate::runtime::text::quoted;
use crate::settings;
use crate::source::begin::{begin, max_value_bytes};
use crate::source::forward::{Failure, Forwarder, Outcome, Sent};
use crate::source::keys::readback::{self, Latest, EVENT_HEADER, TYPE_HEADER};
use crate::source::keys::value::{self, Fetched, KeyValue};
use crate::source::shared::SourceShared;
use crate::source::stream_io;
use crate::source::topics::TopicMaker;
use crate::source::worker::{HEADER_SOURCE, HEADER_TOPIC};
use crate::spec::options::OnError;
use crate::spec::source::{Feed, SourceSpec};
use crate::spec::source_template::kafka_topic_name;
use crate::store::keys::checkpoints_key;
use crate::store::keyspace::Key;
use crate::store::write::set_fields;
use redis_module::{CallOptions, CallOptionsBuilder, ContextFlags};
use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Records sent and not yet acknowledged: the most a source holds in memory, with
/// `kafka.source-inflight-max-bytes`.
const MAX_IN_FLIGHT: usize = 50_000;
const IDLE_WAIT: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Keys SCAN returns per step of a reconcile (one step per hold of the lock).
const SCAN_COUNT: &str = "100";
/// Field of the source's checkpoint hash holding the creation time of the source whose first
/// run is behind it (SNAPSHOT NO skips only that run's reconcile; a source deleted without PURGE
/// and created again is a new source).
const STARTED_FIELD: &[u8] = b"keys:started";
/// The event header of records a reconcile sends.
const SNAPSHOT_EVENT: &str = "snapshot";

pub fn run(
    spec: Arc<SourceSpec>,
    shared: Arc<SourceShared>,
    run: Arc<Run>,
    previous: Vec<JoinHandle<()>>,
) {
    let Some((gil, forwarder)) = begin(&spec, &shared, &run, previous) else {
        return;
    };
    // CREATE refuses KEYS sources on a cluster; a definition brought there another way fails.
    match gil.lock(run.flag()) {
        Some(guard) if guard.get_flags().contains(ContextFlags::CLUSTER) => {
            drop(guard);
            shared
                .life
                .fail(&run, "KEYS sources do not run on Redis Cluster yet");
            return;
        }
        Some(_) => {}
        None => return,
    }
    let mut worker = KeysWorker {
        topic: kafka_topic_name(spec.topic.source().as_bytes()),
        max_value: max_value_bytes(&spec.config),
        spec: &spec,
        shared: &shared,
        run: &run,
        gil: &gil,
        forwarder,
        read: CallOptionsBuilder::new().errors_as_replies().build(),
        in_flight: HashMap::new(),
        in_flight_bytes: 0,
        todo: Vec::new(),
        next_sequence: 0,
        dead_letters: None,
        backoff: Duration::from_millis(50),
    };
    worker.ensure_topic();
    if !worker.start() {
        worker.finish();
        return;
    }
    shared.life.report_state(&run, State::Running);
    worker.run_loop();
    worker.finish();
}

/// Whether a key's state read now differs from its latest record in the topic (`None`: no
/// record; `Some(None)`: a tombstone). A key that is gone, or of a type not carried, needs a
/// tombstone only when the topic shows it alive.
fn differs(known: Option<Option<u64>>, now: &Result<KeyValue, Error>) -> bool {
    match (known, now) {
        (Some(Some(fingerprint)), Ok(KeyValue::Present { kind, value })) => {
            readback::fingerprint(kind.as_bytes(), value) != fingerprint
        }
        (_, Ok(KeyValue::Present { .. })) => true,
        (known, Ok(KeyValue::Absent | KeyValue::Unsupported(_))) => matches!(known, Some(Some(_))),
        // A read error is dealt with when sending (ON-ERROR, or tried again).
        (_, Err(_)) => true,
    }
}

/// One key sent and not settled yet: enough to mark it again if the send fails.
struct InFlight {
    key: Vec<u8>,
    event: String,
    bytes: usize,
}

/// A key's state read under the lock, ready to send.
struct Read {
    key: Vec<u8>,
    event: String,
    value: Result<KeyValue, Error>,
}

struct KeysWorker<'a> {
    spec: &'a SourceSpec,
    shared: &'a SourceShared,
    run: &'a Run,
    gil: &'a Gil,
    topic: String,
    max_value: usize,
    forwarder: Forwarder,
    read: CallOptions,
    in_flight: HashMap<usize, InFlight>,
    in_flight_bytes: usize,
    /// Keys taken from the marks (or found by a reconcile) and not sent yet.
    todo: Vec<(Vec<u8>, String)>,
    next_sequence: usize,
    dead_letters: Option<DeadLetters>,
    backoff: Duration,
}

impl<'a> KeysWorker<'a> {
    fn lock(&self) -> Option<GilGuard<'a>> {
        self.gil.lock(self.run.flag())
    }

    fn ensure_topic(&mut self) {
        // Compacted, so the topic keeps each key's latest record (tombstones drop the key).
        let mut topics = TopicMaker::new(
            &self.shared.brokers,
            &self.spec.config,
            self.spec.partitions,
            self.spec.replication,
        )
        .with_topic_config("cleanup.policy", "compact");
        let forwarder = &self.forwarder;
        if let Err(e) = topics.ensure(&self.topic, |t| forwarder.topic_exists(t), self.run.flag()) {
            self.shared.life.set_last_error(e);
        }
    }

    /// Reconciles (or, on the first run with SNAPSHOT NO, only records that the first run
    /// happened); false when the run ended first.
    fn start(&mut self) -> bool {
        let first = match self.first_run() {
            Some(first) => first,
            None => return false,
        };
        if first && self.spec.feed == (Feed::Keys { snapshot: false }) {
            self.shared.changes.set_needs_reconcile(false);
        }
        if self.shared.changes.needs_reconcile() && !self.reconcile() {
            return false;
        }
        if first {
            return self.note_started();
        }
        true
    }

    /// Whether the checkpoint hash lacks this source's started mark; None when stopped.
    fn first_run(&self) -> Option<bool> {
        let guard = self.lock()?;
        let key = checkpoints_key(&self.spec.name);
        let hash = Key::open(&guard, key.as_bytes(), false)?;
        Some(hash.hash_get(STARTED_FIELD) != Some(self.started_mark()))
    }

    fn started_mark(&self) -> Vec<u8> {
        self.spec.created_ms.to_string().into_bytes()
    }

    fn note_started(&mut self) -> bool {
        loop {
            if let Some(guard) = self.lock() {
                if !crate::runtime::pause::writes_held() {
                    let key = checkpoints_key(&self.spec.name);
                    let mark = vec![(STARTED_FIELD.to_vec(), self.started_mark())];
                    match set_fields(&guard, &key, mark) {
                        Ok(()) => return true,
                        Err(e) => self.shared.life.set_last_error(e),
                    }
                }
            }
            // What the reconcile sent is acknowledged meanwhile, so STATUS counts it.
            if !self.settle(Duration::ZERO) || !self.sleep(Duration::from_millis(100)) {
                return false;
            }
        }
    }

    fn run_loop(&mut self) {
        loop {
            if self.run.ending() {
                return;
            }
            let changed = self.shared.changes.take();
            if changed.rescan {
                // The reconcile covers every key, marked or not.
                self.shared.changes.set_needs_reconcile(true);
                if !self.reconcile() {
                    return;
                }
                continue;
            }
            self.todo.extend(changed.keys);
            if !self.send_todo() {
                return;
            }
            if self.in_flight.is_empty() && self.shared.changes.pending() == 0 {
                self.shared.changes.wait(IDLE_WAIT);
            } else if !self.in_flight.is_empty()
                && self.shared.changes.pending() == 0
                && !self.settle(Duration::from_millis(5))
            {
                return;
            }
        }
    }

    /// Reads and sends every key in `todo`, a slice at a time; false when the run must end
    /// (what is left stays in `todo` for `finish`).
    fn send_todo(&mut self) -> bool {
        while !self.todo.is_empty() {
            if !self.wait_for_room() {
                return false;
            }
            let mut todo = std::mem::take(&mut self.todo);
            let reads = self.read_slice(&mut todo);
            self.todo = todo;
            let Some(reads) = reads else {
                return false;
            };
            if !self.send_reads(reads) {
                return false;
            }
        }
        true
    }

    /// Sends each read in turn; when one ends the run, the rest go back to `todo`.
    fn send_reads(&mut self, reads: Vec<Read>) -> bool {
        let mut reads = reads.into_iter();
        while let Some(read) = reads.next() {
            if !self.send_read(read) {
                self.todo.extend(reads.map(|r| (r.key, r.event)));
                return false;
            }
        }
        true
    }

    fn room_to_send(&self) -> bool {
        self.in_flight.len() < MAX_IN_FLIGHT
            && self.in_flight_bytes < settings::source_inflight_max_bytes()
    }

    /// Reads keys from the end of `keys` under one hold of the lock, within the slice limits,
    /// and renders their values once the lock is released.
    fn read_slice(&self, keys: &mut Vec<(Vec<u8>, String)>) -> Option<Vec<Read>> {
        let guard = self.lock()?;
        let started = Instant::now();
        let limit = Duration::from_micros(settings::SLICE_MAX_MICROS.positive() as u64);
        let mut fetched = Vec::new();
        while let Some((key, event)) = keys.pop() {
            let value = value::fetch(&guard, &self.read, &key, self.max_value);
            fetched.push((key, event, value));
            if started.elapsed() >= limit || fetched.len() >= settings::SLICE_MAX_RECORDS.positive()
            {
                break;
            }
        }
        drop(guard);
        Some(self.render(fetched))
    }

    /// Renders fetched values (outside the lock); a key of a type not carried counts as
    /// ignored each time it is met.
    fn render(&self, fetched: Vec<(Vec<u8>, String, Result<Fetched, Error>)>) -> Vec<Read> {
        fetched
            .into_iter()
            .map(|(key, event, fetched)| {
                let value = fetched.and_then(|f| f.render(&key, self.max_value));
                if matches!(value, Ok(KeyValue::Unsupported(_))) {
                    add(&self.shared.counters.ignored, 1);
                }
                Read { key, event, value }
            })
            .collect()
    }

    /// Sends one key's state; false when the run must end (stopped, or failed by ON-ERROR).
    fn send_read(&mut self, read: Read) -> bool {
        let Read { key, event, value } = read;
        let (kind, payload): (&str, Option<Vec<u8>>) = match value {
            Ok(KeyValue::Present { kind, value }) => (kind, Some(value)),
            Ok(KeyValue::Absent) => ("none", None),
            Ok(KeyValue::Unsupported(_)) => ("none", None),
            Err(Error::Record(message)) => return self.pass_over(&key, &event, None, &message),
            Err(e) => {
                // Redis could not be read (a module refused, say): try the key again later.
                self.shared.life.set_last_error(&e);
                self.shared.changes.put_back(key, event);
                let wait = self.next_backoff();
                return self.sleep(wait);
            }
        };
        self.send(key, event, kind, payload)
    }

    fn send(&mut self, key: Vec<u8>, event: String, kind: &str, value: Option<Vec<u8>>) -> bool {
        let headers: [(&str, &[u8]); 2] = [
            (TYPE_HEADER, kind.as_bytes()),
            (EVENT_HEADER, event.as_bytes()),
        ];
        loop {
            let sequence = self.next_sequence;
            let sent =
                self.forwarder
                    .send_parts(&self.topic, &key, value.as_deref(), &headers, sequence);
            match sent {
                Sent::Queued => {
                    self.next_sequence += 1;
                    let bytes = key.len() + value.as_ref().map_or(0, Vec::len);
                    self.in_flight_bytes += bytes;
                    self.in_flight
                        .insert(sequence, InFlight { key, event, bytes });
                    return true;
                }
                Sent::Full => {
                    if !self.settle(Duration::from_millis(10)) {
                        self.todo.push((key, event));
                        return false;
                    }
                }
                Sent::Refused(failure) if failure.permanent => {
                    return self.pass_over(&key, &event, value.as_deref(), &failure.message);
                }
                Sent::Refused(failure) => {
                    self.shared.life.set_last_error(&failure.message);
                    self.shared.changes.put_back(key, event);
                    let wait = self.next_backoff();
                    return self.sleep(wait);
                }
            }
        }
    }

    fn next_backoff(&mut self) -> Duration {
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        wait
    }

    /// Serves delivery reports, waiting up to `wait` for one; false when the run must end.
    fn settle(&mut self, wait: Duration) -> bool {
        let reports = self.forwarder.poll(wait);
        for (sequence, outcome) in reports {
            let Some(sent) = self.in_flight.remove(&sequence) else {
                continue;
            };
            self.in_flight_bytes -= sent.bytes;
            if !self.settled(sent, outcome) {
                return false;
            }
        }
        !self.run.stopping()
    }

    fn settled(&mut self, sent: InFlight, outcome: Outcome) -> bool {
        match outcome {
            Ok(()) => {
                add(&self.shared.counters.records, 1);
                self.backoff = Duration::from_millis(50);
                true
            }
            Err(Failure {
                message,
                permanent: true,
            }) => self.pass_over(&sent.key, &sent.event, None, &message),
            Err(Failure { message, .. }) => {
                // The broker was away too long: read the key again and send what it holds then.
                self.shared.life.set_last_error(&message);
                add(&self.shared.counters.errors, 1);
                self.shared.changes.put_back(sent.key, sent.event);
                true
            }
        }
    }

    /// A key whose value cannot go to the topic for good (too large, refused): ON-ERROR. Under
    /// FAIL the key stays marked, so the next run meets it again.
    fn pass_over(&mut self, key: &[u8], event: &str, value: Option<&[u8]>, error: &str) -> bool {
        add(&self.shared.counters.errors, 1);
        let message = format!("key {}: {error}", quoted(key));
        match &self.spec.on_error {
            OnError::Fail => {
                self.todo.push((key.to_vec(), event.to_string()));
                self.shared.life.fail(self.run, &message);
                false
            }
            OnError::Skip => {
                self.shared.note_skipped(message);
                true
            }
            OnError::Dlq(topic) => {
                let topic = topic.clone();
                if !self.send_dead_letter(&topic, key, value, error) {
                    self.todo.push((key.to_vec(), event.to_string()));
                    return false;
                }
                add(&self.shared.counters.dlq, 1);
                true
            }
        }
    }

    fn send_dead_letter(
        &mut self,
        topic: &str,
        key: &[u8],
        value: Option<&[u8]>,
        error: &str,
    ) -> bool {
        let letter = Letter {
            key: Some(key),
            value,
            error,
            origin: vec![
                (HEADER_SOURCE, self.spec.name.as_bytes().to_vec()),
                (HEADER_TOPIC, self.topic.as_bytes().to_vec()),
            ],
        };
        let what = format!("key {}: {error}", quoted(key));
        let mut producer = self.dead_letters.take();
        let delivered = self.shared.deliver_dead_letter(
            self.spec,
            &mut producer,
            topic,
            &letter,
            &what,
            self.run,
            &mut |pause| self.sleep(pause),
        );
        self.dead_letters = producer;
        delivered
    }

    /// Makes the topic's latest record per key match the dataset; false when the run ended.
    fn reconcile(&mut self) -> bool {
        // Everything sent before must be in the topic when it is read back.
        while !self.in_flight.is_empty() {
            if !self.settle(Duration::from_millis(10)) || self.run.ending() {
                return false;
            }
        }
        let Some(mut latest) = self.read_back() else {
            return false;
        };
        let mut cursor = "0".to_string();
        loop {
            let Some((next, reads)) = self.scan_step(&cursor) else {
                return false;
            };
            let stale: Vec<Read> = reads
                .into_iter()
                .filter(|read| differs(latest.remove(&read.key), &read.value))
                .collect();
            if !self.wait_for_room() || !self.send_reads(stale) {
                return false;
            }
            if next == "0" {
                break;
            }
            cursor = next;
        }
        // Keys the topic shows alive that the scan did not meet: gone, unless written since.
        // (Sent through the marks' path: a tombstone there is always sent, which is right for
        // a key the topic shows alive.)
        self.todo.extend(
            latest
                .into_iter()
                .filter(|(_, state)| state.is_some())
                .map(|(key, _)| (key, SNAPSHOT_EVENT.to_string())),
        );
        if !self.send_todo() {
            return false;
        }
        self.shared.changes.set_needs_reconcile(false);
        true
    }

    fn wait_for_room(&mut self) -> bool {
        while !self.room_to_send() {
            if !self.settle(Duration::from_millis(5)) || self.run.ending() {
                return false;
            }
        }
        self.settle(Duration::ZERO) && !self.run.ending()
    }

    /// The topic as it stands, retried while the broker does not serve it.
    fn read_back(&mut self) -> Option<Latest> {
        loop {
            match readback::read_topic(
                &self.spec.name,
                &self.shared.brokers,
                &self.spec.config,
                &self.topic,
                self.spec.glob.as_bytes(),
                self.run.flag(),
            ) {
                Ok(Some(latest)) => return Some(latest),
                Ok(None) => return None,
                Err(e) => self
                    .shared
                    .life
                    .set_last_error(format!("reconciling {} with the dataset: {e}", self.topic)),
            }
            let wait = self.next_backoff();
            if !self.sleep(wait) {
                return None;
            }
        }
    }

    /// One SCAN step and the state of the keys it returned, under one hold of the lock.
    fn scan_step(&mut self, cursor: &str) -> Option<(String, Vec<Read>)> {
        loop {
            let guard = self.lock()?;
            let step =
                stream_io::scan_matching(&guard, &self.read, cursor, &self.spec.glob, SCAN_COUNT);
            match step {
                Ok((next, keys)) => {
                    let fetched: Vec<_> = keys
                        .into_iter()
                        .filter(|key| !crate::store::keys::is_reserved(key))
                        .map(|key| {
                            let value = value::fetch(&guard, &self.read, &key, self.max_value);
                            (key, SNAPSHOT_EVENT.to_string(), value)
                        })
                        .collect();
                    drop(guard);
                    return Some((next, self.render(fetched)));
                }
                Err(e) => {
                    drop(guard);
                    self.shared.life.set_last_error(&e);
                    let wait = self.next_backoff();
                    if !self.sleep(wait) {
                        return None;
                    }
                }
            }
        }
    }

    /// At the end of a run: a pause lets what is in flight settle; whatever is still
    /// unsettled is marked again and the next run reconciles.
    fn finish(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.in_flight.is_empty() && !self.run.stopping() && Instant::now() < deadline {
            let reports = self.forwarder.poll(Duration::from_millis(10));
            for (sequence, outcome) in reports {
                if let Some(sent) = self.in_flight.remove(&sequence) {
                    self.in_flight_bytes -= sent.bytes;
                    if !self.settled(sent, outcome) {
                        break;
                    }
                }
            }
        }
        // Unsettled keys are marked again; a dropped producer purges what it still queued.
        for (key, event) in self.todo.drain(..) {
            self.shared.changes.put_back(key, event);
        }
        for (_, sent) in self.in_flight.drain() {
            self.shared.changes.put_back(sent.key, sent.event);
        }
    }

    fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        while Instant::now() < deadline {
            if self.run.ending() {
                return false;
            }
            self.shared
                .changes
                .wait(Duration::from_millis(5).min(duration));
        }
        !self.run.ending()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reconcile_sends_only_what_the_topic_has_wrong() {
        let present = |v: &[u8]| -> Result<KeyValue, Error> {
            Ok(KeyValue::Present {
                kind: "string",
                value: v.to_vec(),
            })
        };
        let fp = |v: &[u8]| Some(Some(readback::fingerprint(b"string", v)));
        assert!(!differs(fp(b"a"), &present(b"a")));
        assert!(differs(fp(b"a"), &present(b"b")));
        assert!(differs(None, &present(b"a")));
        assert!(differs(Some(None), &present(b"a")));
        assert!(differs(fp(b"a"), &Ok(KeyValue::Absent)));
        assert!(!differs(Some(None), &Ok(KeyValue::Absent)));
        assert!(!differs(None, &Ok(KeyValue::Unsupported("stream".into()))));
        assert!(differs(
            fp(b"a"),
            &Ok(KeyValue::Unsupported("stream".into()))
        ));
        assert!(differs(None, &Err(Error::Record("too large".into()))));
    }
}
