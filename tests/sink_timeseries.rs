//! TYPE TIMESERIES end to end on Redis 7.4 with RedisTimeSeries (both from the redis-stack
//! wheel): values at record timestamps, samples that share a timestamp (records produced in a
//! burst often share a millisecond) under each ON-DUPLICATE policy, and tombstones skipped.

mod common;

use common::*;
use redis::Connection;

/// A fixed base so the expected timestamps are known; recent enough for any retention.
const BASE_MS: i64 = 1_700_000_000_000;

fn redis_with_timeseries() -> RedisServer {
    RedisServer::start_with(ServerOptions {
        binary: redis_7_4_server(),
        timeseries: true,
        ..ServerOptions::default()
    })
}

/// TS.RANGE key - + as (timestamp, value) pairs.
fn samples(conn: &mut Connection, key: &str) -> Vec<(i64, f64)> {
    let raw: Vec<(i64, String)> = cmd(conn, &["TS.RANGE", key, "-", "+"]);
    raw.into_iter()
        .map(|(ts, v)| (ts, v.parse().expect("sample value is a number")))
        .collect()
}

fn state(conn: &mut Connection, sink: &str) -> String {
    status_field(conn, sink, "state")
}

/// 1,000 records in a burst: key `a` or `b` alternately, ten records per millisecond (five per
/// key), value = the record's number; a tombstone after every hundredth record.
fn burst() -> Vec<Rec> {
    let mut records = Vec::new();
    for i in 0..1000i64 {
        let key = if i % 2 == 0 { "a" } else { "b" };
        let at = BASE_MS + i / 10;
        records.push(Rec::kv(key, &i.to_string()).at(at));
        if i % 100 == 99 {
            records.push(Rec::tombstone(key).at(at));
        }
    }
    records
}

#[test]
fn a_burst_sharing_timestamps_keeps_the_last_sample_of_each_and_keeps_running() {
    let kafka = MockKafka::new();
    kafka.create_topic("cpu", 1);
    produce(&kafka.bootstrap(), "cpu", &burst());
    let redis = redis_with_timeseries();
    let mut conn = redis.conn();
    // No ON-DUPLICATE: the default is LAST.
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "ts",
        &["TOPICS", "cpu", "TYPE", "TIMESERIES", "KEY", "cpu:${key}"],
    );
    wait_until("1,010 records passed", DEADLINE, || {
        stored_total(&mut conn, "ts") == 1010 || state(&mut conn, "ts") == "failed"
    });
    assert_eq!(
        state(&mut conn, "ts"),
        "running",
        "{:?}",
        status(&mut conn, "ts")
    );
    assert_eq!(count_field(&mut conn, "ts", "records"), 1000);
    assert_eq!(count_field(&mut conn, "ts", "errors"), 0);
    assert_eq!(count_field(&mut conn, "ts", "skipped"), 10, "tombstones");
    // One sample per millisecond per key, holding the last record of that millisecond.
    for (key, parity) in [("cpu:a", 0), ("cpu:b", 1)] {
        let got = samples(&mut conn, key);
        let expected: Vec<(i64, f64)> = (0..100)
            .map(|ms| (BASE_MS + ms, (ms * 10 + 8 + parity) as f64))
            .collect();
        assert_eq!(got, expected, "{key}");
    }
}

#[test]
fn block_counts_each_duplicate_as_an_error_under_skip_and_fails_before_it_by_default() {
    let kafka = MockKafka::new();
    kafka.create_topic("cpu", 1);
    produce(&kafka.bootstrap(), "cpu", &burst());
    let redis = redis_with_timeseries();
    let mut conn = redis.conn();
    let b = kafka.bootstrap();
    create_sink(
        &mut conn,
        &b,
        "skip",
        &[
            "TOPICS",
            "cpu",
            "TYPE",
            "TIMESERIES",
            "KEY",
            "skip:${key}",
            "ON-DUPLICATE",
            "BLOCK",
            "ON-ERROR",
            "SKIP",
        ],
    );
    create_sink(
        &mut conn,
        &b,
        "fail",
        &[
            "TOPICS",
            "cpu",
            "TYPE",
            "TIMESERIES",
            "KEY",
            "fail:${key}",
            "ON-DUPLICATE",
            "block",
        ],
    );
    wait_until("skip passed everything, fail failed", DEADLINE, || {
        stored_total(&mut conn, "skip") == 1010 && state(&mut conn, "fail") == "failed"
    });
    // SKIP: the first record of each millisecond and key is written, the other four are errors.
    assert_eq!(state(&mut conn, "skip"), "running");
    assert_eq!(count_field(&mut conn, "skip", "records"), 200);
    assert_eq!(count_field(&mut conn, "skip", "errors"), 800);
    assert_eq!(count_field(&mut conn, "skip", "skipped"), 810);
    for (key, parity) in [("skip:a", 0), ("skip:b", 1)] {
        let expected: Vec<(i64, f64)> = (0..100)
            .map(|ms| (BASE_MS + ms, (ms * 10 + parity) as f64))
            .collect();
        assert_eq!(samples(&mut conn, key), expected, "{key}");
    }
    let last_error: String = status_field(&mut conn, "skip", "last_error");
    assert!(last_error.contains("TS.ADD"), "{last_error}");
    assert!(last_error.contains("BLOCK"), "{last_error}");
    // FAIL: records 0 and 1 (one per key) are in; record 2 repeats a's millisecond.
    assert_eq!(stored_total(&mut conn, "fail"), 2);
    assert_eq!(samples(&mut conn, "fail:a"), [(BASE_MS, 0.0)]);
    assert_eq!(samples(&mut conn, "fail:b"), [(BASE_MS, 1.0)]);
    let last_error: String = status_field(&mut conn, "fail", "last_error");
    assert!(last_error.contains("offset 2"), "{last_error}");
}

