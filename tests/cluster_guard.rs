//! The state guard on Redis Cluster (issue 12). Progress keys live in the slot they are about
//! (`__kafka:c:<source>:{tag}`, `__kafka:o:<sink>:{tag}`), so `redis-cli --cluster reshard`
//! must be able to move them with MIGRATE and RESTORE-ASKING, and the replicas of both shards
//! must follow; every other client write to a `__kafka:` key stays refused, and a standalone
//! server refuses the resharding commands too.

mod common;

use common::cluster::Cluster;
use common::cluster_io::tag_for;
use common::*;
use redis::Connection;

/// One line of CLUSTER NODES.
struct NodeLine {
    id: String,
    port: u16,
    primary_of: String,
    first_slot: Option<u16>,
}

fn node_lines(conn: &mut Connection) -> Vec<NodeLine> {
    let text: String = cmd(conn, &["CLUSTER", "NODES"]);
    text.lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let port = fields[1]
                .split(['@', ','])
                .next()
                .and_then(|addr| addr.rsplit(':').next())
                .and_then(|p| p.parse().ok())
                .expect("node address");
            let first_slot = fields
                .get(8)
                .and_then(|range| range.split('-').next())
                .and_then(|s| s.parse().ok());
            NodeLine {
                id: fields[0].to_string(),
                port,
                primary_of: fields[3].to_string(),
                first_slot,
            }
        })
        .collect()
}

fn refused(conn: &mut Connection, args: &[&str]) {
    let error = cmd_err(conn, args);
    assert!(
        error.starts_with("ERR") && error.contains("__kafka:"),
        "{args:?}: {error}"
    );
}

