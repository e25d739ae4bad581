//! CHANNELS sources (Redis pub/sub → Kafka) against librdkafka's mock cluster, on Redis 7.0 and
//! Valkey 8.1: messages from PUBLISH, Lua, functions, MULTI/EXEC and another module arrive in
//! order and byte-exact; ACL decides what reaches Kafka (a PUBLISH it refuses never does);
//! `requirepass` and a disabled default user change nothing for the source; the subscriber's
//! token is refused unless exact and never shows in MONITOR or SLOWLOG; the subscriber is
//! named in CLIENT LIST, comes back after CLIENT KILL, and is gone after PAUSE and DELETE.

mod common;

use common::resp::{RawConnection, Reply};
use common::*;
use redis::{Connection, Value};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn redis_7() -> ServerOptions {
    ServerOptions {
        rejson: false,
        ..ServerOptions::default()
    }
}

fn valkey_8() -> ServerOptions {
    ServerOptions {
        binary: valkey_server(),
        rejson: false,
        ..ServerOptions::default()
    }
}

/// One test per server.
macro_rules! on_both_servers {
    ($($scenario:ident),* $(,)?) => {
        mod redis_7_0 {
            $(#[test] fn $scenario() { super::$scenario(super::redis_7()) })*
        }
        mod valkey_8_1 {
            $(#[test] fn $scenario() { super::$scenario(super::valkey_8()) })*
        }
    };
}

on_both_servers!(
    every_publisher_reaches_kafka_in_order_and_byte_exact,
    acl_decides_what_is_published_and_passwords_do_not_matter,
    the_token_is_refused_unless_exact_and_never_shown,
    the_subscriber_is_named_and_comes_back_after_client_kill,
    pause_resume_and_delete_leave_no_subscriber_behind,
    messages_too_large_for_kafka_follow_on_error,
    module_unload_drops_the_subscriber_and_a_reload_subscribes_again,
    the_unix_socket_is_preferred_and_no_plain_listener_is_a_clear_failure,
    a_broker_outage_drops_what_does_not_fit_and_counts_it,
    a_subscriber_cut_off_by_the_output_buffer_limit_reconnects_and_says_so,
);

/// A module that publishes with RM_PublishMessage (`PUBTEST.PUBLISH <channel> <message>`),
/// written against the module ABI directly so the test needs no header.
const PUBLISHER_MODULE: &str = r#"
typedef struct RedisModuleCtx RedisModuleCtx;
typedef struct RedisModuleString RedisModuleString;
typedef int (*Command)(RedisModuleCtx *, RedisModuleString **, int);
static int (*GetApi)(const char *, void *);
static void (*SetModuleAttribs)(RedisModuleCtx *, const char *, int, int);
static int (*CreateCommand)(RedisModuleCtx *, const char *, Command, const char *, int, int, int);
static int (*PublishMessage)(RedisModuleCtx *, RedisModuleString *, RedisModuleString *);
static int (*ReplyWithLongLong)(RedisModuleCtx *, long long);
static int (*WrongArity)(RedisModuleCtx *);

static int publish(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 3) return WrongArity(ctx);
    return ReplyWithLongLong(ctx, PublishMessage(ctx, argv[1], argv[2]));
}

int RedisModule_OnLoad(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    (void)argv; (void)argc;
    GetApi = (int (*)(const char *, void *))((void **)ctx)[0];
    if (GetApi("RedisModule_SetModuleAttribs", &SetModuleAttribs) ||
        GetApi("RedisModule_CreateCommand", &CreateCommand) ||
        GetApi("RedisModule_PublishMessage", &PublishMessage) ||
        GetApi("RedisModule_ReplyWithLongLong", &ReplyWithLongLong) ||
        GetApi("RedisModule_WrongArity", &WrongArity)) return 1;
    SetModuleAttribs(ctx, "pubtest", 1, 1);
    return CreateCommand(ctx, "pubtest.publish", publish, "fast", 0, 0, 0);
}
"#;

fn publisher_module() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("pubtest-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("module dir");
            let source = dir.join("pubtest.c");
            std::fs::write(&source, PUBLISHER_MODULE).expect("write module source");
            let library = dir.join("pubtest.so");
            let built = Command::new("cc")
                .args(["-shared", "-fPIC", "-O1", "-o"])
                .arg(&library)
                .arg(&source)
                .status()
                .expect("run cc");
            assert!(built.success(), "cc failed to build the publisher module");
            library
        })
        .clone()
}

fn create_source(conn: &mut Connection, bootstrap: &str, name: &str, extra: &[&str]) {
    let mut args = vec!["KAFKA.SOURCE.CREATE", name, "BROKERS", bootstrap];
    args.extend_from_slice(extra);
    assert_eq!(cmd::<String>(conn, &args), "OK");
}

fn records(conn: &mut Connection, name: &str) -> i64 {
    status_field(conn, name, "records")
}

/// Waits until the source's subscriber is subscribed: only what is published from then on
/// can reach Kafka.
fn wait_subscribed(conn: &mut Connection, name: &str) {
    wait_until(&format!("{name} subscribed"), DEADLINE, || {
        common::try_cmd::<Value>(conn, &["KAFKA.STATUS", name]).is_ok()
            && status_field::<String>(conn, name, "subscribed") == "yes"
    });
}

/// The CLIENT LIST lines of the source's subscriber connections.
fn subscriber_clients(conn: &mut Connection, name: &str) -> Vec<String> {
    let list: String = cmd(conn, &["CLIENT", "LIST"]);
    let wanted = format!(" name=kafka-source-{name} ");
    list.lines()
        .filter(|line| line.contains(&wanted))
        .map(str::to_string)
        .collect()
}

