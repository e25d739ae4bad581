//! The translation, property by property: what maps, what is ignored, what is refused.

use super::*;

const SINK: &str = "com.redis.kafka.connect.RedisSinkConnector";
const STREAM: &str = "com.redis.kafka.connect.RedisStreamSourceConnector";
const KEYS: &str = "com.redis.kafka.connect.RedisKeysSourceConnector";

/// A config object from pairs, always with the given connector class first.
fn config(class: &str, pairs: &[(&str, &str)]) -> String {
    let mut map = vec![format!(r#""connector.class":{}"#, serde_json::json!(class))];
    for (k, v) in pairs {
        map.push(format!("{}:{}", serde_json::json!(k), serde_json::json!(v)));
    }
    format!("{{{}}}", map.join(","))
}

fn sink(pairs: &[(&str, &str)]) -> Result<Vec<String>, Error> {
    translate(ImportKind::Sink, config(SINK, pairs).as_bytes(), None)
}

fn sink_ok(pairs: &[(&str, &str)]) -> String {
    sink(pairs).unwrap_or_else(|e| panic!("{e}")).join(" ")
}

fn sink_err(pairs: &[(&str, &str)]) -> String {
    sink(pairs).unwrap_err().to_string()
}

fn source(class: &str, pairs: &[(&str, &str)]) -> Result<Vec<String>, Error> {
    translate(ImportKind::Source, config(class, pairs).as_bytes(), None)
}

fn source_ok(class: &str, pairs: &[(&str, &str)]) -> String {
    source(class, pairs)
        .unwrap_or_else(|e| panic!("{e}"))
        .join(" ")
}

fn source_err(class: &str, pairs: &[(&str, &str)]) -> String {
    source(class, pairs).unwrap_err().to_string()
}

/// The refusal format every unmapped property gets.
fn refused(error: &str, property: &str) -> bool {
    error.starts_with(&format!(
        "property '{property}' has no equivalent in redis-kafka: "
    ))
}

fn import(kind: ImportKind, words: &[&[u8]]) -> Result<Import, Error> {
    parse_import(kind, Args::new(words.iter().map(|w| w.to_vec()).collect()))
}

#[test]
fn the_documented_stream_source_example_becomes_a_streams_source() {
    let json = r#"{"tasks.max":"1","connector.class":"com.redis.kafka.connect.RedisStreamSourceConnector","redis.uri":"redis://redis:6379","redis.stream.name":"mystream","topic":"mystream"}"#;
    let args = translate(ImportKind::Source, json.as_bytes(), None).unwrap();
    assert_eq!(
        args.join(" "),
        "STREAMS mystream TOPIC mystream KEY ${id} FROM BEGINNING ON-ERROR FAIL"
    );
}

#[test]
fn sink_defaults_are_the_connectors() {
    // redis.type STREAM, keyspace ${topic}: the stream is named after the topic.
    assert_eq!(
        sink_ok(&[("topics", "orders")]),
        "TOPICS orders TYPE STREAM KEY ${topic} ON-ERROR FAIL"
    );
}

#[test]
fn each_redis_type_maps_to_its_type_and_key() {
    for (given, expected) in [
        ("STRING", "TYPE STRING KEY ${topic}:${key}"),
        ("HASH", "TYPE HASH KEY ${topic}:${key}"),
        ("JSON", "TYPE JSON KEY ${topic}:${key}"),
        ("STREAM", "TYPE STREAM KEY ${topic}"),
        ("LIST", "TYPE LIST KEY ${topic} PUSH RIGHT"),
        ("SET", "TYPE SET KEY ${topic}"),
        ("ZSET", "TYPE ZSET KEY ${topic}"),
        ("hash", "TYPE HASH KEY ${topic}:${key}"),
    ] {
        let args = sink_ok(&[("topics", "t"), ("redis.type", given)]);
        assert_eq!(
            args,
            format!("TOPICS t {expected} ON-ERROR FAIL"),
            "{given}"
        );
    }
}

#[test]
fn each_older_redis_command_maps_to_its_type() {
    for (given, expected) in [
        ("SET", "TYPE STRING KEY ${topic}:${key}"),
        ("HSET", "TYPE HASH KEY ${topic}:${key}"),
        ("JSONSET", "TYPE JSON KEY ${topic}:${key}"),
        ("XADD", "TYPE STREAM KEY ${topic}"),
        ("LPUSH", "TYPE LIST KEY ${topic} PUSH LEFT"),
        ("RPUSH", "TYPE LIST KEY ${topic} PUSH RIGHT"),
        ("SADD", "TYPE SET KEY ${topic}"),
        ("ZADD", "TYPE ZSET KEY ${topic}"),
    ] {
        let args = sink_ok(&[("topics", "t"), ("redis.command", given)]);
        assert_eq!(
            args,
            format!("TOPICS t {expected} ON-ERROR FAIL"),
            "{given}"
        );
    }
}

#[test]
fn types_without_an_equivalent_are_refused_with_the_reason() {
    let e = sink_err(&[("topics", "t"), ("redis.type", "TIMESERIES")]);
    assert!(refused(&e, "redis.type") && e.contains("record key"), "{e}");
    let e = sink_err(&[("topics", "t"), ("redis.command", "TSADD")]);
    assert!(refused(&e, "redis.command"), "{e}");
    let e = sink_err(&[("topics", "t"), ("redis.command", "DEL")]);
    assert!(
        refused(&e, "redis.command") && e.contains("tombstone"),
        "{e}"
    );
    let e = sink_err(&[("topics", "t"), ("redis.type", "BLOB")]);
    assert!(
        e.starts_with("property 'redis.type' must be HASH, JSON"),
        "{e}"
    );
    let e = sink_err(&[("topics", "t"), ("redis.command", "INCR")]);
    assert!(
        e.starts_with("property 'redis.command' must be HSET"),
        "{e}"
    );
    let e = sink_err(&[
        ("topics", "t"),
        ("redis.type", "HASH"),
        ("redis.command", "HSET"),
    ]);
    assert!(
        e.contains("'redis.type' or its older form 'redis.command'"),
        "{e}"
    );
}

#[test]
fn push_direction_of_the_older_connectors_sets_push() {
    let args = sink_ok(&[
        ("topics", "t"),
        ("redis.type", "LIST"),
        ("redis.push.direction", "left"),
    ]);
    assert!(args.contains("PUSH LEFT"), "{args}");
    let args = sink_ok(&[
        ("topics", "t"),
        ("redis.command", "LPUSH"),
        ("redis.push.direction", "LEFT"),
    ]);
    assert!(args.contains("PUSH LEFT"), "{args}");
    let e = sink_err(&[
        ("topics", "t"),
        ("redis.command", "RPUSH"),
        ("redis.push.direction", "LEFT"),
    ]);
    assert!(e.contains("contradicts"), "{e}");
    let e = sink_err(&[
        ("topics", "t"),
        ("redis.type", "LIST"),
        ("redis.push.direction", "UP"),
    ]);
    assert!(
        e.starts_with("property 'redis.push.direction' must be LEFT or RIGHT"),
        "{e}"
    );
    // Meaningless for other types, as for the connector.
    let args = sink_ok(&[
        ("topics", "t"),
        ("redis.type", "SET"),
        ("redis.push.direction", "LEFT"),
    ]);
    assert!(!args.contains("PUSH"), "{args}");
}

#[test]
fn keyspace_and_separator_make_the_key_template() {
    let key = |pairs: &[(&str, &str)]| {
        let args = sink(pairs).unwrap_or_else(|e| panic!("{e}"));
        let at = args.iter().position(|a| a == "KEY").unwrap();
        args[at + 1].clone()
    };
    let string = [("topics", "t"), ("redis.type", "STRING")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut all = string.to_vec();
        all.extend_from_slice(extra);
        key(&all)
    };
    assert_eq!(with(&[("redis.keyspace", "orders")]), "orders:${key}");
    assert_eq!(with(&[("redis.key", "orders")]), "orders:${key}");
    assert_eq!(
        with(&[("redis.keyspace", "kafka_${topic}")]),
        "kafka_${topic}:${key}"
    );
    assert_eq!(
        with(&[("redis.keyspace", "o"), ("redis.separator", "/")]),
        "o/${key}"
    );
    assert_eq!(
        with(&[("redis.keyspace", " o "), ("redis.separator", " ")]),
        "o${key}"
    );
    assert_eq!(with(&[("redis.keyspace", "")]), "${key}");
    assert_eq!(
        with(&[("redis.keyspace", "a$"), ("redis.separator", "")]),
        "a$${key}"
    );
    assert_eq!(
        with(&[("redis.keyspace", "price$"), ("redis.separator", "}")]),
        "price$}${key}"
    );
    // Collections: the keyspace alone, separator unused.
    let set = key(&[
        ("topics", "t"),
        ("redis.type", "SET"),
        ("redis.keyspace", "set:${topic}"),
        ("redis.separator", "/"),
    ]);
    assert_eq!(set, "set:${topic}");
    let e = sink_err(&[
        ("topics", "t"),
        ("redis.type", "SET"),
        ("redis.keyspace", " "),
    ]);
    assert!(
        refused(&e, "redis.keyspace") && e.contains("empty key"),
        "{e}"
    );
    let e = sink_err(&[("topics", "t"), ("redis.keyspace", "a"), ("redis.key", "b")]);
    assert!(
        e.contains("'redis.keyspace' or its older name 'redis.key'"),
        "{e}"
    );
}

#[test]
fn a_literal_dollar_brace_the_templates_would_read_is_refused() {
    let e = sink_err(&[
        ("topics", "t"),
        ("redis.type", "HASH"),
        ("redis.keyspace", "${key}"),
    ]);
    assert!(refused(&e, "redis.keyspace"), "{e}");
    let e = sink_err(&[
        ("topics", "t"),
        ("redis.type", "HASH"),
        ("redis.keyspace", "a"),
        ("redis.separator", "${"),
    ]);
    assert!(refused(&e, "redis.separator"), "{e}");
    let e = sink_err(&[
        ("topics", "t"),
        ("redis.type", "HASH"),
        ("redis.keyspace", "a$"),
        ("redis.separator", "{"),
    ]);
    assert!(refused(&e, "redis.separator"), "{e}");
    let e = source_err(STREAM, &[("redis.stream.name", "s"), ("topic", "x${id}")]);
    assert!(refused(&e, "topic"), "{e}");
}

#[test]
fn topics_and_topic_regex() {
    assert!(sink_ok(&[("topics", " a, b ,,c ")]).starts_with("TOPICS a,b,c "));
    assert!(sink_ok(&[("topics.regex", "orders-.*")]).starts_with("PATTERN ^(orders-.*)$ "));
    assert!(sink_err(&[("topics", "a"), ("topics.regex", "b")]).contains("not both"));
    assert_eq!(
        translate(ImportKind::Sink, config(SINK, &[]).as_bytes(), None)
            .unwrap_err()
            .to_string(),
        "missing property 'topics' or 'topics.regex'"
    );
    assert!(sink_err(&[("topics", " , ")]).starts_with("property 'topics' must be"));
    assert!(sink_err(&[("topics.regex", "")]).starts_with("property 'topics.regex' must be"));
    for java in ["orders-\\d+", "(?i)orders", "a\\Qb\\E"] {
        let e = sink_err(&[("topics.regex", java)]);
        assert!(
            refused(&e, "topics.regex") && e.contains("POSIX"),
            "{java}: {e}"
        );
    }
    assert!(sink_ok(&[("topics.regex", "a\\.b")]).contains("^(a\\.b)$"));
}

#[test]
fn ttl_tasks_and_settings() {
    assert!(sink_ok(&[("topics", "t"), ("redis.key.ttl", "3600")]).contains("TTL 3600"));
    for none in ["-1", "0"] {
        assert!(!sink_ok(&[("topics", "t"), ("redis.key.ttl", none)]).contains("TTL"));
    }
    let e = sink_err(&[("topics", "t"), ("redis.key.ttl", "1h")]);
    assert!(
        e.starts_with("property 'redis.key.ttl' must be a whole number, got '1h'"),
        "{e}"
    );
    assert!(sink_ok(&[("topics", "t"), ("tasks.max", "4")]).contains("TASKS 4"));
    assert!(sink_ok(&[("topics", "t"), ("redis.charset", "UTF-8")]).starts_with("TOPICS"));
    let e = sink_err(&[("topics", "t"), ("redis.charset", "ISO-8859-1")]);
    assert!(refused(&e, "redis.charset"), "{e}");
    for multiexec in ["true", "false"] {
        sink_ok(&[("topics", "t"), ("redis.multiexec", multiexec)]);
    }
    assert!(sink_err(&[("topics", "t"), ("redis.multiexec", "yes")]).contains("true or false"));
    sink_ok(&[
        ("topics", "t"),
        ("redis.wait.replicas", "0"),
        ("redis.wait.timeout", "1000"),
    ]);
    let e = sink_err(&[("topics", "t"), ("redis.wait.replicas", "1")]);
    assert!(refused(&e, "redis.wait.replicas"), "{e}");
}

#[test]
fn connection_properties_are_ignored_but_another_database_is_refused() {
    let ignored = [
        ("name", "my-connector"),
        ("redis.uri", "rediss://user:pw@redis:6379/0?timeout=10s"),
        ("redis.host", "h"),
        ("redis.port", "6380"),
        ("redis.cluster", "true"),
        ("redis.tls", "true"),
        ("redis.insecure", "true"),
        ("redis.username", "u"),
        ("redis.password", "p"),
        ("redis.timeout", "5"),
        ("redis.pool", "8"),
        ("redis.key.file", "/k"),
        ("redis.key.cert", "/c"),
        ("redis.key.password", "kp"),
        ("redis.cacert", "/ca"),
        ("config.action.reload", "restart"),
        ("errors.log.enable", "true"),
        ("errors.log.include.messages", "true"),
        ("errors.retry.timeout", "0"),
        ("errors.retry.delay.max.ms", "60000"),
        (
            "header.converter",
            "org.apache.kafka.connect.storage.SimpleHeaderConverter",
        ),
        ("transforms", ""),
    ];
    let mut pairs = vec![("topics", "t")];
    pairs.extend_from_slice(&ignored);
    assert_eq!(
        sink_ok(&pairs),
        "TOPICS t TYPE STREAM KEY ${topic} ON-ERROR FAIL"
    );
    for uri in [
        "redis://redis:6379",
        "redis://redis:6379/",
        "redis://h/0",
        "redis-socket:///tmp/redis.sock",
        "redis-sentinel://h:26379/0#mymaster",
    ] {
        sink_ok(&[("topics", "t"), ("redis.uri", uri)]);
    }
    for (uri, db) in [
        ("redis://redis:6379/3", "3"),
        ("redis://:pw@h:6379/15", "15"),
        ("redis://h?database=2", "2"),
        ("redis-socket:///tmp/r.sock?db=1", "1"),
        ("redis://h/x", "x"),
    ] {
        let e = sink_err(&[("topics", "t"), ("redis.uri", uri)]);
        assert!(
            refused(&e, "redis.uri") && e.contains(&format!("database '{db}'")),
            "{uri}: {e}"
        );
        assert!(!e.contains("pw"), "{e}");
    }
}

#[test]
fn converters_that_give_the_bytes_the_type_reads_are_accepted() {
    const STRING: &str = "org.apache.kafka.connect.storage.StringConverter";
    const BYTES: &str = "org.apache.kafka.connect.converters.ByteArrayConverter";
    const JSON: &str = "org.apache.kafka.connect.json.JsonConverter";
    const AVRO: &str = "io.confluent.connect.avro.AvroConverter";
    let with = |t: &str, extra: &[(&str, &str)]| {
        let mut pairs = vec![("topics", "t"), ("redis.type", t)];
        pairs.extend_from_slice(extra);
        sink(&pairs)
    };
    for t in ["STRING", "HASH", "JSON", "STREAM", "LIST", "SET", "ZSET"] {
        for key in [STRING, BYTES, "StringConverter"] {
            for value in [STRING, BYTES] {
                with(t, &[("key.converter", key), ("value.converter", value)])
                    .unwrap_or_else(|e| panic!("{t} {key} {value}: {e}"));
            }
        }
    }
    for t in ["HASH", "JSON", "STREAM", "ZSET", "LIST", "SET"] {
        with(
            t,
            &[
                ("value.converter", JSON),
                ("value.converter.schemas.enable", "false"),
            ],
        )
        .unwrap_or_else(|e| panic!("{t}: {e}"));
    }
    // Enveloped JSON ({schema, payload}) is JsonConverter's default.
    for extra in [
        vec![("value.converter", JSON)],
        vec![
            ("value.converter", JSON),
            ("value.converter.schemas.enable", "true"),
        ],
    ] {
        let e = with("HASH", &extra).unwrap_err().to_string();
        assert!(
            refused(&e, "value.converter") && e.contains("schemas.enable"),
            "{e}"
        );
    }
    let e = with(
        "STRING",
        &[
            ("value.converter", JSON),
            ("value.converter.schemas.enable", "false"),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(refused(&e, "value.converter"), "{e}");
    let e = with("HASH", &[("key.converter", JSON)])
        .unwrap_err()
        .to_string();
    assert!(refused(&e, "key.converter") && e.contains("quotes"), "{e}");
    let e = with(
        "HASH",
        &[
            ("value.converter", AVRO),
            ("value.converter.schema.registry.url", "http://r"),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(
        refused(&e, "value.converter") && e.contains("AvroConverter"),
        "{e}"
    );
    // LIST and SET only look at whether a value is null; a STREAM sink ignores the key.
    with(
        "SET",
        &[
            ("value.converter", AVRO),
            ("value.converter.schema.registry.url", "http://r"),
        ],
    )
    .unwrap();
    with(
        "STREAM",
        &[
            ("key.converter", AVRO),
            ("value.converter", JSON),
            ("value.converter.schemas.enable", "false"),
        ],
    )
    .unwrap();
    let e = with(
        "HASH",
        &[
            ("value.converter", JSON),
            ("value.converter.schemas.enable", "maybe"),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("true or false"), "{e}");
    with(
        "STRING",
        &[
            ("value.converter", STRING),
            ("value.converter.encoding", "UTF-8"),
        ],
    )
    .unwrap();
    let e = with(
        "STRING",
        &[
            ("value.converter", STRING),
            ("value.converter.encoding", "UTF-16"),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(refused(&e, "value.converter.encoding"), "{e}");
    let e = with(
        "HASH",
        &[
            ("value.converter", JSON),
            ("value.converter.schemas.enable", "false"),
            ("value.converter.decimal.format", "NUMERIC"),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(refused(&e, "value.converter.decimal.format"), "{e}");
}

#[test]
fn errors_tolerance_and_dead_letter_queue_become_on_error() {
    let on_error = |extra: &[(&str, &str)]| {
        let mut pairs = vec![("topics", "t")];
        pairs.extend_from_slice(extra);
        sink(&pairs).map(|a| a.join(" "))
    };
    assert!(on_error(&[("errors.tolerance", "none")])
        .unwrap()
        .ends_with("ON-ERROR FAIL"));
    assert!(on_error(&[("errors.tolerance", "all")])
        .unwrap()
        .ends_with("ON-ERROR SKIP"));
    let dlq = on_error(&[
        ("errors.tolerance", "all"),
        ("errors.deadletterqueue.topic.name", "dlq"),
        ("errors.deadletterqueue.context.headers.enable", "true"),
        ("errors.deadletterqueue.topic.replication.factor", "3"),
    ])
    .unwrap();
    assert!(dlq.ends_with("ON-ERROR DLQ dlq"), "{dlq}");
    assert!(on_error(&[
        ("errors.tolerance", "all"),
        ("errors.deadletterqueue.topic.name", "")
    ])
    .unwrap()
    .ends_with("ON-ERROR SKIP"));
    let e = on_error(&[("errors.deadletterqueue.topic.name", "dlq")])
        .unwrap_err()
        .to_string();
    assert!(
        refused(&e, "errors.deadletterqueue.topic.name") && e.contains("errors.tolerance=all"),
        "{e}"
    );
    let e = on_error(&[("errors.tolerance", "some")])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("property 'errors.tolerance' must be none or all"),
        "{e}"
    );
    let e = source_err(
        STREAM,
        &[
            ("redis.stream.name", "s"),
            ("errors.deadletterqueue.topic.name", "d"),
        ],
    );
    assert!(refused(&e, "errors.deadletterqueue.topic.name"), "{e}");
    assert!(source_ok(
        STREAM,
        &[("redis.stream.name", "s"), ("errors.tolerance", "all")]
    )
    .ends_with("ON-ERROR SKIP"));
}

#[test]
fn client_overrides_become_config_and_options() {
    let args = sink_ok(&[
        ("topics", "t"),
        ("consumer.override.fetch.min.bytes", "1024"),
        ("consumer.override.group.id", "connect-old"),
        ("consumer.override.auto.offset.reset", "latest"),
        ("producer.override.compression.type", "lz4"),
        ("consumer.override.security.protocol", "SASL_SSL"),
        ("producer.override.security.protocol", "SASL_SSL"),
        ("consumer.override.bootstrap.servers", "k1:9092,k2:9092"),
    ]);
    assert_eq!(
        args,
        "TOPICS t TYPE STREAM KEY ${topic} ON-ERROR FAIL GROUP connect-old START LATEST \
         CONFIG fetch.min.bytes 1024 CONFIG security.protocol SASL_SSL CONFIG compression.type lz4 \
         BROKERS k1:9092,k2:9092"
    );
    let e = sink_err(&[
        ("topics", "t"),
        ("consumer.override.security.protocol", "SSL"),
        ("producer.override.security.protocol", "PLAINTEXT"),
    ]);
    assert!(
        e.contains("differs from 'consumer.override.security.protocol'"),
        "{e}"
    );
    let e = sink_err(&[
        ("topics", "t"),
        ("consumer.override.auto.offset.reset", "none"),
    ]);
    assert!(refused(&e, "consumer.override.auto.offset.reset"), "{e}");
    let e = sink_err(&[("topics", "t"), ("admin.override.request.timeout.ms", "1")]);
    assert!(refused(&e, "admin.override.request.timeout.ms"), "{e}");
    let e = source_err(
        STREAM,
        &[("redis.stream.name", "s"), ("consumer.override.x", "1")],
    );
    assert!(
        refused(&e, "consumer.override.x") && e.contains("no Kafka consumer"),
        "{e}"
    );
    let args = source_ok(
        STREAM,
        &[
            ("redis.stream.name", "s"),
            ("producer.override.linger.ms", "5"),
            ("producer.override.bootstrap.servers", "k:1"),
        ],
    );
    assert!(args.ends_with("CONFIG linger.ms 5 BROKERS k:1"), "{args}");
}

#[test]
fn brokers_come_from_import_or_the_overrides_and_must_agree() {
    let json = config(
        SINK,
        &[
            ("topics", "t"),
            ("consumer.override.bootstrap.servers", "a:1"),
        ],
    );
    let args = translate(ImportKind::Sink, json.as_bytes(), Some("a:1")).unwrap();
    assert!(args.join(" ").ends_with("BROKERS a:1"));
    let e = translate(ImportKind::Sink, json.as_bytes(), Some("b:2"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("BROKERS 'b:2' differs from property 'consumer.override.bootstrap.servers'"),
        "{e}"
    );
    let plain = config(SINK, &[("topics", "t")]);
    let args = translate(ImportKind::Sink, plain.as_bytes(), Some("b:2")).unwrap();
    assert!(args.join(" ").ends_with("BROKERS b:2"));
}

#[test]
fn unknown_and_connect_only_properties_are_refused_by_name() {
    for (property, why) in [
        ("redis.bogus", "not a property of RedisSinkConnector"),
        ("transforms.x.type", "single message transforms"),
        ("predicates.p.type", "single message transforms"),
        ("exactly.once.support", "not in transactions"),
        ("redis.stream.name", "not a property of RedisSinkConnector"),
        ("batch.size", "not a property of RedisSinkConnector"),
    ] {
        let e = sink_err(&[("topics", "t"), (property, "1")]);
        assert!(refused(&e, property) && e.contains(why), "{property}: {e}");
    }
    let e = sink_err(&[("topics", "t"), ("transforms", "unwrap")]);
    assert!(refused(&e, "transforms"), "{e}");
    let e = source_err(
        STREAM,
        &[("redis.stream.name", "s"), ("topic.creation.groups", "g")],
    );
    assert!(refused(&e, "topic.creation.groups"), "{e}");
    let e = source_err(
        STREAM,
        &[("redis.stream.name", "s"), ("redis.type", "HASH")],
    );
    assert!(
        refused(&e, "redis.type") && e.contains("RedisStreamSourceConnector"),
        "{e}"
    );
}

#[test]
fn connector_class_must_be_known_and_match_the_command() {
    for alias in [SINK, "RedisSinkConnector", "RedisSink"] {
        translate(
            ImportKind::Sink,
            config(alias, &[("topics", "t")]).as_bytes(),
            None,
        )
        .unwrap();
    }
    let e = translate(ImportKind::Sink, config(STREAM, &[]).as_bytes(), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("is a source connector: use KAFKA.SOURCE.IMPORT"),
        "{e}"
    );
    let e = source_err(SINK, &[]);
    assert!(
        e.contains("is a sink connector: use KAFKA.SINK.IMPORT"),
        "{e}"
    );
    let e = source_err("io.debezium.connector.mysql.MySqlConnector", &[]);
    assert!(e.starts_with("unknown connector.class 'io.debezium"), "{e}");
    let e = translate(ImportKind::Sink, br#"{"topics":"t"}"#, None)
        .unwrap_err()
        .to_string();
    assert_eq!(e, "missing property 'connector.class'");
}

#[test]
fn stream_source_properties() {
    let args = source_ok(
        STREAM,
        &[
            ("redis.stream.name", "orders:*"),
            ("redis.stream.offset", "$"),
            ("redis.stream.delivery", "at-most-once"),
            ("redis.stream.consumer.group", "g"),
            ("redis.stream.consumer.name", "c-${task}"),
            ("redis.stream.block", "100"),
            ("batch.size", "500"),
            ("tasks.max", "3"),
            ("topic", "redis_${stream}"),
            ("topic.creation.default.partitions", "4"),
            ("topic.creation.default.replication.factor", "3"),
            (
                "key.converter",
                "org.apache.kafka.connect.storage.StringConverter",
            ),
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("value.converter.schemas.enable", "false"),
        ],
    );
    assert_eq!(
        args,
        "STREAMS orders:\\* TOPIC redis_${stream} KEY ${id} FROM NEW PARTITIONS 4 REPLICATION 3 ON-ERROR FAIL"
    );
    for (offset, from) in [
        ("0-0", "BEGINNING"),
        ("0", "BEGINNING"),
        ("1700000000000-5", "1700000000000-5"),
    ] {
        let args = source_ok(
            STREAM,
            &[("redis.stream.name", "s"), ("redis.stream.offset", offset)],
        );
        assert!(args.contains(&format!("FROM {from} ")), "{args}");
    }
    let e = source_err(
        STREAM,
        &[("redis.stream.name", "s"), ("redis.stream.offset", ">")],
    );
    assert!(
        e.starts_with("property 'redis.stream.offset' must be a stream ID"),
        "{e}"
    );
    let e = source_err(
        STREAM,
        &[
            ("redis.stream.name", "s"),
            ("redis.stream.delivery", "exactly-once"),
        ],
    );
    assert!(
        e.starts_with("property 'redis.stream.delivery' must be"),
        "{e}"
    );
    assert_eq!(
        source_err(STREAM, &[]),
        "missing property 'redis.stream.name'"
    );
    let e = source_err(
        STREAM,
        &[
            ("redis.stream.name", "s"),
            ("topic.creation.default.replication.factor", "-1"),
        ],
    );
    assert!(
        refused(&e, "topic.creation.default.replication.factor"),
        "{e}"
    );
    let e = source_err(
        STREAM,
        &[
            ("redis.stream.name", "s"),
            (
                "key.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
        ],
    );
    assert!(refused(&e, "key.converter"), "{e}");
    let e = source_err(
        STREAM,
        &[
            ("redis.stream.name", "s"),
            ("value.converter", "io.confluent.connect.avro.AvroConverter"),
        ],
    );
    assert!(refused(&e, "value.converter"), "{e}");
    let e = source_err(STREAM, &[("redis.stream.name", "s"), ("tasks.max", "0")]);
    assert!(e.starts_with("property 'tasks.max' must be"), "{e}");
}

#[test]
fn stream_names_are_matched_literally() {
    let args = source_ok(STREAM, &[("redis.stream.name", "a*b?[c]\\d")]);
    assert!(args.starts_with("STREAMS a\\*b\\?\\[c\\]\\\\d "), "{args}");
    let glob = "a\\*b\\?\\[c\\]\\\\d";
    assert!(crate::spec::glob::glob_match(
        glob.as_bytes(),
        b"a*b?[c]\\d"
    ));
    assert!(!crate::spec::glob::glob_match(
        glob.as_bytes(),
        b"axb?[c]\\d"
    ));
}

#[test]
fn keys_source_properties() {
    assert_eq!(
        source_ok(KEYS, &[]),
        "KEYS * SNAPSHOT YES TOPIC rediskeys ON-ERROR FAIL"
    );
    assert_eq!(
        source_ok(
            KEYS,
            &[
                ("redis.keys.pattern", "user:*"),
                ("mode", "LIVEONLY"),
                ("topic", "users"),
                ("redis.keys.timeout", "0"),
                ("batch.size", "100"),
                ("tasks.max", "1"),
            ]
        ),
        "KEYS user:* SNAPSHOT NO TOPIC users ON-ERROR FAIL"
    );
    let e = source_err(KEYS, &[("redis.keys.timeout", "1000")]);
    assert!(refused(&e, "redis.keys.timeout"), "{e}");
    let e = source_err(KEYS, &[("mode", "SCAN")]);
    assert!(
        e.starts_with("property 'mode' must be LIVE or LIVEONLY"),
        "{e}"
    );
}

#[test]
fn import_arguments_and_the_create_check() {
    let json = config(SINK, &[("topics", "t"), ("redis.type", "HASH")]);
    let got = import(
        ImportKind::Sink,
        &[b"s", json.as_bytes(), b"brokers", b"k:9092", b"dryrun"],
    )
    .unwrap();
    assert!(got.dry_run);
    assert_eq!(
        got.create_args.join(" "),
        "s TOPICS t TYPE HASH KEY ${topic}:${key} ON-ERROR FAIL BROKERS k:9092"
    );
    assert!(
        !import(ImportKind::Sink, &[b"s", json.as_bytes()])
            .unwrap()
            .dry_run
    );
    let e = import(ImportKind::Sink, &[b"s"]).unwrap_err().to_string();
    assert_eq!(e, "missing connector config JSON");
    let e = import(ImportKind::Sink, &[b"s", json.as_bytes(), b"NOW"])
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("unknown option 'NOW'"), "{e}");
    let e = import(
        ImportKind::Sink,
        &[b"s", json.as_bytes(), b"DRYRUN", b"DRYRUN"],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("DRYRUN given twice"), "{e}");
    // CREATE's own checks run on the translation, and say so.
    let e = import(ImportKind::Sink, &[b"bad name", json.as_bytes()])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("in the KAFKA.SINK.CREATE this IMPORT makes: sink name"),
        "{e}"
    );
    let big_ttl = config(SINK, &[("topics", "t"), ("redis.key.ttl", "99999999999")]);
    let e = import(ImportKind::Sink, &[b"s", big_ttl.as_bytes()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("TTL must be"), "{e}");
    let bad_topic = config(SINK, &[("topics", "a b")]);
    assert!(import(ImportKind::Sink, &[b"s", bad_topic.as_bytes()]).is_err());
    let e = import(ImportKind::Sink, &[b"s", b"\xff\xfe"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("UTF-8"), "{e}");
    let src = config(STREAM, &[("redis.stream.name", "s")]);
    let got = import(ImportKind::Source, &[b"src", src.as_bytes()]).unwrap();
    assert_eq!(got.create_args[0], "src");
}

#[test]
fn every_accepted_translation_parses_as_create() {
    // The stored definition is the CREATE; reconcile parses it again after a restart.
    let configs = [
        config(
            SINK,
            &[
                ("topics", "t"),
                ("redis.type", "ZSET"),
                ("redis.keyspace", "scores"),
            ],
        ),
        config(
            SINK,
            &[
                ("topics.regex", "o.*"),
                ("redis.type", "JSON"),
                ("redis.key.ttl", "60"),
                ("tasks.max", "2"),
            ],
        ),
        config(
            SINK,
            &[
                ("topics", "t"),
                ("errors.tolerance", "all"),
                ("errors.deadletterqueue.topic.name", "d"),
            ],
        ),
    ];
    for json in configs {
        let got = import(ImportKind::Sink, &[b"s", json.as_bytes()]).unwrap();
        let items =
            |args: &[String]| Args::new(args.iter().map(|a| a.as_bytes().to_vec()).collect());
        let spec = parse_sink_create(items(&got.create_args)).unwrap();
        assert_eq!(spec.name, "s");
    }
}

#[test]
fn numbers_and_booleans_as_json_values_are_taken_as_text() {
    let json = format!(
        r#"{{"connector.class":"{SINK}","topics":"t","tasks.max":2,"redis.multiexec":true,"redis.key.ttl":-1}}"#
    );
    let args = translate(ImportKind::Sink, json.as_bytes(), None)
        .unwrap()
        .join(" ");
    assert!(args.contains("TASKS 2") && !args.contains("TTL"), "{args}");
}