/// Keys of `slot` on the node behind `conn`.
fn keys_in_slot(conn: &mut Connection, slot: u16) -> i64 {
    cmd(conn, &["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()])
}

fn reshard_moves_progress_keys(binary: std::path::PathBuf) {
    let kafka = MockKafka::new();
    kafka.create_topic("guarded", 1);
    let cluster = Cluster::start(binary, 3, 1);
    let mut first = cluster.nodes[0].conn();
    wait_until("every primary has its replica", DEADLINE, || {
        node_lines(&mut first)
            .iter()
            .filter(|n| n.primary_of != "-")
            .count()
            == 3
    });
    let table = node_lines(&mut first);
    let server = |line: &NodeLine| {
        cluster
            .nodes
            .iter()
            .find(|s| s.port == line.port)
            .expect("a node of the cluster")
    };
    let giver = table
        .iter()
        .find(|n| n.first_slot == Some(0))
        .expect("a primary serving slot 0");
    let taker = table
        .iter()
        .find(|n| n.first_slot.is_some() && n.id != giver.id)
        .expect("another primary");
    let replica_of = |primary: &NodeLine| {
        let line = table
            .iter()
            .find(|n| n.primary_of == primary.id)
            .expect("a replica");
        let mut conn = server(line).conn();
        // A replica answers reads of its primary's slots after READONLY.
        cmd::<String>(&mut conn, &["READONLY"]);
        conn
    };
    let mut from = server(giver).conn();
    let mut to = server(taker).conn();
    let create = [
        "KAFKA.SOURCE.CREATE",
        "guarded",
        "BROKERS",
        &kafka.bootstrap(),
        "STREAMS",
        "orders:*",
        "TOPIC",
        "guarded",
    ];
    cmd::<String>(&mut from, &create);
    let mut from_replica = replica_of(giver);
    let mut to_replica = replica_of(taker);

    // redis-cli reshard takes a primary's lowest slots first: 0..MOVED here.
    const MOVED: u16 = 4;
    let tags: Vec<String> = (0..MOVED).map(tag_for).collect();
    let mut ids = Vec::new();
    for (slot, tag) in (0..MOVED).zip(&tags) {
        let progress = format!("__kafka:c:guarded:{{{tag}}}");
        cmd::<String>(&mut from, &["SET", &format!("data:{{{tag}}}"), "x"]);
        // A real source writes the progress key: the checkpoint of a stream of this slot.
        let id: String = cmd(
            &mut from,
            &["XADD", &format!("orders:{{{tag}}}"), "*", "n", "1"],
        );
        wait_until("the source checkpointed the stream", DEADLINE, || {
            try_cmd::<Option<String>>(
                &mut from,
                &["HGET", &progress, &format!("orders:{{{tag}}}")],
            )
            .ok()
            .flatten()
                == Some(id.clone())
        });
        ids.push(id);
        // Outside a reshard, RESTORE-ASKING cannot write it either.
        let dump: Vec<u8> = cmd(&mut from, &["DUMP", &format!("data:{{{tag}}}")]);
        let forged: redis::RedisResult<String> = redis::cmd("RESTORE-ASKING")
            .arg(&progress)
            .arg(0)
            .arg(dump.as_slice())
            .arg("REPLACE")
            .query(&mut from);
        assert!(
            forged.is_err_and(|e| e.to_string().contains("belongs to the kafka module")),
            "RESTORE-ASKING outside a migration must be refused"
        );

        // (a) Every other client write to the key is still refused.
        refused(&mut from, &["HSET", &progress, "orders", "9-0"]);
        refused(&mut from, &["DEL", &progress]);
        refused(&mut from, &["UNLINK", &progress]);
        refused(
            &mut from,
            &["HDEL", &progress, &format!("orders:{{{tag}}}")],
        );
        refused(&mut from, &["EXPIRE", &progress, "1"]);
        refused(&mut from, &["COPY", &format!("data:{{{tag}}}"), &progress]);
        let value: String = cmd(
            &mut from,
            &["HGET", &progress, &format!("orders:{{{tag}}}")],
        );
        assert_eq!(value, ids[usize::from(slot)]);
        assert_eq!(keys_in_slot(&mut from, slot), 3);
        wait_until("the giver's replica has the progress key", DEADLINE, || {
            keys_in_slot(&mut from_replica, slot) == 3
        });
    }

    // (b) The reshard moves the progress keys with the data, and the replicas follow: the
    // taker's replica gets them (RESTORE-ASKING replicated), the giver's drops them (its
    // primary replicates the MIGRATE as DEL).
    cluster.reshard_now(
        cluster.node_at(giver.port),
        cluster.node_at(taker.port),
        usize::from(MOVED),
    );
    for (slot, tag) in (0..MOVED).zip(&tags) {
        let progress = format!("__kafka:c:guarded:{{{tag}}}");
        assert_eq!(
            keys_in_slot(&mut from, slot),
            0,
            "slot {slot} left keys behind"
        );
        assert_eq!(keys_in_slot(&mut to, slot), 3, "slot {slot} did not arrive");
        let value: String = cmd(&mut to, &["HGET", &progress, &format!("orders:{{{tag}}}")]);
        assert_eq!(value, ids[usize::from(slot)]);
        wait_until("the taker's replica has the moved keys", DEADLINE, || {
            keys_in_slot(&mut to_replica, slot) == 3
        });
        wait_until(
            "the giver's replica dropped the moved keys",
            DEADLINE,
            || keys_in_slot(&mut from_replica, slot) == 0,
        );
        // The guard holds on the new owner too.
        refused(&mut to, &["HSET", &progress, "orders", "9-0"]);
        refused(&mut to, &["DEL", &progress]);
    }
    // And the same slots move back, into a node that held them before.
    cluster.reshard_now(
        cluster.node_at(taker.port),
        cluster.node_at(giver.port),
        usize::from(MOVED),
    );
    for slot in 0..MOVED {
        assert_eq!(
            keys_in_slot(&mut from, slot),
            3,
            "slot {slot} did not come back"
        );
        wait_until("the giver's replica has the keys again", DEADLINE, || {
            keys_in_slot(&mut from_replica, slot) == 3
        });
    }
}

/// A standalone server has no slots to move: MIGRATE and RESTORE-ASKING of a `__kafka:` key
/// are refused like any write.
fn standalone_refuses_resharding_commands(binary: std::path::PathBuf) {
    let redis = RedisServer::start_with(ServerOptions {
        binary,
        rejson: false,
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    cmd::<i64>(&mut conn, &["HSET", "helper", "f", "v"]);
    let dump: Vec<u8> = cmd(&mut conn, &["DUMP", "helper"]);
    let error = redis::cmd("RESTORE-ASKING")
        .arg("__kafka:c:s:{0}")
        .arg(0)
        .arg(dump.as_slice())
        .query::<String>(&mut conn)
        .expect_err("RESTORE-ASKING refused on a standalone server");
    assert!(format!("{error:?}").contains("__kafka:"), "{error:?}");
    let port = free_port().to_string();
    refused(
        &mut conn,
        &[
            "MIGRATE",
            "127.0.0.1",
            &port,
            "__kafka:bridges",
            "0",
            "1000",
        ],
    );
    refused(
        &mut conn,
        &[
            "MIGRATE",
            "127.0.0.1",
            &port,
            "",
            "0",
            "1000",
            "KEYS",
            "__kafka:bridges",
        ],
    );
}

#[test]
fn reshard_moves_progress_keys_and_the_guard_holds_redis() {
    reshard_moves_progress_keys(redis_server());
}

#[test]
fn reshard_moves_progress_keys_and_the_guard_holds_valkey() {
    reshard_moves_progress_keys(valkey_server());
}

#[test]
fn standalone_refuses_resharding_commands_redis() {
    standalone_refuses_resharding_commands(redis_server());
}

#[test]
fn standalone_refuses_resharding_commands_valkey() {
    standalone_refuses_resharding_commands(valkey_server());
}
