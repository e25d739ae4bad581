//! Bridge changes are administrative: they start threads, open network connections and write
//! module state. On servers that let modules set ACL categories (Redis 7.2+, Valkey), the write
//! commands join @admin and @dangerous. Redis 7.0 cannot categorize module commands, so there
//! the commands themselves refuse users who may not run CONFIG SET (an @admin command), with
//! the NOPERM error ACL would give.

use crate::error::Error;
use redis_module::{raw, Context, RedisString};

/// True when the server put the commands in @admin itself.
static CATEGORIZED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Called once the commands are registered: true when every command that changes bridges
/// joined @admin (Redis 7.2+, Valkey), so ACL itself refuses other users.
pub fn set_categorized(all: bool) {
    CATEGORIZED.store(all, std::sync::atomic::Ordering::Relaxed);
}

/// NOPERM unless the calling user may run CONFIG SET, for the commands that change bridges
/// (ACL already checked them where the server categorized them).
pub fn require_admin(ctx: &Context) -> Result<(), Error> {
    if CATEGORIZED.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(());
    }
    check_admin(ctx, "change Kafka bridges")
}

/// NOPERM unless the calling user may run CONFIG SET, on every server: for a part of a command
/// that is administrative when the command as a whole is not.
pub fn check_admin(ctx: &Context, what: &str) -> Result<(), Error> {
    let api = unsafe {
        (
            raw::RedisModule_GetCurrentUserName,
            raw::RedisModule_GetModuleUserFromUserName,
            raw::RedisModule_ACLCheckCommandPermissions,
            raw::RedisModule_FreeModuleUser,
            raw::RedisModule_FreeString,
        )
    };
    let (Some(current), Some(lookup), Some(check), Some(free), Some(free_string)) = api else {
        return Ok(());
    };
    let name = unsafe { current(ctx.ctx) };
    if name.is_null() {
        // No client (internal call): nothing to check.
        return Ok(());
    }
    let user = unsafe { lookup(name) };
    unsafe { free_string(std::ptr::null_mut(), name) };
    if user.is_null() {
        return Ok(());
    }
    let probe: Vec<RedisString> = ["CONFIG", "SET", "kafka.brokers", ""]
        .iter()
        .map(|a| RedisString::create(None, *a))
        .collect();
    let mut argv: Vec<*mut raw::RedisModuleString> = probe.iter().map(|s| s.inner).collect();
    let allowed =
        unsafe { check(user, argv.as_mut_ptr(), argv.len() as i32) } == raw::REDISMODULE_OK as i32;
    unsafe { free(user) };
    if allowed {
        Ok(())
    } else {
        Err(Error::NoPerm(format!(
            "this user has no permissions to {what} (needs @admin, like CONFIG SET)"
        )))
    }
}
