//! KEYS sources (change-data capture) against librdkafka's mock cluster: every type's value,
//! tombstones for deletes, expiry and eviction, the snapshot, reconciling after kill -9 and
//! dropped marks, scripts and transactions, hostile keys and values.

mod common;

use common::mirror::*;
use common::*;
use redis::{Connection, Value};
use serde_json::{json, Value as Json};

fn source_state(conn: &mut Connection, name: &str) -> String {
    status_field(conn, name, "state")
}

#[test]
fn every_type_is_carried_with_its_type_and_event_and_deletes_become_tombstones() {
    every_type_is_carried(redis_server());
}

#[test]
fn every_type_is_carried_on_valkey() {
    every_type_is_carried(valkey_server());
}

#[test]
fn every_type_is_carried_on_redis74() {
    every_type_is_carried(redis_7_4_server());
}

fn every_type_is_carried(binary: std::path::PathBuf) {
    let kafka = MockKafka::new();
    let redis = RedisServer::start_with(ServerOptions {
        binary,
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    cmd::<String>(&mut conn, &["SET", "k:before", "snap"]);
    cmd::<i64>(&mut conn, &["HSET", "other:h", "a", "1"]);
    create_keys_source(
        &mut conn,
        &kafka.bootstrap(),
        "cdc",
        &["KEYS", "k:*", "TOPIC", "cdc"],
    );
    wait_until("running", DEADLINE, || {
        source_state(&mut conn, "cdc") == "running"
    });
    cmd::<String>(&mut conn, &["SET", "k:s", "v1"]);
    cmd::<i64>(&mut conn, &["APPEND", "k:s", "+2"]);
    cmd::<i64>(&mut conn, &["HSET", "k:h", "name", "ann", "age", "31"]);
    cmd::<i64>(&mut conn, &["RPUSH", "k:l", "a", "b", "a"]);
    cmd::<i64>(&mut conn, &["SADD", "k:set", "y", "x"]);
    cmd::<i64>(&mut conn, &["ZADD", "k:z", "2.5", "m2", "1", "m1"]);
    cmd::<String>(
        &mut conn,
        &["JSON.SET", "k:j", "$", r#"{"a":[1,2],"b":{"c":null}}"#],
    );
    cmd::<String>(&mut conn, &["SET", "k:gone", "x"]);
    cmd::<i64>(&mut conn, &["DEL", "k:gone"]);
    cmd::<String>(&mut conn, &["SET", "k:expiring", "x", "PX", "1"]);
    cmd::<String>(&mut conn, &["XADD", "k:stream", "*", "f", "v"]);
    cmd::<String>(&mut conn, &["SET", "other:s", "not matched"]);
    wait_mirrored(&mut conn, &kafka.bootstrap(), "cdc", "k:");
    let (latest, _) = read_latest(&kafka.bootstrap(), "cdc");
    assert!(
        latest.keys().all(|k| k.starts_with(b"k:")),
        "only matching keys"
    );
    assert_eq!(
        latest[&b"k:s".to_vec()],
        Some(("string".into(), b"v1+2".to_vec()))
    );
    assert_eq!(
        latest[&b"k:before".to_vec()],
        Some(("string".into(), b"snap".to_vec()))
    );
    assert_eq!(latest[&b"k:gone".to_vec()], None, "DEL sends a tombstone");
    wait_until("expiry seen", DEADLINE, || {
        read_latest(&kafka.bootstrap(), "cdc")
            .0
            .get(b"k:expiring".as_slice())
            == Some(&None)
    });
    assert!(
        !latest.contains_key(b"k:stream".as_slice()),
        "streams are not carried"
    );
    // Headers: type and the last event.
    let all = consume(&kafka.bootstrap(), "cdc", 1);
    assert!(all[0].header("redis.event").is_some());
    let (_, count) = read_latest(&kafka.bootstrap(), "cdc");
    let everything = consume(&kafka.bootstrap(), "cdc", count);
    let event_of = |key: &str| -> Vec<String> {
        everything
            .iter()
            .filter(|m| m.key.as_deref() == Some(key.as_bytes()))
            .map(|m| m.header("redis.event").unwrap())
            .collect()
    };
    assert_eq!(event_of("k:before"), vec!["snapshot"]);
    assert_eq!(event_of("k:gone").last().unwrap(), "del");
    assert_eq!(event_of("k:expiring").last().unwrap(), "expired");
    assert_eq!(event_of("k:j").last().unwrap(), "json.set");
    let zset = everything
        .iter()
        .rev()
        .find(|m| m.key.as_deref() == Some(b"k:z"))
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Json>(zset.value.as_deref().unwrap()).unwrap(),
        json!({"m1": 1.0, "m2": 2.5})
    );
    assert_eq!(zset.header("redis.type").unwrap(), "zset");
    assert_eq!(
        zset.partition,
        everything
            .iter()
            .find(|m| m.key.as_deref() == Some(b"k:z"))
            .unwrap()
            .partition
    );
}

/// A small deterministic generator, so a failing run can be replayed.
struct Dice(u64);

impl Dice {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// One random change to one of `keys` keys, as a pipeline command. Every key lives under a TTL
/// long enough to outlast the test, so `volatile-lru` may evict any of them (and none of the
/// module's own keys).
fn random_change(dice: &mut Dice, keys: u64, pipe: &mut redis::Pipeline) {
    let key = format!("cdc:{}", dice.next(keys));
    let n = dice.next(1000).to_string();
    // A key changes type only through a delete, as applications do.
    let kind = dice.next(9);
    match kind {
        0 => {
            pipe.cmd("DEL").arg(&key).ignore();
            pipe.cmd("SET")
                .arg(&key)
                .arg(&n)
                .arg("EX")
                .arg(3600)
                .ignore();
        }
        1 => {
            pipe.cmd("DEL").arg(&key).ignore();
            pipe.cmd("HSET")
                .arg(&key)
                .arg("f")
                .arg(&n)
                .arg("g")
                .arg("x")
                .ignore();
        }
        2 => {
            pipe.cmd("DEL").arg(&key).ignore();
            pipe.cmd("RPUSH").arg(&key).arg(&n).arg("b").ignore();
        }
        3 => {
            pipe.cmd("DEL").arg(&key).ignore();
            pipe.cmd("SADD").arg(&key).arg(&n).arg("s").ignore();
        }
        4 => {
            pipe.cmd("DEL").arg(&key).ignore();
            pipe.cmd("ZADD").arg(&key).arg(&n).arg("m").ignore();
        }
        5 => {
            pipe.cmd("DEL").arg(&key).ignore();
            pipe.cmd("JSON.SET")
                .arg(&key)
                .arg("$")
                .arg(format!(r#"{{"n":{n}}}"#))
                .ignore();
        }
        6 => {
            pipe.cmd("DEL").arg(&key).ignore();
        }
        7 => {
            // Expires within the test: an expiry tombstone.
            pipe.cmd("PEXPIRE")
                .arg(&key)
                .arg(1 + dice.next(50))
                .ignore();
        }
        _ => {
            pipe.cmd("SET").arg(&key).arg(format!("over-{n}")).ignore();
        }
    }
    if kind != 7 {
        pipe.cmd("EXPIRE").arg(&key).arg(3600).ignore();
    }
}

fn run_changes(conn: &mut Connection, dice: &mut Dice, keys: u64, changes: usize) {
    for _ in 0..changes / 500 {
        let mut pipe = redis::pipe();
        for _ in 0..500 {
            random_change(dice, keys, &mut pipe);
        }
        // OOM refusals under maxmemory are part of the test.
        let _: redis::RedisResult<()> = pipe.query(conn);
    }
}

#[test]
fn random_changes_with_eviction_and_a_kill9_leave_the_topic_equal_to_the_dataset() {
    let kafka = MockKafka::new();
    let mut redis = RedisServer::start_with(ServerOptions {
        extra: vec![
            "--appendonly".into(),
            "yes".into(),
            "--appendfsync".into(),
            "always".into(),
            "--maxmemory-policy".into(),
            "volatile-lru".into(),
        ],
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15);
    // Half the keys exist before the source: the snapshot carries them.
    run_changes(&mut conn, &mut dice, 10_000, 10_000);
    create_keys_source(
        &mut conn,
        &kafka.bootstrap(),
        "chaos",
        &["KEYS", "cdc:*", "TOPIC", "chaos", "PARTITIONS", "4"],
    );
    run_changes(&mut conn, &mut dice, 10_000, 20_000);
    // Crash while marks are pending and records are in flight.
    redis.kill9();
    redis.restart();
    let mut conn = redis.conn();
    wait_until("running after restart", DEADLINE, || {
        source_state(&mut conn, "chaos") == "running"
    });
    // Crash while paused: every mark made meanwhile is lost with the process, so only the
    // reconcile at the next start can bring these changes to the topic.
    cmd::<String>(&mut conn, &["KAFKA.SOURCE.PAUSE", "chaos"]);
    run_changes(&mut conn, &mut dice, 10_000, 5_000);
    assert!(
        !mismatches(&mut conn, &kafka.bootstrap(), "chaos", "cdc:").is_empty(),
        "changes made while paused are not in the topic yet"
    );
    redis.kill9();
    redis.restart();
    let mut conn = redis.conn();
    cmd::<String>(&mut conn, &["KAFKA.SOURCE.RESUME", "chaos"]);
    wait_mirrored(&mut conn, &kafka.bootstrap(), "chaos", "cdc:");
    run_changes(&mut conn, &mut dice, 10_000, 10_000);
    // Eviction: cap memory just above what is used, then keep writing.
    let info: String = cmd(&mut conn, &["INFO", "memory"]);
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    cmd::<String>(
        &mut conn,
        &[
            "CONFIG",
            "SET",
            "maxmemory",
            &(used - 256 * 1024).to_string(),
        ],
    );
    run_changes(&mut conn, &mut dice, 10_000, 3_000);
    let evicted: u64 = cmd::<String>(&mut conn, &["INFO", "stats"])
        .lines()
        .find_map(|l| l.strip_prefix("evicted_keys:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    cmd::<String>(&mut conn, &["CONFIG", "SET", "maxmemory", "0"]);
    wait_mirrored(&mut conn, &kafka.bootstrap(), "chaos", "cdc:");
    let (latest, records) = read_latest(&kafka.bootstrap(), "chaos");
    let live = latest.values().filter(|v| v.is_some()).count();
    println!(
        "keys in topic {}, live {live}, records {records}, evicted {evicted}",
        latest.len()
    );
    assert!(evicted > 0, "the test must evict keys");
}

#[test]
fn dropped_marks_are_recovered_by_reconciling_and_other_databases_are_not_followed() {
    let kafka = MockKafka::new();
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let bootstrap = kafka.bootstrap();
    create_keys_source(&mut conn, &bootstrap, "re", &["KEYS", "r:*", "TOPIC", "re"]);
    for n in 0..200 {
        cmd::<String>(&mut conn, &["SET", &format!("r:{n}"), "first"]);
    }
    wait_mirrored(&mut conn, &bootstrap, "re", "r:");
    // More changes than marks while paused: the marks are dropped for a rescan.
    cmd::<String>(
        &mut conn,
        &["CONFIG", "SET", "kafka.source-changes-max-keys", "10"],
    );
    cmd::<String>(&mut conn, &["KAFKA.SOURCE.PAUSE", "re"]);
    for n in 0..100 {
        cmd::<i64>(&mut conn, &["DEL", &format!("r:{n}")]);
        cmd::<i64>(
            &mut conn,
            &["HSET", &format!("r:new:{n}"), "n", &n.to_string()],
        );
    }
    cmd::<String>(&mut conn, &["KAFKA.SOURCE.RESUME", "re"]);
    wait_mirrored(&mut conn, &bootstrap, "re", "r:");
    cmd::<String>(
        &mut conn,
        &["CONFIG", "SET", "kafka.source-changes-max-keys", "1000000"],
    );
    // A change in another database is not database 0's.
    cmd::<String>(&mut conn, &["SELECT", "1"]);
    cmd::<String>(&mut conn, &["SET", "r:only-in-db1", "x"]);
    cmd::<String>(&mut conn, &["SELECT", "0"]);
    cmd::<String>(&mut conn, &["SET", "r:last", "x"]);
    wait_mirrored(&mut conn, &bootstrap, "re", "r:");
    assert!(!read_latest(&bootstrap, "re")
        .0
        .contains_key(b"r:only-in-db1".as_slice()));
}

#[test]
fn hostile_keys_and_values_arrive_intact_or_follow_on_error() {
    let kafka = MockKafka::new();
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let bootstrap = kafka.bootstrap();
    create_keys_source(
        &mut conn,
        &bootstrap,
        "hostile",
        &[
            "KEYS",
            "*",
            "TOPIC",
            "hostile",
            "ON-ERROR",
            "SKIP",
            "CONFIG",
            "message.max.bytes",
            "100000",
        ],
    );
    wait_until("running", DEADLINE, || {
        source_state(&mut conn, "hostile") == "running"
    });
    let weird: Vec<u8> = b"h:\0\r\n\xff\xfe key".to_vec();
    redis::cmd("SET")
        .arg(&weird)
        .arg(b"\0\r\n\xff".as_slice())
        .query::<()>(&mut conn)
        .unwrap();
    redis::cmd("HSET")
        .arg("h:bin")
        .arg(b"f\xff".as_slice())
        .arg(b"v\0".as_slice())
        .query::<()>(&mut conn)
        .unwrap();
    cmd::<String>(&mut conn, &["SET", "h:empty", ""]);
    cmd::<String>(&mut conn, &["SET", "h:big", &"x".repeat(200_000)]);
    let members: Vec<String> = (0..40_000).map(|n| n.to_string()).collect();
    let mut sadd = vec!["SADD", "h:bigset"];
    sadd.extend(members.iter().map(String::as_str));
    cmd::<i64>(&mut conn, &sadd);
    cmd::<String>(&mut conn, &["SET", "h:after", "ok"]);
    wait_until("the oversized keys skipped", DEADLINE, || {
        count_field(&mut conn, "hostile", "skipped") == 2
    });
    wait_until("h:after forwarded", DEADLINE, || {
        read_latest(&bootstrap, "hostile")
            .0
            .contains_key(b"h:after".as_slice())
    });
    let (latest, _) = read_latest(&bootstrap, "hostile");
    assert_eq!(
        latest[&weird],
        Some(("string".into(), b"\0\r\n\xff".to_vec()))
    );
    assert_eq!(
        latest[b"h:empty".as_slice()],
        Some(("string".into(), Vec::new())),
        "empty is not a tombstone"
    );
    let hash: Json =
        serde_json::from_slice(&latest[b"h:bin".as_slice()].as_ref().unwrap().1).unwrap();
    assert_eq!(hash, json!({"f\u{fffd}": "v\u{0}"}));
    assert!(!latest.contains_key(b"h:big".as_slice()));
    assert!(
        latest.keys().all(|k| !k.starts_with(b"__kafka:")),
        "the module's own keys are never forwarded"
    );
    let error: String = status_field(&mut conn, "hostile", "last_error");
    assert!(
        error.contains("h:big") || error.contains("h:bigset"),
        "{error}"
    );
}

#[test]
fn on_error_fail_stops_at_the_key_and_resume_retries_it() {
    let kafka = MockKafka::new();
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let bootstrap = kafka.bootstrap();
    create_keys_source(
        &mut conn,
        &bootstrap,
        "strict",
        &[
            "KEYS",
            "f:*",
            "TOPIC",
            "strict",
            "CONFIG",
            "message.max.bytes",
            "10000",
        ],
    );
    wait_until("running", DEADLINE, || {
        source_state(&mut conn, "strict") == "running"
    });
    cmd::<String>(&mut conn, &["SET", "f:big", &"x".repeat(20_000)]);
    wait_until("failed", DEADLINE, || {
        source_state(&mut conn, "strict") == "failed"
    });
    let error: String = status_field(&mut conn, "strict", "last_error");
    assert!(
        error.contains("f:big") && error.contains("message.max.bytes"),
        "{error}"
    );
    cmd::<String>(&mut conn, &["SET", "f:big", "small now"]);
    cmd::<String>(&mut conn, &["SET", "f:other", "x"]);
    cmd::<String>(&mut conn, &["KAFKA.SOURCE.RESUME", "strict"]);
    wait_mirrored(&mut conn, &bootstrap, "strict", "f:");
}

#[test]
fn changes_from_scripts_transactions_and_renames_are_carried() {
    let kafka = MockKafka::new();
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let bootstrap = kafka.bootstrap();
    cmd::<String>(&mut conn, &["SET", "p:untouched-before", "x"]);
    create_keys_source(
        &mut conn,
        &bootstrap,
        "paths",
        &["KEYS", "p:*", "TOPIC", "paths", "SNAPSHOT", "NO"],
    );
    wait_until("running", DEADLINE, || {
        source_state(&mut conn, "paths") == "running"
    });
    cmd::<Value>(
        &mut conn,
        &[
            "EVAL",
            "redis.call('SET', KEYS[1], 'lua'); redis.call('RPUSH', KEYS[2], 'a')",
            "2",
            "p:lua",
            "p:list",
        ],
    );
    let mut pipe = redis::pipe();
    pipe.atomic()
        .cmd("SET")
        .arg("p:tx")
        .arg("1")
        .ignore()
        .cmd("INCR")
        .arg("p:tx")
        .ignore();
    pipe.query::<()>(&mut conn).unwrap();
    cmd::<String>(&mut conn, &["SET", "p:old", "moved"]);
    cmd::<String>(&mut conn, &["RENAME", "p:old", "p:new"]);
    cmd::<String>(&mut conn, &["LPOP", "p:list"]);
    wait_until("all forwarded", DEADLINE, || {
        let (latest, _) = read_latest(&bootstrap, "paths");
        latest.contains_key(b"p:new".as_slice()) && latest.get(b"p:list".as_slice()) == Some(&None)
    });
    let (latest, _) = read_latest(&bootstrap, "paths");
    assert_eq!(
        latest[b"p:lua".as_slice()],
        Some(("string".into(), b"lua".to_vec()))
    );
    assert_eq!(
        latest[b"p:tx".as_slice()],
        Some(("string".into(), b"2".to_vec()))
    );
    assert_eq!(
        latest[b"p:old".as_slice()],
        None,
        "renamed away: a tombstone"
    );
    assert_eq!(
        latest[b"p:new".as_slice()],
        Some(("string".into(), b"moved".to_vec()))
    );
    assert!(
        !latest.contains_key(b"p:untouched-before".as_slice()),
        "SNAPSHOT NO sends only changes"
    );
}

#[test]
fn a_promoted_replica_reconciles_what_the_dead_primary_had_not_sent() {
    let kafka = MockKafka::new();
    let bootstrap = kafka.bootstrap();
    let mut primary = RedisServer::start();
    let replica = RedisServer::start();
    let mut p = primary.conn();
    let mut r = replica.conn();
    cmd::<String>(
        &mut r,
        &["REPLICAOF", "127.0.0.1", &primary.port.to_string()],
    );
    create_keys_source(&mut p, &bootstrap, "fo", &["KEYS", "fo:*", "TOPIC", "fo"]);
    wait_until("definition replicated", DEADLINE, || {
        try_cmd::<Vec<Value>>(&mut r, &["KAFKA.STATUS", "fo"]).is_ok()
    });
    for n in 0..500 {
        cmd::<String>(&mut p, &["SET", &format!("fo:{n}"), "one"]);
    }
    wait_mirrored(&mut p, &bootstrap, "fo", "fo:");
    // Changes the primary never sends: it is paused, then dies.
    cmd::<String>(&mut p, &["KAFKA.SOURCE.PAUSE", "fo"]);
    for n in 0..100 {
        cmd::<i64>(&mut p, &["DEL", &format!("fo:{n}")]);
        cmd::<String>(&mut p, &["SET", &format!("fo:{}", 100 + n), "two"]);
    }
    wait_until("replica caught up", DEADLINE, || {
        cmd::<i64>(&mut r, &["DBSIZE"]) == cmd::<i64>(&mut p, &["DBSIZE"])
    });
    primary.kill9();
    cmd::<String>(&mut r, &["REPLICAOF", "NO", "ONE"]);
    cmd::<String>(&mut r, &["KAFKA.SOURCE.RESUME", "fo"]);
    cmd::<String>(&mut r, &["SET", "fo:after", "three"]);
    wait_mirrored(&mut r, &bootstrap, "fo", "fo:");
}
