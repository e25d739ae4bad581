//! The source's producer: sends a batch and waits until Kafka acknowledged (or refused) every
//! record, so the caller can checkpoint exactly what was delivered.

use crate::bridge::Run;
use crate::kafka_config;
use crate::kafka_log;
use crate::source_record::OutRecord;
use parking_lot::Mutex;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use std::sync::Arc;
use std::time::Duration;

pub type Outcome = Option<Result<(), String>>;

/// Error reports from librdkafka (broker down, auth failures) go to the bridge's last error.
pub type ErrorSink = Arc<dyn Fn(String) + Send + Sync>;

pub struct Acks {
    bridge: String,
    on_error: ErrorSink,
    outcomes: Mutex<Vec<Outcome>>,
}

impl ClientContext for Acks {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        kafka_log::forward(&self.bridge, level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        (self.on_error)(format!("kafka: {error}: {reason}"));
    }
}

impl ProducerContext for Acks {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, index: usize) {
        let outcome = result.as_ref().map(|_| ()).map_err(|(e, _)| e.to_string());
        if let Some(slot) = self.outcomes.lock().get_mut(index) {
            *slot = Some(outcome);
        }
    }
}

pub struct Forwarder {
    producer: BaseProducer<Acks>,
}

impl Forwarder {
    pub fn new(
        bridge: &str,
        brokers: &str,
        config: &[(String, String)],
        on_error: ErrorSink,
    ) -> Result<Forwarder, String> {
        let acks = Acks {
            bridge: bridge.to_string(),
            on_error,
            outcomes: Mutex::new(Vec::new()),
        };
        let mut producer_config = kafka_config::producer_config(brokers, &[]);
        producer_config
            .set(
                "client.id",
                format!("{}-{bridge}", crate::settings::client_id_prefix()),
            )
            .set("linger.ms", "5")
            .set("message.timeout.ms", "60000");
        for (property, value) in config {
            producer_config.set(property, value);
        }
        let producer = producer_config
            .create_with_context(acks)
            .map_err(|e| format!("creating producer: {e}"))?;
        Ok(Forwarder { producer })
    }

    /// Sends every record and waits for all outcomes; returns early (some None) if the run is
    /// stopped meanwhile.
    pub fn send_all(&self, records: &[Option<OutRecord>], run: &Run) -> Vec<Outcome> {
        *self.producer.context().outcomes.lock() = vec![None; records.len()];
        for (index, record) in records.iter().enumerate() {
            let Some(record) = record else {
                continue;
            };
            let headers =
                record
                    .headers
                    .iter()
                    .fold(OwnedHeaders::new(), |headers, (key, value)| {
                        headers.insert(Header {
                            key,
                            value: Some(value),
                        })
                    });
            let mut pending = BaseRecord::with_opaque_to(&record.topic, index)
                .key(&record.key)
                .payload(&record.value)
                .headers(headers);
            loop {
                match self.producer.send(pending) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        if run.stopping() {
                            return self.outcomes();
                        }
                        self.producer.poll(Duration::from_millis(10));
                        pending = back;
                    }
                    Err((e, _)) => {
                        if let Some(slot) = self.producer.context().outcomes.lock().get_mut(index) {
                            *slot = Some(Err(e.to_string()));
                        }
                        break;
                    }
                }
            }
        }
        while !run.stopping() && self.producer.in_flight_count() > 0 {
            self.producer.poll(Duration::from_millis(50));
        }
        self.producer.poll(Duration::ZERO);
        self.outcomes()
    }

    fn outcomes(&self) -> Vec<Outcome> {
        std::mem::take(&mut *self.producer.context().outcomes.lock())
    }
}
