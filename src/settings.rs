//! Module configuration (`kafka.*`), settable as `loadmodule` arguments, in redis.conf, or with
//! CONFIG SET.

use crate::sink_parse::parse_brokers;
use redis_module::configuration::{ConfigurationContext, ConfigurationValue};
use redis_module::{enum_configuration, RedisError, RedisString};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

/// `kafka.brokers`, checked like BROKERS so CONFIG SET refuses a malformed list.
pub struct BrokerList(Mutex<String>);

impl ConfigurationValue<RedisString> for BrokerList {
    fn get(&self, _ctx: &ConfigurationContext) -> RedisString {
        let value = self.0.lock().map(|v| v.clone()).unwrap_or_default();
        RedisString::create(None, value.as_str())
    }

    fn set(&self, _ctx: &ConfigurationContext, value: RedisString) -> Result<(), RedisError> {
        crate::module::panic::catch("CONFIG SET kafka.brokers", || self.set_text(&value))
            .unwrap_or_else(|panic| Err(RedisError::String(format!("ERR {panic}"))))
    }
}

impl BrokerList {
    fn set_text(&self, value: &RedisString) -> Result<(), RedisError> {
        let text = value.try_as_str()?.trim().to_string();
        let normalized = if text.is_empty() {
            text
        } else {
            parse_brokers(&text).map_err(|e| RedisError::String(format!("ERR {e}")))?
        };
        if let Ok(mut current) = self.0.lock() {
            *current = normalized;
        }
        Ok(())
    }
}

pub static BROKERS: BrokerList = BrokerList(Mutex::new(String::new()));
/// `kafka.client-id`: prefix of the client.id of every Kafka client the module creates.
pub static CLIENT_ID: LazyLock<Mutex<String>> =
    LazyLock::new(|| Mutex::new(DEFAULT_CLIENT_ID.to_string()));
pub const DEFAULT_CLIENT_ID: &str = "redis-kafka";

pub fn client_id_prefix() -> String {
    CLIENT_ID
        .lock()
        .map(|c| c.trim().to_string())
        .ok()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| DEFAULT_CLIENT_ID.to_string())
}
pub static EMBEDDED_BROKER: AtomicBool = AtomicBool::new(false);
pub static SLICE_MAX_RECORDS: AtomicI64 = AtomicI64::new(SLICE_MAX_RECORDS_DEFAULT);
pub static SLICE_MAX_MICROS: AtomicI64 = AtomicI64::new(SLICE_MAX_MICROS_DEFAULT);
pub static SLICE_MAX_BYTES: AtomicI64 = AtomicI64::new(SLICE_MAX_BYTES_DEFAULT);
pub static SINK_BATCH_MAX_BYTES: AtomicI64 = AtomicI64::new(SINK_BATCH_MAX_BYTES_DEFAULT);
pub static SOURCE_INFLIGHT_MAX_BYTES: AtomicI64 = AtomicI64::new(SOURCE_INFLIGHT_MAX_BYTES_DEFAULT);
pub static SHUTDOWN_TIMEOUT_MS: AtomicI64 = AtomicI64::new(SHUTDOWN_TIMEOUT_MS_DEFAULT);
/// `kafka.debug-command`: KAFKA.DEBUG (fault injection for tests), off unless set at load.
pub static DEBUG_COMMAND: AtomicBool = AtomicBool::new(false);

enum_configuration! {
    /// Most verbose librdkafka level forwarded to the Redis log (syslog numbering).
    #[allow(non_camel_case_types)]
    pub enum LogLevel {
        error = 3,
        warning = 4,
        notice = 5,
        info = 6,
        debug = 7,
    }
}

pub static LOG_LEVEL: Mutex<LogLevel> = Mutex::new(LogLevel::warning);

pub fn log_level_threshold() -> i32 {
    LOG_LEVEL
        .lock()
        .map(|l| l.clone() as i32)
        .unwrap_or(LogLevel::warning as i32)
}

pub const SLICE_MAX_RECORDS_DEFAULT: i64 = 500;
pub const SLICE_MAX_MICROS_DEFAULT: i64 = 1000;
/// Bytes a sink writes per hold of the lock (one bigger record still goes through alone).
pub const SLICE_MAX_BYTES_DEFAULT: i64 = 4 << 20;
pub const SLICE_MAX_BYTES_RANGE: (i64, i64) = (64 << 10, 1 << 30);
/// Bytes of polled records (and their DLQ copies) a sink task holds at once.
pub const SINK_BATCH_MAX_BYTES_DEFAULT: i64 = 64 << 20;
pub const SINK_BATCH_MAX_BYTES_RANGE: (i64, i64) = (1 << 20, 4 << 30);
/// Bytes of entries a source has read and Kafka has not acknowledged yet.
pub const SOURCE_INFLIGHT_MAX_BYTES_DEFAULT: i64 = 64 << 20;
pub const SOURCE_INFLIGHT_MAX_BYTES_RANGE: (i64, i64) = (1 << 20, 4 << 30);
/// Longest SHUTDOWN and MODULE UNLOAD wait for workers and producers, in total.
pub const SHUTDOWN_TIMEOUT_MS_DEFAULT: i64 = 5000;
pub const SHUTDOWN_TIMEOUT_MS_RANGE: (i64, i64) = (100, 60_000);

pub fn default_brokers() -> Option<String> {
    let brokers = BROKERS.0.lock().map(|b| b.clone()).unwrap_or_default();
    (!brokers.is_empty()).then_some(brokers)
}

