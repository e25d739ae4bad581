//! Commands the module gives itself, not its users.
//!   KAFKA._STATE <op> <key> ...   a state change, as replicated to replicas and the AOF; runs
//!                                 only from the replication link or while loading the AOF
//!   KAFKA._STATE RECORD <record>  the same for a cluster node's bridge definition
//!   KAFKA._REFUSED <command> ...  what the guard turns a client's write to a state key into

use crate::commands::error;
use crate::module::events;
use crate::runtime::text::quoted;
use crate::store::cluster_definitions::{self, RECORD_OP};
use crate::store::definitions::in_db0;
use crate::store::keys::is_reserved;
use crate::store::write::{apply, Change};
use redis_module::{Context, ContextFlags, RedisResult, RedisString, RedisValue};

pub fn state(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    let flags = ctx.get_flags();
    if !flags.intersects(ContextFlags::REPLICATED | ContextFlags::LOADING) {
        return Err(error(
            "KAFKA._STATE is the module's replication record; it runs only from the replication link or the AOF",
        ));
    }
    let args: Vec<Vec<u8>> = args.iter().skip(1).map(|a| a.as_slice().to_vec()).collect();
    if let [op, record] = args.as_slice() {
        if op.eq_ignore_ascii_case(RECORD_OP) {
            cluster_definitions::apply_replicated(record).map_err(|e| e.context("KAFKA._STATE"))?;
            ctx.replicate_verbatim();
            events::reconcile_soon();
            return Ok(RedisValue::SimpleStringStatic("OK"));
        }
    }
    let change = Change::decode(&args).map_err(|e| e.context("KAFKA._STATE"))?;
    in_db0(ctx, || apply(ctx, &change))?;
    // A replica's own AOF gets the change too (module commands are not propagated otherwise).
    ctx.replicate_verbatim();
    events::reconcile_soon();
    Ok(RedisValue::SimpleStringStatic("OK"))
}

pub fn refused(_ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    let command = args
        .get(1)
        .map(|a| String::from_utf8_lossy(a.as_slice()).to_uppercase())
        .unwrap_or_default();
    let key = args
        .iter()
        .skip(2)
        .find(|a| is_reserved(a.as_slice()))
        .map(|a| quoted(a.as_slice()))
        .unwrap_or_else(|| "'__kafka:...'".to_string());
    Err(error(format!(
        "{command} refused: {key} belongs to the kafka module; bridges change only through KAFKA.* commands"
    )))
}
