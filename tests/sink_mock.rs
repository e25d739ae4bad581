//! Sink behaviour against librdkafka's mock cluster: values per type, order, tombstones,
//! offsets kept in Redis, status and failures.

mod common;

use common::*;
use redis::Value;
use std::collections::HashMap;

fn create_sink(conn: &mut redis::Connection, kafka: &MockKafka, name: &str, extra: &[&str]) {
    common::create_sink(conn, &kafka.bootstrap(), name, extra);
}

fn xlen(conn: &mut redis::Connection, key: &str) -> i64 {
    cmd(conn, &["XLEN", key])
}

fn stored_offsets(conn: &mut redis::Connection, sink: &str) -> HashMap<String, i64> {
    cmd(conn, &["HGETALL", &format!("__kafka:offsets:{sink}")])
}

#[test]
fn string_sink_applies_every_record_and_stores_offsets() {
    let kafka = MockKafka::new();
    kafka.create_topic("users", 4);
    let records: Vec<Rec> = (0..400)
        .map(|i| Rec::kv(&format!("u{i}"), &format!("value-{i}")))
        .collect();
    produce(&kafka.bootstrap(), "users", &records);
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_sink(&mut conn, &kafka, "users", &["TOPICS", "users"]);
    wait_until("400 records applied", DEADLINE, || {
        status_field::<i64>(&mut conn, "users", "records") == 400
    });
    for i in [0, 17, 399] {
        let value: String = cmd(&mut conn, &["GET", &format!("users:u{i}")]);
        assert_eq!(value, format!("value-{i}"));
    }
    let keys: Vec<String> = cmd(&mut conn, &["KEYS", "users:*"]);
    assert_eq!(keys.len(), 400);
    let offsets = stored_offsets(&mut conn, "users");
    assert_eq!(offsets.values().sum::<i64>(), 400, "{offsets:?}");
    assert!(offsets.keys().all(|f| f.starts_with("users:")));
    assert_eq!(
        status_field::<String>(&mut conn, "users", "state"),
        "running"
    );
    wait_until("lag reported as 0", DEADLINE, || {
        status_field::<Option<i64>>(&mut conn, "users", "lag") == Some(0)
    });
}

#[test]
fn hash_json_and_stream_sinks_map_values() {
    let kafka = MockKafka::new();
    kafka.create_topic("profiles", 1);
    let doc = r#"{"name":"ann","age":31,"vip":true,"addr":{"city":"Oslo"}}"#;
    produce(&kafka.bootstrap(), "profiles", &[Rec::kv("1451", doc)]);
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka,
        "h",
        &["TOPICS", "profiles", "TYPE", "HASH", "KEY", "h:${key}"],
    );
    create_sink(
        &mut conn,
        &kafka,
        "j",
        &[
            "TOPICS",
            "profiles",
            "TYPE",
            "JSON",
            "KEY",
            "j:${value.name}",
        ],
    );
    create_sink(
        &mut conn,
        &kafka,
        "s",
        &["TOPICS", "profiles", "TYPE", "STREAM", "KEY", "s:${topic}"],
    );
    wait_until("all three sinks applied the record", DEADLINE, || {
        key_exists(&mut conn, "h:1451")
            && key_exists(&mut conn, "j:ann")
            && key_exists(&mut conn, "s:profiles")
    });
    let hash: HashMap<String, String> = cmd(&mut conn, &["HGETALL", "h:1451"]);
    assert_eq!(hash["name"], "ann");
    assert_eq!(hash["age"], "31");
    assert_eq!(hash["vip"], "true");
    assert_eq!(hash["addr"], r#"{"city":"Oslo"}"#);
    let json: String = cmd(&mut conn, &["JSON.GET", "j:ann", "$.addr.city"]);
    assert_eq!(json, r#"["Oslo"]"#);
    let entries: Vec<(String, HashMap<String, String>)> =
        cmd(&mut conn, &["XRANGE", "s:profiles", "-", "+"]);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].1["name"], "ann");
    assert_eq!(entries[0].1["addr"], r#"{"city":"Oslo"}"#);
}

