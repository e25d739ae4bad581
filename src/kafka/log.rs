//! Forwards librdkafka's log lines to the Redis log at the matching level.

use crate::runtime::log::{notice as log_notice, verbose as log_verbose, warning as log_warning};
use crate::settings;
use rdkafka::config::RDKafkaLogLevel;

/// The level a new client logs at. rust-rdkafka otherwise takes it from the `log` crate, which
/// has no logger here, and sets librdkafka to errors only: warnings and the `debug` property's
/// lines never reached the Redis log.
pub fn client_log_level() -> RDKafkaLogLevel {
    match settings::log_level_threshold() {
        i32::MIN..=3 => RDKafkaLogLevel::Error,
        4 => RDKafkaLogLevel::Warning,
        5 => RDKafkaLogLevel::Notice,
        6 => RDKafkaLogLevel::Info,
        _ => RDKafkaLogLevel::Debug,
    }
}

pub fn forward(bridge: &str, level: RDKafkaLogLevel, facility: &str, message: &str) {
    if (level as i32) > settings::log_level_threshold() {
        return;
    }
    let line = format!("kafka bridge '{bridge}': librdkafka {facility}: {message}");
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error
        | RDKafkaLogLevel::Warning => log_warning(&line),
        RDKafkaLogLevel::Notice => log_notice(&line),
        RDKafkaLogLevel::Info | RDKafkaLogLevel::Debug => log_verbose(&line),
    }
}
