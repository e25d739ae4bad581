//! Registers the table's commands with Redis: RM_CreateCommand with one C entry point per
//! command (Redis passes no per-command data), COMMAND DOCS text through RM_SetCommandInfo, and
//! the @admin @dangerous categories for commands that change bridges where the server allows.

use crate::commands::table::{Command, COMMANDS};
use crate::error::Error;
use crate::module::acl;
use crate::runtime::reply::guarded;
use redis_module::{raw, Context};
use std::ffi::CString;
use std::os::raw::c_int;
use std::ptr;

type EntryPoint =
    extern "C" fn(*mut raw::RedisModuleCtx, *mut *mut raw::RedisModuleString, c_int) -> c_int;

/// What Redis calls for the command at `index`: its handler inside the panic boundary.
fn dispatch(
    index: usize,
    ctx: *mut raw::RedisModuleCtx,
    argv: *mut *mut raw::RedisModuleString,
    argc: c_int,
) -> c_int {
    let context = Context::new(ctx);
    if let Some(command) = COMMANDS.get(index) {
        let args = redis_module::decode_args(ctx, argv, argc);
        let _ = guarded(&context, args, command.handler);
    }
    raw::REDISMODULE_OK as c_int
}

macro_rules! entry_points {
    ($($index:literal)*) => {
        [$({
            extern "C" fn entry(
                ctx: *mut raw::RedisModuleCtx,
                argv: *mut *mut raw::RedisModuleString,
                argc: c_int,
            ) -> c_int {
                dispatch($index, ctx, argv, argc)
            }
            entry as EntryPoint
        }),*]
    };
}

static ENTRY_POINTS: [EntryPoint; COMMANDS.len()] =
    entry_points!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18);

const COMMAND_INFO_VERSION: raw::RedisModuleCommandInfoVersion =
    raw::RedisModuleCommandInfoVersion {
        version: 1,
        sizeof_historyentry: std::mem::size_of::<raw::RedisModuleCommandHistoryEntry>(),
        sizeof_keyspec: std::mem::size_of::<raw::RedisModuleCommandKeySpec>(),
        sizeof_arg: std::mem::size_of::<raw::RedisModuleCommandArg>(),
    };

pub fn register_all(ctx: &Context) -> Result<(), Error> {
    let mut all_categorized = true;
    for (command, entry) in COMMANDS.iter().zip(ENTRY_POINTS) {
        all_categorized &= register(ctx, command, entry)
            .map_err(|e| e.context(&format!("registering {}", command.name)))?;
    }
    acl::set_categorized(all_categorized);
    Ok(())
}

/// Returns whether an admin command got its ACL categories (always true for the others).
fn register(ctx: &Context, command: &Command, entry: EntryPoint) -> Result<bool, Error> {
    let text = |s: &str| CString::new(s).map_err(|_| Error::Internal("NUL in the table".into()));
    let name = text(command.name)?;
    let flags = text(command.flags)?;
    let create = unsafe { raw::RedisModule_CreateCommand }
        .ok_or_else(|| Error::Internal("no RM_CreateCommand".to_string()))?;
    if unsafe { create(ctx.ctx, name.as_ptr(), Some(entry), flags.as_ptr(), 0, 0, 0) }
        != raw::REDISMODULE_OK as c_int
    {
        return Err(Error::Internal(
            "the server refused the command".to_string(),
        ));
    }
    let Some(get_command) = (unsafe { raw::RedisModule_GetCommand }) else {
        return Ok(!command.admin);
    };
    let handle = unsafe { get_command(ctx.ctx, name.as_ptr()) };
    if handle.is_null() {
        return Err(Error::Internal(
            "the command vanished after creation".to_string(),
        ));
    }
    if let Some(set_info) = unsafe { raw::RedisModule_SetCommandInfo } {
        let summary = text(&if command.usage.is_empty() {
            command.summary.to_string()
        } else {
            format!(
                "{}. Usage: {} {}",
                command.summary,
                command.name.to_uppercase(),
                command.usage
            )
        })?;
        let complexity = text(command.complexity)?;
        let since = text(command.since)?;
        // Arity stays unset (-1): the handlers' own errors name what is missing.
        let info = raw::RedisModuleCommandInfo {
            version: &COMMAND_INFO_VERSION,
            summary: summary.as_ptr(),
            complexity: complexity.as_ptr(),
            since: since.as_ptr(),
            history: ptr::null_mut(),
            tips: ptr::null(),
            arity: 0,
            key_specs: ptr::null_mut(),
            args: ptr::null_mut(),
        };
        if unsafe { set_info(handle, &info) } != raw::REDISMODULE_OK as c_int {
            return Err(Error::Internal(
                "the server refused the command info".to_string(),
            ));
        }
    }
    if !command.admin {
        return Ok(true);
    }
    let Some(set_categories) = (unsafe { raw::RedisModule_SetCommandACLCategories }) else {
        return Ok(false);
    };
    let categories = text("admin dangerous")?;
    Ok(unsafe { set_categories(handle, categories.as_ptr()) } == raw::REDISMODULE_OK as c_int)
}
