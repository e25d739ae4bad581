//! Shaping what lands in Redis: FIELDS projection and renaming, and record templates that
//! read headers and JSON keys, end to end against a broker.

mod common;

use common::subscriber::Subscriber;
use common::*;

fn with_header(mut rec: Rec, name: &str, value: &str) -> Rec {
    rec.headers.push((name.into(), value.as_bytes().to_vec()));
    rec
}

fn settled(conn: &mut redis::Connection, name: &str) -> i64 {
    ["records", "skipped", "dlq"]
        .iter()
        .map(|field| count_field(conn, name, field))
        .sum()
}

/// Creates every sink and waits until each has settled `records` records.
fn create_and_settle(
    conn: &mut redis::Connection,
    bootstrap: &str,
    sinks: &[(&str, &[&str])],
    records: i64,
) {
    for (name, args) in sinks {
        create_sink(conn, bootstrap, name, args);
    }
    for (name, _) in sinks {
        wait_until("every record settled", DEADLINE, || {
            settled(conn, name) == records
        });
    }
}

#[test]
fn fields_select_and_rename_for_hash_json_and_stream() {
    let kafka = MockKafka::new();
    let b = kafka.bootstrap();
    kafka.create_topic("ev", 1);
    kafka.create_topic("ev-dlq", 1);
    produce(
        &b,
        "ev",
        &[
            Rec::kv(
                "u1",
                r#"{"user":{"id":7,"name":"ann"},"page":"/a","ref":"x","junk":1}"#,
            ),
            Rec::kv("u1", r#"{"user":{"id":7},"page":"/b"}"#),
            Rec::kv("u2", r#"{"page":"/c"}"#),
            Rec::kv("u3", "not json"),
            Rec::kv(
                "u4",
                r#"{"user":{"id":9},"page":{"path":"/d","n":[1,"a"]}}"#,
            ),
            Rec::tombstone("u4"),
        ],
    );
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let sinks: [(&str, &[&str]); 3] = [
        (
            "h",
            &[
                "TOPICS",
                "ev",
                "TYPE",
                "HASH",
                "KEY",
                "h:${key}",
                "FIELDS",
                "user.id",
                "AS",
                "uid,page,ref?",
                "UPDATE",
                "REPLACE",
                "ON-ERROR",
                "DLQ",
                "ev-dlq",
            ],
        ),
        (
            "j",
            &[
                "TOPICS",
                "ev",
                "TYPE",
                "JSON",
                "KEY",
                "j:${key}",
                "FIELDS",
                "user.id AS meta.uid, page, ref?",
                "ON-ERROR",
                "SKIP",
            ],
        ),
        (
            "s",
            &[
                "TOPICS",
                "ev",
                "TYPE",
                "STREAM",
                "KEY",
                "s",
                "FIELDS",
                "page,user.id",
                "AS",
                "uid",
                "MAXLEN",
                "10",
                "ON-ERROR",
                "SKIP",
            ],
        ),
    ];
    create_and_settle(&mut conn, &b, &sinks, 6);
    for (name, _) in sinks {
        assert_eq!(status_field::<String>(&mut conn, name, "state"), "running");
    }
    // HASH with REPLACE: exactly the selected fields of the last record, renamed.
    let mut h: Vec<(String, String)> = cmd(&mut conn, &["HGETALL", "h:u1"]);
    h.sort();
    assert_eq!(
        h,
        [("page".into(), "/b".into()), ("uid".into(), "7".into())]
    );
    assert_eq!(
        cmd::<i64>(&mut conn, &["EXISTS", "h:u2", "h:u3", "h:u4"]),
        0
    );
    assert_eq!(count_field(&mut conn, "h", "dlq"), 2);
    let dead = consume(&b, "ev-dlq", 2);
    let error = dead[0].header("redis.error").unwrap();
    assert!(
        error.contains("no field 'user.id' (selected by FIELDS)"),
        "{error}"
    );
    assert!(dead[1].header("redis.error").unwrap().contains("not JSON"));
    // JSON: a new document, nested by the names.
    let doc: String = cmd(&mut conn, &["JSON.GET", "j:u1"]);
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc, serde_json::json!({"meta": {"uid": 7}, "page": "/b"}));
    assert_eq!(count_field(&mut conn, "j", "skipped"), 2);
    // STREAM: fields in FIELDS order; objects as compact JSON; the tombstone skipped.
    let entries: Vec<(String, Vec<String>)> = cmd(&mut conn, &["XRANGE", "s", "-", "+"]);
    let fields: Vec<Vec<String>> = entries.into_iter().map(|(_, f)| f).collect();
    assert_eq!(
        fields,
        [
            vec!["page", "/a", "uid", "7"],
            vec!["page", "/b", "uid", "7"],
            vec!["page", r#"{"n":[1,"a"],"path":"/d"}"#, "uid", "9"],
        ]
    );
    assert_eq!(count_field(&mut conn, "s", "skipped"), 3);
    let listed = format!("{:?}", cmd::<redis::Value>(&mut conn, &["KAFKA.SINK.LIST"]));
    assert!(listed.contains("user.id AS uid,page,ref?"), "{listed}");
    assert!(
        listed.contains("user.id AS meta.uid, page, ref?"),
        "{listed}"
    );
}

#[test]
fn optional_fields_alone_write_nothing_when_absent_and_merge_keeps_the_rest() {
    let kafka = MockKafka::new();
    let b = kafka.bootstrap();
    kafka.create_topic("opt", 1);
    produce(
        &b,
        "opt",
        &[
            Rec::kv("k", r#"{"a":1,"b":2}"#),
            Rec::kv("k", r#"{"other":true}"#),
            Rec::kv("k", r#"{"b":3}"#),
        ],
    );
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &b,
        "o",
        &[
            "TOPICS", "opt", "TYPE", "HASH", "KEY", "o:${key}", "FIELDS", "a?,b?",
        ],
    );
    create_sink(
        &mut conn,
        &b,
        "jm",
        &[
            "TOPICS",
            "opt",
            "TYPE",
            "JSON",
            "KEY",
            "jm:${key}",
            "FIELDS",
            "a?,b?",
            "UPDATE",
            "MERGE",
        ],
    );
    for name in ["o", "jm"] {
        wait_until("all three settled", DEADLINE, || {
            settled(&mut conn, name) == 3
        });
        // The record with none of the fields is skipped, never an empty write or a delete.
        assert_eq!(count_field(&mut conn, name, "skipped"), 1);
    }
    let mut h: Vec<(String, String)> = cmd(&mut conn, &["HGETALL", "o:k"]);
    h.sort();
    assert_eq!(h, [("a".into(), "1".into()), ("b".into(), "3".into())]);
    let doc: String = cmd(&mut conn, &["JSON.GET", "jm:k"]);
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc, serde_json::json!({"a": 1, "b": 3}));
}

#[test]
fn bad_fields_options_are_refused_and_create_nothing() {
    let kafka = MockKafka::new();
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    for (args, want) in [
        (
            vec!["TOPICS", "t", "FIELDS", "a"],
            "FIELDS applies to TYPE HASH, JSON or STREAM, not STRING",
        ),
        (
            vec!["TOPICS", "t", "TYPE", "HASH", "FIELDS", "a,,b"],
            "empty field in FIELDS",
        ),
        (
            vec!["TOPICS", "t", "TYPE", "HASH", "FIELDS", "a", "AS"],
            "missing name after AS in FIELDS",
        ),
        (
            vec!["TOPICS", "t", "TYPE", "JSON", "FIELDS", "a,b AS a.c"],
            "FIELDS names 'a' and 'a.c' overlap",
        ),
        (
            vec!["TOPICS", "t", "TYPE", "HASH", "FIELDS", "x AS y,z AS y"],
            "FIELDS names 'y' twice",
        ),
        (
            vec!["TOPICS", "t", "KEY", "${header.}"],
            "unknown placeholder '${header.}'",
        ),
        (
            vec!["TOPICS", "t", "KEY", "${key.a..b}"],
            "unknown placeholder '${key.a..b}'",
        ),
    ] {
        let mut full = vec!["KAFKA.SINK.CREATE", "bad", "BROKERS"];
        let b = kafka.bootstrap();
        full.push(&b);
        full.extend(args.iter().copied());
        let err = try_cmd::<String>(&mut conn, &full).unwrap_err().to_string();
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(
            err.starts_with("ERR") || err.contains("ResponseError"),
            "{err}"
        );
    }
    // Bytes that are not UTF-8, a NUL, and far too many fields.
    let many: Vec<String> = (0..5000).map(|i| format!("f{i}")).collect();
    let many = many.join(",");
    for (fields, want) in [
        (&b"a,\xff\xfe"[..], "value for FIELDS must be UTF-8 text"),
        (&b"a\0b AS x"[..], ""),
        (many.as_bytes(), "FIELDS selects more than 1024 fields"),
    ] {
        let reply: redis::RedisResult<String> = redis::cmd("KAFKA.SINK.CREATE")
            .arg("odd")
            .arg("BROKERS")
            .arg(kafka.bootstrap())
            .arg("TOPICS")
            .arg("t")
            .arg("TYPE")
            .arg("HASH")
            .arg("FIELDS")
            .arg(fields)
            .query(&mut conn);
        match reply {
            // A NUL is an ordinary byte in a field path and a hash field name.
            Ok(ok) if want.is_empty() => {
                assert_eq!(ok, "OK");
                cmd::<String>(&mut conn, &["KAFKA.SINK.DELETE", "odd"]);
            }
            Ok(ok) => panic!("{want}: created ({ok})"),
            Err(e) => assert!(e.to_string().contains(want) && !want.is_empty(), "{e}"),
        }
    }
    let listed: Vec<redis::Value> = cmd(&mut conn, &["KAFKA.SINK.LIST"]);
    assert!(listed.is_empty());
}

#[test]
fn headers_and_json_key_fields_render_in_key_member_score_and_channel() {
    let kafka = MockKafka::new();
    let b = kafka.bootstrap();
    kafka.create_topic("hd", 1);
    let records = vec![
        with_header(
            with_header(Rec::kv(r#"{"id":1,"region":"eu"}"#, "10"), "tenant", "acme"),
            "points",
            "2.5",
        ),
        with_header(
            with_header(Rec::kv(r#"{"id":2,"region":"us"}"#, "20"), "tenant", "acme"),
            "points",
            "4",
        ),
        // No tenant header and a key that is not JSON: the record's error, under ON-ERROR.
        Rec::kv("plain", "30"),
        // A repeated header: the last one counts.
        with_header(
            with_header(
                with_header(Rec::kv(r#"{"id":3,"region":"eu"}"#, "40"), "tenant", "old"),
                "tenant",
                "globex",
            ),
            "points",
            "1",
        ),
    ];
    produce(&b, "hd", &records);
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let mut eu = Subscriber::new(redis.port, "ch:eu");
    let sinks: [(&str, &[&str]); 3] = [
        (
            "hs",
            &[
                "TOPICS",
                "hd",
                "KEY",
                "${header.tenant}:${key.id}",
                "ON-ERROR",
                "SKIP",
            ],
        ),
        (
            "hz",
            &[
                "TOPICS",
                "hd",
                "TYPE",
                "ZSET",
                "KEY",
                "z:${header.tenant}",
                "MEMBER",
                "m${key.id}",
                "SCORE",
                "${header.points}",
                "ON-ERROR",
                "SKIP",
            ],
        ),
        (
            "hp",
            &[
                "TOPICS",
                "hd",
                "TYPE",
                "PUBLISH",
                "CHANNEL",
                "ch:${key.region}",
                "ON-ERROR",
                "SKIP",
            ],
        ),
    ];
    create_and_settle(&mut conn, &b, &sinks, 4);
    for (name, _) in sinks {
        assert_eq!(count_field(&mut conn, name, "skipped"), 1, "{name}");
    }
    assert_eq!(cmd::<String>(&mut conn, &["GET", "acme:1"]), "10");
    assert_eq!(cmd::<String>(&mut conn, &["GET", "acme:2"]), "20");
    assert_eq!(cmd::<String>(&mut conn, &["GET", "globex:3"]), "40");
    let error: String = status_field(&mut conn, "hs", "last_error");
    assert!(error.contains("no header 'tenant'"), "{error}");
    let zset: Vec<(String, f64)> = cmd(&mut conn, &["ZRANGE", "z:acme", "0", "-1", "WITHSCORES"]);
    assert_eq!(zset, [("m1".into(), 2.5), ("m2".into(), 4.0)]);
    let error: String = status_field(&mut conn, "hp", "last_error");
    assert!(error.contains("key is not JSON"), "{error}");
    let got = eu.take(2);
    let payloads: Vec<&[u8]> = got.iter().map(|(_, p)| p.as_slice()).collect();
    assert_eq!(payloads, [&b"10"[..], &b"40"[..]]);
}
