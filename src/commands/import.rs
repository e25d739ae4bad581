//! KAFKA.SINK.IMPORT and KAFKA.SOURCE.IMPORT: a redis-kafka-connect connector config becomes
//! the equivalent CREATE (`spec::connect_import`), which then runs exactly as if it had been
//! typed, and is stored as that CREATE. `DRYRUN` replies with the CREATE instead.

use crate::commands::{sink, source};
use crate::kafka::redact::secret_positions;
use crate::module::acl;
use crate::spec::args::Args;
use crate::spec::connect_import::{parse_import, ImportKind};
use redis_module::{raw, Context, RedisResult, RedisString, RedisValue};

/// Position of the connector JSON in the command (name at 0).
const JSON_POSITION: i32 = 2;

pub fn import(ctx: &Context, args: Vec<RedisString>, kind: ImportKind) -> RedisResult {
    // The JSON may hold passwords (redis.password, *.override.sasl.*): keep all of it out of
    // SLOWLOG and MONITOR.
    if args.len() > JSON_POSITION as usize {
        if let Some(redact_argument) = unsafe { raw::RedisModule_RedactClientCommandArgument } {
            unsafe { redact_argument(ctx.ctx, JSON_POSITION) };
        }
    }
    // Administrative like CREATE, DRYRUN included (it shows what CREATE would be given).
    acl::require_admin(ctx)?;
    let request = parse_import(
        kind,
        Args::new(args.iter().skip(1).map(|a| a.as_slice().to_vec()).collect()),
    )?;
    if request.dry_run {
        return Ok(RedisValue::Array(
            shown_command(kind, &request.create_args)
                .into_iter()
                .map(RedisValue::BulkString)
                .collect(),
        ));
    }
    let given = request.create_args[1..].to_vec();
    let create_args = Args::new(
        request
            .create_args
            .iter()
            .map(|a| a.as_bytes().to_vec())
            .collect(),
    );
    match kind {
        ImportKind::Sink => sink::create_checked(ctx, create_args, given),
        ImportKind::Source => source::create_checked(ctx, create_args, given),
    }
}

/// The CREATE command as DRYRUN shows it: secret CONFIG values redacted, as LIST shows them.
fn shown_command(kind: ImportKind, create_args: &[String]) -> Vec<String> {
    let mut shown = vec![kind.create_command().to_string()];
    shown.extend(create_args.iter().cloned());
    let slices: Vec<&[u8]> = shown.iter().map(|a| a.as_bytes()).collect();
    let secrets = secret_positions(&slices);
    for position in secrets {
        if let Some(value) = shown.get_mut(position) {
            *value = "(redacted)".to_string();
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_redacts_secret_config_values_only() {
        let args: Vec<String> = [
            "s",
            "TOPICS",
            "t",
            "CONFIG",
            "sasl.password",
            "pw",
            "CONFIG",
            "fetch.min.bytes",
            "1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            shown_command(ImportKind::Sink, &args),
            [
                "KAFKA.SINK.CREATE",
                "s",
                "TOPICS",
                "t",
                "CONFIG",
                "sasl.password",
                "(redacted)",
                "CONFIG",
                "fetch.min.bytes",
                "1"
            ]
        );
    }
}
