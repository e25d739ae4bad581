//! `KAFKA.STATUS <name> CLUSTER` on a Redis Cluster node: this node asks every other primary
//! for its part of the bridge over the cluster bus, and replies once all have answered, or
//! after `WAIT` with the primaries that did not answer listed as unreachable. One entry per
//! shard: `node`, `address`, then that primary's own STATUS of the bridge (or the error it
//! gave, or `unreachable`).

use crate::cluster::topology;
use crate::commands::error;
use crate::module::cluster_bus::{self, NodeId};
use crate::runtime::blocked::Blocked;
use crate::runtime::panic::catch_and_log;
use crate::runtime::reply::Reply;
use parking_lot::Mutex;
use redis_module::{Context, RedisError, RedisResult, RedisValue};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long the asking node waits for the others.
const WAIT: Duration = Duration::from_millis(1500);

struct Pending {
    blocked: Blocked,
    /// Node id -> its part (None until it answers), in `CLUSTER NODES` order.
    shards: BTreeMap<String, (String, Option<Value>)>,
}

static PENDING: Mutex<BTreeMap<u64, Pending>> = Mutex::new(BTreeMap::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Starts the request; `local` is this node's own STATUS of the bridge.
pub fn ask(ctx: &Context, name: &str, local: Result<Reply, RedisError>) -> RedisResult {
    let Some(view) = topology::current() else {
        return Err(error("this node does not know the cluster's primaries yet"));
    };
    let mut shards = BTreeMap::new();
    for primary in &view.primaries {
        shards.insert(primary.id.clone(), (primary.address.clone(), None));
    }
    let me = view.node_id.clone();
    let address = shards.get(&me).map(|s| s.0.clone()).unwrap_or_default();
    shards.insert(me.clone(), (address, Some(to_json(&local))));
    let Some(blocked) = Blocked::block(ctx) else {
        return Err(error(
            "KAFKA.STATUS ... CLUSTER waits for the other primaries, and this client cannot block",
        ));
    };
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let others: Vec<String> = shards.keys().filter(|n| **n != me).cloned().collect();
    PENDING.lock().insert(id, Pending { blocked, shards });
    let request = json!({ "id": id, "name": name }).to_string();
    for node in others {
        if let Ok(target) = NodeId::try_from(node.as_bytes()) {
            cluster_bus::send(
                ctx,
                Some(&target),
                cluster_bus::STATUS_ASK,
                request.as_bytes(),
            );
        }
    }
    ctx.create_timer(WAIT, |_ctx: &Context, id: u64| finish(id), id);
    finish_if_complete(id);
    Ok(RedisValue::NoReply)
}

/// Another primary asks for this node's part: `local` builds it.
pub fn on_ask(
    ctx: &Context,
    sender: &NodeId,
    payload: &[u8],
    local: impl Fn(&str) -> Result<Reply, RedisError>,
) {
    let Ok(request) = serde_json::from_slice::<Value>(payload) else {
        return;
    };
    let (Some(id), Some(name)) = (
        request.get("id").and_then(Value::as_u64),
        request.get("name").and_then(Value::as_str),
    ) else {
        return;
    };
    let answer = json!({ "id": id, "status": to_json(&local(name)) }).to_string();
    cluster_bus::send(
        ctx,
        Some(sender),
        cluster_bus::STATUS_REPLY,
        answer.as_bytes(),
    );
}

pub fn on_reply(sender: &NodeId, payload: &[u8]) {
    let Ok(reply) = serde_json::from_slice::<Value>(payload) else {
        return;
    };
    let Some(id) = reply.get("id").and_then(Value::as_u64) else {
        return;
    };
    let node = String::from_utf8_lossy(sender).into_owned();
    if let Some(pending) = PENDING.lock().get_mut(&id) {
        if let Some(shard) = pending.shards.get_mut(&node) {
            shard.1 = Some(reply.get("status").cloned().unwrap_or(Value::Null));
        }
    }
    finish_if_complete(id);
}

fn finish_if_complete(id: u64) {
    let complete = PENDING
        .lock()
        .get(&id)
        .is_some_and(|p| p.shards.values().all(|s| s.1.is_some()));
    if complete {
        finish(id);
    }
}

fn finish(id: u64) {
    catch_and_log("cluster status reply", || {
        let Some(pending) = PENDING.lock().remove(&id) else {
            return;
        };
        let shards = pending
            .shards
            .into_iter()
            .map(|(node, (address, part))| {
                Reply::pairs(vec![
                    "node".into(),
                    node.into(),
                    "address".into(),
                    address.into(),
                    "status".into(),
                    part.map_or_else(|| "unreachable".into(), |p| from_json(&p)),
                ])
            })
            .collect();
        pending.blocked.answer_tree(Ok(Reply::List(shards)));
    });
}

/// A STATUS reply as JSON for the bus: arrays, strings, integers and nulls; a map as
/// `{"map": [[name, value], ...]}` (in order); an error as `{"error": text}`.
fn to_json(reply: &Result<Reply, RedisError>) -> Value {
    match reply {
        Ok(reply) => reply_to_json(reply),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

fn reply_to_json(reply: &Reply) -> Value {
    match reply {
        Reply::Value(value) => value_to_json(value),
        Reply::List(items) => Value::Array(items.iter().map(reply_to_json).collect()),
        Reply::Map(pairs) => {
            let pairs: Vec<Value> = pairs
                .iter()
                .map(|(name, value)| json!([name, reply_to_json(value)]))
                .collect();
            json!({ "map": pairs })
        }
    }
}

fn value_to_json(value: &RedisValue) -> Value {
    match value {
        RedisValue::Integer(i) => json!(i),
        RedisValue::Array(items) => Value::Array(items.iter().map(value_to_json).collect()),
        RedisValue::SimpleStringStatic(s) => json!(s),
        RedisValue::SimpleString(s) | RedisValue::BulkString(s) => json!(s),
        RedisValue::StringBuffer(b) => json!(String::from_utf8_lossy(b)),
        RedisValue::BulkRedisString(s) => json!(s.to_string_lossy()),
        RedisValue::Null => Value::Null,
        other => json!(format!("{other:?}")),
    }
}

fn from_json(value: &Value) -> Reply {
    match value {
        Value::Null => RedisValue::Null.into(),
        Value::Number(n) => n.as_i64().map_or_else(|| n.to_string().into(), Reply::from),
        Value::String(s) => RedisValue::BulkString(s.clone()).into(),
        Value::Array(items) => Reply::List(items.iter().map(from_json).collect()),
        Value::Object(object) => {
            if let Some(Value::Array(pairs)) = object.get("map") {
                return Reply::Map(
                    pairs
                        .iter()
                        .filter_map(|pair| match pair.as_array()?.as_slice() {
                            [Value::String(name), value] => Some((name.clone(), from_json(value))),
                            _ => None,
                        })
                        .collect(),
                );
            }
            match object.get("error").and_then(Value::as_str) {
                Some(text) => RedisValue::BulkString(format!("error: {text}")).into(),
                None => RedisValue::BulkString(value.to_string()).into(),
            }
        }
        Value::Bool(b) => i64::from(*b).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_crosses_the_bus_with_its_maps_in_order() {
        let status = Reply::pairs(vec![
            "name".into(),
            "s".into(),
            "records".into(),
            5.into(),
            "last_error_at_ms".into(),
            RedisValue::Null.into(),
            "partitions".into(),
            Reply::List(vec![Reply::pairs(vec!["topic".into(), "t".into()])]),
            "config".into(),
            Reply::Map(Vec::new()),
        ]);
        let json = to_json(&Ok(status));
        let back = from_json(&json);
        let expected = Reply::Map(vec![
            ("name".into(), RedisValue::BulkString("s".into()).into()),
            ("records".into(), 5.into()),
            ("last_error_at_ms".into(), RedisValue::Null.into()),
            (
                "partitions".into(),
                Reply::List(vec![Reply::Map(vec![(
                    "topic".into(),
                    RedisValue::BulkString("t".into()).into(),
                )])]),
            ),
            ("config".into(), Reply::Map(Vec::new())),
        ]);
        assert_eq!(back, expected);
        // A node of the previous version sends flat arrays: they stay arrays.
        let old = from_json(&json!(["name", "s"]));
        assert!(matches!(old, Reply::List(items) if items.len() == 2));
    }
}
