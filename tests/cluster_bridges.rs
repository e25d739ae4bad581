//! Bridges on a Redis Cluster through its faults (issue 12): while records flow, a primary is
//! killed with -9 (its replica is promoted) and restarted, a replica takes over with CLUSTER
//! FAILOVER, and 1200 slots move between primaries with `--cluster reshard`. A STREAM sink keyed
//! by record key must end with exactly one entry per record; a source over streams on every
//! shard must lose no entry (duplicates are counted and bounded).

mod common;

use common::cluster::Cluster;
use common::cluster_io::{read_streams, scan_all, Router};
use common::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RECORDS: usize = 20_000;
const CHUNK: usize = 400;
/// Spreads the records over the faults (about 12 s of producing), a load shape only.
const CHUNK_EVERY: Duration = Duration::from_millis(240);
const RESHARD_SLOTS: usize = 1200;
const SETTLE: Duration = Duration::from_secs(120);

/// Runs the three faults, each once `progress` passed a threshold; returns what each took.
fn faults(cluster: &mut Cluster, progress: &dyn Fn() -> usize, total: usize) -> String {
    let reach = |n: usize| {
        wait_until(&format!("{n} produced"), DEADLINE, || progress() >= n);
    };
    reach(total / 8);
    let victim = cluster.primaries()[0];
    let (promoted, killed) = cluster.kill_primary(victim);
    let restarted = cluster.restart(victim);

    reach(total * 3 / 8);
    let primary = *cluster
        .primaries()
        .iter()
        .find(|&&p| p != promoted)
        .expect("another primary");
    let replica = cluster.replicas_of(primary)[0];
    let failed_over = cluster.manual_failover(replica);

    reach(total / 2);
    let primaries = cluster.primaries();
    let resharded = cluster
        .reshard(primaries[0], primaries[1], RESHARD_SLOTS)
        .join();
    cluster.wait_check_clean();
    format!(
        "kill -9 settled in {killed:?}, restart {restarted:?}, failover {failed_over:?}, \
         reshard of {RESHARD_SLOTS} slots {resharded:?}"
    )
}

fn wait_bridge_running(cluster: &Cluster, name: &str) {
    for node in cluster.primaries() {
        let mut conn = cluster.conn(node);
        wait_until("every primary runs the bridge", DEADLINE, || {
            try_cmd::<redis::Value>(&mut conn, &["KAFKA.STATUS", name]).is_ok()
                && status_field::<String>(&mut conn, name, "state") == "running"
        });
    }
}

