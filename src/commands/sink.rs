//! KAFKA.SINK.CREATE / DELETE / PAUSE / RESUME / LIST.

use crate::args::Args;
use crate::brokers;
use crate::commands::{command_args, error};
use crate::embedded;
use crate::kafka_config;
use crate::offsets;
use crate::redact::redact;
use crate::registry::{self, Change};
use crate::sink_parse::parse_sink_create;
use crate::spec::{OnError, Subscription};
use redis_module::{
    CallOptionsBuilder, CallReply, CallResult, Context, RedisError, RedisResult, RedisString,
    RedisValue,
};

pub fn create(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    let spec = parse_sink_create(command_args(args))?;
    if registry::contains(&spec.name) {
        return Err(error(format!(
            "a bridge named '{}' already exists",
            spec.name
        )));
    }
    if let Some((command, module)) = spec.sink_type.module_command() {
        if !command_exists(ctx, command) {
            return Err(error(format!(
                "TYPE {} needs the {module} module: load it (MODULE LOAD) first",
                spec.sink_type.name()
            )));
        }
    }
    let resolved = brokers::resolve(spec.brokers.as_deref()).map_err(error)?;
    kafka_config::validate(&kafka_config::sink_consumer_config(
        &spec,
        &resolved.brokers,
        0,
    ))?;
    if resolved.embedded {
        let mut topics = match &spec.subscription {
            Subscription::Topics(topics) => topics.clone(),
            Subscription::Pattern(_) => Vec::new(),
        };
        if let OnError::Dlq(topic) = &spec.on_error {
            topics.push(topic.clone());
        }
        embedded::ensure_topics(&topics);
    }
    registry::start_sink(spec, resolved.brokers).map_err(error)?;
    Ok(RedisValue::SimpleStringStatic("OK"))
}

/// Reads `<name>` and nothing else.
fn only_name(mut args: Args) -> Result<String, RedisError> {
    let name = args.next_str("sink name")?;
    if !args.is_empty() {
        return Err(error("too many arguments"));
    }
    Ok(name)
}

pub fn pause(_ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    let name = only_name(command_args(args))?;
    match registry::pause_sink(&name) {
        Change::Done | Change::AlreadyThere => Ok(RedisValue::SimpleStringStatic("OK")),
        Change::Unknown => Err(error(format!("no sink named '{name}'"))),
    }
}

pub fn resume(_ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    let name = only_name(command_args(args))?;
    match registry::resume_sink(&name).map_err(error)? {
        Change::Done | Change::AlreadyThere => Ok(RedisValue::SimpleStringStatic("OK")),
        Change::Unknown => Err(error(format!("no sink named '{name}'"))),
    }
}

pub fn delete(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    let mut args = command_args(args);
    let name = args.next_str("sink name")?;
    let purge = match args.next_keyword().as_deref() {
        None => false,
        Some("PURGE") => true,
        Some(other) => return Err(error(format!("unknown option '{other}' (expected PURGE)"))),
    };
    if !args.is_empty() {
        return Err(error("too many arguments"));
    }
    if !registry::remove_sink(&name) {
        return Err(error(format!("no sink named '{name}'")));
    }
    if purge {
        let options = CallOptionsBuilder::new()
            .replicate()
            .errors_as_replies()
            .build();
        let key = offsets::offsets_key(&name);
        let reply: CallResult = ctx.call_ext("DEL", &options, &[key.as_str()][..]);
        reply.map_err(|e| {
            error(format!(
                "sink deleted but its offsets were not purged: {}",
                e.to_utf8_string().unwrap_or_default()
            ))
        })?;
    }
    Ok(RedisValue::SimpleStringStatic("OK"))
}

pub fn list(_ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    if args.len() > 1 {
        return Err(error("KAFKA.SINK.LIST takes no arguments"));
    }
    Ok(RedisValue::Array(registry::sinks(|entry| {
        let spec = &entry.spec;
        let config = spec
            .config
            .iter()
            .flat_map(|(k, v)| [k.clone().into(), redact(k, v).into()])
            .collect();
        let (topics, pattern) = match &spec.subscription {
            Subscription::Topics(topics) => (topics.join(","), String::new()),
            Subscription::Pattern(regex) => (String::new(), regex.clone()),
        };
        let mut fields: Vec<(&str, RedisValue)> = vec![
            ("name", spec.name.clone().into()),
            ("topics", topics.into()),
            ("pattern", pattern.into()),
            ("type", spec.sink_type.name().into()),
            ("key", spec.key.source().into()),
        ];
        if spec.sink_type.has_members() {
            fields.push(("member", spec.member.source().into()));
        }
        if spec.sink_type == crate::spec::SinkType::Zset {
            fields.push(("score", spec.score.source().into()));
        }
        if spec.sink_type == crate::spec::SinkType::List {
            fields.push((
                "push",
                (if spec.push_left { "LEFT" } else { "RIGHT" }).into(),
            ));
        }
        fields.extend([
            (
                "ttl",
                spec.ttl
                    .map_or(RedisValue::Null, |t| RedisValue::Integer(t as i64)),
            ),
            ("on_error", spec.on_error.describe().into()),
            ("tasks", RedisValue::Integer(spec.tasks as i64)),
            (
                "brokers",
                spec.brokers
                    .clone()
                    .unwrap_or_else(|| "default".into())
                    .into(),
            ),
            ("group", spec.group.clone().into()),
            ("start", spec.start.name().into()),
            ("config", RedisValue::Array(config)),
        ]);
        RedisValue::Array(
            fields
                .into_iter()
                .flat_map(|(name, value)| [name.into(), value])
                .collect(),
        )
    })))
}

fn command_exists(ctx: &Context, command: &str) -> bool {
    let options = CallOptionsBuilder::new().errors_as_replies().build();
    let reply: CallResult = ctx.call_ext("COMMAND", &options, &["INFO", command][..]);
    match reply {
        Ok(CallReply::Array(items)) => {
            matches!(items.get(0), Some(Ok(CallReply::Array(_))))
        }
        _ => false,
    }
}
