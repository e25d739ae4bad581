//! Poison never blocks a bridge forever, never duplicates, and never smuggles record content
//! into an error: sources get ON-ERROR like sinks, dead letters stay deliverable, a refused
//! EXPIRE does not make a retry write twice, and settings that would break "checkpoint only
//! after Kafka's ack" are refused.

mod common;

use common::*;

fn xadd(conn: &mut redis::Connection, stream: &str, field: &str, value: &str) -> String {
    cmd(conn, &["XADD", stream, "*", field, value])
}

/// A source whose producer refuses entries over 10,000 bytes (locally, for good).
fn small_source(conn: &mut redis::Connection, bootstrap: &str, name: &str, policy: &[&str]) {
    let mut args = vec![
        "KAFKA.SOURCE.CREATE",
        name,
        "STREAMS",
        "p:*",
        "TOPIC",
        "out",
        "FROM",
        "BEGINNING",
        "BROKERS",
        bootstrap,
        "CONFIG",
        "message.max.bytes",
        "10000",
    ];
    args.extend_from_slice(policy);
    assert_eq!(cmd::<String>(conn, &args), "OK");
}

fn a_source_entry_kafka_refuses_for_good_fails_the_source_before_it(binary: std::path::PathBuf) {
    let kafka = MockKafka::new();
    kafka.create_topic("out", 1);
    let redis = RedisServer::start_with(ServerOptions {
        binary,
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    let good = xadd(&mut conn, "p:1", "n", "1");
    let big = xadd(&mut conn, "p:1", "n", &"x".repeat(20_000));
    xadd(&mut conn, "p:1", "n", "3");
    small_source(&mut conn, &kafka.bootstrap(), "pf", &[]);
    wait_until("source failed", DEADLINE, || {
        status_field::<String>(&mut conn, "pf", "state") == "failed"
    });
    let error: String = status_field(&mut conn, "pf", "last_error");
    assert!(error.contains(&big) && error.contains("p:1"), "{error}");
    assert!(
        !error.contains("xxxxxxxx"),
        "the payload leaked into the error: {error}"
    );
    // The checkpoint stops right before the refused entry.
    let checkpoint: String = cmd(&mut conn, &["HGET", "__kafka:checkpoints:pf", "p:1"]);
    assert_eq!(checkpoint, good);
    let delivered = consume(&kafka.bootstrap(), "out", 1);
    assert_eq!(
        delivered[0].header("redis.id").as_deref(),
        Some(good.as_str())
    );
    // RESUME retries it, and it fails again the same way.
    cmd::<String>(&mut conn, &["KAFKA.SOURCE.RESUME", "pf"]);
    wait_until("failed again", DEADLINE, || {
        status_field::<String>(&mut conn, "pf", "state") == "failed"
            && status_field::<i64>(&mut conn, "pf", "errors") >= 2
    });
}

#[test]
fn a_source_with_on_error_skip_passes_the_refused_entry_and_goes_on() {
    let kafka = MockKafka::new();
    kafka.create_topic("out", 1);
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    xadd(&mut conn, "p:1", "n", "1");
    xadd(&mut conn, "p:1", "n", &"x".repeat(20_000));
    let last = xadd(&mut conn, "p:1", "n", "3");
    small_source(&mut conn, &kafka.bootstrap(), "ps", &["ON-ERROR", "SKIP"]);
    wait_until("two forwarded, one skipped", DEADLINE, || {
        status_field::<i64>(&mut conn, "ps", "records") == 2
            && status_field::<i64>(&mut conn, "ps", "skipped") == 1
    });
    assert_eq!(status_field::<i64>(&mut conn, "ps", "errors"), 1);
    assert_eq!(status_field::<String>(&mut conn, "ps", "state"), "running");
    wait_until("checkpoint past everything", DEADLINE, || {
        cmd::<Option<String>>(&mut conn, &["HGET", "__kafka:checkpoints:ps", "p:1"]).as_deref()
            == Some(last.as_str())
    });
}

#[test]
fn a_source_with_a_dlq_sends_refused_entries_there_without_their_oversized_value() {
    let kafka = MockKafka::new();
    kafka.create_topic("out", 1);
    kafka.create_topic("dead", 1);
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    xadd(&mut conn, "p:1", "n", "1");
    let big = xadd(&mut conn, "p:1", "n", &"x".repeat(20_000));
    xadd(&mut conn, "p:1", "n", "3");
    // An entry whose KEY template cannot be rendered goes the same way, with its value.
    let unmappable = xadd(&mut conn, "p:2", "other", "v");
    small_source(
        &mut conn,
        &kafka.bootstrap(),
        "pd",
        &["KEY", "${field.n}", "ON-ERROR", "DLQ", "dead"],
    );
    wait_until("two dead letters", DEADLINE, || {
        status_field::<i64>(&mut conn, "pd", "dlq") == 2
            && status_field::<i64>(&mut conn, "pd", "records") == 2
    });
    let letters = consume(&kafka.bootstrap(), "dead", 2);
    let too_big = letters
        .iter()
        .find(|l| {
            l.header("redis.id").as_deref() == Some(big.as_str())
                && l.header("redis.stream").as_deref() == Some("p:1")
        })
        .expect("dead letter of the big entry");
    assert_eq!(too_big.header("redis.stream").as_deref(), Some("p:1"));
    assert_eq!(too_big.header("redis.source").as_deref(), Some("pd"));
    assert_eq!(too_big.header("redis.topic").as_deref(), Some("out"));
    assert!(too_big.value.is_none(), "oversized value was dropped");
    let dropped: usize = too_big
        .header("redis.value.dropped")
        .unwrap()
        .parse()
        .unwrap();
    assert!(dropped > 20_000, "{dropped}");
    let error = too_big.header("redis.error").unwrap();
    assert!(error.len() <= 1024 && !error.contains("xxxx"), "{error}");
    let bad = letters
        .iter()
        .find(|l| {
            l.header("redis.id").as_deref() == Some(unmappable.as_str())
                && l.header("redis.stream").as_deref() == Some("p:2")
        })
        .expect("dead letter of the unmappable entry");
    assert_eq!(bad.value.as_deref(), Some(&br#"{"other":"v"}"#[..]));
    assert!(bad.header("redis.error").unwrap().contains("n"), "{bad:?}");
}

#[test]
fn a_dead_letter_error_header_is_bounded_and_never_holds_the_payload() {
    let kafka = MockKafka::new();
    kafka.create_topic("scores", 1);
    kafka.create_topic("dead", 1);
    // A 600 KB value that is not a number: error + payload once made a record too large to send.
    let poison = "y".repeat(600_000);
    produce(
        &kafka.bootstrap(),
        "scores",
        &[Rec::kv("a", "1"), Rec::kv("b", &poison), Rec::kv("c", "3")],
    );
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "z",
        &[
            "TOPICS", "scores", "TYPE", "ZSET", "ON-ERROR", "DLQ", "dead",
        ],
    );
    wait_until("two applied, one dead letter", DEADLINE, || {
        status_field::<i64>(&mut conn, "z", "records") == 2
            && status_field::<i64>(&mut conn, "z", "dlq") == 1
    });
    let letter = &consume(&kafka.bootstrap(), "dead", 1)[0];
    let error = letter.header("redis.error").unwrap();
    assert!(error.len() <= 1024, "{} bytes", error.len());
    assert!(!error.contains("yyyy"), "{error}");
    assert_eq!(letter.value.as_ref().map(Vec::len), Some(600_000));
    let last_error: String = status_field(&mut conn, "z", "last_error");
    assert!(!last_error.contains("yyyy"), "{last_error}");
}

#[test]
fn a_ttl_redis_refuses_never_makes_a_retry_write_twice() {
    let kafka = MockKafka::new();
    kafka.create_topic("ev", 1);
    let mut huge_ttl = Rec::kv("k", r#"{"n":1}"#);
    huge_ttl
        .headers
        .push(("redis.ttl".into(), b"9223372036854775807".to_vec()));
    produce(
        &kafka.bootstrap(),
        "ev",
        &[
            Rec::kv("k", r#"{"n":0}"#),
            huge_ttl,
            Rec::kv("k", r#"{"n":2}"#),
        ],
    );
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "st",
        &["TOPICS", "ev", "TYPE", "STREAM"],
    );
    wait_until("sink failed at the bad TTL", DEADLINE, || {
        status_field::<String>(&mut conn, "st", "state") == "failed"
    });
    let error: String = status_field(&mut conn, "st", "last_error");
    assert!(error.contains("redis.ttl"), "{error}");
    assert_eq!(
        cmd::<i64>(&mut conn, &["XLEN", "ev"]),
        1,
        "nothing written for the bad record"
    );
    for _ in 0..3 {
        cmd::<String>(&mut conn, &["KAFKA.SINK.RESUME", "st"]);
        wait_until("failed again", DEADLINE, || {
            status_field::<String>(&mut conn, "st", "state") == "failed"
        });
    }
    assert_eq!(
        cmd::<i64>(&mut conn, &["XLEN", "ev"]),
        1,
        "retries wrote nothing twice"
    );
}

#[test]
fn settings_that_would_checkpoint_unacknowledged_records_are_refused() {
    let redis = RedisServer::start_with(ServerOptions {
        module_args: vec!["kafka.brokers".into(), "127.0.0.1:1".into()],
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    for (property, value) in [
        ("enable.idempotence", "false"),
        ("acks", "0"),
        ("acks", "1"),
        ("request.required.acks", "0"),
        ("transactional.id", "x"),
    ] {
        for create in [
            &["KAFKA.SOURCE.CREATE", "s", "STREAMS", "x"][..],
            &[
                "KAFKA.SINK.CREATE",
                "k",
                "TOPICS",
                "t",
                "ON-ERROR",
                "DLQ",
                "d",
            ],
        ] {
            let mut args = create.to_vec();
            args.extend(["CONFIG", property, value]);
            let error = cmd_err(&mut conn, &args);
            assert!(
                error.starts_with("ERR CONFIG") && error.contains(property),
                "{args:?}: {error}"
            );
        }
    }
    assert_eq!(
        cmd::<String>(
            &mut conn,
            &[
                "KAFKA.SOURCE.CREATE",
                "s",
                "STREAMS",
                "x",
                "CONFIG",
                "acks",
                "all"
            ]
        ),
        "OK"
    );
    let error = cmd_err(
        &mut conn,
        &[
            "KAFKA.SINK.CREATE",
            "k",
            "TOPICS",
            "t",
            "CONFIG",
            "auto.offset.reset",
            "latest",
        ],
    );
    assert!(error.contains("START"), "{error}");
}

#[test]
fn a_source_entry_kafka_refuses_for_good_fails_the_source_before_it_redis() {
    a_source_entry_kafka_refuses_for_good_fails_the_source_before_it(redis_server());
}

#[test]
fn a_source_entry_kafka_refuses_for_good_fails_the_source_before_it_valkey() {
    a_source_entry_kafka_refuses_for_good_fails_the_source_before_it(valkey_server());
}

#[test]
fn a_source_entry_kafka_refuses_for_good_fails_the_source_before_it_redis74() {
    a_source_entry_kafka_refuses_for_good_fails_the_source_before_it(redis_7_4_server());
}

/// Kafka header names are bytes on the wire; a producer can send one that is not UTF-8, and
/// a header with a null value. Neither may stop a sink (rdkafka's header iterator panics on
/// such a name), nor a KEYS source reading such a record back from its own topic.
#[test]
fn records_with_binary_header_names_and_null_headers_are_written() {
    let kafka = MockKafka::new();
    kafka.create_topic("hh", 1);
    let mut odd = Rec::kv("a", "1");
    odd.raw_headers = vec![
        (b"\xff\xfe\x00name".to_vec(), Some(b"v".to_vec())),
        (b"redis.ttl".to_vec(), None),
        (b"tenant".to_vec(), Some(b"acme".to_vec())),
    ];
    let mut ttl = Rec::kv("b", "2");
    ttl.raw_headers = vec![
        (b"\xc3\x28".to_vec(), None),
        (b"redis.ttl".to_vec(), Some(b"100".to_vec())),
    ];
    produce(&kafka.bootstrap(), "hh", &[odd, ttl, Rec::kv("c", "3")]);
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "hs",
        &["TOPICS", "hh", "ON-ERROR", "SKIP"],
    );
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "ht",
        &[
            "TOPICS",
            "hh",
            "KEY",
            "t:${header.tenant}:${key}",
            "ON-ERROR",
            "SKIP",
        ],
    );
    wait_until("both sinks wrote all three records", DEADLINE, || {
        count_field(&mut conn, "hs", "records") + count_field(&mut conn, "hs", "skipped") == 3
            && count_field(&mut conn, "ht", "records") + count_field(&mut conn, "ht", "skipped")
                == 3
    });
    assert_eq!(status_field::<String>(&mut conn, "hs", "state"), "running");
    assert_eq!(cmd::<String>(&mut conn, &["GET", "hh:a"]), "1");
    assert_eq!(cmd::<String>(&mut conn, &["GET", "hh:c"]), "3");
    // A null redis.ttl header is no TTL; a good one applies.
    let ttl: i64 = cmd(&mut conn, &["TTL", "hh:b"]);
    assert!((1..=100).contains(&ttl), "{ttl}");
    assert_eq!(cmd::<String>(&mut conn, &["GET", "t:acme:a"]), "1");
    assert_eq!(count_field(&mut conn, "ht", "skipped"), 2);
    let error: String = status_field(&mut conn, "ht", "last_error");
    assert!(error.contains("no header 'tenant'"), "{error}");
}

/// A KEYS source reads its own topic back at start; a record there with a binary header name
/// (anyone may produce to the topic) must not stop it.
#[test]
fn a_keys_source_reads_back_records_with_binary_header_names() {
    let kafka = MockKafka::new();
    kafka.create_topic("hk", 1);
    let mut odd = Rec::kv("zz:gone", "old");
    odd.raw_headers = vec![(b"\xff".to_vec(), Some(b"x".to_vec()))];
    produce(&kafka.bootstrap(), "hk", &[odd]);
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    cmd::<String>(&mut conn, &["SET", "zz:here", "v"]);
    let args = [
        "KAFKA.SOURCE.CREATE",
        "hk",
        "BROKERS",
        &kafka.bootstrap(),
        "KEYS",
        "zz:*",
        "TOPIC",
        "hk",
    ];
    assert_eq!(cmd::<String>(&mut conn, &args), "OK");
    // The reconcile sends the key that is here and a tombstone for the one that is gone.
    wait_until("the source reconciled its topic", DEADLINE, || {
        count_field(&mut conn, "hk", "records") == 2
    });
    assert_eq!(status_field::<String>(&mut conn, "hk", "state"), "running");
    let records = consume(&kafka.bootstrap(), "hk", 3);
    let last: Vec<_> = records[1..]
        .iter()
        .map(|m| (m.key.clone(), m.value.clone()))
        .collect();
    assert!(
        last.contains(&(Some(b"zz:gone".to_vec()), None)),
        "{last:?}"
    );
    assert!(last.contains(&(Some(b"zz:here".to_vec()), Some(b"v".to_vec()))));
}
