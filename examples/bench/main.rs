//! `make bench`: throughput and latency of the module's sinks and sources against baselines, in
//! one run against one Tansu broker this program starts (issue 7). Prints one table on stdout;
//! progress goes to stderr. Settings: see `bench/config.rs` (BENCH_RECORDS, BENCH_RUNS, ...).
//!
//! Each measurement runs BENCH_RUNS times and reports the median. Runs are interleaved (one
//! round runs every measurement once) so background load shifts all figures alike. Every
//! redis-server is fresh per measurement; all processes die with their guards, also on panic.

mod allocations;
mod baseline;
mod config;
mod kafka;
mod keys_source;
mod probes;
mod scaling;
mod servers;
mod sink;
mod source;
mod stats;
mod table;
mod workload;

use config::Config;
use servers::{ModuleLoad, RedisServer, Tansu};
use stats::{median, Latency};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;
use table::{count, mib, micros, ratio, Row, Target};
use workload::Workload;

/// The sink topic: N records. `TOPIC_QUARTER` holds N/4 records with the same keys.
pub const TOPIC: &str = "bench";
pub const TOPIC_QUARTER: &str = "bench-quarter";

/// Issue 16: other clients' latency while a sink runs flat out.
const P99_TARGET_US: f64 = 1000.0;
const P999_TARGET_US: f64 = 2000.0;

/// Sink types measured besides STRING and HASH (JSON only where RedisJSON is found).
const OTHER_TYPES: [&str; 5] = ["JSON", "STREAM", "LIST", "SET", "ZSET"];

/// What every measurement needs.
pub struct Ctx<'a> {
    pub cfg: &'a Config,
    pub tansu: &'a Tansu,
    pub workload: &'a Workload,
}

impl Ctx<'_> {
    pub fn redis_with_module(&self) -> RedisServer {
        self.redis_with(&self.cfg.module, false)
    }

    pub fn redis_with(&self, module: &std::path::Path, debug_command: bool) -> RedisServer {
        let brokers = self.tansu.bootstrap();
        RedisServer::start(
            &self.cfg.redis_server,
            Some(ModuleLoad {
                path: module,
                brokers: &brokers,
                rejson: self.cfg.rejson.as_deref(),
                debug_command,
            }),
        )
    }

    /// A name unique in this bench process (consumer groups, topics).
    pub fn unique(&self, prefix: &str) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        format!(
            "{prefix}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )
    }
}

/// The figures of all runs, one vector per measurement.
#[derive(Default)]
struct Runs {
    raw_consume: Vec<f64>,
    raw_consume_tuned: Vec<f64>,
    hand_written: Vec<f64>,
    hand_written_rss: Vec<f64>,
    string: Vec<f64>,
    string_rss: Vec<f64>,
    hash: Vec<f64>,
    hash_rss: Vec<f64>,
    /// The other sink types, in `OTHER_TYPES` order.
    others: Vec<Vec<f64>>,
    quarter_rss: Vec<f64>,
    latency: Vec<sink::SinkLatencyRun>,
    source: Vec<source::SourceRun>,
    keys: Vec<keys_source::KeysRun>,
    raw_produce: Vec<f64>,
    scaling: Vec<scaling::ScalingRun>,
    /// Allocations per record by measurement, from the counting build (first round only).
    allocations: Vec<(String, f64)>,
}

fn main() {
    let cfg = Config::load();
    let began = Instant::now();
    let workload = Workload::new(cfg.keys, cfg.value_bytes);
    let tansu = Tansu::start(&cfg.tansu);
    let ctx = Ctx {
        cfg: &cfg,
        tansu: &tansu,
        workload: &workload,
    };
    prepare_topics(&ctx);
    let mut runs = Runs::default();
    for round in 1..=cfg.runs {
        run_round(&ctx, round, &mut runs);
    }
    print_report(&cfg, &runs, began);
}

fn progress(what: &str) {
    eprintln!("[bench] {what}");
}

