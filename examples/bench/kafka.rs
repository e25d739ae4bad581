//! Kafka side of the bench: topics, the workload producer, and the two raw-client baselines
//! (a bare rdkafka consumer and a bare rdkafka producer).

use crate::workload::Workload;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A read that makes no progress for this long fails the bench.
pub const STALL: Duration = Duration::from_secs(60);

fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("kafka admin client")
}

fn admin_options() -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)))
}

pub fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let results =
        futures_executor::block_on(admin(bootstrap).create_topics([&new_topic], &admin_options()))
            .unwrap_or_else(|e| panic!("create topic {topic}: {e}"));
    for result in results {
        result.unwrap_or_else(|(t, e)| panic!("create topic {t}: {e}"));
    }
}

/// Deletes topics to free the broker's memory; a broker that refuses only costs memory.
pub fn delete_topics(bootstrap: &str, topics: &[&str]) {
    let outcome =
        futures_executor::block_on(admin(bootstrap).delete_topics(topics, &admin_options()));
    let failures: Vec<String> = match outcome {
        Err(e) => vec![e.to_string()],
        Ok(results) => results
            .into_iter()
            .filter_map(|r| r.err().map(|(t, e)| format!("{t}: {e}")))
            .collect(),
    };
    if !failures.is_empty() {
        eprintln!(
            "[bench] note: could not delete topics ({})",
            failures.join(", ")
        );
    }
}

/// Counts failed deliveries so a lost record fails the bench instead of inflating a rate.
#[derive(Default)]
pub struct CountFailures {
    failed: AtomicUsize,
}

impl ClientContext for CountFailures {}

impl ProducerContext for CountFailures {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if result.is_err() {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The producer of the raw-produce baseline and of the workload: idempotent, acks=all,
/// linger.ms=5, as issue 7 specifies.
pub fn producer(bootstrap: &str) -> BaseProducer<CountFailures> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .create_with_context(CountFailures::default())
        .expect("kafka producer")
}

/// Sends one record, waiting for room in the local queue.
fn send(producer: &BaseProducer<CountFailures>, mut record: BaseRecord<'_, str, str>) {
    loop {
        match producer.send(record) {
            Ok(()) => return,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                producer.poll(Duration::from_millis(5));
                record = back;
            }
            Err((e, _)) => panic!("produce: {e}"),
        }
    }
}

fn flush(producer: &BaseProducer<CountFailures>, what: &str) {
    producer
        .flush(Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("flush {what}: {e}"));
    let failed = producer.context().failed.load(Ordering::Relaxed);
    assert_eq!(failed, 0, "{failed} records of {what} were not delivered");
}

/// Produces sink records 0..count to `topic` (partition by key hash) and waits for all acks.
pub fn produce_workload(bootstrap: &str, topic: &str, count: usize, workload: &Workload) {
    let producer = producer(bootstrap);
    for i in 0..count {
        let (key, value) = (workload.key(i), workload.value(i));
        send(
            &producer,
            BaseRecord::to(topic)
                .key(key.as_str())
                .payload(value.as_str()),
        );
        if i % 1000 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    flush(&producer, topic);
}

/// Raw produce baseline: `count` records shaped like the source's (key = stream name, value =
/// the entry as JSON, headers redis.stream and redis.id), from producer creation to the last ack.
pub fn raw_produce(bootstrap: &str, topic: &str, count: usize, workload: &Workload) -> Duration {
    let start = Instant::now();
    let producer = producer(bootstrap);
    let base_ms = 1_700_000_000_000u64;
    for i in 0..count {
        let stream = workload.stream(i);
        let value = workload.entry_json(i);
        let id = format!("{}-{}", base_ms + (i / 1000) as u64, i % 1000);
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "redis.stream",
                value: Some(stream.as_str()),
            })
            .insert(Header {
                key: "redis.id",
                value: Some(id.as_str()),
            });
        send(
            &producer,
            BaseRecord::to(topic)
                .key(stream.as_str())
                .payload(value.as_str())
                .headers(headers),
        );
        if i % 1000 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    flush(&producer, topic);
    start.elapsed()
}

/// Raw consume baseline: a bare BaseConsumer (new group, earliest) reads `expected` records,
/// timed from consumer creation to the last record.
pub fn raw_consume(
    bootstrap: &str,
    topic: &str,
    group: &str,
    expected: usize,
    extra: &[(String, String)],
) -> Duration {
    let start = Instant::now();
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    for (name, value) in extra {
        config.set(name, value);
    }
    let consumer: BaseConsumer = config.create().expect("kafka consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut received = 0;
    let mut last_progress = Instant::now();
    while received < expected {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(_)) => {
                received += 1;
                last_progress = Instant::now();
            }
            Some(Err(e)) => panic!("raw consume of {topic}: {e}"),
            None => assert!(
                last_progress.elapsed() < STALL,
                "raw consume stalled at {received} of {expected} records of {topic}"
            ),
        }
    }
    start.elapsed()
}