pub fn embedded_broker_enabled() -> bool {
    EMBEDDED_BROKER.load(Ordering::Relaxed)
}

pub fn slice_max_records() -> usize {
    SLICE_MAX_RECORDS.load(Ordering::Relaxed).max(1) as usize
}

fn positive(value: &AtomicI64) -> usize {
    usize::try_from(value.load(Ordering::Relaxed).max(1)).unwrap_or(usize::MAX)
}

pub fn slice_max_bytes() -> usize {
    positive(&SLICE_MAX_BYTES)
}

pub fn sink_batch_max_bytes() -> usize {
    positive(&SINK_BATCH_MAX_BYTES)
}

pub fn source_inflight_max_bytes() -> usize {
    positive(&SOURCE_INFLIGHT_MAX_BYTES)
}

pub fn shutdown_timeout() -> Duration {
    Duration::from_millis(positive(&SHUTDOWN_TIMEOUT_MS) as u64)
}

pub fn debug_command_enabled() -> bool {
    DEBUG_COMMAND.load(Ordering::Relaxed)
}

pub fn slice_max_time() -> Duration {
    Duration::from_micros(SLICE_MAX_MICROS.load(Ordering::Relaxed).max(1) as u64)
}

/// `loadmodule` arguments are name/value pairs; names may carry the `kafka.` prefix or not.
pub fn apply_module_args(args: &[RedisString]) -> Result<(), RedisError> {
    if !args.len().is_multiple_of(2) {
        return Err(RedisError::String(
            "kafka: module arguments must be <name> <value> pairs".to_string(),
        ));
    }
    for pair in args.chunks(2) {
        let name = pair[0].to_string_lossy();
        let value = pair[1].to_string_lossy();
        let bare = name.strip_prefix("kafka.").unwrap_or(&name);
        match bare {
            "brokers" => {
                let list = if value.trim().is_empty() {
                    String::new()
                } else {
                    parse_brokers(&value)
                        .map_err(|e| RedisError::String(format!("kafka: {name}: {e}")))?
                };
                if let Ok(mut brokers) = BROKERS.0.lock() {
                    *brokers = list;
                }
            }
            "client-id" => {
                if let Ok(mut id) = CLIENT_ID.lock() {
                    *id = value;
                }
            }
            "embedded-broker" => EMBEDDED_BROKER.store(parse_bool(&name, &value)?, Ordering::Relaxed),
            "slice-max-records" => SLICE_MAX_RECORDS.store(
                parse_number(&name, &value, 1, 1_000_000)?,
                Ordering::Relaxed,
            ),
            "slice-max-micros" => SLICE_MAX_MICROS.store(
                parse_number(&name, &value, 10, 1_000_000)?,
                Ordering::Relaxed,
            ),
            "slice-max-bytes" => SLICE_MAX_BYTES.store(
                parse_range(&name, &value, SLICE_MAX_BYTES_RANGE)?,
                Ordering::Relaxed,
            ),
            "sink-batch-max-bytes" => SINK_BATCH_MAX_BYTES.store(
                parse_range(&name, &value, SINK_BATCH_MAX_BYTES_RANGE)?,
                Ordering::Relaxed,
            ),
            "source-inflight-max-bytes" => SOURCE_INFLIGHT_MAX_BYTES.store(
                parse_range(&name, &value, SOURCE_INFLIGHT_MAX_BYTES_RANGE)?,
                Ordering::Relaxed,
            ),
            "shutdown-timeout-ms" => SHUTDOWN_TIMEOUT_MS.store(
                parse_range(&name, &value, SHUTDOWN_TIMEOUT_MS_RANGE)?,
                Ordering::Relaxed,
            ),
            "debug-command" => DEBUG_COMMAND.store(parse_bool(&name, &value)?, Ordering::Relaxed),
            "log-level" => {
                let level = match value.to_ascii_lowercase().as_str() {
                    "error" => LogLevel::error,
                    "warning" => LogLevel::warning,
                    "notice" => LogLevel::notice,
                    "info" => LogLevel::info,
                    "debug" => LogLevel::debug,
                    _ => {
                        return Err(RedisError::String(format!(
                            "kafka: {name} must be error, warning, notice, info or debug, got '{value}'"
                        )))
                    }
                };
                if let Ok(mut current) = LOG_LEVEL.lock() {
                    *current = level;
                }
            }
            _ => {
                return Err(RedisError::String(format!(
                    "kafka: unknown module argument '{name}' (known: kafka.brokers, kafka.client-id, kafka.embedded-broker, kafka.slice-max-records, kafka.slice-max-micros, kafka.slice-max-bytes, kafka.sink-batch-max-bytes, kafka.source-inflight-max-bytes, kafka.shutdown-timeout-ms, kafka.debug-command, kafka.log-level)"
                )))
            }
        }
    }
    Ok(())
}

fn parse_bool(name: &str, value: &str) -> Result<bool, RedisError> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" | "on" => Ok(true),
        "no" | "false" | "0" | "off" => Ok(false),
        _ => Err(RedisError::String(format!(
            "kafka: {name} must be yes or no, got '{value}'"
        ))),
    }
}

fn parse_range(name: &str, value: &str, (min, max): (i64, i64)) -> Result<i64, RedisError> {
    parse_number(name, value, min, max)
}

fn parse_number(name: &str, value: &str, min: i64, max: i64) -> Result<i64, RedisError> {
    match value.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(RedisError::String(format!(
            "kafka: {name} must be a number from {min} to {max}, got '{value}'"
        ))),
    }
}
