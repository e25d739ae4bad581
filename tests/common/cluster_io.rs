//! Talking to a Redis Cluster as a client would: single-key commands routed to the node that
//! serves the key (following MOVED and ASK, riding out failovers), and whole-cluster reads for
//! audits once the cluster is stable.

use super::cluster::{slot_map, Cluster, SLOTS};
use super::try_cmd;
use redis::{Connection, ErrorKind, FromRedisValue, RedisError, Value};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a routed command may keep retrying (through a failover) before the test fails.
pub const ROUTE_DEADLINE: Duration = Duration::from_secs(45);

/// The hash slot of a key: CRC16 (XMODEM) of the key or of its first non-empty `{tag}`.
pub fn key_slot(key: &[u8]) -> u16 {
    let hashed = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            let len = rest.iter().position(|&b| b == b'}')?;
            (len > 0).then(|| &rest[..len])
        })
        .unwrap_or(key);
    let mut crc: u16 = 0;
    for &byte in hashed {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % SLOTS as u16
}

/// The smallest decimal hash tag whose keys land in `slot`: the one the module names its
/// per-slot keys with (`__kafka:o:<sink>:{<tag>}`).
pub fn tag_for(slot: u16) -> String {
    (0u64..)
        .map(|n| n.to_string())
        .find(|tag| key_slot(tag.as_bytes()) == slot)
        .expect("every slot has a decimal tag")
}

/// What became of a routed write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Acknowledged, and WAIT confirmed a replica has it: it survives a kill -9 failover.
    Replicated,
    /// Acknowledged, but no replica confirmed it in time (the primary had none, or was
    /// demoted meanwhile): a kill -9 of that primary may lose it.
    Acked,
    /// The connection broke after the command was sent: it may or may not have run. Not
    /// retried, so it is present at most once.
    Unknown,
}

/// Redirects and retries a router went through.
#[derive(Debug, Clone, Default)]
pub struct RouterStats {
    pub moved: usize,
    pub ask: usize,
    /// CLUSTERDOWN, TRYAGAIN, MASTERDOWN, LOADING, or no reachable node for the slot.
    pub retries: usize,
}

/// A minimal cluster client: one connection per node, a slot map refreshed from the nodes.
pub struct Router {
    seeds: Vec<u16>,
    map: Vec<u16>,
    conns: HashMap<u16, Connection>,
    pub stats: RouterStats,
}

fn connect(port: u16) -> redis::RedisResult<Connection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))?;
    let conn = client.get_connection_with_timeout(Duration::from_secs(1))?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    conn.set_write_timeout(Some(Duration::from_secs(10)))?;
    Ok(conn)
}

fn redirect_port(error: &RedisError) -> u16 {
    error
        .redirect_node()
        .and_then(|(addr, _)| addr.rsplit(':').next()?.parse().ok())
        .unwrap_or_else(|| panic!("bad redirect: {error}"))
}

/// Backoff between retries of a command the cluster refused (not a synchronisation: every
/// retry loop has a deadline).
fn backoff() {
    std::thread::sleep(Duration::from_millis(20));
}

impl Router {
    /// A router that discovers the cluster through these ports (any node will do).
    pub fn new(seeds: Vec<u16>) -> Router {
        Router {
            seeds,
            map: vec![0; SLOTS],
            conns: HashMap::new(),
            stats: RouterStats::default(),
        }
    }

    pub fn for_cluster(cluster: &Cluster) -> Router {
        Router::new(cluster.nodes.iter().map(|n| n.port).collect())
    }

    /// Reloads the slot map from the first seed that answers with full coverage.
    fn refresh(&mut self) {
        for &port in &self.seeds {
            let Ok(mut conn) = connect(port) else {
                continue;
            };
            if let Ok(map) = slot_map(&mut conn) {
                if !map.contains(&0) {
                    self.map = map;
                    return;
                }
            }
        }
    }

    fn conn(&mut self, port: u16) -> redis::RedisResult<&mut Connection> {
        match self.conns.entry(port) {
            Entry::Occupied(conn) => Ok(conn.into_mut()),
            Entry::Vacant(slot) => Ok(slot.insert(connect(port)?)),
        }
    }

