//! KAFKA.SINK.CREATE / DELETE / LIST.

use crate::brokers;
use crate::commands::{command_args, error};
use crate::embedded;
use crate::kafka_config;
use crate::offsets;
use crate::redact::redact;
use crate::registry;
use crate::sink_parse::parse_sink_create;
use crate::spec::SinkType;
use redis_module::{
    CallOptionsBuilder, CallReply, CallResult, Context, RedisResult, RedisString, RedisValue,
};

pub fn create(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    let spec = parse_sink_create(command_args(args))?;
    if registry::contains(&spec.name) {
        return Err(error(format!("sink '{}' already exists", spec.name)));
    }
    if spec.sink_type == SinkType::Json && !command_exists(ctx, "JSON.SET") {
        return Err(error(
            "TYPE JSON needs the RedisJSON module: load rejson.so (MODULE LOAD) first",
        ));
    }
    let resolved = brokers::resolve(spec.brokers.as_deref()).map_err(error)?;
    kafka_config::validate(&kafka_config::sink_consumer_config(
        &spec,
        &resolved.brokers,
        0,
    ))?;
    if resolved.embedded {
        embedded::ensure_topics(&spec.topics);
    }
    registry::start_sink(spec, resolved.brokers).map_err(error)?;
    Ok(RedisValue::SimpleStringStatic("OK"))
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
        RedisValue::Array(vec![
            "name".into(),
            spec.name.clone().into(),
            "topics".into(),
            spec.topics.join(",").into(),
            "type".into(),
            spec.sink_type.name().into(),
            "key".into(),
            spec.key.source().into(),
            "brokers".into(),
            spec.brokers
                .clone()
                .unwrap_or_else(|| "default".into())
                .into(),
            "group".into(),
            spec.group.clone().into(),
            "start".into(),
            spec.start.name().into(),
            "config".into(),
            RedisValue::Array(config),
        ])
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
