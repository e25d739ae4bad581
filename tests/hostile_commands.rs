//! Hostile arguments to every KAFKA.* command: the server stays up, every error reply starts with
//! an uppercase code, and nothing is created. Runs on Redis 7.0 and Valkey 8.1.

mod common;

use common::*;
use redis::Value;

/// Arguments that once crashed or could crash a reply or log path: code points whose low byte is
/// zero (U+0600 became a NUL in the reply path), NUL, CR/LF, invalid UTF-8, empty, huge.
fn nasty_arguments() -> Vec<Vec<u8>> {
    let mut nasty: Vec<Vec<u8>> = vec![
        vec![0xD8, 0x80],                  // U+0600
        "\u{100}".as_bytes().to_vec(),     // U+0100
        "\u{10000}".as_bytes().to_vec(),   // outside the BMP
        b"a\x00b".to_vec(),                // NUL
        b"x\r\nERR injected\r\n".to_vec(), // CR/LF
        vec![0xFF, 0xFE, 0xC0, 0x80],      // invalid UTF-8, overlong NUL
        vec![0xED, 0xA0, 0x80],            // UTF-16 surrogate encoded as UTF-8
        Vec::new(),                        // empty
        "${key}\u{0}${value.\u{600}}".as_bytes().to_vec(),
        "%s%n%x".as_bytes().to_vec(),       // format strings
        "\u{202E}evil".as_bytes().to_vec(), // bidi override
    ];
    nasty.push(vec![b'a'; 1 << 20]); // 1 MiB
    nasty.push("\u{600}".repeat(50_000).into_bytes());
    nasty
}

const COMMANDS: &[&[&str]] = &[
    &["KAFKA.SINK.CREATE"],
    &["KAFKA.SINK.CREATE", "f2"],
    &["KAFKA.SINK.CREATE", "f2", "TOPICS"],
    &["KAFKA.SINK.CREATE", "f2", "TOPICS", "t", "KEY"],
    &["KAFKA.SINK.CREATE", "f2", "TOPICS", "t", "CONFIG"],
    &[
        "KAFKA.SINK.CREATE",
        "f2",
        "TOPICS",
        "t",
        "CONFIG",
        "fetch.min.bytes",
    ],
    &["KAFKA.SINK.CREATE", "f2", "PATTERN"],
    &["KAFKA.SINK.CREATE", "f2", "TOPICS", "t", "TYPE"],
    &["KAFKA.SINK.CREATE", "f2", "TOPICS", "t", "BROKERS"],
    &["KAFKA.SOURCE.CREATE"],
    &["KAFKA.SOURCE.CREATE", "g2", "STREAMS"],
    &["KAFKA.SOURCE.CREATE", "g2", "STREAMS", "s", "TOPIC"],
    &["KAFKA.SOURCE.CREATE", "g2", "STREAMS", "s", "KEY"],
    &["KAFKA.SOURCE.CREATE", "g2", "STREAMS", "s", "FROM"],
    &["KAFKA.SINK.DELETE"],
    &["KAFKA.SINK.PAUSE"],
    &["KAFKA.SINK.RESUME"],
    &["KAFKA.SOURCE.DELETE"],
    &["KAFKA.SOURCE.PAUSE"],
    &["KAFKA.SOURCE.RESUME"],
    &["KAFKA.SINK.LIST"],
    &["KAFKA.SOURCE.LIST"],
    &["KAFKA.STATUS"],
    // PRODUCE only where the tail cannot make a valid record (which would wait on the broker).
    &["KAFKA.PRODUCE"],
    &["KAFKA.PRODUCE", "t", "v", "PARTITION"],
];

fn assert_coded_error(reply: &redis::RedisResult<Value>, what: &str) {
    if let Err(e) = reply {
        let code = e.code().unwrap_or("");
        assert!(
            !code.is_empty() && code.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
            "{what}: error without an uppercase code: {e:?}"
        );
    }
}

fn hostile_arguments_never_crash(options: ServerOptions) {
    let redis = RedisServer::start_with(ServerOptions {
        module_args: vec!["kafka.brokers".into(), "127.0.0.1:1".into()],
        ..options
    });
    let mut conn = redis.conn();
    for base in COMMANDS {
        for nasty in nasty_arguments() {
            let mut command = redis::cmd(base[0]);
            for arg in &base[1..] {
                command.arg(*arg);
            }
            command.arg(nasty.as_slice());
            let reply = command.query::<Value>(&mut conn);
            let what = format!(
                "{base:?} + {:?}",
                String::from_utf8_lossy(&nasty[..nasty.len().min(16)])
            );
            assert_coded_error(&reply, &what);
            // Also as an option name followed by a value, and as a value in every position.
            let mut command = redis::cmd(base[0]);
            for arg in &base[1..] {
                command.arg(*arg);
            }
            command.arg(nasty.as_slice()).arg(nasty.as_slice());
            assert_coded_error(&command.query::<Value>(&mut conn), &what);
        }
    }
    assert_eq!(cmd::<String>(&mut conn, &["PING"]), "PONG");
    // Whatever a valid tail created (f2, g2) is reported normally.
    let _: Vec<Value> = cmd(&mut conn, &["KAFKA.STATUS"]);
    let _: Vec<Value> = cmd(&mut conn, &["KAFKA.SINK.LIST"]);
    let _: String = cmd(&mut conn, &["INFO", "kafka"]);
}

#[test]
fn hostile_arguments_never_crash_redis() {
    hostile_arguments_never_crash(ServerOptions::default());
}

#[test]
fn hostile_arguments_never_crash_valkey() {
    hostile_arguments_never_crash(ServerOptions {
        binary: valkey_server(),
        ..ServerOptions::default()
    });
}

