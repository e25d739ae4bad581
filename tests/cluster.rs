//! Redis Cluster (issue 12). Bridges are not cluster-aware yet: a cluster node refuses them
//! cleanly, without writing any state, while KAFKA.PRODUCE works.

mod common;

use common::cluster::Cluster;
use common::*;

fn refuses_bridges_and_writes_nothing(binary: std::path::PathBuf) {
    let kafka = MockKafka::new();
    kafka.create_topic("t", 1);
    let cluster = Cluster::start(binary, 3, 1);
    let b = kafka.bootstrap();
    for node in &cluster.nodes[..3] {
        let mut conn = node.conn();
        for create in [
            vec!["KAFKA.SINK.CREATE", "s", "BROKERS", &b, "TOPICS", "t"],
            vec!["KAFKA.SOURCE.CREATE", "s", "BROKERS", &b, "STREAMS", "x*"],
        ] {
            let error = cmd_err(&mut conn, &create);
            assert!(
                error.starts_with("ERR Kafka bridges do not run on Redis Cluster yet"),
                "{error}"
            );
        }
        let reply: (i64, i64) = cmd(&mut conn, &["KAFKA.PRODUCE", "t", "v", "BROKERS", &b]);
        assert_eq!(reply.0, 0);
        let info: String = cmd(&mut conn, &["INFO", "kafka"]);
        assert!(info.contains("kafka_sinks:0"), "{info}");
    }
    for node in &cluster.nodes {
        let mut conn = node.conn();
        let size: i64 = cmd(&mut conn, &["DBSIZE"]);
        assert_eq!(size, 0, "a cluster node holds module state");
    }
    // Each node's view of the slots it serves (read from its own CLUSTER NODES line) adds up
    // to the whole cluster: 16384 over the primaries, none on replicas.
    let mut total = 0;
    for node in &cluster.nodes {
        let mut conn = node.conn();
        let id: String = cmd(&mut conn, &["CLUSTER", "MYID"]);
        wait_until("INFO kafka shows the node", DEADLINE, || {
            cmd::<String>(&mut conn, &["INFO", "kafka"])
                .contains(&format!("kafka_cluster_node:{id}"))
        });
        let info: String = cmd(&mut conn, &["INFO", "kafka"]);
        let served: i64 = info
            .lines()
            .find_map(|l| l.strip_prefix("kafka_cluster_slots_served:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(-1);
        let role: String = cmd::<Vec<redis::Value>>(&mut conn, &["ROLE"])
            .first()
            .map(|v| match v {
                redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                other => format!("{other:?}"),
            })
            .unwrap_or_default();
        if role == "master" {
            assert!(served > 5000, "{served} slots on a primary");
        } else {
            assert_eq!(served, 0, "a replica serves no slot");
        }
        total += served;
    }
    assert_eq!(total, 16384);
}

#[test]
fn a_cluster_node_refuses_bridges_without_writing_state_redis() {
    refuses_bridges_and_writes_nothing(redis_server());
}

#[test]
fn a_cluster_node_refuses_bridges_without_writing_state_valkey() {
    refuses_bridges_and_writes_nothing(valkey_server());
}
