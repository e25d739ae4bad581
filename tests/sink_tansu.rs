//! The seed scenario and the exactly-once re-create against Tansu, an independent
//! Kafka-protocol broker, over TCP.

mod common;

use common::*;

#[test]
fn json_pageviews_scenario_and_exactly_once_stream_on_tansu() {
    let tansu = Tansu::start();
    tansu.create_topic("pageviews", 2);
    let redis = RedisServer::start_with(ServerOptions {
        module_args: vec!["kafka.brokers".into(), tansu.bootstrap()],
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    let created: String = cmd(
        &mut conn,
        &[
            "KAFKA.SINK.CREATE",
            "pageviews",
            "TOPICS",
            "pageviews",
            "TYPE",
            "JSON",
            "KEY",
            "pageviews:${key}",
        ],
    );
    assert_eq!(created, "OK");
    let records: Vec<Rec> = (0..200)
        .map(|i| {
            Rec::kv(
                &format!("{}", 1400 + i),
                &format!(r#"{{"userid":{},"url":"/p/{i}"}}"#, 1400 + i),
            )
        })
        .collect();
    produce(&tansu.bootstrap(), "pageviews", &records);
    wait_until("pageviews:1451 present", DEADLINE, || {
        cmd::<i64>(&mut conn, &["EXISTS", "pageviews:1451"]) == 1
    });
    let doc: String = cmd(&mut conn, &["JSON.GET", "pageviews:1451", "$.url"]);
    assert_eq!(doc, r#"["/p/51"]"#);
    wait_until("200 records", DEADLINE, || {
        status_field::<i64>(&mut conn, "pageviews", "records") == 200
    });

    // KAFKA.PRODUCE through the module to Tansu.
    let (partition, offset): (i64, i64) = cmd(
        &mut conn,
        &[
            "KAFKA.PRODUCE",
            "pageviews",
            r#"{"userid":9}"#,
            "KEY",
            "9",
            "PARTITION",
            "1",
        ],
    );
    assert_eq!(partition, 1);
    assert!(offset >= 0);
    wait_until("pageviews:9 present", DEADLINE, || {
        cmd::<i64>(&mut conn, &["EXISTS", "pageviews:9"]) == 1
    });

    // STREAM sink deleted and re-created under a new group: exactly one entry per record.
    tansu.create_topic("clicks", 3);
    let batch = |from: usize, to: usize| -> Vec<Rec> {
        (from..to)
            .map(|i| Rec::kv(&format!("c{}", i % 7), &format!(r#"{{"n":{i}}}"#)))
            .collect()
    };
    produce(&tansu.bootstrap(), "clicks", &batch(0, 150));
    cmd::<String>(
        &mut conn,
        &[
            "KAFKA.SINK.CREATE",
            "clicks",
            "TOPICS",
            "clicks",
            "TYPE",
            "STREAM",
        ],
    );
    wait_until("150 entries", DEADLINE, || {
        cmd::<i64>(&mut conn, &["XLEN", "clicks"]) == 150
    });
    cmd::<String>(&mut conn, &["KAFKA.SINK.DELETE", "clicks"]);
    produce(&tansu.bootstrap(), "clicks", &batch(150, 250));
    cmd::<String>(
        &mut conn,
        &[
            "KAFKA.SINK.CREATE",
            "clicks",
            "TOPICS",
            "clicks",
            "TYPE",
            "STREAM",
            "GROUP",
            "fresh",
        ],
    );
    wait_until("250 offsets stored", DEADLINE, || {
        let offsets: std::collections::HashMap<String, i64> =
            cmd(&mut conn, &["HGETALL", "__kafka:offsets:clicks"]);
        offsets.values().sum::<i64>() == 250
    });
    assert_eq!(cmd::<i64>(&mut conn, &["XLEN", "clicks"]), 250);
}

#[test]
fn complete_sink_on_tansu_types_policies_tasks_and_pause() {
    use std::collections::{HashMap, HashSet};
    let tansu = Tansu::start();
    let b = tansu.bootstrap();
    for (topic, partitions) in [
        ("scores", 1),
        ("scores-dlq", 1),
        ("feed-a", 2),
        ("feed-b", 2),
    ] {
        tansu.create_topic(topic, partitions);
    }
    produce(
        &b,
        "scores",
        &[
            Rec::kv("ann", r#"{"points":10}"#),
            Rec::kv("bob", "not json"),
            Rec::kv("cid", r#"{"points":3}"#),
            Rec::tombstone("cid"),
        ],
    );
    let feed: Vec<Rec> = (0..400)
        .map(|i| Rec::kv(&format!("k{i}"), &format!(r#"{{"n":{i}}}"#)))
        .collect();
    produce(&b, "feed-a", &feed[..200]);
    produce(&b, "feed-b", &feed[200..]);
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let stored = |conn: &mut redis::Connection, sink: &str| -> i64 {
        let offsets: HashMap<String, i64> =
            cmd(conn, &["HGETALL", &format!("__kafka:offsets:{sink}")]);
        offsets.values().sum()
    };
    create_sink(
        &mut conn,
        &b,
        "z",
        &[
            "TOPICS",
            "scores",
            "TYPE",
            "ZSET",
            "KEY",
            "z",
            "SCORE",
            "${value.points}",
            "ON-ERROR",
            "DLQ",
            "scores-dlq",
            "TTL",
            "600",
        ],
    );
    create_sink(
        &mut conn,
        &b,
        "s",
        &["TOPICS", "scores", "TYPE", "SET", "KEY", "s"],
    );
    create_sink(
        &mut conn,
        &b,
        "l",
        &[
            "TOPICS", "scores", "TYPE", "LIST", "KEY", "l", "ON-ERROR", "SKIP",
        ],
    );
    create_sink(
        &mut conn,
        &b,
        "feed",
        &[
            "PATTERN", "feed-.*", "TYPE", "STREAM", "KEY", "feed", "TASKS", "2",
        ],
    );
    wait_until("score sinks done", DEADLINE, || {
        ["z", "s", "l"].iter().all(|s| stored(&mut conn, s) == 4)
    });
    let zset: Vec<(String, f64)> = cmd(&mut conn, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]);
    assert_eq!(zset, vec![("ann".to_string(), 10.0)]);
    assert!((590..=600).contains(&cmd::<i64>(&mut conn, &["TTL", "z"])));
    let set: HashSet<String> = cmd(&mut conn, &["SMEMBERS", "s"]);
    assert_eq!(set, HashSet::from(["ann".to_string(), "bob".to_string()]));
    assert_eq!(
        cmd::<Vec<String>>(&mut conn, &["LRANGE", "l", "0", "-1"]),
        ["ann", "bob"]
    );
    let dead = consume(&b, "scores-dlq", 1);
    assert_eq!(dead[0].key.as_deref(), Some(&b"bob"[..]));
    assert_eq!(dead[0].header("redis.source.offset").as_deref(), Some("1"));
    assert_eq!(status_field::<i64>(&mut conn, "z", "dlq"), 1);

    wait_until("feed progress", DEADLINE, || stored(&mut conn, "feed") > 0);
    cmd::<String>(&mut conn, &["KAFKA.SINK.PAUSE", "feed"]);
    let paused_at = stored(&mut conn, "feed");
    assert_eq!(cmd::<i64>(&mut conn, &["XLEN", "feed"]), paused_at);
    produce(
        &b,
        "feed-a",
        &(400..500)
            .map(|i| Rec::kv("x", &format!(r#"{{"n":{i}}}"#)))
            .collect::<Vec<_>>(),
    );
    cmd::<String>(&mut conn, &["KAFKA.SINK.RESUME", "feed"]);
    wait_until("all 500 feed records", DEADLINE, || {
        stored(&mut conn, "feed") == 500
    });
    assert_eq!(cmd::<i64>(&mut conn, &["XLEN", "feed"]), 500);
    wait_until("both tasks own partitions", DEADLINE, || {
        let tasks: HashSet<i64> = status_partitions(&mut conn, "feed")
            .iter()
            .map(|p| p.2)
            .collect();
        tasks == HashSet::from([0, 1])
    });
}
