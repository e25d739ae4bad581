//! The source's producer. Records are sent without waiting; each carries a sequence number, and
//! delivery reports come back as (sequence, outcome) for the worker to match against what it
//! has in flight, so reading, producing and checkpointing overlap.

use crate::error::Error;
use crate::kafka::client_error::ClientErrors;
use crate::kafka::config;
use crate::kafka::delivery::is_permanent;
use crate::kafka::log;
use parking_lot::Mutex;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use std::sync::Arc;
use std::time::Duration;

/// Error reports from librdkafka (broker down, auth failures) go to the bridge's last error.
pub type ErrorSink = Arc<dyn Fn(String) + Send + Sync>;

/// A delivery that did not happen, and whether retrying could ever help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    pub permanent: bool,
}

impl Failure {
    pub fn from_kafka(error: &KafkaError) -> Failure {
        Failure {
            message: error.to_string(),
            permanent: is_permanent(error),
        }
    }
}

pub type Outcome = Result<(), Failure>;

pub struct Acks {
    bridge: String,
    on_error: ErrorSink,
    reports: Mutex<Vec<(usize, Outcome)>>,
    errors: ClientErrors,
}

impl ClientContext for Acks {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        log::forward(&self.bridge, level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if let Some(text) = self.errors.describe(&error, reason) {
            (self.on_error)(text);
        }
    }
}

impl ProducerContext for Acks {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sequence: usize) {
        let outcome = result
            .as_ref()
            .map(|_| ())
            .map_err(|(e, _)| Failure::from_kafka(e));
        self.reports.lock().push((sequence, outcome));
    }
}

pub struct Forwarder {
    producer: BaseProducer<Acks>,
}

pub enum Sent {
    Queued,
    /// librdkafka's queue is full: serve delivery reports, then offer the record again.
    Full,
    Refused(Failure),
}

impl Forwarder {
    pub fn new(
        bridge: &str,
        brokers: &str,
        user_config: &[(String, String)],
        on_error: ErrorSink,
    ) -> Result<Forwarder, Error> {
        let acks = Acks {
            bridge: bridge.to_string(),
            on_error,
            reports: Mutex::new(Vec::new()),
            errors: ClientErrors::default(),
        };
        let producer = config::source_producer(bridge, brokers, user_config)
            .create_with_context(acks)
            .map_err(|e| Error::Kafka(format!("creating producer: {e}")))?;
        Ok(Forwarder { producer })
    }

    /// Sends one record; a `None` value is a tombstone.
    pub fn send_parts(
        &self,
        topic: &str,
        key: &[u8],
        value: Option<&[u8]>,
        headers: &[(&str, &[u8])],
        sequence: usize,
    ) -> Sent {
        let headers = headers
            .iter()
            .fold(OwnedHeaders::new(), |headers, (key, value)| {
                headers.insert(Header {
                    key,
                    value: Some(*value),
                })
            });
        let mut message = BaseRecord::with_opaque_to(topic, sequence)
            .key(key)
            .headers(headers);
        if let Some(value) = value {
            message = message.payload(value);
        }
        match self.producer.send(message) {
            Ok(()) => Sent::Queued,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => Sent::Full,
            Err((e, _)) => Sent::Refused(Failure::from_kafka(&e)),
        }
    }

    /// True when the broker's metadata lists `topic` with partitions (one round trip). A
    /// broker that does not answer within a second counts as "no": creating is tried next.
    pub fn topic_exists(&self, topic: &str) -> bool {
        self.producer
            .client()
            .fetch_metadata(Some(topic), Duration::from_secs(1))
            .map(|m| {
                m.topics()
                    .iter()
                    .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
            })
            .unwrap_or(false)
    }

    /// Serves delivery reports (waiting up to `wait` for one) and returns those that arrived.
    pub fn poll(&self, wait: Duration) -> Vec<(usize, Outcome)> {
        self.producer.poll(wait);
        std::mem::take(&mut *self.producer.context().reports.lock())
    }
}
