//! Redis Cluster (issue 12): bridges managed from any primary reach every node, and a sink
//! applies each record on the primary serving its key, exactly once over the whole cluster.

mod common;

use common::cluster::Cluster;
use common::*;
use std::collections::HashMap;

fn is_primary(conn: &mut redis::Connection) -> bool {
    let role: Vec<redis::Value> = cmd(conn, &["ROLE"]);
    matches!(role.first(), Some(redis::Value::BulkString(b)) if b == b"master")
}

/// Every key matching `pattern` on the primaries, with the primary holding it.
fn keys_on_primaries(cluster: &Cluster, pattern: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (index, node) in cluster.nodes.iter().enumerate() {
        let mut conn = node.conn();
        if !is_primary(&mut conn) {
            continue;
        }
        let mut cursor = "0".to_string();
        loop {
            let (next, keys): (String, Vec<String>) = cmd(
                &mut conn,
                &["SCAN", &cursor, "MATCH", pattern, "COUNT", "1000"],
            );
            found.extend(keys.into_iter().map(|k| (index, k)));
            if next == "0" {
                break;
            }
            cursor = next;
        }
    }
    found
}

fn listed(conn: &mut redis::Connection, kind: &str) -> Vec<String> {
    let list: Vec<Vec<redis::Value>> = cmd(conn, &[&format!("KAFKA.{kind}.LIST")]);
    list.iter()
        .filter_map(|entry| match entry.get(1) {
            Some(redis::Value::BulkString(name)) => Some(String::from_utf8_lossy(name).into()),
            _ => None,
        })
        .collect()
}

fn definitions_reach_every_node_and_a_sink_applies_each_record_once(binary: std::path::PathBuf) {
    let kafka = MockKafka::new();
    kafka.create_topic("cl", 4);
    let total = 3000;
    produce(&kafka.bootstrap(), "cl", &numbered(0, total, total));
    let mut cluster = Cluster::start(binary, 3, 1);
    let mut first = cluster.nodes[1].conn();
    let refused = cmd_err(
        &mut first,
        &[
            "KAFKA.SOURCE.CREATE",
            "cdc",
            "KEYS",
            "*",
            "BROKERS",
            &kafka.bootstrap(),
        ],
    );
    assert!(
        refused.starts_with("ERR KEYS sources do not run on Redis Cluster"),
        "{refused}"
    );
    create_sink(
        &mut first,
        &kafka.bootstrap(),
        "cs",
        &["TOPICS", "cl", "TYPE", "STREAM", "KEY", "${key}"],
    );
    for node in &cluster.nodes {
        let mut conn = node.conn();
        wait_until("every node lists the sink", DEADLINE, || {
            listed(&mut conn, "SINK") == ["cs"]
        });
    }
    wait_until("every record applied somewhere", DEADLINE, || {
        keys_on_primaries(&cluster, "k*").len() == total
    });
    // Each key on the one primary serving its slot, holding its one record.
    let keys = keys_on_primaries(&cluster, "k*");
    let mut per_node: HashMap<usize, i64> = HashMap::new();
    for (index, key) in &keys {
        let mut conn = cluster.nodes[*index].conn();
        assert_eq!(cmd::<i64>(&mut conn, &["XLEN", key]), 1, "{key}");
        *per_node.entry(*index).or_default() += 1;
    }
    assert_eq!(per_node.len(), 3, "records spread over the three primaries");
    let applied: i64 = per_node
        .keys()
        .map(|&i| count_field(&mut cluster.nodes[i].conn(), "cs", "records"))
        .sum();
    assert_eq!(applied, total as i64);

    // One node gives the whole cluster's view: a part per primary, adding up to every record.
    let shards: Vec<Vec<redis::Value>> = cmd(&mut first, &["KAFKA.STATUS", "cs", "CLUSTER"]);
    assert_eq!(shards.len(), 3);
    let mut cluster_records = 0;
    for shard in &shards {
        let shard = pairs(shard);
        let part = match &shard["status"] {
            redis::Value::Array(part) => pairs(part),
            other => panic!("a shard without its status: {other:?}"),
        };
        cluster_records += redis::from_redis_value::<i64>(&part["records"]).unwrap();
    }
    assert_eq!(cluster_records, total as i64);
    let error = cmd_err(&mut first, &["KAFKA.STATUS", "cs", "EVERYWHERE"]);
    assert!(
        error.starts_with("ERR unknown option 'EVERYWHERE'"),
        "{error}"
    );

    // PAUSE from another primary reaches every node; so does DELETE PURGE.
    let mut other = cluster.nodes[2].conn();
    assert_eq!(cmd::<String>(&mut other, &["KAFKA.SINK.PAUSE", "cs"]), "OK");
    for node in &cluster.nodes {
        let mut conn = node.conn();
        wait_until("every node shows the sink paused", DEADLINE, || {
            status_field::<String>(&mut conn, "cs", "state") == "paused"
        });
    }
    // The definitions survive a restart of a cluster node (RDB module aux data).
    let _ = try_cmd::<String>(&mut cluster.nodes[0].conn(), &["SHUTDOWN", "SAVE"]);
    cluster.nodes[0].restart();
    let mut reloaded = cluster.nodes[0].conn();
    assert_eq!(listed(&mut reloaded, "SINK"), ["cs"]);
    assert_eq!(
        status_field::<String>(&mut reloaded, "cs", "state"),
        "paused"
    );

    assert!(!keys_on_primaries(&cluster, "__kafka:o:cs:*").is_empty());
    assert_eq!(
        cmd::<String>(&mut first, &["KAFKA.SINK.DELETE", "cs", "PURGE"]),
        "OK"
    );
    for node in &cluster.nodes {
        let mut conn = node.conn();
        wait_until("every node forgot the sink", DEADLINE, || {
            listed(&mut conn, "SINK").is_empty()
        });
    }
    wait_until("every shard purged its offsets", DEADLINE, || {
        keys_on_primaries(&cluster, "__kafka:*").is_empty()
    });
    // A primary can still produce.
    let reply: (i64, i64) = cmd(
        &mut other,
        &["KAFKA.PRODUCE", "cl", "v", "BROKERS", &kafka.bootstrap()],
    );
    assert!(reply.1 >= 0);
}

