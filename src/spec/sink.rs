//! Validated, Redis-free descriptions of bridges, produced by the command parsers.

use crate::spec::fields::Projection;
use crate::spec::options::OnError;
use crate::spec::template::Template;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkType {
    String,
    Hash,
    Json,
    Stream,
    List,
    Set,
    Zset,
    Timeseries,
    /// PUBLISH each record's value on a channel: writes no key.
    Publish,
}

impl SinkType {
    pub const ALL: [SinkType; 9] = [
        SinkType::String,
        SinkType::Hash,
        SinkType::Json,
        SinkType::Stream,
        SinkType::List,
        SinkType::Set,
        SinkType::Zset,
        SinkType::Timeseries,
        SinkType::Publish,
    ];

    pub fn parse(word: &str) -> Option<SinkType> {
        let upper = word.to_ascii_uppercase();
        SinkType::ALL.into_iter().find(|t| t.name() == upper)
    }

    pub fn name(self) -> &'static str {
        match self {
            SinkType::String => "STRING",
            SinkType::Hash => "HASH",
            SinkType::Json => "JSON",
            SinkType::Stream => "STREAM",
            SinkType::List => "LIST",
            SinkType::Set => "SET",
            SinkType::Zset => "ZSET",
            SinkType::Timeseries => "TIMESERIES",
            SinkType::Publish => "PUBLISH",
        }
    }

    /// Types whose records add members to one collection key rather than owning a key each.
    pub fn has_members(self) -> bool {
        matches!(self, SinkType::List | SinkType::Set | SinkType::Zset)
    }

    /// Whether records become key writes (KEY, TTL apply); PUBLISH sends them on a channel.
    pub fn writes_keys(self) -> bool {
        self != SinkType::Publish
    }

    pub fn default_key_template(self) -> &'static str {
        match self {
            SinkType::String | SinkType::Hash | SinkType::Json => "${topic}:${key}",
            _ => "${topic}",
        }
    }

    /// The command a module must provide for this type, if it is not built into Redis.
    pub fn module_command(self) -> Option<(&'static str, &'static str)> {
        match self {
            SinkType::Json => Some(("JSON.SET", "RedisJSON (rejson.so)")),
            SinkType::Timeseries => Some(("TS.ADD", "RedisTimeSeries (redistimeseries.so)")),
            _ => None,
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

/// The longest TTL a sink or a record may ask for: 100 years. Far larger values overflow
/// Redis's expiry arithmetic, and EXPIRE then refuses a key that was already written.
pub const MAX_TTL_SECONDS: u64 = 100 * 365 * 24 * 3600;

/// The topics a sink reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    Topics(Vec<String>),
    /// A regular expression matched against topic names (librdkafka's `^` subscription).
    Pattern(String),
}

impl Subscription {
    /// The strings handed to librdkafka's subscribe.
    pub fn subscribe_list(&self) -> Vec<String> {
        match self {
            Subscription::Topics(topics) => topics.clone(),
            Subscription::Pattern(regex) if regex.starts_with('^') => vec![regex.clone()],
            Subscription::Pattern(regex) => vec![format!("^{regex}")],
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Subscription::Topics(topics) => topics.join(","),
            Subscription::Pattern(regex) => format!("PATTERN {regex}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SinkSpec {
    pub name: String,
    pub subscription: Subscription,
    /// `None` means the module default (`kafka.brokers`, else the embedded broker).
    pub brokers: Option<String>,
    pub group: String,
    pub start: StartFrom,
    pub sink_type: SinkType,
    /// Unused by PUBLISH, which writes no key.
    pub key: Template,
    /// PUBLISH: the channel each record's value is published on.
    pub channel: Template,
    /// LIST/SET/ZSET member.
    pub member: Template,
    /// ZSET score.
    pub score: Template,
    /// LIST: push to the head instead of the tail.
    pub push_left: bool,
    /// Seconds; the `redis.ttl` header overrides it per record.
    pub ttl: Option<u64>,
    pub on_error: OnError,
    /// HASH: replace the whole hash instead of merging fields; JSON: JSON.MERGE instead of
    /// JSON.SET (`UPDATE REPLACE|MERGE`, `UPDATE SET|MERGE`).
    pub update: Update,
    /// STREAM: how each XADD trims the stream (`MAXLEN`/`MINID`).
    pub trim: Option<StreamTrim>,
    /// TIMESERIES: what TS.ADD does with a sample at a timestamp the series already holds.
    pub on_duplicate: Duplicate,
    /// HASH, JSON, STREAM: the selected and renamed fields of the value (`FIELDS`).
    pub fields: Option<Projection>,
    /// Consumer threads sharing the partitions.
    pub tasks: usize,
    /// Free-form librdkafka properties, passed to the consumer as given.
    pub config: Vec<(String, String)>,
}

/// How a record updates a HASH or JSON key that exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Update {
    /// The type's default: HASH merges fields (HSET), JSON sets the document (JSON.SET).
    #[default]
    Default,
    /// HASH: the hash holds exactly the record's fields afterwards.
    Replace,
    /// JSON: JSON.MERGE (RFC 7396) into the document.
    Merge,
}

impl Update {
    /// The word LIST shows for a sink of `sink_type`.
    pub fn describe(self, sink_type: SinkType) -> &'static str {
        match (self, sink_type) {
            (Update::Replace, _) => "REPLACE",
            (Update::Merge, _) | (Update::Default, SinkType::Hash) => "MERGE",
            (Update::Default, _) => "SET",
        }
    }
}

/// TIMESERIES: TS.ADD's `ON_DUPLICATE` policy for a sample whose timestamp the series already
/// holds. Records produced in a burst often share a millisecond, so the default keeps the
/// newest (LAST) rather than RedisTimeSeries' own default (BLOCK, which refuses the record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Duplicate {
    Block,
    First,
    #[default]
    Last,
    Min,
    Max,
    Sum,
}

impl Duplicate {
    pub const ALL: [Duplicate; 6] = [
        Duplicate::Block,
        Duplicate::First,
        Duplicate::Last,
        Duplicate::Min,
        Duplicate::Max,
        Duplicate::Sum,
    ];

    pub fn parse(word: &str) -> Option<Duplicate> {
        let upper = word.to_ascii_uppercase();
        Duplicate::ALL.into_iter().find(|d| d.name() == upper)
    }

    /// The policy's name, as TS.ADD and LIST spell it.
    pub fn name(self) -> &'static str {
        match self {
            Duplicate::Block => "BLOCK",
            Duplicate::First => "FIRST",
            Duplicate::Last => "LAST",
            Duplicate::Min => "MIN",
            Duplicate::Max => "MAX",
            Duplicate::Sum => "SUM",
        }
    }
}

