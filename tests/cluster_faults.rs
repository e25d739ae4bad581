//! The cluster fault harness, proven without bridges: a client writes 20,000 keys spread over
//! all slots through routed writes while a primary is killed with -9 and restarted, a replica
//! takes over with CLUSTER FAILOVER, and 1200 slots move between primaries with
//! `--cluster reshard`. Every write the client saw replicated is then present exactly once,
//! and no write is present twice. The timings each fault took to settle are printed.

mod common;

use common::cluster::Cluster;
use common::cluster_io::{key_slot, read_lists, scan_all, total, Router, RouterStats, Write};
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEYS: usize = 20_000;
/// Writes per second: spreads the writes over the faults (about 13 s of writing).
const RATE: u32 = 1500;
const RESHARD_SLOTS: usize = 1200;

/// Writes `RPUSH k:<i> <i>` for every i, paced at RATE, and records what became of each.
fn write_keys(seeds: Vec<u16>, progress: &AtomicUsize) -> (Vec<Write>, RouterStats) {
    let mut router = Router::new(seeds);
    let interval = Duration::from_secs(1) / RATE;
    let mut due = Instant::now();
    let mut outcomes = Vec::with_capacity(KEYS);
    for i in 0..KEYS {
        // Pacing the load, not synchronising: no catch-up burst after a stall.
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        due = due.max(now) + interval;
        let (key, value) = (format!("k:{i}"), i.to_string());
        outcomes.push(router.write(&["RPUSH", &key, &value]));
        progress.store(i + 1, Relaxed);
    }
    (outcomes, router.stats)
}

fn writes_survive_faults(binary: std::path::PathBuf, server: &str) {
    let begin = Instant::now();
    let mut cluster = Cluster::start(binary, 3, 1);
    let started = begin.elapsed();
    for key in ["k:0", "k:19999", "{k}:1", "a{}b", "x{y}z{w}", "{}"] {
        assert_eq!(key_slot(key.as_bytes()), cluster.slot_of(key), "{key}");
    }

    let progress = Arc::new(AtomicUsize::new(0));
    let writer = {
        let seeds = cluster.nodes.iter().map(|n| n.port).collect();
        let progress = progress.clone();
        std::thread::spawn(move || write_keys(seeds, &progress))
    };
    let written = || progress.load(Relaxed);
    let reach = |n: usize| {
        wait_until(&format!("{n} writes"), DEADLINE, || {
            written() >= n || writer.is_finished()
        });
        assert!(!writer.is_finished(), "the writer ended before the faults");
    };

    // (a) kill -9 of a primary, then its restart as a replica.
    reach(1500);
    let victim = cluster.primaries()[0];
    let before = written();
    let (promoted, killed) = cluster.kill_primary(victim);
    let restarted = cluster.restart(victim);
    assert_eq!(cluster.primary_of(victim), Some(cluster.port(promoted)));
    let during_kill = written() - before;

    // (b) CLUSTER FAILOVER on the replica of another primary.
    reach(written() + 1000);
    let primary = *cluster
        .primaries()
        .iter()
        .find(|&&p| p != promoted)
        .expect("another primary");
    let replica = cluster.replicas_of(primary)[0];
    let before = written();
    let failed_over = cluster.manual_failover(replica);
    assert_eq!(cluster.primary_of(primary), Some(cluster.port(replica)));
    let during_failover = written() - before;

    // (c) reshard 1200 slots from one primary to another while the writes go on.
    reach(written() + 1000);
    let primaries = cluster.primaries();
    let (from, to) = (primaries[0], primaries[1]);
    let (from_slots, to_slots) = (cluster.slots_served_by(from), cluster.slots_served_by(to));
    let before = written();
    let resharded = cluster.reshard(from, to, RESHARD_SLOTS).join();
    let during_reshard = written() - before;
    let checked = cluster.wait_check_clean();
    assert_eq!(cluster.slots_served_by(from), from_slots - RESHARD_SLOTS);
    assert_eq!(cluster.slots_served_by(to), to_slots + RESHARD_SLOTS);
    assert!(during_reshard > 0, "no write during the reshard");

    let (outcomes, stats) = writer.join().expect("writer thread");
    assert_eq!(outcomes.len(), KEYS);
    assert!(stats.moved > 0, "no MOVED seen: {stats:?}");

    // Audit: a replicated write is there exactly once; any other at most once; no stray key.
    let audit = Instant::now();
    let keys: Vec<String> = (0..KEYS).map(|i| format!("k:{i}")).collect();
    let lists = read_lists(&cluster, &keys);
    let count = |w: Write| outcomes.iter().filter(|&&o| o == w).count();
    let (replicated, acked, unknown) = (
        count(Write::Replicated),
        count(Write::Acked),
        count(Write::Unknown),
    );
    let mut present_unconfirmed = 0;
    for (i, (list, outcome)) in lists.iter().zip(&outcomes).enumerate() {
        let expected = [i.to_string()];
        match outcome {
            Write::Replicated => assert_eq!(list[..], expected, "k:{i} ({outcome:?})"),
            Write::Acked | Write::Unknown => {
                assert!(list.is_empty() || list[..] == expected, "k:{i}: {list:?}");
                present_unconfirmed += list.len();
            }
        }
    }
    let present = total(&lists);
    assert_eq!(present, replicated + present_unconfirmed);
    assert_eq!(scan_all(&cluster, "k:*").len(), present);
    assert!(
        replicated > KEYS * 9 / 10,
        "only {replicated} of {KEYS} writes replicated"
    );
    eprintln!(
        "{server}: start {started:?}; kill -9 settled in {killed:?} ({during_kill} writes), \
         restart in {restarted:?}; failover in {failed_over:?} ({during_failover} writes); \
         reshard of {RESHARD_SLOTS} slots {resharded:?} ({during_reshard} writes), check clean \
         {checked:?} later; audit {:?}; total {:?}. Writes: {replicated} replicated, {acked} \
         acked only ({present_unconfirmed} of the unconfirmed present), {unknown} unknown; \
         {stats:?}",
        audit.elapsed(),
        begin.elapsed()
    );
}

