//! `RedisStreamSourceConnector` → `KAFKA.SOURCE.CREATE <name> STREAMS ...` and
//! `RedisKeysSourceConnector` → `KAFKA.SOURCE.CREATE <name> KEYS ...`.
//!
//! The stream connector (1.1.0, `StreamMessageConverter`) sends each entry keyed by its ID to
//! `topic` (default `${stream}`), starting at `redis.stream.offset` (default `0-0`: the whole
//! stream) through a Redis consumer group. A source here reads from its own checkpoint instead
//! of a consumer group, and its record value is the entry's fields as a JSON object (the ID
//! and stream name travel in headers) rather than the connector's `{id, stream, body}` struct.

use super::{
    bad_value, connect_template, converter, no_equivalent, on_error, other_converter_reason,
    overrides, parse_long, Converter, Create, Props,
};
use crate::error::Error;

pub(super) fn translate_stream(
    props: &mut Props,
    out: &mut Create,
) -> Result<Option<(String, String)>, Error> {
    let stream = props
        .take("redis.stream.name")
        .ok_or_else(|| Error::Arg("missing property 'redis.stream.name'".to_string()))?;
    if stream.is_empty() {
        return Err(bad_value("redis.stream.name", &stream, "a stream name"));
    }
    out.option("STREAMS", glob_literal(&stream));
    let topic = props
        .take("topic")
        .unwrap_or_else(|| "${stream}".to_string());
    out.option("TOPIC", connect_template("topic", &topic, "${stream}")?);
    // The connector keys each record by the entry's ID.
    out.option("KEY", "${id}");
    let offset = props.take("redis.stream.offset");
    let from = match offset.as_deref().map(str::trim) {
        // 0-0, the connector's default: the group starts before the first entry.
        None | Some("0-0") | Some("0") => "BEGINNING".to_string(),
        Some("$") => "NEW".to_string(),
        Some(id) if crate::spec::source::parse_stream_id(id).is_some() => id.to_string(),
        Some(other) => {
            return Err(bad_value(
                "redis.stream.offset",
                other,
                "a stream ID (0-0 for the whole stream, $ for new entries)",
            ))
        }
    };
    out.option("FROM", from);
    if let Some(delivery) = props.take("redis.stream.delivery") {
        // at-most-once acknowledges entries as they are read; a source here moves its
        // checkpoint only past entries Kafka acknowledged, which loses nothing either way.
        if !matches!(
            delivery.trim().to_ascii_lowercase().as_str(),
            "at-least-once" | "at-most-once"
        ) {
            return Err(bad_value(
                "redis.stream.delivery",
                &delivery,
                "at-least-once or at-most-once",
            ));
        }
    }
    // A source reads from its checkpoint with no consumer group and is woken by XADD, so the
    // group, consumer name, XREAD BLOCK and COUNT have nothing to set; its reads are bounded
    // by the module's own limits.
    for name in [
        "redis.stream.consumer.group",
        "redis.stream.consumer.name",
        "redis.stream.block",
        "batch.size",
    ] {
        props.take(name);
    }
    shared(props, out)
}

pub(super) fn translate_keys(
    props: &mut Props,
    out: &mut Create,
) -> Result<Option<(String, String)>, Error> {
    let pattern = props
        .take("redis.keys.pattern")
        .unwrap_or_else(|| "*".to_string());
    out.option("KEYS", pattern);
    let snapshot = match props.take("mode") {
        None => "YES",
        Some(mode) => match mode.trim().to_ascii_uppercase().as_str() {
            "LIVE" => "YES",
            "LIVEONLY" => "NO",
            _ => return Err(bad_value("mode", &mode, "LIVE or LIVEONLY")),
        },
    };
    out.option("SNAPSHOT", snapshot);
    out.option(
        "TOPIC",
        props
            .take("topic")
            .unwrap_or_else(|| "rediskeys".to_string()),
    );
    if let Some(timeout) = props.take("redis.keys.timeout") {
        if parse_long("redis.keys.timeout", &timeout)? > 0 {
            return Err(no_equivalent(
                "redis.keys.timeout",
                "the connector stops after that long without changes; a source here runs until it is paused or deleted",
            ));
        }
    }
    props.take("batch.size");
    shared(props, out)
}

/// What both sources map the same way.
fn shared(props: &mut Props, out: &mut Create) -> Result<Option<(String, String)>, Error> {
    // One worker per source keeps each stream (or key) in order; tasks have nothing to split.
    if let Some(tasks) = props.take("tasks.max") {
        if parse_long("tasks.max", &tasks)? < 1 {
            return Err(bad_value("tasks.max", &tasks, "a number of at least 1"));
        }
    }
    for (which, accepted) in [
        ("key", "StringConverter"),
        ("value", "JsonConverter or StringConverter"),
    ] {
        let name = format!("{which}.converter");
        match converter(props, which)? {
            Converter::Unset | Converter::String => {}
            Converter::Json { .. } if which == "value" => {}
            Converter::Json { .. } | Converter::ByteArray => {
                return Err(no_equivalent(
                    &name,
                    &format!("a source writes the {which} as plain text or JSON: use {accepted}"),
                ))
            }
            Converter::Other(class) => {
                return Err(no_equivalent(&name, &other_converter_reason(&class)))
            }
        }
    }
    if let Some(partitions) = props.take("topic.creation.default.partitions") {
        out.option("PARTITIONS", partitions.trim());
    }
    if let Some(replication) = props.take("topic.creation.default.replication.factor") {
        if replication.trim() == "-1" {
            return Err(no_equivalent(
                "topic.creation.default.replication.factor",
                "a source creates topics with an explicit REPLICATION, not the broker's default",
            ));
        }
        out.option("REPLICATION", replication.trim());
    }
    on_error(props, out, false)?;
    overrides(props, out, &["producer"])
}

/// A stream name as a glob matching only itself.
fn glob_literal(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
