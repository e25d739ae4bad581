//! KEYS source (change-data capture) measurements in one fresh Redis with the module: single-SET
//! latency without a source, the snapshot of N existing keys, N changes to distinct keys
//! forwarded live (changes/s, from the first SET until Kafka acknowledged the last), and
//! single-SET latency while the source forwards each one.

use crate::kafka::delete_topics;
use crate::probes::wait_records;
use crate::stats::{rate, Latency};
use crate::Ctx;
use redis::{Connection, Value};
use std::time::{Duration, Instant};

pub struct KeysRun {
    /// Keys/s sent by the snapshot at CREATE.
    pub snapshot_rate: f64,
    /// Changes/s forwarded live: N pipelined SETs of distinct keys until all are acknowledged.
    pub changes_rate: f64,
    /// Pipelined SETs/s of the same N keys with no source.
    pub set_rate: f64,
    pub set_without: Latency,
    pub set_with: Latency,
}

fn set_round_trips(conn: &mut Connection, ctx: &Ctx, prefix: &str, count: usize) -> Vec<u32> {
    (0..count)
        .map(|i| {
            let t = Instant::now();
            redis::cmd("SET")
                .arg(format!("{prefix}{i}"))
                .arg(ctx.workload.value(i))
                .query::<Value>(conn)
                .unwrap_or_else(|e| panic!("SET: {e}"));
            t.elapsed().as_micros().min(u32::MAX as u128) as u32
        })
        .collect()
}

fn set_pipelined(conn: &mut Connection, ctx: &Ctx, prefix: &str, count: usize) -> Duration {
    let start = Instant::now();
    for chunk in (0..count).collect::<Vec<_>>().chunks(1000) {
        let mut pipe = redis::pipe();
        for i in chunk {
            pipe.cmd("SET")
                .arg(format!("{prefix}{i}"))
                .arg(ctx.workload.value(*i))
                .ignore();
        }
        pipe.query::<()>(conn)
            .unwrap_or_else(|e| panic!("SET pipeline: {e}"));
    }
    start.elapsed()
}

pub fn keys_source(ctx: &Ctx) -> KeysRun {
    let cfg = ctx.cfg;
    let redis = ctx.redis_with_module();
    let mut conn = redis.conn();
    let topic = ctx.unique("bench-keys");
    let without = set_round_trips(&mut conn, ctx, "plain:", cfg.latency_samples);
    let set_rate = rate(
        cfg.records,
        set_pipelined(&mut conn, ctx, "cdc:snap:", cfg.records).as_secs_f64(),
    );

    let start = Instant::now();
    let reply: String = redis::cmd("KAFKA.SOURCE.CREATE")
        .arg(&["k", "KEYS", "cdc:*", "TOPIC", &topic, "PARTITIONS"])
        .arg(cfg.partitions)
        .query(&mut conn)
        .unwrap_or_else(|e| panic!("KAFKA.SOURCE.CREATE k: {e}"));
    assert_eq!(reply, "OK", "KAFKA.SOURCE.CREATE replied {reply}");
    wait_records(&mut conn, "k", cfg.records);
    let snapshot = start.elapsed().as_secs_f64();

    let start = Instant::now();
    set_pipelined(&mut conn, ctx, "cdc:live:", cfg.records);
    wait_records(&mut conn, "k", 2 * cfg.records);
    let live = start.elapsed().as_secs_f64();

    let with = set_round_trips(&mut conn, ctx, "cdc:lat:", cfg.latency_samples);
    wait_records(&mut conn, "k", 2 * cfg.records + cfg.latency_samples);
    drop(conn);
    drop(redis);
    delete_topics(&ctx.tansu.bootstrap(), &[topic.as_str()]);
    KeysRun {
        snapshot_rate: rate(cfg.records, snapshot),
        changes_rate: rate(cfg.records, live),
        set_rate,
        set_without: Latency::of(&without),
        set_with: Latency::of(&with),
    }
}
