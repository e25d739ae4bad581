//! Keeps everything but the module off its state keys. A command filter sees every command
//! before Redis runs it — from clients, MULTI, Lua and functions, the replication link, and
//! other modules' RM_Call — and turns any command that would write a `__kafka:` key (found by
//! the command's own key specs: HSET, SADD, DEL, RENAME/COPY/MOVE targets, RESTORE, SORT STORE,
//! ...) into `KAFKA._REFUSED`, which replies with an error. No user, admin or not, can forge,
//! change or remove a bridge through keys; bridges change only through KAFKA.* commands. On Redis
//! Cluster the resharding commands pass, so progress keys move with their slot (`cluster_moves`).
//!
//! The module's own state writes use the key API, which commands filters never see, and are
//! replicated as `KAFKA._STATE`, which only the replication link and AOF loading may run.

use crate::runtime::panic::catch_and_log;
use crate::store::cluster_moves;
use crate::store::keys::is_reserved;
use crate::store::pause_watch;
use redis_module::raw;
use std::cell::Cell;
use std::os::raw::{c_char, c_int};
use std::ptr;

pub const REFUSED_COMMAND: &str = "kafka._refused";

thread_local! {
    /// Set while the module itself runs a command on its state keys (sets have no key API).
    static MODULE_WRITING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `body` with the guard open for this thread: the module's own state commands.
pub fn as_module<T>(body: impl FnOnce() -> T) -> T {
    MODULE_WRITING.with(|w| w.set(true));
    let result = body();
    MODULE_WRITING.with(|w| w.set(false));
    result
}

pub fn register(ctx: &redis_module::Context) -> bool {
    let Some(register) = (unsafe { raw::RedisModule_RegisterCommandFilter }) else {
        return false;
    };
    !unsafe { register(ctx.ctx, Some(filter), 0) }.is_null()
}

unsafe extern "C" fn filter(fctx: *mut raw::RedisModuleCommandFilterCtx) {
    catch_and_log("command filter", || unsafe { inspect(fctx) });
}

fn arg_bytes<'a>(s: *mut raw::RedisModuleString) -> &'a [u8] {
    let Some(ptr_len) = (unsafe { raw::RedisModule_StringPtrLen }) else {
        return &[];
    };
    if s.is_null() {
        return &[];
    }
    let mut len = 0usize;
    let p = unsafe { ptr_len(s, &mut len) };
    if p.is_null() {
        return &[];
    }
    // The argument outlives this filter call; the slice does not escape it.
    unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }
}

const WRITES: u32 = raw::REDISMODULE_CMD_KEY_RW
    | raw::REDISMODULE_CMD_KEY_OW
    | raw::REDISMODULE_CMD_KEY_RM
    | raw::REDISMODULE_CMD_KEY_INSERT
    | raw::REDISMODULE_CMD_KEY_DELETE
    | raw::REDISMODULE_CMD_KEY_UPDATE
    | raw::REDISMODULE_CMD_KEY_VARIABLE_FLAGS;

unsafe fn inspect(fctx: *mut raw::RedisModuleCommandFilterCtx) {
    if MODULE_WRITING.with(Cell::get) {
        return;
    }
    let api = unsafe {
        (
            raw::RedisModule_CommandFilterArgsCount,
            raw::RedisModule_CommandFilterArgGet,
        )
    };
    let (Some(count), Some(get)) = api else {
        return;
    };
    let argc = unsafe { count(fctx) };
    watch_pauses(argc, &|i| arg_bytes(unsafe { get(fctx, i) }));
    let arg = |i: i32| arg_bytes(unsafe { get(fctx, i) }).to_vec();
    if (4..=5).contains(&argc) && crate::store::setslot_reroute::reroute(fctx, argc, arg) {
        return;
    }
    // Cheap test first: almost no command names a reserved key at all.
    let named = (1..argc).any(|i| is_reserved(arg_bytes(unsafe { get(fctx, i) })));
    if !named {
        return;
    }
    let mut argv: Vec<*mut raw::RedisModuleString> =
        (0..argc).map(|i| unsafe { get(fctx, i) }).collect();
    if let Some(&name) = argv.first() {
        let moving = crate::cluster::topology::current().is_some_and(|view| {
            argv.iter()
                .skip(1)
                .map(|&a| arg_bytes(a))
                .filter(|a| is_reserved(a))
                .all(|key| view.is_moving(crate::cluster::slots::key_slot(key)))
        });
        if cluster_moves::moves_between_shards(arg_bytes(name), server(), moving) {
            return;
        }
    }
    if writes_reserved_key(&mut argv) {
        refuse(fctx, &argv);
    }
}

/// Notes commands that pause writes (`pause_watch`); a replica told to fail over warns its
/// primary over the cluster bus before Redis sends the failover's own messages on that link.
fn watch_pauses<'a>(argc: i32, arg: &dyn Fn(i32) -> &'a [u8]) {
    if argc < 1 || !pause_watch::may_pause(arg(0)) {
        return;
    }
    let args: Vec<&[u8]> = (0..argc.min(3)).map(arg).collect();
    if let Some(pause_watch::Notice::ClusterFailover) = pause_watch::watch(&args) {
        let primary = crate::cluster::topology::current().and_then(|v| v.primary_of.clone());
        let ctx = crate::runtime::context::detached();
        let send = unsafe { raw::RedisModule_SendClusterMessage };
        if let (Some(primary), Some(send), false) = (primary, send, ctx.is_null()) {
            // Redis finds the target with strlen(): the id must end with a NUL.
            if let Ok(primary) = std::ffi::CString::new(primary) {
                unsafe {
                    send(
                        ctx,
                        primary.as_ptr(),
                        pause_watch::FAILOVER_NOTICE,
                        ptr::null(),
                        0,
                    )
                };
            }
        }
    }
}

