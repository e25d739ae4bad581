//! Reads a KEYS source's own topic from its start to its end (as the end stood when reading
//! began) and keeps, for each Redis key, what its latest record says: a fingerprint of the
//! value, or a tombstone. Reconciling compares this with the dataset, so after a crash, a
//! failover or a dropped mark the source sends exactly the keys whose latest record is wrong
//! (tombstones included) and nothing for the keys already right.
//!
//! Memory: one entry per distinct key in the topic (its bytes and 8 bytes), for the length of a
//! reconcile. A compacted topic keeps this close to the number of matching keys.

use crate::error::Error;
use crate::kafka::config;
use crate::kafka::headers;
use crate::spec::glob::glob_match;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Header naming the Redis type of the value (`string`, `hash`... or `none` for a tombstone).
pub const TYPE_HEADER: &str = "redis.type";
const TYPE_HEADER_C: &std::ffi::CStr = c"redis.type";
/// Header naming the last event that changed the key (`set`, `hdel`, `expired`, `snapshot`...).
pub const EVENT_HEADER: &str = "redis.event";

/// Each key's latest record in the topic: `Some(fingerprint)` for a value, `None` for a
/// tombstone.
pub type Latest = HashMap<Vec<u8>, Option<u64>>;

/// The same value of the same type always gives the same fingerprint within one process.
pub fn fingerprint(kind: &[u8], value: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    hasher.write(kind);
    hasher.write_u8(0);
    hasher.write(value);
    hasher.finish()
}

const METADATA_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait without a single record while partitions are still behind their end.
const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads `topic` up to its current end. A topic that does not exist yet reads as empty. Gives
/// up with None when `stop` is set, and with an error when the broker does not serve it.
pub fn read_topic(
    bridge: &str,
    brokers: &str,
    user: &[(String, String)],
    topic: &str,
    glob: &[u8],
    stop: &AtomicBool,
) -> Result<Option<Latest>, Error> {
    let consumer: BaseConsumer = config::source_readback(bridge, brokers, user)
        .create()
        .map_err(|e| Error::Kafka(format!("creating the reader of {topic}: {e}")))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), METADATA_TIMEOUT)
        .map_err(|e| Error::Kafka(format!("reading metadata of {topic}: {e}")))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut ends: HashMap<i32, i64> = HashMap::new();
    let mut assignment = TopicPartitionList::new();
    for partition in partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition, METADATA_TIMEOUT)
            .map_err(|e| Error::Kafka(format!("reading the end of {topic}/{partition}: {e}")))?;
        if high > low {
            ends.insert(partition, high);
            assignment
                .add_partition_offset(topic, partition, Offset::Offset(low))
                .map_err(|e| Error::Kafka(format!("assigning {topic}/{partition}: {e}")))?;
        }
    }
    let mut latest = Latest::new();
    if ends.is_empty() {
        return Ok(Some(latest));
    }
    consumer
        .assign(&assignment)
        .map_err(|e| Error::Kafka(format!("assigning {topic}: {e}")))?;
    let mut last_record = Instant::now();
    while !ends.is_empty() {
        if stop.load(Ordering::Acquire) {
            return Ok(None);
        }
        let Some(polled) = consumer.poll(Duration::from_millis(100)) else {
            // Compaction may have removed the offsets just below the end: the position says
            // when a partition has nothing more to give.
            if let Ok(positions) = consumer.position() {
                for element in positions.elements() {
                    if let (Offset::Offset(at), Some(end)) =
                        (element.offset(), ends.get(&element.partition()))
                    {
                        if at >= *end {
                            ends.remove(&element.partition());
                        }
                    }
                }
            }
            if last_record.elapsed() > STALL_TIMEOUT {
                return Err(Error::Kafka(format!(
                    "reading {topic}: no record for {} s while {} partition(s) are behind",
                    STALL_TIMEOUT.as_secs(),
                    ends.len()
                )));
            }
            continue;
        };
        let message = polled.map_err(|e| Error::Kafka(format!("reading {topic}: {e}")))?;
        last_record = Instant::now();
        let partition = message.partition();
        if ends
            .get(&partition)
            .is_some_and(|end| message.offset() + 1 >= *end)
        {
            ends.remove(&partition);
        }
        let Some(key) = message.key() else {
            continue;
        };
        if !glob_match(glob, key) {
            continue;
        }
        let state = message.payload().map(|value| {
            let kind = message
                .headers()
                .and_then(|h| headers::last(h, TYPE_HEADER_C).flatten())
                .unwrap_or_default();
            fingerprint(kind, value)
        });
        latest.insert(key.to_vec(), state);
    }
    Ok(Some(latest))
}
