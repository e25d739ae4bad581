//! Parses `KAFKA.SINK.CREATE` arguments into a [`SinkSpec`].

use crate::args::{arg_error, check_kafka_name, set_once, ArgError, Args};
use crate::kafka_config::check_user_property;
use crate::spec::{SinkSpec, SinkType, StartFrom};
use crate::template::Template;

pub fn parse_sink_create(mut args: Args) -> Result<SinkSpec, ArgError> {
    let name = args.next_str("sink name")?;
    check_kafka_name("sink name", &name, 200)?;
    let mut topics: Option<Vec<String>> = None;
    let mut brokers = None;
    let mut group = None;
    let mut start = None;
    let mut sink_type = None;
    let mut key = None;
    let mut config = Vec::new();
    while let Some(option) = args.next_keyword() {
        match option.as_str() {
            "TOPICS" => {
                let list = args.next_str("value for TOPICS")?;
                let parsed = parse_list(&list);
                for topic in &parsed {
                    check_kafka_name("topic", topic, 249)?;
                }
                if parsed.is_empty() {
                    return arg_error("TOPICS needs at least one topic");
                }
                set_once(&mut topics, parsed, "TOPICS")?;
            }
            "BROKERS" => {
                let list = args.next_str("value for BROKERS")?;
                set_once(&mut brokers, parse_brokers(&list)?, "BROKERS")?;
            }
            "GROUP" => {
                let id = args.next_str("value for GROUP")?;
                if id.is_empty() {
                    return arg_error("GROUP must not be empty");
                }
                set_once(&mut group, id, "GROUP")?;
            }
            "START" => {
                let word = args.next_str("value for START")?;
                let from = match word.to_ascii_uppercase().as_str() {
                    "EARLIEST" => StartFrom::Earliest,
                    "LATEST" => StartFrom::Latest,
                    _ => {
                        return arg_error(format!("START must be EARLIEST or LATEST, got '{word}'"))
                    }
                };
                set_once(&mut start, from, "START")?;
            }
            "TYPE" => {
                let word = args.next_str("value for TYPE")?;
                let parsed = SinkType::parse(&word).ok_or_else(|| {
                    ArgError(format!(
                        "unknown TYPE '{word}' (expected STRING, HASH, JSON or STREAM)"
                    ))
                })?;
                set_once(&mut sink_type, parsed, "TYPE")?;
            }
            "KEY" => {
                let text = args.next_str("value for KEY")?;
                let template = Template::parse(&text).map_err(|e| ArgError(format!("KEY: {e}")))?;
                set_once(&mut key, template, "KEY")?;
            }
            "CONFIG" => {
                let property = args.next_str("property name for CONFIG")?;
                let value = args.next_str(&format!("value for CONFIG {property}"))?;
                check_user_property(&property)?;
                config.push((property, value));
            }
            other => return arg_error(format!("unknown option '{other}'")),
        }
    }
    let Some(topics) = topics else {
        return arg_error("missing TOPICS <topic>[,<topic>...]");
    };
    let sink_type = sink_type.unwrap_or(SinkType::String);
    let key = match key {
        Some(template) => template,
        None => Template::parse(sink_type.default_key_template())
            .map_err(|e| ArgError(e.to_string()))?,
    };
    Ok(SinkSpec {
        group: group.unwrap_or_else(|| format!("redis-kafka-{name}")),
        name,
        topics,
        brokers,
        start: start.unwrap_or(StartFrom::Earliest),
        sink_type,
        key,
        config,
    })
}

fn parse_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Accepts `host:port[,host:port...]`; the port must be a number so typos fail at CREATE.
pub fn parse_brokers(list: &str) -> Result<String, ArgError> {
    let brokers = parse_list(list);
    if brokers.is_empty() {
        return arg_error("BROKERS needs at least one host:port");
    }
    for broker in &brokers {
        let port = broker
            .rsplit_once(':')
            .map(|(host, port)| (host, port.parse::<u16>()));
        match port {
            Some((host, Ok(port))) if !host.is_empty() && port > 0 => {}
            _ => return arg_error(format!("broker '{broker}' is not host:port")),
        }
    }
    Ok(brokers.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<SinkSpec, ArgError> {
        let items = line
            .split_whitespace()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        parse_sink_create(Args::new(items))
    }

    #[test]
    fn defaults() {
        let spec = parse("pv TOPICS pageviews").unwrap();
        assert_eq!(spec.name, "pv");
        assert_eq!(spec.topics, vec!["pageviews"]);
        assert_eq!(spec.group, "redis-kafka-pv");
        assert_eq!(spec.start, StartFrom::Earliest);
        assert_eq!(spec.sink_type, SinkType::String);
        assert_eq!(spec.key.source(), "${topic}:${key}");
        assert!(spec.brokers.is_none());
    }

    #[test]
    fn all_options_in_any_order_and_case() {
        let spec = parse(
            "pv type json key pv:${key} topics a,b brokers h1:9092,h2:9093 group g start latest \
             config fetch.min.bytes 1 CONFIG client.id me",
        )
        .unwrap();
        assert_eq!(spec.topics, vec!["a", "b"]);
        assert_eq!(spec.brokers.as_deref(), Some("h1:9092,h2:9093"));
        assert_eq!(spec.group, "g");
        assert_eq!(spec.start, StartFrom::Latest);
        assert_eq!(spec.sink_type, SinkType::Json);
        assert_eq!(spec.key.source(), "pv:${key}");
        assert_eq!(spec.config.len(), 2);
    }

    #[test]
    fn stream_default_key_is_topic() {
        assert_eq!(
            parse("s TOPICS t TYPE STREAM").unwrap().key.source(),
            "${topic}"
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let cases = [
            ("", "missing sink name"),
            ("pv", "missing TOPICS"),
            ("pv TOPICS", "missing value for TOPICS"),
            ("pv TOPICS t TYPE BLOB", "unknown TYPE 'BLOB'"),
            ("pv TOPICS t COLOR red", "unknown option 'COLOR'"),
            ("pv TOPICS t START NOW", "START must be EARLIEST or LATEST"),
            ("pv TOPICS t BROKERS nohost", "not host:port"),
            ("pv TOPICS t BROKERS h:-1", "not host:port"),
            ("pv TOPICS t KEY ${nope}", "unknown placeholder"),
            ("pv TOPICS t TYPE HASH TYPE JSON", "TYPE given twice"),
            ("pv TOPICS bad/topic", "contains '/'"),
            ("bad:name TOPICS t", "sink name 'bad:name'"),
            ("pv TOPICS t CONFIG group.id x", "use GROUP"),
            (
                "pv TOPICS t CONFIG fetch.min.bytes",
                "missing value for CONFIG fetch.min.bytes",
            ),
        ];
        for (line, expected) in cases {
            let err = parse(line).unwrap_err().0;
            assert!(
                err.contains(expected),
                "'{line}': got '{err}', want '{expected}'"
            );
        }
    }
}