/// The server's settings the resharding exception depends on (the same for every client).
fn server() -> cluster_moves::Server {
    let ctx = crate::runtime::context::detached();
    let (Some(get_flags), false) = (unsafe { raw::RedisModule_GetContextFlags }, ctx.is_null())
    else {
        return cluster_moves::Server::default();
    };
    let flags = unsafe { get_flags(ctx) } as u32;
    let has = |flag: u32| flags & flag != 0;
    cluster_moves::Server {
        cluster: has(raw::REDISMODULE_CTX_FLAGS_CLUSTER),
        read_only_replica: has(raw::REDISMODULE_CTX_FLAGS_SLAVE)
            && has(raw::REDISMODULE_CTX_FLAGS_READONLY),
    }
}

/// True when the command writes a reserved key, by the command's own key specs. Commands
/// Redis does not know, or with a wrong arity, pass: Redis refuses them itself.
fn writes_reserved_key(argv: &mut [*mut raw::RedisModuleString]) -> bool {
    let Some(get_keys) = (unsafe { raw::RedisModule_GetCommandKeysWithFlags }) else {
        // Without key specs, any reserved argument counts.
        return argv.iter().skip(1).any(|&a| is_reserved(arg_bytes(a)));
    };
    let mut num_keys: c_int = 0;
    let mut flags: *mut c_int = ptr::null_mut();
    let positions = unsafe {
        get_keys(
            crate::runtime::context::detached(),
            argv.as_mut_ptr(),
            argv.len() as c_int,
            &mut num_keys,
            &mut flags,
        )
    };
    if positions.is_null() {
        return false;
    }
    let count = usize::try_from(num_keys).unwrap_or(0);
    let positions_slice = unsafe { std::slice::from_raw_parts(positions, count) };
    let flags_slice: &[c_int] = if flags.is_null() {
        &[]
    } else {
        unsafe { std::slice::from_raw_parts(flags, count) }
    };
    let read_only_command = is_read_only_command(arg_bytes(argv[0]));
    let found = positions_slice.iter().enumerate().any(|(i, &pos)| {
        let writes = match flags_slice.get(i).map(|&f| f as u32) {
            // Redis 7.0 finds keys by the legacy range and gives no flags: the command decides.
            None | Some(0) => !read_only_command,
            // Only a key flagged read-only and nothing else is a plain read.
            Some(f) => f & WRITES != 0 || f & raw::REDISMODULE_CMD_KEY_RO == 0,
        };
        let key = usize::try_from(pos).ok().and_then(|p| argv.get(p).copied());
        writes && key.is_some_and(|k| is_reserved(arg_bytes(k)))
    });
    if let Some(free) = unsafe { raw::RedisModule_Free } {
        unsafe { free(positions.cast()) };
        if !flags.is_null() {
            unsafe { free(flags.cast()) };
        }
    }
    found
}

/// Commands that only read their keys, for servers whose key lookup gives no flags (7.0).
/// Anything else that names a reserved key as a key is treated as a write and refused.
const READ_ONLY_COMMANDS: &[&str] = &[
    "dump",
    "exists",
    "expiretime",
    "get",
    "hexists",
    "hget",
    "hgetall",
    "hkeys",
    "hlen",
    "hmget",
    "hrandfield",
    "hscan",
    "hstrlen",
    "hvals",
    "llen",
    "lrange",
    "memory",
    "object",
    "pexpiretime",
    "pttl",
    "scard",
    "sdiff",
    "sinter",
    "sintercard",
    "sismember",
    "smembers",
    "smismember",
    "sort_ro",
    "srandmember",
    "sscan",
    "strlen",
    "sunion",
    "touch",
    "ttl",
    "type",
    "watch",
    "xinfo",
    "xlen",
    "xrange",
    "xrevrange",
    "zcard",
    "zrange",
    "zscore",
];

fn is_read_only_command(name: &[u8]) -> bool {
    READ_ONLY_COMMANDS
        .iter()
        .any(|c| c.as_bytes().eq_ignore_ascii_case(name))
}

/// Rewrites the command into `KAFKA._REFUSED <original name> <original args...>`.
fn refuse(fctx: *mut raw::RedisModuleCommandFilterCtx, argv: &[*mut raw::RedisModuleString]) {
    let api = unsafe {
        (
            raw::RedisModule_CreateString,
            raw::RedisModule_CommandFilterArgReplace,
            raw::RedisModule_CommandFilterArgInsert,
        )
    };
    let (Some(create), Some(replace), Some(insert)) = api else {
        return;
    };
    let Some(&name) = argv.first() else {
        return;
    };
    let original = arg_bytes(name).to_vec();
    let refused = unsafe {
        create(
            ptr::null_mut(),
            REFUSED_COMMAND.as_ptr().cast::<c_char>(),
            REFUSED_COMMAND.len(),
        )
    };
    let original = unsafe {
        create(
            ptr::null_mut(),
            original.as_ptr().cast::<c_char>(),
            original.len(),
        )
    };
    if refused.is_null() || original.is_null() {
        return;
    }
    // Redis takes ownership of both strings.
    unsafe {
        insert(fctx, 1, original);
        replace(fctx, 0, refused);
    }
}