    /// Runs a single-key command (the key is `args[1]`) on the node serving the key and
    /// returns its reply and that node's port. Follows MOVED (updating the map) and ASK
    /// (ASKING, then the command, on the importing node); retries while the cluster is down,
    /// the slot's node is unreachable, or the node answers TRYAGAIN/LOADING. A transport
    /// error after the command was sent is returned if `retry_broken` is false (the command
    /// may have run); other error replies are returned as they are.
    pub fn route(&mut self, args: &[&str], retry_broken: bool) -> redis::RedisResult<(Value, u16)> {
        let slot = key_slot(args[1].as_bytes()) as usize;
        let deadline = Instant::now() + ROUTE_DEADLINE;
        let mut ask: Option<u16> = None;
        loop {
            assert!(Instant::now() < deadline, "{args:?} never got through");
            let port = match ask {
                Some(port) => port,
                None => {
                    if self.map[slot] == 0 {
                        self.refresh();
                    }
                    self.map[slot]
                }
            };
            let asking = ask.take().is_some();
            let conn = match self.conn(port) {
                Ok(conn) if port != 0 => conn,
                _ => {
                    // The node is gone (killed): wait for the cluster to promote another.
                    self.stats.retries += 1;
                    self.map[slot] = 0;
                    backoff();
                    continue;
                }
            };
            if asking {
                if let Err(e) = redis::cmd("ASKING").query::<()>(conn) {
                    self.conns.remove(&port);
                    assert!(e.is_io_error(), "ASKING: {e}");
                    continue;
                }
            }
            let mut command = redis::cmd(args[0]);
            for arg in &args[1..] {
                command.arg(*arg);
            }
            match command.query::<Value>(conn) {
                Ok(value) => return Ok((value, port)),
                Err(e) => match e.kind() {
                    ErrorKind::Moved => {
                        self.stats.moved += 1;
                        self.map[slot] = redirect_port(&e);
                    }
                    ErrorKind::Ask => {
                        self.stats.ask += 1;
                        ask = Some(redirect_port(&e));
                    }
                    ErrorKind::TryAgain
                    | ErrorKind::ClusterDown
                    | ErrorKind::MasterDown
                    | ErrorKind::BusyLoadingError => {
                        self.stats.retries += 1;
                        backoff();
                    }
                    ErrorKind::IoError => {
                        self.conns.remove(&port);
                        self.map[slot] = 0;
                        if !retry_broken {
                            return Err(e);
                        }
                    }
                    _ => return Err(e),
                },
            }
        }
    }

    /// A routed command whose reply must not be an error (reads retry on a broken link).
    pub fn query<T: FromRedisValue>(&mut self, args: &[&str]) -> T {
        let (value, _) = self
            .route(args, true)
            .unwrap_or_else(|e| panic!("{args:?} failed: {e}"));
        T::from_redis_value(&value).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    /// A routed write, then `WAIT 1 50` on the node that ran it. A broken link after
    /// sending is not retried, so the write is applied at most once.
    pub fn write(&mut self, args: &[&str]) -> Write {
        let port = match self.route(args, false) {
            Ok((_, port)) => port,
            Err(e) if e.is_io_error() => return Write::Unknown,
            Err(e) => panic!("{args:?} failed: {e}"),
        };
        let Ok(conn) = self.conn(port) else {
            return Write::Acked;
        };
        match redis::cmd("WAIT").arg(1).arg(50).query::<i64>(conn) {
            Ok(n) if n >= 1 => Write::Replicated,
            Ok(_) => Write::Acked,
            Err(e) => {
                if e.is_io_error() {
                    self.conns.remove(&port);
                }
                Write::Acked
            }
        }
    }
}

/// Runs `build(key)` for every key on the primary serving it, pipelined per node, and returns
/// the replies in the order of `keys`. The cluster must be stable (after `wait_check_clean`).
pub fn read_keys<T: FromRedisValue>(
    cluster: &Cluster,
    keys: &[String],
    build: impl Fn(&str) -> redis::Cmd,
) -> Vec<T> {
    let map = cluster.slot_map_seen_by(cluster.live()[0]);
    let mut by_port: HashMap<u16, Vec<usize>> = HashMap::new();
    for (i, key) in keys.iter().enumerate() {
        let port = map[key_slot(key.as_bytes()) as usize];
        by_port.entry(port).or_default().push(i);
    }
    let mut out: Vec<Option<T>> = keys.iter().map(|_| None).collect();
    for (port, indexes) in by_port {
        let mut conn = cluster.conn(cluster.node_at(port));
        for batch in indexes.chunks(1000) {
            let mut pipe = redis::pipe();
            for &i in batch {
                pipe.add_command(build(&keys[i]));
            }
            let replies: Vec<T> = pipe
                .query(&mut conn)
                .unwrap_or_else(|e| panic!("reading keys on port {port}: {e}"));
            for (&i, reply) in batch.iter().zip(replies) {
                out[i] = Some(reply);
            }
        }
    }
    out.into_iter()
        .map(|v| v.expect("every key read"))
        .collect()
}

/// Every element of each list (LRANGE 0 -1), in the order of `keys`.
pub fn read_lists(cluster: &Cluster, keys: &[String]) -> Vec<Vec<String>> {
    read_keys(cluster, keys, |key| {
        let mut c = redis::cmd("LRANGE");
        c.arg(key).arg(0).arg(-1);
        c
    })
}

/// One stream entry: its ID and fields.
pub type StreamEntry = (String, HashMap<String, String>);

/// Every entry of each stream (XRANGE - +), in the order of `keys`.
pub fn read_streams(cluster: &Cluster, keys: &[String]) -> Vec<Vec<StreamEntry>> {
    read_keys(cluster, keys, |key| {
        let mut c = redis::cmd("XRANGE");
        c.arg(key).arg("-").arg("+");
        c
    })
}

/// The number of elements over all keys read.
pub fn total<T>(per_key: &[Vec<T>]) -> usize {
    per_key.iter().map(Vec::len).sum()
}

/// Keys matching `pattern` on every primary (SCAN), each key once.
pub fn scan_all(cluster: &Cluster, pattern: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for node in cluster.primaries() {
        let mut conn = cluster.conn(node);
        let mut cursor = "0".to_string();
        loop {
            let (next, batch): (String, Vec<String>) = try_cmd(
                &mut conn,
                &["SCAN", &cursor, "MATCH", pattern, "COUNT", "1000"],
            )
            .unwrap_or_else(|e| panic!("SCAN on node {node}: {e}"));
            keys.extend(batch);
            if next == "0" {
                break;
            }
            cursor = next;
        }
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}
