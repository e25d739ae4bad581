//! What a Kafka client's error callback puts in `last_error`. librdkafka reports each broker's
//! own failure first (an untrusted certificate, a refused login, a refused connection) and then
//! "all brokers down": the latter says nothing new and must not hide the cause.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Default)]
pub struct ClientErrors {
    /// A broker's own failure was reported by this client.
    cause_seen: AtomicBool,
    /// The error callback ran since the last `take_reported` (a consumer's poll then returns
    /// the same error without its text).
    reported: AtomicBool,
}

impl ClientErrors {
    /// The `last_error` text for an error callback, or None when it would only hide the cause.
    pub fn describe(&self, error: &KafkaError, reason: &str) -> Option<String> {
        self.reported.store(true, Ordering::Release);
        let all_down = error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown);
        if all_down && self.cause_seen.load(Ordering::Acquire) {
            return None;
        }
        if !all_down {
            self.cause_seen.store(true, Ordering::Release);
        }
        Some(format!("kafka: {error}: {reason}"))
    }

    /// True once after the error callback ran.
    pub fn take_reported(&self) -> bool {
        self.reported.swap(false, Ordering::AcqRel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_brokers_down_does_not_hide_the_cause() {
        let errors = ClientErrors::default();
        let down = KafkaError::Global(RDKafkaErrorCode::AllBrokersDown);
        assert!(errors.describe(&down, "1/1 brokers are down").is_some());
        let ssl = KafkaError::Global(RDKafkaErrorCode::SSL);
        let text = errors
            .describe(&ssl, "SSL handshake failed: certificate verify failed")
            .unwrap();
        assert!(text.contains("certificate verify failed"), "{text}");
        assert!(errors.describe(&down, "1/1 brokers are down").is_none());
        assert!(errors.take_reported());
        assert!(!errors.take_reported());
    }
}
