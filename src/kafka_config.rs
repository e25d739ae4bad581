//! The one place that turns a bridge spec into an rdkafka `ClientConfig`.

use crate::args::{arg_error, ArgError};
use crate::settings;
use crate::spec::{SinkSpec, StartFrom};
use rdkafka::config::ClientConfig;

/// Properties the module sets from dedicated options or must own to keep offsets in Redis.
const RESERVED: [(&str, &str); 4] = [
    ("bootstrap.servers", "use BROKERS"),
    ("metadata.broker.list", "use BROKERS"),
    ("group.id", "use GROUP"),
    (
        "enable.auto.offset.store",
        "offsets are stored by the sink after each applied slice",
    ),
];

pub fn check_user_property(property: &str) -> Result<(), ArgError> {
    if property.is_empty() {
        return arg_error("CONFIG property name must not be empty");
    }
    match RESERVED.iter().find(|(name, _)| *name == property) {
        Some((name, why)) => arg_error(format!("CONFIG {name} is not allowed: {why}")),
        None => Ok(()),
    }
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
    config
        .create_native_config()
        .map(|_| ())
        .map_err(|e| ArgError(format!("CONFIG rejected by librdkafka: {e}")))
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
        assert!(check_user_property("bootstrap.servers")
            .unwrap_err()
            .0
            .contains("BROKERS"));
        assert!(check_user_property("fetch.min.bytes").is_ok());
    }
}
