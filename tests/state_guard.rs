//! Module state (`__kafka:*` keys) is written only by the module: no client, script,
//! transaction, key-copying command or sink record can create, change or remove it, whatever
//! its ACL permissions. State written while the module was not loaded (by hand, or by an older
//! version) is read defensively: reported, never a crash or a stall.

mod common;

use common::*;
use redis::{Connection, Value};
use std::time::{Duration, Instant};

fn options(binary: std::path::PathBuf) -> ServerOptions {
    ServerOptions {
        binary,
        module_args: vec!["kafka.brokers".into(), "127.0.0.1:1".into()],
        ..ServerOptions::default()
    }
}

fn refused(conn: &mut Connection, args: &[&str]) {
    let error = cmd_err(conn, args);
    assert!(
        error.contains("__kafka:") && error.starts_with("ERR"),
        "{args:?}: {error}"
    );
}

fn app_user(admin: &mut Connection, redis: &RedisServer) -> Connection {
    cmd::<String>(
        admin,
        &[
            "ACL", "SETUSER", "app", "on", ">pw", "~*", "&*", "+@all", "-@admin",
        ],
    );
    let mut app = redis.conn();
    cmd::<String>(&mut app, &["AUTH", "app", "pw"]);
    app
}

/// Every route to the reserved keys a user with write access has, for a user with `-@admin`
/// and for the default (all-powerful) user alike.
fn no_client_can_write_module_state(binary: std::path::PathBuf) {
    let redis = RedisServer::start_with(options(binary));
    let mut admin = redis.conn();
    cmd::<String>(&mut admin, &["KAFKA.SINK.CREATE", "legit", "TOPICS", "t"]);
    let mut app = app_user(&mut admin, &redis);
    for conn in [&mut app, &mut admin] {
        // Helpers a forger would copy from.
        cmd::<i64>(
            conn,
            &[
                "HSET",
                "tmp",
                "kind",
                "source",
                "args",
                r#"["STREAMS","*"]"#,
            ],
        );
        cmd::<i64>(conn, &["SADD", "tmpset", "evil"]);
        let dump: Vec<u8> = redis::cmd("DUMP").arg("tmp").query(conn).unwrap();
        let forged_args = r#"["STREAMS","*","BROKERS","127.0.0.1:9"]"#;
        refused(
            conn,
            &[
                "HSET",
                "__kafka:bridge:evil",
                "kind",
                "source",
                "args",
                forged_args,
                "created_ms",
                "1",
                "paused",
                "0",
            ],
        );
        refused(conn, &["SADD", "__kafka:bridges", "evil"]);
        refused(conn, &["HSET", "__kafka:bridge:legit", "paused", "1"]);
        refused(conn, &["HSET", "__kafka:offsets:legit", "t:0", "999999"]);
        refused(conn, &["DEL", "__kafka:bridge:legit"]);
        refused(conn, &["UNLINK", "__kafka:bridges"]);
        refused(conn, &["EXPIRE", "__kafka:bridges", "1"]);
        refused(conn, &["RENAME", "tmp", "__kafka:bridge:evil"]);
        refused(conn, &["RENAME", "__kafka:bridges", "stolen"]);
        refused(conn, &["COPY", "tmp", "__kafka:bridge:evil"]);
        refused(conn, &["SUNIONSTORE", "__kafka:bridges", "tmpset"]);
        refused(
            conn,
            &["SORT", "tmpset", "ALPHA", "STORE", "__kafka:bridges"],
        );
        refused(conn, &["MOVE", "__kafka:bridges", "3"]);
        let error = redis::cmd("RESTORE")
            .arg("__kafka:bridge:evil")
            .arg(0)
            .arg(dump.as_slice())
            .query::<Value>(conn)
            .expect_err("RESTORE refused");
        assert!(format!("{error:?}").contains("__kafka:"), "{error:?}");
        // In a transaction: refused inside EXEC, the rest of the transaction is unaffected.
        let replies: Vec<Value> = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg("plain")
            .arg("1")
            .cmd("SADD")
            .arg("__kafka:bridges")
            .arg("evil")
            .query(conn)
            .unwrap_or_default();
        assert!(
            replies.is_empty() || matches!(replies[0], Value::Okay),
            "{replies:?}"
        );
        // From scripts, with the key declared or computed inside the script.
        let error = cmd_err(
            conn,
            &[
                "EVAL",
                "return redis.call('SADD', KEYS[1], 'evil')",
                "1",
                "__kafka:bridges",
            ],
        );
        assert!(error.contains("__kafka:"), "{error}");
        let error = cmd_err(
            conn,
            &[
                "EVAL",
                "return redis.call('SADD', '__kafka:' .. 'bridges', 'evil')",
                "0",
            ],
        );
        assert!(error.contains("__kafka:"), "{error}");
        let _ = try_cmd::<Value>(
            conn,
            &[
                "FUNCTION", "LOAD", "REPLACE",
                "#!lua name=forge\nredis.register_function('forge', function() return redis.call('SADD', '__kafka:bridges', 'evil') end)",
            ],
        );
        let error = cmd_err(conn, &["FCALL", "forge", "0"]);
        assert!(error.contains("__kafka:"), "{error}");
        // Other databases too: state could be swapped into database 0.
        cmd::<String>(conn, &["SELECT", "5"]);
        refused(conn, &["SADD", "__kafka:bridges", "evil"]);
        cmd::<String>(conn, &["SELECT", "0"]);
    }
    // Reads stay possible, the state is intact, and no forged bridge exists.
    assert_eq!(
        cmd::<Vec<String>>(&mut admin, &["SMEMBERS", "__kafka:bridges"]),
        vec!["legit".to_string()]
    );
    assert_eq!(
        cmd::<i64>(&mut admin, &["EXISTS", "__kafka:bridge:evil"]),
        0
    );
    assert_eq!(
        cmd::<i64>(&mut admin, &["EXISTS", "__kafka:offsets:legit"]),
        0
    );
    assert!(cmd_err(&mut admin, &["KAFKA.STATUS", "evil"]).starts_with("ERR"));
    assert_eq!(status_field::<String>(&mut admin, "legit", "name"), "legit");
    // The module's own commands still work, and PURGE removes what the module stored.
    cmd::<String>(&mut admin, &["KAFKA.SINK.PAUSE", "legit"]);
    cmd::<String>(&mut admin, &["KAFKA.SINK.DELETE", "legit", "PURGE"]);
    assert_eq!(
        cmd::<i64>(&mut admin, &["EXISTS", "__kafka:bridge:legit"]),
        0
    );
}

