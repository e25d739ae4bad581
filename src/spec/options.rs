//! Options KAFKA.SINK.CREATE and KAFKA.SOURCE.CREATE share: BROKERS, ON-ERROR and CONFIG.

use crate::error::{arg_error, Error};
use crate::spec::args::{check_kafka_name, Args};
use crate::spec::client_config::{check_user_property, Role};

/// What a sink does with a record it cannot apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnError {
    /// Stop in state `failed` before the record; RESUME retries it.
    Fail,
    /// Count it and move on.
    Skip,
    /// Produce it to this topic with the error in headers, then move on.
    Dlq(String),
}

impl OnError {
    pub fn describe(&self) -> String {
        match self {
            OnError::Fail => "FAIL".to_string(),
            OnError::Skip => "SKIP".to_string(),
            OnError::Dlq(topic) => format!("DLQ {topic}"),
        }
    }
}

/// `CONFIG <property> <value>`, checked against what the bridge's role must own.
pub fn parse_config_pair(role: Role, args: &mut Args) -> Result<(String, String), Error> {
    let property = args.next_str("property name for CONFIG")?;
    let value = args.next_str(&format!("value for CONFIG {property}"))?;
    check_user_property(role, &property, &value)?;
    Ok((property, value))
}

/// `ON-ERROR FAIL|SKIP|DLQ <topic>`, the same for sinks and sources.
pub fn parse_on_error(args: &mut Args) -> Result<OnError, Error> {
    let word = args.next_str("value for ON-ERROR")?;
    Ok(match word.to_ascii_uppercase().as_str() {
        "FAIL" => OnError::Fail,
        "SKIP" => OnError::Skip,
        "DLQ" => {
            let topic = args.next_str("topic for ON-ERROR DLQ")?;
            check_kafka_name("DLQ topic", &topic, 249)?;
            OnError::Dlq(topic)
        }
        _ => {
            return arg_error(format!(
                "ON-ERROR must be FAIL, SKIP or DLQ <topic>, got '{word}'"
            ))
        }
    })
}

pub fn parse_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Accepts `host:port[,host:port...]`; the port must be a number so typos fail at CREATE.
pub fn parse_brokers(list: &str) -> Result<String, Error> {
    let brokers = parse_list(list);
    if brokers.is_empty() {
        return arg_error("BROKERS needs at least one host:port");
    }
    for broker in &brokers {
        let port = broker
            .rsplit_once(':')
            .map(|(host, port)| (host, port.parse::<u16>()));
        let printable = |host: &str| host.chars().all(|c| !c.is_control() && !c.is_whitespace());
        match port {
            Some((host, Ok(port))) if !host.is_empty() && printable(host) && port > 0 => {}
            _ => {
                return arg_error(format!(
                    "broker {} is not host:port",
                    crate::runtime::text::quoted(broker.as_bytes())
                ))
            }
        }
    }
    Ok(brokers.join(","))
}
