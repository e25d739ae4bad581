//! The rules on user CONFIG pairs: properties each bridge role must own to keep its guarantee.

use crate::error::{arg_error, Error};

/// Which bridge a CONFIG pair is for; each has properties it must own to keep its guarantee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A sink's consumer (its CONFIG also reaches its DLQ producer).
    Sink,
    /// A source's producer.
    Source,
}

/// Properties no bridge may set: they come from dedicated options.
const ANY_ROLE: [(&str, &str); 2] = [
    ("bootstrap.servers", "use BROKERS"),
    ("metadata.broker.list", "use BROKERS"),
];

/// A sink keeps its offsets in Redis and starts where START says.
const SINK_ONLY: [(&str, &str); 3] = [
    ("group.id", "use GROUP"),
    (
        "enable.auto.offset.store",
        "offsets are stored by the sink after each applied slice",
    ),
    ("auto.offset.reset", "use START"),
];

/// What produces (a source, a sink's DLQ) moves its checkpoint or offset only after Kafka
/// acknowledged: the producer must be idempotent, wait for all replicas, and report every
/// delivery.
const PRODUCING: [(&str, &str); 4] = [
    (
        "enable.idempotence",
        "the module moves checkpoints only past records Kafka acknowledged once and in order, which needs the idempotent producer",
    ),
    (
        "transactional.id",
        "the module's producers are idempotent, not transactional",
    ),
    (
        "delivery.report.only.error",
        "the module needs every delivery report to move its checkpoints",
    ),
    (
        "dr_msg_cb",
        "the module needs every delivery report to move its checkpoints",
    ),
];

/// Refuses a property the role must own, or a value that would break its guarantee.
pub fn check_user_property(role: Role, property: &str, value: &str) -> Result<(), Error> {
    if property.is_empty() {
        return arg_error("CONFIG property name must not be empty");
    }
    let lowered = property.to_ascii_lowercase();
    let sink_only: &[(&str, &str)] = if role == Role::Sink { &SINK_ONLY } else { &[] };
    let reserved = ANY_ROLE.iter().chain(sink_only).chain(PRODUCING.iter());
    if let Some((name, why)) = reserved.clone().find(|(name, _)| *name == lowered) {
        return arg_error(format!("CONFIG {name} is not allowed: {why}"));
    }
    if matches!(lowered.as_str(), "acks" | "request.required.acks")
        && !matches!(value.trim().to_ascii_lowercase().as_str(), "all" | "-1")
    {
        return arg_error(format!(
            "CONFIG {lowered} must be all (or -1): the module moves checkpoints only past records every in-sync replica holds"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_properties_point_to_the_option() {
        assert!(check_user_property(Role::Sink, "bootstrap.servers", "h:1")
            .unwrap_err()
            .to_string()
            .contains("BROKERS"));
        assert!(check_user_property(Role::Sink, "fetch.min.bytes", "1").is_ok());
        assert!(
            check_user_property(Role::Sink, "auto.offset.reset", "latest")
                .unwrap_err()
                .to_string()
                .contains("START")
        );
        assert!(check_user_property(Role::Source, "group.id", "g").is_ok());
    }

    #[test]
    fn producing_roles_keep_acknowledged_delivery() {
        for role in [Role::Sink, Role::Source] {
            for (property, value) in [
                ("enable.idempotence", "false"),
                ("Enable.Idempotence", "true"),
                ("acks", "0"),
                ("acks", "1"),
                ("request.required.acks", "1"),
                ("transactional.id", "t"),
                ("delivery.report.only.error", "true"),
            ] {
                assert!(
                    check_user_property(role, property, value).is_err(),
                    "{role:?} {property} {value}"
                );
            }
            assert!(check_user_property(role, "acks", "all").is_ok());
            assert!(check_user_property(role, "acks", "-1").is_ok());
            assert!(check_user_property(role, "compression.type", "lz4").is_ok());
        }
    }
}
