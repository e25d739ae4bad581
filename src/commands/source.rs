//! KAFKA.SOURCE.CREATE / DELETE / PAUSE / RESUME / LIST.

use crate::bridge::registry;
use crate::commands::sink::{check_new_name, create_arguments, persist_and_start};
use crate::commands::{command_args, error, lifecycle_ops};
use crate::kafka::brokers;
use crate::kafka::config;
use crate::kafka::redact::{redact_command, redacted_config};
use crate::module::acl;
use crate::spec::source_parse::parse_source_create;
use crate::store::definitions::Kind;
use redis_module::{Context, RedisResult, RedisString, RedisValue};

pub fn create(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    redact_command(ctx, &args);
    acl::require_admin(ctx)?;
    let given = create_arguments(&args);
    let spec = parse_source_create(command_args(args))?;
    check_new_name(&spec.name)?;
    let resolved = brokers::resolve(spec.brokers.as_deref())?;
    config::validate(&config::source_producer(
        &spec.name,
        &resolved.brokers,
        &spec.config,
    ))?;
    persist_and_start(ctx, &spec.name, Kind::Source, given)
}

pub fn pause(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    lifecycle_ops::pause(ctx, args, Kind::Source)
}

pub fn resume(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    lifecycle_ops::resume(ctx, args, Kind::Source)
}

pub fn delete(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    lifecycle_ops::delete(ctx, args, Kind::Source)
}

pub fn list(_ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    if args.len() > 1 {
        return Err(error("KAFKA.SOURCE.LIST takes no arguments"));
    }
    Ok(RedisValue::Array(registry::sources(|entry| {
        let spec = &entry.spec;
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
            "on_error".into(),
            spec.on_error.describe().into(),
            "brokers".into(),
            spec.brokers
                .clone()
                .unwrap_or_else(|| "default".into())
                .into(),
            "config".into(),
            redacted_config(&spec.config),
        ])
    })))
}