fn client_id(line: &str) -> String {
    line.split(' ')
        .find_map(|field| field.strip_prefix("id="))
        .expect("id= in CLIENT LIST")
        .to_string()
}

fn publish(conn: &mut Connection, channel: &[u8], message: &[u8]) -> i64 {
    redis::cmd("PUBLISH")
        .arg(channel)
        .arg(message)
        .query(conn)
        .expect("PUBLISH")
}

fn conn_as(server: &RedisServer, user: &str, password: &str) -> Connection {
    redis::Client::open(format!(
        "redis://{user}:{password}@127.0.0.1:{}/",
        server.port
    ))
    .and_then(|c| c.get_connection())
    .expect("connect as user")
}

/// An admin user, then `requirepass` and the default user off: connections must AUTH.
fn lock_down(server: &RedisServer) -> Connection {
    let mut conn = server.conn();
    cmd::<String>(
        &mut conn,
        &[
            "ACL", "SETUSER", "admin", "on", ">adminpw", "~*", "&*", "+@all",
        ],
    );
    cmd::<String>(&mut conn, &["CONFIG", "SET", "requirepass", "serverpw"]);
    cmd::<String>(&mut conn, &["ACL", "SETUSER", "default", "off"]);
    conn_as(server, "admin", "adminpw")
}

fn values(messages: &[Received]) -> Vec<Vec<u8>> {
    messages
        .iter()
        .map(|m| m.value.clone().unwrap_or_default())
        .collect()
}

fn raw_header<'a>(message: &'a Received, name: &str) -> Option<&'a [u8]> {
    message
        .headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_slice())
}

fn every_publisher_reaches_kafka_in_order_and_byte_exact(options: ServerOptions) {
    let kafka = MockKafka::new();
    let mut options = options;
    options.extra = vec![
        "--loadmodule".into(),
        publisher_module().display().to_string(),
    ];
    let redis = RedisServer::start_with(options);
    let mut conn = redis.conn();
    create_source(&mut conn, &kafka.bootstrap(), "ev", &["CHANNELS", "ev:*"]);
    wait_subscribed(&mut conn, "ev");
    let mut expected: Vec<Vec<u8>> = Vec::new();
    for n in 0..50 {
        let message = format!("publish-{n}").into_bytes();
        assert_eq!(publish(&mut conn, b"ev:a", &message), 1);
        expected.push(message);
    }
    let script = "for i = 1, 20 do redis.call('PUBLISH', ARGV[1], 'lua-' .. i) end";
    let _: Value = cmd(&mut conn, &["EVAL", script, "0", "ev:a"]);
    expected.extend((1..=20).map(|i| format!("lua-{i}").into_bytes()));
    let library = "#!lua name=chanlib\n\
        redis.register_function('pub', function(keys, args) \
        return redis.call('PUBLISH', args[1], args[2]) end)";
    let _: String = cmd(&mut conn, &["FUNCTION", "LOAD", library]);
    let _: i64 = cmd(&mut conn, &["FCALL", "pub", "0", "ev:a", "function-1"]);
    expected.push(b"function-1".to_vec());
    let mut multi = redis::pipe();
    multi.atomic();
    for n in 1..=3 {
        multi.cmd("PUBLISH").arg("ev:a").arg(format!("multi-{n}"));
        expected.push(format!("multi-{n}").into_bytes());
    }
    let _: Vec<i64> = multi.query(&mut conn).expect("MULTI/EXEC");
    let _: i64 = cmd(&mut conn, &["PUBTEST.PUBLISH", "ev:a", "module-1"]);
    expected.push(b"module-1".to_vec());
    let binary = b"\x00bin\r\n\x00\xff\r".to_vec();
    publish(&mut conn, b"ev:a", &binary);
    expected.push(binary);
    // Not matching ev:* : never forwarded.
    assert_eq!(publish(&mut conn, b"other:a", b"x"), 0);
    assert_eq!(publish(&mut conn, b"ev", b"x"), 0);
    let odd_channel = b"ev:\x00\r\nb".to_vec();
    publish(&mut conn, &odd_channel, b"\r\n");
    publish(&mut conn, b"ev:a", b"last");
    expected.push(b"last".to_vec());

    let total = expected.len() as i64 + 1;
    wait_until("every message acknowledged", DEADLINE, || {
        records(&mut conn, "ev") == total
    });
    let messages = consume(&kafka.bootstrap(), "ev_a", expected.len());
    assert_eq!(values(&messages), expected, "publish order, byte-exact");
    for m in &messages {
        assert_eq!(m.key.as_deref(), Some(&b"ev:a"[..]));
        assert_eq!(raw_header(m, "redis.channel"), Some(&b"ev:a"[..]));
    }
    // Characters Kafka forbids in a topic name become '_'; key and header stay exact.
    let odd = consume(&kafka.bootstrap(), "ev____b", 1);
    assert_eq!(odd[0].key.as_deref(), Some(odd_channel.as_slice()));
    assert_eq!(
        raw_header(&odd[0], "redis.channel"),
        Some(odd_channel.as_slice())
    );
    assert_eq!(odd[0].value.as_deref(), Some(&b"\r\n"[..]));
    assert_eq!(records(&mut conn, "ev"), total);
    for field in ["errors", "dropped", "reconnects"] {
        assert_eq!(status_field::<i64>(&mut conn, "ev", field), 0, "{field}");
    }
    let listed: Vec<Vec<Value>> = cmd(&mut conn, &["KAFKA.SOURCE.LIST"]);
    let fields = pairs(&listed[0]);
    assert_eq!(
        redis::from_redis_value::<String>(&fields["channels"]).unwrap(),
        "ev:*"
    );
    assert_eq!(
        redis::from_redis_value::<String>(&fields["topic"]).unwrap(),
        "${channel}"
    );
}