#[test]
fn each_policy_resolves_samples_that_share_a_timestamp() {
    let kafka = MockKafka::new();
    kafka.create_topic("m", 1);
    // Three values at one millisecond, one at the next, a tombstone, a value that is no number.
    let records = [
        Rec::kv("x", "5").at(BASE_MS),
        Rec::kv("x", "2").at(BASE_MS),
        Rec::kv("x", "9.5").at(BASE_MS),
        Rec::kv("x", "-1").at(BASE_MS + 1),
        Rec::tombstone("x").at(BASE_MS + 1),
        Rec::kv("x", "warm").at(BASE_MS + 2),
    ];
    produce(&kafka.bootstrap(), "m", &records);
    let redis = redis_with_timeseries();
    let mut conn = redis.conn();
    let policies = [
        ("FIRST", 5.0),
        ("LAST", 9.5),
        ("MIN", 2.0),
        ("MAX", 9.5),
        ("SUM", 16.5),
    ];
    for (policy, _) in policies {
        let name = policy.to_lowercase();
        let key = format!("{name}:${{key}}");
        create_sink(
            &mut conn,
            &kafka.bootstrap(),
            &name,
            &[
                "TOPICS",
                "m",
                "TYPE",
                "TIMESERIES",
                "KEY",
                &key,
                "ON-DUPLICATE",
                policy,
                "ON-ERROR",
                "SKIP",
            ],
        );
    }
    wait_until("every sink passed all six records", DEADLINE, || {
        policies
            .iter()
            .all(|(p, _)| stored_total(&mut conn, &p.to_lowercase()) == 6)
    });
    for (policy, value) in policies {
        let name = policy.to_lowercase();
        assert_eq!(
            samples(&mut conn, &format!("{name}:x")),
            [(BASE_MS, value), (BASE_MS + 1, -1.0)],
            "{policy}"
        );
        assert_eq!(count_field(&mut conn, &name, "records"), 4, "{policy}");
        // The tombstone is skipped; "warm" is an error (and so skipped too).
        assert_eq!(count_field(&mut conn, &name, "errors"), 1, "{policy}");
        assert_eq!(count_field(&mut conn, &name, "skipped"), 2, "{policy}");
        assert_eq!(state(&mut conn, &name), "running", "{policy}");
    }
    // LIST shows the policy of TIMESERIES sinks only.
    let list: Vec<Vec<redis::Value>> = cmd(&mut conn, &["KAFKA.SINK.LIST"]);
    for entry in list {
        let fields = pairs(&entry);
        let name: String = redis::from_redis_value(&fields["name"]).expect("name");
        let shown: String = redis::from_redis_value(&fields["on_duplicate"]).expect("policy");
        assert_eq!(shown, name.to_uppercase());
    }
}

#[test]
fn on_duplicate_is_refused_where_it_does_not_apply() {
    let redis = redis_with_timeseries();
    let mut conn = redis.conn();
    let cases: [(&[&str], &str); 4] = [
        (
            &["TYPE", "HASH", "ON-DUPLICATE", "LAST"],
            "ERR ON-DUPLICATE applies to TYPE TIMESERIES, not HASH",
        ),
        (
            &["ON-DUPLICATE", "SUM"],
            "ERR ON-DUPLICATE applies to TYPE TIMESERIES, not STRING",
        ),
        (
            &["TYPE", "TIMESERIES", "ON-DUPLICATE", "NEWEST"],
            "ERR ON-DUPLICATE must be BLOCK, FIRST, LAST, MIN, MAX or SUM, got 'NEWEST'",
        ),
        (
            &["TYPE", "TIMESERIES", "ON-DUPLICATE"],
            "ERR missing value for ON-DUPLICATE",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["KAFKA.SINK.CREATE", "bad", "TOPICS", "t"];
        args.extend_from_slice(extra);
        let error = cmd_err(&mut conn, &args);
        assert!(error.starts_with(expected), "{extra:?}: {error}");
    }
    let list: Vec<redis::Value> = cmd(&mut conn, &["KAFKA.SINK.LIST"]);
    assert!(list.is_empty(), "{list:?}");
}

#[test]
fn timeseries_needs_the_module_at_create() {
    let redis = RedisServer::start_with(ServerOptions {
        binary: redis_7_4_server(),
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    let error = cmd_err(
        &mut conn,
        &[
            "KAFKA.SINK.CREATE",
            "t",
            "TOPICS",
            "t",
            "TYPE",
            "TIMESERIES",
        ],
    );
    assert!(
        error.starts_with("ERR TYPE TIMESERIES needs the RedisTimeSeries"),
        "{error}"
    );
}