fn sink_applies_each_record_once_through_faults(binary: std::path::PathBuf, server: &str) {
    let begin = Instant::now();
    let kafka = MockKafka::new();
    kafka.create_topic("faults", 4);
    let mut cluster = Cluster::start(binary, 3, 1);
    let mut conn = cluster.conn(cluster.primaries()[0]);
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "fs",
        &["TOPICS", "faults", "TYPE", "STREAM", "KEY", "${key}"],
    );
    wait_bridge_running(&cluster, "fs");

    let produced = Arc::new(AtomicUsize::new(0));
    let producer = {
        let (bootstrap, produced) = (kafka.bootstrap(), produced.clone());
        std::thread::spawn(move || {
            for start in (0..RECORDS).step_by(CHUNK) {
                produce(
                    &bootstrap,
                    "faults",
                    &numbered(start, start + CHUNK, RECORDS),
                );
                produced.store(start + CHUNK, Relaxed);
                std::thread::sleep(CHUNK_EVERY);
            }
        })
    };
    let timings = faults(&mut cluster, &|| produced.load(Relaxed), RECORDS);
    producer.join().expect("producer thread");
    eprintln!("{server} sink: faults done: {timings}");

    let settle = Instant::now();
    let deadline = Instant::now() + SETTLE;
    while scan_all(&cluster, "k*").len() < RECORDS {
        if Instant::now() > deadline {
            let statuses: Vec<String> = cluster
                .primaries()
                .into_iter()
                .map(|p| {
                    let mut conn = cluster.conn(p);
                    let info: String = cmd(&mut conn, &["INFO", "kafka"]);
                    format!(
                        "{}\n{info}\n{:?}",
                        cluster.nodes_line(p),
                        status(&mut conn, "fs")
                    )
                })
                .collect();
            let present: std::collections::HashSet<String> =
                scan_all(&cluster, "k*").into_iter().collect();
            let missing: Vec<String> = (0..RECORDS)
                .map(|i| format!("k{i}"))
                .filter(|k| !present.contains(k))
                .take(20)
                .map(|k| {
                    let slot = cluster.slot_of(&k);
                    format!(
                        "{k} slot {slot} on {}",
                        cluster.port(cluster.node_for_slot(slot))
                    )
                })
                .collect();
            panic!(
                "{} of {RECORDS} records applied; missing {missing:?}; sink on each primary: \
                 {statuses:#?}",
                present.len()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let keys: Vec<String> = (0..RECORDS).map(|i| format!("k{i}")).collect();
    // A record applied twice shows as a second entry; one applied late shows after the wait.
    let streams = read_streams(&cluster, &keys);
    let lost = streams.iter().filter(|s| s.is_empty()).count();
    let duplicated: usize = streams.iter().map(|s| s.len().saturating_sub(1)).sum();
    eprintln!(
        "{server} sink: {timings}; all applied {:?} after the faults; {RECORDS} records, \
         {lost} lost, {duplicated} duplicated; total {:?}",
        settle.elapsed(),
        begin.elapsed()
    );
    assert_eq!((lost, duplicated), (0, 0));
    assert_eq!(scan_all(&cluster, "k*").len(), RECORDS);
}

/// Reads the topic until every expected (stream, entry ID) was seen and nothing more comes for
/// a second; returns how often each was seen.
fn read_back(
    bootstrap: &str,
    topic: &str,
    expected: &HashMap<(String, String), usize>,
) -> HashMap<(String, String), usize> {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::{Headers, Message};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("audit-{}", free_port()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let header = |m: &rdkafka::message::BorrowedMessage<'_>, name: &str| {
        m.headers().and_then(|h| {
            h.iter()
                .find(|h| h.key == name)
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        })
    };
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    let deadline = Instant::now() + SETTLE;
    let mut quiet_since = Instant::now();
    loop {
        let complete = expected.keys().all(|k| seen.contains_key(k));
        if complete && quiet_since.elapsed() > Duration::from_secs(1) {
            return seen;
        }
        if Instant::now() > deadline {
            return seen;
        }
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            quiet_since = Instant::now();
            if let (Some(stream), Some(id)) = (header(&m, "redis.stream"), header(&m, "redis.id")) {
                *seen.entry((stream, id)).or_default() += 1;
            }
        }
    }
}

fn source_loses_nothing_through_faults(binary: std::path::PathBuf, server: &str) {
    const STREAMS: usize = 200;
    let begin = Instant::now();
    let kafka = MockKafka::new();
    kafka.create_topic("out", 4);
    let mut cluster = Cluster::start(binary, 3, 1);
    let mut conn = cluster.conn(cluster.primaries()[0]);
    let create = [
        "KAFKA.SOURCE.CREATE",
        "fsrc",
        "BROKERS",
        &kafka.bootstrap(),
        "STREAMS",
        "s:*",
        "TOPIC",
        "out",
    ];
    assert_eq!(cmd::<String>(&mut conn, &create), "OK");
    wait_bridge_running(&cluster, "fsrc");

    // XADDs routed to the stream's primary; an XADD whose outcome is unknown (the link broke)
    // is not retried, and the audit reads the streams themselves.
    let added = Arc::new(AtomicUsize::new(0));
    let writer = {
        let seeds = cluster.nodes.iter().map(|n| n.port).collect();
        let added = added.clone();
        std::thread::spawn(move || {
            let mut router = Router::new(seeds);
            for i in 0..RECORDS {
                let stream = format!("s:{}", i % STREAMS);
                router.write(&["XADD", &stream, "*", "n", &i.to_string()]);
                added.store(i + 1, Relaxed);
                if i % CHUNK == CHUNK - 1 {
                    std::thread::sleep(CHUNK_EVERY);
                }
            }
        })
    };
    let timings = faults(&mut cluster, &|| added.load(Relaxed), RECORDS);
    writer.join().expect("writer thread");

    let keys: Vec<String> = (0..STREAMS).map(|i| format!("s:{i}")).collect();
    let streams = read_streams(&cluster, &keys);
    let expected: HashMap<(String, String), usize> = keys
        .iter()
        .zip(&streams)
        .flat_map(|(key, entries)| entries.iter().map(move |e| ((key.clone(), e.0.clone()), 1)))
        .collect();
    let in_redis = expected.len();
    let settle = Instant::now();
    let seen = read_back(&kafka.bootstrap(), "out", &expected);
    let lost = expected.keys().filter(|k| !seen.contains_key(*k)).count();
    let duplicated: usize = seen.values().map(|n| n - 1).sum();
    eprintln!(
        "{server} source: {timings}; {in_redis} entries in Redis, {lost} lost, {duplicated} \
         duplicated; read back in {:?}; total {:?}",
        settle.elapsed(),
        begin.elapsed()
    );
    assert_eq!(lost, 0);
}

#[test]
fn a_sink_applies_each_record_once_through_failover_and_resharding_redis() {
    sink_applies_each_record_once_through_faults(redis_server(), "redis");
}

#[test]
fn a_sink_applies_each_record_once_through_failover_and_resharding_valkey() {
    sink_applies_each_record_once_through_faults(valkey_server(), "valkey");
}

#[test]
fn a_source_loses_nothing_through_failover_and_resharding_redis() {
    source_loses_nothing_through_faults(redis_server(), "redis");
}

#[test]
fn a_source_loses_nothing_through_failover_and_resharding_valkey() {
    source_loses_nothing_through_faults(valkey_server(), "valkey");
}
