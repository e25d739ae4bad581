//! What both CREATE commands share: the prologue (secrets hidden from SLOWLOG/MONITOR, admin
//! check), the duplicate-name check, and storing the definition before starting the bridge.

use crate::bridge::{reconcile, registry};
use crate::error::Error;
use crate::kafka::redact::redact_command;
use crate::lifecycle::now_ms;
use crate::module::acl;
use crate::store::definitions::{self, Definition, Kind};
use redis_module::{Context, RedisError, RedisResult, RedisString, RedisValue};

/// Hides secret CONFIG values, checks the caller may change bridges, and returns the arguments
/// after the name as they will be stored.
pub fn prologue(ctx: &Context, args: &[RedisString]) -> Result<Vec<String>, RedisError> {
    redact_command(ctx, args);
    acl::require_admin(ctx)?;
    Ok(create_arguments(args))
}

/// Stores a new bridge's definition (persisted and replicated with the dataset) and starts it.
pub fn persist_and_start(ctx: &Context, name: &str, kind: Kind, args: Vec<String>) -> RedisResult {
    let definition = Definition {
        kind,
        args,
        created_ms: now_ms(),
        paused: false,
    };
    definitions::save(ctx, name, &definition)?;
    reconcile::instantiate(name, definition, true)?;
    Ok(RedisValue::SimpleStringStatic("OK"))
}

/// The duplicate-name check shared by both CREATE commands.
pub fn check_new_name(name: &str) -> Result<(), RedisError> {
    if registry::contains(name) {
        return Err(Error::BridgeExists(name.to_string()).into());
    }
    Ok(())
}

/// The CREATE arguments after the name, as stored in the bridge's definition.
pub fn create_arguments(args: &[RedisString]) -> Vec<String> {
    args.iter()
        .skip(2)
        .map(|a| String::from_utf8_lossy(a.as_slice()).to_string())
        .collect()
}