fn prepare_topics(ctx: &Ctx) {
    let (cfg, bootstrap) = (ctx.cfg, ctx.tansu.bootstrap());
    progress(&format!(
        "tansu on {bootstrap}; producing {} + {} records of {} bytes, {} keys",
        cfg.records,
        cfg.quarter(),
        cfg.value_bytes,
        cfg.distinct_keys()
    ));
    let start = Instant::now();
    kafka::create_topic(&bootstrap, TOPIC, cfg.partitions);
    kafka::create_topic(&bootstrap, TOPIC_QUARTER, cfg.partitions);
    kafka::produce_workload(&bootstrap, TOPIC, cfg.records, ctx.workload);
    kafka::produce_workload(&bootstrap, TOPIC_QUARTER, cfg.quarter(), ctx.workload);
    scaling::prepare_topics(ctx);
    progress(&format!(
        "workload produced in {:.1} s",
        start.elapsed().as_secs_f64()
    ));
}

/// Runs every measurement once.
fn run_round(ctx: &Ctx, round: usize, runs: &mut Runs) {
    let (cfg, bootstrap) = (ctx.cfg, ctx.tansu.bootstrap());
    let tag = format!("run {round}/{}", cfg.runs);

    let rate = raw_consume(ctx, &cfg.consumer_config);
    progress(&format!("{tag} raw consume: {} rec/s", count(rate)));
    runs.raw_consume.push(rate);
    let tuned = [&cfg.consumer_config[..], &cfg.tuned_consumer_config[..]].concat();
    let rate = raw_consume(ctx, &tuned);
    progress(&format!("{tag} raw consume, tuned: {} rec/s", count(rate)));
    runs.raw_consume_tuned.push(rate);

    let hand = baseline::hand_written(ctx);
    progress(&format!(
        "{tag} hand-written bridge: {} rec/s",
        count(hand.rate)
    ));
    runs.hand_written.push(hand.rate);
    runs.hand_written_rss.push(hand.rss_mib);

    let string = sink::module_sink(ctx, "STRING", TOPIC, cfg.records);
    progress(&format!(
        "{tag} sink STRING: {} rec/s, peak RSS {} MiB",
        count(string.rate),
        mib(string.rss_mib)
    ));
    runs.string.push(string.rate);
    runs.string_rss.push(string.rss_mib);

    let hash = sink::module_sink(ctx, "HASH", TOPIC, cfg.records);
    progress(&format!(
        "{tag} sink HASH: {} rec/s, peak RSS {} MiB",
        count(hash.rate),
        mib(hash.rss_mib)
    ));
    runs.hash.push(hash.rate);
    runs.hash_rss.push(hash.rss_mib);

    runs.others.resize(OTHER_TYPES.len(), Vec::new());
    for (i, sink_type) in OTHER_TYPES.iter().enumerate() {
        if *sink_type == "JSON" && cfg.rejson.is_none() {
            continue;
        }
        let run = sink::module_sink(ctx, sink_type, TOPIC, cfg.records);
        progress(&format!(
            "{tag} sink {sink_type}: {} rec/s",
            count(run.rate)
        ));
        runs.others[i].push(run.rate);
    }

    let quarter = sink::module_sink(ctx, "STRING", TOPIC_QUARTER, cfg.quarter());
    progress(&format!(
        "{tag} sink STRING over N/4: peak RSS {} MiB",
        mib(quarter.rss_mib)
    ));
    runs.quarter_rss.push(quarter.rss_mib);

    let latency = sink::sink_latency(ctx);
    progress(&format!(
        "{tag} PING p99 idle {} µs, during sink {} µs (sink {} rec/s with the prober)",
        micros(latency.idle_ping.p99),
        micros(latency.busy_ping.p99),
        count(latency.rate)
    ));
    runs.latency.push(latency);

    let source = source::source(ctx);
    progress(&format!(
        "{tag} source: XADD {} rec/s, forwarded {} rec/s, XADD p99 {} → {} µs",
        count(source.xadd_rate),
        count(source.forwarded_rate),
        micros(source.xadd_without.p99),
        micros(source.xadd_with.p99)
    ));
    runs.source.push(source);

    let keys = keys_source::keys_source(ctx);
    progress(&format!(
        "{tag} KEYS source: snapshot {} keys/s, live {} changes/s, SET p99 {} → {} µs",
        count(keys.snapshot_rate),
        count(keys.changes_rate),
        micros(keys.set_without.p99),
        micros(keys.set_with.p99)
    ));
    runs.keys.push(keys);

    let scale = scaling::scaling(ctx);
    let rates = |r: &[f64]| -> Vec<String> { r.iter().map(|r| count(*r)).collect() };
    let by_partitions: Vec<f64> = scale.by_partitions.iter().map(|p| p.0).collect();
    progress(&format!(
        "{tag} scaling: partitions {:?}; tasks {:?}; peak RSS MiB sink {:?}, source growth {:?}",
        rates(&by_partitions),
        rates(&scale.by_tasks),
        scale.sink_rss,
        scale.source_rss
    ));
    runs.scaling.push(scale);

    if round == 1 {
        if let Some(module) = &cfg.counting_module {
            runs.allocations = allocations::per_record(ctx, module);
            for (what, per_record) in &runs.allocations {
                progress(&format!(
                    "{tag} {what}: {per_record:.2} allocations per record"
                ));
            }
        }
    }

    let topic = ctx.unique("bench-produce");
    kafka::create_topic(&bootstrap, &topic, cfg.partitions);
    let seconds = kafka::raw_produce(&bootstrap, &topic, cfg.records, ctx.workload).as_secs_f64();
    kafka::delete_topics(&bootstrap, &[topic.as_str()]);
    runs.raw_produce.push(stats::rate(cfg.records, seconds));
    progress(&format!(
        "{tag} raw produce: {} rec/s",
        count(*runs.raw_produce.last().unwrap())
    ));
}

