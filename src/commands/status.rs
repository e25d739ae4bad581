//! KAFKA.STATUS [name [CLUSTER]]: a map per bridge (flat name/value pairs for RESP2 clients);
//! with CLUSTER, one entry per primary of the Redis Cluster (see `cluster_status`).

use crate::bridge::registry::{self, SinkEntry, SourceEntry};
use crate::commands::cluster_status;
use crate::commands::{command_args, error};
use crate::error::Error;
use crate::kafka::embedded;
use crate::lifecycle::{self, Lifecycle};
use crate::module::cluster_bus::{NodeId, STATUS_ASK, STATUS_REPLY};
use crate::runtime::reply::{send_tree, Reply};
use crate::runtime::text::quoted;
use crate::spec::sink::SinkType;
use crate::spec::source::Feed;
use redis_module::{Context, ContextFlags, RedisError, RedisResult, RedisString, RedisValue};
use std::sync::atomic::Ordering;

pub fn status(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    let mut args = command_args(args);
    if args.is_empty() {
        let mut all = registry::sinks(sink_status);
        all.extend(registry::sources(source_status));
        all.extend(
            registry::invalid()
                .iter()
                .map(|(n, e)| invalid_status(n, e)),
        );
        return send_tree(ctx, Reply::List(all));
    }
    let name = args.next_bytes("bridge name")?;
    let cluster = match args.next_keyword().as_deref() {
        None => false,
        Some("CLUSTER") => true,
        Some(other) => {
            return Err(error(format!(
                "unknown option {} (expected CLUSTER)",
                quoted(other.as_bytes())
            )))
        }
    };
    if !args.is_empty() {
        return Err(error(
            "KAFKA.STATUS takes a bridge name and CLUSTER at most",
        ));
    }
    if cluster {
        if !ctx.get_flags().contains(ContextFlags::CLUSTER) {
            return Err(error("CLUSTER: this node is not part of a Redis Cluster"));
        }
        let text = String::from_utf8_lossy(&name).into_owned();
        return cluster_status::ask(ctx, &text, one_status(&name));
    }
    let status = one_status(&name)?;
    send_tree(ctx, status)
}

/// The STATUS of one bridge on this node.
pub fn one_status(name: &[u8]) -> Result<Reply, RedisError> {
    let text = String::from_utf8_lossy(name);
    registry::sink(&text, sink_status)
        .or_else(|| registry::source(&text, source_status))
        .or_else(|| registry::invalid_reason(name).map(|e| invalid_status(name, &e)))
        .ok_or_else(|| {
            Error::NoSuchBridge {
                kind: "bridge",
                name: quoted(name),
            }
            .into()
        })
}

/// Answers the cluster bus's STATUS messages (registered at load).
pub fn on_bus_message(ctx: &Context, sender: &NodeId, kind: u8, payload: &[u8]) {
    match kind {
        STATUS_ASK => {
            cluster_status::on_ask(ctx, sender, payload, |name| one_status(name.as_bytes()))
        }
        STATUS_REPLY => cluster_status::on_reply(sender, payload),
        _ => {}
    }
}

/// A stored definition that cannot be started (written by hand, or from a newer version).
fn invalid_status(name: &[u8], reason: &str) -> Reply {
    Reply::pairs(vec![
        "name".into(),
        RedisValue::StringBuffer(name.to_vec()).into(),
        "kind".into(),
        "unknown".into(),
        "state".into(),
        "failed".into(),
        "last_error".into(),
        format!("invalid definition: {reason}").into(),
    ])
}

/// Streams listed per source in STATUS; `stream_count` gives the total.
const STATUS_STREAMS: usize = 100;

