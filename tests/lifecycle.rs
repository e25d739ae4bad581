//! Bridges are part of the dataset: they survive crashes and restarts (AOF, RDB), follow
//! replication and failover, leave nothing behind on FLUSHALL, and keep secrets out of sight.

mod common;

use common::*;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

// Restarts, failover and ACL on Redis 7.0, Redis 7.4 and Valkey 8.1.
on_every_server!(
    rdb_restart_brings_sinks_and_sources_back_with_their_progress,
    replica_keeps_bridges_idle_and_takes_over_exactly_once_when_promoted,
    acl_users_without_admin_get_noperm_for_bridge_changes,
);

fn persistent(extra: &[&str]) -> ServerOptions {
    on(redis_server(), extra)
}

fn on(binary: PathBuf, extra: &[&str]) -> ServerOptions {
    ServerOptions {
        binary,
        module_args: vec!["kafka.slice-max-records".into(), "50".into()],
        extra: extra.iter().map(|s| s.to_string()).collect(),
        ..ServerOptions::default()
    }
}

#[test]
fn kill_9_with_aof_always_then_restart_finishes_exactly_once() {
    let kafka = MockKafka::new();
    kafka.create_topic("crash", 4);
    produce(&kafka.bootstrap(), "crash", &numbered(0, 20_000, 31));
    let mut redis = RedisServer::start_with(persistent(&[
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ]));
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "crash",
        &["TOPICS", "crash", "TYPE", "STREAM"],
    );
    wait_until("sink under way", DEADLINE, || {
        stored_total(&mut conn, "crash") > 2000
    });
    redis.kill9();
    redis.restart();
    let mut conn = redis.conn();
    let resumed_from = stored_total(&mut conn, "crash");
    assert!(
        resumed_from < 20_000,
        "the crash came too late to prove anything"
    );
    wait_until("sink back by itself", DEADLINE, || {
        status_field::<String>(&mut conn, "crash", "state") != "stopped"
    });
    wait_until("all 20000 stored", Duration::from_secs(120), || {
        stored_total(&mut conn, "crash") == 20_000
    });
    assert_exactly_once(&mut conn, "crash", 20_000);
}

fn rdb_restart_brings_sinks_and_sources_back_with_their_progress(binary: PathBuf) {
    let kafka = MockKafka::new();
    kafka.create_topic("rdb", 2);
    produce(&kafka.bootstrap(), "rdb", &numbered(0, 500, 31));
    let mut redis = RedisServer::start_with(on(binary, &[]));
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "rdb",
        &["TOPICS", "rdb", "TYPE", "STREAM"],
    );
    let b = kafka.bootstrap();
    cmd::<String>(
        &mut conn,
        &[
            "KAFKA.SOURCE.CREATE",
            "out",
            "STREAMS",
            "rdb",
            "TOPIC",
            "rdb-out",
            "BROKERS",
            &b,
        ],
    );
    cmd::<String>(
        &mut conn,
        &["KAFKA.SINK.CREATE", "idle", "TOPICS", "rdb", "BROKERS", &b],
    );
    cmd::<String>(&mut conn, &["KAFKA.SINK.PAUSE", "idle"]);
    wait_until("500 applied and forwarded", DEADLINE, || {
        stored_total(&mut conn, "rdb") == 500
            && status_field::<i64>(&mut conn, "out", "records") == 500
    });
    cmd::<String>(&mut conn, &["SAVE"]);
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<()>(&mut conn);
    redis.restart();
    let mut conn = redis.conn();
    produce(&kafka.bootstrap(), "rdb", &numbered(500, 800, 31));
    wait_until("800 applied", DEADLINE, || {
        stored_total(&mut conn, "rdb") == 800
    });
    assert_exactly_once(&mut conn, "rdb", 800);
    wait_until("source forwarded the 300 new entries", DEADLINE, || {
        status_field::<i64>(&mut conn, "out", "records") == 300
    });
    let forwarded = consume(&kafka.bootstrap(), "rdb-out", 800);
    let distinct: HashSet<String> = forwarded
        .iter()
        .filter_map(|m| m.header("redis.id"))
        .collect();
    assert_eq!(
        distinct.len(),
        800,
        "each entry forwarded once across the restart"
    );
    assert_eq!(status_field::<String>(&mut conn, "idle", "state"), "paused");
}

