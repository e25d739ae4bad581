//! `com.redis.kafka.connect.RedisSinkConnector` → `KAFKA.SINK.CREATE` options.
//!
//! What the connector does (1.1.0, `RedisSinkTask`): for STRING, HASH and JSON the key is
//! `<keyspace><separator><record key>` (just the record key when the keyspace is empty); for
//! STREAM, LIST, SET and ZSET the key is the keyspace alone. LIST, SET and ZSET members are the
//! record key, a ZSET's score is the value. `${topic}` is the keyspace's only placeholder; the
//! keyspace and separator are trimmed.

use super::{
    bad_value, connect_template, converter, ignore_converter, is_utf8_name, no_equivalent,
    on_error, other_converter_reason, overrides, parse_bool, parse_long, Converter, Create, Props,
};
use crate::error::{arg_error, Error};

/// Fills `out` with the sink's options; returns the broker list the overrides name, if any.
pub(super) fn translate(
    props: &mut Props,
    out: &mut Create,
) -> Result<Option<(String, String)>, Error> {
    subscription(props, out)?;
    let (sink_type, push) = sink_type(props)?;
    out.option("TYPE", sink_type);
    key(props, out, sink_type)?;
    if sink_type == "LIST" {
        out.option("PUSH", push.unwrap_or("RIGHT"));
    }
    if let Some(ttl) = props.take("redis.key.ttl") {
        // The connector expires keys only for a TTL above 0 (-1, its default, means none).
        let seconds = parse_long("redis.key.ttl", &ttl)?;
        if seconds > 0 {
            out.option("TTL", seconds.to_string());
        }
    }
    if let Some(tasks) = props.take("tasks.max") {
        out.option("TASKS", tasks.trim());
    }
    settings(props)?;
    converters(props, sink_type)?;
    on_error(props, out, true)?;
    overrides(props, out, &["consumer", "producer"])
}

/// `topics` (a comma-separated list) or `topics.regex` (a Java regex the whole topic name must
/// match) → `TOPICS` or `PATTERN ^(regex)$`.
fn subscription(props: &mut Props, out: &mut Create) -> Result<(), Error> {
    match (props.take("topics"), props.take("topics.regex")) {
        (Some(_), Some(_)) => arg_error("give property 'topics' or 'topics.regex', not both"),
        (None, None) => arg_error("missing property 'topics' or 'topics.regex'"),
        (Some(list), None) => {
            let topics: Vec<&str> = list
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect();
            if topics.is_empty() {
                return Err(bad_value(
                    "topics",
                    &list,
                    "a comma-separated list of topics",
                ));
            }
            out.option("TOPICS", topics.join(","));
            Ok(())
        }
        (None, Some(regex)) => {
            let regex = regex.trim();
            if regex.is_empty() {
                return Err(bad_value("topics.regex", regex, "a regular expression"));
            }
            if let Some(construct) = java_only_construct(regex) {
                return Err(no_equivalent(
                    "topics.regex",
                    &format!(
                        "'{construct}' is Java regex syntax; librdkafka matches topic patterns as POSIX extended regular expressions (write [0-9] for \\d, [[:space:]] for \\s...)"
                    ),
                ));
            }
            // Java matches the whole name; librdkafka searches, anchored only by the '^' that
            // marks a pattern.
            out.option("PATTERN", format!("^({regex})$"));
            Ok(())
        }
    }
}

