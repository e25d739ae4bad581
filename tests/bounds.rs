//! Bounded in every dimension: huge records pass while Redis keeps answering, KAFKA.PRODUCE
//! cannot make Redis open clients without limit, SHUTDOWN and MODULE UNLOAD return in bounded
//! time whatever the broker does, and a panic anywhere fails one bridge, not Redis.

mod common;

use common::*;
use redis::FromRedisValue;
use std::io::Read;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIG: usize = 20 << 20;

fn big_value(i: usize) -> Vec<u8> {
    let mut value = vec![b'a' + (i % 26) as u8; BIG];
    value[..8].copy_from_slice(format!("{i:08}").as_bytes());
    value
}

/// PINGs on its own connection until stopped; returns the sorted latencies.
fn ping_probe(port: u16, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<Duration>> {
    std::thread::spawn(move || {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
        let mut conn = client.get_connection().unwrap();
        let mut samples = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let sent = Instant::now();
            let _: String = redis::cmd("PING").query(&mut conn).unwrap();
            samples.push(sent.elapsed());
            std::thread::sleep(Duration::from_micros(200));
        }
        samples.sort();
        samples
    })
}

fn quantile(samples: &[Duration], q: f64) -> Duration {
    samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)]
}

#[test]
fn records_of_20_mib_pass_through_a_sink_and_a_source_while_redis_answers() {
    // Tansu: librdkafka's mock cluster serves no fetch once a partition holds several
    // 20 MiB records (checked with a bare consumer).
    let kafka = Tansu::start();
    kafka.create_topic("big", 1);
    let redis = RedisServer::start_with(ServerOptions {
        extra: vec!["--proto-max-bulk-len".into(), "100mb".into()],
        ..ServerOptions::default()
    });
    let stop = Arc::new(AtomicBool::new(false));
    let probe = ping_probe(redis.port, stop.clone());
    let mut conn = redis.conn();
    let producer: rdkafka::producer::BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap())
        .set("message.max.bytes", "64000000")
        .create()
        .unwrap();
    use rdkafka::producer::Producer;
    for i in 0..4 {
        let value = big_value(i);
        let key = format!("k{i}");
        producer
            .send(
                rdkafka::producer::BaseRecord::to("big")
                    .key(&key)
                    .payload(&value),
            )
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(Duration::from_secs(60)).unwrap();
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "bigs",
        &[
            "TOPICS",
            "big",
            "CONFIG",
            "fetch.max.bytes",
            "100000000",
            "CONFIG",
            "receive.message.max.bytes",
            "200000000",
        ],
    );
    wait_until("4 big records applied", Duration::from_secs(120), || {
        let Ok(status) = try_cmd::<Vec<redis::Value>>(&mut conn, &["KAFKA.STATUS", "bigs"]) else {
            panic!("server gone: {}", redis.log());
        };
        let map = pairs(&status);
        i64::from_redis_value(&map["records"]).unwrap() == 4
    });
    for i in 0..4 {
        let stored: Vec<u8> = cmd(&mut conn, &["GET", &format!("big:k{i}")]);
        assert!(stored == big_value(i), "record {i} changed on the way");
    }
    // The other way: stream entries of 20 MiB forwarded intact.
    let b = kafka.bootstrap();
    cmd::<String>(
        &mut conn,
        &[
            "KAFKA.SOURCE.CREATE",
            "bigsrc",
            "STREAMS",
            "bigstream",
            "TOPIC",
            "big-out",
            "FROM",
            "BEGINNING",
            "BROKERS",
            &b,
            "CONFIG",
            "message.max.bytes",
            "64000000",
        ],
    );
    for i in 0..3 {
        let value = big_value(i);
        redis::cmd("XADD")
            .arg("bigstream")
            .arg("*")
            .arg("v")
            .arg(&value[..])
            .query::<String>(&mut conn)
            .unwrap();
    }
    wait_until("3 big entries forwarded", Duration::from_secs(120), || {
        status_field::<i64>(&mut conn, "bigsrc", "records") == 3
    });
    stop.store(true, Ordering::Relaxed);
    let samples = probe.join().unwrap();
    let (p99, p999, max) = (
        quantile(&samples, 0.99),
        quantile(&samples, 0.999),
        *samples.last().unwrap(),
    );
    println!(
        "PING while 20 MiB records pass: {} samples, p99 {:?}, p99.9 {:?}, max {:?}",
        samples.len(),
        p99,
        p999,
        max
    );
    assert!(
        max < Duration::from_secs(2),
        "Redis stopped answering: max {max:?}"
    );
    let consumer: rdkafka::consumer::BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap())
        .set("group.id", "big-reader")
        .set("auto.offset.reset", "earliest")
        .set("fetch.max.bytes", "100000000")
        .set("receive.message.max.bytes", "200000000")
        .create()
        .unwrap();
    use rdkafka::consumer::Consumer;
    use rdkafka::Message;
    consumer.subscribe(&["big-out"]).unwrap();
    let mut got = 0;
    let deadline = Instant::now() + DEADLINE;
    while got < 3 {
        assert!(Instant::now() < deadline, "read {got} of 3");
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let value: serde_json::Value = serde_json::from_slice(m.payload().unwrap()).unwrap();
            let text = value["v"].as_str().unwrap();
            assert_eq!(text.as_bytes(), &big_value(got)[..], "entry {got} changed");
            got += 1;
        }
    }
}