/// A bare rdkafka consumer reading the whole sink topic in a new group; records/s.
fn raw_consume(ctx: &Ctx, config: &[(String, String)]) -> f64 {
    let (cfg, group) = (ctx.cfg, ctx.unique("bench-raw"));
    let seconds = kafka::raw_consume(&ctx.tansu.bootstrap(), TOPIC, &group, cfg.records, config);
    stats::rate(cfg.records, seconds.as_secs_f64())
}

fn print_report(cfg: &Config, runs: &Runs, began: Instant) {
    println!();
    println!(
        "redis-kafka bench: {}; {}",
        machine(),
        server_version(&cfg.redis_server)
    );
    println!(
        "N = {} records of {} bytes, {} distinct keys, {} partitions; median of {} run(s); \
         took {:.0} s",
        count(cfg.records as f64),
        cfg.value_bytes,
        count(cfg.distinct_keys() as f64),
        cfg.partitions,
        cfg.runs,
        began.elapsed().as_secs_f64()
    );
    println!(
        "tuned fetch (second raw consumer, hand-written bridge): {}",
        describe(&cfg.tuned_consumer_config)
    );
    if !cfg.consumer_config.is_empty() {
        println!(
            "consumer config (raw, hand-written, sinks): {}",
            describe(&cfg.consumer_config)
        );
    }
    println!();
    let rows = rows(cfg, runs);
    table::print(&rows);
    println!();
    println!("{}", table::targets_summary(&rows));
}

