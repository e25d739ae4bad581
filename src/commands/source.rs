//! KAFKA.SOURCE.CREATE and KAFKA.SOURCE.LIST (PAUSE, RESUME and DELETE are in `lifecycle_ops`).

use crate::bridge::registry;
use crate::commands::{command_args, error, new_bridge};
use crate::kafka::brokers;
use crate::kafka::config;
use crate::kafka::redact::redacted_config;
use crate::runtime::reply::{send_tree, Reply};
use crate::spec::args::Args;
use crate::spec::source::Feed;
use crate::spec::source_parse::parse_source_create;
use crate::store::definitions::Kind;
use redis_module::{Context, ContextFlags, RedisResult, RedisString};

pub fn create(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    let given = new_bridge::prologue(ctx, &args)?;
    create_checked(ctx, command_args(args), given)
}

/// CREATE after its prologue (secrets hidden, admin checked): `args` from the name on, `given`
/// the arguments after the name as they are stored. KAFKA.SOURCE.IMPORT comes here with the
/// arguments it translated.
pub fn create_checked(ctx: &Context, args: Args, given: Vec<String>) -> RedisResult {
    let spec = parse_source_create(args)?;
    if matches!(spec.feed, Feed::Keys { .. }) && ctx.get_flags().contains(ContextFlags::CLUSTER) {
        // A key moving between shards would race the old shard's tombstone against the new
        // shard's value in the topic.
        return Err(error(
            "KEYS sources do not run on Redis Cluster yet (a key moving between shards could \
             leave a tombstone as its latest record); use STREAMS sources there",
        ));
    }
    new_bridge::check_new_name(&spec.name)?;
    let resolved = brokers::resolve(spec.brokers.as_deref())?;
    config::validate(&config::source_producer(
        &spec.name,
        &resolved.brokers,
        &spec.config,
    ))?;
    new_bridge::persist_and_start(ctx, &spec.name, Kind::Source, given)
}

pub fn list(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    if args.len() > 1 {
        return Err(error("KAFKA.SOURCE.LIST takes no arguments"));
    }
    let sources = registry::sources(|entry| {
        let spec = &entry.spec;
        let mut fields: Vec<Reply> = vec![
            "name".into(),
            spec.name.clone().into(),
            spec.feed.option().to_ascii_lowercase().into(),
            spec.glob.clone().into(),
            "topic".into(),
            spec.topic.source().into(),
            "key".into(),
            spec.key.source().into(),
            "from".into(),
            spec.from.describe().into(),
            "partitions".into(),
            i64::from(spec.partitions).into(),
            "replication".into(),
            i64::from(spec.replication).into(),
            "on_error".into(),
            spec.on_error.describe().into(),
            "brokers".into(),
            spec.brokers
                .clone()
                .unwrap_or_else(|| "default".into())
                .into(),
            "config".into(),
            redacted_config(&spec.config),
        ];
        if let Feed::Keys { snapshot } = spec.feed {
            fields.extend([
                "snapshot".into(),
                if snapshot { "YES" } else { "NO" }.into(),
            ]);
        }
        Reply::pairs(fields)
    });
    send_tree(ctx, Reply::List(sources))
}
