//! PAUSE / RESUME / DELETE, the same for sinks and sources: the stored definition changes in
//! the same command (so it persists and replicates), then the running bridge follows.

use crate::bridge::registry::{self, Change};
use crate::commands::{command_args, error};
use crate::error::Error;
use crate::lifecycle::State;
use crate::module::acl;
use crate::runtime::text::quoted;
use crate::store::definitions::{self, Kind};
use crate::store::keys::{checkpoints_key, offsets_key};
use redis_module::{Context, RedisError, RedisResult, RedisString, RedisValue};

const OK: RedisValue = RedisValue::SimpleStringStatic("OK");

fn only_name(args: Vec<RedisString>, kind: Kind) -> Result<String, RedisError> {
    let mut args = command_args(args);
    let name = args.next_str(&format!("{} name", kind.name()))?;
    if !args.is_empty() {
        return Err(error("too many arguments"));
    }
    Ok(name)
}

fn check_kind(name: &str, kind: Kind) -> Result<(), RedisError> {
    match registry::kind_of(name) {
        Some(k) if k == kind => Ok(()),
        _ => Err(Error::NoSuchBridge {
            kind: kind.name(),
            name: quoted(name.as_bytes()),
        }
        .into()),
    }
}

pub fn pause(ctx: &Context, args: Vec<RedisString>, kind: Kind) -> RedisResult {
    acl::require_admin(ctx)?;
    let name = only_name(args, kind)?;
    check_kind(&name, kind)?;
    definitions::set_paused(ctx, &name, true)?;
    registry::set_paused_flag(&name, true);
    registry::set_running(&name, false, State::Paused)?;
    Ok(OK)
}

pub fn resume(ctx: &Context, args: Vec<RedisString>, kind: Kind) -> RedisResult {
    acl::require_admin(ctx)?;
    let name = only_name(args, kind)?;
    check_kind(&name, kind)?;
    definitions::set_paused(ctx, &name, false)?;
    registry::set_paused_flag(&name, false);
    match registry::restart_failed(&name)? {
        Change::Done => {}
        _ => {
            registry::set_running(&name, true, State::Stopped)?;
        }
    }
    Ok(OK)
}

/// DELETE <name> [PURGE]. Also removes a stored definition that cannot be started (shown in
/// STATUS as kind `unknown`), whatever its name holds.
pub fn delete(ctx: &Context, args: Vec<RedisString>, kind: Kind) -> RedisResult {
    acl::require_admin(ctx)?;
    let mut args = command_args(args);
    let name = args.next_bytes(&format!("{} name", kind.name()))?;
    let purge = match args.next_keyword().as_deref() {
        None => false,
        Some("PURGE") => true,
        Some(other) => {
            return Err(error(format!(
                "unknown option {} (expected PURGE)",
                quoted(other.as_bytes())
            )))
        }
    };
    if !args.is_empty() {
        return Err(error("too many arguments"));
    }
    let text = String::from_utf8_lossy(&name).to_string();
    let invalid = registry::invalid_reason(&name).is_some();
    if !invalid {
        check_kind(&text, kind)?;
        registry::remove(&text);
    }
    // On a cluster, every primary removes the per-slot progress keys it holds.
    let progress = match kind {
        Kind::Sink => offsets_key(&text),
        Kind::Source => checkpoints_key(&text),
    };
    definitions::remove(ctx, &name, purge.then_some(progress.as_str())).map_err(|e| {
        error(format!(
            "bridge stopped but its stored state was not removed: {e}"
        ))
    })?;
    if invalid {
        registry::forget_invalid(&name);
    }
    Ok(OK)
}