fn source_status(entry: &SourceEntry) -> Reply {
    let shared = &entry.shared;
    let (streams, total) = shared.streams(STATUS_STREAMS);
    let streams = streams
        .into_iter()
        .map(|(stream, progress)| {
            Reply::pairs(vec![
                "stream".into(),
                RedisValue::StringBuffer(stream).into(),
                "checkpoint".into(),
                progress
                    .checkpoint
                    .map_or(RedisValue::Null, RedisValue::BulkString)
                    .into(),
                "backlog".into(),
                optional_int(progress.backlog.map(|b| b as i64)),
            ])
        })
        .collect();
    let mut fields = head(&entry.spec.name, "source", &shared.life, &shared.brokers);
    fields.extend([
        format!("{}_glob", entry.spec.feed.option().to_ascii_lowercase()).into(),
        entry.spec.glob.clone().into(),
        "records".into(),
        count(&shared.counters.records),
        "errors".into(),
        count(&shared.counters.errors),
        "ignored".into(),
        count(&shared.counters.ignored),
        "skipped".into(),
        count(&shared.counters.skipped),
        "dlq".into(),
        count(&shared.counters.dlq),
    ]);
    if entry.spec.feed == Feed::Channels {
        let connected = shared.channel.connected.load(Ordering::Relaxed);
        fields.extend([
            "dropped".into(),
            count(&shared.counters.dropped),
            "reconnects".into(),
            count(&shared.counters.reconnects),
            "subscribed".into(),
            (if connected { "yes" } else { "no" }).into(),
        ]);
    }
    fields.extend(last_error(&shared.life));
    fields.extend([
        "backlog".into(),
        optional_int(match entry.spec.feed {
            Feed::Keys { .. } => Some(shared.changes.pending() as i64),
            // Received and not yet acknowledged: nothing waits in Redis for a subscriber.
            Feed::Channels => Some(shared.channel.in_flight.load(Ordering::Relaxed) as i64),
            Feed::Streams => shared.backlog().map(|b| b as i64),
        }),
        "stream_count".into(),
        (total as i64).into(),
        "streams".into(),
        Reply::List(streams),
    ]);
    Reply::pairs(fields)
}

/// The fields every bridge starts with: name, kind, state, brokers, embedded_broker.
fn head(name: &str, kind: &str, life: &Lifecycle, brokers: &str) -> Vec<Reply> {
    let embedded = embedded::running_bootstrap().is_some_and(|b| b == brokers);
    vec![
        "name".into(),
        name.into(),
        "kind".into(),
        kind.into(),
        "state".into(),
        life.state().name().into(),
        "brokers".into(),
        brokers.into(),
        "embedded_broker".into(),
        (if embedded { "yes" } else { "no" }).into(),
    ]
}

/// last_error and when it happened.
fn last_error(life: &Lifecycle) -> [Reply; 4] {
    let last_error = life.last_error();
    [
        "last_error".into(),
        last_error
            .as_ref()
            .map(|e| e.message.clone())
            .unwrap_or_default()
            .into(),
        "last_error_at_ms".into(),
        optional_int(last_error.map(|e| e.at_ms as i64)),
    ]
}

fn count(counter: &std::sync::atomic::AtomicU64) -> Reply {
    (lifecycle::count(counter) as i64).into()
}

fn optional_int(value: Option<i64>) -> Reply {
    value.map_or(RedisValue::Null, RedisValue::Integer).into()
}

fn sink_status(entry: &SinkEntry) -> Reply {
    let shared = &entry.shared;
    let partitions = shared
        .partitions()
        .into_iter()
        .map(|((topic, partition), progress)| {
            Reply::pairs(vec![
                "topic".into(),
                topic.into(),
                "partition".into(),
                i64::from(partition).into(),
                "task".into(),
                (progress.task as i64).into(),
                "offset".into(),
                optional_int(progress.next_offset),
                "lag".into(),
                optional_int(progress.lag()),
            ])
        })
        .collect();
    let mut fields = head(&entry.spec.name, "sink", &shared.life, &shared.brokers);
    fields.extend([
        "topics".into(),
        entry.spec.subscription.describe().into(),
        "type".into(),
        entry.spec.sink_type.name().into(),
    ]);
    if entry.spec.sink_type == SinkType::Publish {
        fields.extend(["channel".into(), entry.spec.channel.source().into()]);
    }
    fields.extend([
        "tasks".into(),
        (entry.spec.tasks as i64).into(),
        "records".into(),
        count(&shared.counters.records),
        "errors".into(),
        count(&shared.counters.errors),
        "skipped".into(),
        count(&shared.counters.skipped),
        "dlq".into(),
        count(&shared.counters.dlq),
    ]);
    fields.extend(last_error(&shared.life));
    fields.extend([
        "lag".into(),
        optional_int(shared.lag()),
        "partitions".into(),
        Reply::List(partitions),
    ]);
    Reply::pairs(fields)
}
