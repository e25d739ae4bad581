//! Sources (Redis streams → Kafka) against librdkafka's mock cluster: several streams under one
//! glob, order per stream, IDs in headers, pause, broker outage, backfill, re-create, echo with
//! a sink, and bad input.

mod common;

use common::*;
use redis::FromRedisValue;
use std::collections::HashMap;
use std::path::PathBuf;

// On Redis 7.0, Redis 7.4 and Valkey 8.1.
on_every_server!(
    several_streams_under_one_glob_keep_their_order_and_carry_ids,
    pause_keeps_entries_in_the_stream_and_resume_forwards_them_in_order,
);

fn xadd(conn: &mut redis::Connection, stream: &str, n: usize) -> String {
    cmd(
        conn,
        &["XADD", stream, "*", "n", &n.to_string(), "stream", stream],
    )
}

fn create_source(conn: &mut redis::Connection, bootstrap: &str, name: &str, extra: &[&str]) {
    let mut args = vec!["KAFKA.SOURCE.CREATE", name, "BROKERS", bootstrap];
    args.extend_from_slice(extra);
    assert_eq!(cmd::<String>(conn, &args), "OK");
}

fn records(conn: &mut redis::Connection, name: &str) -> i64 {
    status_field(conn, name, "records")
}

/// Per stream, the `n` fields in the order they arrived; panics on a message that is not a
/// source record.
fn by_stream(messages: &[Received]) -> HashMap<String, Vec<usize>> {
    let mut streams: HashMap<String, Vec<usize>> = HashMap::new();
    for m in messages {
        let value: serde_json::Value = serde_json::from_slice(m.value.as_deref().unwrap()).unwrap();
        let stream = m.header("redis.stream").unwrap();
        assert_eq!(
            m.key.as_deref(),
            Some(stream.as_bytes()),
            "key is the stream name"
        );
        assert_eq!(value["stream"], stream.as_str());
        streams
            .entry(stream)
            .or_default()
            .push(value["n"].as_str().unwrap().parse().unwrap());
    }
    streams
}

