//! Pub/sub both ways through a real broker: messages published on Redis channels go to Kafka
//! through a CHANNELS source, come back through a PUBLISH sink, and reach a real subscriber in
//! order, byte-exact; a real Kafka consumer reads the same records from the topic.

mod common;

use common::subscriber::Subscriber;
use common::*;
use std::collections::HashMap;

#[test]
fn published_messages_go_through_kafka_and_come_back_to_subscribers() {
    let kafka = MockKafka::new();
    let bootstrap = kafka.bootstrap();
    kafka.create_topic("bus", 3);
    let redis = RedisServer::start();
    let mut conn = redis.conn();
    let mut subscriber = Subscriber::new(redis.port, "out:*");
    cmd::<String>(
        &mut conn,
        &[
            "KAFKA.SOURCE.CREATE",
            "in",
            "CHANNELS",
            "in:*",
            "TOPIC",
            "bus",
            "BROKERS",
            &bootstrap,
        ],
    );
    // The sink publishes on other channels than the source listens to: no loop.
    cmd::<String>(
        &mut conn,
        &[
            "KAFKA.SINK.CREATE",
            "back",
            "TOPICS",
            "bus",
            "TYPE",
            "PUBLISH",
            "CHANNEL",
            "out:${key}",
            "BROKERS",
            &bootstrap,
        ],
    );
    wait_until("source subscribed", DEADLINE, || {
        status_field::<String>(&mut conn, "in", "subscribed") == "yes"
    });
    wait_until("sink running", DEADLINE, || {
        status_field::<String>(&mut conn, "back", "state") == "running"
    });
    let channels = ["in:a", "in:b", "in:c"];
    let total = 900;
    for n in 0..total {
        let channel = channels[n % channels.len()];
        let message = format!("{n}\0\r\n");
        redis::cmd("PUBLISH")
            .arg(channel)
            .arg(message.as_bytes())
            .query::<i64>(&mut conn)
            .unwrap();
    }
    // Back on Redis: each channel's messages in publish order.
    let mut per_channel: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
    for (channel, payload) in subscriber.take(total) {
        let text = String::from_utf8(payload).unwrap();
        let n: usize = text.strip_suffix("\0\r\n").unwrap().parse().unwrap();
        per_channel.entry(channel).or_default().push(n);
    }
    for (i, channel) in channels.iter().enumerate() {
        let want: Vec<usize> = (0..total).filter(|n| n % channels.len() == i).collect();
        assert_eq!(
            per_channel[format!("out:{channel}").as_bytes()],
            want,
            "{channel}"
        );
    }
    // And in Kafka, for any other consumer: keyed by channel, headers naming it.
    let records = consume(&bootstrap, "bus", total);
    assert!(records
        .iter()
        .all(|r| r.key.as_deref() == r.header("redis.channel").as_deref().map(str::as_bytes)));
    assert_eq!(count_field(&mut conn, "in", "records"), total as i64);
    assert_eq!(count_field(&mut conn, "back", "records"), total as i64);
}