#[test]
fn definitions_reach_every_node_and_a_sink_applies_each_record_once_redis() {
    definitions_reach_every_node_and_a_sink_applies_each_record_once(redis_server());
}

#[test]
fn definitions_reach_every_node_and_a_sink_applies_each_record_once_valkey() {
    definitions_reach_every_node_and_a_sink_applies_each_record_once(valkey_server());
}

/// A primary that does not answer is named in the cluster-wide STATUS, not waited for forever.
#[test]
fn a_primary_that_cannot_be_reached_shows_as_unreachable() {
    let kafka = MockKafka::new();
    kafka.create_topic("un", 1);
    let mut cluster = Cluster::start(redis_server(), 3, 0);
    let mut conn = cluster.conn(0);
    create_sink(&mut conn, &kafka.bootstrap(), "un", &["TOPICS", "un"]);
    wait_until("every primary runs the sink", DEADLINE, || {
        (0..3)
            .all(|n| try_cmd::<redis::Value>(&mut cluster.conn(n), &["KAFKA.STATUS", "un"]).is_ok())
    });
    let gone = cluster.port(2);
    cluster.nodes[2].kill9();
    let shards: Vec<Vec<redis::Value>> = cmd(&mut conn, &["KAFKA.STATUS", "un", "CLUSTER"]);
    let parts: Vec<(String, redis::Value)> = shards
        .iter()
        .map(|shard| {
            let shard = pairs(shard);
            let address: String = redis::from_redis_value(&shard["address"]).unwrap();
            (address, shard["status"].clone())
        })
        .collect();
    assert_eq!(parts.len(), 3, "{parts:?}");
    for (address, status) in &parts {
        let unreachable = *status == redis::Value::BulkString(b"unreachable".to_vec());
        assert_eq!(
            unreachable,
            address.ends_with(&format!(":{gone}")),
            "{address}: {status:?}"
        );
    }
}

