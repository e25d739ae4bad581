//! The faults tests inflict on a `Cluster`: kill -9 and restart of a node, manual failover,
//! resharding with `--cluster reshard` (in the background, while a test writes), a slot moved
//! by hand step by step, and the waits until each has settled.

use super::cluster::Cluster;
use super::{cmd, wait_until};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// How long a fault may take to settle before the test fails.
pub const SETTLE: Duration = Duration::from_secs(45);

/// A running `redis-cli --cluster reshard`.
pub struct Reshard {
    thread: std::thread::JoinHandle<(Output, Duration)>,
}

impl Reshard {
    /// Waits for the reshard to finish; panics with its output if it failed.
    pub fn join(self) -> Duration {
        let (output, took) = self.thread.join().expect("reshard thread");
        let report = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && !report.contains("[ERR]") && !report.contains("BUSYKEY"),
            "reshard failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        took
    }

    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }
}

impl Cluster {
    /// SIGKILLs a primary, then waits until one of its replicas is promoted and the cluster
    /// has converged. Returns the promoted node and the time from the kill to convergence.
    /// (SIGKILL leaves nothing in the server log, so the crash check on drop stays quiet.)
    pub fn kill_primary(&mut self, primary: usize) -> (usize, Duration) {
        assert!(
            self.primary_of(primary).is_none(),
            "node {primary} is no primary"
        );
        let replicas = self.replicas_of(primary);
        assert!(
            !replicas.is_empty(),
            "node {primary} has no replica to promote"
        );
        let start = Instant::now();
        self.nodes[primary].kill9();
        self.down[primary] = true;
        let mut promoted = None;
        wait_until("a replica to be promoted", SETTLE, || {
            promoted = replicas
                .iter()
                .copied()
                .find(|&r| self.primary_of(r).is_none());
            promoted.is_some()
        });
        wait_until("the cluster to converge after the kill", SETTLE, || {
            self.converged()
        });
        (promoted.unwrap_or_default(), start.elapsed())
    }

    /// Restarts a killed node on its port and directory (same nodes.conf, so the same node
    /// id); waits until it has rejoined as a replica with its link up and the cluster has
    /// converged. Returns the time from the restart to then.
    pub fn restart(&mut self, node: usize) -> Duration {
        let start = Instant::now();
        self.nodes[node].restart();
        self.down[node] = false;
        wait_until("the restarted node to sync as a replica", SETTLE, || {
            let mut conn = self.conn(node);
            self.primary_of(node).is_some()
                && cmd::<String>(&mut conn, &["INFO", "replication"])
                    .contains("master_link_status:up")
        });
        wait_until("the cluster to converge after the restart", SETTLE, || {
            self.converged()
        });
        start.elapsed()
    }

    /// `CLUSTER FAILOVER` on a replica; waits until it is primary, its former primary is its
    /// replica, and the cluster has converged. Returns how long that took.
    pub fn manual_failover(&self, replica: usize) -> Duration {
        let old = self
            .primary_of(replica)
            .map(|port| self.node_at(port))
            .unwrap_or_else(|| panic!("node {replica} is no replica"));
        let start = Instant::now();
        let reply: String = cmd(&mut self.conn(replica), &["CLUSTER", "FAILOVER"]);
        assert_eq!(reply, "OK");
        wait_until("the roles to swap", SETTLE, || {
            self.primary_of(replica).is_none() && self.primary_of(old) == Some(self.port(replica))
        });
        wait_until("the cluster to converge after the failover", SETTLE, || {
            self.converged()
        });
        start.elapsed()
    }

