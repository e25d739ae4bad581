//! Allocations per record (issue 16): the module built with `--features count-allocations`
//! runs a sink of each type over the N/4 topic, and a source backfills N/4 stream entries.
//! `KAFKA.DEBUG ALLOCATIONS` before CREATE and after the last record gives the module's Rust
//! heap allocations (not librdkafka's, not Redis's) per record, everything the worker does
//! included.

use crate::kafka::delete_topics;
use crate::probes::{wait_records, xadd_pipelined};
use crate::sink::create_sink;
use crate::{Ctx, TOPIC_QUARTER};
use redis::Connection;
use std::path::Path;

const SINK_TYPES: [&str; 4] = ["STRING", "HASH", "STREAM", "JSON"];

pub fn per_record(ctx: &Ctx, module: &Path) -> Vec<(String, f64)> {
    let records = ctx.cfg.quarter();
    let mut out = Vec::new();
    for sink_type in SINK_TYPES {
        if sink_type == "JSON" && ctx.cfg.rejson.is_none() {
            continue;
        }
        let redis = ctx.redis_with(module, true);
        let mut conn = redis.conn();
        let before = allocations(&mut conn);
        create_sink(ctx, &mut conn, sink_type, TOPIC_QUARTER, "bench-alloc");
        wait_records(&mut conn, "b", records);
        let per_record = (allocations(&mut conn) - before) as f64 / records as f64;
        out.push((format!("sink {sink_type}"), per_record));
    }

    let redis = ctx.redis_with(module, true);
    let mut conn = redis.conn();
    xadd_pipelined(&mut conn, ctx.workload, records);
    let before = allocations(&mut conn);
    let reply: String = redis::cmd("KAFKA.SOURCE.CREATE")
        .arg(&["s", "STREAMS", "src:*", "FROM", "BEGINNING", "PARTITIONS"])
        .arg(ctx.cfg.partitions)
        .query(&mut conn)
        .unwrap_or_else(|e| panic!("KAFKA.SOURCE.CREATE s: {e}"));
    assert_eq!(reply, "OK", "KAFKA.SOURCE.CREATE replied {reply}");
    wait_records(&mut conn, "s", records);
    out.push((
        "source backfill".to_string(),
        (allocations(&mut conn) - before) as f64 / records as f64,
    ));
    drop(conn);
    drop(redis);
    let topics = ctx.workload.source_topics();
    delete_topics(
        &ctx.tansu.bootstrap(),
        &topics.each_ref().map(String::as_str),
    );
    out
}

fn allocations(conn: &mut Connection) -> i64 {
    redis::cmd("KAFKA.DEBUG")
        .arg("ALLOCATIONS")
        .query(conn)
        .unwrap_or_else(|e| panic!("KAFKA.DEBUG ALLOCATIONS: {e}"))
}
