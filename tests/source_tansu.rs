//! A source against Tansu, which creates no topic by itself: the source creates its topics
//! through the admin API, then forwards several streams in order.

mod common;

use common::*;
use std::collections::HashMap;

#[test]
fn source_creates_topics_and_forwards_streams_on_tansu() {
    let tansu = Tansu::start();
    let redis = RedisServer::start_with(ServerOptions {
        module_args: vec!["kafka.brokers".into(), tansu.bootstrap()],
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    for n in 0..20 {
        cmd::<String>(&mut conn, &["XADD", "sensor:old", "*", "n", &n.to_string()]);
    }
    let created: String = cmd(
        &mut conn,
        &[
            "KAFKA.SOURCE.CREATE",
            "sensors",
            "STREAMS",
            "sensor:*",
            "FROM",
            "BEGINNING",
            "PARTITIONS",
            "3",
        ],
    );
    assert_eq!(created, "OK");
    for n in 0..200 {
        for stream in ["sensor:a", "sensor:b"] {
            cmd::<String>(&mut conn, &["XADD", stream, "*", "n", &n.to_string()]);
        }
    }
    wait_until("420 forwarded", DEADLINE, || {
        status_field::<i64>(&mut conn, "sensors", "records") == 420
    });
    for (topic, count) in [("sensor_a", 200), ("sensor_b", 200), ("sensor_old", 20)] {
        let messages = consume(&tansu.bootstrap(), topic, count);
        let numbers: Vec<usize> = messages
            .iter()
            .map(|m| {
                let v: serde_json::Value =
                    serde_json::from_slice(m.value.as_deref().unwrap()).unwrap();
                v["n"].as_str().unwrap().parse().unwrap()
            })
            .collect();
        assert_eq!(numbers, (0..count).collect::<Vec<_>>(), "{topic}");
        // One stream, one key, one partition.
        let partitions: std::collections::HashSet<i32> =
            messages.iter().map(|m| m.partition).collect();
        assert_eq!(partitions.len(), 1, "{topic}");
    }
    let checkpoints: HashMap<String, String> =
        cmd(&mut conn, &["HGETALL", "__kafka:checkpoints:sensors"]);
    assert_eq!(checkpoints.len(), 3);
    assert_eq!(
        status_field::<String>(&mut conn, "sensors", "last_error"),
        ""
    );
}
