//! Every sink type, TTL, several topics and patterns, ON-ERROR policies, temporary Redis
//! refusals, and TASKS — against librdkafka's mock cluster.

mod common;

use common::*;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

// On Redis 7.0, Redis 7.4 and Valkey 8.1.
on_every_server!(
    list_set_and_zset_sinks_add_members_and_tombstones_remove_them,
    hash_replace_and_json_merge_update_what_a_key_holds,
    on_error_fail_stops_before_the_record_and_resume_retries_it,
);

fn list_set_and_zset_sinks_add_members_and_tombstones_remove_them(binary: PathBuf) {
    let kafka = MockKafka::new();
    kafka.create_topic("members", 1);
    let records = vec![
        Rec::kv("ann", r#"{"points":10}"#),
        Rec::kv("bob", r#"{"points":7}"#),
        Rec::kv("cid", r#"{"points":3.5}"#),
        Rec::tombstone("bob"),
        Rec::kv("ann", r#"{"points":12}"#),
    ];
    produce(&kafka.bootstrap(), "members", &records);
    let redis = RedisServer::start_with(ServerOptions {
        binary,
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    let b = kafka.bootstrap();
    create_sink(
        &mut conn,
        &b,
        "l",
        &["TOPICS", "members", "TYPE", "LIST", "KEY", "l"],
    );
    create_sink(
        &mut conn,
        &b,
        "ll",
        &[
            "TOPICS", "members", "TYPE", "LIST", "KEY", "ll", "PUSH", "LEFT",
        ],
    );
    create_sink(
        &mut conn,
        &b,
        "s",
        &["TOPICS", "members", "TYPE", "SET", "KEY", "s"],
    );
    create_sink(
        &mut conn,
        &b,
        "z",
        &[
            "TOPICS",
            "members",
            "TYPE",
            "ZSET",
            "KEY",
            "z",
            "SCORE",
            "${value.points}",
        ],
    );
    wait_until("four sinks done", DEADLINE, || {
        ["l", "ll", "s", "z"]
            .iter()
            .all(|s| stored_total(&mut conn, s) == 5)
    });
    // LIST: ann, bob, cid, then LREM bob, then ann again.
    assert_eq!(
        cmd::<Vec<String>>(&mut conn, &["LRANGE", "l", "0", "-1"]),
        ["ann", "cid", "ann"]
    );
    assert_eq!(
        cmd::<Vec<String>>(&mut conn, &["LRANGE", "ll", "0", "-1"]),
        ["ann", "cid", "ann"]
    );
    let set: HashSet<String> = cmd(&mut conn, &["SMEMBERS", "s"]);
    assert_eq!(set, HashSet::from(["ann".to_string(), "cid".to_string()]));
    let zset: Vec<(String, f64)> = cmd(&mut conn, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]);
    assert_eq!(
        zset,
        vec![("cid".to_string(), 3.5), ("ann".to_string(), 12.0)]
    );
    assert_eq!(count_field(&mut conn, "z", "records"), 5);
}

#[test]
fn stream_tombstones_are_skipped_and_counted() {
    let kafka = MockKafka::new();
    kafka.create_topic("ev", 1);
    produce(
        &kafka.bootstrap(),
        "ev",
        &[
            Rec::kv("a", r#"{"x":1}"#),
            Rec::tombstone("a"),
            Rec::kv("b", "7"),
        ],
    );
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "ev",
        &["TOPICS", "ev", "TYPE", "STREAM"],
    );
    wait_until("3 offsets stored", DEADLINE, || {
        stored_total(&mut conn, "ev") == 3
    });
    assert_eq!(cmd::<i64>(&mut conn, &["XLEN", "ev"]), 2);
    assert_eq!(count_field(&mut conn, "ev", "records"), 2);
    assert_eq!(count_field(&mut conn, "ev", "skipped"), 1);
}

#[test]
fn timeseries_needs_redistimeseries() {
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let error = cmd_err(
        &mut conn,
        &[
            "KAFKA.SINK.CREATE",
            "ts",
            "TOPICS",
            "t",
            "TYPE",
            "TIMESERIES",
            "BROKERS",
            "127.0.0.1:1",
        ],
    );
    assert!(
        error.starts_with("ERR TYPE TIMESERIES needs the RedisTimeSeries"),
        "{error}"
    );
}

#[test]
fn ttl_applies_per_sink_and_header_overrides_it() {
    let kafka = MockKafka::new();
    kafka.create_topic("sessions", 1);
    let mut short = Rec::kv("short", "v");
    short.headers.push(("redis.ttl".into(), b"5".to_vec()));
    let mut forever = Rec::kv("forever", "v");
    forever.headers.push(("redis.ttl".into(), b"0".to_vec()));
    produce(
        &kafka.bootstrap(),
        "sessions",
        &[Rec::kv("default", "v"), short, forever],
    );
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "sess",
        &["TOPICS", "sessions", "TTL", "1000"],
    );
    wait_until("3 records", DEADLINE, || {
        count_field(&mut conn, "sess", "records") == 3
    });
    let ttl = |conn: &mut redis::Connection, key: &str| cmd::<i64>(conn, &["TTL", key]);
    assert!((990..=1000).contains(&ttl(&mut conn, "sessions:default")));
    assert!((1..=5).contains(&ttl(&mut conn, "sessions:short")));
    assert_eq!(ttl(&mut conn, "sessions:forever"), -1);
}

#[test]
fn several_topics_and_a_pattern() {
    let kafka = MockKafka::new();
    for topic in ["orders-eu", "orders-us", "billing"] {
        kafka.create_topic(topic, 2);
        produce(&kafka.bootstrap(), topic, &[Rec::kv("k", topic)]);
    }
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let b = kafka.bootstrap();
    create_sink(
        &mut conn,
        &b,
        "two",
        &["TOPICS", "orders-eu,billing", "KEY", "two:${topic}"],
    );
    create_sink(
        &mut conn,
        &b,
        "pat",
        &["PATTERN", "orders-.*", "KEY", "pat:${topic}"],
    );
    wait_until("both sinks applied two records", DEADLINE, || {
        count_field(&mut conn, "two", "records") == 2
            && count_field(&mut conn, "pat", "records") == 2
    });
    assert!(key_exists(&mut conn, "two:orders-eu") && key_exists(&mut conn, "two:billing"));
    assert!(key_exists(&mut conn, "pat:orders-eu") && key_exists(&mut conn, "pat:orders-us"));
    assert!(!key_exists(&mut conn, "pat:billing") && !key_exists(&mut conn, "two:orders-us"));
    assert_eq!(
        status_field::<String>(&mut conn, "pat", "topics"),
        "PATTERN orders-.*"
    );
}

fn poison_batch() -> Vec<Rec> {
    vec![
        Rec::kv("a", r#"{"n":1}"#),
        Rec::kv("bad1", "not json"),
        Rec::kv("b", r#"{"n":2}"#),
        Rec::kv("bad2", "[1,2]"),
        Rec::kv("c", r#"{"n":3}"#),
    ]
}

#[test]
fn on_error_skip_counts_and_moves_on() {
    let kafka = MockKafka::new();
    kafka.create_topic("p", 1);
    produce(&kafka.bootstrap(), "p", &poison_batch());
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "p",
        &["TOPICS", "p", "TYPE", "HASH", "ON-ERROR", "SKIP"],
    );
    wait_until("all 5 offsets stored", DEADLINE, || {
        stored_total(&mut conn, "p") == 5
    });
    for key in ["p:a", "p:b", "p:c"] {
        assert!(key_exists(&mut conn, key), "{key}");
    }
    assert!(!key_exists(&mut conn, "p:bad1") && !key_exists(&mut conn, "p:bad2"));
    assert_eq!(count_field(&mut conn, "p", "records"), 3);
    assert_eq!(count_field(&mut conn, "p", "skipped"), 2);
    assert_eq!(count_field(&mut conn, "p", "errors"), 2);
    assert_eq!(status_field::<String>(&mut conn, "p", "state"), "running");
    let last_error: String = status_field(&mut conn, "p", "last_error");
    assert!(last_error.contains("p/0 offset 3"), "{last_error}");
}

#[test]
fn on_error_dlq_sends_the_original_with_error_headers() {
    let kafka = MockKafka::new();
    kafka.create_topic("p", 1);
    kafka.create_topic("p-dlq", 1);
    produce(&kafka.bootstrap(), "p", &poison_batch());
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "p",
        &["TOPICS", "p", "TYPE", "HASH", "ON-ERROR", "DLQ", "p-dlq"],
    );
    wait_until("all 5 offsets stored", DEADLINE, || {
        stored_total(&mut conn, "p") == 5
    });
    assert_eq!(count_field(&mut conn, "p", "dlq"), 2);
    assert_eq!(count_field(&mut conn, "p", "records"), 3);
    let dead = consume(&kafka.bootstrap(), "p-dlq", 2);
    assert_eq!(dead[0].key.as_deref(), Some(&b"bad1"[..]));
    assert_eq!(dead[0].value.as_deref(), Some(&b"not json"[..]));
    assert_eq!(dead[0].header("redis.source.topic").as_deref(), Some("p"));
    assert_eq!(
        dead[0].header("redis.source.partition").as_deref(),
        Some("0")
    );
    assert_eq!(dead[0].header("redis.source.offset").as_deref(), Some("1"));
    assert_eq!(dead[0].header("redis.sink").as_deref(), Some("p"));
    assert!(dead[0].header("redis.error").unwrap().contains("not JSON"));
    assert_eq!(dead[1].header("redis.source.offset").as_deref(), Some("3"));
    assert!(dead[1].header("redis.error").unwrap().contains("object"));
}

fn on_error_fail_stops_before_the_record_and_resume_retries_it(binary: PathBuf) {
    let kafka = MockKafka::new();
    kafka.create_topic("f", 1);
    produce(
        &kafka.bootstrap(),
        "f",
        &[
            Rec::kv("a", r#"{"n":1}"#),
            Rec::kv("b", r#"{"n":2}"#),
            Rec::kv("c", r#"{"n":3}"#),
        ],
    );
    let redis = RedisServer::start_with(ServerOptions {
        binary,
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    cmd::<i64>(&mut conn, &["SADD", "f:b", "in the way"]);
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "f",
        &["TOPICS", "f", "TYPE", "HASH"],
    );
    wait_until("failed", DEADLINE, || {
        status_field::<String>(&mut conn, "f", "state") == "failed"
    });
    assert_eq!(stored_total(&mut conn, "f"), 1);
    assert!(!key_exists(&mut conn, "f:c"));
    cmd::<i64>(&mut conn, &["DEL", "f:b"]);
    assert_eq!(cmd::<String>(&mut conn, &["KAFKA.SINK.RESUME", "f"]), "OK");
    wait_until("all 3 applied", DEADLINE, || {
        stored_total(&mut conn, "f") == 3
    });
    assert_eq!(cmd::<String>(&mut conn, &["HGET", "f:b", "n"]), "2");
    assert_eq!(status_field::<String>(&mut conn, "f", "state"), "running");
    assert_eq!(count_field(&mut conn, "f", "errors"), 1);
}

#[test]
fn out_of_memory_pauses_and_retries_without_losing_records() {
    let kafka = MockKafka::new();
    kafka.create_topic("big", 1);
    let records: Vec<Rec> = (0..300)
        .map(|i| {
            Rec::kv(
                &format!("k{i}"),
                &format!(r#"{{"i":{i},"pad":"{}"}}"#, "x".repeat(500)),
            )
        })
        .collect();
    produce(&kafka.bootstrap(), "big", &records);
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let used: String = cmd(&mut conn, &["INFO", "memory"]);
    let used: i64 = used
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    cmd::<String>(
        &mut conn,
        &["CONFIG", "SET", "maxmemory-policy", "noeviction"],
    );
    cmd::<String>(
        &mut conn,
        &["CONFIG", "SET", "maxmemory", &(used + 200_000).to_string()],
    );
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "big",
        &["TOPICS", "big", "TYPE", "STREAM"],
    );
    wait_until("OOM reported", DEADLINE, || {
        status_field::<String>(&mut conn, "big", "last_error").contains("OOM")
    });
    let before = cmd::<i64>(&mut conn, &["XLEN", "big"]);
    assert!(before < 300, "OOM did not stop writes");
    let state: String = status_field(&mut conn, "big", "state");
    let last_error: String = status_field(&mut conn, "big", "last_error");
    assert_ne!(state, "failed", "{last_error}");
    cmd::<String>(&mut conn, &["CONFIG", "SET", "maxmemory", "0"]);
    wait_until("all 300 stored", DEADLINE, || {
        stored_total(&mut conn, "big") == 300
    });
    assert_eq!(cmd::<i64>(&mut conn, &["XLEN", "big"]), 300);
    assert_eq!(count_field(&mut conn, "big", "errors"), 0);
}

#[test]
fn tasks_share_partitions_and_apply_each_record_once() {
    let kafka = MockKafka::new();
    kafka.create_topic("wide", 4);
    let records: Vec<Rec> = (0..800)
        .map(|i| Rec::kv(&format!("k{i}"), &format!(r#"{{"n":{i}}}"#)).in_partition(i % 4))
        .collect();
    produce(&kafka.bootstrap(), "wide", &records);
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "wide",
        &["TOPICS", "wide", "TYPE", "STREAM", "TASKS", "2"],
    );
    wait_until("800 stored", DEADLINE, || {
        stored_total(&mut conn, "wide") == 800
    });
    assert_eq!(cmd::<i64>(&mut conn, &["XLEN", "wide"]), 800);
    wait_until("both tasks own partitions", DEADLINE, || {
        let parts = status_partitions(&mut conn, "wide");
        let tasks: HashSet<i64> = parts.iter().map(|p| p.2).collect();
        parts.len() == 4 && tasks == HashSet::from([0, 1])
    });
    assert_eq!(status_field::<i64>(&mut conn, "wide", "tasks"), 2);
}

#[test]
fn stream_sinks_trim_by_length_or_minimum_id() {
    let kafka = MockKafka::new();
    kafka.create_topic("trim", 1);
    // Each record says from which ID on its stream should keep entries.
    let records: Vec<Rec> = (1..=20)
        .map(|n| Rec::kv("k", &format!(r#"{{"n":{n},"since":"{}-0"}}"#, n.max(15))))
        .collect();
    produce(&kafka.bootstrap(), "trim", &records);
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let b = kafka.bootstrap();
    create_sink(
        &mut conn,
        &b,
        "exact",
        &[
            "TOPICS", "trim", "TYPE", "STREAM", "KEY", "exact", "MAXLEN", "5",
        ],
    );
    create_sink(
        &mut conn,
        &b,
        "about",
        &[
            "TOPICS", "trim", "TYPE", "STREAM", "KEY", "about", "MAXLEN", "~", "5",
        ],
    );
    // Entry IDs are the time of the XADD, far above 15-0: MINID keeps them all, and a record
    // whose MINID does not render an ID follows ON-ERROR.
    create_sink(
        &mut conn,
        &b,
        "since",
        &[
            "TOPICS",
            "trim",
            "TYPE",
            "STREAM",
            "KEY",
            "since",
            "MINID",
            "${value.since}",
        ],
    );
    create_sink(
        &mut conn,
        &b,
        "bad",
        &[
            "TOPICS",
            "trim",
            "TYPE",
            "STREAM",
            "KEY",
            "bad",
            "MINID",
            "${value.n}x",
            "ON-ERROR",
            "SKIP",
        ],
    );
    for name in ["exact", "about", "since", "bad"] {
        wait_until("every record handled", DEADLINE, || {
            count_field(&mut conn, name, "records") + count_field(&mut conn, name, "skipped") == 20
        });
    }
    assert_eq!(cmd::<i64>(&mut conn, &["XLEN", "exact"]), 5);
    let kept: Vec<(String, Vec<String>)> = cmd(&mut conn, &["XRANGE", "exact", "-", "+"]);
    let first: &Vec<String> = &kept[0].1;
    assert_eq!(
        first[first.iter().position(|f| f == "n").unwrap() + 1],
        "16"
    );
    let about = cmd::<i64>(&mut conn, &["XLEN", "about"]);
    assert!(
        (5..=20).contains(&about),
        "approximate trimming keeps at least 5: {about}"
    );
    assert_eq!(cmd::<i64>(&mut conn, &["XLEN", "since"]), 20);
    assert_eq!(cmd::<i64>(&mut conn, &["XLEN", "bad"]), 0);
    assert_eq!(count_field(&mut conn, "bad", "skipped"), 20);
    let error: String = status_field(&mut conn, "bad", "last_error");
    assert!(error.contains("not a stream ID"), "{error}");
    let listed = format!("{:?}", cmd::<redis::Value>(&mut conn, &["KAFKA.SINK.LIST"]));
    assert!(
        listed.contains("MAXLEN ~ 5") && listed.contains("MINID ${value.since}"),
        "{listed}"
    );
    // Refused where it makes no sense, and nothing is created.
    let error = cmd_err(
        &mut conn,
        &[
            "KAFKA.SINK.CREATE",
            "h",
            "TOPICS",
            "trim",
            "TYPE",
            "HASH",
            "MAXLEN",
            "5",
            "BROKERS",
            &b,
        ],
    );
    assert!(
        error.starts_with("ERR MAXLEN 5 applies to TYPE STREAM, not HASH"),
        "{error}"
    );
}

fn hash_replace_and_json_merge_update_what_a_key_holds(binary: PathBuf) {
    let kafka = MockKafka::new();
    let b = kafka.bootstrap();
    kafka.create_topic("fields", 1);
    kafka.create_topic("docs", 1);
    produce(
        &b,
        "fields",
        &[
            Rec::kv("u", r#"{"a":"1","b":"2"}"#),
            Rec::kv("u", r#"{"c":"3"}"#),
        ],
    );
    produce(
        &b,
        "docs",
        &[
            Rec::kv("u", r#"{"a":1,"b":{"x":1}}"#),
            Rec::kv("u", r#"{"b":{"y":2},"a":null}"#),
        ],
    );
    let redis = RedisServer::start_with(ServerOptions {
        binary,
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    let sinks: [(&str, &[&str]); 3] = [
        (
            "replace",
            &[
                "TOPICS", "fields", "TYPE", "HASH", "KEY", "r:${key}", "UPDATE", "REPLACE", "TTL",
                "100",
            ],
        ),
        (
            "merge",
            &["TOPICS", "fields", "TYPE", "HASH", "KEY", "m:${key}"],
        ),
        (
            "doc",
            &[
                "TOPICS", "docs", "TYPE", "JSON", "KEY", "j:${key}", "UPDATE", "MERGE",
            ],
        ),
    ];
    for (name, args) in sinks {
        create_sink(&mut conn, &b, name, args);
    }
    for (name, _) in sinks {
        wait_until("both records applied", DEADLINE, || {
            count_field(&mut conn, name, "records") == 2
        });
    }
    let replaced: Vec<String> = cmd(&mut conn, &["HKEYS", "r:u"]);
    assert_eq!(
        replaced,
        ["c"],
        "REPLACE keeps exactly the last record's fields"
    );
    assert!(
        cmd::<i64>(&mut conn, &["TTL", "r:u"]) > 0,
        "and still expires"
    );
    let mut merged: Vec<String> = cmd(&mut conn, &["HKEYS", "m:u"]);
    merged.sort();
    assert_eq!(merged, ["a", "b", "c"], "MERGE (the default) adds fields");
    let doc: String = cmd(&mut conn, &["JSON.GET", "j:u"]);
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(
        doc,
        serde_json::json!({"b": {"x": 1, "y": 2}}),
        "RFC 7396 merge"
    );
    let listed = format!("{:?}", cmd::<redis::Value>(&mut conn, &["KAFKA.SINK.LIST"]));
    assert!(
        listed.contains("REPLACE") && listed.contains("MERGE"),
        "{listed}"
    );
}

/// The write path reuses one argument vector and drops it when one write grew it past what it
/// keeps: a HASH record of 5,000 fields (names with NUL and bytes that are not UTF-8 escaped in
/// JSON) is written whole, and the small records around it keep their own fields.
#[test]
fn a_hash_record_of_thousands_of_fields_is_written_whole_between_small_ones() {
    let kafka = MockKafka::new();
    kafka.create_topic("wide_hash", 1);
    let big: serde_json::Map<String, serde_json::Value> = (0..5000)
        .map(|i| (format!("f\u{0}{i}\u{fffd}"), serde_json::json!(i)))
        .collect();
    let records = [
        Rec::kv("before", r#"{"a":"1","b":"2"}"#),
        Rec::kv("big", &serde_json::Value::Object(big).to_string()),
        Rec::kv("after", r#"{"c":"3"}"#),
    ];
    produce(&kafka.bootstrap(), "wide_hash", &records);
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "wide",
        &["TOPICS", "wide_hash", "TYPE", "HASH", "KEY", "w:${key}"],
    );
    wait_until("3 records", DEADLINE, || {
        count_field(&mut conn, "wide", "records") == 3
    });
    assert_eq!(cmd::<i64>(&mut conn, &["HLEN", "w:big"]), 5000);
    let field = "f\u{0}4999\u{fffd}";
    assert_eq!(cmd::<String>(&mut conn, &["HGET", "w:big", field]), "4999");
    let before: HashMap<String, String> = cmd(&mut conn, &["HGETALL", "w:before"]);
    assert_eq!(before.len(), 2);
    assert_eq!(before["a"], "1");
    let after: HashMap<String, String> = cmd(&mut conn, &["HGETALL", "w:after"]);
    assert_eq!(
        after.into_iter().collect::<Vec<_>>(),
        vec![("c".to_string(), "3".to_string())]
    );
}