#[test]
fn produce_with_brokers_is_admin_only_and_its_producers_are_bounded() {
    let clusters: Vec<MockKafka> = (0..12).map(|_| MockKafka::new()).collect();
    let redis = RedisServer::start_with(ServerOptions {
        module_args: vec!["kafka.brokers".into(), clusters[0].bootstrap()],
        ..ServerOptions::default()
    });
    let mut admin = redis.conn();
    cmd::<String>(
        &mut admin,
        &[
            "ACL", "SETUSER", "app", "on", ">pw", "~*", "&*", "+@all", "-@admin",
        ],
    );
    let mut app = redis.conn();
    cmd::<String>(&mut app, &["AUTH", "app", "pw"]);
    let other = clusters[1].bootstrap();
    let error = cmd_err(&mut app, &["KAFKA.PRODUCE", "t", "v", "BROKERS", &other]);
    assert!(error.starts_with("NOPERM"), "{error}");
    let (partition, _): (i64, i64) = cmd(&mut app, &["KAFKA.PRODUCE", "t", "v"]);
    assert!(partition >= 0);
    let one_producer = redis.threads();
    for cluster in &clusters {
        let b = cluster.bootstrap();
        let _: (i64, i64) = cmd(&mut admin, &["KAFKA.PRODUCE", "t", "v", "BROKERS", &b]);
    }
    // At most four producers stay open; the ones pushed out close in the background.
    wait_until("producers beyond the pool closed", DEADLINE, || {
        redis.threads() <= one_producer + 3 * 12
    });
    let settled = redis.threads();
    for cluster in &clusters {
        let b = cluster.bootstrap();
        let _: (i64, i64) = cmd(&mut admin, &["KAFKA.PRODUCE", "t", "v", "BROKERS", &b]);
    }
    wait_until("thread count flat after a second round", DEADLINE, || {
        redis.threads() <= settled + 2
    });
}