fn acl_decides_what_is_published_and_passwords_do_not_matter(options: ServerOptions) {
    let kafka = MockKafka::new();
    kafka.create_topic("all", 1);
    let redis = RedisServer::start_with(options);
    let mut admin = lock_down(&redis);
    cmd::<String>(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "limited",
            "on",
            ">limitedpw",
            "resetchannels",
            "&allowed:*",
            "+publish",
        ],
    );
    create_source(
        &mut admin,
        &kafka.bootstrap(),
        "all",
        &["CHANNELS", "*", "TOPIC", "all"],
    );
    wait_subscribed(&mut admin, "all");
    let clients = subscriber_clients(&mut admin, "all");
    assert_eq!(clients.len(), 1, "{clients:?}");
    assert!(clients[0].contains("user=kafka-subscriber"), "{clients:?}");

    let mut limited = conn_as(&redis, "limited", "limitedpw");
    let refused = redis::cmd("PUBLISH")
        .arg("secret:1")
        .arg("forbidden")
        .query::<i64>(&mut limited)
        .expect_err("ACL refuses the channel");
    assert_eq!(refused.code(), Some("NOPERM"), "{refused:?}");
    let mut anonymous = RawConnection::connect(redis.port).unwrap();
    let replies = anonymous
        .pipeline(&[vec![
            b"PUBLISH".to_vec(),
            b"allowed:1".to_vec(),
            b"anonymous".to_vec(),
        ]])
        .unwrap();
    assert_eq!(replies[0].error_code(), Some(&b"NOAUTH"[..]), "{replies:?}");
    assert_eq!(publish(&mut limited, b"allowed:1", b"marker"), 1);

    // One partition: had a refused message got through, it would come before the marker.
    let messages = consume(&kafka.bootstrap(), "all", 1);
    assert_eq!(values(&messages), vec![b"marker".to_vec()]);
    assert_eq!(messages[0].key.as_deref(), Some(&b"allowed:1"[..]));
    wait_until("marker acknowledged", DEADLINE, || {
        records(&mut admin, "all") == 1
    });

    // Reconnecting needs no password either.
    let id = client_id(&clients[0]);
    let _: Value = cmd(&mut admin, &["CLIENT", "KILL", "ID", &id]);
    wait_until("reconnected", DEADLINE, || {
        status_field::<i64>(&mut admin, "all", "reconnects") == 1
            && status_field::<String>(&mut admin, "all", "subscribed") == "yes"
    });
    assert_eq!(publish(&mut limited, b"allowed:2", b"after"), 1);
    let messages = consume(&kafka.bootstrap(), "all", 2);
    assert_eq!(
        values(&messages),
        vec![b"marker".to_vec(), b"after".to_vec()]
    );
    assert_eq!(records(&mut admin, "all"), 2);
}

fn is_error_starting(reply: &Reply, prefix: &str) -> bool {
    matches!(reply, Reply::Error(text) if text.starts_with(prefix.as_bytes()))
}

