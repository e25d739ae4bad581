//! Keeps bridge definitions the same on every primary of a Redis Cluster, over the cluster
//! bus (no coordination service of our own). A change made on one primary is broadcast as a
//! RECORD; every primary gossips a DIGEST of its definitions every few seconds, and one that
//! sees a different digest asks the sender for everything (WANT). Merging records in any order
//! gives the same table (`shared_definitions`), so the primaries converge, including nodes
//! that join later or missed messages while they were down. Replicas take no part: they get
//! definitions from their primary's replication stream, like any data.

use crate::module::events::reconcile_soon;
use crate::runtime::log;
use crate::runtime::panic::catch_and_log;
use crate::runtime::pause;
use crate::store::cluster_definitions;
use crate::store::pause_watch::{CLUSTER_FAILOVER_HOLD, FAILOVER_NOTICE};
use crate::store::shared_definitions::Record;
use redis_module::{raw, Context, ContextFlags};
use serde_json::{json, Value};
use std::os::raw::c_char;

const RECORD: u8 = 1;
const DIGEST: u8 = 2;
const WANT: u8 = 3;
/// `KAFKA.STATUS <name> CLUSTER` (handled by the commands, see `set_status_handler`).
pub const STATUS_ASK: u8 = 4;
pub const STATUS_REPLY: u8 = 5;
/// Cluster node ids are 40 characters, not NUL-terminated in the receiver's arguments.
const NODE_ID_LEN: usize = 40;
pub type NodeId = [u8; NODE_ID_LEN];
type StatusHandler = fn(&Context, &NodeId, u8, &[u8]);
/// Set by the commands at load: the bus stays below them in the layers.
static STATUS_HANDLER: std::sync::OnceLock<StatusHandler> = std::sync::OnceLock::new();

pub fn set_status_handler(handler: StatusHandler) {
    let _ = STATUS_HANDLER.set(handler);
}
/// Cron ticks between two digests (Redis runs cron 10 times a second by default).
const DIGEST_EVERY: u64 = 20;

pub fn register(ctx: &Context) {
    let Some(register) = (unsafe { raw::RedisModule_RegisterClusterMessageReceiver }) else {
        log::warning("kafka: this server has no cluster bus API; definitions will not spread");
        return;
    };
    for kind in [
        RECORD,
        DIGEST,
        WANT,
        STATUS_ASK,
        STATUS_REPLY,
        FAILOVER_NOTICE,
    ] {
        unsafe { register(ctx.ctx, kind, Some(on_message)) };
    }
}

/// Sends what changed here since the last tick, and now and then this node's digest.
pub fn on_tick(ctx: &Context, tick: u64) {
    if !ctx.get_flags().contains(ContextFlags::MASTER) {
        cluster_definitions::take_outbox();
        return;
    }
    for record in cluster_definitions::take_outbox() {
        send(ctx, None, RECORD, &record);
    }
    if tick.is_multiple_of(DIGEST_EVERY) {
        let (digest, count) = cluster_definitions::digest();
        let payload = json!({ "digest": digest, "count": count }).to_string();
        send(ctx, None, DIGEST, payload.as_bytes());
    }
}

/// `target` None broadcasts to every node.
pub fn send(ctx: &Context, target: Option<&[u8; NODE_ID_LEN]>, kind: u8, payload: &[u8]) {
    let Some(send) = (unsafe { raw::RedisModule_SendClusterMessage }) else {
        return;
    };
    let Ok(len) = u32::try_from(payload.len()) else {
        return;
    };
    // Redis finds the target with strlen(): the id must end with a NUL.
    let target: Option<[u8; NODE_ID_LEN + 1]> = target.map(|t| {
        let mut id = [0u8; NODE_ID_LEN + 1];
        id[..NODE_ID_LEN].copy_from_slice(t);
        id
    });
    let target = target
        .as_ref()
        .map_or(std::ptr::null(), |t| t.as_ptr().cast::<c_char>());
    // A node that is down misses the message; the digests repair that later.
    unsafe {
        send(
            ctx.ctx,
            target,
            kind,
            payload.as_ptr().cast::<c_char>(),
            len,
        )
    };
}

unsafe extern "C" fn on_message(
    ctx: *mut raw::RedisModuleCtx,
    sender_id: *const c_char,
    kind: u8,
    payload: *const u8,
    len: u32,
) {
    catch_and_log("cluster bus message", || {
        if sender_id.is_null() || (payload.is_null() && len > 0) {
            return;
        }
        let mut sender = [0u8; NODE_ID_LEN];
        let id = unsafe { std::slice::from_raw_parts(sender_id.cast::<u8>(), NODE_ID_LEN) };
        sender.copy_from_slice(id);
        let payload: &[u8] = if len == 0 {
            &[]
        } else {
            unsafe { std::slice::from_raw_parts(payload, len as usize) }
        };
        let ctx = Context::new(ctx);
        if !ctx.get_flags().contains(ContextFlags::MASTER) {
            return;
        }
        if kind == FAILOVER_NOTICE {
            // This primary's replica will take over: Redis pauses writes here meanwhile.
            pause::hold_for(CLUSTER_FAILOVER_HOLD);
            log::notice(
                "kafka: a replica is taking over by CLUSTER FAILOVER: bridges hold their writes",
            );
            return;
        }
        if matches!(kind, STATUS_ASK | STATUS_REPLY) {
            if let Some(handler) = STATUS_HANDLER.get() {
                handler(&ctx, &sender, kind, payload);
            }
            return;
        }
        handle(&ctx, &sender, kind, payload);
    });
}

fn handle(ctx: &Context, sender: &[u8; NODE_ID_LEN], kind: u8, payload: &[u8]) {
    match kind {
        // A record merged now would be replicated while writes are paused; the digests bring
        // it again later.
        RECORD if pause::writes_held() => {}
        RECORD => match Record::decode(payload) {
            Ok(record) => {
                if cluster_definitions::merge_received(ctx, record) {
                    reconcile_soon();
                }
            }
            Err(e) => log::warning(&format!(
                "kafka: a definition from node {} was refused: {e}",
                String::from_utf8_lossy(sender)
            )),
        },
        DIGEST => {
            let theirs: Option<(u64, u64)> = serde_json::from_slice::<Value>(payload)
                .ok()
                .and_then(|v| Some((v.get("digest")?.as_u64()?, v.get("count")?.as_u64()?)));
            let (digest, _) = cluster_definitions::digest();
            if theirs.is_some_and(|(their_digest, _)| their_digest != digest) {
                send(ctx, Some(sender), WANT, &[]);
            }
        }
        WANT => {
            for record in cluster_definitions::encoded_records() {
                send(ctx, Some(sender), RECORD, &record);
            }
        }
        _ => {}
    }
}
