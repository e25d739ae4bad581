//! The chaos soak: a STREAM sink (TASKS 2) and a source run flat out while the brokers go down
//! and come back, redis-server is kill -9'd and restarted (AOF always), bridges are paused and
//! resumed, and an outside consumer joins the sink's group to force rebalances.
//!
//! One broker per direction. The sink reads from Tansu on SQLite, killed with SIGKILL and
//! restarted on the same storage. The source writes to librdkafka's mock cluster, taken down and
//! brought back with its fault injection (every connection drops, new ones are refused, data
//! kept): a Tansu 0.6 the source wrote to stopped answering after its restarts (a broker at
//! ~94% CPU whose metadata requests time out), and the mock cluster aborts on an assertion in
//! its group code when it goes down during a rebalance, so neither can serve both sides. At the end the sink's stream holds exactly one entry per record in the
//! topic, and the source's topic holds every stream entry, in order per stream, with duplicates
//! within the documented bound. `SOAK_SECONDS` sets the chaos phase (30 by default; `make test`
//! runs 120, `make soak` 600).

mod common;

use common::*;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SINK_RATE: u64 = 3000;
/// Tansu 0.6 on SQLite slows down as its log grows: past about a million records its fetches
/// take seconds and its group coordinator stops answering (REQTMOUT, then session timeouts,
/// seen in a 10-minute run), so longer soaks produce more slowly to stay near this total.
const SINK_RECORDS_CAP: u64 = 360_000;

fn sink_rate(seconds: u64) -> u64 {
    SINK_RATE.min(SINK_RECORDS_CAP / seconds.max(1)).max(100)
}
const SOURCE_RATE: u64 = 1500;
const STREAMS: usize = 4;
/// Entries a source holds read and unacknowledged at most (MAX_IN_FLIGHT in the source).
const SOURCE_IN_FLIGHT: u64 = 50_000;

fn soak_seconds() -> u64 {
    std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30)
}

/// Produces `{"n":i}` records at `rate` per second until stopped; returns how many were acknowledged.
fn producer_thread(
    bootstrap: String,
    stop: Arc<AtomicBool>,
    rate: u64,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("enable.idempotence", "true")
            .set("message.timeout.ms", "900000")
            .set("linger.ms", "5")
            .create()
            .expect("producer");
        let started = Instant::now();
        let mut n: u64 = 0;
        while !stop.load(Ordering::Relaxed) {
            let due = started.elapsed().as_millis() as u64 * rate / 1000;
            while n < due {
                let value = format!(r#"{{"n":{n}}}"#);
                let key = format!("k{}", n % 97);
                let record = BaseRecord::to("soak-in").key(&key).payload(&value);
                match producer.send(record) {
                    Ok(()) => n += 1,
                    Err(_) => {
                        producer.poll(Duration::from_millis(10));
                        break;
                    }
                }
            }
            producer.poll(Duration::from_millis(10));
        }
        producer
            .flush(Duration::from_secs(600))
            .expect("every record acknowledged");
        n
    })
}

