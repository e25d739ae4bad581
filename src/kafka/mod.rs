//! Kafka plumbing shared by sinks and sources: client settings per role, broker resolution,
//! the embedded broker, log forwarding, secret redaction, the KAFKA.PRODUCE producer pool,
//! dead letters, delivery outcomes and interruptible waits.

pub mod brokers;
pub mod client_error;
pub mod config;
pub mod dead_letters;
pub mod delivery;
pub mod embedded;
pub mod headers;
pub mod log;
pub mod produce_pool;
pub mod redact;
pub mod wait;
