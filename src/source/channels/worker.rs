//! One CHANNELS source's worker thread: subscribes to its own server, and produces each
//! message as it arrives, keyed by the rendered KEY (the channel by default, so one channel's
//! messages keep their publish order in one partition of an idempotent producer), with the
//! channel in the `redis.channel` header and the message bytes as they are as the value.
//!
//! At most once, by construction: nothing is stored, so what is published while the
//! subscriber is not connected (paused, stopped, reconnecting, or disconnected by Redis for
//! exceeding `client-output-buffer-limit pubsub`) is never seen. What the worker received and
//! did not deliver is counted in `dropped`: Kafka taking nothing for FULL_WAIT while the
//! in-flight limit is reached, a delivery that failed after librdkafka's own retries, messages
//! in flight when the source is stopped. Memory stays bounded: at most MAX_IN_FLIGHT messages
//! and `kafka.source-inflight-max-bytes` in flight, one socket read of events, and one message
//! being received (longer than the producer's `message.max.bytes` is dropped as it streams
//! past, and goes to ON-ERROR without its value).
//!
//! On Redis Cluster a PUBLISH reaches every node, so each primary forwards only the messages
//! whose channel name hashes (like a key, hash tags included) to a slot it serves stably;
//! during a slot's move nobody forwards its channels.

use crate::cluster::slots::key_slot;
use crate::cluster::topology::{self, Ownership};
use crate::kafka::dead_letters::{DeadLetters, Letter, HEADER_VALUE_DROPPED};
use crate::lifecycle::{add, Run, State};
use crate::runtime::gil::Gil;
use crate::runtime::subscriber_token;
use crate::runtime::text::quoted;
use crate::settings;
use crate::source::begin::{begin, max_value_bytes};
use crate::source::channels::client_name;
use crate::source::channels::endpoint::{self, Endpoint, ServerSettings};
use crate::source::channels::resp::{Event, Payload};
use crate::source::channels::subscriber::{Closed, ConnectError, Identity, Subscriber};
use crate::source::forward::{Failure, Forwarder, Outcome, Sent};
use crate::source::shared::SourceShared;
use crate::source::topics::TopicMaker;
use crate::source::worker::{SequenceHasher, HEADER_SOURCE, HEADER_TOPIC};
use crate::spec::options::OnError;
use crate::spec::source::SourceSpec;
use crate::spec::source_template::kafka_topic_name;
use redis_module::{CallOptionsBuilder, CallReply, CallResult, Context, ContextFlags};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The header naming the channel a message was published on.
pub const CHANNEL_HEADER: &str = "redis.channel";
/// Messages handed to the producer and not yet settled: the most a source holds in memory,
/// with `kafka.source-inflight-max-bytes`.
const MAX_IN_FLIGHT: usize = 50_000;
/// How long a message waits for room in flight before it is dropped. The socket is not read
/// meanwhile, so Redis buffers what is published; waiting much longer would let that buffer
/// reach `client-output-buffer-limit pubsub` and lose the connection, and everything in it.
const FULL_WAIT: Duration = Duration::from_secs(1);
const IDLE_READ: Duration = Duration::from_millis(100);
const BUSY_READ: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How long a pause (or a failure) lets the messages in flight be delivered.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the served slots are read again on a cluster.
const CLUSTER_REFRESH: Duration = Duration::from_millis(100);
/// Polls of the producer per settle: bounds the time away from the socket.
const MAX_POLLS: usize = 64;
/// Drops for a full queue are reported in `last_error` at most this often.
const DROP_REPORT_EVERY: Duration = Duration::from_secs(1);

