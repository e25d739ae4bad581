//! Sink measurements: the module's STRING/HASH sinks (throughput, peak RSS) and the latency of
//! another client on the same Redis while the STRING sink runs flat out.

use crate::probes::{user_keys, wait_records, Prober};
use crate::stats::{rate, Latency};
use crate::Ctx;
use redis::Connection;
use std::time::Instant;

/// The key the latency prober reads (written by the sink as record key `k1`).
const PROBE_KEY: &str = "b:k1";

pub struct SinkRun {
    pub rate: f64,
    pub rss_mib: f64,
}

/// `KAFKA.SINK.CREATE b TOPICS <topic> TYPE <type> KEY b:${key}` in a fresh Redis, timed from
/// CREATE until STATUS `records` == `records`; then checks the key count and reads VmHWM.
pub fn module_sink(ctx: &Ctx, sink_type: &str, topic: &str, records: usize) -> SinkRun {
    let redis = ctx.redis_with_module();
    let mut conn = redis.conn();
    let start = Instant::now();
    create_sink(ctx, &mut conn, sink_type, topic, "bench-sink");
    wait_records(&mut conn, "b", records);
    let seconds = start.elapsed().as_secs_f64();
    check_keys(&mut conn, ctx.cfg.keys.min(records), &redis.log_tail());
    SinkRun {
        rate: rate(records, seconds),
        rss_mib: redis.peak_rss_mib(),
    }
}

pub struct SinkLatencyRun {
    pub idle_ping: Latency,
    pub idle_get: Latency,
    pub busy_ping: Latency,
    pub busy_get: Latency,
    /// Sink throughput while the prober runs (it competes for the same two cores).
    pub rate: f64,
    /// Longest the main thread waited for the module lock while the sink ran, in µs (Redis's
    /// own `module-acquire-GIL` latency event; 0 when it never reached 1 ms).
    pub gil_wait_max: f64,
}

/// PING/GET round trips of a prober thread: idle (before CREATE) and from CREATE of a STRING
/// sink over the full topic until its last record is applied.
pub fn sink_latency(ctx: &Ctx) -> SinkLatencyRun {
    let redis = ctx.redis_with_module();
    let mut conn = redis.conn();
    let idle = Prober::start(redis.conn(), PROBE_KEY);
    std::thread::sleep(std::time::Duration::from_secs_f64(ctx.cfg.idle_secs));
    let idle = idle.finish();

    // Redis times how long its main thread waits for the module lock once it exceeds this.
    redis::cmd("CONFIG")
        .arg(&["SET", "latency-monitor-threshold", "1"])
        .query::<()>(&mut conn)
        .expect("CONFIG SET latency-monitor-threshold");
    let busy = Prober::start(redis.conn(), PROBE_KEY);
    let start = Instant::now();
    create_sink(ctx, &mut conn, "STRING", crate::TOPIC, "bench-latency");
    wait_records(&mut conn, "b", ctx.cfg.records);
    let seconds = start.elapsed().as_secs_f64();
    let busy = busy.finish();
    check_keys(&mut conn, ctx.cfg.distinct_keys(), &redis.log_tail());
    SinkLatencyRun {
        idle_ping: Latency::of(&idle.ping),
        idle_get: Latency::of(&idle.get),
        busy_ping: Latency::of(&busy.ping),
        busy_get: Latency::of(&busy.get),
        rate: rate(ctx.cfg.records, seconds),
        gil_wait_max: gil_wait_max_ms(&mut conn) * 1000.0,
    }
}

/// The all-time maximum of the `module-acquire-GIL` event in `LATENCY LATEST`, in ms.
fn gil_wait_max_ms(conn: &mut Connection) -> f64 {
    let events: Vec<(String, i64, i64, i64)> = redis::cmd("LATENCY")
        .arg("LATEST")
        .query(conn)
        .expect("LATENCY LATEST");
    events
        .iter()
        .find(|(event, ..)| event == "module-acquire-GIL")
        .map_or(0.0, |(.., max)| *max as f64)
}

/// `KAFKA.SINK.CREATE b TOPICS <topic> TYPE <type> KEY b:${key} GROUP <unique>`, plus
/// `CONFIG <name> <value>` for each BENCH_CONSUMER_CONFIG property.
pub fn create_sink(ctx: &Ctx, conn: &mut Connection, sink_type: &str, topic: &str, group: &str) {
    create_sink_with(ctx, conn, sink_type, topic, group, &[]);
}

/// `create_sink` with more CREATE arguments after the others.
pub fn create_sink_with(
    ctx: &Ctx,
    conn: &mut Connection,
    sink_type: &str,
    topic: &str,
    group: &str,
    extra: &[&str],
) {
    let group = ctx.unique(group);
    let mut cmd = redis::cmd("KAFKA.SINK.CREATE");
    cmd.arg("b")
        .arg("TOPICS")
        .arg(topic)
        .arg("TYPE")
        .arg(sink_type);
    cmd.arg("KEY").arg("b:${key}").arg("GROUP").arg(&group);
    if sink_type == "ZSET" {
        // The value is JSON; its id is a number.
        cmd.arg("SCORE").arg("${value.id}");
    }
    for (name, value) in &ctx.cfg.consumer_config {
        cmd.arg("CONFIG").arg(name).arg(value);
    }
    cmd.arg(extra);
    let reply: String = cmd
        .query(conn)
        .unwrap_or_else(|e| panic!("KAFKA.SINK.CREATE b TYPE {sink_type}: {e}"));
    assert_eq!(reply, "OK", "KAFKA.SINK.CREATE replied {reply}");
}

/// Every distinct record key must be present, nothing else (module state keys aside).
fn check_keys(conn: &mut Connection, expected: usize, log: &str) {
    let keys = user_keys(conn);
    assert_eq!(
        keys, expected,
        "sink applied all records but DBSIZE (without __kafka:* keys) is {keys}, expected \
         {expected}; server log:\n{log}"
    );
}