fn replica_keeps_bridges_idle_and_takes_over_exactly_once_when_promoted(binary: PathBuf) {
    let kafka = MockKafka::new();
    kafka.create_topic("fo", 2);
    produce(&kafka.bootstrap(), "fo", &numbered(0, 3000, 31));
    let mut primary = RedisServer::start_with(on(binary.clone(), &[]));
    let replica = RedisServer::start_with(on(binary, &[]));
    let mut p = primary.conn();
    let mut r = replica.conn();
    cmd::<String>(
        &mut r,
        &["REPLICAOF", "127.0.0.1", &primary.port.to_string()],
    );
    create_sink(
        &mut p,
        &kafka.bootstrap(),
        "fo",
        &["TOPICS", "fo", "TYPE", "STREAM"],
    );
    wait_until("definition replicated", DEADLINE, || {
        try_cmd::<Vec<redis::Value>>(&mut r, &["KAFKA.STATUS", "fo"]).is_ok()
    });
    assert_eq!(status_field::<String>(&mut r, "fo", "state"), "replica");
    wait_until("replica holds the primary's 3000", DEADLINE, || {
        stored_total(&mut r, "fo") == 3000
    });
    assert_eq!(
        status_field::<i64>(&mut r, "fo", "records"),
        0,
        "a replica must not consume"
    );
    primary.kill9();
    produce(&kafka.bootstrap(), "fo", &numbered(3000, 5000, 31));
    cmd::<String>(&mut r, &["REPLICAOF", "NO", "ONE"]);
    wait_until(
        "promoted replica finishes",
        Duration::from_secs(120),
        || stored_total(&mut r, "fo") == 5000,
    );
    assert_exactly_once(&mut r, "fo", 5000);
    assert_eq!(status_field::<i64>(&mut r, "fo", "records"), 2000);
}

#[test]
fn a_primary_turned_replica_stops_its_bridges() {
    let kafka = MockKafka::new();
    let a = RedisServer::start_with(persistent(&[]));
    let b = RedisServer::start_with(persistent(&[]));
    let mut ca = a.conn();
    let mut cb = b.conn();
    // Both hold the same definition; A follows B afterwards.
    for conn in [&mut ca, &mut cb] {
        create_sink(conn, &kafka.bootstrap(), "same", &["TOPICS", "t"]);
    }
    let threads_running = a.threads();
    cmd::<String>(&mut ca, &["REPLICAOF", "127.0.0.1", &b.port.to_string()]);
    wait_until("A lists the sink as replica", DEADLINE, || {
        try_cmd::<Vec<redis::Value>>(&mut ca, &["KAFKA.STATUS", "same"])
            .map(|s| format!("{s:?}").contains("replica"))
            .unwrap_or(false)
    });
    wait_until("A's sink threads gone", DEADLINE, || {
        a.threads() < threads_running
    });
}

#[test]
fn flushall_removes_bridges_and_their_threads() {
    let kafka = MockKafka::new();
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let baseline = redis.threads();
    create_sink(&mut conn, &kafka.bootstrap(), "f1", &["TOPICS", "t"]);
    let b = kafka.bootstrap();
    cmd::<String>(
        &mut conn,
        &["KAFKA.SOURCE.CREATE", "f2", "STREAMS", "s", "BROKERS", &b],
    );
    cmd::<String>(&mut conn, &["FLUSHALL"]);
    wait_until("bridges gone", DEADLINE, || {
        cmd::<Vec<redis::Value>>(&mut conn, &["KAFKA.STATUS"]).is_empty()
    });
    wait_until("worker threads gone", DEADLINE, || {
        redis.threads() <= baseline + 4
    });
}

