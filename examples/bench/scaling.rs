//! Issue 16, target 5: how a STRING sink scales with `TASKS 1, 2, 4` and with 1 to 16 partitions,
//! and how much memory each byte the module lets in flight costs.

use crate::probes::{status, wait_records};
use crate::sink::create_sink_with;
use crate::stats::rate;
use crate::{kafka, Ctx};
use redis::{Connection, FromRedisValue, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Partition counts a TASKS 1 sink is measured over, N/4 records each (4 is `TOPIC_QUARTER`).
pub const PARTITIONS: [i32; 5] = [1, 2, 4, 8, 16];
/// Sink tasks measured, each over a new 4-partition topic that N records arrive in.
pub const TASKS: [usize; 3] = [1, 2, 4];
/// Longest a sink's tasks may take to hold every partition.
const SETTLE_MAX: Duration = Duration::from_secs(60);
/// How long the assignment must stay the same before the group counts as settled.
const SETTLED_FOR: Duration = Duration::from_secs(1);
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

#[derive(Default)]
pub struct ScalingRun {
    /// By `PARTITIONS`: (sink, bare consumer with the tuned fetch) records/s.
    pub by_partitions: Vec<(f64, f64)>,
    /// By `TASKS`: sink records/s.
    pub by_tasks: Vec<f64>,
    /// Peak RSS MiB of a STRING sink over N records, by `INFLIGHT_KIB` prefetch.
    pub sink_rss: Vec<f64>,
    /// MiB a source's backfill of N entries adds to RSS, by `INFLIGHT_KIB` in-flight bound.
    pub source_rss: Vec<f64>,
}

pub fn scaling(ctx: &Ctx) -> ScalingRun {
    let (cfg, mut run) = (ctx.cfg, ScalingRun::default());
    for partitions in PARTITIONS {
        let topic = topic(partitions);
        let sink = sink_rate(ctx, &topic, cfg.quarter());
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
        run.by_tasks.push(tasks_rate(ctx, tasks));
    }
    for kib in INFLIGHT_KIB {
        run.sink_rss.push(sink_rss(ctx, kib));
        run.source_rss
            .push(crate::source::backfill_rss_growth(ctx, kib));
    }
    run
}

/// A TASKS 1 STRING sink over `topic` in a fresh Redis: records/s from CREATE.
fn sink_rate(ctx: &Ctx, topic: &str, records: usize) -> f64 {
    let redis = ctx.redis_with_module();
    let mut conn = redis.conn();
    let start = Instant::now();
    create_sink_with(ctx, &mut conn, "STRING", topic, "bench-scale", &[]);
    wait_records(&mut conn, "b", records);
    rate(records, start.elapsed().as_secs_f64())
}

/// A STRING sink with `TASKS tasks` over a new, empty 4-partition topic. Once its tasks hold
/// the partitions, N records are produced into the topic; records/s from the first produce to
/// the sink's last record.
///
/// The group settles before records arrive because each task that joins later makes the
/// group rebalance, and a rebalance moves partitions mid-log: Tansu `memory://` answers a
/// fetch from the middle of a log with records from its next batch on, so records would be
/// skipped (measured: a fetch from offset 25,000 returned offset 26,344 first).
fn tasks_rate(ctx: &Ctx, tasks: usize) -> f64 {
    let (bootstrap, topic) = (ctx.tansu.bootstrap(), ctx.unique("bench-tasks"));
    kafka::create_topic(&bootstrap, &topic, 4);
    let redis = ctx.redis_with_module();
    let mut conn = redis.conn();
    let count = tasks.to_string();
    create_sink_with(
        ctx,
        &mut conn,
        "STRING",
        &topic,
        "bench-tasks",
        &["TASKS", &count],
    );
    wait_settled(&mut conn, 4, tasks.min(4));
    let start = Instant::now();
    kafka::produce_workload(&bootstrap, &topic, ctx.cfg.records, ctx.workload);
    wait_records(&mut conn, "b", ctx.cfg.records);
    let seconds = start.elapsed().as_secs_f64();
    drop(conn);
    drop(redis);
    kafka::delete_topics(&bootstrap, &[topic.as_str()]);
    rate(ctx.cfg.records, seconds)
}

/// Waits until sink `b` lists `partitions` partitions held by `tasks` distinct tasks, the same
/// for `SETTLED_FOR`.
fn wait_settled(conn: &mut Connection, partitions: usize, tasks: usize) {
    let deadline = Instant::now() + SETTLE_MAX;
    let mut last: Option<(BTreeMap<i64, i64>, Instant)> = None;
    loop {
        let held = assignment(conn);
        let distinct: std::collections::BTreeSet<&i64> = held.values().collect();
        let complete = held.len() == partitions && distinct.len() == tasks;
        match &last {
            Some((before, since)) if complete && *before == held => {
                if since.elapsed() >= SETTLED_FOR {
                    return;
                }
            }
            _ => last = complete.then(|| (held, Instant::now())),
        }
        assert!(
            Instant::now() < deadline,
            "sink b's {tasks} tasks did not settle on {partitions} partitions: {:?}",
            assignment(conn)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sink `b`'s partitions and the task holding each, from KAFKA.STATUS.
fn assignment(conn: &mut Connection) -> BTreeMap<i64, i64> {
    let Some(Value::Array(partitions)) = status(conn, "b").remove("partitions") else {
        return BTreeMap::new();
    };
    partitions
        .iter()
        .filter_map(|p| {
            let Value::Array(pairs) = p else { return None };
            let field = |name: &str| {
                pairs.chunks(2).find_map(|kv| {
                    let key = String::from_redis_value(&kv[0]).ok()?;
                    (key == name).then(|| i64::from_redis_value(kv.get(1)?).ok())?
                })
            };
            Some((field("partition")?, field("task")?))
        })
        .collect()
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
