//! Producers for KAFKA.PRODUCE, one per broker list, each with librdkafka's own polling thread.
//! A delivery report unblocks the client that asked for it with `[partition, offset]`.

use crate::kafka_config;
use crate::kafka_log;
use parking_lot::Mutex;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use redis_module::{BlockedClient, RedisError, RedisValue, ThreadSafeContext};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub struct ReplyOnDelivery;

/// A client waiting for its delivery report. Only moved between threads, never shared.
pub struct Waiter(pub BlockedClient);

// Redis allows a blocked-client handle to be used from any one thread at a time; the record that
// carries it hands it to exactly one delivery callback.
unsafe impl Sync for Waiter {}

impl ClientContext for ReplyOnDelivery {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        kafka_log::forward("KAFKA.PRODUCE", level, fac, message);
    }
}

impl ProducerContext for ReplyOnDelivery {
    type DeliveryOpaque = Box<Waiter>;

    fn delivery(&self, result: &DeliveryResult<'_>, waiter: Box<Waiter>) {
        let reply = match result {
            Ok(message) => Ok(RedisValue::Array(vec![
                RedisValue::Integer(message.partition().into()),
                RedisValue::Integer(message.offset()),
            ])),
            Err((e, _)) => Err(RedisError::String(format!(
                "ERR Kafka delivery failed: {e}"
            ))),
        };
        reply_to(waiter.0, reply);
    }
}

pub fn reply_to(client: BlockedClient, reply: Result<RedisValue, RedisError>) {
    let ctx = ThreadSafeContext::with_blocked_client(client);
    ctx.reply(reply);
}

pub type ReplyProducer = ThreadedProducer<ReplyOnDelivery>;

static PRODUCERS: Mutex<Option<HashMap<String, Arc<ReplyProducer>>>> = Mutex::new(None);

pub fn producer_for(brokers: &str) -> Result<Arc<ReplyProducer>, String> {
    let mut producers = PRODUCERS.lock();
    let producers = producers.get_or_insert_with(HashMap::new);
    if let Some(producer) = producers.get(brokers) {
        return Ok(producer.clone());
    }
    let producer: ReplyProducer = kafka_config::producer_config(brokers, &[])
        .create_with_context(ReplyOnDelivery)
        .map_err(|e| format!("creating producer for {brokers}: {e}"))?;
    let producer = Arc::new(producer);
    producers.insert(brokers.to_string(), producer.clone());
    Ok(producer)
}

/// Delivers what is queued (so blocked clients get their replies) and drops every producer.
pub fn shutdown(timeout: Duration) {
    let producers = PRODUCERS.lock().take().unwrap_or_default();
    for producer in producers.values() {
        let _ = producer.flush(timeout);
    }
}
