//! `CLUSTER SETSLOT <slot> MIGRATING <node>` reaches this command instead (the command filter
//! reroutes it, see `store::setslot_reroute`): before the slot starts to move, every sink
//! writes its handover entry into the slot (`sink::handover`) and stops writing the slot; then
//! the real SETSLOT runs, with the caller's ACL permissions.

use crate::bridge::registry;
use crate::cluster::slots::SLOTS;
use crate::cluster::topology;
use crate::commands::error;
use crate::runtime::blocked::Blocked;
use crate::runtime::log;
use crate::sink::handover;
use crate::store::guard::as_module;
use redis_module::{
    raw, CallOptionsBuilder, CallResult, Context, ContextFlags, RedisResult, RedisString,
    RedisValue,
};
use std::os::raw::{c_char, c_int, c_void};

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
    let argv: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    if !may_block() {
        let options = CallOptionsBuilder::new()
            .verify_acl()
            .errors_as_replies()
            .build();
        let reply: CallResult = as_module(|| ctx.call_ext("CLUSTER", &options, argv.as_slice()));
        return reply_of(reply);
    }
    // Valkey 8 replicates SETSLOT and answers once its replicas have it: the call may block.
    as_module(|| blocking_call(ctx, &argv))
}

/// `CLUSTER <argv>` through RM_Call with the `K` flag (blocking allowed): answered now, or,
/// when the command blocks, this client is blocked until it is answered.
fn blocking_call(ctx: &Context, argv: &[&[u8]]) -> RedisResult {
    let api = unsafe {
        (
            raw::RedisModule_Call,
            raw::RedisModule_CreateString,
            raw::RedisModule_FreeString,
            raw::RedisModule_CallReplyType,
            raw::RedisModule_CallReplyPromiseSetUnblockHandler,
            raw::RedisModule_FreeCallReply,
        )
    };
    let (
        Some(call),
        Some(create),
        Some(free_string),
        Some(reply_type),
        Some(on_unblock),
        Some(free),
    ) = api
    else {
        return Err(error(
            "this server lacks the module API to run CLUSTER SETSLOT",
        ));
    };
    let strings: Vec<*mut raw::RedisModuleString> = argv
        .iter()
        .map(|a| unsafe { create(std::ptr::null_mut(), a.as_ptr().cast::<c_char>(), a.len()) })
        .collect();
    let reply = unsafe {
        call(
            ctx.ctx,
            c"CLUSTER".as_ptr(),
            c"vECK".as_ptr(),
            strings.as_ptr(),
            strings.len(),
        )
    };
    for string in strings {
        unsafe { free_string(std::ptr::null_mut(), string) };
    }
    if reply.is_null() {
        return Err(error("CLUSTER SETSLOT could not run"));
    }
    if unsafe { reply_type(reply) } != raw::REDISMODULE_REPLY_PROMISE as c_int {
        let result = reply_text(reply);
        unsafe { free(reply) };
        return result;
    }
    let Some(blocked) = Blocked::block(ctx) else {
        unsafe { free(reply) };
        return Err(error(
            "CLUSTER SETSLOT must wait for replicas, and this client cannot block",
        ));
    };
    let blocked = Box::into_raw(Box::new(blocked));
    unsafe {
        on_unblock(reply, Some(answer), blocked.cast());
        // The promise outlives its reply object: the handler is called all the same.
        free(reply);
    }
    Ok(RedisValue::NoReply)
}

unsafe extern "C" fn answer(
    _ctx: *mut raw::RedisModuleCtx,
    reply: *mut raw::RedisModuleCallReply,
    blocked: *mut c_void,
) {
    if blocked.is_null() {
        return;
    }
    let blocked = unsafe { Box::from_raw(blocked.cast::<Blocked>()) };
    blocked.answer(reply_text(reply));
}

/// OK, or the error Redis replied with.
fn reply_text(reply: *mut raw::RedisModuleCallReply) -> RedisResult {
    let api = unsafe {
        (
            raw::RedisModule_CallReplyType,
            raw::RedisModule_CallReplyStringPtr,
        )
    };
    let (Some(reply_type), Some(string_ptr)) = api else {
        return Ok(RedisValue::SimpleStringStatic("OK"));
    };
    if reply.is_null() || unsafe { reply_type(reply) } != raw::REDISMODULE_REPLY_ERROR as c_int {
        return Ok(RedisValue::SimpleStringStatic("OK"));
    }
    let mut len = 0usize;
    let text = unsafe { string_ptr(reply, &mut len) };
    let message = if text.is_null() {
        "CLUSTER SETSLOT failed".to_string()
    } else {
        String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(text.cast::<u8>(), len) })
            .into_owned()
    };
    Err(error(message.trim_start_matches("ERR ")))
}

fn reply_of(reply: CallResult<'_>) -> RedisResult {
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

/// Blocking RM_Call exists from Redis 7.2 (and in every Valkey).
fn may_block() -> bool {
    let Some(version) = (unsafe { raw::RedisModule_GetServerVersion }) else {
        return false;
    };
    (unsafe { version() }) >= 0x0007_0200
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
