//! Producers for KAFKA.PRODUCE, one per broker list, each with librdkafka's own polling thread.
//! A delivery report unblocks the client that asked for it with `[partition, offset]`. The pool
//! holds at most MAX_PRODUCERS; the least recently used one is flushed and closed off the main
//! thread to make room, so no caller can make Redis open clients without bound.

use crate::error::Error;
use crate::kafka::config;
use crate::kafka::log;
use crate::runtime::blocked::Blocked;
use parking_lot::Mutex;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use redis_module::{RedisError, RedisValue};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Broker lists KAFKA.PRODUCE keeps a producer for at once.
pub const MAX_PRODUCERS: usize = 4;
/// How long a producer pushed out of the pool may take to deliver what it holds.
const RETIRE_FLUSH: Duration = Duration::from_secs(30);

pub struct ReplyOnDelivery;

impl ClientContext for ReplyOnDelivery {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        log::forward("KAFKA.PRODUCE", level, fac, message);
    }
}

impl ProducerContext for ReplyOnDelivery {
    type DeliveryOpaque = Box<Blocked>;

    fn delivery(&self, result: &DeliveryResult<'_>, waiter: Box<Blocked>) {
        let reply = match result {
            Ok(message) => Ok(RedisValue::Array(vec![
                RedisValue::Integer(message.partition().into()),
                RedisValue::Integer(message.offset()),
            ])),
            Err((e, _)) => Err(RedisError::String(format!(
                "ERR Kafka delivery failed: {e}"
            ))),
        };
        waiter.answer(reply);
    }
}

pub type ReplyProducer = ThreadedProducer<ReplyOnDelivery>;

struct Pooled {
    brokers: String,
    /// `kafka.produce-config` when the producer was made: a change makes a new one.
    config: Vec<(String, String)>,
    producer: Arc<ReplyProducer>,
    last_used: Instant,
}

#[derive(Default)]
struct Pool {
    producers: Vec<Pooled>,
    /// Threads flushing and closing producers pushed out of the pool.
    closing: Vec<JoinHandle<()>>,
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

fn close_in_background(producer: Arc<ReplyProducer>, flush: Duration) -> Option<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("kafka-produce-close".to_string())
        .spawn(move || {
            let _ = producer.flush(flush);
            drop(producer);
        })
        .ok()
}

pub fn producer_for(
    brokers: &str,
    user_config: Vec<(String, String)>,
) -> Result<Arc<ReplyProducer>, Error> {
    let mut guard = POOL.lock();
    let pool = guard.get_or_insert_with(Pool::default);
    pool.closing.retain(|h| !h.is_finished());
    if let Some(pooled) = pool
        .producers
        .iter_mut()
        .find(|p| p.brokers == brokers && p.config == user_config)
    {
        pooled.last_used = Instant::now();
        return Ok(pooled.producer.clone());
    }
    if pool.producers.len() >= MAX_PRODUCERS {
        let oldest = pool
            .producers
            .iter()
            .enumerate()
            .min_by_key(|(_, p)| p.last_used)
            .map(|(i, _)| i)
            .unwrap_or(0);
        let retired = pool.producers.swap_remove(oldest);
        if let Some(handle) = close_in_background(retired.producer, RETIRE_FLUSH) {
            pool.closing.push(handle);
        }
    }
    let producer: ReplyProducer = config::produce_command(brokers, &user_config)
        .create_with_context(ReplyOnDelivery)
        .map_err(|e| Error::Kafka(format!("creating producer for {brokers}: {e}")))?;
    let producer = Arc::new(producer);
    pool.producers.push(Pooled {
        brokers: brokers.to_string(),
        config: user_config,
        producer: producer.clone(),
        last_used: Instant::now(),
    });
    Ok(producer)
}

/// Delivers what is queued (so blocked clients get their replies) and closes every producer,
/// waiting until `deadline` at most. False when one was still closing then.
pub fn shutdown(deadline: Instant) -> bool {
    let Some(pool) = POOL.lock().take() else {
        return true;
    };
    let mut closing = pool.closing;
    for pooled in pool.producers {
        let flush = deadline.saturating_duration_since(Instant::now());
        if let Some(handle) = close_in_background(pooled.producer, flush) {
            closing.push(handle);
        }
    }
    loop {
        closing.retain(|h| !h.is_finished());
        if closing.is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            // Kept, so the next MODULE UNLOAD waits for them too (SHUTDOWN exits anyway).
            POOL.lock()
                .get_or_insert_with(Pool::default)
                .closing
                .extend(closing);
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
