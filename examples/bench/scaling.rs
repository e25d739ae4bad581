//! Issue 16, target 5: how a STRING sink scales with `TASKS 1, 2, 4` and with 1 to 16 partitions,
//! and how much memory each byte the module lets in flight costs.

use crate::probes::wait_records;
use crate::sink::create_sink_with;
use crate::stats::rate;
use crate::{kafka, Ctx};
use std::time::Instant;

/// Partition counts a TASKS 1 sink is measured over, N/4 records each (4 is `TOPIC_QUARTER`).
pub const PARTITIONS: [i32; 5] = [1, 2, 4, 8, 16];
/// Sink tasks measured over the 4-partition topic of N records.
pub const TASKS: [usize; 3] = [1, 2, 4];
/// In-flight bounds compared for memory, in KiB: the sink's prefetch
/// (`queued.max.messages.kbytes`) and the source's `kafka.source-inflight-max-bytes`.
pub const INFLIGHT_KIB: [usize; 2] = [4096, 65536];

pub fn topic(partitions: i32) -> String {
    if partitions == 4 {
        crate::TOPIC_QUARTER.to_string()
    } else {
        format!("bench-p{partitions}")
    }
}

/// The N/4-record topics of `PARTITIONS` that `TOPIC_QUARTER` is not.
pub fn prepare_topics(ctx: &Ctx) {
    let bootstrap = ctx.tansu.bootstrap();
    for partitions in PARTITIONS.into_iter().filter(|p| *p != 4) {
        let topic = topic(partitions);
        kafka::create_topic(&bootstrap, &topic, partitions);
        kafka::produce_workload(&bootstrap, &topic, ctx.cfg.quarter(), ctx.workload);
    }
}

/// A sink's rate from CREATE to its last record, and while records moved (without the pauses
/// of group joins and rebalances: each added task makes the group rebalance once more).
#[derive(Clone, Copy)]
pub struct Rates {
    pub from_create: f64,
    pub moving: f64,
}

#[derive(Default)]
pub struct ScalingRun {
    /// By `PARTITIONS`: (sink, bare consumer with the tuned fetch) records/s.
    pub by_partitions: Vec<(Rates, f64)>,
    /// By `TASKS`.
    pub by_tasks: Vec<Rates>,
    /// Peak RSS MiB of a STRING sink over N records, by `INFLIGHT_KIB` prefetch.
    pub sink_rss: Vec<f64>,
    /// MiB a source's backfill of N entries adds to RSS, by `INFLIGHT_KIB` in-flight bound.
    pub source_rss: Vec<f64>,
}

pub fn scaling(ctx: &Ctx) -> ScalingRun {
    let (cfg, mut run) = (ctx.cfg, ScalingRun::default());
    for partitions in PARTITIONS {
        let topic = topic(partitions);
        let sink = sink_rates(ctx, &topic, cfg.quarter(), &[]);
        let group = ctx.unique("bench-scale-raw");
        let tuned = [&cfg.consumer_config[..], &cfg.tuned_consumer_config[..]].concat();
        let raw = kafka::raw_consume(
            &ctx.tansu.bootstrap(),
            &topic,
            &group,
            cfg.quarter(),
            &tuned,
        );
        run.by_partitions
            .push((sink, rate(cfg.quarter(), raw.as_secs_f64())));
    }
    for tasks in TASKS {
        let tasks = tasks.to_string();
        let rates = sink_rates(ctx, crate::TOPIC, cfg.records, &["TASKS", &tasks]);
        run.by_tasks.push(rates);
    }
    for kib in INFLIGHT_KIB {
        run.sink_rss.push(sink_rss(ctx, kib));
        run.source_rss
            .push(crate::source::backfill_rss_growth(ctx, kib));
    }
    run
}

/// A STRING sink over `topic` with `extra` CREATE arguments, in a fresh Redis.
fn sink_rates(ctx: &Ctx, topic: &str, records: usize, extra: &[&str]) -> Rates {
    let redis = ctx.redis_with_module();
    let mut conn = redis.conn();
    let start = Instant::now();
    create_sink_with(ctx, &mut conn, "STRING", topic, "bench-scale", extra);
    let progress = wait_records(&mut conn, "b", records);
    Rates {
        from_create: rate(records, start.elapsed().as_secs_f64()),
        moving: rate(records, progress.moving_seconds()),
    }
}

/// Peak RSS MiB of a STRING sink over the N-record topic with a prefetch bound of `kib`.
fn sink_rss(ctx: &Ctx, kib: usize) -> f64 {
    let redis = ctx.redis_with_module();
    let mut conn = redis.conn();
    let kib = kib.to_string();
    create_sink_with(
        ctx,
        &mut conn,
        "STRING",
        crate::TOPIC,
        "bench-inflight",
        &["CONFIG", "queued.max.messages.kbytes", &kib],
    );
    wait_records(&mut conn, "b", ctx.cfg.records);
    redis.peak_rss_mib()
}