pub fn run(
    spec: Arc<SourceSpec>,
    shared: Arc<SourceShared>,
    run: Arc<Run>,
    previous: Vec<JoinHandle<()>>,
) {
    let Some((gil, forwarder)) = begin(&spec, &shared, &run, previous) else {
        return;
    };
    let Some(token) = subscriber_token::get() else {
        shared.life.fail(
            &run,
            "CHANNELS sources cannot subscribe: the module has no subscriber token (see the server log from its load)",
        );
        return;
    };
    let cluster = match gil.lock(run.flag()) {
        Some(guard) => guard.get_flags().contains(ContextFlags::CLUSTER),
        None => return,
    };
    let topics = TopicMaker::new(
        &shared.brokers,
        &spec.config,
        spec.partitions,
        spec.replication,
    );
    let mut worker = ChannelsWorker {
        fixed_topic: spec
            .topic
            .is_literal()
            .then(|| kafka_topic_name(spec.topic.source().as_bytes()).into()),
        max_value: max_value_bytes(&spec.config),
        keep_values: matches!(spec.on_error, OnError::Dlq(_)),
        spec: &spec,
        shared: &shared,
        run: &run,
        gil: &gil,
        forwarder,
        topics,
        cluster,
        view: None,
        view_read: None,
        in_flight: HashMap::default(),
        in_flight_bytes: 0,
        next_sequence: 0,
        full_since: None,
        full_drops: 0,
        drops_reported: None,
        failed: false,
        dead_letters: None,
        backoff: Duration::from_millis(50),
        topic_buf: Vec::new(),
        key_buf: Vec::new(),
    };
    worker.run_loop(token);
    worker.finish();
}

/// One message handed to the producer and not settled yet. Key, value and topic are kept
/// only for a dead letter (ON-ERROR DLQ).
struct InFlight {
    channel: Vec<u8>,
    letter: Option<Box<LetterParts>>,
    bytes: usize,
}

struct LetterParts {
    topic: Arc<str>,
    key: Vec<u8>,
    value: Vec<u8>,
}

struct ChannelsWorker<'a> {
    spec: &'a SourceSpec,
    shared: &'a SourceShared,
    run: &'a Run,
    gil: &'a Gil,
    forwarder: Forwarder,
    topics: TopicMaker,
    /// The topic when the template has no placeholder.
    fixed_topic: Option<Arc<str>>,
    max_value: usize,
    keep_values: bool,
    cluster: bool,
    view: Option<Arc<Ownership>>,
    view_read: Option<Instant>,
    in_flight: HashMap<usize, InFlight, BuildHasherDefault<SequenceHasher>>,
    in_flight_bytes: usize,
    next_sequence: usize,
    /// Since when no message found room in flight.
    full_since: Option<Instant>,
    /// Messages dropped for a full queue and not yet reported.
    full_drops: u64,
    drops_reported: Option<Instant>,
    /// ON-ERROR FAIL met a message: the run ends.
    failed: bool,
    dead_letters: Option<DeadLetters>,
    backoff: Duration,
    topic_buf: Vec<u8>,
    key_buf: Vec<u8>,
}

