//! Source measurements in one fresh Redis with the module: single-XADD latency without a source,
//! pipelined XADD rate, backfill of a `FROM BEGINNING` source, single-XADD latency while the
//! source forwards them live, and peak RSS.

use crate::kafka::delete_topics;
use crate::probes::{wait_records, xadd_pipelined, xadd_round_trips};
use crate::stats::{rate, Latency};
use crate::Ctx;
use std::time::Instant;

pub struct SourceRun {
    /// Pipelined XADD records/s with no source.
    pub xadd_rate: f64,
    /// Records/s forwarded from CREATE until STATUS `records` == N.
    pub forwarded_rate: f64,
    /// Records/s forwarded while pipelined XADDs of N/4 new entries arrive with the source
    /// caught up, from the first XADD until STATUS `records` counts them all.
    pub live_rate: f64,
    pub xadd_without: Latency,
    pub xadd_with: Latency,
    pub rss_mib: f64,
}

pub fn source(ctx: &Ctx) -> SourceRun {
    let (cfg, workload) = (ctx.cfg, ctx.workload);
    let redis = ctx.redis_with_module();
    let mut conn = redis.conn();

    // Without a source; the entries are removed again so the backfill moves exactly N.
    let without = xadd_round_trips(&mut conn, workload, cfg.latency_samples);
    redis::cmd("DEL")
        .arg(&workload.streams()[..])
        .query::<i64>(&mut conn)
        .expect("DEL src:*");

    let fill = xadd_pipelined(&mut conn, workload, cfg.records);

    let start = Instant::now();
    create_source(&mut conn, cfg.partitions);
    wait_records(&mut conn, "s", cfg.records);
    let forwarded = start.elapsed().as_secs_f64();

    // With the source caught up: each XADD wakes it and is forwarded live.
    let with = xadd_round_trips(&mut conn, workload, cfg.latency_samples);
    wait_records(&mut conn, "s", cfg.records + cfg.latency_samples);

    let live = cfg.quarter();
    let start = Instant::now();
    xadd_pipelined(&mut conn, workload, live);
    wait_records(&mut conn, "s", cfg.records + cfg.latency_samples + live);
    let live_seconds = start.elapsed().as_secs_f64();
    let rss_mib = redis.peak_rss_mib();
    drop(conn);
    drop(redis);
    delete_source_topics(ctx);
    SourceRun {
        xadd_rate: rate(cfg.records, fill.as_secs_f64()),
        forwarded_rate: rate(cfg.records, forwarded),
        live_rate: rate(live, live_seconds),
        xadd_without: Latency::of(&without),
        xadd_with: Latency::of(&with),
        rss_mib,
    }
}

/// How far RSS (MiB) rises above what the N stream entries take while a source backfills them
/// `FROM BEGINNING` with `kafka.source-inflight-max-bytes` at `kib` KiB.
pub fn backfill_rss_growth(ctx: &Ctx, kib: usize) -> f64 {
    let (cfg, workload) = (ctx.cfg, ctx.workload);
    let redis = ctx.redis_with_module();
    let mut conn = redis.conn();
    xadd_pipelined(&mut conn, workload, cfg.records);
    redis::cmd("CONFIG")
        .arg(&["SET", "kafka.source-inflight-max-bytes"])
        .arg(format!("{kib}kb"))
        .query::<()>(&mut conn)
        .expect("CONFIG SET kafka.source-inflight-max-bytes");
    let before = redis.rss_mib();
    redis.reset_peak_rss();
    create_source(&mut conn, cfg.partitions);
    wait_records(&mut conn, "s", cfg.records);
    let rss_mib = redis.peak_rss_mib() - before;
    drop(conn);
    drop(redis);
    delete_source_topics(ctx);
    rss_mib
}

/// The topics a source run created, so the next run starts from empty topics.
fn delete_source_topics(ctx: &Ctx) {
    let topics = ctx.workload.source_topics();
    delete_topics(
        &ctx.tansu.bootstrap(),
        &topics.each_ref().map(String::as_str),
    );
}

/// `KAFKA.SOURCE.CREATE s STREAMS src:* FROM BEGINNING PARTITIONS <partitions>`.
fn create_source(conn: &mut redis::Connection, partitions: i32) {
    let reply: String = redis::cmd("KAFKA.SOURCE.CREATE")
        .arg(&["s", "STREAMS", "src:*", "FROM", "BEGINNING", "PARTITIONS"])
        .arg(partitions)
        .query(conn)
        .unwrap_or_else(|e| panic!("KAFKA.SOURCE.CREATE s: {e}"));
    assert_eq!(reply, "OK", "KAFKA.SOURCE.CREATE replied {reply}");
}
