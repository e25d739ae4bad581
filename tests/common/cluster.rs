//! A real Redis Cluster on loopback: primaries and replicas, each a RedisServer with the
//! module loaded, joined by `redis-cli --cluster create`; its topology read from the nodes
//! themselves. The faults live in `cluster_ops`, routed reads and writes in `cluster_io`.
//!
//! Nodes are named by their index in `nodes`, which stays the same through every fault; their
//! roles do not, so every accessor asks the nodes.

use super::{cmd, try_cmd, wait_until, RedisServer, ServerOptions};
use redis::{Connection, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub use super::cluster_ops::SETTLE;
pub const SLOTS: usize = 16384;

pub struct Cluster {
    pub nodes: Vec<RedisServer>,
    /// `redis-cli`, or the `valkey-cli` shipped beside a valkey-server.
    pub cli: PathBuf,
    pub(crate) down: Vec<bool>,
}

/// A cluster node's server options: the module loaded, cluster mode, 3 s node timeout.
pub fn node_options(binary: &Path) -> ServerOptions {
    ServerOptions {
        binary: binary.to_path_buf(),
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
    }
}

/// The cli that belongs to a server binary: valkey-cli beside valkey-server, else redis-cli.
fn cli_for(binary: &Path) -> PathBuf {
    let valkey = binary.with_file_name("valkey-cli");
    if binary.file_name().is_some_and(|n| n == "valkey-server") && valkey.exists() {
        valkey
    } else {
        PathBuf::from("redis-cli")
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        other => format!("{other:?}"),
    }
}

impl Cluster {
    /// `primaries` primaries with `replicas` replicas each; returns once every node reports
    /// cluster_state:ok.
    pub fn start(binary: PathBuf, primaries: usize, replicas: usize) -> Cluster {
        let nodes: Vec<RedisServer> = (0..primaries * (1 + replicas))
            .map(|_| RedisServer::start_with(node_options(&binary)))
            .collect();
        let cli = cli_for(&binary);
        if primaries < 3 {
            // `--cluster create` wants three primaries: build a smaller one by hand.
            assert_eq!(
                replicas, 0,
                "a cluster of fewer than 3 primaries has no replicas here"
            );
            let per = 16384 / primaries;
            for (i, node) in nodes.iter().enumerate() {
                let mut conn = node.conn();
                let last = if i + 1 == primaries {
                    16383
                } else {
                    (i + 1) * per - 1
                };
                let (first, last) = ((i * per).to_string(), last.to_string());
                cmd::<String>(&mut conn, &["CLUSTER", "ADDSLOTSRANGE", &first, &last]);
                let epoch = (i + 1).to_string();
                cmd::<String>(&mut conn, &["CLUSTER", "SET-CONFIG-EPOCH", &epoch]);
            }
            for node in nodes.iter().skip(1) {
                let port = node.port.to_string();
                cmd::<String>(
                    &mut nodes[0].conn(),
                    &["CLUSTER", "MEET", "127.0.0.1", &port],
                );
            }
            let down = vec![false; nodes.len()];
            let cluster = Cluster { nodes, cli, down };
            cluster.wait_converged();
            return cluster;
        }
        let mut create = Command::new(&cli);
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
        let down = vec![false; nodes.len()];
        let cluster = Cluster { nodes, cli, down };
        cluster.wait_converged();
        cluster
    }

    pub fn conn(&self, node: usize) -> Connection {
        self.nodes[node].conn()
    }

    pub fn port(&self, node: usize) -> u16 {
        self.nodes[node].port
    }

    /// The node listening on `port`.
    pub fn node_at(&self, port: u16) -> usize {
        self.nodes
            .iter()
            .position(|n| n.port == port)
            .unwrap_or_else(|| panic!("no node on port {port}"))
    }

    /// Nodes not killed by the test.
    pub fn live(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|&n| !self.down[n]).collect()
    }

    pub fn node_id(&self, node: usize) -> String {
        cmd(&mut self.conn(node), &["CLUSTER", "MYID"])
    }

    /// The port of the primary a node replicates, or None for a primary (from ROLE).
    pub fn primary_of(&self, node: usize) -> Option<u16> {
        let role: Vec<Value> = cmd(&mut self.conn(node), &["ROLE"]);
        match role.first().map(text).as_deref() {
            Some("master") => None,
            Some("slave") => role.get(2).map(text).and_then(|p| p.parse().ok()),
            other => panic!("node {node}: ROLE {other:?}"),
        }
    }

    /// Live primaries, in node order.
    pub fn primaries(&self) -> Vec<usize> {
        self.live()
            .into_iter()
            .filter(|&n| self.primary_of(n).is_none())
            .collect()
    }

    /// Live replicas of `primary`.
    pub fn replicas_of(&self, primary: usize) -> Vec<usize> {
        let port = self.port(primary);
        self.live()
            .into_iter()
            .filter(|&n| self.primary_of(n) == Some(port))
            .collect()
    }

    /// The slot → primary port map as `node` sees it (CLUSTER SLOTS; 0 = uncovered).
    pub fn slot_map_seen_by(&self, node: usize) -> Vec<u16> {
        slot_map(&mut self.conn(node)).unwrap_or_else(|e| panic!("CLUSTER SLOTS: {e}"))
    }

    /// The node serving `slot`, as the first live node sees it.
    pub fn node_for_slot(&self, slot: u16) -> usize {
        let map = self.slot_map_seen_by(self.live()[0]);
        self.node_at(map[slot as usize])
    }

    pub fn slot_of(&self, key: &str) -> u16 {
        let slot: i64 = cmd(&mut self.conn(self.live()[0]), &["CLUSTER", "KEYSLOT", key]);
        slot as u16
    }

    pub fn node_for_key(&self, key: &str) -> usize {
        self.node_for_slot(self.slot_of(key))
    }

    /// How many slots `node` serves according to itself.
    pub fn slots_served_by(&self, node: usize) -> usize {
        let port = self.port(node);
        self.slot_map_seen_by(node)
            .iter()
            .filter(|&&p| p == port)
            .count()
    }

    /// `node`'s own CLUSTER NODES line (with `[slot->-id]` / `[slot-<-id]` while migrating).
    pub fn nodes_line(&self, node: usize) -> String {
        let nodes: String = cmd(&mut self.conn(node), &["CLUSTER", "NODES"]);
        nodes
            .lines()
            .find(|l| l.contains("myself"))
            .unwrap_or_default()
            .to_string()
    }

    /// Whether every live node serves clients with the same view: cluster_state:ok, identical
    /// slot maps covering all slots, each served by a live node that is a primary, and no live
    /// node flagged failing by another.
    pub fn converged(&self) -> bool {
        let live = self.live();
        let live_ports: Vec<u16> = live.iter().map(|&n| self.port(n)).collect();
        let mut first: Option<Vec<u16>> = None;
        for &node in &live {
            let Ok(mut conn) = self.nodes[node].try_conn() else {
                return false;
            };
            let ok = try_cmd::<String>(&mut conn, &["CLUSTER", "INFO"])
                .is_ok_and(|info| info.contains("cluster_state:ok"));
            let Ok(map) = slot_map(&mut conn) else {
                return false;
            };
            let nodes: String = try_cmd(&mut conn, &["CLUSTER", "NODES"]).unwrap_or_default();
            let flagged = nodes.lines().any(|line| {
                let f: Vec<&str> = line.split(' ').collect();
                let port = f.get(1).and_then(|a| port_of(a));
                let failing = f.get(2).is_some_and(|fl| fl.contains("fail"));
                failing && port.is_some_and(|p| live_ports.contains(&p))
            });
            if !ok || flagged || map.contains(&0) {
                return false;
            }
            match &first {
                None => first = Some(map),
                Some(seen) if *seen != map => return false,
                Some(_) => {}
            }
        }
        let Some(map) = first else { return false };
        let mut owners = map.clone();
        owners.sort_unstable();
        owners.dedup();
        owners
            .into_iter()
            .all(|port| live_ports.contains(&port) && self.primary_of(self.node_at(port)).is_none())
    }

    /// Whether every live node has an outgoing bus link to every other live node. Redis sends a
    /// PUBLISH to the other nodes over those links only, so a message published before they are
    /// up never reaches some nodes (pub/sub is at most once in a cluster too).
    pub fn bus_connected(&self) -> bool {
        let live = self.live();
        let ids: Vec<String> = live.iter().map(|&n| self.node_id(n)).collect();
        live.iter().all(|&node| {
            let Ok(mut conn) = self.nodes[node].try_conn() else {
                return false;
            };
            let Ok(links) = try_cmd::<Vec<Vec<redis::Value>>>(&mut conn, &["CLUSTER", "LINKS"])
            else {
                return false;
            };
            let outgoing: Vec<String> = links
                .iter()
                .filter_map(|link| {
                    let fields: Vec<String> = link
                        .iter()
                        .map(|v| redis::from_redis_value::<String>(v).unwrap_or_default())
                        .collect();
                    let field = |name: &str| {
                        fields
                            .iter()
                            .position(|f| f == name)
                            .and_then(|i| fields.get(i + 1).cloned())
                    };
                    (field("direction").as_deref() == Some("to")).then(|| field("node"))?
                })
                .collect();
            let own = self.node_id(node);
            ids.iter()
                .filter(|id| **id != own)
                .all(|id| outgoing.contains(id))
        })
    }

    /// Waits until `converged`; returns how long that took.
    pub fn wait_converged(&self) -> Duration {
        let start = Instant::now();
        wait_until("the cluster to converge", SETTLE, || self.converged());
        start.elapsed()
    }
}

/// `host:port@bus` or `host:port` → port.
fn port_of(address: &str) -> Option<u16> {
    address.split('@').next()?.rsplit(':').next()?.parse().ok()
}

/// CLUSTER SLOTS as a slot → primary port map (0 where no node serves the slot).
pub fn slot_map(conn: &mut Connection) -> redis::RedisResult<Vec<u16>> {
    let ranges: Vec<Value> = try_cmd(conn, &["CLUSTER", "SLOTS"])?;
    let mut map = vec![0u16; SLOTS];
    for range in ranges {
        let Value::Array(fields) = range else {
            continue;
        };
        let (Some(Value::Int(from)), Some(Value::Int(to)), Some(Value::Array(primary))) =
            (fields.first(), fields.get(1), fields.get(2))
        else {
            continue;
        };
        let Some(Value::Int(port)) = primary.get(1) else {
            continue;
        };
        for slot in *from..=*to {
            map[slot as usize] = *port as u16;
        }
    }
    Ok(map)
}
