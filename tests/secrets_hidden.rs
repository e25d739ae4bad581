//! Secrets given with CONFIG never show in SLOWLOG, MONITOR, error replies or the log, on the
//! primary or on a replica (which receives the definition through replication).

mod common;

use common::monitor::Monitor;
use common::*;

const SECRET: &str = "hunter2-secret";

fn slowlog(conn: &mut redis::Connection) -> String {
    format!(
        "{:?}",
        cmd::<redis::Value>(conn, &["SLOWLOG", "GET", "1000"])
    )
}

fn secrets_stay_out_of_slowlog_monitor_errors_and_logs_on_primary_and_replica(
    binary: std::path::PathBuf,
) {
    let kafka = MockKafka::new();
    let options = ServerOptions {
        binary,
        extra: vec!["--loglevel".into(), "debug".into()],
        ..ServerOptions::default()
    };
    let primary = RedisServer::start_with(options.clone());
    let replica = RedisServer::start_with(options);
    let mut p = primary.conn();
    let mut r = replica.conn();
    for conn in [&mut p, &mut r] {
        cmd::<String>(conn, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
        cmd::<String>(conn, &["CONFIG", "SET", "slowlog-max-len", "10000"]);
    }
    cmd::<String>(
        &mut r,
        &["REPLICAOF", "127.0.0.1", &primary.port.to_string()],
    );
    wait_until("replica in sync", DEADLINE, || {
        cmd::<String>(&mut r, &["INFO", "replication"]).contains("master_link_status:up")
    });
    let primary_monitor = Monitor::start(primary.port);
    let replica_monitor = Monitor::start(replica.port);
    let b = kafka.bootstrap();
    cmd::<String>(
        &mut p,
        &[
            "KAFKA.SINK.CREATE",
            "s",
            "TOPICS",
            "t",
            "BROKERS",
            &b,
            "CONFIG",
            "sasl.username",
            "u",
            "CONFIG",
            "sasl.password",
            SECRET,
        ],
    );
    cmd::<String>(
        &mut p,
        &[
            "KAFKA.SOURCE.CREATE",
            "src",
            "STREAMS",
            "x",
            "BROKERS",
            &b,
            "config",
            "ssl.key.password",
            SECRET,
        ],
    );
    // A CREATE that fails after its secret was read, and one librdkafka refuses.
    let error = cmd_err(
        &mut p,
        &[
            "KAFKA.SINK.CREATE",
            "s",
            "TOPICS",
            "t",
            "BROKERS",
            &b,
            "CONFIG",
            "sasl.password",
            SECRET,
        ],
    );
    assert!(error.contains("already exists"), "{error}");
    let error = cmd_err(
        &mut p,
        &[
            "KAFKA.SINK.CREATE",
            "s2",
            "TOPICS",
            "t",
            "BROKERS",
            &b,
            "CONFIG",
            "sasl.oauthbearer.client.secret",
            SECRET,
            "CONFIG",
            "no.such",
            "1",
        ],
    );
    assert!(!error.contains(SECRET), "{error}");
    cmd::<String>(&mut p, &["KAFKA.SINK.PAUSE", "s"]);
    cmd::<String>(&mut p, &["SET", "marker", "done"]);
    wait_until(
        "replica has the definitions and the marker",
        DEADLINE,
        || {
            try_cmd::<Option<String>>(&mut r, &["GET", "marker"])
                .ok()
                .flatten()
                .is_some()
                && try_cmd::<Vec<redis::Value>>(&mut r, &["KAFKA.STATUS", "src"]).is_ok()
        },
    );
    wait_until("both monitors saw the marker", DEADLINE, || {
        primary_monitor.text().contains("marker") && replica_monitor.text().contains("marker")
    });
    let outputs = [
        ("primary SLOWLOG", slowlog(&mut p)),
        ("replica SLOWLOG", slowlog(&mut r)),
        ("primary MONITOR", primary_monitor.text()),
        ("replica MONITOR", replica_monitor.text()),
        ("primary log", primary.log()),
        ("replica log", replica.log()),
        (
            "LIST",
            format!("{:?}", cmd::<redis::Value>(&mut r, &["KAFKA.SINK.LIST"])),
        ),
    ];
    for (what, output) in outputs {
        assert!(!output.contains(SECRET), "secret in {what}: {output}");
    }
    // The definition did reach the replica whole (the bridge can start there when promoted).
    let args: String = cmd(&mut r, &["HGET", "__kafka:bridge:s", "args"]);
    assert!(args.contains(SECRET));
}

#[test]
fn secrets_stay_hidden_redis() {
    secrets_stay_out_of_slowlog_monitor_errors_and_logs_on_primary_and_replica(redis_server());
}

#[test]
fn secrets_stay_hidden_valkey() {
    secrets_stay_out_of_slowlog_monitor_errors_and_logs_on_primary_and_replica(valkey_server());
}