fn the_token_is_refused_unless_exact_and_never_shown(options: ServerOptions) {
    let kafka = MockKafka::new();
    let redis = RedisServer::start_with(options);
    let mut admin = lock_down(&redis);
    let auth = || vec![b"AUTH".to_vec(), b"admin".to_vec(), b"adminpw".to_vec()];
    cmd::<String>(
        &mut admin,
        &["CONFIG", "SET", "slowlog-log-slower-than", "0"],
    );
    cmd::<String>(&mut admin, &["SLOWLOG", "RESET"]);
    let mut monitor = RawConnection::connect(redis.port).unwrap();
    let started = monitor
        .pipeline(&[auth(), vec![b"MONITOR".to_vec()]])
        .unwrap();
    assert_eq!(started[1], Reply::Simple(b"OK".to_vec()), "{started:?}");

    let mut plausible = b"0".repeat(64);
    plausible[63] = b'1';
    let wrong: Vec<Vec<u8>> = vec![
        b"wrong".to_vec(),
        Vec::new(),
        vec![b'a'; 16 * 1024],
        b"\x00\r\n\xff\x00token\r\n".to_vec(),
        plausible,
    ];
    let mut anonymous = RawConnection::connect(redis.port).unwrap();
    for token in &wrong {
        let replies = anonymous
            .pipeline(&[
                vec![b"KAFKA._SUBSCRIBER".to_vec(), token.clone()],
                vec![b"PING".to_vec()],
            ])
            .unwrap();
        assert!(
            is_error_starting(&replies[0], "ERR KAFKA._SUBSCRIBER: wrong token"),
            "{replies:?}"
        );
        assert!(
            is_error_starting(&replies[1], "NOAUTH"),
            "still not authenticated: {replies:?}"
        );
    }
    for arity in [
        vec![b"KAFKA._SUBSCRIBER".to_vec()],
        vec![b"KAFKA._SUBSCRIBER".to_vec(), b"a".to_vec(), b"b".to_vec()],
    ] {
        let replies = anonymous.pipeline(&[arity]).unwrap();
        assert!(is_error_starting(&replies[0], "ERR "), "{replies:?}");
    }
    // The server itself drops an unauthenticated connection that sends a huge argument.
    let mut huge = RawConnection::connect(redis.port).unwrap();
    let huge_token = vec![b"KAFKA._SUBSCRIBER".to_vec(), vec![b'a'; 1 << 20]];
    match huge.pipeline(&[huge_token.clone(), vec![b"PING".to_vec()]]) {
        Err(_) => {}
        Ok(replies) => assert!(
            replies.iter().all(|r| matches!(r, Reply::Error(_))),
            "{replies:?}"
        ),
    }
    // An authenticated connection stays who it was.
    let mut known = RawConnection::connect(redis.port).unwrap();
    let replies = known
        .pipeline(&[
            auth(),
            huge_token,
            vec![b"ACL".to_vec(), b"WHOAMI".to_vec()],
            vec![b"MULTI".to_vec()],
            vec![b"KAFKA._SUBSCRIBER".to_vec(), b"guess".to_vec()],
            vec![b"EXEC".to_vec()],
            vec![
                b"EVAL".to_vec(),
                b"return redis.call('KAFKA._SUBSCRIBER', 'guess')".to_vec(),
                b"0".to_vec(),
            ],
        ])
        .unwrap();
    assert!(is_error_starting(&replies[1], "ERR "), "{replies:?}");
    assert_eq!(replies[2], Reply::Bulk(Some(b"admin".to_vec())));
    let Reply::Array(Some(exec)) = &replies[5] else {
        panic!("EXEC: {replies:?}");
    };
    assert!(
        is_error_starting(
            &exec[0],
            "ERR KAFKA._SUBSCRIBER runs only as a connection's own command"
        ),
        "{exec:?}"
    );
    assert!(matches!(replies[6], Reply::Error(_)), "{replies:?}");

    create_source(&mut admin, &kafka.bootstrap(), "tok", &["CHANNELS", "t:*"]);
    wait_subscribed(&mut admin, "tok");
    let _: String = cmd(&mut admin, &["ECHO", "monitor-end"]);
    let mut seen = Vec::new();
    loop {
        let line = match monitor.read_reply().unwrap() {
            Reply::Simple(line) => String::from_utf8_lossy(&line).to_lowercase(),
            other => panic!("MONITOR sent {other:?}"),
        };
        let end = line.contains("monitor-end");
        seen.push(line);
        if end {
            break;
        }
    }
    // MONITOR saw the subscriber connect (its PSUBSCRIBE), never its token command.
    assert!(
        seen.iter()
            .all(|line| !line.contains("\"kafka._subscriber\"")),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|l| l.contains("\"psubscribe\" \"t:*\"")),
        "{seen:?}"
    );
    let mut slowlog = Vec::new();
    flatten(&cmd(&mut admin, &["SLOWLOG", "GET", "1000"]), &mut slowlog);
    // Every command is slow enough to log: the subscriber's PSUBSCRIBE is there, its token
    // command is not.
    assert!(
        slowlog.iter().any(|w| w.eq_ignore_ascii_case("psubscribe")),
        "{slowlog:?}"
    );
    assert!(
        slowlog
            .iter()
            .all(|w| !w.eq_ignore_ascii_case("kafka._subscriber")),
        "{slowlog:?}"
    );
}

fn flatten(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| flatten(v, out)),
        Value::BulkString(bytes) => out.push(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(text) => out.push(text.clone()),
        _ => {}
    }
}

fn the_subscriber_is_named_and_comes_back_after_client_kill(options: ServerOptions) {
    let kafka = MockKafka::new();
    kafka.create_topic("k", 1);
    let redis = RedisServer::start_with(options);
    let mut conn = redis.conn();
    create_source(
        &mut conn,
        &kafka.bootstrap(),
        "k",
        &["CHANNELS", "k:*", "TOPIC", "k"],
    );
    wait_subscribed(&mut conn, "k");
    let clients = subscriber_clients(&mut conn, "k");
    assert_eq!(clients.len(), 1, "{clients:?}");
    assert!(clients[0].contains(" psub=1 "), "{clients:?}");
    publish(&mut conn, b"k:1", b"before");
    wait_until("first message", DEADLINE, || records(&mut conn, "k") == 1);

    let first = client_id(&clients[0]);
    let killed: i64 = cmd(&mut conn, &["CLIENT", "KILL", "ID", &first]);
    assert_eq!(killed, 1);
    wait_until("reconnected", DEADLINE, || {
        status_field::<i64>(&mut conn, "k", "reconnects") == 1
            && status_field::<String>(&mut conn, "k", "subscribed") == "yes"
    });
    let last_error: String = status_field(&mut conn, "k", "last_error");
    assert!(
        last_error.contains("subscriber reconnected") && last_error.contains("not seen"),
        "{last_error}"
    );
    let clients = subscriber_clients(&mut conn, "k");
    assert_eq!(clients.len(), 1, "{clients:?}");
    assert_ne!(client_id(&clients[0]), first);
    assert_eq!(publish(&mut conn, b"k:1", b"after"), 1);
    let messages = consume(&kafka.bootstrap(), "k", 2);
    assert_eq!(
        values(&messages),
        vec![b"before".to_vec(), b"after".to_vec()]
    );
    let info: String = cmd(&mut conn, &["INFO", "kafka"]);
    assert!(
        info.contains("kafka_bridge_k:kind=source,state=running,records=")
            && info.contains("reconnects=1"),
        "{info}"
    );
}

