//! `CLUSTER SETSLOT <slot> MIGRATING <node>` reaches this command instead (the command filter
//! reroutes it, see `store::setslot_reroute`): before the slot starts to move, every sink
//! writes its handover entry into the slot (`sink::handover`) and stops writing the slot; then
//! the real SETSLOT runs, with the caller's ACL permissions.

use crate::bridge::registry;
use crate::cluster::slots::SLOTS;
use crate::cluster::topology;
use crate::commands::error;
use crate::runtime::log;
use crate::sink::handover;
use crate::store::guard::as_module;
use redis_module::{
    CallOptionsBuilder, CallResult, Context, ContextFlags, RedisResult, RedisString, RedisValue,
};

pub fn setslot(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    let args: Vec<Vec<u8>> = args.iter().skip(1).map(|a| a.as_slice().to_vec()).collect();
    let slot = args
        .get(1)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|s| usize::from(*s) < SLOTS);
    if let Some(slot) = slot {
        if ctx.get_flags().contains(ContextFlags::MASTER) {
            hand_over(ctx, slot);
        }
    }
    let options = CallOptionsBuilder::new()
        .verify_acl()
        .errors_as_replies()
        .build();
    let argv: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    let reply: CallResult = as_module(|| ctx.call_ext("CLUSTER", &options, argv.as_slice()));
    match reply {
        Ok(_) => Ok(RedisValue::SimpleStringStatic("OK")),
        Err(e) => Err(error(
            e.to_utf8_string()
                .unwrap_or_else(|| "CLUSTER SETSLOT failed".to_string())
                .trim_start_matches("ERR ")
                .to_string(),
        )),
    }
}

fn hand_over(ctx: &Context, slot: u16) {
    topology::mark_moving(slot);
    let sinks = registry::sinks(|entry| (entry.spec.name.clone(), entry.shared.clone()));
    for (name, shared) in sinks {
        if let Err(e) = handover::write(ctx, &name, &shared, slot) {
            // The new owner will find no entry for this slot and read it from its own position.
            log::warning(&format!(
                "kafka: sink {name}: cannot write the handover of slot {slot}: {e}"
            ));
            shared
                .life
                .set_last_error(format!("slot {slot} moved without its handover: {e}"));
        }
    }
}
