//! The validated, Redis-free definition of one source bridge (Redis → Kafka: stream entries,
//! key changes or published messages).

use crate::error::Error;
use crate::spec::options::OnError;
use crate::spec::source_template::SourceTemplate;

/// Where a source begins on a stream for which Redis holds no checkpoint yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromPosition {
    /// Only entries added after the source was created: IDs from its creation time on.
    New,
    /// Every entry still in the stream (like `XREAD ... 0-0`).
    Beginning,
    /// Entries with IDs greater than this one (like `XREAD ... <id>`): the ID acts as the
    /// initial checkpoint. Kept as given (`<ms>` or `<ms>-<seq>`); see [`FromPosition::id_parts`].
    Id(String),
}

impl FromPosition {
    /// Parses `NEW`, `BEGINNING` (case-insensitive) or a stream ID `<ms>[-<seq>]`.
    pub fn parse(text: &str) -> Result<FromPosition, Error> {
        match text.to_ascii_uppercase().as_str() {
            "NEW" => Ok(FromPosition::New),
            "BEGINNING" => Ok(FromPosition::Beginning),
            _ if parse_stream_id(text).is_some() => Ok(FromPosition::Id(text.to_string())),
            _ => Err(Error::Arg(format!(
                "FROM must be NEW, BEGINNING or a stream ID <ms>-<seq>, got '{text}'"
            ))),
        }
    }

    /// The text that gives this position back to `FROM` (and shows it in LIST and STATUS).
    pub fn describe(&self) -> &str {
        match self {
            FromPosition::New => "NEW",
            FromPosition::Beginning => "BEGINNING",
            FromPosition::Id(id) => id,
        }
    }

    #[cfg(test)]
    /// The ID as `(ms, seq)`, with `<ms>` alone meaning `<ms>-0`.
    pub fn id_parts(&self) -> Option<(u64, u64)> {
        match self {
            FromPosition::Id(id) => parse_stream_id(id),
            _ => None,
        }
    }
}

/// Parses a complete or incomplete Redis stream ID: `<ms>-<seq>` or `<ms>`, both unsigned
/// 64-bit decimal numbers (digits only: no sign, no spaces).
pub fn parse_stream_id(text: &str) -> Option<(u64, u64)> {
    let number = |part: &str| {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse::<u64>().ok()
    };
    match text.split_once('-') {
        Some((ms, seq)) => Some((number(ms)?, number(seq)?)),
        None => Some((number(text)?, 0)),
    }
}

/// What a source forwards, chosen by the option that names its glob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// `STREAMS <glob>`: each new entry of the matching streams.
    Streams,
    /// `KEYS <glob>`: the current value of each matching key after it changed (change-data
    /// capture); `snapshot` sends every matching key once when the source is created.
    Keys { snapshot: bool },
    /// `CHANNELS <pattern>`: each message published on a matching channel.
    Channels,
}

impl Feed {
    /// The CREATE option that selects this feed (and shows the glob in LIST).
    pub fn option(self) -> &'static str {
        match self {
            Feed::Streams => "STREAMS",
            Feed::Keys { .. } => "KEYS",
            Feed::Channels => "CHANNELS",
        }
    }
}

/// One source as created by `KAFKA.SOURCE.CREATE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    pub name: String,
    pub feed: Feed,
    /// Redis glob selecting the streams, keys or channels (validated by
    /// `glob::validate_glob`).
    pub glob: String,
    /// Topic template; the rendered text goes through `kafka_topic_name`.
    pub topic: SourceTemplate,
    /// Kafka message key template.
    pub key: SourceTemplate,
    pub from: FromPosition,
    /// `host:port[,...]`; `None` means the module config `kafka.brokers`.
    pub brokers: Option<String>,
    /// Partitions and replication factor of topics the source creates.
    pub partitions: i32,
    pub replication: i32,
    /// Creation time (ms since the epoch), set by KAFKA.SOURCE.CREATE: `FROM NEW` starts at
    /// stream IDs from this millisecond on.
    pub created_ms: u64,
    /// What to do with an entry that cannot be mapped or that Kafka rejects for good.
    pub on_error: OnError,
    /// Free-form librdkafka properties passed to the producer.
    pub config: Vec<(String, String)>,
}

impl SourceSpec {
    /// The first ID to forward on a stream without a checkpoint, and whether it is included.
    pub fn start(&self) -> (String, bool) {
        match &self.from {
            FromPosition::New => (format!("{}-0", self.created_ms), true),
            FromPosition::Beginning => ("0-0".to_string(), true),
            FromPosition::Id(id) => (id.clone(), false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_and_describe() {
        assert_eq!(FromPosition::parse("new").unwrap(), FromPosition::New);
        assert_eq!(
            FromPosition::parse("Beginning").unwrap(),
            FromPosition::Beginning
        );
        assert_eq!(FromPosition::New.describe(), "NEW");
        assert_eq!(FromPosition::Beginning.describe(), "BEGINNING");
        let id = FromPosition::parse("1700000000000-5").unwrap();
        assert_eq!(id.describe(), "1700000000000-5");
        assert_eq!(id.id_parts(), Some((1_700_000_000_000, 5)));
        let ms = FromPosition::parse("42").unwrap();
        assert_eq!(ms, FromPosition::Id("42".into()));
        assert_eq!(ms.id_parts(), Some((42, 0)));
        assert_eq!(FromPosition::New.id_parts(), None);
        let max = format!("{}-{}", u64::MAX, u64::MAX);
        assert_eq!(
            FromPosition::parse(&max).unwrap().id_parts(),
            Some((u64::MAX, u64::MAX))
        );
    }

    #[test]
    fn bad_ids_are_rejected() {
        let too_big = format!("{}0", u64::MAX);
        for bad in [
            "", "-", "1-", "-1", "1-2-3", "+1", "1-+2", " 1", "1 ", "a-1", "1.5", "$", "*",
            &too_big,
        ] {
            let err = FromPosition::parse(bad).unwrap_err();
            assert!(
                err.contains("FROM must be NEW, BEGINNING or a stream ID"),
                "{bad}: {err}"
            );
            assert!(err.contains(&format!("'{bad}'")), "{err}");
        }
    }
}
