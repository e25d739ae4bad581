//! `CLUSTER GETKEYSINSLOT <slot> <count>`, the first one for a slot this node is migrating out,
//! reaches this command instead (the command filter reroutes it, see `store::setslot_reroute`).
//! Every running sink first writes its handover into the slot (`sink::handover`): the slot is
//! already marked moving, so no sink writes it any more. Then the keys are listed as Redis
//! would, with the caller's ACL permissions, the handover key among them.

use crate::bridge::registry;
use crate::cluster::slots::SLOTS;
use crate::cluster::topology;
use crate::commands::error;
use crate::runtime::log;
use crate::sink::handover;
use crate::store::guard::as_module;
use redis_module::{
    CallOptionsBuilder, CallReply, CallResult, Context, ContextFlags, RedisResult, RedisString,
    RedisValue,
};

pub fn handover(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    let args: Vec<Vec<u8>> = args.iter().skip(1).map(|a| a.as_slice().to_vec()).collect();
    if !args
        .first()
        .is_some_and(|a| a.eq_ignore_ascii_case(b"getkeysinslot"))
    {
        return Err(error(
            "KAFKA._HANDOVER is internal: it stands in for CLUSTER GETKEYSINSLOT only",
        ));
    }
    let slot = args
        .get(1)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|s| usize::from(*s) < SLOTS);
    if let Some(slot) = slot {
        if ctx.get_flags().contains(ContextFlags::MASTER) && topology::take_handover(slot) {
            write_handovers(ctx, slot);
        }
    }
    let options = CallOptionsBuilder::new()
        .verify_acl()
        .errors_as_replies()
        .build();
    let argv: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    let reply: CallResult = as_module(|| ctx.call_ext("CLUSTER", &options, argv.as_slice()));
    match reply {
        Ok(CallReply::Array(keys)) => Ok(RedisValue::Array(
            keys.iter()
                .map(|key| match key {
                    Ok(CallReply::String(key)) => RedisValue::StringBuffer(key.as_bytes().to_vec()),
                    _ => RedisValue::Null,
                })
                .collect(),
        )),
        Ok(_) => Err(error("CLUSTER GETKEYSINSLOT gave no list")),
        Err(e) => Err(error(
            e.to_utf8_string()
                .unwrap_or_else(|| "CLUSTER GETKEYSINSLOT failed".to_string())
                .trim_start_matches("ERR ")
                .to_string(),
        )),
    }
}

fn write_handovers(ctx: &Context, slot: u16) {
    let sinks = registry::sinks(|entry| (entry.spec.name.clone(), entry.shared.clone()));
    for (name, shared) in sinks {
        if let Err(e) = handover::write(ctx, &name, &shared, slot) {
            // The new owner will find no handover for this slot and read it from its position.
            log::warning(&format!(
                "kafka: sink {name}: cannot write the handover of slot {slot}: {e}"
            ));
            shared
                .life
                .set_last_error(format!("slot {slot} moved without its handover: {e}"));
        }
    }
}
