//! A source on Redis Cluster (issue 12): each primary forwards the streams of the slots it
//! serves, and keeps their checkpoints in the streams' own slots, so `redis-cli --cluster
//! reshard` carries a checkpoint with its stream and the new owner goes on from it.

mod common;

use common::cluster::Cluster;
use common::cluster_io::tag_for;
use common::*;
use redis::Connection;
use std::collections::HashSet;

/// (id, port, first slot) of each primary.
fn primaries(conn: &mut Connection) -> Vec<(String, u16, u16)> {
    let text: String = cmd(conn, &["CLUSTER", "NODES"]);
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let first = fields.get(8)?.split('-').next()?.parse().ok()?;
            let port = fields[1]
                .split('@')
                .next()?
                .rsplit(':')
                .next()?
                .parse()
                .ok()?;
            Some((fields[0].to_string(), port, first))
        })
        .collect()
}

fn checkpoint(conn: &mut Connection, tag: &str) -> Option<String> {
    cmd(
        conn,
        &[
            "HGET",
            &format!("__kafka:c:mover:{{{tag}}}"),
            &format!("moving:{{{tag}}}"),
        ],
    )
}

fn source_follows_its_streams_through_a_reshard(binary: std::path::PathBuf) {
    const SLOTS: u16 = 4;
    const EACH: usize = 25;
    let kafka = MockKafka::new();
    kafka.create_topic("moved", 1);
    let b = kafka.bootstrap();
    let cluster = Cluster::start(binary, 3, 0);
    let table = primaries(&mut cluster.nodes[0].conn());
    let server = |port: u16| cluster.nodes.iter().find(|s| s.port == port).unwrap();
    let giver = table.iter().find(|p| p.2 == 0).expect("slot 0's primary");
    let taker = table
        .iter()
        .find(|p| p.0 != giver.0)
        .expect("another primary");
    let mut from = server(giver.1).conn();
    let mut to = server(taker.1).conn();
    let create = [
        "KAFKA.SOURCE.CREATE",
        "mover",
        "BROKERS",
        &b,
        "STREAMS",
        "moving:*",
        "TOPIC",
        "moved",
        "FROM",
        "BEGINNING",
    ];
    // CREATE on one primary reaches every primary over the cluster bus.
    cmd::<String>(&mut from, &create);
    for (_, port, _) in &table {
        let mut conn = server(*port).conn();
        wait_until("every primary runs the source", DEADLINE, || {
            try_cmd::<redis::Value>(&mut conn, &["KAFKA.STATUS", "mover"]).is_ok()
                && status_field::<String>(&mut conn, "mover", "state") == "running"
        });
    }
    let tags: Vec<String> = (0..SLOTS).map(tag_for).collect();
    let mut last = Vec::new();
    for tag in &tags {
        let mut id = String::new();
        for n in 0..EACH {
            id = cmd(
                &mut from,
                &[
                    "XADD",
                    &format!("moving:{{{tag}}}"),
                    "*",
                    "n",
                    &n.to_string(),
                ],
            );
        }
        last.push(id);
    }
    for (tag, id) in tags.iter().zip(&last) {
        wait_until(
            "the giver checkpointed in the stream's slot",
            DEADLINE,
            || checkpoint(&mut from, tag).as_ref() == Some(id),
        );
    }

    cluster.reshard_now(
        cluster.node_at(giver.1),
        cluster.node_at(taker.1),
        usize::from(SLOTS),
    );
    for (slot, (tag, id)) in (0..SLOTS).zip(tags.iter().zip(&last)) {
        let count: i64 = cmd(
            &mut from,
            &["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()],
        );
        assert_eq!(count, 0, "slot {slot} left keys on the giver");
        assert_eq!(
            checkpoint(&mut to, tag).as_ref(),
            Some(id),
            "checkpoint moved"
        );
    }
    let mut newest = Vec::new();
    for tag in &tags {
        let mut id = String::new();
        for n in EACH..2 * EACH {
            id = cmd(
                &mut to,
                &[
                    "XADD",
                    &format!("moving:{{{tag}}}"),
                    "*",
                    "n",
                    &n.to_string(),
                ],
            );
        }
        newest.push(id);
    }
    for (tag, id) in tags.iter().zip(&newest) {
        wait_until(
            "the taker goes on from the moved checkpoint",
            DEADLINE,
            || checkpoint(&mut to, tag).as_ref() == Some(id),
        );
    }
    let total = tags.len() * 2 * EACH;
    let received = consume(&b, "moved", total);
    let distinct: HashSet<(Option<String>, Option<String>)> = received
        .iter()
        .map(|r| (r.header("redis.stream"), r.header("redis.id")))
        .collect();
    assert_eq!(
        distinct.len(),
        total,
        "every entry once, none lost or repeated"
    );
}

#[test]
fn a_source_follows_its_streams_through_a_reshard_redis() {
    source_follows_its_streams_through_a_reshard(redis_server());
}

#[test]
fn a_source_follows_its_streams_through_a_reshard_valkey() {
    source_follows_its_streams_through_a_reshard(valkey_server());
}