#[test]
fn records_apply_in_partition_order_with_tombstones() {
    let kafka = MockKafka::new();
    kafka.create_topic("kv", 1);
    let records = vec![
        Rec::kv("a", "1"),
        Rec::tombstone("a"),
        Rec::kv("a", "2"),
        Rec::kv("b", "1"),
        Rec::tombstone("b"),
        Rec::kv("c", "1"),
        Rec::kv("c", "2"),
        Rec::tombstone("missing"),
    ];
    produce(&kafka.bootstrap(), "kv", &records);
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_sink(&mut conn, &kafka, "kv", &["TOPICS", "kv"]);
    wait_until("8 records applied", DEADLINE, || {
        status_field::<i64>(&mut conn, "kv", "records") == 8
    });
    assert_eq!(cmd::<String>(&mut conn, &["GET", "kv:a"]), "2");
    assert!(!key_exists(&mut conn, "kv:b"));
    assert_eq!(cmd::<String>(&mut conn, &["GET", "kv:c"]), "2");
    assert_eq!(stored_offsets(&mut conn, "kv")["kv:0"], 8);
}

#[test]
fn hash_and_json_tombstones_delete_the_key() {
    let kafka = MockKafka::new();
    kafka.create_topic("docs", 1);
    produce(
        &kafka.bootstrap(),
        "docs",
        &[
            Rec::kv("x", r#"{"a":1}"#),
            Rec::kv("y", r#"{"a":2}"#),
            Rec::tombstone("x"),
        ],
    );
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka,
        "h",
        &["TOPICS", "docs", "TYPE", "HASH", "KEY", "h:${key}"],
    );
    create_sink(
        &mut conn,
        &kafka,
        "j",
        &["TOPICS", "docs", "TYPE", "JSON", "KEY", "j:${key}"],
    );
    wait_until("both sinks done", DEADLINE, || {
        status_field::<i64>(&mut conn, "h", "records") == 3
            && status_field::<i64>(&mut conn, "j", "records") == 3
    });
    assert!(!key_exists(&mut conn, "h:x") && !key_exists(&mut conn, "j:x"));
    assert!(key_exists(&mut conn, "h:y") && key_exists(&mut conn, "j:y"));
}

/// The exactly-once claim: a STREAM sink (XADD duplicates on any replay) ends with exactly one
/// entry per record after being deleted and re-created, even under a fresh consumer group that
/// has no Kafka-committed offsets at all.
#[test]
fn recreated_stream_sink_resumes_from_offsets_in_redis() {
    let kafka = MockKafka::new();
    kafka.create_topic("events", 4);
    let batch = |from: usize, to: usize| -> Vec<Rec> {
        (from..to)
            .map(|i| Rec::kv(&format!("k{}", i % 13), &format!(r#"{{"n":{i}}}"#)))
            .collect()
    };
    produce(&kafka.bootstrap(), "events", &batch(0, 300));
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka,
        "ev",
        &["TOPICS", "events", "TYPE", "STREAM"],
    );
    wait_until("300 entries", DEADLINE, || xlen(&mut conn, "events") == 300);
    assert_eq!(cmd::<String>(&mut conn, &["KAFKA.SINK.DELETE", "ev"]), "OK");

    produce(&kafka.bootstrap(), "events", &batch(300, 450));
    create_sink(
        &mut conn,
        &kafka,
        "ev",
        &["TOPICS", "events", "TYPE", "STREAM"],
    );
    wait_until("450 records stored", DEADLINE, || {
        stored_offsets(&mut conn, "ev").values().sum::<i64>() == 450
    });
    assert_eq!(xlen(&mut conn, "events"), 450);
    cmd::<String>(&mut conn, &["KAFKA.SINK.DELETE", "ev"]);

    // A new group id: Kafka knows nothing, START EARLIEST would replay everything.
    produce(&kafka.bootstrap(), "events", &batch(450, 500));
    create_sink(
        &mut conn,
        &kafka,
        "ev",
        &[
            "TOPICS",
            "events",
            "TYPE",
            "STREAM",
            "GROUP",
            "brand-new-group",
            "START",
            "EARLIEST",
        ],
    );
    wait_until("500 records stored", DEADLINE, || {
        stored_offsets(&mut conn, "ev").values().sum::<i64>() == 500
    });
    assert_eq!(xlen(&mut conn, "events"), 500);

    // Each partition's entries are in offset order.
    let entries: Vec<(String, HashMap<String, String>)> =
        cmd(&mut conn, &["XRANGE", "events", "-", "+"]);
    let mut seen: Vec<i64> = entries
        .iter()
        .map(|(_, f)| f["n"].parse().unwrap())
        .collect();
    seen.sort();
    assert_eq!(seen, (0..500).collect::<Vec<i64>>());

    // PURGE forgets the offsets: the next sink of that name starts over.
    cmd::<String>(&mut conn, &["KAFKA.SINK.DELETE", "ev", "PURGE"]);
    assert!(!key_exists(&mut conn, "__kafka:offsets:ev"));
    create_sink(
        &mut conn,
        &kafka,
        "ev",
        &["TOPICS", "events", "TYPE", "STREAM"],
    );
    wait_until("replayed after purge", DEADLINE, || {
        xlen(&mut conn, "events") == 1000
    });
}

#[test]
fn start_latest_skips_existing_records_when_redis_has_no_offset() {
    let kafka = MockKafka::new();
    kafka.create_topic("late", 1);
    produce(&kafka.bootstrap(), "late", &[Rec::kv("old", "1")]);
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka,
        "late",
        &["TOPICS", "late", "START", "LATEST"],
    );
    wait_until("partition assigned", DEADLINE, || {
        matches!(status(&mut conn, "late").iter().find(|(f, _)| f == "partitions"),
            Some((_, Value::Array(p))) if !p.is_empty())
    });
    produce(&kafka.bootstrap(), "late", &[Rec::kv("new", "2")]);
    wait_until("new record applied", DEADLINE, || {
        key_exists(&mut conn, "late:new")
    });
    assert!(!key_exists(&mut conn, "late:old"));
}

#[test]
fn poison_record_fails_the_sink_without_advancing_its_offset() {
    let kafka = MockKafka::new();
    kafka.create_topic("orders", 1);
    produce(
        &kafka.bootstrap(),
        "orders",
        &[
            Rec::kv("o1", r#"{"qty":1}"#),
            Rec::kv("o2", "not json"),
            Rec::kv("o3", r#"{"qty":3}"#),
        ],
    );
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka,
        "orders",
        &["TOPICS", "orders", "TYPE", "HASH"],
    );
    wait_until("sink failed", DEADLINE, || {
        status_field::<String>(&mut conn, "orders", "state") == "failed"
    });
    let last_error: String = status_field(&mut conn, "orders", "last_error");
    assert!(last_error.contains("orders/0 offset 1"), "{last_error}");
    assert!(last_error.contains("not JSON"), "{last_error}");
    assert_eq!(status_field::<i64>(&mut conn, "orders", "errors"), 1);
    assert!(key_exists(&mut conn, "orders:o1"));
    assert!(!key_exists(&mut conn, "orders:o3"));
    assert_eq!(stored_offsets(&mut conn, "orders")["orders:0"], 1);
    assert_eq!(cmd::<String>(&mut conn, &["PING"]), "PONG");
}

#[test]
fn redis_type_conflict_fails_the_sink_and_names_the_record() {
    let kafka = MockKafka::new();
    kafka.create_topic("clash", 1);
    produce(&kafka.bootstrap(), "clash", &[Rec::kv("k", r#"{"a":1}"#)]);
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    cmd::<i64>(&mut conn, &["RPUSH", "clash:k", "x"]);
    create_sink(
        &mut conn,
        &kafka,
        "clash",
        &["TOPICS", "clash", "TYPE", "HASH"],
    );
    wait_until("sink failed", DEADLINE, || {
        status_field::<String>(&mut conn, "clash", "state") == "failed"
    });
    let last_error: String = status_field(&mut conn, "clash", "last_error");
    assert!(last_error.contains("clash/0 offset 0"), "{last_error}");
    assert!(last_error.contains("WRONGTYPE"), "{last_error}");
    assert_eq!(
        cmd::<Vec<String>>(&mut conn, &["LRANGE", "clash:k", "0", "-1"]),
        vec!["x"]
    );
}

#[test]
fn produce_replies_with_partition_and_offset_and_sink_sees_it() {
    let kafka = MockKafka::new();
    kafka.create_topic("pageviews", 1);
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let bootstrap = kafka.bootstrap();
    let first: (i64, i64) = cmd(
        &mut conn,
        &[
            "KAFKA.PRODUCE",
            "pageviews",
            r#"{"userid":1451}"#,
            "KEY",
            "1451",
            "BROKERS",
            &bootstrap,
        ],
    );
    assert_eq!(first, (0, 0));
    let second: (i64, i64) = cmd(
        &mut conn,
        &[
            "KAFKA.PRODUCE",
            "pageviews",
            r#"{"userid":7}"#,
            "KEY",
            "7",
            "BROKERS",
            &bootstrap,
            "HEADER",
            "origin",
            "test",
        ],
    );
    assert_eq!(second, (0, 1));
    create_sink(
        &mut conn,
        &kafka,
        "pv",
        &[
            "TOPICS",
            "pageviews",
            "TYPE",
            "JSON",
            "KEY",
            "pageviews:${key}",
        ],
    );
    wait_until("both records applied", DEADLINE, || {
        key_exists(&mut conn, "pageviews:1451") && key_exists(&mut conn, "pageviews:7")
    });
    let doc: String = cmd(&mut conn, &["JSON.GET", "pageviews:1451"]);
    assert_eq!(doc, r#"{"userid":1451}"#);
}

#[test]
fn produce_to_an_unreachable_broker_fails_only_that_client() {
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let dead = format!("127.0.0.1:{}", free_port());
    let mut other = redis.conn();
    let waiter = std::thread::spawn(move || {
        cmd_err(
            &mut conn,
            &[
                "KAFKA.PRODUCE",
                "t",
                "v",
                "BROKERS",
                &dead,
                "HEADER",
                "a",
                "b",
            ],
        )
    });
    // Another client is served while the first one waits for Kafka.
    wait_until("other client served", DEADLINE, || {
        cmd::<String>(&mut other, &["PING"]) == "PONG"
    });
    let error = waiter.join().unwrap();
    assert!(error.starts_with("ERR Kafka delivery failed"), "{error}");
}

#[test]
fn unreachable_broker_does_not_fail_create_and_shows_in_status() {
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let dead = format!("127.0.0.1:{}", free_port());
    let ok: String = cmd(
        &mut conn,
        &["KAFKA.SINK.CREATE", "lost", "TOPICS", "t", "BROKERS", &dead],
    );
    assert_eq!(ok, "OK");
    wait_until("connection error reported", DEADLINE, || {
        !status_field::<String>(&mut conn, "lost", "last_error").is_empty()
    });
    assert_eq!(
        status_field::<String>(&mut conn, "lost", "state"),
        "starting"
    );
    let last_error: String = status_field(&mut conn, "lost", "last_error");
    assert!(last_error.contains("kafka"), "{last_error}");
    assert!(status_field::<i64>(&mut conn, "lost", "last_error_at_ms") > 0);
    assert_eq!(
        cmd::<String>(&mut conn, &["KAFKA.SINK.DELETE", "lost"]),
        "OK"
    );
}

#[test]
fn list_and_status_cover_every_sink() {
    let kafka = MockKafka::new();
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka,
        "a",
        &[
            "TOPICS",
            "t1,t2",
            "TYPE",
            "HASH",
            "CONFIG",
            "sasl.password",
            "hunter2",
        ],
    );
    create_sink(
        &mut conn,
        &kafka,
        "b",
        &["TOPICS", "t3", "GROUP", "g-b", "START", "LATEST"],
    );
    let list: Vec<Vec<Value>> = cmd(&mut conn, &["KAFKA.SINK.LIST"]);
    assert_eq!(list.len(), 2);
    let text = format!("{list:?}");
    assert!(!text.contains("hunter2"), "secret leaked: {text}");
    let first: Vec<String> = list[0]
        .iter()
        .map(|v| match v {
            Value::BulkString(b) => String::from_utf8_lossy(b).to_string(),
            Value::SimpleString(s) => s.clone(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        &first[0..10],
        [
            "name",
            "a",
            "topics",
            "t1,t2",
            "pattern",
            "",
            "type",
            "HASH",
            "key",
            "${topic}:${key}"
        ]
    );
    let all: Vec<Vec<Value>> = cmd(&mut conn, &["KAFKA.STATUS"]);
    assert_eq!(all.len(), 2);
    assert_eq!(status_field::<String>(&mut conn, "b", "kind"), "sink");
    assert_eq!(
        status_field::<String>(&mut conn, "b", "brokers"),
        kafka.bootstrap()
    );
    let fields: Vec<String> = status(&mut conn, "a").into_iter().map(|(f, _)| f).collect();
    for expected in [
        "name",
        "kind",
        "state",
        "records",
        "errors",
        "last_error",
        "lag",
        "partitions",
    ] {
        assert!(
            fields.iter().any(|f| f == expected),
            "STATUS lacks {expected}: {fields:?}"
        );
    }
}

/// A consumer outside Redis that shares the sink's group and, sorting first, holds the only
/// partition: the sink says so in `last_error`, keeps rejoining, and applies every record once
/// the outsider leaves.
#[test]
fn a_sink_given_no_partition_by_its_group_says_so_and_rejoins() {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    let kafka = MockKafka::new();
    kafka.create_topic("held", 1);
    let leave = Arc::new(AtomicBool::new(false));
    let holding = Arc::new(AtomicBool::new(false));
    let outsider = {
        let (bootstrap, leave, holding) = (kafka.bootstrap(), leave.clone(), holding.clone());
        std::thread::spawn(move || {
            let consumer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &bootstrap)
                .set("group.id", "redis-kafka-held")
                .set("client.id", "aaa-outsider")
                .set("enable.auto.commit", "false")
                .set("session.timeout.ms", "6000")
                .set("heartbeat.interval.ms", "500")
                .create()
                .expect("outside consumer");
            consumer.subscribe(&["held"]).expect("subscribe");
            while !leave.load(Ordering::Relaxed) {
                consumer.poll(Duration::from_millis(100));
                let held = consumer.assignment().map(|a| a.count()).unwrap_or(0) > 0;
                holding.store(held, Ordering::Relaxed);
            }
        })
    };
    wait_until("the outsider holds the partition", DEADLINE, || {
        holding.load(Ordering::Relaxed)
    });
    produce(
        &kafka.bootstrap(),
        "held",
        &(0..50)
            .map(|i| Rec::kv(&format!("k{i}"), "v"))
            .collect::<Vec<_>>(),
    );
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka,
        "held",
        &["TOPICS", "held", "CONFIG", "session.timeout.ms", "6000"],
    );
    wait_until(
        "the sink reports it holds nothing",
        Duration::from_secs(60),
        || {
            status_field::<Option<String>>(&mut conn, "held", "last_error").is_some_and(|e| {
                e.contains("no task of this sink was given any of the 1 partitions of held")
                    && e.contains("group 'redis-kafka-held'")
            })
        },
    );
    assert_eq!(status_field::<i64>(&mut conn, "held", "records"), 0);
    leave.store(true, Ordering::Relaxed);
    outsider.join().unwrap();
    wait_until(
        "the sink takes the partition over",
        Duration::from_secs(60),
        || status_field::<i64>(&mut conn, "held", "records") == 50,
    );
    let keys: Vec<String> = cmd(&mut conn, &["KEYS", "held:*"]);
    assert_eq!(keys.len(), 50);
}