/// What a STREAM sink's XADD keeps: at most so many entries, or entries from an ID on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrimBy {
    MaxLen(u64),
    /// Rendered per record; the result must be a stream ID.
    MinId(Template),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamTrim {
    pub by: TrimBy,
    /// `~`: Redis trims whole nodes only, which is much cheaper and keeps a few more entries.
    pub approximate: bool,
}

impl StreamTrim {
    /// The option as given at CREATE (for LIST).
    pub fn describe(&self) -> String {
        let mark = if self.approximate { " ~" } else { "" };
        match &self.by {
            TrimBy::MaxLen(n) => format!("MAXLEN{mark} {n}"),
            TrimBy::MinId(template) => format!("MINID{mark} {}", template.source()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_subscription_is_anchored_once() {
        assert_eq!(
            Subscription::Pattern("orders-.*".into()).subscribe_list(),
            ["^orders-.*"]
        );
        assert_eq!(
            Subscription::Pattern("^a.*".into()).subscribe_list(),
            ["^a.*"]
        );
    }

    #[test]
    fn duplicate_policies_round_trip() {
        for d in Duplicate::ALL {
            assert_eq!(Duplicate::parse(&d.name().to_lowercase()), Some(d));
        }
        assert_eq!(Duplicate::parse("LATEST"), None);
    }

    #[test]
    fn type_names_round_trip() {
        for t in SinkType::ALL {
            assert_eq!(SinkType::parse(&t.name().to_lowercase()), Some(t));
        }
    }
}
