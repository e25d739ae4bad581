//! The live fuzzer: random and half-valid KAFKA.* commands (random bytes, UTF-8 edge cases,
//! huge and empty arguments, valid commands in random order), hostile writes to the module's
//! state keys, and ordinary traffic, thrown at a real redis-server with the module and a real
//! (mock) broker. After every batch the server must answer; every error reply must start with
//! an uppercase code; hostile state writes must all be refused; and after two rounds no thread
//! or memory is left behind. `FUZZ_COMMANDS` sets the commands per server (default 6,000 in
//! `make test`; `make fuzz` throws 200,000).

mod common;

#[path = "../src/fuzz/gen.rs"]
#[allow(dead_code)]
mod gen;

use common::resp::{RawConnection, Reply};
use common::*;
use gen::Gen;
use std::time::Duration;

fn commands() -> usize {
    std::env::var("FUZZ_COMMANDS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(6_000)
}

const NAMES: &[&str] = &["n0", "n1", "n2", "n3", "n4", "n5"];
const COMMAND_NAMES: &[&str] = &[
    "KAFKA.SINK.CREATE",
    "KAFKA.SINK.DELETE",
    "KAFKA.SINK.PAUSE",
    "KAFKA.SINK.RESUME",
    "KAFKA.SINK.LIST",
    "KAFKA.SOURCE.CREATE",
    "KAFKA.SOURCE.DELETE",
    "KAFKA.SOURCE.PAUSE",
    "KAFKA.SOURCE.RESUME",
    "KAFKA.SOURCE.LIST",
    "KAFKA.STATUS",
    "KAFKA._STATE",
    "KAFKA._REFUSED",
    "KAFKA.DEBUG",
    "kafka.status",
    "KAFKA.SINK",
    "KAFKA.",
];

/// What a command is expected to do, checked against its reply.
#[derive(PartialEq)]
enum Expect {
    Anything,
    Refused,
}

struct Fuzzer {
    g: Gen,
    bootstrap: String,
}

impl Fuzzer {
    fn next_command(&mut self) -> (Vec<Vec<u8>>, Expect) {
        let g = &mut self.g;
        let name = g.pick(NAMES).as_bytes().to_vec();
        let b = self.bootstrap.as_bytes().to_vec();
        let words = |list: &[&str]| {
            list.iter()
                .map(|w| w.as_bytes().to_vec())
                .collect::<Vec<_>>()
        };
        let mut command = match g.below(100) {
            0..=29 => {
                let mut c = vec![g.pick(COMMAND_NAMES).as_bytes().to_vec()];
                c.extend(g.args(8));
                c
            }
            30..=44 => {
                let mut c = words(&["KAFKA.SINK.CREATE"]);
                c.push(name);
                c.extend(words(&["TOPICS", *g.pick(&["t1", "t2", "t1,t2"])]));
                c.extend([b"BROKERS".to_vec(), b]);
                c.extend(g.args(6));
                c
            }
            45..=54 => {
                let mut c = words(&["KAFKA.SOURCE.CREATE"]);
                c.push(name);
                c.extend(words(&["STREAMS", *g.pick(&["s:*", "s:1", "*"])]));
                c.extend([b"BROKERS".to_vec(), b]);
                c.extend(g.args(6));
                c
            }
            55..=69 => {
                let verb = g.pick(&[
                    "KAFKA.SINK.PAUSE",
                    "KAFKA.SINK.RESUME",
                    "KAFKA.SINK.DELETE",
                    "KAFKA.SOURCE.PAUSE",
                    "KAFKA.SOURCE.RESUME",
                    "KAFKA.SOURCE.DELETE",
                ]);
                let mut c = vec![verb.as_bytes().to_vec(), name];
                if g.chance(20) {
                    c.push(b"PURGE".to_vec());
                }
                c
            }
            70..=77 => match g.below(4) {
                0 => words(&["KAFKA.STATUS"]),
                1 => vec![b"KAFKA.STATUS".to_vec(), name],
                2 => words(&["KAFKA.SINK.LIST"]),
                _ => words(&["INFO", "kafka"]),
            },
            78..=81 => {
                let mut c = words(&["KAFKA.PRODUCE", *g.pick(&["t1", "t2"])]);
                c.push(g.json_bytes(2));
                if g.chance(50) {
                    c.extend([b"KEY".to_vec(), g.bytes(6)]);
                }
                c
            }
            82..=91 => return (self.hostile_state_write(), Expect::Refused),
            _ => {
                let stream = format!("s:{}", self.g.below(3));
                let mut c = words(&["XADD", &stream, "*"]);
                c.push(self.g.text_bytes(6));
                c.push(self.g.bytes(20));
                if c[3].is_empty() {
                    c[3] = b"f".to_vec();
                }
                c
            }
        };
        // Now and then an argument grows huge or empty.
        if self.g.chance(2) && command.len() > 1 {
            let at = 1 + self.g.below(command.len() - 1);
            command[at] = if self.g.chance(50) {
                vec![b'x'; 1 << 20]
            } else {
                Vec::new()
            };
        }
        (command, Expect::Anything)
    }

    /// A write to a state key, by a route a client has: every one must be refused.
    fn hostile_state_write(&mut self) -> Vec<Vec<u8>> {
        let g = &mut self.g;
        let key = g
            .pick(&[
                "__kafka:bridges",
                "__kafka:bridge:n0",
                "__kafka:bridge:evil",
                "__kafka:offsets:n1",
                "__kafka:checkpoints:n2",
            ])
            .to_string();
        let words = |list: &[&str]| {
            list.iter()
                .map(|w| w.as_bytes().to_vec())
                .collect::<Vec<_>>()
        };
        let mut command = match g.below(9) {
            0 => words(&["HSET", &key, "kind", "source", "args", r#"["STREAMS","*"]"#]),
            1 => words(&["SADD", &key, "evil"]),
            2 => words(&["DEL", &key]),
            3 => words(&["EXPIRE", &key, "1"]),
            4 => words(&["RENAME", "plain", &key]),
            5 => words(&["COPY", "plain", &key]),
            6 => words(&[
                "EVAL",
                "return redis.call('SADD', KEYS[1], 'evil')",
                "1",
                &key,
            ]),
            7 => words(&["SUNIONSTORE", &key, "plain-set"]),
            _ => words(&["HSET", &key, "paused", "1"]),
        };
        if g.chance(30) {
            command.extend(g.args(3));
        }
        command
    }
}

fn check_reply(reply: &Reply, expect: &Expect, command: &[Vec<u8>]) {
    let shown = || {
        command
            .iter()
            .map(|a| String::from_utf8_lossy(&a[..a.len().min(40)]).into_owned())
            .collect::<Vec<_>>()
    };
    match reply.error_code() {
        Some(code) => {
            assert!(
                code.len() >= 2 && code.iter().all(|b| b.is_ascii_uppercase() || *b == b'_'),
                "error without an uppercase code for {:?}: {reply:?}",
                shown()
            );
        }
        None => assert!(
            *expect != Expect::Refused,
            "a state write went through: {:?} -> {reply:?}",
            shown()
        ),
    }
}

fn used_memory(conn: &mut redis::Connection) -> i64 {
    let info: String = cmd(conn, &["INFO", "memory"]);
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Removes everything (bridges stop with their definitions) and waits for the threads to go.
fn settle(redis: &RedisServer, conn: &mut redis::Connection, threads: usize) -> (usize, i64) {
    cmd::<String>(conn, &["FLUSHALL"]);
    wait_until("bridge threads gone", Duration::from_secs(60), || {
        redis.threads() <= threads
    });
    (redis.threads(), used_memory(conn))
}

fn fuzz(options: ServerOptions, seed: u64) {
    let kafka = MockKafka::new();
    for topic in ["t1", "t2"] {
        kafka.create_topic(topic, 2);
    }
    let redis = RedisServer::start_with(ServerOptions {
        module_args: vec!["kafka.brokers".into(), kafka.bootstrap()],
        extra: vec!["--proto-max-bulk-len".into(), "8mb".into()],
        ..options
    });
    let mut conn = redis.conn();
    let mut raw = RawConnection::connect(redis.port).expect("raw connection");
    let _: (i64, i64) = cmd(&mut conn, &["KAFKA.PRODUCE", "t1", "warm-up"]);
    let baseline_threads = redis.threads();
    let mut fuzzer = Fuzzer {
        g: Gen::new(seed),
        bootstrap: kafka.bootstrap(),
    };
    let total = commands();
    let mut after_rounds = Vec::new();
    let (mut created, mut errors) = (0, 0);
    for _round in 0..2 {
        let mut sent = 0;
        while sent < total / 2 {
            let batch: Vec<(Vec<Vec<u8>>, Expect)> =
                (0..50).map(|_| fuzzer.next_command()).collect();
            let commands: Vec<Vec<Vec<u8>>> = batch.iter().map(|(c, _)| c.clone()).collect();
            let replies = raw.pipeline(&commands).unwrap_or_else(|e| {
                panic!("server gone after {sent} commands: {e}\n{}", redis.log())
            });
            for ((command, expect), reply) in batch.iter().zip(&replies) {
                check_reply(reply, expect, command);
                if command[0].ends_with(b".CREATE") && *reply == Reply::Simple(b"OK".to_vec()) {
                    created += 1;
                }
                if reply.error_code().is_some() {
                    errors += 1;
                }
            }
            sent += batch.len();
            assert_eq!(cmd::<String>(&mut conn, &["PING"]), "PONG");
        }
        after_rounds.push(settle(&redis, &mut conn, baseline_threads + 2));
    }
    let (threads_1, memory_1) = after_rounds[0];
    let (threads_2, memory_2) = after_rounds[1];
    println!(
        "live fuzz: {total} commands ({created} bridges created, {errors} error replies); threads {baseline_threads} -> {threads_1} -> {threads_2}; used_memory {memory_1} -> {memory_2}"
    );
    assert!(
        threads_2 <= threads_1 + 1,
        "threads grew: {threads_1} -> {threads_2}"
    );
    assert!(
        memory_2 <= memory_1 + (4 << 20),
        "memory grew between identical rounds: {memory_1} -> {memory_2}"
    );
    assert!(!redis.log().contains("panicked"), "{}", redis.log());
}

#[test]
fn live_fuzz_redis() {
    fuzz(ServerOptions::default(), 1);
}

#[test]
fn live_fuzz_valkey() {
    fuzz(
        ServerOptions {
            binary: valkey_server(),
            ..ServerOptions::default()
        },
        2,
    );
}