/// A TCP server that accepts connections and never answers: a hung broker.
struct BlackHole {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl BlackHole {
    fn start() -> BlackHole {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                if let Ok((mut stream, _)) = listener.accept() {
                    let _ = stream.set_nonblocking(true);
                    let mut buf = [0u8; 4096];
                    let _ = stream.read(&mut buf);
                    held.push(stream);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        BlackHole { port, stop }
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn bridges_on_a_hung_broker(redis: &RedisServer, conn: &mut redis::Connection, hole: &BlackHole) {
    let before = redis.threads();
    let b = hole.address();
    for args in [
        &[
            "KAFKA.SINK.CREATE",
            "s",
            "TOPICS",
            "t",
            "BROKERS",
            &b,
            "ON-ERROR",
            "DLQ",
            "d",
        ][..],
        &[
            "KAFKA.SINK.CREATE",
            "s2",
            "TOPICS",
            "t",
            "BROKERS",
            &b,
            "TASKS",
            "4",
        ],
        &[
            "KAFKA.SOURCE.CREATE",
            "src",
            "STREAMS",
            "x",
            "BROKERS",
            &b,
            "FROM",
            "BEGINNING",
        ],
    ] {
        cmd::<String>(conn, args);
    }
    for _ in 0..100 {
        cmd::<String>(conn, &["XADD", "x", "*", "f", "v"]);
    }
    // Six workers, each with librdkafka's threads, all connecting to the hole.
    wait_until("bridges started", DEADLINE, || {
        redis.threads() >= before + 20
    });
}

fn shutdown_and_unload_return_in_bounded_time_whatever_the_broker_does(binary: std::path::PathBuf) {
    let hole = BlackHole::start();
    let mut redis = RedisServer::start_with(ServerOptions {
        binary,
        module_args: vec!["kafka.shutdown-timeout-ms".into(), "2000".into()],
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    bridges_on_a_hung_broker(&redis, &mut conn, &hole);
    let started = Instant::now();
    let unload = try_cmd::<String>(&mut conn, &["MODULE", "UNLOAD", "kafka"]);
    let took = started.elapsed();
    println!("MODULE UNLOAD with a hung broker: {unload:?} after {took:?}");
    assert!(took < Duration::from_secs(3), "MODULE UNLOAD took {took:?}");
    assert_eq!(unload.as_deref(), Ok("OK"), "{}", redis.log());
    assert_eq!(cmd::<String>(&mut conn, &["PING"]), "PONG");
    // SHUTDOWN with the bridges back and a KAFKA.PRODUCE waiting on the hung broker.
    let path = module_path().display().to_string();
    cmd::<String>(
        &mut conn,
        &["MODULE", "LOAD", &path, "kafka.shutdown-timeout-ms", "2000"],
    );
    wait_until("bridges restarted from their definitions", DEADLINE, || {
        try_cmd::<Vec<redis::Value>>(&mut conn, &["KAFKA.STATUS", "src"]).is_ok()
            && status_field::<String>(&mut conn, "src", "state") != "starting"
    });
    let port = redis.port;
    let b = hole.address();
    std::thread::spawn(move || {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
        if let Ok(mut c) = client.get_connection() {
            let _ = redis::cmd("KAFKA.PRODUCE")
                .arg("t")
                .arg("v")
                .arg("BROKERS")
                .arg(&b)
                .query::<redis::Value>(&mut c);
        }
    });
    std::thread::sleep(Duration::from_millis(200)); // let the PRODUCE reach the server
    let started = Instant::now();
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<()>(&mut conn);
    assert!(
        redis.wait_exit(Duration::from_secs(10)),
        "SHUTDOWN did not finish in 10 s"
    );
    let took = started.elapsed();
    println!("SHUTDOWN with a hung broker: {took:?}");
    assert!(took < Duration::from_secs(5), "SHUTDOWN took {took:?}");
}

fn a_panic_fails_one_bridge_and_redis_keeps_serving(binary: std::path::PathBuf) {
    let kafka = MockKafka::new();
    kafka.create_topic("t", 1);
    let redis = RedisServer::start_with(ServerOptions {
        binary,
        module_args: vec!["kafka.debug-command".into(), "yes".into()],
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    create_sink(&mut conn, &kafka.bootstrap(), "s", &["TOPICS", "t"]);
    let b = kafka.bootstrap();
    cmd::<String>(
        &mut conn,
        &["KAFKA.SOURCE.CREATE", "src", "STREAMS", "x", "BROKERS", &b],
    );
    wait_until("both running", DEADLINE, || {
        status_field::<String>(&mut conn, "s", "state") == "running"
            && status_field::<String>(&mut conn, "src", "state") == "running"
    });
    for name in ["s", "src"] {
        cmd::<String>(&mut conn, &["KAFKA.DEBUG", "PANIC-WORKER", name]);
        wait_until("failed after the panic", DEADLINE, || {
            status_field::<String>(&mut conn, name, "state") == "failed"
        });
        let error: String = status_field(&mut conn, name, "last_error");
        assert!(error.contains("panicked"), "{error}");
    }
    // A command that panics gets an error reply; a server event that panics is logged.
    let error = cmd_err(&mut conn, &["KAFKA.DEBUG", "PANIC"]);
    assert!(
        error.starts_with("ERR") && error.contains("panicked"),
        "{error}"
    );
    // Counting allocations needs a build made for it (make bench); this one refuses, by name.
    for args in [
        &["ALLOCATIONS"][..],
        &["allocations", "\u{0}", "\u{ff}"][..],
    ] {
        let mut line = vec!["KAFKA.DEBUG"];
        line.extend_from_slice(args);
        let error = cmd_err(&mut conn, &line);
        assert!(
            error.starts_with("ERR") && error.contains("count-allocations"),
            "{error}"
        );
    }
    cmd::<String>(&mut conn, &["KAFKA.DEBUG", "PANIC-EVENT"]);
    wait_until("event panic logged", DEADLINE, || {
        redis.log().contains("server event panicked")
    });
    assert_eq!(cmd::<String>(&mut conn, &["PING"]), "PONG");
    // RESUME brings both back, and they work.
    cmd::<String>(&mut conn, &["KAFKA.SINK.RESUME", "s"]);
    cmd::<String>(&mut conn, &["KAFKA.SOURCE.RESUME", "src"]);
    produce(&kafka.bootstrap(), "t", &[Rec::kv("a", "1")]);
    wait_until("sink works again", DEADLINE, || {
        key_exists(&mut conn, "t:a")
    });
    wait_until("source running again", DEADLINE, || {
        status_field::<String>(&mut conn, "src", "state") == "running"
    });
}

#[test]
fn the_debug_command_is_off_unless_enabled_at_load() {
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let error = cmd_err(&mut conn, &["KAFKA.DEBUG", "PANIC"]);
    assert!(error.contains("disabled"), "{error}");
    let error = cmd_err(&mut conn, &["CONFIG", "SET", "kafka.debug-command", "yes"]);
    assert!(error.starts_with("ERR"), "{error}");
}

#[test]
fn a_panic_fails_one_bridge_and_redis_keeps_serving_redis() {
    a_panic_fails_one_bridge_and_redis_keeps_serving(redis_server());
}

#[test]
fn a_panic_fails_one_bridge_and_redis_keeps_serving_valkey() {
    a_panic_fails_one_bridge_and_redis_keeps_serving(valkey_server());
}

#[test]
fn a_panic_fails_one_bridge_and_redis_keeps_serving_redis74() {
    a_panic_fails_one_bridge_and_redis_keeps_serving(redis_7_4_server());
}

#[test]
fn shutdown_and_unload_return_in_bounded_time_whatever_the_broker_does_redis() {
    shutdown_and_unload_return_in_bounded_time_whatever_the_broker_does(redis_server());
}

#[test]
fn shutdown_and_unload_return_in_bounded_time_whatever_the_broker_does_valkey() {
    shutdown_and_unload_return_in_bounded_time_whatever_the_broker_does(valkey_server());
}

#[test]
fn shutdown_and_unload_return_in_bounded_time_whatever_the_broker_does_redis74() {
    shutdown_and_unload_return_in_bounded_time_whatever_the_broker_does(redis_7_4_server());
}
