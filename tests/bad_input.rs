//! Malformed commands get an `ERR ...` reply naming the problem and change nothing.

mod common;

use common::*;

#[test]
fn malformed_sink_commands_are_rejected_and_change_nothing() {
    let redis = RedisServer::start_with(ServerOptions {
        module_args: vec!["kafka.brokers".into(), "127.0.0.1:1".into()],
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    let cases: &[(&[&str], &str)] = &[
        (&["KAFKA.SINK.CREATE"], "ERR missing sink name"),
        (&["KAFKA.SINK.CREATE", "s"], "ERR missing TOPICS"),
        (
            &["KAFKA.SINK.CREATE", "s", "TOPICS"],
            "ERR missing value for TOPICS",
        ),
        (
            &["KAFKA.SINK.CREATE", "s", "TOPICS", "t", "TYPE", "BLOB"],
            "ERR unknown TYPE 'BLOB'",
        ),
        (
            &["KAFKA.SINK.CREATE", "s", "TOPICS", "t", "COLOUR", "red"],
            "ERR unknown option 'COLOUR'",
        ),
        (
            &["KAFKA.SINK.CREATE", "s", "TOPICS", "t", "START", "-1"],
            "ERR START must be EARLIEST or LATEST",
        ),
        (
            &["KAFKA.SINK.CREATE", "s", "TOPICS", "t", "BROKERS", "host"],
            "ERR broker 'host' is not host:port",
        ),
        (
            &[
                "KAFKA.SINK.CREATE",
                "s",
                "TOPICS",
                "t",
                "BROKERS",
                "h:99999",
            ],
            "ERR broker 'h:99999' is not host:port",
        ),
        (
            &["KAFKA.SINK.CREATE", "s", "TOPICS", "t", "KEY", "${bogus}"],
            "ERR KEY: unknown placeholder '${bogus}'",
        ),
        (
            &["KAFKA.SINK.CREATE", "s", "TOPICS", "t", "KEY", "a:${key"],
            "ERR KEY: unterminated",
        ),
        (
            &[
                "KAFKA.SINK.CREATE",
                "s",
                "TOPICS",
                "t",
                "CONFIG",
                "no.such.prop",
                "1",
            ],
            "ERR CONFIG rejected by librdkafka",
        ),
        (
            &[
                "KAFKA.SINK.CREATE",
                "s",
                "TOPICS",
                "t",
                "CONFIG",
                "fetch.min.bytes",
                "-5",
            ],
            "ERR CONFIG rejected by librdkafka",
        ),
        (
            &[
                "KAFKA.SINK.CREATE",
                "s",
                "TOPICS",
                "t",
                "CONFIG",
                "group.id",
                "x",
            ],
            "ERR CONFIG group.id is not allowed: use GROUP",
        ),
        (
            &[
                "KAFKA.SINK.CREATE",
                "s",
                "TOPICS",
                "t",
                "TYPE",
                "HASH",
                "TYPE",
                "JSON",
            ],
            "ERR option TYPE given twice",
        ),
        (
            &["KAFKA.SINK.CREATE", "s", "TOPICS", "a/b"],
            "ERR topic 'a/b' contains '/'",
        ),
        (
            &["KAFKA.SINK.CREATE", "s p", "TOPICS", "t"],
            "ERR sink name 's p' contains ' '",
        ),
        (&["KAFKA.SINK.DELETE", "nope"], "ERR no sink named 'nope'"),
        (&["KAFKA.SINK.PAUSE", "nope"], "ERR no sink named 'nope'"),
        (&["KAFKA.SINK.RESUME", "nope"], "ERR no sink named 'nope'"),
        (&["KAFKA.SINK.PAUSE", "a", "b"], "ERR too many arguments"),
        (
            &[
                "KAFKA.SINK.CREATE",
                "s",
                "TOPICS",
                "t",
                "TYPE",
                "SET",
                "SCORE",
                "${value}",
            ],
            "ERR SCORE applies to TYPE ZSET, not SET",
        ),
        (
            &["KAFKA.SINK.CREATE", "s", "TOPICS", "t", "TTL", "-1"],
            "ERR TTL must be a whole number of seconds > 0",
        ),
        (
            &["KAFKA.SINK.CREATE", "s", "TOPICS", "t", "ON-ERROR", "DLQ"],
            "ERR missing topic for ON-ERROR DLQ",
        ),
        (
            &["KAFKA.SINK.CREATE", "s", "TOPICS", "t", "TASKS", "0"],
            "ERR TASKS must be a number from 1 to 64",
        ),
        (
            &["KAFKA.SINK.CREATE", "s", "TOPICS", "t", "PATTERN", "x"],
            "ERR give TOPICS or PATTERN once, not both",
        ),
        (
            &[
                "KAFKA.SINK.CREATE",
                "s",
                "TOPICS",
                "t",
                "TYPE",
                "ZSET",
                "MEMBER",
                "${oops}",
            ],
            "ERR MEMBER: unknown placeholder",
        ),
        (&["KAFKA.SINK.DELETE"], "ERR missing sink name"),
        (&["KAFKA.STATUS", "nope"], "ERR no bridge named 'nope'"),
        (
            &["KAFKA.SINK.LIST", "extra"],
            "ERR KAFKA.SINK.LIST takes no arguments",
        ),
        (&["KAFKA.PRODUCE"], "ERR missing topic"),
        (&["KAFKA.PRODUCE", "t"], "ERR missing value"),
        (
            &["KAFKA.PRODUCE", "t", "v", "PARTITION", "x"],
            "ERR PARTITION must be a number >= 0",
        ),
        (
            &["KAFKA.PRODUCE", "t", "v", "NOPE"],
            "ERR unknown option 'NOPE'",
        ),
        (
            &["KAFKA.PRODUCE", "t", "v", "HEADER", "k"],
            "ERR missing value for HEADER k",
        ),
    ];
    for (args, expected) in cases {
        let error = cmd_err(&mut conn, args);
        assert!(
            error.starts_with(expected),
            "{args:?}: got '{error}', want '{expected}...'"
        );
    }
    let sinks: Vec<redis::Value> = cmd(&mut conn, &["KAFKA.SINK.LIST"]);
    assert!(
        sinks.is_empty(),
        "a rejected CREATE left a sink behind: {sinks:?}"
    );
    let keys: Vec<String> = cmd(&mut conn, &["KEYS", "*"]);
    assert!(keys.is_empty(), "a rejected command wrote keys: {keys:?}");
}

#[test]
fn duplicate_name_is_rejected_and_the_first_sink_keeps_running() {
    let redis = RedisServer::start_with(ServerOptions {
        module_args: vec!["brokers".into(), "127.0.0.1:1".into()],
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    assert_eq!(
        cmd::<String>(&mut conn, &["KAFKA.SINK.CREATE", "s", "TOPICS", "t1"]),
        "OK"
    );
    let error = cmd_err(
        &mut conn,
        &["KAFKA.SINK.CREATE", "s", "TOPICS", "t2", "TYPE", "HASH"],
    );
    assert_eq!(error, "ERR a bridge named 's' already exists");
    assert_eq!(status_field::<String>(&mut conn, "s", "topics"), "t1");
}

#[test]
fn no_brokers_configured_is_a_clear_error() {
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let error = cmd_err(&mut conn, &["KAFKA.SINK.CREATE", "s", "TOPICS", "t"]);
    assert!(error.starts_with("ERR no brokers configured"), "{error}");
    let error = cmd_err(&mut conn, &["KAFKA.PRODUCE", "t", "v"]);
    assert!(error.starts_with("ERR no brokers configured"), "{error}");
}

#[test]
fn json_sink_needs_redisjson() {
    let redis = RedisServer::start_with(ServerOptions {
        rejson: false,
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    let error = cmd_err(
        &mut conn,
        &[
            "KAFKA.SINK.CREATE",
            "s",
            "TOPICS",
            "t",
            "TYPE",
            "JSON",
            "BROKERS",
            "127.0.0.1:1",
        ],
    );
    assert!(
        error.starts_with("ERR TYPE JSON needs the RedisJSON"),
        "{error}"
    );
    let sinks: Vec<redis::Value> = cmd(&mut conn, &["KAFKA.SINK.LIST"]);
    assert!(sinks.is_empty());
}