#[test]
fn no_client_can_write_module_state_redis() {
    no_client_can_write_module_state(redis_server());
}

#[test]
fn no_client_can_write_module_state_valkey() {
    no_client_can_write_module_state(valkey_server());
}

#[test]
fn no_client_can_write_module_state_redis74() {
    no_client_can_write_module_state(redis_7_4_server());
}

#[test]
fn a_sink_record_cannot_write_module_state() {
    let kafka = MockKafka::new();
    kafka.create_topic("keys", 1);
    produce(
        &kafka.bootstrap(),
        "keys",
        &[
            Rec::kv("__kafka:bridges", "evil"),
            Rec::kv("__kafka:bridge:evil", "x"),
            Rec::tombstone("__kafka:bridges"),
            Rec::kv("__kafka:offsets:mirror", "1"),
            Rec::kv("fine", "ok"),
        ],
    );
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "mirror",
        &["TOPICS", "keys", "KEY", "${key}", "ON-ERROR", "SKIP"],
    );
    wait_until("all five records passed", DEADLINE, || {
        status_field::<i64>(&mut conn, "mirror", "errors")
            + status_field::<i64>(&mut conn, "mirror", "records")
            == 5
    });
    assert_eq!(status_field::<i64>(&mut conn, "mirror", "errors"), 4);
    assert_eq!(cmd::<String>(&mut conn, &["GET", "fine"]), "ok");
    assert_eq!(
        cmd::<Vec<String>>(&mut conn, &["SMEMBERS", "__kafka:bridges"]),
        vec!["mirror".to_string()]
    );
    assert_eq!(cmd::<i64>(&mut conn, &["EXISTS", "__kafka:bridge:evil"]), 0);
    let error: String = status_field(&mut conn, "mirror", "last_error");
    assert!(error.contains("reserved"), "{error}");
}

