//! A real Redis Cluster on loopback: primaries and replicas, each a RedisServer with the
//! module loaded, joined by `redis-cli --cluster create`.

use super::{cmd, wait_until, RedisServer, ServerOptions};
use std::process::Command;
use std::time::Duration;

pub struct Cluster {
    pub nodes: Vec<RedisServer>,
}

impl Cluster {
    /// `primaries` primaries with `replicas` replicas each; returns once every node reports
    /// cluster_state:ok.
    pub fn start(binary: std::path::PathBuf, primaries: usize, replicas: usize) -> Cluster {
        let nodes: Vec<RedisServer> = (0..primaries * (1 + replicas))
            .map(|_| {
                RedisServer::start_with(ServerOptions {
                    binary: binary.clone(),
                    rejson: false,
                    extra: vec![
                        "--cluster-enabled".into(),
                        "yes".into(),
                        "--cluster-config-file".into(),
                        "nodes.conf".into(),
                        "--cluster-node-timeout".into(),
                        "3000".into(),
                    ],
                    ..ServerOptions::default()
                })
            })
            .collect();
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for node in &nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        let output = create
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .output()
            .expect("redis-cli --cluster create");
        assert!(
            output.status.success(),
            "cluster create failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let cluster = Cluster { nodes };
        for node in &cluster.nodes {
            let mut conn = node.conn();
            wait_until("cluster_state:ok", Duration::from_secs(30), || {
                cmd::<String>(&mut conn, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
            });
        }
        cluster
    }
}
