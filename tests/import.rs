//! KAFKA.SINK.IMPORT / KAFKA.SOURCE.IMPORT against librdkafka's mock cluster: the connector
//! configs redis-kafka-connect documents become bridges that write what the connector would,
//! DRYRUN shows the CREATE and creates nothing, refusals name the property and create nothing,
//! and IMPORT is as administrative (and as discreet about secrets) as CREATE.

mod common;

use common::*;
use redis::{Connection, Value};
use std::collections::{HashMap, HashSet};

const SINK: &str = "com.redis.kafka.connect.RedisSinkConnector";
const STRING_CONVERTER: &str = "org.apache.kafka.connect.storage.StringConverter";
const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";

/// A connector config as Connect's REST API takes it, with the mock cluster's short group
/// timeouts passed the way Connect passes consumer settings (properties in name order).
fn sink_config(pairs: &[(&str, &str)]) -> String {
    let mut config = serde_json::Map::new();
    config.insert("connector.class".into(), SINK.into());
    config.insert("redis.uri".into(), "redis://redis:6379".into());
    config.insert("consumer.override.session.timeout.ms".into(), "6000".into());
    config.insert(
        "consumer.override.heartbeat.interval.ms".into(),
        "500".into(),
    );
    for (k, v) in pairs {
        config.insert(k.to_string(), v.to_string().into());
    }
    serde_json::Value::Object(config).to_string()
}

/// One bridge of KAFKA.SINK.LIST or KAFKA.SOURCE.LIST as a field → value map.
fn listed(conn: &mut Connection, command: &str, name: &str) -> Option<HashMap<String, Value>> {
    let all: Vec<Vec<Value>> = cmd(conn, &[command]);
    all.iter().map(|b| pairs(b)).find(|b| {
        b.get("name")
            .is_some_and(|n| *n == Value::BulkString(name.as_bytes().to_vec()))
    })
}

fn text(map: &HashMap<String, Value>, field: &str) -> String {
    redis::from_redis_value(&map[field]).unwrap_or_else(|e| panic!("{field}: {e}"))
}

fn import_sink(conn: &mut Connection, bootstrap: &str, name: &str, json: &str) {
    let reply: String = cmd(
        conn,
        &["KAFKA.SINK.IMPORT", name, json, "BROKERS", bootstrap],
    );
    assert_eq!(reply, "OK");
}

/// The stored definition is an ordinary CREATE: its arguments after the name.
fn stored_args(conn: &mut Connection, name: &str) -> Vec<String> {
    let args: String = cmd(conn, &["HGET", &format!("__kafka:bridge:{name}"), "args"]);
    serde_json::from_str(&args).expect("args is a JSON array")
}

fn nothing_created(conn: &mut Connection) {
    assert!(cmd::<Vec<Value>>(conn, &["KAFKA.SINK.LIST"]).is_empty());
    assert!(cmd::<Vec<Value>>(conn, &["KAFKA.SOURCE.LIST"]).is_empty());
    assert!(!key_exists(conn, "__kafka:bridges"));
}