/// Writes `args` with the module absent; `restart_with_module(true)` then loads them with it.
fn write_raw(conn: &mut Connection, args: &[&[u8]]) {
    let mut command = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for arg in &args[1..] {
        command.arg(*arg);
    }
    command.query::<Value>(conn).unwrap();
}

#[test]
fn hostile_state_written_while_the_module_was_absent_is_reported_not_fatal() {
    let mut redis = RedisServer::start_with(ServerOptions {
        module: false,
        extra: vec!["--appendonly".into(), "yes".into()],
        ..options(redis_server())
    });
    let mut conn = redis.conn();
    let huge_args = format!("[{}]", vec!["\"x\""; 2_000_000].join(","));
    let cases: Vec<Vec<&[u8]>> = vec![
        vec![
            b"SADD",
            b"__kafka:bridges",
            b"a\x00",
            "\u{600}".as_bytes(),
            b"missing",
        ],
        vec![
            b"SADD",
            b"__kafka:bridges",
            b"wrongtype",
            b"badjson",
            b"huge",
            b"nokind",
        ],
        vec![b"SADD", b"__kafka:bridges", b"nulargs", b"x\r\nINJECTED"],
        vec![
            b"HSET",
            b"__kafka:bridge:a\x00",
            b"kind",
            b"sink",
            b"args",
            b"[\"TOPICS\",\"t\"]",
        ],
        vec![
            b"HSET",
            "__kafka:bridge:\u{600}".as_bytes(),
            b"kind",
            b"sink",
            b"args",
            b"[]",
        ],
        vec![b"SET", b"__kafka:bridge:wrongtype", b"sink"],
        vec![
            b"HSET",
            b"__kafka:bridge:badjson",
            b"kind",
            b"sink",
            b"args",
            b"{",
        ],
        vec![
            b"HSET",
            b"__kafka:bridge:huge",
            b"kind",
            b"sink",
            b"args",
            huge_args.as_bytes(),
        ],
        vec![b"HSET", b"__kafka:bridge:nokind", b"args", b"[]"],
        vec![
            b"HSET",
            b"__kafka:bridge:nulargs",
            b"kind",
            b"sink",
            b"args",
            b"[\"TOPICS\",\"t\\u0000\",\"KEY\",\"\\u0600\"]",
        ],
    ];
    for case in &cases {
        write_raw(&mut conn, case);
    }
    // A definition hash with a million fields.
    for chunk in 0..10 {
        let mut command = redis::cmd("HSET");
        command.arg("__kafka:bridge:missing");
        for i in 0..100_000 {
            command.arg(format!("f{chunk}-{i}")).arg("v");
        }
        command.query::<i64>(&mut conn).unwrap();
    }
    redis.restart_with_module(true);
    let mut conn = redis.conn();
    // Every broken definition is listed as failed with a reason, promptly.
    wait_until("broken definitions reported", DEADLINE, || {
        cmd::<String>(&mut conn, &["INFO", "kafka"]).contains("kafka_invalid_definitions:9")
    });
    for name in [
        "wrongtype",
        "badjson",
        "huge",
        "nokind",
        "missing",
        "nulargs",
    ] {
        let error: String = status_field(&mut conn, name, "last_error");
        assert!(error.contains("invalid definition"), "{name}: {error}");
    }
    let all: Vec<Value> = cmd(&mut conn, &["KAFKA.STATUS"]);
    assert_eq!(all.len(), 9, "{all:?}");
    let log = redis.log();
    assert!(log.contains("bridge 'badjson'"), "{log}");
    assert!(
        !log.contains("INJECTED\n"),
        "a CR/LF in a name split a log line"
    );
    assert_eq!(cmd::<String>(&mut conn, &["PING"]), "PONG");
    // And the same again straight from the AOF at the next start.
    redis.restart();
    let mut conn = redis.conn();
    wait_until("reported again after restart", DEADLINE, || {
        cmd::<String>(&mut conn, &["INFO", "kafka"]).contains("kafka_invalid_definitions:9")
    });
}

