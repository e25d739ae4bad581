//! KAFKA.SINK.CREATE and KAFKA.SINK.LIST (PAUSE, RESUME and DELETE are in `lifecycle_ops`).

use crate::bridge::registry;
use crate::commands::{command_args, error, new_bridge};
use crate::kafka::brokers;
use crate::kafka::config;
use crate::kafka::redact::redacted_config;
use crate::runtime::reply::{send_tree, Reply};
use crate::spec::args::Args;
use crate::spec::sink::{SinkSpec, SinkType, Subscription, Update};
use crate::spec::sink_parse::parse_sink_create;
use crate::store::definitions::Kind;
use redis_module::{
    CallOptionsBuilder, CallReply, CallResult, Context, RedisResult, RedisString, RedisValue,
};

pub fn create(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    let given = new_bridge::prologue(ctx, &args)?;
    create_checked(ctx, command_args(args), given)
}

/// CREATE after its prologue (secrets hidden, admin checked): `args` from the name on, `given`
/// the arguments after the name as they are stored. KAFKA.SINK.IMPORT comes here with the
/// arguments it translated.
pub fn create_checked(ctx: &Context, args: Args, given: Vec<String>) -> RedisResult {
    let spec = parse_sink_create(args)?;
    new_bridge::check_new_name(&spec.name)?;
    if let Some((command, module)) = spec.sink_type.module_command() {
        if !command_exists(ctx, command) {
            return Err(error(format!(
                "TYPE {} needs the {module} module: load it (MODULE LOAD) first",
                spec.sink_type.name()
            )));
        }
    }
    if spec.update == Update::Merge && !command_exists(ctx, "JSON.MERGE") {
        return Err(error(
            "UPDATE MERGE needs JSON.MERGE, which the loaded RedisJSON lacks (RedisJSON 2.6 or later has it)",
        ));
    }
    let resolved = brokers::resolve(spec.brokers.as_deref())?;
    // Producer-only properties go to the DLQ producer: check them there.
    config::validate(&config::sink_consumer(&spec, &resolved.brokers, 0))?;
    config::validate(&config::dead_letter_producer(
        &spec.name,
        &resolved.brokers,
        &spec.config,
    ))?;
    new_bridge::persist_and_start(ctx, &spec.name, Kind::Sink, given)
}

pub fn list(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    if args.len() > 1 {
        return Err(error("KAFKA.SINK.LIST takes no arguments"));
    }
    let sinks = registry::sinks(|entry| {
        let spec = &entry.spec;
        let (topics, pattern) = match &spec.subscription {
            Subscription::Topics(topics) => (topics.join(","), String::new()),
            Subscription::Pattern(regex) => (String::new(), regex.clone()),
        };
        let mut fields: Vec<(&str, Reply)> = vec![
            ("name", spec.name.clone().into()),
            ("topics", topics.into()),
            ("pattern", pattern.into()),
            ("type", spec.sink_type.name().into()),
            target(spec),
        ];
        if spec.sink_type.has_members() {
            fields.push(("member", spec.member.source().into()));
        }
        if spec.sink_type == SinkType::Zset {
            fields.push(("score", spec.score.source().into()));
        }
        if spec.sink_type == SinkType::List {
            fields.push((
                "push",
                (if spec.push_left { "LEFT" } else { "RIGHT" }).into(),
            ));
        }
        if matches!(spec.sink_type, SinkType::Hash | SinkType::Json) {
            fields.push(("update", spec.update.describe(spec.sink_type).into()));
        }
        if spec.sink_type == SinkType::Timeseries {
            fields.push(("on_duplicate", spec.on_duplicate.name().into()));
        }
        if let Some(trim) = &spec.trim {
            fields.push(("trim", trim.describe().into()));
        }
        if let Some(projection) = &spec.fields {
            fields.push(("fields", projection.source().into()));
        }
        fields.extend([
            (
                "ttl",
                spec.ttl
                    .map_or(RedisValue::Null, |t| RedisValue::Integer(t as i64))
                    .into(),
            ),
            ("on_error", spec.on_error.describe().into()),
            ("tasks", (spec.tasks as i64).into()),
            (
                "brokers",
                spec.brokers
                    .clone()
                    .unwrap_or_else(|| "default".into())
                    .into(),
            ),
            ("group", spec.group.clone().into()),
            ("start", spec.start.name().into()),
            ("config", redacted_config(&spec.config)),
        ]);
        Reply::Map(
            fields
                .into_iter()
                .map(|(name, value)| (name.to_string(), value))
                .collect(),
        )
    });
    send_tree(ctx, Reply::List(sinks))
}

/// Where records go: the key template, or PUBLISH's channel template.
fn target(spec: &SinkSpec) -> (&'static str, Reply) {
    if spec.sink_type == SinkType::Publish {
        ("channel", spec.channel.source().into())
    } else {
        ("key", spec.key.source().into())
    }
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
