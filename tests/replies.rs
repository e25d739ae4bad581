//! KAFKA.STATUS and the LIST commands answer RESP3 clients with maps (nulls as nulls, numbers
//! as integers) and RESP2 clients with the same names and values as flat pairs, in one order.

mod common;

use common::*;
use redis::Value;

fn resp3(redis: &RedisServer) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{}/?protocol=resp3", redis.port))
        .unwrap()
        .get_connection()
        .unwrap()
}

fn map(value: &Value) -> &Vec<(Value, Value)> {
    match value {
        Value::Map(pairs) => pairs,
        other => panic!("not a map: {other:?}"),
    }
}

fn names(pairs: &[(Value, Value)]) -> Vec<String> {
    pairs
        .iter()
        .map(|(k, _)| redis::from_redis_value::<String>(k).unwrap())
        .collect()
}

fn get<'v>(pairs: &'v [(Value, Value)], name: &str) -> &'v Value {
    &pairs
        .iter()
        .find(|(k, _)| redis::from_redis_value::<String>(k).unwrap() == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .1
}

/// The RESP2 flat pairs' names, in order.
fn flat_names(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .step_by(2)
            .map(|k| redis::from_redis_value::<String>(k).unwrap())
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

#[test]
fn status_and_list_are_maps_for_resp3_and_flat_pairs_for_resp2() {
    let kafka = MockKafka::new();
    let b = kafka.bootstrap();
    kafka.create_topic("r", 2);
    produce(&b, "r", &[Rec::kv("k", "v")]);
    let redis = RedisServer::start();
    let mut two = redis.conn();
    create_sink(
        &mut two,
        &b,
        "rs",
        &["TOPICS", "r", "CONFIG", "sasl.password", "secret"],
    );
    let source = [
        "KAFKA.SOURCE.CREATE",
        "src",
        "BROKERS",
        &b,
        "STREAMS",
        "s:*",
        "TOPIC",
        "out",
    ];
    assert_eq!(cmd::<String>(&mut two, &source), "OK");
    wait_until("the record is written", DEADLINE, || {
        count_field(&mut two, "rs", "records") == 1
    });
    let mut three = resp3(&redis);

    let status: Value = cmd(&mut three, &["KAFKA.STATUS", "rs"]);
    let fields = map(&status);
    assert_eq!(names(fields)[..3], ["name", "kind", "state"]);
    assert_eq!(get(fields, "records"), &Value::Int(1));
    assert_eq!(get(fields, "tasks"), &Value::Int(1));
    assert_eq!(get(fields, "last_error_at_ms"), &Value::Nil);
    let Value::Array(partitions) = get(fields, "partitions") else {
        panic!("partitions: {status:?}")
    };
    assert_eq!(partitions.len(), 2);
    for partition in partitions {
        let p = map(partition);
        assert_eq!(
            names(p),
            ["topic", "partition", "task", "offset", "lag"],
            "{partition:?}"
        );
        assert!(matches!(get(p, "partition"), Value::Int(0 | 1)));
    }
    // The same names in the same order for RESP2, as flat pairs.
    let flat: Value = cmd(&mut two, &["KAFKA.STATUS", "rs"]);
    assert_eq!(flat_names(&flat), names(fields));

    let source_status: Value = cmd(&mut three, &["KAFKA.STATUS", "src"]);
    let fields = map(&source_status);
    assert_eq!(get(fields, "stream_count"), &Value::Int(0));
    assert!(matches!(get(fields, "streams"), Value::Array(s) if s.is_empty()));

    let all: Value = cmd(&mut three, &["KAFKA.STATUS"]);
    let Value::Array(bridges) = &all else {
        panic!("{all:?}")
    };
    assert_eq!(bridges.len(), 2);
    bridges.iter().for_each(|b| assert!(!map(b).is_empty()));

    let sinks: Value = cmd(&mut three, &["KAFKA.SINK.LIST"]);
    let Value::Array(sinks) = &sinks else {
        panic!("{sinks:?}")
    };
    let sink = map(&sinks[0]);
    assert_eq!(get(sink, "ttl"), &Value::Nil);
    assert_eq!(get(sink, "tasks"), &Value::Int(1));
    let config = map(get(sink, "config"));
    let password: String = redis::from_redis_value(&get(config, "sasl.password").clone()).unwrap();
    assert!(!password.contains("secret"), "{password}");
    let flat: Value = cmd(&mut two, &["KAFKA.SINK.LIST"]);
    let Value::Array(flat) = flat else { panic!() };
    assert_eq!(flat_names(&flat[0]), names(sink));

    let sources: Value = cmd(&mut three, &["KAFKA.SOURCE.LIST"]);
    let Value::Array(sources) = &sources else {
        panic!("{sources:?}")
    };
    let listed = map(&sources[0]);
    assert_eq!(get(listed, "partitions"), &Value::Int(1));
    let flat: Value = cmd(&mut two, &["KAFKA.SOURCE.LIST"]);
    let Value::Array(flat) = flat else { panic!() };
    assert_eq!(flat_names(&flat[0]), names(listed));

    // Errors stay errors for both.
    let err = try_cmd::<Value>(&mut three, &["KAFKA.STATUS", "nope"]).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}
