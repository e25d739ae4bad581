//! rdkafka client settings, one builder per role: a sink's consumer, a source's producer, a
//! sink's DLQ producer and the KAFKA.PRODUCE producer. User CONFIG pairs reach only the roles
//! they mean something to, so one role's tuning never leaks into (or warns in) another.

use crate::error::Error;
use crate::kafka::log;
use crate::settings;
use crate::spec::sink::{SinkSpec, StartFrom};
use rdkafka::config::ClientConfig;

/// librdkafka's consumer-only properties (CONFIGURATION.md, C/P = C).
const CONSUMER_ONLY: &[&str] = &[
    "group.id",
    "group.instance.id",
    "partition.assignment.strategy",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "group.protocol.type",
    "group.protocol",
    "group.remote.assignor",
    "coordinator.query.interval.ms",
    "max.poll.interval.ms",
    "enable.auto.commit",
    "auto.commit.enable",
    "auto.commit.interval.ms",
    "enable.auto.offset.store",
    "queued.min.messages",
    "queued.max.messages.kbytes",
    "fetch.wait.max.ms",
    "fetch.queue.backoff.ms",
    "fetch.message.max.bytes",
    "max.partition.fetch.bytes",
    "fetch.max.bytes",
    "fetch.min.bytes",
    "fetch.error.backoff.ms",
    "offset.store.method",
    "offset.store.path",
    "offset.store.sync.interval.ms",
    "isolation.level",
    "consume_cb",
    "rebalance_cb",
    "offset_commit_cb",
    "enable.partition.eof",
    "check.crcs",
    "auto.offset.reset",
    "consume.callback.max.messages",
];

/// librdkafka's producer-only properties (C/P = P).
const PRODUCER_ONLY: &[&str] = &[
    "acks",
    "batch.num.messages",
    "batch.size",
    "compression.codec",
    "compression.level",
    "compression.type",
    "delivery.report.only.error",
    "delivery.timeout.ms",
    "dr_cb",
    "dr_msg_cb",
    "enable.gapless.guarantee",
    "enable.idempotence",
    "linger.ms",
    "message.send.max.retries",
    "message.timeout.ms",
    "msg_order_cmp",
    "partitioner",
    "partitioner_cb",
    "produce.offset.report",
    "queue.buffering.backpressure.threshold",
    "queue.buffering.max.kbytes",
    "queue.buffering.max.messages",
    "queue.buffering.max.ms",
    "queuing.strategy",
    "request.required.acks",
    "request.timeout.ms",
    "retries",
    "sticky.partitioning.linger.ms",
    "transaction.timeout.ms",
    "transactional.id",
];

/// Applies the user's pairs, except those of the other role.
fn apply_user(config: &mut ClientConfig, user: &[(String, String)], other_role: &[&str]) {
    for (property, value) in user {
        if !other_role.contains(&property.to_ascii_lowercase().as_str()) {
            config.set(property, value);
        }
    }
}

/// What every module producer shares: it moves checkpoints or offsets only past records Kafka
/// acknowledged once, in order, on every in-sync replica.
fn acknowledged_producer(brokers: &str, client_id: String) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set_log_level(log::client_log_level());
    config
        .set("bootstrap.servers", brokers)
        .set("client.id", client_id)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "1")
        .set("message.timeout.ms", "30000");
    config
}

/// A source's producer: batches for throughput, and waits longer for a broker that is away.
pub fn source_producer(bridge: &str, brokers: &str, user: &[(String, String)]) -> ClientConfig {
    let mut config = acknowledged_producer(
        brokers,
        format!("{}-{bridge}", settings::client_id_prefix()),
    );
    config
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .set("message.timeout.ms", "60000");
    apply_user(&mut config, user, CONSUMER_ONLY);
    config
}

/// A sink's DLQ producer: the sink's CONFIG minus consumer-only properties, so security and
/// connection settings reach the DLQ too.
pub fn dead_letter_producer(
    bridge: &str,
    brokers: &str,
    user: &[(String, String)],
) -> ClientConfig {
    let mut config = acknowledged_producer(
        brokers,
        format!("{}-{bridge}-dlq", settings::client_id_prefix()),
    );
    apply_user(&mut config, user, CONSUMER_ONLY);
    config
}