    /// Starts `redis-cli --cluster reshard` moving `slots` slots from one primary to another,
    /// in a background thread; `Reshard::join` waits for it.
    pub fn reshard(&self, from: usize, to: usize, slots: usize) -> Reshard {
        let mut command = Command::new(&self.cli);
        command.args([
            "--cluster",
            "reshard",
            &format!("127.0.0.1:{}", self.port(from)),
            "--cluster-from",
            &self.node_id(from),
            "--cluster-to",
            &self.node_id(to),
            "--cluster-slots",
            &slots.to_string(),
            "--cluster-yes",
        ]);
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            let output = command.output().expect("run --cluster reshard");
            (output, start.elapsed())
        });
        Reshard { thread }
    }

    /// Waits until the nodes agree on the slots (a reshard refuses to start before gossip has
    /// spread the last change), then reshards and waits for it.
    pub fn reshard_now(&self, from: usize, to: usize, slots: usize) -> Duration {
        self.wait_check_clean();
        self.reshard(from, to, slots).join()
    }

    /// `redis-cli --cluster check` through a live node: its exit status and output.
    pub fn check(&self) -> (bool, String) {
        let output = Command::new(&self.cli)
            .args(["--cluster", "check"])
            .arg(format!("127.0.0.1:{}", self.port(self.live()[0])))
            .output()
            .expect("run --cluster check");
        let out = String::from_utf8_lossy(&output.stdout).into_owned();
        let clean = output.status.success() && !out.contains("[WARNING]") && !out.contains("[ERR]");
        (clean, out)
    }

    /// Waits until `--cluster check` reports no open slot, no disagreement and full coverage,
    /// and the nodes have converged; returns how long that took.
    pub fn wait_check_clean(&self) -> Duration {
        let start = Instant::now();
        let mut last = String::new();
        let deadline = start + SETTLE;
        loop {
            let (clean, out) = self.check();
            if clean && self.converged() {
                return start.elapsed();
            }
            last = if clean { last } else { out };
            assert!(
                Instant::now() < deadline,
                "cluster check never clean:\n{last}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Opens the move of `slot` from the primary `from` to the primary `to` by hand, as
    /// `--cluster reshard` does: `SETSLOT IMPORTING` on the target, then `MIGRATING` on the
    /// source. The source then answers ASK for keys it no longer holds.
    pub fn begin_slot_move(&self, slot: u16, from: usize, to: usize) {
        let slot = slot.to_string();
        let (from_id, to_id) = (self.node_id(from), self.node_id(to));
        let importing = ["CLUSTER", "SETSLOT", &slot, "IMPORTING", &from_id];
        assert_eq!(cmd::<String>(&mut self.conn(to), &importing), "OK");
        let migrating = ["CLUSTER", "SETSLOT", &slot, "MIGRATING", &to_id];
        assert_eq!(cmd::<String>(&mut self.conn(from), &migrating), "OK");
    }

    /// Moves the keys of an open slot with MIGRATE, `batch` keys per MIGRATE (redis-cli's
    /// default is 10); returns how many moved.
    pub fn migrate_slot_keys(&self, slot: u16, from: usize, to: usize, batch: usize) -> usize {
        let (slot, count) = (slot.to_string(), batch.to_string());
        let target = self.port(to).to_string();
        let mut conn = self.conn(from);
        let mut moved = 0;
        loop {
            let keys: Vec<String> = cmd(&mut conn, &["CLUSTER", "GETKEYSINSLOT", &slot, &count]);
            if keys.is_empty() {
                return moved;
            }
            let mut migrate = vec!["MIGRATE", "127.0.0.1", &target, "", "0", "10000", "KEYS"];
            migrate.extend(keys.iter().map(String::as_str));
            assert_eq!(cmd::<String>(&mut conn, &migrate), "OK");
            moved += keys.len();
        }
    }

    /// Closes the move: `SETSLOT NODE <to>` on the target first, then on every other live
    /// primary (the source among them); waits until `--cluster check` is clean.
    pub fn end_slot_move(&self, slot: u16, to: usize) -> Duration {
        let (slot, to_id) = (slot.to_string(), self.node_id(to));
        let node = ["CLUSTER", "SETSLOT", &slot, "NODE", &to_id];
        assert_eq!(cmd::<String>(&mut self.conn(to), &node), "OK");
        for primary in self.primaries().into_iter().filter(|&p| p != to) {
            assert_eq!(cmd::<String>(&mut self.conn(primary), &node), "OK");
        }
        self.wait_check_clean()
    }
}
