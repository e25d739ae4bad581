//! Client-side views of a redis-server while a bridge works: bridge progress from
//! KAFKA.STATUS, a PING/GET prober thread, and single-XADD round trips.

use crate::kafka::STALL;
use redis::{Connection, FromRedisValue, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Interval between two KAFKA.STATUS polls.
const POLL: Duration = Duration::from_millis(20);

/// KAFKA.STATUS <name> as a map of its flat name/value pairs.
pub fn status(conn: &mut Connection, name: &str) -> HashMap<String, Value> {
    let pairs: Vec<Value> = redis::cmd("KAFKA.STATUS")
        .arg(name)
        .query(conn)
        .unwrap_or_else(|e| panic!("KAFKA.STATUS {name}: {e}"));
    pairs
        .chunks(2)
        .filter_map(|pair| {
            Some((
                String::from_redis_value(&pair[0]).ok()?,
                pair.get(1)?.clone(),
            ))
        })
        .collect()
}

fn field<T: FromRedisValue>(status: &HashMap<String, Value>, name: &str) -> Option<T> {
    status.get(name).and_then(|v| T::from_redis_value(v).ok())
}

/// Polls KAFKA.STATUS every 20 ms until the bridge's `records` reaches `target`. Panics when the
/// bridge fails or makes no progress for a minute.
pub fn wait_records(conn: &mut Connection, name: &str, target: usize) {
    let mut last = (0usize, Instant::now());
    loop {
        let status = status(conn, name);
        let records: usize = field(&status, "records").unwrap_or(0);
        if records >= target {
            return;
        }
        let state: String = field(&status, "state").unwrap_or_default();
        if state == "failed" {
            let error: String = field(&status, "last_error").unwrap_or_default();
            panic!("bridge {name} failed at {records} of {target} records: {error}");
        }
        if records > last.0 {
            last = (records, Instant::now());
        }
        assert!(
            last.1.elapsed() < STALL,
            "bridge {name} stalled at {records} of {target} records (state {state}): {status:?}"
        );
        std::thread::sleep(POLL);
    }
}

/// Keys in the database that are not the module's own (`__kafka:` prefix).
pub fn user_keys(conn: &mut Connection) -> usize {
    let total: usize = redis::cmd("DBSIZE").query(conn).expect("DBSIZE");
    let internal: Vec<String> = redis::cmd("KEYS")
        .arg("__kafka:*")
        .query(conn)
        .expect("KEYS __kafka:*");
    total - internal.len()
}

/// Round trips of one probing client, in microseconds.
#[derive(Default)]
pub struct Samples {
    pub ping: Vec<u32>,
    pub get: Vec<u32>,
}

/// A thread on its own connection doing PING then `GET <key>` in a loop, timing each round
/// trip, until `finish`.
pub struct Prober {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Samples>>,
}

impl Prober {
    pub fn start(mut conn: Connection, key: &str) -> Prober {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let key = key.to_string();
        let handle = std::thread::spawn(move || {
            let mut samples = Samples::default();
            while !flag.load(Ordering::Relaxed) {
                let t = Instant::now();
                if redis::cmd("PING").query::<String>(&mut conn).is_err() {
                    break;
                }
                samples.ping.push(micros(t));
                let t = Instant::now();
                if redis::cmd("GET")
                    .arg(&key)
                    .query::<Value>(&mut conn)
                    .is_err()
                {
                    break;
                }
                samples.get.push(micros(t));
            }
            samples
        });
        Prober {
            stop,
            handle: Some(handle),
        }
    }

    pub fn finish(mut self) -> Samples {
        self.stop.store(true, Ordering::Relaxed);
        let handle = self.handle.take().expect("prober joined once");
        handle.join().expect("prober thread panicked")
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

fn micros(since: Instant) -> u32 {
    since.elapsed().as_micros().min(u32::MAX as u128) as u32
}

/// `count` single (non-pipelined) XADDs round-robin over the bench streams; each round trip in µs.
pub fn xadd_round_trips(
    conn: &mut Connection,
    workload: &crate::workload::Workload,
    count: usize,
) -> Vec<u32> {
    let payload = workload.entry_payload();
    (0..count)
        .map(|i| {
            let t = Instant::now();
            redis::cmd("XADD")
                .arg(workload.stream(i))
                .arg("*")
                .arg("id")
                .arg(i)
                .arg("payload")
                .arg(payload)
                .query::<Value>(conn)
                .unwrap_or_else(|e| panic!("XADD: {e}"));
            micros(t)
        })
        .collect()
}

/// Appends entries 0..count to the bench streams with pipelines of 1000 XADDs; returns the time.
pub fn xadd_pipelined(
    conn: &mut Connection,
    workload: &crate::workload::Workload,
    count: usize,
) -> Duration {
    let payload = workload.entry_payload();
    let start = Instant::now();
    let mut i = 0;
    while i < count {
        let end = (i + 1000).min(count);
        let mut pipe = redis::pipe();
        for n in i..end {
            pipe.cmd("XADD")
                .arg(workload.stream(n))
                .arg("*")
                .arg("id")
                .arg(n)
                .arg("payload")
                .arg(payload)
                .ignore();
        }
        pipe.query::<()>(conn)
            .unwrap_or_else(|e| panic!("pipelined XADD: {e}"));
        i = end;
    }
    start.elapsed()
}
