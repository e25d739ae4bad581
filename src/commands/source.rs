//! KAFKA.SOURCE.CREATE / DELETE / PAUSE / RESUME / LIST.

use crate::brokers;
use crate::commands::{command_args, error};
use crate::kafka_config;
use crate::redact::redact;
use crate::registry::{self, Change};
use crate::source::stream_io;
use crate::source_parse::parse_source_create;
use redis_module::{
    CallOptionsBuilder, CallResult, Context, RedisError, RedisResult, RedisString, RedisValue,
};
use std::time::{SystemTime, UNIX_EPOCH};

pub fn create(_ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    let mut spec = parse_source_create(command_args(args))?;
    if registry::contains(&spec.name) {
        return Err(error(format!(
            "a bridge named '{}' already exists",
            spec.name
        )));
    }
    let resolved = brokers::resolve(spec.brokers.as_deref()).map_err(error)?;
    kafka_config::validate(&kafka_config::producer_config(
        &resolved.brokers,
        &spec.config,
    ))?;
    spec.created_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    registry::start_source(spec, resolved.brokers).map_err(error)?;
    Ok(RedisValue::SimpleStringStatic("OK"))
}

fn only_name(args: Vec<RedisString>) -> Result<String, RedisError> {
    let mut args = command_args(args);
    let name = args.next_str("source name")?;
    if !args.is_empty() {
        return Err(error("too many arguments"));
    }
    Ok(name)
}

fn reply(change: Change, name: &str) -> RedisResult {
    match change {
        Change::Done | Change::AlreadyThere => Ok(RedisValue::SimpleStringStatic("OK")),
        Change::Unknown => Err(error(format!("no source named '{name}'"))),
    }
}

pub fn pause(_ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    let name = only_name(args)?;
    reply(registry::pause_source(&name), &name)
}

pub fn resume(_ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    let name = only_name(args)?;
    reply(registry::resume_source(&name).map_err(error)?, &name)
}

pub fn delete(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    let mut args = command_args(args);
    let name = args.next_str("source name")?;
    let purge = match args.next_keyword().as_deref() {
        None => false,
        Some("PURGE") => true,
        Some(other) => return Err(error(format!("unknown option '{other}' (expected PURGE)"))),
    };
    if !args.is_empty() {
        return Err(error("too many arguments"));
    }
    if !registry::remove_source(&name) {
        return Err(error(format!("no source named '{name}'")));
    }
    if purge {
        let options = CallOptionsBuilder::new()
            .replicate()
            .errors_as_replies()
            .build();
        let key = stream_io::checkpoints_key(&name);
        let reply: CallResult = ctx.call_ext("DEL", &options, &[key.as_str()][..]);
        reply.map_err(|e| {
            error(format!(
                "source deleted but its checkpoints were not purged: {}",
                e.to_utf8_string().unwrap_or_default()
            ))
        })?;
    }
    Ok(RedisValue::SimpleStringStatic("OK"))
}

pub fn list(_ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    if args.len() > 1 {
        return Err(error("KAFKA.SOURCE.LIST takes no arguments"));
    }
    Ok(RedisValue::Array(registry::sources(|entry| {
        let spec = &entry.spec;
        let config = spec
            .config
            .iter()
            .flat_map(|(k, v)| [k.clone().into(), redact(k, v).into()])
            .collect();
        RedisValue::Array(vec![
            "name".into(),
            spec.name.clone().into(),
            "streams".into(),
            spec.streams.clone().into(),
            "topic".into(),
            spec.topic.source().into(),
            "key".into(),
            spec.key.source().into(),
            "from".into(),
            spec.from.describe().into(),
            "partitions".into(),
            RedisValue::Integer(spec.partitions.into()),
            "replication".into(),
            RedisValue::Integer(spec.replication.into()),
            "brokers".into(),
            spec.brokers
                .clone()
                .unwrap_or_else(|| "default".into())
                .into(),
            "config".into(),
            RedisValue::Array(config),
        ])
    })))
}