#[test]
fn a_corrupt_definition_is_reported_and_skipped_at_startup() {
    // Written while the module is absent: with it loaded, clients cannot write its keys.
    let mut redis = RedisServer::start_with(ServerOptions {
        module: false,
        ..persistent(&[])
    });
    let mut conn = redis.conn();
    cmd::<i64>(&mut conn, &["SADD", "__kafka:bridges", "broken", "gone"]);
    cmd::<i64>(
        &mut conn,
        &[
            "HSET",
            "__kafka:bridge:broken",
            "kind",
            "sink",
            "args",
            "[\"TYPE\",\"BLOB\"]",
        ],
    );
    cmd::<String>(&mut conn, &["SAVE"]);
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<()>(&mut conn);
    redis.restart_with_module(true);
    let mut conn = redis.conn();
    wait_until("broken definition reported", DEADLINE, || {
        try_cmd::<Vec<redis::Value>>(&mut conn, &["KAFKA.STATUS", "broken"]).is_ok()
    });
    let error: String = status_field(&mut conn, "broken", "last_error");
    assert!(error.contains("invalid definition"), "{error}");
    let gone: String = status_field(&mut conn, "gone", "last_error");
    assert!(gone.contains("missing"), "{gone}");
    assert!(redis.log().contains("bridge 'broken'"), "{}", redis.log());
    assert_eq!(cmd::<String>(&mut conn, &["PING"]), "PONG");
}

/// Redis 7.2+ and Valkey let a module put its commands in ACL categories
/// (RM_SetCommandACLCategories): the commands that change bridges join @admin and @dangerous,
/// so ACL itself refuses them to `-@admin` users and `+@admin` grants them. Redis 7.0 cannot
/// categorize module commands; there the module refuses users who may not run CONFIG SET.
fn acl_users_without_admin_get_noperm_for_bridge_changes(binary: PathBuf) {
    let redis = RedisServer::start_with(ServerOptions {
        binary,
        module_args: vec!["kafka.brokers".into(), "127.0.0.1:1".into()],
        ..ServerOptions::default()
    });
    let mut admin = redis.conn();
    let info: String = cmd(&mut admin, &["INFO", "server"]);
    let version: Vec<u32> = info
        .lines()
        .find_map(|line| line.strip_prefix("redis_version:"))
        .expect("redis_version in INFO")
        .trim()
        .split('.')
        .map(|n| n.parse().expect("version number"))
        .collect();
    let categorized = version[..2] >= [7, 2][..];
    // COMMAND INFO shows the categories where the server has them (Redis 7.4's ACL CAT does
    // not list module commands, so it proves nothing either way).
    for command in [
        "kafka.sink.create",
        "kafka.source.delete",
        "kafka.sink.pause",
    ] {
        let info: Vec<redis::Value> = cmd(&mut admin, &["COMMAND", "INFO", command]);
        let described = format!("{info:?}");
        assert_eq!(described.contains("@admin"), categorized, "{described}");
        assert_eq!(described.contains("@dangerous"), categorized, "{described}");
    }
    let info: Vec<redis::Value> = cmd(&mut admin, &["COMMAND", "INFO", "kafka.status"]);
    assert!(!format!("{info:?}").contains("@admin"), "{info:?}");
    cmd::<String>(
        &mut admin,
        &[
            "ACL", "SETUSER", "app", "on", ">pw", "~*", "&*", "+@all", "-@admin",
        ],
    );
    cmd::<String>(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "ops",
            "on",
            ">pw",
            "~*",
            "&*",
            "-@all",
            "+@admin",
            "+kafka.status",
        ],
    );
    cmd::<String>(&mut admin, &["ACL", "LOG", "RESET"]);
    cmd::<String>(&mut admin, &["KAFKA.SINK.CREATE", "s", "TOPICS", "t"]);
    let mut app = redis.conn();
    cmd::<String>(&mut app, &["AUTH", "app", "pw"]);
    for args in [
        &["KAFKA.SINK.CREATE", "x", "TOPICS", "t"][..],
        &["KAFKA.SINK.DELETE", "s"],
        &["KAFKA.SINK.PAUSE", "s"],
        &["KAFKA.SOURCE.CREATE", "y", "STREAMS", "z"],
    ] {
        let error = cmd_err(&mut app, args);
        assert!(error.starts_with("NOPERM"), "{args:?}: {error}");
        // Who refused: ACL (naming the command), or the module's own check on Redis 7.0.
        assert_eq!(
            error.contains("change Kafka bridges"),
            !categorized,
            "{args:?}: {error}"
        );
    }
    // ACL logs its own refusals; the module's check on 7.0 is not an ACL decision.
    let log: Vec<redis::Value> = cmd(&mut admin, &["ACL", "LOG"]);
    let logged = format!("{log:?}");
    assert_eq!(
        logged.contains("kafka.sink.create"),
        categorized,
        "ACL LOG: {logged}"
    );
    assert_eq!(status_field::<String>(&mut app, "s", "name"), "s");
    // +@admin grants the bridge commands only where they are in @admin.
    let mut ops = redis.conn();
    cmd::<String>(&mut ops, &["AUTH", "ops", "pw"]);
    let created = try_cmd::<String>(&mut ops, &["KAFKA.SINK.CREATE", "o", "TOPICS", "t"]);
    match (categorized, created) {
        (true, Ok(reply)) => assert_eq!(reply, "OK"),
        (false, Err(e)) => assert_eq!(e.code(), Some("NOPERM"), "{e:?}"),
        (categorized, other) => panic!("categorized={categorized}: {other:?}"),
    }
    let listed: Vec<redis::Value> = cmd(&mut admin, &["KAFKA.SINK.LIST"]);
    assert_eq!(listed.len(), if categorized { 2 } else { 1 });
}