impl ChannelsWorker<'_> {
    fn going_on(&self) -> bool {
        !self.failed && !self.run.stopping()
    }

    fn run_loop(&mut self, token: &str) {
        let name = client_name(&self.spec.name);
        let identity = Identity {
            token,
            client_name: &name,
            pattern: &self.spec.glob,
        };
        let mut lost: Option<String> = None;
        loop {
            if self.run.ending() {
                return;
            }
            // Without a view of the served slots every message would be passed over as
            // another primary's: subscribe once the cron tick has read one.
            if self.cluster && !self.wait_for_view() {
                return;
            }
            let Some((mut subscriber, warning)) = self.subscribe(&identity) else {
                return;
            };
            self.shared.channel.connected.store(true, Ordering::Relaxed);
            if let Some(reason) = lost.take() {
                add(&self.shared.counters.reconnects, 1);
                self.shared.life.set_last_error(format!(
                    "subscriber reconnected to {} after the connection was lost ({reason}); messages published meanwhile were not seen",
                    subscriber.endpoint
                ));
            }
            if let Some(warning) = warning {
                self.shared.life.set_last_error(warning);
            }
            self.shared.life.report_state(self.run, State::Running);
            let ended = self.pump(&mut subscriber);
            self.shared
                .channel
                .connected
                .store(false, Ordering::Relaxed);
            // Closing the socket ends the subscription at once: no client is left behind.
            drop(subscriber);
            match ended {
                Ok(()) => return,
                Err(Closed(reason)) => {
                    self.shared.life.set_last_error(format!(
                        "subscriber connection lost ({reason}; CLIENT KILL, client-output-buffer-limit pubsub or a restart?): reconnecting, messages published until then are not seen"
                    ));
                    lost = Some(reason);
                }
            }
        }
    }

    /// Connects and subscribes, retrying while the server cannot be reached; None when the
    /// run ended or failed (a server that refuses the subscriber).
    fn subscribe(&mut self, identity: &Identity<'_>) -> Option<(Subscriber, Option<String>)> {
        loop {
            if self.run.ending() {
                return None;
            }
            let endpoints = match self.endpoints()? {
                Ok(endpoints) => endpoints,
                Err(message) => {
                    self.shared.life.fail(self.run, message);
                    return None;
                }
            };
            match Subscriber::connect(&endpoints, identity, self.max_value, self.run.flag()) {
                Ok(connected) => {
                    self.backoff = Duration::from_millis(50);
                    return Some(connected);
                }
                Err(ConnectError::Stopped) => return None,
                Err(ConnectError::Refused(message)) => {
                    self.shared.life.fail(self.run, message);
                    return None;
                }
                Err(ConnectError::Unreachable(message)) => {
                    self.shared.life.set_last_error(message);
                    let wait = self.backoff;
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                    if !self.run.sleep(wait) {
                        return None;
                    }
                }
            }
        }
    }

    /// Where to connect, from the server's settings as they are now (CONFIG SET may have
    /// moved the port); None when the run ended first.
    fn endpoints(&self) -> Option<Result<Vec<Endpoint>, String>> {
        let guard = self.gil.lock(self.run.flag())?;
        let options = CallOptionsBuilder::new().errors_as_replies().build();
        let get = |name: &str| config_value(&guard, &options, name);
        let (port, bind, unixsocket) = (get("port"), get("bind"), get("unixsocket"));
        drop(guard);
        let Some(port) = port else {
            return Some(Err(
                "cannot read this server's port with CONFIG GET (is CONFIG renamed?)".to_string(),
            ));
        };
        let settings = ServerSettings {
            port,
            bind: bind.unwrap_or_default(),
            unixsocket: unixsocket.unwrap_or_default(),
        };
        Some(endpoint::endpoints(&settings))
    }

    /// Reads and forwards until the run ends (Ok) or the connection does (Err).
    fn pump(&mut self, subscriber: &mut Subscriber) -> Result<(), Closed> {
        let mut events = Vec::new();
        loop {
            crate::runtime::faults::maybe_panic_worker(&self.spec.name);
            if self.run.ending() || !self.settle(Duration::ZERO) {
                return Ok(());
            }
            let wait = if self.in_flight.is_empty() {
                IDLE_READ
            } else {
                BUSY_READ
            };
            if let Err(closed) = subscriber.read(wait, &mut events) {
                // Decoded before the stream went bad: received, and never to be sent.
                let lost = events.iter().filter(|e| matches!(e, Event::Message { .. }));
                add(&self.shared.counters.dropped, lost.count() as u64);
                return Err(closed);
            }
            if self.cluster {
                self.follow_cluster();
            }
            let mut received = std::mem::take(&mut events).into_iter();
            while let Some(event) = received.next() {
                if !self.handle(event) {
                    let lost = received
                        .filter(|e| matches!(e, Event::Message { .. }))
                        .count();
                    add(&self.shared.counters.dropped, lost as u64);
                    return Ok(());
                }
            }
            self.report_full_drops();
        }
    }

    /// The served slots, read again when due. Forwarding writes nothing to Redis, so the view
    /// need not be read under the lock: a slot whose move it has not seen yet is one that
    /// neither side serves stably (its channels are forwarded by nobody for that moment).
    fn follow_cluster(&mut self) {
        if self
            .view_read
            .is_some_and(|at| at.elapsed() < CLUSTER_REFRESH)
        {
            return;
        }
        self.view_read = Some(Instant::now());
        if let Some(view) = topology::current() {
            self.view = Some(view);
        }
    }

    /// Waits until the node's view of its slots is known; false when the run ends first.
    fn wait_for_view(&mut self) -> bool {
        loop {
            if let Some(view) = topology::current() {
                self.view = Some(view);
                self.view_read = Some(Instant::now());
                return true;
            }
            if !self.run.sleep(Duration::from_millis(20)) {
                return false;
            }
        }
    }

    /// False when the run must end.
    fn handle(&mut self, event: Event) -> bool {
        match event {
            Event::Message { channel, payload } => self.forward(channel, payload),
            Event::ChannelTooLong(len) => {
                let name = format!("<a channel name of {len} bytes>");
                self.pass_over(
                    name.as_bytes(),
                    "",
                    None,
                    None,
                    None,
                    "the channel name is longer than the producer's message.max.bytes",
                )
            }
            Event::Subscribed | Event::Pong => true,
            Event::Other(text) => {
                self.shared.life.set_last_error(format!(
                    "subscriber: unexpected reply from the server: {text}"
                ));
                true
            }
        }
    }

    fn forward(&mut self, channel: Vec<u8>, payload: Payload) -> bool {
        if self.cluster
            && !self
                .view
                .as_ref()
                .is_some_and(|view| view.serves(key_slot(&channel)))
        {
            // Another primary serves the channel's slot and forwards it.
            return true;
        }
        let topic: Arc<str> = match &self.fixed_topic {
            Some(topic) => topic.clone(),
            None => {
                self.spec
                    .topic
                    .render_channel_into(&channel, &mut self.topic_buf);
                kafka_topic_name(&self.topic_buf).into()
            }
        };
        self.spec
            .key
            .render_channel_into(&channel, &mut self.key_buf);
        let forwarder = &self.forwarder;
        if let Err(e) = self
            .topics
            .ensure(&topic, |t| forwarder.topic_exists(t), self.run.flag())
        {
            self.shared.life.set_last_error(e);
        }
        match payload {
            Payload::Bytes(value) => self.send(channel, topic, value),
            Payload::TooLong(size) => {
                let key = std::mem::take(&mut self.key_buf);
                let error = format!(
                    "a message of {size} bytes is longer than the producer's message.max.bytes"
                );
                let going_on =
                    self.pass_over(&channel, &topic, Some(&key), None, Some(size), &error);
                self.key_buf = key;
                going_on
            }
        }
    }

    fn room(&self) -> bool {
        self.in_flight.len() < MAX_IN_FLIGHT
            && self.in_flight_bytes < settings::source_inflight_max_bytes()
    }

    /// Hands one message to the producer; false when the run must end.
    fn send(&mut self, channel: Vec<u8>, topic: Arc<str>, value: Vec<u8>) -> bool {
        let bytes = channel.len() + self.key_buf.len() + value.len();
        let mut queue_full = false;
        loop {
            if (queue_full || !self.room()) && !self.wait_for_room(queue_full) {
                self.drop_for_full_queue();
                return self.going_on();
            }
            let headers: [(&str, &[u8]); 1] = [(CHANNEL_HEADER, &channel)];
            let sequence = self.next_sequence;
            let sent =
                self.forwarder
                    .send_parts(&topic, &self.key_buf, Some(&value), &headers, sequence);
            match sent {
                Sent::Queued => {
                    self.next_sequence += 1;
                    self.full_since = None;
                    self.in_flight_bytes += bytes;
                    let letter = self.keep_values.then(|| {
                        Box::new(LetterParts {
                            topic,
                            key: self.key_buf.clone(),
                            value,
                        })
                    });
                    self.in_flight.insert(
                        sequence,
                        InFlight {
                            channel,
                            letter,
                            bytes,
                        },
                    );
                    self.publish_in_flight();
                    return true;
                }
                Sent::Full => queue_full = true,
                Sent::Refused(failure) if failure.permanent => {
                    let key = std::mem::take(&mut self.key_buf);
                    let going_on = self.pass_over(
                        &channel,
                        &topic,
                        Some(&key),
                        Some(&value),
                        None,
                        &failure.message,
                    );
                    self.key_buf = key;
                    return going_on;
                }
                Sent::Refused(failure) => {
                    self.lost(&channel, &failure.message);
                    return true;
                }
            }
        }
    }

    /// Serves delivery reports until there is room for a message (or librdkafka's queue
    /// took one back), for FULL_WAIT counted from when room first ran out; false when that
    /// passed (or the run ended) without room.
    fn wait_for_room(&mut self, queue_full: bool) -> bool {
        let since = *self.full_since.get_or_insert_with(Instant::now);
        loop {
            if since.elapsed() >= FULL_WAIT || !self.going_on() {
                return false;
            }
            let before = self.in_flight.len();
            if !self.settle(Duration::from_millis(5)) {
                return false;
            }
            let progressed = self.in_flight.len() < before;
            if self.room() && (!queue_full || progressed) {
                return true;
            }
        }
    }

    fn drop_for_full_queue(&mut self) {
        add(&self.shared.counters.dropped, 1);
        self.full_drops += 1;
    }

    fn report_full_drops(&mut self) {
        if self.full_drops == 0
            || self
                .drops_reported
                .is_some_and(|at| at.elapsed() < DROP_REPORT_EVERY)
        {
            return;
        }
        self.shared.life.set_last_error(format!(
            "dropped {} messages: Kafka took none for {} ms with {} in flight (broker down or slow?)",
            self.full_drops,
            FULL_WAIT.as_millis(),
            self.in_flight.len()
        ));
        self.full_drops = 0;
        self.drops_reported = Some(Instant::now());
    }

    /// A message Kafka did not take, for a reason that is not the message's (an outage that
    /// outlasted librdkafka's retries): at most once means it is gone.
    fn lost(&mut self, channel: &[u8], error: &str) {
        add(&self.shared.counters.errors, 1);
        add(&self.shared.counters.dropped, 1);
        self.shared.life.set_last_error(format!(
            "channel {}: {error} (message dropped)",
            quoted(channel)
        ));
    }

    fn publish_in_flight(&self) {
        self.shared
            .channel
            .in_flight
            .store(self.in_flight.len() as u64, Ordering::Relaxed);
    }

    /// Serves the delivery reports that are ready, waiting up to `wait` for the first; false
    /// when the run must end.
    fn settle(&mut self, wait: Duration) -> bool {
        let mut delivered = 0;
        let mut reports = self.forwarder.poll(wait);
        // One poll serves one batch of reports; between two reads of the socket, serve all
        // that are ready, or acknowledgements lag behind the broker.
        for _ in 0..MAX_POLLS {
            if reports.is_empty() {
                break;
            }
            for (sequence, outcome) in reports {
                let Some(sent) = self.in_flight.remove(&sequence) else {
                    continue;
                };
                self.in_flight_bytes -= sent.bytes;
                delivered += u64::from(self.settled(sent, outcome));
            }
            reports = self.forwarder.poll(Duration::ZERO);
        }
        add(&self.shared.counters.records, delivered);
        self.publish_in_flight();
        self.going_on()
    }

    /// True when the message was delivered.
    fn settled(&mut self, sent: InFlight, outcome: Outcome) -> bool {
        match outcome {
            Ok(()) => true,
            Err(Failure {
                message,
                permanent: true,
            }) => {
                let letter = sent.letter.as_deref();
                self.pass_over(
                    &sent.channel,
                    letter.map_or("", |l| &l.topic),
                    letter.map(|l| l.key.as_slice()),
                    letter.map(|l| l.value.as_slice()),
                    None,
                    &message,
                );
                false
            }
            Err(Failure { message, .. }) => {
                self.lost(&sent.channel, &message);
                false
            }
        }
    }

    /// A message that cannot go to its topic for good (too large, refused): ON-ERROR. False
    /// when the run must end.
    fn pass_over(
        &mut self,
        channel: &[u8],
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        value_dropped: Option<usize>,
        error: &str,
    ) -> bool {
        if self.failed {
            add(&self.shared.counters.dropped, 1);
            return false;
        }
        add(&self.shared.counters.errors, 1);
        let message = format!("channel {}: {error}", quoted(channel));
        match &self.spec.on_error {
            OnError::Fail => {
                self.failed = true;
                self.shared.life.fail(self.run, &message);
                false
            }
            OnError::Skip => {
                self.shared.note_skipped(message);
                true
            }
            OnError::Dlq(dlq) => {
                let dlq = dlq.clone();
                let mut origin = vec![
                    (CHANNEL_HEADER, channel.to_vec()),
                    (HEADER_SOURCE, self.spec.name.as_bytes().to_vec()),
                    (HEADER_TOPIC, topic.as_bytes().to_vec()),
                ];
                if let Some(size) = value_dropped {
                    origin.push((HEADER_VALUE_DROPPED, size.to_string().into_bytes()));
                }
                let letter = Letter {
                    key: key.or(Some(channel)),
                    value,
                    error,
                    origin,
                };
                if !self.send_dead_letter(&dlq, &letter, &message) {
                    add(&self.shared.counters.dropped, 1);
                    return false;
                }
                add(&self.shared.counters.dlq, 1);
                true
            }
        }
    }

    /// Sends a dead letter, retrying until the broker acknowledges it; false if the run
    /// stopped first.
    fn send_dead_letter(&mut self, dlq: &str, letter: &Letter<'_>, message: &str) -> bool {
        let run = self.run;
        self.shared.deliver_dead_letter(
            self.spec,
            &mut self.dead_letters,
            dlq,
            letter,
            message,
            run,
            &mut |pause| run.sleep(pause),
        )
    }

    /// At the end of a run: a pause or a failure lets what is in flight be delivered for a
    /// while; whatever is still unsettled then (or at a stop) is dropped with the producer.
    fn finish(&mut self) {
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        while !self.in_flight.is_empty() && !self.run.stopping() && Instant::now() < deadline {
            self.settle(Duration::from_millis(10));
        }
        add(&self.shared.counters.dropped, self.in_flight.len() as u64);
        self.in_flight.clear();
        self.in_flight_bytes = 0;
        self.publish_in_flight();
        self.shared
            .channel
            .connected
            .store(false, Ordering::Relaxed);
    }
}

/// One setting's value as `CONFIG GET` gives it; None when it cannot be read.
fn config_value(ctx: &Context, options: &redis_module::CallOptions, name: &str) -> Option<String> {
    let reply: CallResult = ctx.call_ext("CONFIG", options, &["GET", name][..]);
    let text = |reply: Option<CallResult<'_>>| match reply {
        Some(Ok(CallReply::String(text))) => text.to_string(),
        _ => None,
    };
    match reply {
        Ok(CallReply::Array(pairs)) => text(pairs.get(1)),
        Ok(CallReply::Map(pairs)) => text(pairs.get(0).map(|(_, value)| value)),
        _ => None,
    }
}
