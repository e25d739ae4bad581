//! Sink TYPE PUBLISH: records reach real subscribers in partition order, byte-exact, on the
//! rendered channel; tombstones are skipped and counted; options that write keys are refused;
//! a restart never publishes again what the stored offsets cover; a replica's subscribers get
//! each message once; on Redis Cluster one primary publishes each record.

mod common;

use common::cluster::Cluster;
use common::subscriber::Subscriber;
use common::*;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn create_publish_sink(conn: &mut redis::Connection, bootstrap: &str, name: &str, extra: &[&str]) {
    let mut args = vec!["TYPE", "PUBLISH"];
    args.extend_from_slice(extra);
    create_sink(conn, bootstrap, name, &args);
}

/// A sink's entry of KAFKA.SINK.LIST as a map.
fn listed(conn: &mut redis::Connection, name: &str) -> HashMap<String, redis::Value> {
    let list: Vec<Vec<redis::Value>> = cmd(conn, &["KAFKA.SINK.LIST"]);
    list.iter()
        .map(|entry| pairs(entry))
        .find(|entry| entry.get("name") == Some(&redis::Value::BulkString(name.into())))
        .unwrap_or_else(|| panic!("{name} not listed"))
}

fn value_text(value: Option<&redis::Value>) -> String {
    match value {
        Some(v) => redis::from_redis_value(v).unwrap_or_else(|e| panic!("{v:?}: {e}")),
        None => panic!("field missing"),
    }
}

const BINARY: &[u8] = b"p0-bin\x00\r\n\xff\r\nend\x00";