#[test]
fn secrets_stay_out_of_list_status_info_and_the_log() {
    let kafka = MockKafka::new();
    let redis = RedisServer::start_with(ServerOptions {
        extra: vec!["--loglevel".into(), "debug".into()],
        module_args: vec!["kafka.log-level".into(), "debug".into()],
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "sec",
        &[
            "TOPICS",
            "t",
            "CONFIG",
            "sasl.username",
            "u",
            "CONFIG",
            "sasl.password",
            "hunter2-secret",
            // librdkafka dumps its whole configuration at debug level: a hostile case.
            "CONFIG",
            "debug",
            "all",
        ],
    );
    let b = kafka.bootstrap();
    cmd::<String>(
        &mut conn,
        &[
            "KAFKA.SOURCE.CREATE",
            "sec2",
            "STREAMS",
            "s",
            "BROKERS",
            &b,
            "CONFIG",
            "ssl.key.password",
            "hunter2-secret",
        ],
    );
    let outputs = [
        format!("{:?}", cmd::<redis::Value>(&mut conn, &["KAFKA.SINK.LIST"])),
        format!(
            "{:?}",
            cmd::<redis::Value>(&mut conn, &["KAFKA.SOURCE.LIST"])
        ),
        format!("{:?}", cmd::<redis::Value>(&mut conn, &["KAFKA.STATUS"])),
        cmd::<String>(&mut conn, &["INFO", "kafka"]),
        redis.log(),
    ];
    for output in outputs {
        assert!(!output.contains("hunter2"), "secret leaked: {output}");
    }
    // kafka.log-level debug reaches librdkafka itself (it used to stay at errors only).
    wait_until("librdkafka debug lines in the log", DEADLINE, || {
        redis.log().contains("librdkafka CONF")
    });
    assert!(
        !redis.log().contains("hunter2"),
        "secret leaked into the log"
    );
    assert!(
        format!("{:?}", cmd::<redis::Value>(&mut conn, &["KAFKA.SINK.LIST"])).contains("redacted")
    );
}

#[test]
fn info_kafka_reports_every_bridge() {
    let kafka = MockKafka::new();
    kafka.create_topic("inf", 1);
    produce(&kafka.bootstrap(), "inf", &numbered(0, 10, 31));
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    create_sink(&mut conn, &kafka.bootstrap(), "inf", &["TOPICS", "inf"]);
    let b = kafka.bootstrap();
    cmd::<String>(
        &mut conn,
        &["KAFKA.SOURCE.CREATE", "src", "STREAMS", "x", "BROKERS", &b],
    );
    wait_until("10 records", DEADLINE, || {
        status_field::<i64>(&mut conn, "inf", "records") == 10
    });
    let info: String = cmd(&mut conn, &["INFO", "kafka"]);
    assert!(info.contains("kafka_sinks:1"), "{info}");
    assert!(info.contains("kafka_sources:1"), "{info}");
    let sink_line = info
        .lines()
        .find(|l| l.starts_with("kafka_bridge_inf:"))
        .unwrap();
    assert!(
        sink_line.contains("kind=sink") && sink_line.contains("records=10"),
        "{sink_line}"
    );
    assert!(sink_line.contains("state=running"), "{sink_line}");
    let source_line = info
        .lines()
        .find(|l| l.starts_with("kafka_bridge_src:"))
        .unwrap();
    assert!(
        source_line.contains("kind=source") && source_line.contains("backlog="),
        "{source_line}"
    );
}