fn pause_resume_and_delete_leave_no_subscriber_behind(options: ServerOptions) {
    let kafka = MockKafka::new();
    kafka.create_topic("p", 1);
    let redis = RedisServer::start_with(options);
    let mut conn = redis.conn();
    create_source(
        &mut conn,
        &kafka.bootstrap(),
        "p",
        &["CHANNELS", "p:*", "TOPIC", "p"],
    );
    wait_subscribed(&mut conn, "p");
    assert_eq!(publish(&mut conn, b"p:1", b"one"), 1);
    wait_until("first message", DEADLINE, || records(&mut conn, "p") == 1);

    assert_eq!(cmd::<String>(&mut conn, &["KAFKA.SOURCE.PAUSE", "p"]), "OK");
    wait_until("no subscriber while paused", DEADLINE, || {
        subscriber_clients(&mut conn, "p").is_empty()
    });
    assert_eq!(status_field::<String>(&mut conn, "p", "state"), "paused");
    assert_eq!(status_field::<String>(&mut conn, "p", "subscribed"), "no");
    // Nobody listens: at most once means this one is not forwarded.
    assert_eq!(publish(&mut conn, b"p:1", b"while-paused"), 0);

    assert_eq!(
        cmd::<String>(&mut conn, &["KAFKA.SOURCE.RESUME", "p"]),
        "OK"
    );
    wait_subscribed(&mut conn, "p");
    assert_eq!(subscriber_clients(&mut conn, "p").len(), 1);
    assert_eq!(publish(&mut conn, b"p:1", b"two"), 1);
    let messages = consume(&kafka.bootstrap(), "p", 2);
    assert_eq!(values(&messages), vec![b"one".to_vec(), b"two".to_vec()]);
    wait_until("second message", DEADLINE, || records(&mut conn, "p") == 2);

    assert_eq!(
        cmd::<String>(&mut conn, &["KAFKA.SOURCE.DELETE", "p"]),
        "OK"
    );
    wait_until("no subscriber after DELETE", DEADLINE, || {
        subscriber_clients(&mut conn, "p").is_empty()
    });
    assert_eq!(publish(&mut conn, b"p:1", b"after-delete"), 0);
    let numpat: i64 = cmd(&mut conn, &["PUBSUB", "NUMPAT"]);
    assert_eq!(numpat, 0);
}

fn messages_too_large_for_kafka_follow_on_error(options: ServerOptions) {
    let kafka = MockKafka::new();
    kafka.create_topic("big", 1);
    kafka.create_topic("big-dlq", 1);
    let redis = RedisServer::start_with(options);
    let mut conn = redis.conn();
    create_source(
        &mut conn,
        &kafka.bootstrap(),
        "big",
        &[
            "CHANNELS",
            "big:*",
            "TOPIC",
            "big",
            "CONFIG",
            "message.max.bytes",
            "2000",
            "ON-ERROR",
            "DLQ",
            "big-dlq",
        ],
    );
    wait_subscribed(&mut conn, "big");
    publish(&mut conn, b"big:1", &vec![b'x'; 50_000]);
    publish(&mut conn, b"big:1", b"small");
    let letters = consume(&kafka.bootstrap(), "big-dlq", 1);
    assert_eq!(letters[0].key.as_deref(), Some(&b"big:1"[..]));
    assert_eq!(letters[0].value, None);
    assert_eq!(
        raw_header(&letters[0], "redis.channel"),
        Some(&b"big:1"[..])
    );
    assert_eq!(
        letters[0].header("redis.value.dropped").as_deref(),
        Some("50000")
    );
    assert_eq!(letters[0].header("redis.source").as_deref(), Some("big"));
    assert!(
        letters[0]
            .header("redis.error")
            .is_some_and(|e| e.contains("50000 bytes")),
        "{letters:?}"
    );
    let messages = consume(&kafka.bootstrap(), "big", 1);
    assert_eq!(values(&messages), vec![b"small".to_vec()]);
    wait_until("counted", DEADLINE, || {
        status_field::<i64>(&mut conn, "big", "dlq") == 1 && records(&mut conn, "big") == 1
    });
    assert_eq!(status_field::<i64>(&mut conn, "big", "errors"), 1);
    assert_eq!(status_field::<i64>(&mut conn, "big", "dropped"), 0);
}

fn module_unload_drops_the_subscriber_and_a_reload_subscribes_again(options: ServerOptions) {
    let kafka = MockKafka::new();
    kafka.create_topic("u", 1);
    let redis = RedisServer::start_with(options);
    let mut conn = redis.conn();
    create_source(
        &mut conn,
        &kafka.bootstrap(),
        "u",
        &["CHANNELS", "u:*", "TOPIC", "u"],
    );
    wait_subscribed(&mut conn, "u");
    assert_eq!(publish(&mut conn, b"u:1", b"before"), 1);
    wait_until("first message", DEADLINE, || records(&mut conn, "u") == 1);

    assert_eq!(
        cmd::<String>(&mut conn, &["MODULE", "UNLOAD", "kafka"]),
        "OK"
    );
    wait_until("no subscriber after unload", DEADLINE, || {
        subscriber_clients(&mut conn, "u").is_empty()
    });
    assert_eq!(publish(&mut conn, b"u:1", b"unloaded"), 0);

    let path = module_path().display().to_string();
    assert_eq!(cmd::<String>(&mut conn, &["MODULE", "LOAD", &path]), "OK");
    wait_subscribed(&mut conn, "u");
    assert_eq!(subscriber_clients(&mut conn, "u").len(), 1);
    assert_eq!(publish(&mut conn, b"u:1", b"reloaded"), 1);
    let messages = consume(&kafka.bootstrap(), "u", 2);
    assert_eq!(
        values(&messages),
        vec![b"before".to_vec(), b"reloaded".to_vec()]
    );
}

