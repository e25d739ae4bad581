//! Which delivery failures are final. A bridge retries the others (broker down, timeouts,
//! leader changes) for as long as it takes; a final one goes to its ON-ERROR policy, since
//! retrying it would block the stream behind it forever.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// Kafka refused the record for its size (locally or at the broker).
pub fn is_size_error(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::MessageBatchTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
        )
    )
}

pub fn is_permanent(error: &KafkaError) -> bool {
    is_size_error(error)
        || matches!(
            error.rdkafka_error_code(),
            Some(
                RDKafkaErrorCode::InvalidRecord
                    | RDKafkaErrorCode::InvalidTopic
                    | RDKafkaErrorCode::TopicAuthorizationFailed
                    | RDKafkaErrorCode::ClusterAuthorizationFailed
                    | RDKafkaErrorCode::UnsupportedForMessageFormat
                    | RDKafkaErrorCode::PolicyViolation
                    | RDKafkaErrorCode::InvalidRequiredAcks
            )
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_and_authorization_are_final_outages_are_not() {
        let produce = KafkaError::MessageProduction;
        assert!(is_permanent(&produce(
            RDKafkaErrorCode::MessageSizeTooLarge
        )));
        assert!(is_permanent(&produce(
            RDKafkaErrorCode::TopicAuthorizationFailed
        )));
        assert!(!is_permanent(&produce(RDKafkaErrorCode::MessageTimedOut)));
        assert!(!is_permanent(&produce(
            RDKafkaErrorCode::BrokerTransportFailure
        )));
        assert!(!is_permanent(&produce(
            RDKafkaErrorCode::UnknownTopicOrPartition
        )));
        assert!(!is_permanent(&produce(RDKafkaErrorCode::QueueFull)));
        assert!(is_size_error(&produce(
            RDKafkaErrorCode::MessageSizeTooLarge
        )));
        assert!(!is_size_error(&produce(RDKafkaErrorCode::QueueFull)));
    }
}
