//! The dead-letter topic of a bridge with `ON-ERROR DLQ <topic>`: the original key and value,
//! with headers saying why and where the record came from. The caller moves its offset or
//! checkpoint past the record only after the broker acknowledged the dead letter, so nothing is
//! lost (a crash in between may send one dead letter twice).
//!
//! The error header is at most ERROR_HEADER_MAX bytes and never holds record content. A letter
//! Kafka refuses as too large is sent again without its value, then without its key too, with
//! `redis.value.dropped` / `redis.key.dropped` giving their sizes, so a record too large for its
//! topic cannot make its dead letter undeliverable.

use crate::error::Error;
use crate::kafka::client_error::ClientErrors;
use crate::kafka::config;
use crate::kafka::delivery::is_size_error;
use crate::kafka::log;
use crate::runtime::text::truncate;
use parking_lot::Mutex;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub const HEADER_ERROR: &str = "redis.error";
pub const HEADER_VALUE_DROPPED: &str = "redis.value.dropped";
pub const HEADER_KEY_DROPPED: &str = "redis.key.dropped";
pub const ERROR_HEADER_MAX: usize = 1024;

const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);

/// One dead letter: the original record and the headers that say where it came from.
pub struct Letter<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub error: &'a str,
    pub origin: Vec<(&'static str, Vec<u8>)>,
}

struct Capture {
    bridge: String,
    result: Mutex<Option<Result<(), KafkaError>>>,
    /// The client's latest error (a refused login, an untrusted certificate): a delivery that
    /// times out says why with it.
    client_error: Mutex<Option<String>>,
    errors: ClientErrors,
}

impl ClientContext for Capture {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        log::forward(&self.bridge, level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if let Some(text) = self.errors.describe(&error, reason) {
            *self.client_error.lock() = Some(text);
        }
    }
}

impl ProducerContext for Capture {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        *self.result.lock() = Some(result.as_ref().map(|_| ()).map_err(|(e, _)| e.clone()));
    }
}

pub struct DeadLetters {
    producer: BaseProducer<Capture>,
    topic: String,
}

impl DeadLetters {
    pub fn new(
        bridge: &str,
        topic: &str,
        brokers: &str,
        config: &[(String, String)],
    ) -> Result<DeadLetters, Error> {
        let context = Capture {
            bridge: bridge.to_string(),
            result: Mutex::new(None),
            client_error: Mutex::new(None),
            errors: ClientErrors::default(),
        };
        let producer = config::dead_letter_producer(bridge, brokers, config)
            .create_with_context(context)
            .map_err(|e| Error::Kafka(format!("creating DLQ producer: {e}")))?;
        Ok(DeadLetters {
            producer,
            topic: topic.to_string(),
        })
    }

    /// Sends one dead letter and waits for the broker's acknowledgement (worker thread only),
    /// giving up as soon as `stop` is set.
    pub fn send(&self, letter: &Letter<'_>, stop: &AtomicBool) -> Result<(), Error> {
        let attempts = [(letter.key, letter.value), (letter.key, None), (None, None)];
        let mut last = None;
        for (key, value) in attempts {
            let shrunk = last.is_some();
            if shrunk && key == letter.key && value == letter.value {
                continue;
            }
            match self.send_once(letter, key, value, stop) {
                Err(e) if is_size_error(&e) => last = Some(e),
                Ok(()) => {
                    *self.producer.context().client_error.lock() = None;
                    return Ok(());
                }
                other => {
                    return other.map_err(|e| {
                        let cause = self
                            .producer
                            .context()
                            .client_error
                            .lock()
                            .clone()
                            .map(|c| format!(" ({c})"))
                            .unwrap_or_default();
                        Error::Kafka(format!("DLQ {}: {e}{cause}", self.topic))
                    })
                }
            }
        }
        Err(Error::Kafka(format!(
            "DLQ {}: {}",
            self.topic,
            last.map_or_else(|| "not sent".to_string(), |e| e.to_string())
        )))
    }

    fn send_once(
        &self,
        letter: &Letter<'_>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        stop: &AtomicBool,
    ) -> Result<(), KafkaError> {
        let error = truncate(letter.error, ERROR_HEADER_MAX);
        let dropped_size = |original: Option<&[u8]>, sent: Option<&[u8]>| match (original, sent) {
            (Some(original), None) => Some(original.len().to_string()),
            _ => None,
        };
        let dropped = dropped_size(letter.value, value);
        let key_dropped = dropped_size(letter.key, key);
        let mut headers = OwnedHeaders::new().insert(Header {
            key: HEADER_ERROR,
            value: Some(error.as_bytes()),
        });
        for (key, value) in &letter.origin {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
        for (name, size) in [
            (HEADER_VALUE_DROPPED, &dropped),
            (HEADER_KEY_DROPPED, &key_dropped),
        ] {
            if let Some(size) = size {
                headers = headers.insert(Header {
                    key: name,
                    value: Some(size.as_bytes()),
                });
            }
        }
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&self.topic).headers(headers);
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(value) = value {
            record = record.payload(value);
        }
        *self.producer.context().result.lock() = None;
        self.producer.send(record).map_err(|(e, _)| e)?;
        let deadline = Instant::now() + DELIVERY_TIMEOUT;
        loop {
            self.producer.poll(Duration::from_millis(50));
            if let Some(result) = self.producer.context().result.lock().take() {
                return result;
            }
            if stop.load(Ordering::Acquire) || Instant::now() >= deadline {
                return Err(KafkaError::Flush(RDKafkaErrorCode::MessageTimedOut));
            }
        }
    }
}

/// Where a bridge's dead letters go, and the settings to reach it: the producer is made when
/// the first letter needs it and kept for the next.
pub struct Destination<'a> {
    pub bridge: &'a str,
    pub topic: &'a str,
    pub brokers: &'a str,
    pub config: &'a [(String, String)],
}

/// Sends `letter`, retrying with a growing backoff until the broker acknowledges it. Each
/// attempt's outcome goes to `report` (`what` names the record); `wait` sleeps between
/// attempts and says false when the run ends, which ends this with false.
pub fn deliver(
    producer: &mut Option<DeadLetters>,
    to: &Destination<'_>,
    letter: &Letter<'_>,
    what: &str,
    stop: &AtomicBool,
    report: &dyn Fn(String),
    wait: &mut dyn FnMut(Duration) -> bool,
) -> bool {
    let mut backoff = Duration::from_millis(100);
    loop {
        if producer.is_none() {
            match DeadLetters::new(to.bridge, to.topic, to.brokers, to.config) {
                Ok(made) => *producer = Some(made),
                Err(e) => report(e.to_string()),
            }
        }
        if let Some(dead_letters) = producer.as_ref() {
            match dead_letters.send(letter, stop) {
                Ok(()) => {
                    report(format!("sent to DLQ {}: {what}", to.topic));
                    return true;
                }
                Err(e) => report(format!("{what}; dead letter not delivered, retrying: {e}")),
            }
        }
        if !wait(backoff) {
            return false;
        }
        backoff = (backoff * 2).min(MAX_RETRY_BACKOFF);
    }
}

const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(10);