fn the_unix_socket_is_preferred_and_no_plain_listener_is_a_clear_failure(options: ServerOptions) {
    static SOCKETS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let kafka = MockKafka::new();
    kafka.create_topic("x", 1);
    let socket = std::env::temp_dir().join(format!(
        "rk-channels-{}-{}.sock",
        std::process::id(),
        SOCKETS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let socket_text = socket.display().to_string();
    let mut with_socket = options.clone();
    with_socket.extra = vec![
        "--unixsocket".into(),
        socket_text.clone(),
        "--unixsocketperm".into(),
        "700".into(),
    ];
    let redis = RedisServer::start_with(with_socket);
    let mut conn = redis.conn();
    create_source(
        &mut conn,
        &kafka.bootstrap(),
        "x",
        &["CHANNELS", "x:*", "TOPIC", "x"],
    );
    wait_subscribed(&mut conn, "x");
    let clients = subscriber_clients(&mut conn, "x");
    assert!(
        clients.len() == 1 && clients[0].contains(&format!("addr={socket_text}")),
        "{clients:?}"
    );
    assert_eq!(publish(&mut conn, b"x:1", b"over the socket"), 1);
    let messages = consume(&kafka.bootstrap(), "x", 1);
    assert_eq!(values(&messages), vec![b"over the socket".to_vec()]);
    drop(redis);
    let _ = std::fs::remove_file(&socket);

    // TLS-only, as far as a module without a TLS client can tell: no port, no socket.
    let redis = RedisServer::start_with(options);
    let mut conn = redis.conn();
    cmd::<String>(&mut conn, &["CONFIG", "SET", "port", "0"]);
    create_source(
        &mut conn,
        &kafka.bootstrap(),
        "tls",
        &["CHANNELS", "x:*", "TOPIC", "x"],
    );
    wait_until("the source fails", DEADLINE, || {
        status_field::<String>(&mut conn, "tls", "state") == "failed"
    });
    let last_error: String = status_field(&mut conn, "tls", "last_error");
    assert!(
        last_error.contains("port is 0") && last_error.contains("unixsocket"),
        "{last_error}"
    );
}

/// With the broker down, messages wait in flight up to the in-flight limit; past it a message
/// waits a second for room and is then dropped and counted, while the subscriber stays
/// connected. Every message received ends up acknowledged or counted as dropped.
fn a_broker_outage_drops_what_does_not_fit_and_counts_it(options: ServerOptions) {
    const MESSAGES: usize = 20_000;
    let kafka = MockKafka::new();
    kafka.create_topic("o", 1);
    let redis = RedisServer::start_with(options);
    let mut conn = redis.conn();
    cmd::<String>(
        &mut conn,
        &["CONFIG", "SET", "kafka.source-inflight-max-bytes", "1mb"],
    );
    create_source(
        &mut conn,
        &kafka.bootstrap(),
        "o",
        &["CHANNELS", "o:*", "TOPIC", "o"],
    );
    wait_subscribed(&mut conn, "o");
    assert_eq!(publish(&mut conn, b"o:1", b"first"), 1);
    wait_until("first message", DEADLINE, || records(&mut conn, "o") == 1);
    kafka.broker_down();
    let payload = vec![b'p'; 200];
    let mut pipe = redis::pipe();
    for _ in 0..MESSAGES {
        pipe.cmd("PUBLISH").arg("o:1").arg(&payload).ignore();
    }
    let () = pipe.query(&mut conn).expect("pipelined PUBLISH");
    wait_until("drops counted", DEADLINE, || {
        status_field::<i64>(&mut conn, "o", "dropped") > 0
    });
    wait_until(
        "every message received is in flight or dropped",
        DEADLINE,
        || {
            let in_flight: i64 = status_field(&mut conn, "o", "backlog");
            let dropped: i64 = status_field(&mut conn, "o", "dropped");
            in_flight + dropped == MESSAGES as i64
        },
    );
    assert_eq!(status_field::<i64>(&mut conn, "o", "reconnects"), 0);
    assert_eq!(status_field::<String>(&mut conn, "o", "subscribed"), "yes");
    kafka.broker_up();
    wait_until("what was in flight is delivered", DEADLINE, || {
        status_field::<i64>(&mut conn, "o", "backlog") == 0
    });
    let dropped: i64 = status_field(&mut conn, "o", "dropped");
    assert_eq!(records(&mut conn, "o") + dropped, 1 + MESSAGES as i64);
    assert!(dropped < MESSAGES as i64, "some fitted in flight");
    assert_eq!(publish(&mut conn, b"o:1", b"after"), 1);
    wait_until("flowing again", DEADLINE, || {
        records(&mut conn, "o") + dropped == 2 + MESSAGES as i64
    });
}

/// A source that stops reading (Kafka takes nothing) lets Redis buffer for it until
/// `client-output-buffer-limit pubsub` cuts it off: what was buffered is lost uncounted, the
/// subscriber reconnects, and STATUS says so.
fn a_subscriber_cut_off_by_the_output_buffer_limit_reconnects_and_says_so(options: ServerOptions) {
    const MESSAGES: usize = 20_000;
    let kafka = MockKafka::new();
    kafka.create_topic("cut", 1);
    let redis = RedisServer::start_with(options);
    let mut conn = redis.conn();
    cmd::<String>(
        &mut conn,
        &["CONFIG", "SET", "kafka.source-inflight-max-bytes", "1mb"],
    );
    cmd::<String>(
        &mut conn,
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 256kb 128kb 1",
        ],
    );
    create_source(
        &mut conn,
        &kafka.bootstrap(),
        "cut",
        &["CHANNELS", "cut:*", "TOPIC", "cut"],
    );
    wait_subscribed(&mut conn, "cut");
    kafka.broker_down();
    let payload = vec![b'c'; 1000];
    let mut pipe = redis::pipe();
    for _ in 0..MESSAGES {
        pipe.cmd("PUBLISH").arg("cut:1").arg(&payload).ignore();
    }
    let () = pipe.query(&mut conn).expect("pipelined PUBLISH");
    wait_until("cut off and back", DEADLINE, || {
        status_field::<i64>(&mut conn, "cut", "reconnects") >= 1
            && status_field::<String>(&mut conn, "cut", "subscribed") == "yes"
    });
    kafka.broker_up();
    wait_until("what was in flight settled", DEADLINE, || {
        status_field::<i64>(&mut conn, "cut", "backlog") == 0
    });
    let dropped: i64 = status_field(&mut conn, "cut", "dropped");
    assert!(
        records(&mut conn, "cut") + dropped < MESSAGES as i64,
        "what Redis buffered for the subscriber was lost, uncounted"
    );
    let before = records(&mut conn, "cut");
    assert_eq!(publish(&mut conn, b"cut:1", b"after"), 1);
    wait_until("flowing again", DEADLINE, || {
        records(&mut conn, "cut") == before + 1
    });
    let log = redis.log();
    assert!(
        log.contains("output buffer"),
        "Redis logs why it closed the subscriber"
    );
}

#[test]
fn bad_channels_sources_are_refused_and_create_nothing() {
    let redis = RedisServer::start_with(ServerOptions {
        module_args: vec!["kafka.brokers".into(), "127.0.0.1:1".into()],
        ..redis_7()
    });
    let mut conn = redis.conn();
    let create = |extra: &[&str]| {
        let mut args = vec!["KAFKA.SOURCE.CREATE", "c", "CHANNELS", "news.*"];
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            create(&["FROM", "NEW"]),
            "ERR FROM does not apply to CHANNELS sources",
        ),
        (
            create(&["SNAPSHOT", "NO"]),
            "ERR SNAPSHOT belongs to KEYS sources",
        ),
        (
            create(&["TOPIC", "${stream}"]),
            "ERR TOPIC of a CHANNELS source may use only ${channel}",
        ),
        (
            create(&["KEY", "${id}"]),
            "ERR KEY of a CHANNELS source may use only ${channel}",
        ),
        (
            create(&["KEY", "${field.user}"]),
            "ERR KEY of a CHANNELS source may use only ${channel}",
        ),
        (
            create(&["STREAMS", "x"]),
            "ERR STREAMS and CHANNELS cannot be given together",
        ),
        (
            create(&["CHANNELS", "y"]),
            "ERR option CHANNELS given twice",
        ),
        (
            vec![
                "KAFKA.SOURCE.CREATE".into(),
                "c".into(),
                "CHANNELS".into(),
                "a[".into(),
            ],
            "ERR CHANNELS: unterminated '['",
        ),
        (
            vec![
                "KAFKA.SOURCE.CREATE".into(),
                "c".into(),
                "STREAMS".into(),
                "s".into(),
                "KEY".into(),
                "${channel}".into(),
            ],
            "ERR KEY: ${channel} belongs to CHANNELS sources",
        ),
    ];
    for (args, expected) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let error = cmd_err(&mut conn, &args);
        assert!(error.starts_with(expected), "{args:?}: got '{error}'");
    }
    let sources: Vec<Value> = cmd(&mut conn, &["KAFKA.SOURCE.LIST"]);
    assert!(sources.is_empty());
    assert_eq!(
        cmd::<String>(
            &mut conn,
            &create(&["TOPIC", "n-${channel}"])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        ),
        "OK"
    );
    assert_eq!(
        status_field::<String>(&mut conn, "c", "channels_glob"),
        "news.*"
    );
}