#[test]
fn the_reported_crash_u0600_gets_an_error_reply() {
    let redis = RedisServer::start_with(ServerOptions {
        module_args: vec!["kafka.brokers".into(), "127.0.0.1:1".into()],
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    let reply = redis::cmd("KAFKA.SINK.CREATE")
        .arg("f2")
        .arg(&[0xD8u8, 0x80][..])
        .query::<Value>(&mut conn);
    let error = reply.expect_err("an error reply");
    assert_eq!(error.code(), Some("ERR"), "{error:?}");
    assert!(
        error.detail().unwrap_or("").contains("unknown option"),
        "{error:?}"
    );
    assert_eq!(cmd::<String>(&mut conn, &["PING"]), "PONG");
}

#[test]
fn names_with_nul_or_non_ascii_are_refused_with_a_clear_error() {
    let redis = RedisServer::start_with(ServerOptions {
        module_args: vec!["kafka.brokers".into(), "127.0.0.1:1".into()],
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    for name in [&b"a\x00"[..], "\u{600}".as_bytes(), b"a b", b""] {
        let error = redis::cmd("KAFKA.SINK.CREATE")
            .arg(name)
            .arg("TOPICS")
            .arg("t")
            .query::<Value>(&mut conn)
            .expect_err("refused");
        assert_eq!(error.code(), Some("ERR"), "{error:?}");
        assert!(
            error.detail().unwrap_or("").contains("sink name"),
            "{error:?}"
        );
        let error = redis::cmd("KAFKA.STATUS")
            .arg(name)
            .query::<Value>(&mut conn)
            .expect_err("no such bridge");
        assert_eq!(error.code(), Some("ERR"), "{error:?}");
    }
}

const SETTINGS: &[&str] = &[
    "kafka.brokers",
    "kafka.client-id",
    "kafka.embedded-broker",
    "kafka.slice-max-records",
    "kafka.slice-max-micros",
    "kafka.slice-max-bytes",
    "kafka.sink-batch-max-bytes",
    "kafka.source-inflight-max-bytes",
    "kafka.shutdown-timeout-ms",
    "kafka.debug-command",
    "kafka.log-level",
    "kafka.produce-config-file",
];

/// Hostile values through CONFIG SET reach the module's own config callbacks: each is taken or
/// refused with a coded error, CONFIG GET then reads back a value the setting can hold, and the
/// server stays up. Numbers near and past their bounds, units, signs and overflow included.
fn hostile_config_values_are_refused_or_kept(options: ServerOptions) {
    let redis = RedisServer::start_with(options);
    let mut conn = redis.conn();
    let mut values = nasty_arguments();
    for text in [
        "0",
        "-1",
        "1",
        "9223372036854775807",
        "-9223372036854775808",
        "99999999999999999999",
        "4gb",
        "4GB",
        "5gb",
        "1k",
        "63kb",
        "64kb",
        "1.5mb",
        "yes",
        "no",
        "maybe",
        "debug",
        "DEBUG",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "h:1,h:2",
        ",",
        ":9",
        "[::1]:9092",
    ] {
        values.push(text.as_bytes().to_vec());
    }
    for setting in SETTINGS {
        for value in &values {
            let reply = redis::cmd("CONFIG")
                .arg("SET")
                .arg(*setting)
                .arg(value.as_slice())
                .query::<Value>(&mut conn);
            assert_coded_error(
                &reply,
                &format!(
                    "{setting} {:?}",
                    String::from_utf8_lossy(&value[..value.len().min(16)])
                ),
            );
            let read: Vec<Vec<u8>> = cmd(&mut conn, &["CONFIG", "GET", setting]);
            assert_eq!(read.len(), 2, "{setting}");
            if reply.is_ok() && value.len() < 100 && !setting.ends_with("bytes") {
                // What was taken reads back, normalized (lists, case) but never garbled.
                assert!(!read[1].contains(&0), "{setting} read back a NUL");
            }
        }
    }
    assert_eq!(cmd::<String>(&mut conn, &["PING"]), "PONG");
    // Bounds hold whatever was tried.
    let bytes: Vec<String> = cmd(&mut conn, &["CONFIG", "GET", "kafka.slice-max-bytes"]);
    let bytes: i64 = bytes[1].parse().unwrap();
    assert!((64 << 10..=1 << 30).contains(&bytes), "{bytes}");
    let debug: Vec<String> = cmd(&mut conn, &["CONFIG", "GET", "kafka.debug-command"]);
    assert_eq!(debug[1], "no", "debug-command is settable only at load");
}

#[test]
fn hostile_config_values_are_refused_or_kept_redis() {
    hostile_config_values_are_refused_or_kept(ServerOptions::default());
}

#[test]
fn hostile_config_values_are_refused_or_kept_valkey() {
    hostile_config_values_are_refused_or_kept(ServerOptions {
        binary: valkey_server(),
        ..ServerOptions::default()
    });
}

/// The same values as loadmodule arguments: the module refuses to load with a reason, or loads.
#[test]
fn hostile_module_arguments_refuse_the_load_with_a_reason() {
    for (name, value) in [
        ("kafka.slice-max-bytes", "5gb"),
        ("kafka.slice-max-records", "-1"),
        ("kafka.brokers", "a\u{1}b:1"),
        ("kafka.log-level", "\u{600}"),
        ("kafka.embedded-broker", "maybe"),
        ("\u{600}", "1"),
    ] {
        let log = RedisServer::start_expecting_exit(ServerOptions {
            module_args: vec![name.into(), value.into()],
            ..ServerOptions::default()
        });
        assert!(log.contains("kafka: "), "{name} {value}: {log}");
    }
}