fn rows(cfg: &Config, runs: &Runs) -> Vec<Row> {
    let bare = median(&runs.raw_consume);
    let tuned = median(&runs.raw_consume_tuned);
    // The broker's limit: the faster of the two raw consumers.
    let raw = bare.max(tuned);
    let hand = median(&runs.hand_written);
    let string = median(&runs.string);
    let hash = median(&runs.hash);
    let lat = |f: fn(&sink::SinkLatencyRun) -> Latency| {
        Latency::median(&runs.latency.iter().map(f).collect::<Vec<_>>())
    };
    let (idle_ping, busy_ping) = (lat(|l| l.idle_ping), lat(|l| l.busy_ping));
    let (idle_get, busy_get) = (lat(|l| l.idle_get), lat(|l| l.busy_get));
    let src =
        |f: fn(&source::SourceRun) -> f64| median(&runs.source.iter().map(f).collect::<Vec<_>>());
    let src_lat = |f: fn(&source::SourceRun) -> Latency| {
        Latency::median(&runs.source.iter().map(f).collect::<Vec<_>>())
    };
    let (xadd_without, xadd_with) = (src_lat(|s| s.xadd_without), src_lat(|s| s.xadd_with));
    let forwarded = src(|s| s.forwarded_rate);
    let keys =
        |f: fn(&keys_source::KeysRun) -> f64| median(&runs.keys.iter().map(f).collect::<Vec<_>>());
    let keys_lat = |f: fn(&keys_source::KeysRun) -> Latency| {
        Latency::median(&runs.keys.iter().map(f).collect::<Vec<_>>())
    };
    let (set_without, set_with) = (keys_lat(|k| k.set_without), keys_lat(|k| k.set_with));
    let produce = median(&runs.raw_produce);
    let rss_n = median(&runs.string_rss);
    let rss_quarter = median(&runs.quarter_rss);
    let hand_rss = median(&runs.hand_written_rss);
    // Bytes of RSS per record the bigger topic adds: ~0 when memory is bounded, ~a record's
    // size (or more) when the sink holds the topic.
    let growth =
        (rss_n - rss_quarter) * 1024.0 * 1024.0 / (cfg.records - cfg.quarter()).max(1) as f64;
    let n = count(cfg.records as f64);
    let quarter = count(cfg.quarter() as f64);
    let mut rows = vec![
        Row::plain(
            if cfg.consumer_config.is_empty() {
                "raw consume rec/s (rdkafka BaseConsumer, defaults)"
            } else {
                "raw consume rec/s (rdkafka BaseConsumer, consumer config)"
            },
            count(bare),
        ),
        Row::plain("raw consume rec/s (tuned fetch, see above)", count(tuned)),
        Row::plain(
            "hand-written bridge rec/s (Python, pipelined SET, tuned)",
            count(hand),
        ),
        Row::new(
            "sink STRING rec/s",
            count(string),
            format!("raw consume (best) {}", count(raw)),
            ratio(string, raw, Target::AtLeast(0.9)),
        ),
        Row::new(
            "sink STRING vs hand-written",
            count(string),
            format!("hand-written {}", count(hand)),
            ratio(string, hand, Target::AtLeast(2.0)),
        ),
        Row::new(
            "sink HASH rec/s",
            count(hash),
            format!("raw consume (best) {}", count(raw)),
            ratio(hash, raw, Target::AtLeast(0.9)),
        ),
        Row::new(
            "sink HASH vs hand-written (SET)",
            count(hash),
            format!("hand-written {}", count(hand)),
            ratio(hash, hand, Target::AtLeast(2.0)),
        ),
    ];
    for (sink_type, rates) in OTHER_TYPES.iter().zip(&runs.others) {
        if rates.is_empty() {
            continue;
        }
        let rate = median(rates);
        rows.push(Row::new(
            &format!("sink {sink_type} rec/s"),
            count(rate),
            format!("raw consume (best) {}", count(raw)),
            ratio(rate, raw, Target::AtLeast(0.9)),
        ));
    }
    rows.push(Row::plain("PING p99 idle µs", micros(idle_ping.p99)));
    rows.extend(probe_rows("PING", idle_ping, busy_ping));
    rows.extend(probe_rows("GET b:k1", idle_get, busy_get));
    rows.extend([
        Row::plain(
            "main thread's longest wait for the module lock µs (LATENCY module-acquire-GIL)",
            micros(median(
                &runs
                    .latency
                    .iter()
                    .map(|l| l.gil_wait_max)
                    .collect::<Vec<_>>(),
            )),
        ),
        Row::plain(
            "sink STRING rec/s with the latency prober",
            count(median(
                &runs.latency.iter().map(|l| l.rate).collect::<Vec<_>>(),
            )),
        ),
        Row::plain(
            "XADD pipelined rec/s (no source)",
            count(src(|s| s.xadd_rate)),
        ),
        Row::new(
            "source forwarded rec/s (backfill)",
            count(forwarded),
            format!("raw produce {}", count(produce)),
            ratio(forwarded, produce, Target::AtLeast(0.95)),
        ),
        Row::new(
            "source forwarded rec/s (live pipelined XADD, N/4)",
            count(src(|s| s.live_rate)),
            format!("raw produce {}", count(produce)),
            ratio(src(|s| s.live_rate), produce, Target::AtLeast(0.95)),
        ),
        Row::new(
            "XADD p50 µs with source",
            micros(xadd_with.p50),
            format!("without {}", micros(xadd_without.p50)),
            ratio(xadd_with.p50, xadd_without.p50, Target::None),
        ),
        Row::new(
            "XADD p99 µs with source",
            micros(xadd_with.p99),
            format!("without {}", micros(xadd_without.p99)),
            ratio(xadd_with.p99, xadd_without.p99, Target::AtMost(1.2)),
        ),
        Row::new(
            "XADD p99.9 µs with source",
            micros(xadd_with.p999),
            format!("without {}", micros(xadd_without.p999)),
            ratio(xadd_with.p999, xadd_without.p999, Target::None),
        ),
        Row::plain(
            "SET pipelined rec/s (no source)",
            count(keys(|k| k.set_rate)),
        ),
        Row::new(
            "KEYS source snapshot keys/s",
            count(keys(|k| k.snapshot_rate)),
            format!("raw produce {}", count(produce)),
            ratio(keys(|k| k.snapshot_rate), produce, Target::None),
        ),
        Row::new(
            "KEYS source live changes/s (distinct keys)",
            count(keys(|k| k.changes_rate)),
            format!("raw produce {}", count(produce)),
            ratio(keys(|k| k.changes_rate), produce, Target::None),
        ),
        Row::new(
            "SET p50 µs with KEYS source",
            micros(set_with.p50),
            format!("without {}", micros(set_without.p50)),
            ratio(set_with.p50, set_without.p50, Target::None),
        ),
        Row::new(
            "SET p99 µs with KEYS source",
            micros(set_with.p99),
            format!("without {}", micros(set_without.p99)),
            ratio(set_with.p99, set_without.p99, Target::None),
        ),
        Row::new(
            &format!("peak RSS MiB sink STRING (N={n})"),
            mib(rss_n),
            format!("hand-written's Redis {}", mib(hand_rss)),
            ratio(rss_n, hand_rss, Target::None),
        ),
        Row::new(
            &format!("peak RSS MiB sink STRING (N={n}) vs (N/4={quarter})"),
            mib(rss_n),
            format!("N/4 {}", mib(rss_quarter)),
            ratio(rss_n, rss_quarter, Target::None),
        ),
        Row::new(
            "peak RSS growth per extra record (N/4 → N)",
            format!("{growth:.1} B"),
            format!("record value {} B", cfg.value_bytes),
            ratio(growth, cfg.value_bytes as f64, Target::None),
        ),
        Row::plain("peak RSS MiB sink HASH (N)", mib(median(&runs.hash_rss))),
        Row::plain(
            "peak RSS MiB source (N entries in streams)",
            mib(src(|s| s.rss_mib)),
        ),
    ]);
    rows.extend(scaling_rows(cfg, &runs.scaling));
    for (what, per_record) in &runs.allocations {
        rows.push(Row::plain(
            &format!("Rust heap allocations per record, {what}"),
            format!("{per_record:.2}"),
        ));
    }
    rows
}

