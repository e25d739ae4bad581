//! Throughput of a sink and a source on Redis Cluster with 1, 2 and 3 primaries (issue 12).
//! A measurement, not a check: `make bench-cluster` runs it and prints the figures that
//! BENCHMARKS.md reports. Ignored by `make test`.

mod common;

use common::cluster::Cluster;
use common::cluster_io::key_slot;
use common::*;
use std::time::{Duration, Instant};

const RECORDS: usize = 200_000;
const STREAMS: usize = 64;

fn total_records(cluster: &Cluster, name: &str) -> i64 {
    cluster
        .primaries()
        .into_iter()
        .map(|p| {
            try_cmd::<redis::Value>(&mut cluster.conn(p), &["KAFKA.STATUS", name])
                .ok()
                .map_or(0, |_| count_field(&mut cluster.conn(p), name, "records"))
        })
        .sum()
}

/// From the first record through (group joins and topic metadata excluded) to the last;
/// returns the records counted in that time and the time.
fn wait_total(cluster: &Cluster, name: &str, total: i64) -> (i64, Duration) {
    let mut first = 0;
    wait_until(
        "the first records through",
        Duration::from_secs(120),
        || {
            first = total_records(cluster, name);
            first > 0
        },
    );
    let started = Instant::now();
    wait_until("every record through", Duration::from_secs(600), || {
        total_records(cluster, name) >= total
    });
    (total - first, started.elapsed())
}

fn sink_rate(primaries: usize, kafka: &MockKafka) -> f64 {
    let cluster = Cluster::start(redis_server(), primaries, 0);
    let mut conn = cluster.conn(0);
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "scale",
        &["TOPICS", "scale", "TYPE", "STRING", "KEY", "${key}"],
    );
    let (counted, took) = wait_total(&cluster, "scale", RECORDS as i64);
    counted as f64 / took.as_secs_f64()
}

fn source_rate(primaries: usize) -> f64 {
    let kafka = MockKafka::new();
    kafka.create_topic("scale-out", 4);
    let cluster = Cluster::start(redis_server(), primaries, 0);
    // Entries written straight to the primary serving each stream, pipelined.
    let mut per_node: Vec<redis::Pipeline> =
        (0..cluster.nodes.len()).map(|_| redis::pipe()).collect();
    for i in 0..RECORDS {
        let stream = format!("st:{}", i % STREAMS);
        let node = cluster.node_for_slot(key_slot(stream.as_bytes()));
        per_node[node]
            .cmd("XADD")
            .arg(&stream)
            .arg("*")
            .arg("n")
            .arg(i)
            .ignore();
    }
    for (node, pipe) in per_node.iter().enumerate() {
        let _: () = pipe.query(&mut cluster.conn(node)).expect("XADD pipeline");
    }
    let mut conn = cluster.conn(0);
    let create = [
        "KAFKA.SOURCE.CREATE",
        "scale",
        "BROKERS",
        &kafka.bootstrap(),
        "STREAMS",
        "st:*",
        "TOPIC",
        "scale-out",
        "FROM",
        "BEGINNING",
    ];
    assert_eq!(cmd::<String>(&mut conn, &create), "OK");
    let (counted, took) = wait_total(&cluster, "scale", RECORDS as i64);
    counted as f64 / took.as_secs_f64()
}

#[test]
#[ignore = "a measurement: make bench-cluster"]
fn throughput_with_one_two_and_three_primaries() {
    let kafka = MockKafka::new();
    kafka.create_topic("scale", 4);
    produce(&kafka.bootstrap(), "scale", &numbered(0, RECORDS, RECORDS));
    let mut lines = Vec::new();
    // The same sink on one standalone server: what per-slot offsets cost.
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "scale",
        &["TOPICS", "scale", "TYPE", "STRING", "KEY", "${key}"],
    );
    wait_until(
        "the first records through",
        Duration::from_secs(120),
        || count_field(&mut conn, "scale", "records") > 0,
    );
    let first = count_field(&mut conn, "scale", "records");
    let started = Instant::now();
    wait_until("every record through", Duration::from_secs(600), || {
        count_field(&mut conn, "scale", "records") >= RECORDS as i64
    });
    let standalone = (RECORDS as i64 - first) as f64 / started.elapsed().as_secs_f64();
    lines.push(format!("| standalone | {standalone:.0} | |"));
    drop(redis);
    for primaries in 1..=3 {
        let sink = sink_rate(primaries, &kafka);
        let source = source_rate(primaries);
        lines.push(format!("| {primaries} | {:.0} | {:.0} |", sink, source));
    }
    println!("| primaries | sink records/s (STRING, 4 partitions) | source entries/s ({STREAMS} streams) |");
    println!("|---|---|---|");
    for line in lines {
        println!("{line}");
    }
}