const BENCH_CHANNELS: usize = 10;

/// Throughput of one CHANNELS source under a redis-benchmark PUBLISH load (4 clients, 100
/// commands pipelined; printed, not asserted), into librdkafka's mock cluster and into Tansu.
#[test]
fn throughput_of_pipelined_publishes_mock_broker() {
    let kafka = MockKafka::new();
    kafka.create_topic("bench", BENCH_CHANNELS as i32);
    throughput("mock broker", &kafka.bootstrap());
}

#[test]
fn throughput_of_pipelined_publishes_tansu() {
    let tansu = Tansu::start();
    create_topic(&tansu.bootstrap(), "bench", BENCH_CHANNELS as i32);
    throughput("Tansu", &tansu.bootstrap());
}

fn throughput(broker: &str, bootstrap: &str) {
    const MESSAGES: usize = 500_000;
    const CHANNELS: usize = BENCH_CHANNELS;
    let redis = RedisServer::start_with(redis_7());
    let mut conn = redis.conn();
    // Measures the source, not Redis's protection of itself from a slow subscriber.
    cmd::<String>(
        &mut conn,
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 0 0 0",
        ],
    );
    create_source(
        &mut conn,
        bootstrap,
        "bench",
        &["CHANNELS", "bench:*", "TOPIC", "bench"],
    );
    wait_subscribed(&mut conn, "bench");
    let payload = "v".repeat(100);
    let started = Instant::now();
    let load = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &redis.port.to_string()])
        .args(["-n", &MESSAGES.to_string(), "-c", "4", "-P", "100"])
        .args(["-r", &CHANNELS.to_string(), "-q"])
        .args(["PUBLISH", "bench:__rand_int__", &payload])
        .output()
        .expect("run redis-benchmark (redis-tools)");
    assert!(load.status.success(), "redis-benchmark failed: {load:?}");
    let published = started.elapsed();
    wait_until("every message acknowledged", DEADLINE * 2, || {
        records(&mut conn, "bench") == MESSAGES as i64
    });
    let forwarded = started.elapsed();
    let dropped: i64 = status_field(&mut conn, "bench", "dropped");
    println!(
        "CHANNELS source into {broker}: {MESSAGES} messages of {} bytes on {CHANNELS} channels, published in \
         {:.2} s ({:.0}/s), all acknowledged by Kafka after {:.2} s: {:.0} messages/s forwarded \
         (dropped {dropped})",
        payload.len(),
        published.as_secs_f64(),
        MESSAGES as f64 / published.as_secs_f64(),
        forwarded.as_secs_f64(),
        MESSAGES as f64 / forwarded.as_secs_f64(),
    );
    assert_eq!(dropped, 0);
}