#[test]
fn acknowledged_writes_survive_kill_failover_and_reshard_redis() {
    writes_survive_faults(redis_server(), "redis 7.0");
}

#[test]
fn acknowledged_writes_survive_kill_failover_and_reshard_valkey() {
    writes_survive_faults(valkey_server(), "valkey 8.1");
}

/// A slot moved by hand, step by step: while it is open each side's CLUSTER NODES line marks
/// it and `--cluster check` reports it; a routed write of a new key gets ASK from the source
/// and lands on the target; MIGRATE moves the old keys in batches; after SETSLOT NODE the
/// router follows MOVED, and every key is read back once from the target.
fn routes_through_a_slot_moved_by_hand(binary: std::path::PathBuf) {
    let cluster = Cluster::start(binary, 3, 0);
    let old: Vec<String> = (0..25).map(|i| format!("{{moving}}:{i}")).collect();
    let slot = key_slot(old[0].as_bytes());
    let from = cluster.node_for_slot(slot);
    let to = *cluster
        .primaries()
        .iter()
        .find(|&&p| p != from)
        .expect("a second primary");
    let mut router = Router::for_cluster(&cluster);
    for key in &old {
        assert_eq!(router.query::<i64>(&["RPUSH", key, "old"]), 1);
    }

    cluster.begin_slot_move(slot, from, to);
    let (from_id, to_id) = (cluster.node_id(from), cluster.node_id(to));
    let source_line = cluster.nodes_line(from);
    let target_line = cluster.nodes_line(to);
    assert!(
        source_line.contains(&format!("[{slot}->-{to_id}]")),
        "{source_line}"
    );
    assert!(
        target_line.contains(&format!("[{slot}-<-{from_id}]")),
        "{target_line}"
    );
    let (clean, report) = cluster.check();
    assert!(!clean && report.contains("open"), "{report}");

    let new = "{moving}:new";
    assert_eq!(router.query::<i64>(&["RPUSH", new, "new"]), 1);
    assert_eq!(router.stats.ask, 1, "{:?}", router.stats);
    // An old key still on the source is served there, without a redirect.
    assert_eq!(router.query::<i64>(&["LLEN", &old[0]]), 1);
    assert_eq!(router.stats.ask, 1, "{:?}", router.stats);

    assert_eq!(cluster.migrate_slot_keys(slot, from, to, 10), old.len());
    cluster.end_slot_move(slot, to);
    assert_eq!(cluster.node_for_slot(slot), to);
    let moved_before = router.stats.moved;
    assert_eq!(
        router.query::<Vec<String>>(&["LRANGE", new, "0", "-1"]),
        ["new"]
    );
    assert_eq!(router.stats.moved, moved_before + 1, "{:?}", router.stats);

    let mut keys = old.clone();
    keys.push(new.to_string());
    let lists = read_lists(&cluster, &keys);
    assert_eq!(total(&lists), keys.len());
    assert_eq!(scan_all(&cluster, "{moving}:*"), {
        let mut sorted = keys.clone();
        sorted.sort();
        sorted
    });
}

#[test]
fn routed_commands_follow_ask_and_moved_through_a_slot_move_redis() {
    routes_through_a_slot_moved_by_hand(redis_server());
}

#[test]
fn routed_commands_follow_ask_and_moved_through_a_slot_move_valkey() {
    routes_through_a_slot_moved_by_hand(valkey_server());
}
