//! RM_Call with byte arguments that allocates nothing on the Rust side per call: the sinks'
//! write path runs it for every record. redis-module's `call_ext` builds a C string of the
//! command name and two vectors per call.

use redis_module::{raw, Context};
use std::ffi::CStr;

/// Most argument slots kept between calls.
const KEPT_ARGS: usize = 1024;

/// One caller's argument vector, kept between calls, and its RM_Call flags.
pub struct Caller {
    /// RM_Call's format and flags, `v` first (the arguments are a vector of strings).
    flags: &'static CStr,
    argv: Vec<*mut raw::RedisModuleString>,
}

// The strings in `argv` live only within one `call`, under Redis's lock.
unsafe impl Send for Caller {}

impl Caller {
    pub fn new(flags: &'static CStr) -> Caller {
        Caller {
            flags,
            argv: Vec::new(),
        }
    }

    /// Runs `command` with `args`. Err carries the text of an error reply.
    pub fn call(&mut self, ctx: &Context, command: &CStr, args: &[&[u8]]) -> Result<(), String> {
        let (Some(create), Some(free), Some(call)) = (
            unsafe { raw::RedisModule_CreateString },
            unsafe { raw::RedisModule_FreeString },
            unsafe { raw::RedisModule_Call },
        ) else {
            return Err("ERR the module API is not initialised".to_string());
        };
        self.argv.clear();
        for arg in args {
            self.argv
                .push(unsafe { create(ctx.ctx, arg.as_ptr().cast(), arg.len()) });
        }
        // RM_Call takes its own references to the argument strings.
        let reply = unsafe {
            call(
                ctx.ctx,
                command.as_ptr(),
                self.flags.as_ptr(),
                self.argv.as_mut_ptr(),
                self.argv.len(),
            )
        };
        for arg in self.argv.drain(..) {
            unsafe { free(ctx.ctx, arg) };
        }
        if self.argv.capacity() > KEPT_ARGS {
            // One write with very many fields must not pin its vector for the whole run.
            self.argv = Vec::new();
        }
        if reply.is_null() {
            return Ok(());
        }
        let outcome = reply_outcome(reply);
        if let Some(free_reply) = unsafe { raw::RedisModule_FreeCallReply } {
            unsafe { free_reply(reply) };
        }
        outcome
    }
}

fn reply_outcome(reply: *mut raw::RedisModuleCallReply) -> Result<(), String> {
    let (Some(kind), Some(text)) = (unsafe { raw::RedisModule_CallReplyType }, unsafe {
        raw::RedisModule_CallReplyStringPtr
    }) else {
        return Ok(());
    };
    if unsafe { kind(reply) } != raw::REDISMODULE_REPLY_ERROR as i32 {
        return Ok(());
    }
    let mut len = 0usize;
    let ptr = unsafe { text(reply, &mut len) };
    if ptr.is_null() {
        return Err(String::new());
    }
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    Err(String::from_utf8_lossy(bytes).into_owned())
}
