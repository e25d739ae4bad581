//! Comparing a KEYS source's topic with the dataset: each key's latest record read back from
//! the topic, and what the key holds in Redis rendered the way the source should render it.

use super::{cmd, DEADLINE};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use redis::Connection;
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// The key under which a record without a key is kept.
pub const NO_KEY: &[u8] = b"\0<no key>";

/// A key's latest record: its `redis.type` header and value; `None` for a tombstone.
pub type Latest = BTreeMap<Vec<u8>, Option<(String, Vec<u8>)>>;

/// `KAFKA.SOURCE.CREATE <name> BROKERS <bootstrap> <extra...>`, which must reply OK.
pub fn create_keys_source(conn: &mut Connection, bootstrap: &str, name: &str, extra: &[&str]) {
    let mut args = vec!["KAFKA.SOURCE.CREATE", name, "BROKERS", bootstrap];
    args.extend_from_slice(extra);
    assert_eq!(cmd::<String>(conn, &args), "OK");
}

/// Reads `topic` from its start to its current end; each key's latest record wins.
pub fn read_latest(bootstrap: &str, topic: &str) -> (Latest, usize) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "unused")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut ends = HashMap::new();
    let mut assignment = TopicPartitionList::new();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .expect("metadata");
    for t in metadata.topics() {
        for p in t.partitions() {
            let (low, high) = consumer
                .fetch_watermarks(topic, p.id(), Duration::from_secs(5))
                .expect("watermarks");
            if high > low {
                ends.insert(p.id(), high);
                assignment
                    .add_partition_offset(topic, p.id(), Offset::Offset(low))
                    .unwrap();
            }
        }
    }
    let mut latest = Latest::new();
    let mut count = 0;
    if ends.is_empty() {
        return (latest, 0);
    }
    consumer.assign(&assignment).unwrap();
    let deadline = Instant::now() + DEADLINE;
    while !ends.is_empty() {
        assert!(Instant::now() < deadline, "reading {topic} to its end");
        let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        count += 1;
        if ends
            .get(&m.partition())
            .is_some_and(|e| m.offset() + 1 >= *e)
        {
            ends.remove(&m.partition());
        }
        let kind = m
            .headers()
            .and_then(|h| h.iter().find(|h| h.key == "redis.type"))
            .and_then(|h| h.value)
            .map(|v| String::from_utf8_lossy(v).to_string())
            .unwrap_or_default();
        let key = m.key().unwrap_or(NO_KEY).to_vec();
        latest.insert(key, m.payload().map(|v| (kind, v.to_vec())));
    }
    (latest, count)
}

/// What a key holds, as the source should render it: (type, JSON or raw bytes).
pub fn expected_value(conn: &mut Connection, key: &[u8]) -> Option<(String, Json)> {
    let kind: String = redis::cmd("TYPE").arg(key).query(conn).unwrap();
    let text = |v: &Vec<u8>| Json::String(String::from_utf8_lossy(v).to_string());
    let value = match kind.as_str() {
        "none" | "stream" => return None,
        "string" => {
            let raw: Vec<u8> = redis::cmd("GET").arg(key).query(conn).unwrap();
            return Some(("string".into(), json!(raw)));
        }
        "hash" => {
            let map: HashMap<Vec<u8>, Vec<u8>> =
                redis::cmd("HGETALL").arg(key).query(conn).unwrap();
            Json::Object(
                map.iter()
                    .map(|(f, v)| (String::from_utf8_lossy(f).to_string(), text(v)))
                    .collect(),
            )
        }
        "list" => {
            let items: Vec<Vec<u8>> = redis::cmd("LRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .query(conn)
                .unwrap();
            Json::Array(items.iter().map(text).collect())
        }
        "set" => {
            let mut items: Vec<Vec<u8>> = redis::cmd("SMEMBERS").arg(key).query(conn).unwrap();
            items.sort();
            Json::Array(items.iter().map(text).collect())
        }
        "zset" => {
            let items: Vec<(Vec<u8>, f64)> = redis::cmd("ZRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query(conn)
                .unwrap();
            Json::Object(
                items
                    .iter()
                    .map(|(m, s)| (String::from_utf8_lossy(m).to_string(), json!(s)))
                    .collect(),
            )
        }
        "ReJSON-RL" => {
            let doc: String = redis::cmd("JSON.GET").arg(key).query(conn).unwrap();
            return Some(("json".into(), serde_json::from_str(&doc).unwrap()));
        }
        other => panic!("unexpected type {other}"),
    };
    Some((kind, value))
}

/// The topic's latest record as the same (type, JSON) shape.
pub fn topic_value(record: &Option<(String, Vec<u8>)>) -> Option<(String, Json)> {
    let (kind, bytes) = record.as_ref()?;
    if kind == "string" {
        return Some((kind.clone(), json!(bytes)));
    }
    Some((
        kind.clone(),
        serde_json::from_slice(bytes).expect("JSON value"),
    ))
}

/// Differences between the topic's latest record per key and the dataset, over every key that
/// matches `prefix` in either; empty when the topic mirrors the dataset.
pub fn mismatches(
    conn: &mut Connection,
    bootstrap: &str,
    topic: &str,
    prefix: &str,
) -> Vec<String> {
    let (latest, _) = read_latest(bootstrap, topic);
    let mut keys: Vec<Vec<u8>> = scan_all_keys(conn, &format!("{prefix}*"));
    keys.extend(latest.keys().cloned());
    keys.sort();
    keys.dedup();
    let mut wrong = Vec::new();
    for key in keys {
        let want = expected_value(conn, &key);
        let have = latest.get(&key).and_then(topic_value);
        if want != have {
            wrong.push(format!(
                "{}: dataset {want:?}, topic {have:?}",
                String::from_utf8_lossy(&key)
            ));
        }
    }
    wrong
}

pub fn scan_all_keys(conn: &mut Connection, pattern: &str) -> Vec<Vec<u8>> {
    let mut cursor = 0u64;
    let mut keys = Vec::new();
    loop {
        let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query(conn)
            .unwrap();
        keys.extend(batch);
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

/// Waits until the topic mirrors the dataset, showing the first differences on timeout.
pub fn wait_mirrored(conn: &mut Connection, bootstrap: &str, topic: &str, prefix: &str) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let wrong = mismatches(conn, bootstrap, topic, prefix);
        if wrong.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} keys differ, first: {:?}",
            wrong.len(),
            &wrong[..wrong.len().min(5)]
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