/// Target 5: throughput by partitions and tasks, and RSS per in-flight byte.
fn scaling_rows(cfg: &Config, runs: &[scaling::ScalingRun]) -> Vec<Row> {
    let of =
        |f: &dyn Fn(&scaling::ScalingRun) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    let quarter = count(cfg.quarter() as f64);
    let mut rows = Vec::new();
    for (i, partitions) in scaling::PARTITIONS.iter().enumerate() {
        let sink = of(&|r| r.by_partitions[i].0);
        let raw = of(&|r| r.by_partitions[i].1);
        rows.push(Row::new(
            &format!("sink STRING rec/s, {partitions} partition(s), N/4={quarter}"),
            count(sink),
            format!("raw consume (tuned) {}", count(raw)),
            ratio(sink, raw, Target::None),
        ));
    }
    let one_task = of(&|r| r.by_tasks[0]);
    for (i, tasks) in scaling::TASKS.iter().enumerate() {
        let rate = of(&|r| r.by_tasks[i]);
        rows.push(Row::new(
            &format!("sink STRING rec/s, TASKS {tasks}, 4 partitions, N arriving"),
            count(rate),
            format!("TASKS 1 {}", count(one_task)),
            ratio(rate, one_task, Target::None),
        ));
    }
    let [low, high] = scaling::INFLIGHT_KIB;
    let span_mib = (high - low) as f64 / 1024.0;
    let per_byte = |what: &str, rss: &dyn Fn(&scaling::ScalingRun) -> &Vec<f64>| {
        let (small, large) = (of(&|r| rss(r)[0]), of(&|r| rss(r)[1]));
        Row::plain(
            &format!("{what} ({} → {} MiB)", low / 1024, high / 1024),
            format!(
                "{:.2} B ({} → {} MiB)",
                (large - small) / span_mib,
                mib(small),
                mib(large)
            ),
        )
    };
    rows.push(per_byte(
        "sink STRING (N): peak RSS per byte of queued.max.messages.kbytes",
        &|r| &r.sink_rss,
    ));
    rows.push(per_byte(
        "source backfill (N): RSS growth per byte of kafka.source-inflight-max-bytes",
        &|r| &r.source_rss,
    ));
    rows
}