/// XADDs `n=<seq>` to src:0..src:3 at SOURCE_RATE, reconnecting across Redis restarts.
fn writer_thread(
    port: u16,
    stop: Arc<AtomicBool>,
    written: Arc<AtomicU64>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
        let started = Instant::now();
        let mut seq: u64 = 0;
        let mut conn = None;
        while !stop.load(Ordering::Relaxed) {
            let due = started.elapsed().as_millis() as u64 * SOURCE_RATE / 1000;
            if seq >= due {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            if conn.is_none() {
                conn = client
                    .get_connection_with_timeout(Duration::from_secs(1))
                    .ok();
                if conn.is_none() {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            }
            let stream = format!("src:{}", seq % STREAMS as u64);
            let added: redis::RedisResult<String> = redis::cmd("XADD")
                .arg(&stream)
                .arg("*")
                .arg("n")
                .arg(seq)
                .query(conn.as_mut().unwrap());
            match added {
                Ok(_) => {
                    seq += 1;
                    written.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => conn = None,
            }
        }
    })
}

/// A consumer outside Redis joins the sink's group for a while: the group rebalances twice.
fn outside_member(bootstrap: &str, hold: Duration) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "redis-kafka-soak")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        .create()
        .expect("outside consumer");
    consumer.subscribe(&["soak-in"]).expect("subscribe");
    let until = Instant::now() + hold;
    while Instant::now() < until {
        consumer.poll(Duration::from_millis(100));
    }
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn info_number(conn: &mut redis::Connection, section: &str, field: &str) -> i64 {
    let info: String = cmd(conn, &["INFO", section]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(-1)
}

/// Retries a status read across a restart.
fn retry<T>(
    redis: &RedisServer,
    mut f: impl FnMut(&mut redis::Connection) -> redis::RedisResult<T>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(mut conn) = redis::Client::open(format!("redis://127.0.0.1:{}/", redis.port))
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
        {
            if let Ok(value) = f(&mut conn) {
                return value;
            }
        }
        assert!(
            Instant::now() < deadline,
            "redis did not answer for 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn high_watermarks(bootstrap: &str, topic: &str, partitions: i32) -> i64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("watermark client");
    (0..partitions)
        .map(|p| {
            consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .map(|(_, high)| high)
                .unwrap_or_else(|e| panic!("watermarks of {topic}/{p}: {e}"))
        })
        .sum()
}

/// Reads every record of the source's topic as it arrives, through outages, until stopped and
/// caught up with the topic's end: (redis.stream, redis.id) per record. Reading live matters:
/// the mock cluster keeps only the last ~70,000 records of a partition.
fn auditor_thread(
    bootstrap: String,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<(String, String)>> {
    std::thread::spawn(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", "soak-auditor")
            .set("enable.auto.commit", "false")
            .create()
            .expect("auditor");
        let mut assignment = rdkafka::TopicPartitionList::new();
        for p in 0..4 {
            assignment
                .add_partition_offset("soak-src", p, rdkafka::Offset::Beginning)
                .expect("partition");
        }
        consumer.assign(&assignment).expect("assign");
        let mut out = Vec::new();
        let mut idle_since: Option<Instant> = None;
        loop {
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => {
                    idle_since = None;
                    let header = |name: &str| {
                        m.headers()
                            .and_then(|h| h.iter().find(|x| x.key == name).and_then(|x| x.value))
                            .map(|v| String::from_utf8_lossy(v).into_owned())
                            .unwrap_or_default()
                    };
                    out.push((header("redis.stream"), header("redis.id")));
                }
                Some(Err(e)) => {
                    // Reading from the beginning, an offset out of range means the mock
                    // cluster dropped records before the auditor read them (it keeps about
                    // 70k per partition): say so instead of a bare count mismatch.
                    if matches!(
                        e.rdkafka_error_code(),
                        Some(rdkafka::types::RDKafkaErrorCode::OffsetOutOfRange)
                    ) {
                        eprintln!("auditor: {e}: it fell behind the mock cluster's retention");
                    }
                }
                None => {
                    // Done once told to stop and nothing new came for two seconds.
                    if stop.load(Ordering::Relaxed) {
                        let since = *idle_since.get_or_insert_with(Instant::now);
                        if since.elapsed() > Duration::from_secs(2) {
                            return out;
                        }
                    }
                }
            }
        }
    })
}

fn tail(text: &str, bytes: usize) -> &str {
    let mut start = text.len().saturating_sub(bytes);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[test]
fn chaos_soak() {
    let seconds = soak_seconds();
    let mut kafka = Tansu::start_sqlite();
    let kafka_out = MockKafka::new();
    kafka.create_topic("soak-in", 4);
    kafka_out.create_topic("soak-src", 4);
    let mut redis = RedisServer::start_with(ServerOptions {
        extra: vec![
            "--appendonly".into(),
            "yes".into(),
            "--appendfsync".into(),
            "always".into(),
        ],
        ..ServerOptions::default()
    });
    let b = kafka.bootstrap();
    let out = kafka_out.bootstrap();
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &b,
        "soak",
        &[
            "TOPICS", "soak-in", "TYPE", "STREAM", "KEY", "soak-out", "TASKS", "2",
        ],
    );
    cmd::<String>(
        &mut conn,
        &[
            "KAFKA.SOURCE.CREATE",
            "soaksrc",
            "STREAMS",
            "src:*",
            "TOPIC",
            "soak-src",
            "FROM",
            "BEGINNING",
            "PARTITIONS",
            "4",
            "BROKERS",
            &out,
        ],
    );
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let producer = producer_thread(b.clone(), stop.clone(), sink_rate(seconds));
    let audit_stop = Arc::new(AtomicBool::new(false));
    let auditor = auditor_thread(out.clone(), audit_stop.clone());
    let writer = writer_thread(redis.port, stop.clone(), written.clone());

    let mut g = Rng(0x50a4);
    let (mut broker_kills, mut redis_kills, mut pauses, mut rebalances) = (0, 0, 0, 0);
    let mut samples: Vec<(u64, i64)> = Vec::new();
    let mut schedule: Vec<u64> = Vec::new();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2000 + g.below(3000)));
        // Every kind of fault once per round of four, in a random order.
        if schedule.is_empty() {
            schedule = vec![0, 1, 2, 3];
            for i in (1..schedule.len()).rev() {
                schedule.swap(i, g.below(i as u64 + 1) as usize);
            }
        }
        match schedule.pop().unwrap_or(0) {
            0 => {
                let which = g.below(3);
                if which != 1 {
                    kafka.kill9();
                }
                if which != 0 {
                    kafka_out.broker_down();
                }
                std::thread::sleep(Duration::from_millis(1000 + g.below(3000)));
                if which != 1 {
                    kafka.restart();
                }
                if which != 0 {
                    kafka_out.broker_up();
                }
                broker_kills += 1;
            }
            1 => {
                redis.kill9();
                redis.restart();
                samples.clear();
                redis_kills += 1;
            }
            2 => {
                let (pause, resume) = if g.below(2) == 0 {
                    ("KAFKA.SINK.PAUSE", "KAFKA.SINK.RESUME")
                } else {
                    ("KAFKA.SOURCE.PAUSE", "KAFKA.SOURCE.RESUME")
                };
                let name = if pause.contains("SINK") {
                    "soak"
                } else {
                    "soaksrc"
                };
                retry(&redis, |c| redis::cmd(pause).arg(name).query::<String>(c));
                std::thread::sleep(Duration::from_millis(500 + g.below(2500)));
                retry(&redis, |c| redis::cmd(resume).arg(name).query::<String>(c));
                pauses += 1;
            }
            _ => {
                outside_member(&b, Duration::from_millis(3000 + g.below(5000)));
                rebalances += 1;
            }
        }
        let used = retry(&redis, |c| Ok(info_number(c, "memory", "used_memory")));
        samples.push((rss_kb(redis.pid()), used));
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let produced = producer.join().unwrap() as i64;
    println!("traffic stopped at {:?}", started.elapsed());
    let in_topic = high_watermarks(&b, "soak-in", 4);
    assert_eq!(
        in_topic, produced,
        "the topic holds what the producer was acknowledged"
    );

    // Drain: the sink has stored offsets past every record, the source checkpointed every entry.
    let mut conn = redis.conn();
    let mut probe = redis.conn();
    wait_until_or(
        "sink caught up",
        Duration::from_secs(600),
        || stored_total(&mut conn, "soak") == in_topic,
        || {
            format!(
                "stored {} of {in_topic}; sink {:?}; broker log tail:\n{}\nserver log tail:\n{}",
                stored_total(&mut probe, "soak"),
                status(&mut probe, "soak"),
                kafka.log_tail(5_000),
                tail(&redis.log(), 20_000)
            )
        },
    );
    let last_ids: HashMap<String, String> = (0..STREAMS)
        .map(|i| {
            let stream = format!("src:{i}");
            let last: Vec<(String, HashMap<String, String>)> =
                cmd(&mut conn, &["XREVRANGE", &stream, "+", "-", "COUNT", "1"]);
            (
                stream,
                last.first().map(|(id, _)| id.clone()).unwrap_or_default(),
            )
        })
        .collect();
    wait_until("source caught up", Duration::from_secs(600), || {
        last_ids.iter().all(|(stream, id)| {
            cmd::<Option<String>>(&mut conn, &["HGET", "__kafka:checkpoints:soaksrc", stream])
                .as_deref()
                == Some(id.as_str())
        })
    });

    println!("drained at {:?}", started.elapsed());
    // The sink's stream: exactly one entry per record.
    let mut seen: HashSet<u64> = HashSet::new();
    let mut entries = 0i64;
    let mut start = "-".to_string();
    loop {
        let page: Vec<(String, HashMap<String, String>)> = cmd(
            &mut conn,
            &["XRANGE", "soak-out", &start, "+", "COUNT", "10000"],
        );
        let Some((last, _)) = page.last() else { break };
        start = format!("({last}");
        for (_, fields) in &page {
            entries += 1;
            seen.insert(fields["n"].parse().unwrap());
        }
    }
    let sink_duplicates = entries - seen.len() as i64;
    let sink_lost = in_topic - seen.len() as i64;

    // The source's topic: every entry, first deliveries in stream order.
    let mut stream_ids: HashMap<String, Vec<String>> = HashMap::new();
    for i in 0..STREAMS {
        let stream = format!("src:{i}");
        let mut ids = Vec::new();
        let mut from = "-".to_string();
        loop {
            let page: Vec<(String, HashMap<String, String>)> = cmd(
                &mut conn,
                &["XRANGE", &stream, &from, "+", "COUNT", "10000"],
            );
            let Some((last, _)) = page.last() else { break };
            from = format!("({last}");
            ids.extend(page.into_iter().map(|(id, _)| id));
        }
        stream_ids.insert(stream, ids);
    }
    let entries_total: usize = stream_ids.values().map(Vec::len).sum();
    let delivered_total = high_watermarks(&out, "soak-src", 4);
    audit_stop.store(true, Ordering::Relaxed);
    let delivered = auditor.join().unwrap();
    assert_eq!(
        delivered.len() as i64,
        delivered_total,
        "the auditor read the whole topic"
    );
    let mut first_seen: HashMap<String, Vec<String>> = HashMap::new();
    let mut distinct: HashSet<(String, String)> = HashSet::new();
    for (stream, id) in &delivered {
        if distinct.insert((stream.clone(), id.clone())) {
            first_seen
                .entry(stream.clone())
                .or_default()
                .push(id.clone());
        }
    }
    let mut source_lost = 0;
    for (stream, ids) in &stream_ids {
        let got = first_seen.get(stream).cloned().unwrap_or_default();
        source_lost += ids
            .iter()
            .filter(|id| !distinct.contains(&(stream.clone(), (*id).clone())))
            .count();
        let in_stream: HashSet<&String> = ids.iter().collect();
        let ordered: Vec<(u64, u64)> = got
            .iter()
            .filter(|id| in_stream.contains(id))
            .map(|id| parse_id(id))
            .collect();
        assert!(
            ordered.windows(2).all(|w| w[0] < w[1]),
            "{stream}: first deliveries out of stream order"
        );
    }
    let source_duplicates = delivered.len() as u64 - distinct.len() as u64;
    let faults = broker_kills + redis_kills + pauses + rebalances;
    let (rss_start, used_start) = samples.first().copied().unwrap_or_default();
    let rss_end = rss_kb(redis.pid());
    let used_end = info_number(&mut conn, "memory", "used_memory");
    println!(
        "soak {seconds} s: sink {in_topic} records, {entries} entries, lost {sink_lost}, duplicated {sink_duplicates}; \
         source {entries_total} entries ({} written), {} delivered, lost {source_lost}, duplicated {source_duplicates}; \
         faults {faults} (broker outages {broker_kills}, redis kill -9 {redis_kills}, pause/resume {pauses}, rebalances {rebalances}); \
         RSS after the last restart {rss_start} kB -> {rss_end} kB (Redis allocator {used_start} -> {used_end} bytes)",
        written.load(Ordering::Relaxed),
        delivered.len(),
    );
    assert_eq!(sink_lost, 0, "sink lost records");
    assert_eq!(sink_duplicates, 0, "sink applied records twice");
    assert_eq!(source_lost, 0, "source lost entries");
    assert!(
        source_duplicates <= (broker_kills + redis_kills + pauses + 1) * SOURCE_IN_FLIGHT,
        "source duplicates {source_duplicates} beyond the bound"
    );
    // Outside the Redis allocator (librdkafka, threads), memory stays flat after the last restart.
    let outside_start = rss_start as i64 * 1024 - used_start;
    let outside_end = rss_end as i64 * 1024 - used_end;
    assert!(
        outside_end - outside_start < 64 << 20,
        "memory outside Redis's allocator grew from {outside_start} to {outside_end}"
    );
}

fn parse_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

/// A tiny deterministic generator for the fault schedule.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}