#[test]
fn too_many_stored_bridges_do_not_stall_startup() {
    let mut redis = RedisServer::start_with(ServerOptions {
        module: false,
        ..options(redis_server())
    });
    let mut conn = redis.conn();
    for chunk in 0..20 {
        let mut command = redis::cmd("SADD");
        command.arg("__kafka:bridges");
        for i in 0..10_000 {
            command.arg(format!("b{chunk}-{i}"));
        }
        command.query::<i64>(&mut conn).unwrap();
    }
    cmd::<String>(&mut conn, &["SAVE"]);
    redis.restart_with_module(true);
    let mut conn = redis.conn();
    // Redis keeps answering while the module looks at its (200,000) stored names.
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    while started.elapsed() < Duration::from_secs(3) {
        let sent = Instant::now();
        cmd::<String>(&mut conn, &["PING"]);
        slowest = slowest.max(sent.elapsed());
    }
    assert!(
        slowest < Duration::from_millis(500),
        "PING took {slowest:?}"
    );
    let info: String = cmd(&mut conn, &["INFO", "kafka"]);
    assert!(info.contains("kafka_stored_bridges:200000"), "{info}");
    let line = info
        .lines()
        .find(|l| l.starts_with("kafka_state_error:"))
        .unwrap_or_else(|| panic!("{info}"));
    assert!(line.contains("too many"), "{line}");
}

/// A sink `s` on topic `t` (5 records) created over offsets written by `plant` while the module
/// was absent; returns once the sink failed, with its last error.
fn sink_over_planted_offsets(
    plant: &[&str],
) -> (MockKafka, RedisServer, redis::Connection, String) {
    let kafka = MockKafka::new();
    kafka.create_topic("t", 1);
    produce(&kafka.bootstrap(), "t", &numbered(0, 5, 5));
    let mut redis = RedisServer::start_with(ServerOptions {
        module: false,
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    cmd::<redis::Value>(&mut conn, plant);
    cmd::<String>(&mut conn, &["SAVE"]);
    redis.restart_with_module(true);
    let mut conn = redis.conn();
    create_sink(&mut conn, &kafka.bootstrap(), "s", &["TOPICS", "t"]);
    wait_until("sink failed", DEADLINE, || {
        status_field::<String>(&mut conn, "s", "state") == "failed"
    });
    let error: String = status_field(&mut conn, "s", "last_error");
    (kafka, redis, conn, error)
}

#[test]
fn unreadable_stored_offsets_fail_the_sink_instead_of_starting_over() {
    let (kafka, _redis, mut conn, error) =
        sink_over_planted_offsets(&["HSET", "__kafka:offsets:s", "t:0", "garbage"]);
    assert!(
        error.contains("__kafka:offsets:s") && error.contains("t:0") && error.contains("garbage"),
        "{error}"
    );
    assert_eq!(
        cmd::<i64>(&mut conn, &["EXISTS", "t:k0"]),
        0,
        "nothing re-applied"
    );
    // DELETE PURGE then CREATE is the way out: the sink starts from START again.
    cmd::<String>(&mut conn, &["KAFKA.SINK.DELETE", "s", "PURGE"]);
    create_sink(&mut conn, &kafka.bootstrap(), "s", &["TOPICS", "t"]);
    wait_until("5 records", DEADLINE, || {
        status_field::<i64>(&mut conn, "s", "records") == 5
    });
}

#[test]
fn wrong_type_offsets_key_fails_the_sink_clearly() {
    let (_kafka, _redis, mut conn, error) =
        sink_over_planted_offsets(&["SET", "__kafka:offsets:s", "x"]);
    assert!(error.contains("__kafka:offsets:s"), "{error}");
    assert_eq!(cmd::<i64>(&mut conn, &["EXISTS", "t:k0"]), 0);
}
