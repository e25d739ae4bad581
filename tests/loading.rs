//! The module loads where we promise (Redis 7.0 by MODULE LOAD and loadmodule, Valkey 8), takes
//! its configuration, and leaves nothing behind on MODULE UNLOAD and SHUTDOWN.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn module_load_and_unload_with_a_running_sink_leaves_no_thread() {
    let kafka = MockKafka::new();
    kafka.create_topic("t", 2);
    produce(&kafka.bootstrap(), "t", &[Rec::kv("a", "1")]);
    let redis = RedisServer::start_with(ServerOptions {
        module: false,
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    let baseline = redis.threads();
    let names = redis.thread_names();
    let path = module_path().display().to_string();
    for round in 0..2 {
        assert_eq!(cmd::<String>(&mut conn, &["MODULE", "LOAD", &path]), "OK");
        let bootstrap = kafka.bootstrap();
        let name = format!("s{round}");
        cmd::<String>(
            &mut conn,
            &[
                "KAFKA.SINK.CREATE",
                &name,
                "TOPICS",
                "t",
                "BROKERS",
                &bootstrap,
            ],
        );
        cmd::<(i64, i64)>(
            &mut conn,
            &["KAFKA.PRODUCE", "t", "v", "KEY", "p", "BROKERS", &bootstrap],
        );
        wait_until("sink applied records", DEADLINE, || {
            cmd::<i64>(&mut conn, &["EXISTS", "t:a", "t:p"]) == 2
        });
        assert!(redis.threads() > baseline);
        assert_eq!(
            cmd::<String>(&mut conn, &["MODULE", "UNLOAD", "kafka"]),
            "OK"
        );
        let deadline = std::time::Instant::now() + DEADLINE;
        while redis.threads() != baseline {
            assert!(
                std::time::Instant::now() < deadline,
                "threads not back to baseline {names:?}: {:?}",
                redis.thread_names()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert_eq!(cmd::<String>(&mut conn, &["PING"]), "PONG");
        cmd::<i64>(
            &mut conn,
            &["DEL", "t:a", "t:p", &format!("__kafka:offsets:{name}")],
        );
    }
}

#[test]
fn loadmodule_in_config_file_with_kafka_settings() {
    let redis = RedisServer::start_with(ServerOptions {
        module: false,
        config_lines: vec![
            format!("loadmodule {}", module_path().display()),
            "kafka.brokers 127.0.0.1:19092".into(),
            "kafka.slice-max-records 250".into(),
        ],
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    let brokers: Vec<String> = cmd(&mut conn, &["CONFIG", "GET", "kafka.brokers"]);
    assert_eq!(brokers, vec!["kafka.brokers", "127.0.0.1:19092"]);
    let slice: Vec<String> = cmd(&mut conn, &["CONFIG", "GET", "kafka.slice-max-records"]);
    assert_eq!(slice[1], "250");
}

/// Settings are declared once: loadmodule arguments, redis.conf and CONFIG SET share their
/// parsers (memory units included), redis.conf wins over arguments, and every one is listed.
#[test]
fn every_setting_reads_the_same_from_arguments_config_file_and_config_set() {
    let redis = RedisServer::start_with(ServerOptions {
        module: false,
        config_lines: vec![
            format!(
                "loadmodule {} kafka.slice-max-bytes 8mb kafka.log-level DEBUG kafka.slice-max-records 7",
                module_path().display()
            ),
            "kafka.slice-max-records 9".into(),
        ],
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    let get = |conn: &mut redis::Connection, name: &str| -> String {
        let pair: Vec<String> = cmd(conn, &["CONFIG", "GET", name]);
        pair[1].clone()
    };
    assert_eq!(
        get(&mut conn, "kafka.slice-max-bytes"),
        (8 << 20).to_string()
    );
    assert_eq!(get(&mut conn, "kafka.log-level"), "debug");
    assert_eq!(get(&mut conn, "kafka.slice-max-records"), "9");
    assert_eq!(get(&mut conn, "kafka.client-id"), "redis-kafka");
    cmd::<String>(
        &mut conn,
        &["CONFIG", "SET", "kafka.sink-batch-max-bytes", "2gb"],
    );
    assert_eq!(
        get(&mut conn, "kafka.sink-batch-max-bytes"),
        (2u64 << 30).to_string()
    );
    let error = cmd_err(&mut conn, &["CONFIG", "SET", "kafka.brokers", "nohost"]);
    assert!(error.contains("is not host:port"), "{error}");
    let error = cmd_err(&mut conn, &["CONFIG", "SET", "kafka.debug-command", "yes"]);
    assert!(error.starts_with("ERR"), "{error}");
    let all: Vec<String> = cmd(&mut conn, &["CONFIG", "GET", "kafka.*"]);
    let names: Vec<&String> = all.iter().step_by(2).collect();
    assert_eq!(names.len(), 13, "{names:?}");
}

fn flatten(value: &redis::Value, out: &mut Vec<String>) {
    match value {
        redis::Value::BulkString(bytes) => out.push(String::from_utf8_lossy(bytes).into_owned()),
        redis::Value::SimpleString(text) => out.push(text.clone()),
        redis::Value::Int(n) => out.push(n.to_string()),
        redis::Value::Array(items) | redis::Value::Set(items) => {
            items.iter().for_each(|item| flatten(item, out))
        }
        redis::Value::Map(pairs) => pairs.iter().for_each(|(k, v)| {
            flatten(k, out);
            flatten(v, out);
        }),
        _ => {}
    }
}

/// Commands are declared once with their docs: COMMAND DOCS and COMMAND INFO show them, and
/// the handlers' own argument errors stay (arity is not enforced by Redis).
#[test]
fn commands_carry_their_docs() {
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let docs: redis::Value = cmd(
        &mut conn,
        &["COMMAND", "DOCS", "kafka.sink.create", "kafka.status"],
    );
    let mut words = Vec::new();
    flatten(&docs, &mut words);
    assert!(
        words
            .iter()
            .any(|w| w.starts_with("Creates a sink: Kafka topics to Redis keys")),
        "{words:?}"
    );
    assert!(
        words.iter().any(|w| w.starts_with("Shows the state")),
        "{words:?}"
    );
    assert!(
        words.iter().any(|w| w == "kafka"),
        "module named: {words:?}"
    );
    let count: i64 = cmd(&mut conn, &["COMMAND", "COUNT"]);
    let mut names = Vec::new();
    flatten(
        &cmd::<redis::Value>(
            &mut conn,
            &["COMMAND", "LIST", "FILTERBY", "MODULE", "kafka"],
        ),
        &mut names,
    );
    assert_eq!(names.len(), 19, "{names:?} of {count}");
    let error = cmd_err(&mut conn, &["KAFKA.SINK.CREATE"]);
    assert_eq!(error, "ERR missing sink name");
}

#[test]
fn module_arguments_and_config_set() {
    let redis = RedisServer::start_with(ServerOptions {
        module_args: vec![
            "kafka.brokers".into(),
            "127.0.0.1:1".into(),
            "embedded-broker".into(),
            "no".into(),
        ],
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    let brokers: Vec<String> = cmd(&mut conn, &["CONFIG", "GET", "kafka.brokers"]);
    assert_eq!(brokers[1], "127.0.0.1:1");
    cmd::<String>(
        &mut conn,
        &["CONFIG", "SET", "kafka.brokers", "127.0.0.1:2"],
    );
    let brokers: Vec<String> = cmd(&mut conn, &["CONFIG", "GET", "kafka.brokers"]);
    assert_eq!(brokers[1], "127.0.0.1:2");
    cmd::<String>(&mut conn, &["KAFKA.SINK.CREATE", "s", "TOPICS", "t"]);
    assert_eq!(
        status_field::<String>(&mut conn, "s", "brokers"),
        "127.0.0.1:2"
    );
    let error = cmd_err(
        &mut conn,
        &["CONFIG", "SET", "kafka.slice-max-records", "0"],
    );
    assert!(error.starts_with("ERR"), "{error}");
    let error = cmd_err(
        &mut conn,
        &["CONFIG", "SET", "kafka.embedded-broker", "maybe"],
    );
    assert!(error.starts_with("ERR"), "{error}");
    let error = cmd_err(&mut conn, &["CONFIG", "SET", "kafka.log-level", "loud"]);
    assert!(error.starts_with("ERR"), "{error}");
}

#[test]
fn unknown_module_argument_refuses_to_load_with_a_reason() {
    let log = RedisServer::start_expecting_exit(ServerOptions {
        module_args: vec!["kafka.bogus".into(), "1".into()],
        ..ServerOptions::default()
    });
    assert!(
        log.contains("unknown module argument 'kafka.bogus'"),
        "{log}"
    );
}

#[test]
fn shutdown_with_running_sink_exits_promptly() {
    let kafka = MockKafka::new();
    kafka.create_topic("t", 1);
    let mut redis = RedisServer::start();
    let mut conn = redis.conn();
    let bootstrap = kafka.bootstrap();
    cmd::<String>(
        &mut conn,
        &[
            "KAFKA.SINK.CREATE",
            "s",
            "TOPICS",
            "t",
            "BROKERS",
            &bootstrap,
        ],
    );
    produce(&bootstrap, "t", &[Rec::kv("a", "1")]);
    wait_until("record applied", DEADLINE, || {
        cmd::<i64>(&mut conn, &["EXISTS", "t:a"]) == 1
    });
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<()>(&mut conn);
    assert!(
        redis.wait_exit(Duration::from_secs(15)),
        "redis-server did not exit"
    );
    assert!(redis.log().contains("ready to exit"), "{}", redis.log());
}

#[test]
fn valkey_runs_a_sink() {
    let kafka = MockKafka::new();
    kafka.create_topic("vk", 2);
    produce(
        &kafka.bootstrap(),
        "vk",
        &(0..50)
            .map(|i| Rec::kv(&format!("k{i}"), &format!(r#"{{"i":{i}}}"#)))
            .collect::<Vec<_>>(),
    );
    let redis = RedisServer::start_with(ServerOptions {
        binary: valkey_server(),
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    let bootstrap = kafka.bootstrap();
    cmd::<String>(
        &mut conn,
        &[
            "KAFKA.SINK.CREATE",
            "vk",
            "TOPICS",
            "vk",
            "TYPE",
            "HASH",
            "BROKERS",
            &bootstrap,
        ],
    );
    wait_until("50 hashes", DEADLINE, || {
        status_field::<i64>(&mut conn, "vk", "records") == 50
    });
    assert_eq!(cmd::<String>(&mut conn, &["HGET", "vk:k7", "i"]), "7");
    let (partition, _offset): (i64, i64) = cmd(
        &mut conn,
        &[
            "KAFKA.PRODUCE",
            "vk",
            r#"{"i":99}"#,
            "KEY",
            "k99",
            "BROKERS",
            &bootstrap,
        ],
    );
    assert!((0..2).contains(&partition));
    wait_until("produced record applied", DEADLINE, || {
        cmd::<i64>(&mut conn, &["EXISTS", "vk:k99"]) == 1
    });
    // A source on Valkey: XADD notifications wake it, entries reach Kafka in order.
    cmd::<String>(
        &mut conn,
        &[
            "KAFKA.SOURCE.CREATE",
            "vs",
            "STREAMS",
            "vs:*",
            "TOPIC",
            "vs-out",
            "BROKERS",
            &bootstrap,
        ],
    );
    for n in 0..20 {
        cmd::<String>(&mut conn, &["XADD", "vs:1", "*", "n", &n.to_string()]);
    }
    wait_until("20 forwarded", DEADLINE, || {
        status_field::<i64>(&mut conn, "vs", "records") == 20
    });
    let forwarded: Vec<String> = consume(&kafka.bootstrap(), "vs-out", 20)
        .iter()
        .map(|m| String::from_utf8_lossy(m.value.as_deref().unwrap_or_default()).to_string())
        .collect();
    assert_eq!(forwarded[0], r#"{"n":"0"}"#);
    assert_eq!(forwarded[19], r#"{"n":"19"}"#);
    assert_eq!(
        cmd::<String>(&mut conn, &["MODULE", "UNLOAD", "kafka"]),
        "OK"
    );
    assert_eq!(cmd::<String>(&mut conn, &["PING"]), "PONG");
}

#[test]
fn embedded_broker_runs_the_seed_scenario_without_any_kafka() {
    let redis = RedisServer::start_with(ServerOptions {
        module_args: vec!["kafka.embedded-broker".into(), "yes".into()],
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    cmd::<String>(
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
    let _: (i64, i64) = cmd(
        &mut conn,
        &[
            "KAFKA.PRODUCE",
            "pageviews",
            r#"{"userid":1451,"url":"/home"}"#,
            "KEY",
            "1451",
        ],
    );
    wait_until("pageviews:1451", DEADLINE, || {
        cmd::<i64>(&mut conn, &["EXISTS", "pageviews:1451"]) == 1
    });
    let doc: String = cmd(&mut conn, &["JSON.GET", "pageviews:1451"]);
    assert_eq!(doc, r#"{"userid":1451,"url":"/home"}"#);
    assert_eq!(
        status_field::<String>(&mut conn, "pageviews", "embedded_broker"),
        "yes"
    );
    let brokers: String = status_field(&mut conn, "pageviews", "brokers");
    assert!(brokers.starts_with("127.0.0.1:"), "{brokers}");
}