fn several_streams_under_one_glob_keep_their_order_and_carry_ids(binary: PathBuf) {
    let kafka = MockKafka::new();
    let redis = RedisServer::start_with(ServerOptions {
        binary,
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    cmd::<i64>(&mut conn, &["HSET", "orders:not-a-stream", "a", "1"]);
    create_source(
        &mut conn,
        &kafka.bootstrap(),
        "orders",
        &["STREAMS", "orders:*", "TOPIC", "orders"],
    );
    let mut ids = HashMap::new();
    for n in 0..300 {
        for stream in ["orders:eu", "orders:us", "orders:apac"] {
            ids.insert((stream.to_string(), n), xadd(&mut conn, stream, n));
        }
    }
    cmd::<String>(&mut conn, &["XADD", "other:stream", "*", "n", "1"]);
    wait_until("900 forwarded", DEADLINE, || {
        records(&mut conn, "orders") == 900
    });
    let messages = consume(&kafka.bootstrap(), "orders", 900);
    let streams = by_stream(&messages);
    assert_eq!(streams.len(), 3);
    for (stream, numbers) in &streams {
        assert_eq!(numbers, &(0..300).collect::<Vec<_>>(), "order of {stream}");
    }
    for m in &messages {
        let stream = m.header("redis.stream").unwrap();
        let value: serde_json::Value = serde_json::from_slice(m.value.as_deref().unwrap()).unwrap();
        let n: usize = value["n"].as_str().unwrap().parse().unwrap();
        assert_eq!(m.header("redis.id"), ids.get(&(stream, n)).cloned());
    }
    assert_eq!(status_field::<i64>(&mut conn, "orders", "ignored"), 1);
    assert_eq!(status_field::<i64>(&mut conn, "orders", "stream_count"), 3);
    wait_until("backlog 0", DEADLINE, || {
        status_field::<Option<i64>>(&mut conn, "orders", "backlog") == Some(0)
    });
    let checkpoints: HashMap<String, String> =
        cmd(&mut conn, &["HGETALL", "__kafka:checkpoints:orders"]);
    assert_eq!(
        checkpoints["orders:eu"],
        ids[&("orders:eu".to_string(), 299)]
    );
}

#[test]
fn topic_and_key_templates_and_sanitized_names() {
    let kafka = MockKafka::new();
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_source(
        &mut conn,
        &kafka.bootstrap(),
        "t",
        &["STREAMS", "app/*", "KEY", "${field.user}", "FROM", "NEW"],
    );
    cmd::<String>(
        &mut conn,
        &["XADD", "app/clicks", "*", "user", "ann", "page", "/"],
    );
    wait_until("forwarded", DEADLINE, || records(&mut conn, "t") == 1);
    // '/' is not allowed in topic names.
    let messages = consume(&kafka.bootstrap(), "app_clicks", 1);
    assert_eq!(messages[0].key.as_deref(), Some(&b"ann"[..]));
    let value: serde_json::Value =
        serde_json::from_slice(messages[0].value.as_deref().unwrap()).unwrap();
    assert_eq!(value, serde_json::json!({"user": "ann", "page": "/"}));
}

/// The fields of entry `i` in `entries_of_every_shape_keep_their_own_fields`, and the JSON
/// object the source must send for them.
fn shaped_entry(i: usize) -> (Vec<(String, Vec<u8>)>, serde_json::Value) {
    let n = ("n".to_string(), i.to_string().into_bytes());
    let field = |name: &str, value: &[u8]| (name.to_string(), value.to_vec());
    let (fields, expected) = match i % 7 {
        0 => (
            vec![
                n,
                field("a", b"1"),
                field("b", b"2"),
                field("c", b"3"),
                field("d", b"4"),
            ],
            serde_json::json!({"n": i.to_string(), "a": "1", "b": "2", "c": "3", "d": "4"}),
        ),
        1 => (vec![n], serde_json::json!({"n": i.to_string()})),
        2 => (
            vec![n, field("x", b"first"), field("x", b"last")],
            serde_json::json!({"n": i.to_string(), "x": "last"}),
        ),
        // Past what the source keeps for reuse (4 KiB), and small enough for the mock broker,
        // which keeps at most 5 MB per partition.
        3 => (
            vec![n, field("big", "y".repeat(5_000).as_bytes())],
            serde_json::json!({"n": i.to_string(), "big": "y".repeat(5_000)}),
        ),
        4 => (
            vec![n, field("empty", b"")],
            serde_json::json!({"n": i.to_string(), "empty": ""}),
        ),
        5 => (
            vec![n, field("bin", b"\xff\xfe")],
            serde_json::json!({"n": i.to_string(), "bin": "\u{fffd}\u{fffd}"}),
        ),
        // More fields than the pairwise path and than the kept vectors have slots for.
        _ => {
            let mut object = serde_json::Map::new();
            object.insert("n".into(), i.to_string().into());
            let mut fields = vec![n];
            for f in 0..300 {
                fields.push(field(&format!("f{f}"), b""));
                object.insert(format!("f{f}"), "".into());
            }
            (fields, serde_json::Value::Object(object))
        }
    };
    (fields, expected)
}

/// The source reuses its record and field buffers from entry to entry: entries of changing
/// shapes (more and fewer fields, repeated names, a value past what it keeps, empty and
/// binary values, 300 empty fields) on two alternating streams must each arrive with exactly their own fields,
/// topic, key and headers, within one read and across reads.
#[test]
fn entries_of_every_shape_keep_their_own_fields() {
    let kafka = MockKafka::new();
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let add = |conn: &mut redis::Connection, i: usize| {
        let (fields, _) = shaped_entry(i);
        let mut command = redis::cmd("XADD");
        command.arg(format!("mix:{}", ["a", "b"][i % 2])).arg("*");
        for (name, value) in fields {
            command.arg(name).arg(value);
        }
        command.query::<String>(conn).expect("XADD");
    };
    // More than one read's worth before the source starts, then more while it runs.
    for i in 0..3000 {
        add(&mut conn, i);
    }
    create_source(
        &mut conn,
        &kafka.bootstrap(),
        "mix",
        &["STREAMS", "mix:*", "FROM", "BEGINNING"],
    );
    wait_until("backlog forwarded", DEADLINE, || {
        records(&mut conn, "mix") == 3000
    });
    for i in 3000..3600 {
        add(&mut conn, i);
    }
    wait_until("live entries forwarded", DEADLINE, || {
        records(&mut conn, "mix") == 3600
    });
    for (name, parity) in [("a", 0), ("b", 1)] {
        let messages = consume(&kafka.bootstrap(), &format!("mix_{name}"), 1800);
        assert_eq!(messages.len(), 1800);
        let mut last = None;
        for m in &messages {
            let value: serde_json::Value =
                serde_json::from_slice(m.value.as_deref().unwrap()).unwrap();
            let i: usize = value["n"].as_str().unwrap().parse().unwrap();
            assert_eq!(i % 2, parity, "entry {i} on the topic of mix:{name}");
            assert!(last.is_none_or(|l| l < i), "entry {i} after {last:?}");
            last = Some(i);
            assert_eq!(value, shaped_entry(i).1, "entry {i}");
            let stream = format!("mix:{name}");
            assert_eq!(m.key.as_deref(), Some(stream.as_bytes()), "entry {i}");
            assert_eq!(m.header("redis.stream").as_deref(), Some(stream.as_str()));
            assert!(m.header("redis.id").is_some_and(|id| id.contains('-')));
        }
    }
}

fn pause_keeps_entries_in_the_stream_and_resume_forwards_them_in_order(binary: PathBuf) {
    let kafka = MockKafka::new();
    let redis = RedisServer::start_with(ServerOptions {
        binary,
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    create_source(
        &mut conn,
        &kafka.bootstrap(),
        "p",
        &["STREAMS", "p:*", "TOPIC", "p"],
    );
    for n in 0..100 {
        xadd(&mut conn, "p:1", n);
    }
    wait_until("first 100", DEADLINE, || records(&mut conn, "p") == 100);
    assert_eq!(cmd::<String>(&mut conn, &["KAFKA.SOURCE.PAUSE", "p"]), "OK");
    wait_until("paused", DEADLINE, || {
        status_field::<String>(&mut conn, "p", "state") == "paused"
    });
    for n in 100..250 {
        xadd(&mut conn, "p:1", n);
    }
    xadd(&mut conn, "p:2", 0);
    assert_eq!(records(&mut conn, "p"), 100);
    assert_eq!(
        cmd::<String>(&mut conn, &["KAFKA.SOURCE.RESUME", "p"]),
        "OK"
    );
    wait_until("all 251", DEADLINE, || records(&mut conn, "p") == 251);
    let streams = by_stream(&consume(&kafka.bootstrap(), "p", 251));
    assert_eq!(streams["p:1"], (0..250).collect::<Vec<_>>());
    assert_eq!(streams["p:2"], vec![0]);
}

#[test]
fn broker_outage_delays_but_loses_nothing() {
    let kafka = MockKafka::new();
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_source(
        &mut conn,
        &kafka.bootstrap(),
        "o",
        &["STREAMS", "o", "TOPIC", "o"],
    );
    for n in 0..50 {
        xadd(&mut conn, "o", n);
    }
    wait_until("first 50", DEADLINE, || records(&mut conn, "o") == 50);
    kafka.broker_down();
    for n in 50..150 {
        xadd(&mut conn, "o", n);
    }
    wait_until("outage reported", DEADLINE, || {
        status_field::<String>(&mut conn, "o", "last_error").contains("kafka")
    });
    assert!(records(&mut conn, "o") < 150);
    kafka.broker_up();
    for n in 150..200 {
        xadd(&mut conn, "o", n);
    }
    wait_until("all 200", DEADLINE, || records(&mut conn, "o") == 200);
    let streams = by_stream(&consume(&kafka.bootstrap(), "o", 200));
    assert_eq!(streams["o"], (0..200).collect::<Vec<_>>());
}

#[test]
fn from_beginning_backfills_and_a_recreated_source_resumes_from_its_checkpoint() {
    let kafka = MockKafka::new();
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    for n in 0..40 {
        xadd(&mut conn, "bf", n);
    }
    create_source(
        &mut conn,
        &kafka.bootstrap(),
        "bf",
        &["STREAMS", "bf", "FROM", "BEGINNING"],
    );
    wait_until("backfill of 40", DEADLINE, || {
        records(&mut conn, "bf") == 40
    });
    assert_eq!(
        cmd::<String>(&mut conn, &["KAFKA.SOURCE.DELETE", "bf"]),
        "OK"
    );
    for n in 40..70 {
        xadd(&mut conn, "bf", n);
    }
    // FROM NEW only matters without a checkpoint: this one resumes after entry 39.
    create_source(
        &mut conn,
        &kafka.bootstrap(),
        "bf",
        &["STREAMS", "bf", "FROM", "NEW"],
    );
    wait_until("30 more", DEADLINE, || records(&mut conn, "bf") == 30);
    let streams = by_stream(&consume(&kafka.bootstrap(), "bf", 70));
    assert_eq!(streams["bf"], (0..70).collect::<Vec<_>>());

    // A new source without a checkpoint and FROM NEW skips what was there.
    create_source(
        &mut conn,
        &kafka.bootstrap(),
        "fresh",
        &["STREAMS", "bf", "TOPIC", "fresh"],
    );
    xadd(&mut conn, "bf", 70);
    wait_until("one new entry", DEADLINE, || {
        records(&mut conn, "fresh") == 1
    });
    let fresh = by_stream(&consume(&kafka.bootstrap(), "fresh", 1));
    assert_eq!(fresh["bf"], vec![70]);

    // FROM <id> starts after that entry.
    let ids: Vec<(String, HashMap<String, String>)> =
        cmd(&mut conn, &["XRANGE", "bf", "-", "+", "COUNT", "11"]);
    create_source(
        &mut conn,
        &kafka.bootstrap(),
        "from-id",
        &["STREAMS", "bf", "TOPIC", "from-id", "FROM", &ids[9].0],
    );
    wait_until("61 after entry 9", DEADLINE, || {
        records(&mut conn, "from-id") == 61
    });
    let from_id = by_stream(&consume(&kafka.bootstrap(), "from-id", 61));
    assert_eq!(from_id["bf"], (10..71).collect::<Vec<_>>());
}

#[test]
fn a_sink_writing_into_a_watched_stream_is_forwarded_without_deadlock() {
    let kafka = MockKafka::new();
    kafka.create_topic("in", 1);
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_source(
        &mut conn,
        &kafka.bootstrap(),
        "echo",
        &["STREAMS", "mirror", "TOPIC", "out"],
    );
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "in",
        &["TOPICS", "in", "TYPE", "STREAM", "KEY", "mirror"],
    );
    let input: Vec<Rec> = (0..500)
        .map(|n| Rec::kv("k", &format!(r#"{{"n":"{n}","stream":"mirror"}}"#)))
        .collect();
    produce(&kafka.bootstrap(), "in", &input);
    wait_until("sink applied 500", DEADLINE, || {
        status_field::<i64>(&mut conn, "in", "records") == 500
    });
    wait_until("source forwarded 500", DEADLINE, || {
        records(&mut conn, "echo") == 500
    });
    let streams = by_stream(&consume(&kafka.bootstrap(), "out", 500));
    assert_eq!(streams["mirror"], (0..500).collect::<Vec<_>>());
}

#[test]
fn bad_source_commands_are_rejected_and_create_nothing() {
    let redis = RedisServer::start_with(ServerOptions {
        module_args: vec!["kafka.brokers".into(), "127.0.0.1:1".into()],
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    let cases: &[(&[&str], &str)] = &[
        (
            &["KAFKA.SOURCE.CREATE", "s"],
            "ERR missing STREAMS <glob> or KEYS <glob>",
        ),
        (
            &["KAFKA.SOURCE.CREATE", "s", "STREAMS", "a[b"],
            "ERR STREAMS:",
        ),
        (
            &[
                "KAFKA.SOURCE.CREATE",
                "s",
                "STREAMS",
                "x",
                "TOPIC",
                "${nope}",
            ],
            "ERR TOPIC:",
        ),
        (
            &[
                "KAFKA.SOURCE.CREATE",
                "s",
                "STREAMS",
                "x",
                "KEY",
                "${field.}",
            ],
            "ERR KEY:",
        ),
        (
            &[
                "KAFKA.SOURCE.CREATE",
                "s",
                "STREAMS",
                "x",
                "FROM",
                "yesterday",
            ],
            "ERR FROM must be NEW, BEGINNING or a stream ID",
        ),
        (
            &["KAFKA.SOURCE.CREATE", "s", "STREAMS", "x", "WHAT", "1"],
            "ERR unknown option 'WHAT'",
        ),
        (
            &[
                "KAFKA.SOURCE.CREATE",
                "s",
                "STREAMS",
                "x",
                "PARTITIONS",
                "0",
            ],
            "ERR PARTITIONS must be a number from 1 to 10000",
        ),
        (
            &[
                "KAFKA.SOURCE.CREATE",
                "s",
                "STREAMS",
                "x",
                "CONFIG",
                "no.such",
                "1",
            ],
            "ERR CONFIG rejected by librdkafka",
        ),
        (&["KAFKA.SOURCE.DELETE", "s"], "ERR no source named 's'"),
        (&["KAFKA.SOURCE.PAUSE", "s"], "ERR no source named 's'"),
        (
            &["KAFKA.SOURCE.LIST", "x"],
            "ERR KAFKA.SOURCE.LIST takes no arguments",
        ),
    ];
    for (args, expected) in cases {
        let error = cmd_err(&mut conn, args);
        assert!(
            error.starts_with(expected),
            "{args:?}: got '{error}', want '{expected}...'"
        );
    }
    let sources: Vec<redis::Value> = cmd(&mut conn, &["KAFKA.SOURCE.LIST"]);
    assert!(sources.is_empty());
    assert_eq!(
        cmd::<String>(&mut conn, &["KAFKA.SOURCE.CREATE", "s", "STREAMS", "x"]),
        "OK"
    );
    let error = cmd_err(&mut conn, &["KAFKA.SOURCE.CREATE", "s", "STREAMS", "y"]);
    assert_eq!(error, "ERR a bridge named 's' already exists");
    let error = cmd_err(&mut conn, &["KAFKA.SINK.CREATE", "s", "TOPICS", "t"]);
    assert_eq!(error, "ERR a bridge named 's' already exists");
    let listed: Vec<Vec<redis::Value>> = cmd(&mut conn, &["KAFKA.SOURCE.LIST"]);
    let fields = pairs(&listed[0]);
    assert_eq!(String::from_redis_value(&fields["streams"]).unwrap(), "x");
    assert_eq!(String::from_redis_value(&fields["from"]).unwrap(), "NEW");
    assert_eq!(status_field::<String>(&mut conn, "s", "kind"), "source");
}
