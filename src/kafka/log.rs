//! Forwards librdkafka's log lines to the Redis log at the matching level.

use crate::runtime::log::{notice as log_notice, verbose as log_verbose, warning as log_warning};
use crate::settings;
use rdkafka::config::RDKafkaLogLevel;

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