#[test]
fn on_a_cluster_each_message_is_forwarded_once_redis_7_0() {
    each_message_once_on_a_cluster(redis_server());
}

#[test]
fn on_a_cluster_each_message_is_forwarded_once_valkey_8_1() {
    each_message_once_on_a_cluster(valkey_server());
}

/// A PUBLISH reaches every node of a cluster; only the primary serving the channel name's slot
/// forwards it, whichever node it was published on (replicas included).
fn each_message_once_on_a_cluster(binary: PathBuf) {
    const CHANNELS: usize = 24;
    const EACH: usize = 10;
    let kafka = MockKafka::new();
    kafka.create_topic("cc", 1);
    let cluster = common::cluster::Cluster::start(binary, 3, 1);
    let primaries = cluster.primaries();
    let mut first = cluster.conn(primaries[0]);
    create_source(
        &mut first,
        &kafka.bootstrap(),
        "cc",
        &["CHANNELS", "cc:*", "TOPIC", "cc"],
    );
    for &node in &primaries {
        let mut conn = cluster.conn(node);
        wait_until("every primary subscribed", DEADLINE, || {
            common::try_cmd::<Value>(&mut conn, &["KAFKA.STATUS", "cc"]).is_ok()
                && status_field::<String>(&mut conn, "cc", "subscribed") == "yes"
        });
    }
    wait_until(
        "the cluster bus links every pair of nodes",
        DEADLINE,
        || cluster.bus_connected(),
    );
    // A real subscriber on each primary witnesses what its node delivers. Redis drops a
    // PUBLISH for a node whose bus link is down at that moment (a loaded CI machine can drop
    // a link past half the node timeout), so the source is held to what its own node
    // delivered to subscribers, not to what was published elsewhere.
    let mut witnesses: Vec<(usize, common::subscriber::Subscriber)> = primaries
        .iter()
        .map(|&p| {
            (
                p,
                common::subscriber::Subscriber::new(cluster.port(p), "cc:*"),
            )
        })
        .collect();
    let nodes = cluster.live();
    let mut sent: std::collections::HashMap<String, Vec<String>> = Default::default();
    for c in 0..CHANNELS {
        let channel = format!("cc:{c}");
        // Each channel from one node, so its publish order is defined.
        let mut publisher = cluster.conn(nodes[c % nodes.len()]);
        for n in 0..EACH {
            let message = format!("{channel}/{n}");
            publish(&mut publisher, channel.as_bytes(), message.as_bytes());
            sent.entry(channel.clone()).or_default().push(message);
        }
    }
    let mut witnessed: std::collections::HashMap<String, Vec<String>> = Default::default();
    let mut expected: std::collections::HashMap<usize, i64> = Default::default();
    for (node, witness) in &mut witnesses {
        let owned = |channel: &str| cluster.node_for_key(channel) == *node;
        let want: usize = sent.keys().filter(|c| owned(c)).map(|_| EACH).sum();
        let mut seen = 0;
        while seen < want {
            let Some((channel, payload)) = witness.next_within(Duration::from_secs(5)) else {
                break;
            };
            let channel = String::from_utf8(channel).unwrap();
            if owned(&channel) {
                seen += 1;
                witnessed
                    .entry(channel)
                    .or_default()
                    .push(String::from_utf8(payload).unwrap());
            }
        }
        if seen < want {
            eprintln!("node {node}: the cluster bus delivered {seen} of {want} messages");
        }
        expected.insert(*node, seen as i64);
    }
    assert!(
        expected.values().filter(|&&n| n > 0).count() > 1,
        "channels forwarded on several shards: {expected:?}"
    );
    for &node in &primaries {
        let mut conn = cluster.conn(node);
        let want = expected.get(&node).copied().unwrap_or(0);
        let deadline = std::time::Instant::now() + DEADLINE;
        while records(&mut conn, "cc") != want {
            if std::time::Instant::now() > deadline {
                let report: Vec<String> = primaries
                    .iter()
                    .map(|&p| {
                        let mut c = cluster.conn(p);
                        format!(
                            "node {p}: records {} want {:?}, status {:?}",
                            records(&mut c, "cc"),
                            expected.get(&p),
                            common::status(&mut c, "cc")
                        )
                    })
                    .collect();
                panic!("each primary forwarded its channels: {report:#?}");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    let total: i64 = expected.values().sum();
    let messages = consume(&kafka.bootstrap(), "cc", total as usize);
    let mut got: std::collections::HashMap<String, Vec<String>> = Default::default();
    for m in &messages {
        let channel = String::from_utf8(m.key.clone().unwrap()).unwrap();
        got.entry(channel)
            .or_default()
            .push(String::from_utf8(m.value.clone().unwrap()).unwrap());
    }
    assert_eq!(
        got, witnessed,
        "every message its node delivered, once, in publish order per channel"
    );
    for (channel, messages) in &got {
        let all = &sent[channel];
        assert!(
            messages.iter().all(|m| all.contains(m)),
            "only what was published on {channel}"
        );
    }
    let forwarded: i64 = primaries
        .iter()
        .map(|&node| records(&mut cluster.conn(node), "cc"))
        .sum();
    assert_eq!(forwarded, total);
    for &node in &primaries {
        for replica in cluster.replicas_of(node) {
            let mut conn = cluster.conn(replica);
            wait_until("the replica knows the source", DEADLINE, || {
                common::try_cmd::<Value>(&mut conn, &["KAFKA.STATUS", "cc"]).is_ok()
            });
            assert_eq!(status_field::<String>(&mut conn, "cc", "state"), "replica");
            assert!(subscriber_clients(&mut conn, "cc").is_empty());
        }
    }
}