fn records_deliver_in_partition_order_on_their_channels(binary: PathBuf) {
    let kafka = MockKafka::new();
    kafka.create_topic("ev", 2);
    kafka.create_topic("tpl", 1);
    let mut raw = Vec::new();
    let mut expected: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
    for i in 0..40 {
        let p = i % 2;
        let rec = match i {
            6 => Rec {
                key: Some(b"k".to_vec()),
                value: Some(BINARY.to_vec()),
                ..Rec::default()
            },
            9 | 20 => Rec::tombstone("k"),
            _ => Rec::kv("k", &format!("p{p}-{i}")),
        };
        if let Some(value) = &rec.value {
            expected[p as usize].push(value.clone());
        }
        raw.push(rec.in_partition(p));
    }
    produce(&kafka.bootstrap(), "ev", &raw);
    let mut templated = Vec::new();
    for i in 0..10 {
        let kind = if i % 3 == 0 { "view" } else { "click" };
        templated.push(Rec::kv(
            &format!("u{}", i % 4),
            &format!(r#"{{"kind":"{kind}","n":{i}}}"#),
        ));
    }
    templated.insert(5, Rec::tombstone("u1"));
    produce(&kafka.bootstrap(), "tpl", &templated);

    let redis = RedisServer::start_with(ServerOptions {
        binary,
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    let mut on_topic = Subscriber::new(redis.port, "ev");
    let mut on_template = Subscriber::new(redis.port, "tpl:*");
    let b = kafka.bootstrap();
    create_publish_sink(&mut conn, &b, "ev", &["TOPICS", "ev"]);
    create_publish_sink(
        &mut conn,
        &b,
        "tpl",
        &["TOPICS", "tpl", "CHANNEL", "tpl:${key}:${value.kind}"],
    );

    // Default channel ${topic}: each partition's values in order, the binary one byte-exact.
    let got = on_topic.take(38);
    assert!(got.iter().all(|(channel, _)| channel == b"ev"));
    let mut per_partition: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
    for (_, payload) in got {
        let p = usize::from(payload[1] - b'0');
        per_partition[p].push(payload);
    }
    assert_eq!(per_partition, expected);
    assert!(per_partition[0].iter().any(|v| v == BINARY));

    // A template over the key and a JSON field of the value.
    let got = on_template.take(10);
    let channels: Vec<String> = got.iter().map(|(c, _)| text(c)).collect();
    let want: Vec<String> = (0..10)
        .map(|i| {
            let kind = if i % 3 == 0 { "view" } else { "click" };
            format!("tpl:u{}:{kind}", i % 4)
        })
        .collect();
    assert_eq!(channels, want);
    assert_eq!(text(&got[3].1), r#"{"kind":"view","n":3}"#);

    wait_until("every offset stored", DEADLINE, || {
        stored_total(&mut conn, "ev") == 40 && stored_total(&mut conn, "tpl") == 11
    });
    assert_eq!(count_field(&mut conn, "ev", "records"), 38);
    assert_eq!(count_field(&mut conn, "ev", "skipped"), 2);
    assert_eq!(count_field(&mut conn, "ev", "errors"), 0);
    assert_eq!(count_field(&mut conn, "tpl", "records"), 10);
    assert_eq!(count_field(&mut conn, "tpl", "skipped"), 1);
    let info: String = cmd(&mut conn, &["INFO", "kafka"]);
    let line = info
        .lines()
        .find(|l| l.starts_with("kafka_bridge_ev:"))
        .unwrap_or_else(|| panic!("{info}"));
    assert!(
        line.contains("records=38") && line.contains("skipped=2"),
        "{line}"
    );

    // The definition shows what it publishes on; nothing was written but the module's state.
    let entry = listed(&mut conn, "tpl");
    assert_eq!(value_text(entry.get("type")), "PUBLISH");
    assert_eq!(value_text(entry.get("channel")), "tpl:${key}:${value.kind}");
    assert!(!entry.contains_key("key"), "{entry:?}");
    assert_eq!(status_field::<String>(&mut conn, "ev", "type"), "PUBLISH");
    assert_eq!(
        status_field::<String>(&mut conn, "ev", "channel"),
        "${topic}"
    );
    let keys: Vec<String> = cmd(&mut conn, &["KEYS", "*"]);
    assert!(keys.iter().all(|k| k.starts_with("__kafka:")), "{keys:?}");
}

#[test]
fn records_deliver_in_partition_order_on_their_channels_redis() {
    records_deliver_in_partition_order_on_their_channels(redis_server());
}

#[test]
fn records_deliver_in_partition_order_on_their_channels_valkey() {
    records_deliver_in_partition_order_on_their_channels(valkey_server());
}

#[test]
fn records_deliver_in_partition_order_on_their_channels_redis74() {
    records_deliver_in_partition_order_on_their_channels(redis_7_4_server());
}

#[test]
fn options_that_write_keys_are_refused_and_create_nothing() {
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let cases: [(&[&str], &str); 8] = [
        (
            &["TYPE", "PUBLISH", "KEY", "k"],
            "ERR KEY does not apply to TYPE PUBLISH",
        ),
        (
            &["TYPE", "PUBLISH", "TTL", "60"],
            "ERR TTL does not apply to TYPE PUBLISH",
        ),
        (
            &["TYPE", "PUBLISH", "MEMBER", "${key}"],
            "ERR MEMBER applies to TYPE LIST, SET or ZSET, not PUBLISH",
        ),
        (
            &["TYPE", "PUBLISH", "SCORE", "${value}"],
            "ERR SCORE applies to TYPE ZSET, not PUBLISH",
        ),
        (
            &["TYPE", "PUBLISH", "PUSH", "LEFT"],
            "ERR PUSH applies to TYPE LIST, not PUBLISH",
        ),
        (
            &["CHANNEL", "c"],
            "ERR CHANNEL applies to TYPE PUBLISH, not STRING",
        ),
        (
            &["TYPE", "HASH", "CHANNEL", "c"],
            "ERR CHANNEL applies to TYPE PUBLISH, not HASH",
        ),
        (
            &["TYPE", "PUBLISH", "CHANNEL", "${nope}"],
            "ERR CHANNEL: unknown placeholder '${nope}'",
        ),
    ];
    for (options, expected) in cases {
        let mut args = vec![
            "KAFKA.SINK.CREATE",
            "p",
            "TOPICS",
            "t",
            "BROKERS",
            "127.0.0.1:1",
        ];
        args.extend_from_slice(options);
        let error = cmd_err(&mut conn, &args);
        assert!(error.starts_with(expected), "{options:?}: {error}");
    }
    assert!(cmd::<Vec<redis::Value>>(&mut conn, &["KAFKA.SINK.LIST"]).is_empty());
    assert!(cmd::<Vec<redis::Value>>(&mut conn, &["KAFKA.STATUS"]).is_empty());
    assert_eq!(cmd::<i64>(&mut conn, &["DBSIZE"]), 0);
}

/// Every file of the server's AOF, concatenated.
fn aof_bytes(redis: &RedisServer) -> Vec<u8> {
    let mut all = Vec::new();
    let dir = redis.dir.join("appendonlydir");
    for entry in std::fs::read_dir(&dir).expect("appendonlydir") {
        all.extend(std::fs::read(entry.expect("AOF file").path()).expect("read AOF"));
    }
    all
}

#[test]
fn a_reloaded_or_restarted_sink_does_not_publish_stored_records_again() {
    let kafka = MockKafka::new();
    kafka.create_topic("rs", 2);
    produce(&kafka.bootstrap(), "rs", &numbered(0, 40, 7));
    let mut redis = RedisServer::start_with(ServerOptions {
        extra: [
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--enable-debug-command",
            "yes",
        ]
        .map(String::from)
        .to_vec(),
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    let mut subscriber = Subscriber::new(redis.port, "rs");
    create_publish_sink(&mut conn, &kafka.bootstrap(), "rs", &["TOPICS", "rs"]);
    let first = subscriber.take(40);
    let distinct: HashSet<&Vec<u8>> = first.iter().map(|(_, v)| v).collect();
    assert_eq!(distinct.len(), 40);
    wait_until("40 offsets stored", DEADLINE, || {
        stored_total(&mut conn, "rs") == 40
    });
    // PUBLISH reaches replicas only, never the AOF: replaying it cannot publish again.
    let command = b"$7\r\nPUBLISH\r\n";
    let aof = aof_bytes(&redis);
    assert!(!aof
        .windows(command.len())
        .any(|w| w.eq_ignore_ascii_case(command)));

    // DEBUG RELOAD (save, flush, load): the subscriber stays connected through it, so anything
    // published again would arrive before the next record.
    assert_eq!(cmd::<String>(&mut conn, &["DEBUG", "RELOAD"]), "OK");
    produce(&kafka.bootstrap(), "rs", &[Rec::kv("m", "after-reload")]);
    assert_eq!(subscriber.until(b"after-reload"), Vec::new());
    wait_until("41 offsets stored", DEADLINE, || {
        stored_total(&mut conn, "rs") == 41
    });

    // kill -9 with every offset fsynced, then a restart from the AOF: the sink comes back by
    // itself and publishes only the new record (its counters start again from zero).
    redis.kill9();
    redis.restart();
    let mut conn = redis.conn();
    let mut subscriber = Subscriber::new(redis.port, "rs");
    assert_eq!(stored_total(&mut conn, "rs"), 41);
    produce(&kafka.bootstrap(), "rs", &[Rec::kv("m", "after-restart")]);
    assert_eq!(subscriber.until(b"after-restart"), Vec::new());
    wait_until("42 offsets stored", DEADLINE, || {
        stored_total(&mut conn, "rs") == 42
    });
    assert_eq!(count_field(&mut conn, "rs", "records"), 1);
}

#[test]
fn subscribers_of_a_replica_get_each_message_once() {
    let kafka = MockKafka::new();
    kafka.create_topic("rep", 2);
    let primary = RedisServer::start();
    let replica = RedisServer::start();
    let mut p = primary.conn();
    let mut r = replica.conn();
    cmd::<String>(
        &mut r,
        &["REPLICAOF", "127.0.0.1", &primary.port.to_string()],
    );
    wait_until("replica in sync", DEADLINE, || {
        cmd::<String>(&mut r, &["INFO", "replication"]).contains("master_link_status:up")
    });
    let mut on_primary = Subscriber::new(primary.port, "rep");
    let mut on_replica = Subscriber::new(replica.port, "rep");
    create_publish_sink(&mut p, &kafka.bootstrap(), "rep", &["TOPICS", "rep"]);
    produce(&kafka.bootstrap(), "rep", &numbered(0, 200, 13));
    produce(&kafka.bootstrap(), "rep", &[Rec::kv("m", "end")]);
    for subscriber in [&mut on_primary, &mut on_replica] {
        let got = subscriber.until(b"end");
        let distinct: HashSet<&Vec<u8>> = got.iter().map(|(_, v)| v).collect();
        assert_eq!((got.len(), distinct.len()), (200, 200));
    }
    wait_until("replica holds every offset", DEADLINE, || {
        stored_total(&mut r, "rep") == 201
    });
    assert_eq!(status_field::<String>(&mut r, "rep", "state"), "replica");
    assert_eq!(count_field(&mut r, "rep", "records"), 0);
    // Nothing after the marker: one more record shows the next message is that one.
    produce(&kafka.bootstrap(), "rep", &[Rec::kv("m", "last")]);
    for subscriber in [&mut on_primary, &mut on_replica] {
        assert_eq!(subscriber.until(b"last"), Vec::new());
    }
}

/// `n` of a `{"n":<i>}` payload.
fn number(payload: &[u8]) -> i64 {
    let value: serde_json::Value = serde_json::from_slice(payload).expect("JSON payload");
    value["n"].as_i64().expect("n")
}

#[test]
fn on_a_cluster_one_primary_publishes_each_record() {
    let kafka = MockKafka::new();
    kafka.create_topic("cl", 4);
    let total = 300;
    produce(&kafka.bootstrap(), "cl", &numbered(0, total, 30));
    let cluster = Cluster::start(redis_server(), 3, 0);
    let mut subscribers: Vec<Subscriber> = (0..cluster.nodes.len())
        .map(|node| Subscriber::new(cluster.port(node), "cl:*"))
        .collect();
    create_publish_sink(
        &mut cluster.conn(0),
        &kafka.bootstrap(),
        "cl",
        &["TOPICS", "cl", "CHANNEL", "cl:${key}"],
    );
    // The subscriber on the primary serving a channel's slot sees each of its records once, in
    // order. Other nodes get them over the cluster bus, which drops a PUBLISH for a node whose
    // link is down at that moment (a loaded machine can drop one): there, at most once, in order.
    let per_key = |k: i64| (0..total as i64).filter(|n| n % 30 == k).count();
    for (node, subscriber) in subscribers.iter_mut().enumerate() {
        let mut got = Vec::new();
        while got.len() < total {
            match subscriber.next_within(std::time::Duration::from_secs(5)) {
                Some(message) => got.push(message),
                None => break,
            }
        }
        if got.len() < total {
            eprintln!(
                "node {node}: the cluster bus delivered {} of {total}",
                got.len()
            );
        }
        let numbers: Vec<i64> = got.iter().map(|(_, payload)| number(payload)).collect();
        let distinct: HashSet<i64> = numbers.iter().copied().collect();
        assert_eq!(distinct.len(), got.len(), "each record at most once");
        // One key, one partition, one channel: its records arrive in order.
        let mut per_channel: HashMap<Vec<u8>, Vec<i64>> = HashMap::new();
        for ((channel, _), n) in got.iter().zip(numbers) {
            assert_eq!(*channel, format!("cl:k{}", n % 30).into_bytes());
            per_channel.entry(channel.clone()).or_default().push(n);
        }
        assert!(per_channel
            .values()
            .all(|ns| ns.windows(2).all(|w| w[0] < w[1])));
        for k in 0..30 {
            let channel = format!("cl:k{k}");
            if cluster.node_for_key(&channel) == node {
                let seen = per_channel.get(channel.as_bytes()).map_or(0, Vec::len);
                assert_eq!(seen, per_key(k), "{channel} on the node serving it");
            }
        }
    }
    let published = || -> Vec<i64> {
        cluster
            .primaries()
            .into_iter()
            .map(|node| count_field(&mut cluster.conn(node), "cl", "records"))
            .collect()
    };
    // Counters are added right after the lock is released, so just after the messages left.
    wait_until("the primaries counted every record", DEADLINE, || {
        published().iter().sum::<i64>() == total as i64
    });
    let published = published();
    // Each by the primary serving its channel's hash slot.
    let mut by_channel: HashMap<usize, i64> = HashMap::new();
    for n in 0..total {
        *by_channel
            .entry(cluster.node_for_key(&format!("cl:k{}", n % 30)))
            .or_default() += 1;
    }
    let expected: Vec<i64> = cluster
        .primaries()
        .into_iter()
        .map(|node| by_channel.get(&node).copied().unwrap_or(0))
        .collect();
    assert_eq!(published, expected);
    assert!(
        published.iter().filter(|&&n| n > 0).count() > 1,
        "channels spread over the primaries: {published:?}"
    );
    // Nothing more than once: the next message everyone sees is a new record's.
    produce(&kafka.bootstrap(), "cl", &[Rec::kv("end", r#"{"n":-1}"#)]);
    let end_owner = cluster.node_for_key("cl:end");
    for (node, subscriber) in subscribers.iter_mut().enumerate() {
        let next = if node == end_owner {
            Some(subscriber.next())
        } else {
            subscriber.next_within(std::time::Duration::from_secs(5))
        };
        if let Some((channel, payload)) = next {
            assert_eq!(
                (channel.as_slice(), payload.as_slice()),
                (&b"cl:end"[..], &br#"{"n":-1}"#[..])
            );
        }
    }
}
