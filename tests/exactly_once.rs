//! Exactly-once effect in Redis, shown with a STREAM sink (XADD duplicates on any replay):
//! pause/resume mid-topic, a consumer rebalance, and a broker outage each end with exactly one
//! entry per record.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn pause_and_resume_mid_topic_repeatedly() {
    let kafka = MockKafka::new();
    kafka.create_topic("pr", 2);
    produce(&kafka.bootstrap(), "pr", &numbered(0, 3000, 17));
    let redis = RedisServer::start_with(ServerOptions {
        // Small slices so pauses land in the middle of the topic.
        module_args: vec!["kafka.slice-max-records".into(), "20".into()],
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "pr",
        &["TOPICS", "pr", "TYPE", "STREAM"],
    );
    // Pause as soon as the sink has made progress, write more while it is paused, resume.
    let mut produced = 3000;
    let mut last = 0;
    for _ in 0..4 {
        wait_until("progress since last resume", DEADLINE, || {
            stored_total(&mut conn, "pr") > last
        });
        assert_eq!(cmd::<String>(&mut conn, &["KAFKA.SINK.PAUSE", "pr"]), "OK");
        assert_eq!(status_field::<String>(&mut conn, "pr", "state"), "paused");
        let paused_at = stored_total(&mut conn, "pr");
        produce(
            &kafka.bootstrap(),
            "pr",
            &numbered(produced, produced + 500, 17),
        );
        produced += 500;
        // Nothing was written while paused: the stream length still equals the stored offsets.
        assert_eq!(cmd::<i64>(&mut conn, &["XLEN", "pr"]), paused_at);
        assert_eq!(stored_total(&mut conn, "pr"), paused_at);
        assert_eq!(cmd::<String>(&mut conn, &["KAFKA.SINK.RESUME", "pr"]), "OK");
        last = paused_at;
    }
    wait_until("all records stored", DEADLINE, || {
        stored_total(&mut conn, "pr") == produced as i64
    });
    assert_exactly_once(&mut conn, "pr", produced);
}

#[test]
fn a_consumer_joining_and_leaving_the_group_does_not_duplicate_or_skip() {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let kafka = MockKafka::new();
    kafka.create_topic("rb", 4);
    produce(&kafka.bootstrap(), "rb", &numbered(0, 2000, 17));
    let redis = RedisServer::start_with(ServerOptions {
        module_args: vec!["kafka.slice-max-records".into(), "20".into()],
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "rb",
        &["TOPICS", "rb", "TYPE", "STREAM", "GROUP", "rb-group"],
    );
    wait_until("sink started applying", DEADLINE, || {
        stored_total(&mut conn, "rb") > 0
    });
    // An outside member of the same group takes some partitions, then leaves.
    let intruder: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap())
        .set("group.id", "rb-group")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    intruder.subscribe(&["rb"]).unwrap();
    wait_until("intruder owns partitions", DEADLINE, || {
        intruder.poll(Duration::from_millis(50));
        intruder
            .assignment()
            .map(|a| a.count() > 0)
            .unwrap_or(false)
    });
    produce(&kafka.bootstrap(), "rb", &numbered(2000, 3000, 17));
    intruder.unsubscribe();
    drop(intruder);
    wait_until("all 3000 stored", DEADLINE, || {
        stored_total(&mut conn, "rb") == 3000
    });
    assert_exactly_once(&mut conn, "rb", 3000);
}

#[test]
fn broker_outage_mid_run_loses_and_repeats_nothing() {
    let kafka = MockKafka::new();
    kafka.create_topic("out", 2);
    produce(&kafka.bootstrap(), "out", &numbered(0, 4000, 17));
    let redis = RedisServer::start_with(ServerOptions {
        module_args: vec!["kafka.slice-max-records".into(), "10".into()],
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "out",
        &["TOPICS", "out", "TYPE", "STREAM"],
    );
    wait_until("sink started applying", DEADLINE, || {
        stored_total(&mut conn, "out") > 0
    });
    kafka.broker_down();
    wait_until("outage noticed", DEADLINE, || {
        status_field::<String>(&mut conn, "out", "last_error").contains("kafka")
    });
    kafka.broker_up();
    produce(&kafka.bootstrap(), "out", &numbered(4000, 5000, 17));
    wait_until("all 5000 stored", DEADLINE, || {
        stored_total(&mut conn, "out") == 5000
    });
    assert_exactly_once(&mut conn, "out", 5000);
}

/// Redis asserts (and aborts) when a module replicates while writes are paused: CLIENT PAUSE,
/// FAILOVER, a cluster manual failover, SHUTDOWN waiting for replicas. A sink and a source
/// running flat out hold their writes through repeated CLIENT PAUSE WRITE, and nothing is lost
/// or applied twice.
#[test]
fn bridges_hold_their_writes_while_clients_are_paused() {
    let kafka = MockKafka::new();
    kafka.create_topic("paused", 2);
    kafka.create_topic("paused-out", 1);
    let total = 20_000;
    produce(&kafka.bootstrap(), "paused", &numbered(0, total, 7));
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    for i in 0..2000 {
        cmd::<String>(&mut conn, &["XADD", "ps", "*", "n", &i.to_string()]);
    }
    create_sink(
        &mut conn,
        &kafka.bootstrap(),
        "paused",
        &["TOPICS", "paused", "TYPE", "STREAM"],
    );
    let source = [
        "KAFKA.SOURCE.CREATE",
        "pout",
        "BROKERS",
        &kafka.bootstrap(),
        "STREAMS",
        "ps",
        "TOPIC",
        "paused-out",
        "FROM",
        "BEGINNING",
    ];
    assert_eq!(cmd::<String>(&mut conn, &source), "OK");
    let mut pauses = 0;
    while stored_total(&mut conn, "paused") < total as i64 && pauses < 40 {
        let mode = if pauses % 2 == 0 { "WRITE" } else { "ALL" };
        cmd::<String>(&mut conn, &["CLIENT", "PAUSE", "50", mode]);
        pauses += 1;
        wait_until("the pause ended", DEADLINE, || {
            try_cmd::<String>(&mut conn, &["SET", "probe", "x"]).is_ok()
        });
    }
    assert!(pauses > 3, "the sink finished before the pauses: {pauses}");
    wait_until("all records stored", DEADLINE, || {
        stored_total(&mut conn, "paused") == total as i64
    });
    assert_exactly_once(&mut conn, "paused", total);
    let received = consume(&kafka.bootstrap(), "paused-out", 2000);
    assert_eq!(received.len(), 2000);
}