#[test]
fn sink_imports_write_each_type_as_the_connector_would() {
    let kafka = MockKafka::new();
    let b = kafka.bootstrap();
    kafka.create_topic("orders", 1);
    kafka.create_topic("scores", 1);
    produce(
        &b,
        "orders",
        &[
            Rec::kv("o1", r#"{"item":"pen","qty":2}"#),
            Rec::kv("o2", r#"{"item":"ink","qty":1}"#),
            Rec::tombstone("o1"),
        ],
    );
    produce(&b, "scores", &[Rec::kv("ann", "12.5"), Rec::kv("bob", "7")]);
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let plain = [
        ("key.converter", STRING_CONVERTER),
        ("value.converter", STRING_CONVERTER),
    ];
    let json_values = [
        ("key.converter", STRING_CONVERTER),
        ("value.converter", JSON_CONVERTER),
        ("value.converter.schemas.enable", "false"),
    ];
    let with = |base: &[(&'static str, &'static str)], extra: &[(&'static str, &'static str)]| {
        let mut all = base.to_vec();
        all.extend_from_slice(extra);
        sink_config(&all)
    };
    let sinks = [
        (
            "str",
            with(
                &plain,
                &[
                    ("topics", "orders"),
                    ("redis.type", "STRING"),
                    ("redis.keyspace", "str"),
                ],
            ),
        ),
        (
            "hash",
            with(
                &json_values,
                &[
                    ("topics", "orders"),
                    ("redis.type", "HASH"),
                    ("redis.keyspace", "hash"),
                    ("redis.separator", "/"),
                    ("redis.key.ttl", "3600"),
                ],
            ),
        ),
        (
            "doc",
            with(
                &json_values,
                &[
                    ("topics", "orders"),
                    ("redis.command", "JSONSET"),
                    ("redis.key", "doc"),
                ],
            ),
        ),
        // redis.type defaults to STREAM, named by the keyspace.
        (
            "events",
            with(
                &json_values,
                &[("topics", "orders"), ("redis.keyspace", "events:${topic}")],
            ),
        ),
        (
            "list",
            with(
                &plain,
                &[
                    ("topics", "orders"),
                    ("redis.command", "LPUSH"),
                    ("redis.keyspace", "list"),
                ],
            ),
        ),
        (
            "set",
            with(
                &plain,
                &[
                    ("topics", "orders"),
                    ("redis.type", "SET"),
                    ("redis.keyspace", "set"),
                ],
            ),
        ),
        (
            "zset",
            with(
                &plain,
                &[
                    ("topics", "scores"),
                    ("redis.type", "ZSET"),
                    ("redis.keyspace", "zset"),
                    ("tasks.max", "2"),
                ],
            ),
        ),
    ];
    for (name, json) in &sinks {
        import_sink(&mut conn, &b, name, json);
    }
    wait_until("every imported sink applied its topic", DEADLINE, || {
        sinks
            .iter()
            .all(|(name, _)| stored_total(&mut conn, name) == if *name == "zset" { 2 } else { 3 })
    });
    // STRING: orders:<key> → str:<key>; the tombstone deleted o1.
    assert!(!key_exists(&mut conn, "str:o1"));
    assert_eq!(
        cmd::<String>(&mut conn, &["GET", "str:o2"]),
        r#"{"item":"ink","qty":1}"#
    );
    // HASH with its separator and TTL.
    let hash: HashMap<String, String> = cmd(&mut conn, &["HGETALL", "hash/o2"]);
    assert_eq!(
        hash,
        HashMap::from([("item".into(), "ink".into()), ("qty".into(), "1".into())])
    );
    assert!((1..=3600).contains(&cmd::<i64>(&mut conn, &["TTL", "hash/o2"])));
    assert!(!key_exists(&mut conn, "hash/o1"));
    // JSON (the older redis.command / redis.key names).
    assert_eq!(
        cmd::<String>(&mut conn, &["JSON.GET", "doc:o2", "$.item"]),
        r#"["ink"]"#
    );
    // STREAM: one entry per record with a value; the tombstone is skipped.
    let entries: Vec<(String, HashMap<String, String>)> =
        cmd(&mut conn, &["XRANGE", "events:orders", "-", "+"]);
    let items: Vec<&str> = entries.iter().map(|(_, f)| f["item"].as_str()).collect();
    assert_eq!(items, ["pen", "ink"]);
    // LIST pushed LEFT (LPUSH); the tombstone removed o1.
    assert_eq!(
        cmd::<Vec<String>>(&mut conn, &["LRANGE", "list", "0", "-1"]),
        ["o2"]
    );
    let set: HashSet<String> = cmd(&mut conn, &["SMEMBERS", "set"]);
    assert_eq!(set, HashSet::from(["o2".to_string()]));
    let zset: Vec<(String, f64)> = cmd(&mut conn, &["ZRANGE", "zset", "0", "-1", "WITHSCORES"]);
    assert_eq!(
        zset,
        vec![("bob".to_string(), 7.0), ("ann".to_string(), 12.5)]
    );

    // What LIST shows, and what is stored: an ordinary CREATE.
    for (name, sink_type, key) in [
        ("str", "STRING", "str:${key}"),
        ("hash", "HASH", "hash/${key}"),
        ("doc", "JSON", "doc:${key}"),
        ("events", "STREAM", "events:${topic}"),
        ("list", "LIST", "list"),
        ("set", "SET", "set"),
        ("zset", "ZSET", "zset"),
    ] {
        let entry = listed(&mut conn, "KAFKA.SINK.LIST", name).expect(name);
        assert_eq!(text(&entry, "type"), sink_type, "{name}");
        assert_eq!(text(&entry, "key"), key, "{name}");
        assert_eq!(text(&entry, "on_error"), "FAIL", "{name}");
    }
    let hash = listed(&mut conn, "KAFKA.SINK.LIST", "hash").unwrap();
    assert_eq!(redis::from_redis_value::<i64>(&hash["ttl"]).unwrap(), 3600);
    let list = listed(&mut conn, "KAFKA.SINK.LIST", "list").unwrap();
    assert_eq!(text(&list, "push"), "LEFT");
    let zset = listed(&mut conn, "KAFKA.SINK.LIST", "zset").unwrap();
    assert_eq!(redis::from_redis_value::<i64>(&zset["tasks"]).unwrap(), 2);
    assert_eq!(
        stored_args(&mut conn, "list").join(" "),
        format!(
            "TOPICS orders TYPE LIST KEY list PUSH LEFT ON-ERROR FAIL \
             CONFIG heartbeat.interval.ms 500 CONFIG session.timeout.ms 6000 BROKERS {b}"
        )
    );
}

#[test]
fn the_documented_stream_source_example_forwards_the_stream() {
    let kafka = MockKafka::new();
    let b = kafka.bootstrap();
    kafka.create_topic("mystream", 1);
    let redis = RedisServer::start_with(ServerOptions {
        module_args: vec!["kafka.brokers".into(), b.clone()],
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    // redis.stream.offset defaults to 0-0: entries already in the stream are sent too.
    let first: String = cmd(
        &mut conn,
        &["XADD", "mystream", "*", "sensor", "a", "t", "20"],
    );
    // The REST body form, with BROKERS from the module config.
    let body = r#"{"name":"redis-source","config":{"tasks.max":"1","connector.class":"com.redis.kafka.connect.RedisStreamSourceConnector","redis.uri":"redis://redis:6379","redis.stream.name":"mystream","topic":"mystream"}}"#;
    assert_eq!(
        cmd::<String>(&mut conn, &["KAFKA.SOURCE.IMPORT", "mystream-source", body]),
        "OK"
    );
    let second: String = cmd(
        &mut conn,
        &["XADD", "mystream", "*", "sensor", "b", "t", "21"],
    );
    let received = consume(&b, "mystream", 2);
    let keys: Vec<String> = received
        .iter()
        .map(|r| String::from_utf8(r.key.clone().unwrap()).unwrap())
        .collect();
    // Keyed by entry ID, as the connector keys them.
    assert_eq!(keys, [first.clone(), second]);
    let value: serde_json::Value =
        serde_json::from_slice(received[0].value.as_ref().unwrap()).unwrap();
    assert_eq!(value, serde_json::json!({"sensor": "a", "t": "20"}));
    assert_eq!(
        received[0].header("redis.stream").as_deref(),
        Some("mystream")
    );
    assert_eq!(received[0].header("redis.id"), Some(first));
    let entry = listed(&mut conn, "KAFKA.SOURCE.LIST", "mystream-source").unwrap();
    assert_eq!(text(&entry, "streams"), "mystream");
    assert_eq!(text(&entry, "topic"), "mystream");
    assert_eq!(text(&entry, "key"), "${id}");
    assert_eq!(text(&entry, "from"), "BEGINNING");
    assert_eq!(text(&entry, "brokers"), "default");
    assert_eq!(
        stored_args(&mut conn, "mystream-source").join(" "),
        "STREAMS mystream TOPIC mystream KEY ${id} FROM BEGINNING ON-ERROR FAIL"
    );
}

#[test]
fn a_keys_source_import_mirrors_changed_keys() {
    let kafka = MockKafka::new();
    let b = kafka.bootstrap();
    kafka.create_topic("users", 1);
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    cmd::<String>(&mut conn, &["SET", "user:old", "before"]);
    let json = r#"{"connector.class":"com.redis.kafka.connect.RedisKeysSourceConnector","redis.keys.pattern":"user:*","topic":"users","mode":"LIVEONLY"}"#;
    let reply: String = cmd(
        &mut conn,
        &["KAFKA.SOURCE.IMPORT", "users", json, "BROKERS", &b],
    );
    assert_eq!(reply, "OK");
    wait_until("keys source running", DEADLINE, || {
        status_field::<String>(&mut conn, "users", "state") == "running"
    });
    cmd::<String>(&mut conn, &["SET", "user:1", "ann"]);
    let received = consume(&b, "users", 1);
    assert_eq!(received[0].key.as_deref(), Some(&b"user:1"[..]));
    assert_eq!(received[0].value.as_deref(), Some(&b"ann"[..]));
    let entry = listed(&mut conn, "KAFKA.SOURCE.LIST", "users").unwrap();
    assert_eq!(text(&entry, "keys"), "user:*");
    // LIVEONLY: no snapshot of the keys already there.
    assert_eq!(text(&entry, "snapshot"), "NO");
}

#[test]
fn dry_run_replies_with_the_create_and_creates_nothing() {
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let json = sink_config(&[
        ("topics", "orders"),
        ("redis.type", "HASH"),
        ("redis.keyspace", "order"),
        ("errors.tolerance", "all"),
        ("errors.deadletterqueue.topic.name", "orders-dlq"),
        ("consumer.override.sasl.password", "hunter2"),
    ]);
    let shown: Vec<String> = cmd(
        &mut conn,
        &[
            "KAFKA.SINK.IMPORT",
            "orders",
            &json,
            "BROKERS",
            "127.0.0.1:1",
            "DRYRUN",
        ],
    );
    assert_eq!(
        shown.join(" "),
        "KAFKA.SINK.CREATE orders TOPICS orders TYPE HASH KEY order:${key} ON-ERROR DLQ orders-dlq \
         CONFIG heartbeat.interval.ms 500 \
         CONFIG sasl.password (redacted) CONFIG session.timeout.ms 6000 BROKERS 127.0.0.1:1"
    );
    nothing_created(&mut conn);
}

#[test]
fn refusals_name_the_property_and_create_nothing() {
    let redis = RedisServer::start_with(ServerOptions {
        module_args: vec!["kafka.brokers".into(), "127.0.0.1:1".into()],
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    let stream_source = r#"{"connector.class":"com.redis.kafka.connect.RedisStreamSourceConnector","redis.stream.name":"s"}"#;
    for (command, json, expected) in [
        (
            "KAFKA.SINK.IMPORT",
            sink_config(&[("topics", "t"), ("redis.flavour", "x")]),
            "ERR property 'redis.flavour' has no equivalent in redis-kafka: ",
        ),
        (
            "KAFKA.SINK.IMPORT",
            sink_config(&[("topics", "t"), ("transforms", "unwrap"), ("transforms.unwrap.type", "x")]),
            "ERR property 'transforms' has no equivalent in redis-kafka: single message transforms",
        ),
        (
            "KAFKA.SINK.IMPORT",
            sink_config(&[("topics", "t"), ("redis.type", "TIMESERIES")]),
            "ERR property 'redis.type' has no equivalent in redis-kafka: ",
        ),
        (
            "KAFKA.SINK.IMPORT",
            sink_config(&[("topics", "t"), ("redis.uri", "redis://redis:6379/2")]),
            "ERR property 'redis.uri' has no equivalent in redis-kafka: it names database '2'",
        ),
        (
            "KAFKA.SINK.IMPORT",
            sink_config(&[("topics", "t"), ("value.converter", JSON_CONVERTER)]),
            "ERR property 'value.converter' has no equivalent in redis-kafka: JsonConverter with schemas.enable=true",
        ),
        ("KAFKA.SINK.IMPORT", "{\"topics\":".to_string(), "ERR the connector config is not valid JSON"),
        ("KAFKA.SINK.IMPORT", "[1,2]".to_string(), "ERR the connector config must be a JSON object, got an array"),
        (
            "KAFKA.SINK.IMPORT",
            format!(r#"{{"connector.class":"{SINK}","topics":{{"a":1}}}}"#),
            "ERR property 'topics' must be a string",
        ),
        (
            "KAFKA.SINK.IMPORT",
            format!(r#"{{"connector.class":"{SINK}","topics":"a","topics":"b"}}"#),
            "ERR the connector config is not valid JSON: property 'topics' given twice",
        ),
        (
            "KAFKA.SINK.IMPORT",
            r#"{"connector.class":"io.confluent.connect.jdbc.JdbcSinkConnector","topics":"t"}"#.to_string(),
            "ERR unknown connector.class 'io.confluent.connect.jdbc.JdbcSinkConnector'",
        ),
        ("KAFKA.SINK.IMPORT", stream_source.to_string(), "ERR connector.class 'com.redis.kafka.connect.RedisStreamSourceConnector' is a source connector: use KAFKA.SOURCE.IMPORT"),
        (
            "KAFKA.SOURCE.IMPORT",
            sink_config(&[("topics", "t")]),
            "ERR connector.class 'com.redis.kafka.connect.RedisSinkConnector' is a sink connector: use KAFKA.SINK.IMPORT",
        ),
        (
            "KAFKA.SINK.IMPORT",
            sink_config(&[("topics", "t"), ("redis.key.ttl", "99999999999")]),
            "ERR in the KAFKA.SINK.CREATE this IMPORT makes: TTL must be",
        ),
    ] {
        let error = cmd_err(&mut conn, &[command, "b", &json]);
        assert!(error.starts_with(expected), "{json}\n  got: {error}\n  expected: {expected}");
    }
    // Bytes that are not UTF-8, as redis-cli can send them.
    let error = redis::cmd("KAFKA.SINK.IMPORT")
        .arg("b")
        .arg(&b"{\"topics\":\"\xff\"}"[..])
        .query::<Value>(&mut conn)
        .unwrap_err();
    assert!(error.to_string().contains("must be UTF-8 JSON"), "{error}");
    assert!(cmd_err(&mut conn, &["KAFKA.SINK.IMPORT", "b"])
        .starts_with("ERR missing connector config JSON"));
    nothing_created(&mut conn);
    // A name already taken is refused as CREATE refuses it.
    cmd::<String>(&mut conn, &["KAFKA.SOURCE.IMPORT", "taken", stream_source]);
    let error = cmd_err(
        &mut conn,
        &[
            "KAFKA.SINK.IMPORT",
            "taken",
            &sink_config(&[("topics", "t")]),
        ],
    );
    assert!(error.contains("already exists"), "{error}");
}

#[test]
fn import_is_administrative_and_keeps_the_config_out_of_slowlog() {
    let (redis, mut admin) = server_with_app_user();
    let json = sink_config(&[("topics", "t"), ("redis.password", "hunter2")]);
    let mut app = redis.conn();
    cmd::<String>(&mut app, &["AUTH", "app", "pw"]);
    for args in [
        &["KAFKA.SINK.IMPORT", "s", json.as_str()][..],
        &["KAFKA.SINK.IMPORT", "s", json.as_str(), "DRYRUN"],
        &[
            "KAFKA.SOURCE.IMPORT",
            "s",
            r#"{"connector.class":"RedisStreamSourceConnector","redis.stream.name":"x"}"#,
        ],
    ] {
        let error = cmd_err(&mut app, args);
        assert!(error.starts_with("NOPERM"), "{args:?}: {error}");
    }
    nothing_created(&mut admin);
    cmd::<String>(
        &mut admin,
        &["CONFIG", "SET", "slowlog-log-slower-than", "0"],
    );
    assert_eq!(
        cmd::<String>(&mut admin, &["KAFKA.SINK.IMPORT", "s", &json]),
        "OK"
    );
    let slowlog: Value = cmd(&mut admin, &["SLOWLOG", "GET", "100"]);
    let text = format!("{slowlog:?}");
    assert!(text.contains("KAFKA.SINK.IMPORT"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}
