//! Lines for the Redis log. RedisModule_Log takes a printf format: our text always goes in as
//! the argument of a constant "%s", never as the format, and is made one safe line first.

use crate::runtime::text::one_line;
use redis_module::raw;
use std::ffi::CStr;
use std::ptr;

#[derive(Clone, Copy)]
pub enum Level {
    Warning,
    Notice,
    Verbose,
}

impl Level {
    fn name(self) -> &'static CStr {
        match self {
            Level::Warning => c"warning",
            Level::Notice => c"notice",
            Level::Verbose => c"verbose",
        }
    }
}

pub fn log(level: Level, message: &str) {
    if cfg!(test) {
        return;
    }
    let line = one_line(message.as_bytes());
    // SAFETY: RedisModule_Log accepts a NULL context from any thread; both strings are valid
    // C strings for the duration of the call, and "%s" consumes exactly one argument.
    if let Some(log) = unsafe { raw::RedisModule_Log } {
        unsafe {
            log(
                ptr::null_mut(),
                level.name().as_ptr(),
                c"%s".as_ptr(),
                line.as_ptr(),
            )
        };
    }
}

pub fn warning(message: &str) {
    log(Level::Warning, message);
}

pub fn notice(message: &str) {
    log(Level::Notice, message);
}

pub fn verbose(message: &str) {
    log(Level::Verbose, message);
}
