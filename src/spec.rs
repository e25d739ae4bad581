//! Validated, Redis-free descriptions of bridges, produced by the command parsers.

use crate::template::Template;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkType {
    String,
    Hash,
    Json,
    Stream,
}

impl SinkType {
    pub fn parse(word: &str) -> Option<SinkType> {
        Some(match word.to_ascii_uppercase().as_str() {
            "STRING" => SinkType::String,
            "HASH" => SinkType::Hash,
            "JSON" => SinkType::Json,
            "STREAM" => SinkType::Stream,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SinkType::String => "STRING",
            SinkType::Hash => "HASH",
            SinkType::Json => "JSON",
            SinkType::Stream => "STREAM",
        }
    }

    pub fn default_key_template(self) -> &'static str {
        match self {
            SinkType::Stream => "${topic}",
            _ => "${topic}:${key}",
        }
    }
}

/// Where a sink starts reading a partition for which Redis holds no offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartFrom {
    Earliest,
    Latest,
}

impl StartFrom {
    pub fn name(self) -> &'static str {
        match self {
            StartFrom::Earliest => "EARLIEST",
            StartFrom::Latest => "LATEST",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SinkSpec {
    pub name: String,
    pub topics: Vec<String>,
    /// `None` means the module default (`kafka.brokers`, else the embedded broker).
    pub brokers: Option<String>,
    pub group: String,
    pub start: StartFrom,
    pub sink_type: SinkType,
    pub key: Template,
    /// Free-form librdkafka properties, passed to the consumer as given.
    pub config: Vec<(String, String)>,
}
