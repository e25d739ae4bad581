//! The seed scenario and the exactly-once re-create against Tansu, an independent
//! Kafka-protocol broker, over TCP.

mod common;

use common::*;

#[test]
fn json_pageviews_scenario_and_exactly_once_stream_on_tansu() {
    let tansu = Tansu::start();
    tansu.create_topic("pageviews", 2);
    let redis = RedisServer::start_with(ServerOptions {
        module_args: vec!["kafka.brokers".into(), tansu.bootstrap()],
        ..ServerOptions::default()
    });
    let mut conn = redis.conn();
    let created: String = cmd(
        &mut conn,
        &[
            "KAFKA.SINK.CREATE",
            "pageviews",
            "TOPICS",
            "pageviews",
            "TYPE",
            "JSON",
            "KEY",
            "pageviews:${key}",
        ],
    );
    assert_eq!(created, "OK");
    let records: Vec<Rec> = (0..200)
        .map(|i| {
            Rec::kv(
                &format!("{}", 1400 + i),
                &format!(r#"{{"userid":{},"url":"/p/{i}"}}"#, 1400 + i),
            )
        })
        .collect();
    produce(&tansu.bootstrap(), "pageviews", &records);
    wait_until("pageviews:1451 present", DEADLINE, || {
        cmd::<i64>(&mut conn, &["EXISTS", "pageviews:1451"]) == 1
    });
    let doc: String = cmd(&mut conn, &["JSON.GET", "pageviews:1451", "$.url"]);
    assert_eq!(doc, r#"["/p/51"]"#);
    wait_until("200 records", DEADLINE, || {
        status_field::<i64>(&mut conn, "pageviews", "records") == 200
    });

    // KAFKA.PRODUCE through the module to Tansu.
    let (partition, offset): (i64, i64) = cmd(
        &mut conn,
        &[
            "KAFKA.PRODUCE",
            "pageviews",
            r#"{"userid":9}"#,
            "KEY",
            "9",
            "PARTITION",
            "1",
        ],
    );
    assert_eq!(partition, 1);
    assert!(offset >= 0);
    wait_until("pageviews:9 present", DEADLINE, || {
        cmd::<i64>(&mut conn, &["EXISTS", "pageviews:9"]) == 1
    });

    // STREAM sink deleted and re-created under a new group: exactly one entry per record.
    tansu.create_topic("clicks", 3);
    let batch = |from: usize, to: usize| -> Vec<Rec> {
        (from..to)
            .map(|i| Rec::kv(&format!("c{}", i % 7), &format!(r#"{{"n":{i}}}"#)))
            .collect()
    };
    produce(&tansu.bootstrap(), "clicks", &batch(0, 150));
    cmd::<String>(
        &mut conn,
        &[
            "KAFKA.SINK.CREATE",
            "clicks",
            "TOPICS",
            "clicks",
            "TYPE",
            "STREAM",
        ],
    );
    wait_until("150 entries", DEADLINE, || {
        cmd::<i64>(&mut conn, &["XLEN", "clicks"]) == 150
    });
    cmd::<String>(&mut conn, &["KAFKA.SINK.DELETE", "clicks"]);
    produce(&tansu.bootstrap(), "clicks", &batch(150, 250));
    cmd::<String>(
        &mut conn,
        &[
            "KAFKA.SINK.CREATE",
            "clicks",
            "TOPICS",
            "clicks",
            "TYPE",
            "STREAM",
            "GROUP",
            "fresh",
        ],
    );
    wait_until("250 offsets stored", DEADLINE, || {
        let offsets: std::collections::HashMap<String, i64> =
            cmd(&mut conn, &["HGETALL", "__kafka:offsets:clicks"]);
        offsets.values().sum::<i64>() == 250
    });
    assert_eq!(cmd::<i64>(&mut conn, &["XLEN", "clicks"]), 250);
}