/// One probe's latency while the sink runs, against issue 16's p99 and p99.9 targets.
fn probe_rows(probe: &str, idle: Latency, busy: Latency) -> [Row; 4] {
    let against = |percentile: &str, value: f64, target: f64| {
        Row::new(
            &format!("{probe} {percentile} during sink µs"),
            micros(value),
            format!("target {}", micros(target)),
            ratio(value, target, Target::AtMost(1.0)),
        )
    };
    [
        Row::plain(
            &format!("{probe} p50 µs idle / during sink"),
            format!("{} / {}", micros(idle.p50), micros(busy.p50)),
        ),
        against("p99", busy.p99, P99_TARGET_US),
        against("p99.9", busy.p999, P999_TARGET_US),
        Row::plain(&format!("{probe} max during sink µs"), micros(busy.max)),
    ]
}

fn describe(properties: &[(String, String)]) -> String {
    let pairs: Vec<String> = properties.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join(", ")
}

/// "redis-server 7.0.15" from `redis-server --version`.
fn server_version(binary: &std::path::Path) -> String {
    let output = std::process::Command::new(binary).arg("--version").output();
    let text = output.map(|o| String::from_utf8_lossy(&o.stdout).to_string());
    let version = text.ok().and_then(|t| {
        t.split_whitespace()
            .find_map(|w| w.strip_prefix("v=").map(str::to_string))
    });
    format!(
        "redis-server {}",
        version.as_deref().unwrap_or("(unknown version)")
    )
}

/// nproc, CPU model and memory, from /proc.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).trim())
        .unwrap_or("unknown CPU");
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    format!("nproc {cpus}, {model}, {mem_gib:.0} GiB RAM")
}