/// A primary that joins later learns every bridge from the others' digests, and a sink whose
/// KEY cannot be spread (a constant) is applied by the one shard serving that key.
#[test]
fn a_node_joining_later_learns_the_bridges_and_a_constant_key_lands_on_one_shard() {
    let kafka = MockKafka::new();
    kafka.create_topic("late", 2);
    produce(&kafka.bootstrap(), "late", &numbered(0, 200, 200));
    let cluster = Cluster::start(redis_server(), 3, 0);
    let mut conn = cluster.conn(0);
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "lk",
        &["TOPICS", "late", "TYPE", "LIST", "KEY", "const"],
    );
    let owner = cluster.node_for_key("const");
    let mut owner_conn = cluster.conn(owner);
    wait_until("all records in the one list", DEADLINE, || {
        cmd::<i64>(&mut owner_conn, &["LLEN", "const"]) == 200
    });
    // No other primary holds it (DBSIZE, since asking for the key would be redirected).
    for node in cluster.primaries().into_iter().filter(|&n| n != owner) {
        let size: i64 = cmd(&mut cluster.conn(node), &["DBSIZE"]);
        assert_eq!(size, 0, "node {node}");
    }

    let late = RedisServer::start_with(common::cluster::node_options(&redis_server()));
    let mut late_conn = late.conn();
    assert!(listed(&mut late_conn, "SINK").is_empty());
    let port = late.port.to_string();
    cmd::<String>(&mut conn, &["CLUSTER", "MEET", "127.0.0.1", &port]);
    wait_until("the new primary learnt the sink", DEADLINE, || {
        listed(&mut late_conn, "SINK") == ["lk"]
    });
    // It serves no slot, so it applies nothing.
    let size: i64 = cmd(&mut late_conn, &["DBSIZE"]);
    assert_eq!(size, 0);
}

/// The handover command is internal: a client calling it directly (with any arguments) never
/// makes the module write a progress key, and gets the key list or an error, as CLUSTER would.
#[test]
fn a_client_calling_the_handover_command_writes_nothing() {
    let kafka = MockKafka::new();
    kafka.create_topic("ho", 1);
    produce(&kafka.bootstrap(), "ho", &numbered(0, 50, 50));
    let cluster = Cluster::start(redis_server(), 3, 0);
    let mut conn = cluster.conn(0);
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "ho",
        &["TOPICS", "ho", "KEY", "${key}"],
    );
    wait_until("the records applied", DEADLINE, || {
        keys_on_primaries(&cluster, "k*").len() == 50
    });
    let before = keys_on_primaries(&cluster, "__kafka:*");
    let huge = "9".repeat(100_000);
    for node in cluster.primaries() {
        let mut conn = cluster.conn(node);
        for slot in ["0", "16383", "5461"] {
            // The keys of the slot, as CLUSTER GETKEYSINSLOT lists them.
            let _: Vec<String> = cmd(&mut conn, &["KAFKA._HANDOVER", "GETKEYSINSLOT", slot, "10"]);
        }
        for args in [
            vec!["KAFKA._HANDOVER"],
            vec!["KAFKA._HANDOVER", "FLUSHSLOTS"],
            vec!["KAFKA._HANDOVER", "GETKEYSINSLOT", "16384", "10"],
            vec!["KAFKA._HANDOVER", "GETKEYSINSLOT", "-1", "10"],
            vec!["KAFKA._HANDOVER", "GETKEYSINSLOT", "1\0", "10"],
            vec!["KAFKA._HANDOVER", "GETKEYSINSLOT", &huge, "10"],
            vec!["KAFKA._HANDOVER", "GETKEYSINSLOT", "1"],
        ] {
            let error = cmd_err(&mut conn, &args);
            assert!(error.starts_with("ERR "), "{args:?}: {error}");
        }
        let bytes: redis::RedisResult<redis::Value> = redis::cmd("KAFKA._HANDOVER")
            .arg(&b"GETKEYSINSLOT"[..])
            .arg(&b"\xff\xfe"[..])
            .arg(&b"10"[..])
            .query(&mut conn);
        assert!(bytes.is_err());
    }
    assert_eq!(keys_on_primaries(&cluster, "__kafka:*"), before);
}
