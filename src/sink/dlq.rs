//! The dead-letter topic of a sink with `ON-ERROR DLQ <topic>`: the original key and value,
//! with headers saying why and where the record came from. A record's offset passes only after
//! the broker acknowledged its dead letter, so nothing is lost (a crash in between may send one
//! dead letter twice).

use crate::kafka_config;
use crate::kafka_log;
use parking_lot::Mutex;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use std::time::Duration;

pub const HEADER_ERROR: &str = "redis.error";
pub const HEADER_TOPIC: &str = "redis.source.topic";
pub const HEADER_PARTITION: &str = "redis.source.partition";
pub const HEADER_OFFSET: &str = "redis.source.offset";
pub const HEADER_SINK: &str = "redis.sink";

const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);

/// The original record, kept only by sinks with a DLQ.
#[derive(Debug, Clone)]
pub struct Original {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}

pub struct Where<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
}

struct Capture {
    sink: String,
    result: Mutex<Option<Result<(), String>>>,
}

impl ClientContext for Capture {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        kafka_log::forward(&self.sink, level, fac, message);
    }
}

impl ProducerContext for Capture {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        *self.result.lock() = Some(result.as_ref().map(|_| ()).map_err(|(e, _)| e.to_string()));
    }
}

pub struct DeadLetters {
    producer: BaseProducer<Capture>,
    topic: String,
    sink: String,
}

impl DeadLetters {
    pub fn new(
        sink: &str,
        topic: &str,
        brokers: &str,
        config: &[(String, String)],
    ) -> Result<DeadLetters, String> {
        let context = Capture {
            sink: sink.to_string(),
            result: Mutex::new(None),
        };
        let producer = kafka_config::producer_config(brokers, config)
            .create_with_context(context)
            .map_err(|e| format!("creating DLQ producer: {e}"))?;
        Ok(DeadLetters {
            producer,
            topic: topic.to_string(),
            sink: sink.to_string(),
        })
    }

    /// Sends one dead letter and waits for the broker's acknowledgement (worker thread only).
    pub fn send(&self, original: &Original, at: &Where<'_>, error: &str) -> Result<(), String> {
        let partition = at.partition.to_string();
        let offset = at.offset.to_string();
        let headers = [
            (HEADER_ERROR, error.as_bytes()),
            (HEADER_TOPIC, at.topic.as_bytes()),
            (HEADER_PARTITION, partition.as_bytes()),
            (HEADER_OFFSET, offset.as_bytes()),
            (HEADER_SINK, self.sink.as_bytes()),
        ]
        .into_iter()
        .fold(OwnedHeaders::new(), |headers, (key, value)| {
            headers.insert(Header {
                key,
                value: Some(value),
            })
        });
        let mut record: BaseRecord<'_, Vec<u8>, Vec<u8>> =
            BaseRecord::to(&self.topic).headers(headers);
        if let Some(key) = &original.key {
            record = record.key(key);
        }
        if let Some(value) = &original.value {
            record = record.payload(value);
        }
        *self.producer.context().result.lock() = None;
        self.producer
            .send(record)
            .map_err(|(e, _)| format!("DLQ {}: {e}", self.topic))?;
        self.producer
            .flush(DELIVERY_TIMEOUT)
            .map_err(|e| format!("DLQ {}: {e}", self.topic))?;
        match self.producer.context().result.lock().take() {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(format!("DLQ {}: {e}", self.topic)),
            None => Err(format!("DLQ {}: no delivery report", self.topic)),
        }
    }
}
