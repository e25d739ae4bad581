//! Sinks, sources, the DLQ and KAFKA.PRODUCE reach Kafka over TLS (server certificate checked
//! against a CA; client certificates) and SASL (SCRAM-SHA-256/512; SASL over TLS), against
//! Tansu behind Debian's stunnel4 (see tests/common/tls.rs). A wrong password or an untrusted
//! certificate shows in `last_error`, and the bridge recovers by itself once the broker
//! accepts it. No password or key material reaches a reply, SLOWLOG, MONITOR, INFO or the log.
//!
//! Tansu 0.6.0 offers SCRAM only: its SASL library is built without PLAIN, so a PLAIN login
//! is refused at the handshake ("no shared mechanism"). The PLAIN test checks that the
//! module's settings reach librdkafka and that the refusal shows clearly.

mod common;

use common::monitor::Monitor;
use common::tls::{sasl_config, SecureKafka, Tls, KEY_PASSWORD};
use common::*;
use redis::Connection;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
/// A source whose broker does not answer first waits for topic creation (up to 15 s) before it
/// reads its producer's error.
const ERROR_WAIT: Duration = Duration::from_secs(45);

fn run(conn: &mut Connection, words: &[String]) -> String {
    let args: Vec<&str> = words.iter().map(String::as_str).collect();
    cmd(conn, &args)
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// CONFIG words for TLS: `security.protocol ssl` and the CA (and the client certificate).
fn ssl(kafka: &SecureKafka, mutual: bool) -> Vec<String> {
    let mut words = strings(&["CONFIG", "security.protocol", "ssl"]);
    words.extend(kafka.tls_config(mutual));
    words
}

fn create_sink(conn: &mut Connection, kafka: &SecureKafka, name: &str, extra: &[String]) {
    let mut words = strings(&["KAFKA.SINK.CREATE", name, "BROKERS"]);
    words.push(kafka.bootstrap());
    words.extend(strings(&FAST_GROUP));
    words.extend(extra.iter().cloned());
    assert_eq!(run(conn, &words), "OK");
}

fn create_source(conn: &mut Connection, kafka: &SecureKafka, name: &str, extra: &[String]) {
    let mut words = strings(&["KAFKA.SOURCE.CREATE", name, "BROKERS"]);
    words.push(kafka.bootstrap());
    words.extend(extra.iter().cloned());
    assert_eq!(run(conn, &words), "OK");
}

fn last_error(conn: &mut Connection, name: &str) -> String {
    status_field::<Option<String>>(conn, name, "last_error").unwrap_or_default()
}

fn wait_error(conn: &mut Connection, name: &str, needle: &str) -> String {
    let mut seen = String::new();
    wait_until(
        &format!("{name} last_error with '{needle}'"),
        ERROR_WAIT,
        || {
            seen = last_error(conn, name);
            seen.contains(needle)
        },
    );
    seen
}

fn wait_get(conn: &mut Connection, key: &str, value: &str) {
    wait_until(&format!("{key} = {value}"), WAIT, || {
        try_cmd::<Option<String>>(conn, &["GET", key])
            .ok()
            .flatten()
            == Some(value.to_string())
    });
}

/// Sink `name` on topic `t` with the given client settings.
fn sink_with(conn: &mut Connection, kafka: &SecureKafka, name: &str, client: Vec<String>) {
    let mut extra = strings(&["TOPICS", "t"]);
    extra.extend(client);
    create_sink(conn, kafka, name, &extra);
}

/// Source `src` from stream `orders` to topic `out` with the given client settings.
fn source_with(conn: &mut Connection, kafka: &SecureKafka, client: Vec<String>) {
    let mut extra = strings(&["STREAMS", "orders", "TOPIC", "out", "FROM", "BEGINNING"]);
    extra.extend(client);
    create_source(conn, kafka, "src", &extra);
}

/// Records produced through the plaintext sibling reach the sink's Redis.
fn sink_applies(conn: &mut Connection, kafka: &SecureKafka, topic: &str, key: &str) {
    produce(&kafka.plain_bootstrap(), topic, &[Rec::kv(key, "v")]);
    wait_get(conn, &format!("{topic}:{key}"), "v");
}

/// An entry XADDed to `stream` reaches `topic` (read through the plaintext sibling).
fn source_forwards(conn: &mut Connection, kafka: &SecureKafka, stream: &str, topic: &str) {
    cmd::<String>(conn, &["XADD", stream, "*", "n", "1"]);
    let deadline = std::time::Instant::now() + ERROR_WAIT;
    loop {
        let now = status(conn, "src");
        let forwarded = now
            .iter()
            .any(|(field, value)| field == "records" && *value == redis::Value::Int(1));
        if forwarded {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "src did not forward the entry: {now:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let got = consume(&kafka.plain_bootstrap(), topic, 1);
    assert_eq!(got[0].key.as_deref(), Some(stream.as_bytes()));
}

#[test]
fn tls_sink_with_dlq_and_source_check_the_server_certificate() {
    let kafka = SecureKafka::start(Tls::On, false);
    for topic in ["t", "dlq", "out"] {
        create_topic(&kafka.plain_bootstrap(), topic, 1);
    }
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let mut extra = strings(&["TOPICS", "t", "TYPE", "HASH", "ON-ERROR", "DLQ", "dlq"]);
    extra.extend(ssl(&kafka, false));
    create_sink(&mut conn, &kafka, "s", &extra);
    // A record the sink cannot apply goes to the DLQ, whose producer uses TLS too.
    produce(
        &kafka.plain_bootstrap(),
        "t",
        &[Rec::kv("bad", "not json"), Rec::kv("good", r#"{"a":"1"}"#)],
    );
    wait_until("t:good written", WAIT, || {
        try_cmd::<Option<String>>(&mut conn, &["HGET", "t:good", "a"])
            .ok()
            .flatten()
            .as_deref()
            == Some("1")
    });
    let letters = consume(&kafka.plain_bootstrap(), "dlq", 1);
    assert_eq!(letters[0].key.as_deref(), Some(b"bad".as_slice()));
    assert_eq!(count_field(&mut conn, "s", "dlq"), 1);
    // The source creates its topic (admin client) and produces over TLS.
    let mut extra = strings(&[
        "STREAMS",
        "orders",
        "TOPIC",
        "orders-out",
        "FROM",
        "BEGINNING",
    ]);
    extra.extend(ssl(&kafka, false));
    create_source(&mut conn, &kafka, "src", &extra);
    source_forwards(&mut conn, &kafka, "orders", "orders-out");
    for name in ["s", "src"] {
        assert_eq!(status_field::<String>(&mut conn, name, "state"), "running");
    }
}

#[test]
fn kafka_produce_uses_the_produce_config_for_tls() {
    let kafka = SecureKafka::start(Tls::On, false);
    create_topic(&kafka.plain_bootstrap(), "p", 1);
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    cmd::<String>(
        &mut conn,
        &["CONFIG", "SET", "kafka.brokers", &kafka.bootstrap()],
    );
    let file = kafka.dir.join("produce.properties");
    let properties = format!(
        "# KAFKA.PRODUCE over TLS\nsecurity.protocol=ssl\nssl.ca.location={}\n",
        kafka.certs.ca.display()
    );
    std::fs::write(&file, properties).unwrap();
    let path = file.display().to_string();
    cmd::<String>(
        &mut conn,
        &["CONFIG", "SET", "kafka.produce-config-file", &path],
    );
    let reply: Vec<i64> = cmd(&mut conn, &["KAFKA.PRODUCE", "p", "hello", "KEY", "k"]);
    assert_eq!(reply, vec![0, 0]);
    let got = consume(&kafka.plain_bootstrap(), "p", 1);
    assert_eq!(got[0].value.as_deref(), Some(b"hello".as_slice()));
    // A property librdkafka does not know is refused when the file is named, not at the next
    // PRODUCE; a file edited after that is refused by the next PRODUCE.
    std::fs::write(&file, "no.such.property=1\n").unwrap();
    let bad = kafka.dir.join("bad.properties");
    std::fs::write(&bad, "no.such.property=1\n").unwrap();
    let error = cmd_err(
        &mut conn,
        &[
            "CONFIG",
            "SET",
            "kafka.produce-config-file",
            &bad.display().to_string(),
        ],
    );
    assert!(error.contains("no.such.property"), "{error}");
    let error = cmd_err(&mut conn, &["KAFKA.PRODUCE", "p", "x"]);
    assert!(
        error.starts_with("ERR kafka.produce-config-file") && error.contains("no.such.property"),
        "{error}"
    );
}

#[test]
fn mutual_tls_needs_the_client_certificate() {
    let kafka = SecureKafka::start(Tls::Mutual, false);
    for topic in ["t", "out"] {
        create_topic(&kafka.plain_bootstrap(), topic, 1);
    }
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    sink_with(&mut conn, &kafka, "anonymous", ssl(&kafka, false));
    let error = wait_error(&mut conn, "anonymous", "certificate required");
    assert!(error.starts_with("kafka: "), "{error}");
    sink_with(&mut conn, &kafka, "s", ssl(&kafka, true));
    sink_applies(&mut conn, &kafka, "t", "k1");
    source_with(&mut conn, &kafka, ssl(&kafka, true));
    source_forwards(&mut conn, &kafka, "orders", "out");
}

#[test]
fn an_untrusted_certificate_shows_and_the_bridges_recover_when_it_is_replaced() {
    let mut kafka = SecureKafka::start(Tls::Untrusted, false);
    for topic in ["t", "out"] {
        create_topic(&kafka.plain_bootstrap(), topic, 1);
    }
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    sink_with(&mut conn, &kafka, "s", ssl(&kafka, false));
    source_with(&mut conn, &kafka, ssl(&kafka, false));
    cmd::<String>(&mut conn, &["XADD", "orders", "*", "n", "1"]);
    for name in ["s", "src"] {
        // librdkafka words it "SSL handshake failed: ..." or, when the failure reaches it as a
        // transport error, "... certificate verify failed (after Nms in state SSL_HANDSHAKE)".
        let error = wait_error(&mut conn, name, "certificate verify failed");
        assert!(error.starts_with("kafka: "), "{error}");
        assert!(error.contains("SSL"), "{error}");
    }
    // The broker now shows a certificate the CA signed: no RESUME needed.
    kafka.trust();
    sink_applies(&mut conn, &kafka, "t", "k1");
    let got = consume(&kafka.plain_bootstrap(), "out", 1);
    assert_eq!(got[0].key.as_deref(), Some(b"orders".as_slice()));
    for name in ["s", "src"] {
        assert_eq!(status_field::<String>(&mut conn, name, "state"), "running");
    }
}

#[test]
fn sasl_scram_sha_512_sink_and_sha_256_source() {
    let kafka = SecureKafka::start(Tls::Off, true);
    for topic in ["t", "out"] {
        create_topic(&kafka.plain_bootstrap(), topic, 1);
    }
    kafka.create_user("alice", "alice-pw-512", "scram512");
    kafka.create_user("bob", "bob-pw-256", "scram256");
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    sink_with(
        &mut conn,
        &kafka,
        "s",
        sasl_config("sasl_plaintext", "SCRAM-SHA-512", "alice", "alice-pw-512"),
    );
    source_with(
        &mut conn,
        &kafka,
        sasl_config("sasl_plaintext", "SCRAM-SHA-256", "bob", "bob-pw-256"),
    );
    sink_applies(&mut conn, &kafka, "t", "k1");
    source_forwards(&mut conn, &kafka, "orders", "out");
}

#[test]
fn a_refused_login_shows_and_the_bridges_recover_once_the_user_exists() {
    let kafka = SecureKafka::start(Tls::Off, true);
    for topic in ["t", "out"] {
        create_topic(&kafka.plain_bootstrap(), topic, 1);
    }
    let password = "carol-pw-not-yet";
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    sink_with(
        &mut conn,
        &kafka,
        "s",
        sasl_config("sasl_plaintext", "SCRAM-SHA-512", "carol", password),
    );
    source_with(
        &mut conn,
        &kafka,
        sasl_config("sasl_plaintext", "SCRAM-SHA-512", "carol", password),
    );
    cmd::<String>(&mut conn, &["XADD", "orders", "*", "n", "1"]);
    for name in ["s", "src"] {
        let error = wait_error(&mut conn, name, "SASL authentication error");
        assert!(!error.contains(password), "{error}");
    }
    kafka.create_user("carol", password, "scram512");
    sink_applies(&mut conn, &kafka, "t", "k1");
    let got = consume(&kafka.plain_bootstrap(), "out", 1);
    assert_eq!(got[0].key.as_deref(), Some(b"orders".as_slice()));
    assert!(!redis.log().contains(password));
}

#[test]
fn sasl_plain_reaches_the_broker_which_refuses_the_mechanism() {
    let kafka = SecureKafka::start(Tls::Off, true);
    create_topic(&kafka.plain_bootstrap(), "t", 1);
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    sink_with(
        &mut conn,
        &kafka,
        "s",
        sasl_config("sasl_plaintext", "PLAIN", "dave", "dave-pw"),
    );
    let error = wait_error(&mut conn, "s", "SASL PLAIN mechanism handshake failed");
    assert!(!error.contains("dave-pw"), "{error}");
}

/// SCRAM over TLS with client certificates: everything at once, then every place a secret
/// could show is searched for each one.
#[test]
fn sasl_ssl_with_client_certificates_and_no_secret_anywhere() {
    let kafka = SecureKafka::start(Tls::Mutual, true);
    for topic in ["t", "out", "p"] {
        create_topic(&kafka.plain_bootstrap(), topic, 1);
    }
    let sasl_password = "erin-sasl-pw-7c2e";
    let produce_password = "produce-pw-91ad";
    kafka.create_user("erin", sasl_password, "scram512");
    kafka.create_user("frank", produce_password, "scram256");
    let redis = RedisServer::start_with(ServerOptions {
        extra: strings(&["--loglevel", "verbose"]),
        module_args: strings(&["kafka.log-level", "debug"]),
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    cmd::<String>(
        &mut conn,
        &["CONFIG", "SET", "slowlog-log-slower-than", "0"],
    );
    let monitor = Monitor::start(redis.port);
    let mut secure = sasl_config("sasl_ssl", "SCRAM-SHA-512", "erin", sasl_password);
    secure.extend(kafka.tls_config(true));
    let mut extra = strings(&["TOPICS", "t", "CONFIG", "debug", "security,conf"]);
    extra.extend(secure.clone());
    create_sink(&mut conn, &kafka, "s", &extra);
    source_with(&mut conn, &kafka, secure.clone());
    sink_applies(&mut conn, &kafka, "t", "k1");
    source_forwards(&mut conn, &kafka, "orders", "out");
    // KAFKA.PRODUCE with SCRAM-SHA-256 over mutual TLS, from kafka.produce-config-file.
    cmd::<String>(
        &mut conn,
        &["CONFIG", "SET", "kafka.brokers", &kafka.bootstrap()],
    );
    let produce_config = format!(
        "security.protocol=sasl_ssl\nsasl.mechanism=SCRAM-SHA-256\nsasl.username=frank\nsasl.password={produce_password}\nssl.ca.location={}\nssl.certificate.location={}\nssl.key.location={}\nssl.key.password={KEY_PASSWORD}\n",
        kafka.certs.ca.display(),
        kafka.certs.client.display(),
        kafka.certs.client_key.display(),
    );
    let file = kafka.dir.join("produce.properties");
    std::fs::write(&file, produce_config).unwrap();
    cmd::<String>(
        &mut conn,
        &[
            "CONFIG",
            "SET",
            "kafka.produce-config-file",
            &file.display().to_string(),
        ],
    );
    let reply: Vec<i64> = cmd(&mut conn, &["KAFKA.PRODUCE", "p", "hello"]);
    assert_eq!(reply, vec![0, 0]);
    // A redis-kafka-connect config with a JAAS line (which librdkafka has no property for).
    let jaas = format!(
        r#"{{"connector.class":"com.redis.kafka.connect.RedisSinkConnector","topics":"t","consumer.override.sasl.jaas.config":"org.apache.kafka.common.security.scram.ScramLoginModule required username=\"erin\" password=\"{sasl_password}\";"}}"#
    );
    let error = cmd_err(&mut conn, &["KAFKA.SINK.IMPORT", "imported", &jaas]);
    assert!(error.starts_with("ERR"), "{error}");
    cmd::<String>(&mut conn, &["SET", "marker", "done"]);
    wait_until("MONITOR saw the marker", WAIT, || {
        monitor.text().contains("marker")
    });
    let mut outputs = vec![
        ("IMPORT error", error),
        ("MONITOR", monitor.text()),
        (
            "SLOWLOG",
            format!(
                "{:?}",
                cmd::<redis::Value>(&mut conn, &["SLOWLOG", "GET", "1000"])
            ),
        ),
        ("INFO", cmd::<String>(&mut conn, &["INFO", "everything"])),
        ("log", redis.log()),
    ];
    for command in [
        vec!["KAFKA.SINK.LIST"],
        vec!["KAFKA.SOURCE.LIST"],
        vec!["KAFKA.STATUS"],
    ] {
        outputs.push((
            command[0],
            format!("{:?}", cmd::<redis::Value>(&mut conn, &command)),
        ));
    }
    for (what, output) in &outputs {
        for secret in [sasl_password, produce_password, KEY_PASSWORD] {
            assert!(!output.contains(secret), "{secret} in {what}");
        }
        assert!(!output.contains("PRIVATE KEY"), "key material in {what}");
    }
    // The librdkafka debug lines did reach the log (so the search above meant something).
    assert!(
        redis.log().contains("librdkafka"),
        "no librdkafka lines logged"
    );
    assert!(outputs[3].1.contains("kafka_bridge_s:"));
}
