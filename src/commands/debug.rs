//! KAFKA.DEBUG: fault injection, so the tests can prove the panic boundary from outside.
//! Like Redis's own DEBUG it is off unless the module is loaded with `kafka.debug-command yes`,
//! and it is an admin command.
//!   KAFKA.DEBUG PANIC                 this command panics
//!   KAFKA.DEBUG PANIC-WORKER <name>   the bridge's worker panics at its next loop
//!   KAFKA.DEBUG PANIC-EVENT           the next cron event handler panics
//!   KAFKA.DEBUG ALLOCATIONS           the module's Rust heap allocations since load (only in a
//!                                     build with the `count-allocations` feature, for the bench)

use crate::commands::{command_args, error};
use crate::module::acl;
use crate::runtime::{alloc_count, faults};
use crate::settings;
use redis_module::{Context, RedisResult, RedisString, RedisValue};

pub fn debug(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    acl::require_admin(ctx)?;
    if !settings::debug_command_enabled() {
        return Err(error(
            "KAFKA.DEBUG is disabled: load the module with kafka.debug-command yes",
        ));
    }
    let mut args = command_args(args);
    let subcommand = args
        .next_keyword()
        .ok_or_else(|| error("missing KAFKA.DEBUG subcommand"))?;
    match subcommand.as_str() {
        "PANIC" => panic!("KAFKA.DEBUG PANIC"),
        "PANIC-WORKER" => {
            faults::arm_worker_panic(args.next_str("bridge name")?);
        }
        "PANIC-EVENT" => faults::arm_event_panic(),
        "ALLOCATIONS" => {
            return match alloc_count::allocations() {
                Some(count) => Ok(RedisValue::Integer(count.min(i64::MAX as u64) as i64)),
                None => Err(error(
                    "this build does not count allocations: build with --features count-allocations",
                )),
            };
        }
        _ => return Err(error("unknown KAFKA.DEBUG subcommand")),
    }
    Ok(RedisValue::SimpleStringStatic("OK"))
}