/// A source's admin client, which creates its topics: the source's connection settings only.
pub fn topic_admin(brokers: &str, user: &[(String, String)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set_log_level(log::client_log_level());
    config.set("bootstrap.servers", brokers);
    let neither: Vec<&str> = PRODUCER_ONLY.iter().chain(CONSUMER_ONLY).copied().collect();
    apply_user(&mut config, user, &neither);
    config
}

/// A KEYS source's reader of its own topic (to reconcile it with the dataset): it assigns
/// partitions by hand and never joins a group or commits; the user's CONFIG minus
/// producer-only properties, for security settings.
pub fn source_readback(bridge: &str, brokers: &str, user: &[(String, String)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set_log_level(log::client_log_level());
    config
        .set("bootstrap.servers", brokers)
        .set(
            "client.id",
            format!("{}-{bridge}-readback", settings::client_id_prefix()),
        )
        .set(
            "group.id",
            format!("{}-{bridge}-readback", settings::client_id_prefix()),
        )
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.min.bytes", "1")
        .set("fetch.wait.max.ms", "100");
    apply_user(&mut config, user, PRODUCER_ONLY);
    config
}

/// KAFKA.PRODUCE's pooled producers, with `kafka.produce-config` (minus consumer-only
/// properties).
/// librdkafka's verdict on KAFKA.PRODUCE's user properties (installed into settings at load).
pub fn check_produce_properties(user: &[(String, String)]) -> Result<(), Error> {
    validate(&produce_command("127.0.0.1:9092", user))
}

pub fn produce_command(brokers: &str, user: &[(String, String)]) -> ClientConfig {
    let mut config =
        acknowledged_producer(brokers, format!("{}-produce", settings::client_id_prefix()));
    apply_user(&mut config, user, CONSUMER_ONLY);
    config
}

/// A sink task's consumer. Its user CONFIG minus producer-only properties (those reach the
/// sink's DLQ producer).
pub fn sink_consumer(spec: &SinkSpec, brokers: &str, task: usize) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set_log_level(log::client_log_level());
    config
        .set("bootstrap.servers", brokers)
        .set("group.id", &spec.group)
        .set(
            "client.id",
            format!("{}-{}-{task}", settings::client_id_prefix(), spec.name),
        )
        .set(
            "auto.offset.reset",
            match spec.start {
                StartFrom::Earliest => "earliest",
                StartFrom::Latest => "latest",
            },
        )
        // Redis holds the authoritative offsets; Kafka commits only feed lag tooling.
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        // Bigger fetches: a sink drains backlogs at the broker's pace (measured with Tansu:
        // 1 MiB per partition capped a STRING sink at ~175k records/s, 8 MiB reached ~195k).
        .set("max.partition.fetch.bytes", "8388608")
        .set("fetch.wait.max.ms", "100")
        // librdkafka prefetches up to 64 MiB per consumer by default, per task: a sink with
        // many tasks would hold gigabytes while it catches up.
        .set("queued.max.messages.kbytes", "32768")
        .set("topic.metadata.refresh.interval.ms", "10000");
    apply_user(&mut config, &spec.config, PRODUCER_ONLY);
    config
}

/// librdkafka checks property names and values when building its native config; doing that at
/// CREATE turns a typo into an error reply instead of a bridge that fails later.
pub fn validate(config: &ClientConfig) -> Result<(), Error> {
    config.create_native_config().map(|_| ()).map_err(|e| {
        // librdkafka may quote a value it refuses: secrets never go back to the client.
        let mut message = e.to_string();
        for property in config.config_map().keys() {
            // config_map() masks librdkafka's own list of sensitive keys: read the real value.
            let value = config.get(property).unwrap_or_default();
            if crate::kafka::redact::is_secret(property) && !value.is_empty() {
                message = message.replace(value, "(redacted)");
            }
        }
        Error::Arg(format!("CONFIG rejected by librdkafka: {message}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::args::Args;
    use crate::spec::sink_parse::parse_sink_create;

    fn spec(line: &str) -> SinkSpec {
        let items = line
            .split_whitespace()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        parse_sink_create(Args::new(items)).unwrap()
    }

    #[test]
    fn user_properties_override_defaults_and_reach_librdkafka() {
        let s = spec("pv TOPICS t CONFIG auto.commit.interval.ms 50 CONFIG compression.codec lz4");
        let config = sink_consumer(&s, "h:1", 0);
        assert_eq!(config.get("auto.commit.interval.ms"), Some("50"));
        assert_eq!(config.get("group.id"), Some("redis-kafka-pv"));
        assert_eq!(config.get("auto.offset.reset"), Some("earliest"));
        assert!(validate(&config).is_ok());
    }

    #[test]
    fn unknown_property_is_rejected() {
        let s = spec("pv TOPICS t CONFIG no.such.property 1");
        let err = validate(&sink_consumer(&s, "h:1", 0))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no.such.property"), "{err}");
    }

    #[test]
    fn each_role_gets_only_the_user_properties_it_understands() {
        let s = spec("pv TOPICS t CONFIG fetch.min.bytes 1000 CONFIG compression.type lz4 CONFIG socket.timeout.ms 7000");
        let consumer = sink_consumer(&s, "h:1", 0);
        assert_eq!(consumer.get("fetch.min.bytes"), Some("1000"));
        assert_eq!(consumer.get("compression.type"), None);
        assert_eq!(consumer.get("socket.timeout.ms"), Some("7000"));
        let dlq = dead_letter_producer("pv", "h:1", &s.config);
        assert_eq!(dlq.get("fetch.min.bytes"), None);
        assert_eq!(dlq.get("compression.type"), Some("lz4"));
        assert_eq!(dlq.get("socket.timeout.ms"), Some("7000"));
        assert_eq!(dlq.get("client.id"), Some("redis-kafka-pv-dlq"));
        let produce = produce_command("h:1", &[]);
        assert_eq!(produce.get("compression.type"), None);
        assert_eq!(produce.get("enable.idempotence"), Some("true"));
        for config in [&consumer, &dlq, &produce] {
            assert!(validate(config).is_ok());
        }
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::*;

    #[test]
    fn refused_secret_values_are_not_echoed() {
        let mut config = ClientConfig::new();
        config.set("sasl.oauthbearer.client.secret", "hunter2-secret");
        let error = validate(&config).unwrap_err().to_string();
        assert!(!error.contains("hunter2"), "{error}");
    }
}
