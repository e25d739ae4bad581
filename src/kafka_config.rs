//! The one place that turns a bridge spec into an rdkafka `ClientConfig`.

use crate::args::{arg_error, ArgError};
use crate::settings;
use crate::spec::{SinkSpec, StartFrom};
use rdkafka::config::ClientConfig;

/// Which bridge a CONFIG pair is for; each has properties it must own to keep its guarantee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A sink's consumer (its CONFIG also reaches its DLQ producer).
    Sink,
    /// A source's producer.
    Source,
}

/// Properties no bridge may set: they come from dedicated options.
const ANY_ROLE: [(&str, &str); 2] = [
    ("bootstrap.servers", "use BROKERS"),
    ("metadata.broker.list", "use BROKERS"),
];

/// A sink keeps its offsets in Redis and starts where START says.
const SINK_ONLY: [(&str, &str); 3] = [
    ("group.id", "use GROUP"),
    (
        "enable.auto.offset.store",
        "offsets are stored by the sink after each applied slice",
    ),
    ("auto.offset.reset", "use START"),
];

/// What produces (a source, a sink's DLQ) moves its checkpoint or offset only after Kafka
/// acknowledged: the producer must be idempotent, wait for all replicas, and report every
/// delivery.
const PRODUCING: [(&str, &str); 4] = [
    (
        "enable.idempotence",
        "the module moves checkpoints only past records Kafka acknowledged once and in order, which needs the idempotent producer",
    ),
    (
        "transactional.id",
        "the module's producers are idempotent, not transactional",
    ),
    (
        "delivery.report.only.error",
        "the module needs every delivery report to move its checkpoints",
    ),
    (
        "dr_msg_cb",
        "the module needs every delivery report to move its checkpoints",
    ),
];

/// Refuses a property the role must own, or a value that would break its guarantee.
pub fn check_user_property(role: Role, property: &str, value: &str) -> Result<(), ArgError> {
    if property.is_empty() {
        return arg_error("CONFIG property name must not be empty");
    }
    let lowered = property.to_ascii_lowercase();
    let sink_only: &[(&str, &str)] = if role == Role::Sink { &SINK_ONLY } else { &[] };
    let reserved = ANY_ROLE.iter().chain(sink_only).chain(PRODUCING.iter());
    if let Some((name, why)) = reserved.clone().find(|(name, _)| *name == lowered) {
        return arg_error(format!("CONFIG {name} is not allowed: {why}"));
    }
    if matches!(lowered.as_str(), "acks" | "request.required.acks")
        && !matches!(value.trim().to_ascii_lowercase().as_str(), "all" | "-1")
    {
        return arg_error(format!(
            "CONFIG {lowered} must be all (or -1): the module moves checkpoints only past records every in-sync replica holds"
        ));
    }
    Ok(())
}

pub fn sink_consumer_config(spec: &SinkSpec, brokers: &str, task: usize) -> ClientConfig {
    let mut config = ClientConfig::new();
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
    for (property, value) in &spec.config {
        config.set(property, value);
    }
    config
}

pub fn producer_config(brokers: &str, extra: &[(String, String)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set(
            "client.id",
            format!("{}-produce", settings::client_id_prefix()),
        )
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "1")
        .set("message.timeout.ms", "30000");
    for (property, value) in extra {
        config.set(property, value);
    }
    config
}

/// librdkafka checks property names and values when building its native config; doing that at
/// CREATE turns a typo into an error reply instead of a bridge that fails later.
pub fn validate(config: &ClientConfig) -> Result<(), ArgError> {
    config.create_native_config().map(|_| ()).map_err(|e| {
        // librdkafka may quote a value it refuses: secrets never go back to the client.
        let mut message = e.to_string();
        for property in config.config_map().keys() {
            // config_map() masks librdkafka's own list of sensitive keys: read the real value.
            let value = config.get(property).unwrap_or_default();
            if crate::redact::is_secret(property) && !value.is_empty() {
                message = message.replace(value, "(redacted)");
            }
        }
        ArgError(format!("CONFIG rejected by librdkafka: {message}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Args;
    use crate::sink_parse::parse_sink_create;

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
        let config = sink_consumer_config(&s, "h:1", 0);
        assert_eq!(config.get("auto.commit.interval.ms"), Some("50"));
        assert_eq!(config.get("group.id"), Some("redis-kafka-pv"));
        assert_eq!(config.get("auto.offset.reset"), Some("earliest"));
        assert!(validate(&config).is_ok());
    }

    #[test]
    fn unknown_property_is_rejected() {
        let s = spec("pv TOPICS t CONFIG no.such.property 1");
        let err = validate(&sink_consumer_config(&s, "h:1", 0)).unwrap_err().0;
        assert!(err.contains("no.such.property"), "{err}");
    }

    #[test]
    fn reserved_properties_point_to_the_option() {
        assert!(check_user_property(Role::Sink, "bootstrap.servers", "h:1")
            .unwrap_err()
            .0
            .contains("BROKERS"));
        assert!(check_user_property(Role::Sink, "fetch.min.bytes", "1").is_ok());
        assert!(
            check_user_property(Role::Sink, "auto.offset.reset", "latest")
                .unwrap_err()
                .0
                .contains("START")
        );
        assert!(check_user_property(Role::Source, "group.id", "g").is_ok());
    }

    #[test]
    fn producing_roles_keep_acknowledged_delivery() {
        for role in [Role::Sink, Role::Source] {
            for (property, value) in [
                ("enable.idempotence", "false"),
                ("Enable.Idempotence", "true"),
                ("acks", "0"),
                ("acks", "1"),
                ("request.required.acks", "1"),
                ("transactional.id", "t"),
                ("delivery.report.only.error", "true"),
            ] {
                assert!(
                    check_user_property(role, property, value).is_err(),
                    "{role:?} {property} {value}"
                );
            }
            assert!(check_user_property(role, "acks", "all").is_ok());
            assert!(check_user_property(role, "acks", "-1").is_ok());
            assert!(check_user_property(role, "compression.type", "lz4").is_ok());
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
        let error = validate(&config).unwrap_err().0;
        assert!(!error.contains("hunter2"), "{error}");
    }
}