/// Java regex constructs POSIX extended regular expressions do not have.
fn java_only_construct(regex: &str) -> Option<String> {
    if regex.contains("(?") {
        return Some("(?".to_string());
    }
    let bytes = regex.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'\\' {
            let next = bytes[i + 1];
            if next.is_ascii_alphanumeric() {
                return Some(format!("\\{}", next as char));
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    None
}

/// `redis.type` (1.x) or `redis.command` (0.x) → TYPE, with the LIST end to push to.
/// The connector's default is STREAM.
fn sink_type(props: &mut Props) -> Result<(&'static str, Option<&'static str>), Error> {
    let direction = match props.take("redis.push.direction") {
        None => None,
        Some(word) => Some(match word.trim().to_ascii_uppercase().as_str() {
            "LEFT" => "LEFT",
            "RIGHT" => "RIGHT",
            _ => return Err(bad_value("redis.push.direction", &word, "LEFT or RIGHT")),
        }),
    };
    let chosen = match (props.take("redis.type"), props.take("redis.command")) {
        (Some(_), Some(_)) => {
            return arg_error(
                "give property 'redis.type' or its older form 'redis.command', not both",
            )
        }
        (Some(word), None) => {
            let t = match word.trim().to_ascii_uppercase().as_str() {
                "STRING" => "STRING",
                "HASH" => "HASH",
                "JSON" => "JSON",
                "STREAM" => "STREAM",
                "LIST" => "LIST",
                "SET" => "SET",
                "ZSET" => "ZSET",
                "TIMESERIES" => return Err(no_equivalent("redis.type", TIMESERIES)),
                _ => {
                    return Err(bad_value(
                        "redis.type",
                        &word,
                        "HASH, JSON, TIMESERIES, STRING, STREAM, LIST, SET or ZSET",
                    ))
                }
            };
            (t, direction)
        }
        (None, Some(word)) => {
            let (t, push) = match word.trim().to_ascii_uppercase().as_str() {
                "SET" => ("STRING", None),
                "HSET" => ("HASH", None),
                "JSONSET" => ("JSON", None),
                "XADD" => ("STREAM", None),
                "LPUSH" => ("LIST", Some("LEFT")),
                "RPUSH" => ("LIST", Some("RIGHT")),
                "SADD" => ("SET", None),
                "ZADD" => ("ZSET", None),
                "TSADD" => return Err(no_equivalent("redis.command", TIMESERIES)),
                "DEL" => {
                    return Err(no_equivalent(
                        "redis.command",
                        "DEL deletes the key of every record; a redis-kafka sink deletes a key (or member) for a tombstone (null value), whatever its TYPE",
                    ))
                }
                _ => {
                    return Err(bad_value(
                        "redis.command",
                        &word,
                        "HSET, JSONSET, TSADD, SET, XADD, LPUSH, RPUSH, SADD, ZADD or DEL",
                    ))
                }
            };
            if let (Some(given), Some(implied)) = (direction, push) {
                if given != implied {
                    return arg_error(format!(
                        "property 'redis.push.direction' {given} contradicts 'redis.command' {word}"
                    ));
                }
            }
            (t, push)
        }
        (None, None) => ("STREAM", None),
    };
    Ok(chosen)
}

const TIMESERIES: &str = "the connector takes each sample's time from the record key; a TIMESERIES sink here takes it from the record's timestamp";

/// `redis.keyspace` (or the older `redis.key`) and `redis.separator` → KEY.
fn key(props: &mut Props, out: &mut Create, sink_type: &str) -> Result<(), Error> {
    let (name, keyspace) = props
        .take_either("redis.keyspace", "redis.key")?
        .unwrap_or(("redis.keyspace", "${topic}".to_string()));
    let keyspace = keyspace.trim().to_string();
    let separator = props
        .take("redis.separator")
        .map_or(":".to_string(), |s| s.trim().to_string());
    let per_record_key = matches!(sink_type, "STRING" | "HASH" | "JSON");
    connect_template(name, &keyspace, "${topic}")?;
    let template = if !per_record_key {
        if keyspace.is_empty() {
            return Err(no_equivalent(
                name,
                &format!("an empty keyspace makes TYPE {sink_type} write the empty key name"),
            ));
        }
        keyspace
    } else if keyspace.is_empty() {
        "${key}".to_string()
    } else {
        if separator.contains("${") || (keyspace.ends_with('$') && separator.starts_with('{')) {
            return Err(no_equivalent(
                "redis.separator",
                "it makes a '${' that is literal text for the connector, and redis-kafka templates read every '${...}' as a placeholder",
            ));
        }
        format!("{keyspace}{separator}${{key}}")
    };
    out.option("KEY", template);
    Ok(())
}

/// Write settings with nothing to map.
fn settings(props: &mut Props) -> Result<(), Error> {
    if let Some(charset) = props.take("redis.charset") {
        if !is_utf8_name(&charset) {
            return Err(no_equivalent(
                "redis.charset",
                "a sink writes keys and values as their bytes (UTF-8 text stays UTF-8)",
            ));
        }
    }
    // Every slice of writes is one MULTI/EXEC with the offsets it covers, whatever this says.
    if let Some(multiexec) = props.take("redis.multiexec") {
        parse_bool("redis.multiexec", &multiexec)?;
    }
    if let Some(replicas) = props.take("redis.wait.replicas") {
        if parse_long("redis.wait.replicas", &replicas)? > 0 {
            return Err(no_equivalent(
                "redis.wait.replicas",
                "a sink does not WAIT for replicas after its writes (Redis replicates each slice with its offsets)",
            ));
        }
    }
    // Only meaningful with redis.wait.replicas above 0.
    props.take("redis.wait.timeout");
    Ok(())
}

/// Which converters give the bytes this sink reads: the record key is used as it is (the
/// connector takes a String's text or a byte array's bytes), the value as the TYPE needs.
fn converters(props: &mut Props, sink_type: &str) -> Result<(), Error> {
    if sink_type == "STREAM" {
        // A stream entry's key is its stream; the record key plays no part.
        ignore_converter(props, "key");
    } else {
        match converter(props, "key")? {
            Converter::Unset | Converter::String | Converter::ByteArray => {}
            Converter::Json { .. } => {
                return Err(no_equivalent(
                    "key.converter",
                    "the connector uses the decoded JSON key (a string without its quotes), redis-kafka the key's bytes: use StringConverter or ByteArrayConverter",
                ))
            }
            Converter::Other(class) => {
                return Err(no_equivalent("key.converter", &other_converter_reason(&class)))
            }
        }
    }
    if matches!(sink_type, "LIST" | "SET") {
        // The value only tells a write from a tombstone.
        ignore_converter(props, "value");
        return Ok(());
    }
    match converter(props, "value")? {
        Converter::Unset | Converter::String | Converter::ByteArray => Ok(()),
        Converter::Json { schemas: false } if sink_type != "STRING" => Ok(()),
        Converter::Json { schemas: false } => Err(no_equivalent(
            "value.converter",
            "with TYPE STRING the connector stores a decoded JSON string (without quotes) and fails on other JSON, while redis-kafka stores the value's bytes: use StringConverter or ByteArrayConverter",
        )),
        Converter::Json { schemas: true } => Err(no_equivalent(
            "value.converter",
            "JsonConverter with schemas.enable=true (its default) reads values wrapped in {\"schema\":...,\"payload\":...}; redis-kafka reads plain JSON and does not unwrap them (plain JSON records need value.converter.schemas.enable=false)",
        )),
        Converter::Other(class) => Err(no_equivalent(
            "value.converter",
            &other_converter_reason(&class),
        )),
    }
}
