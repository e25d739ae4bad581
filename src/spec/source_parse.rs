//! Parses `KAFKA.SOURCE.CREATE` arguments into a [`SourceSpec`]:
//!
//! ```text
//! KAFKA.SOURCE.CREATE <name> STREAMS <glob> | KEYS <glob> [SNAPSHOT YES|NO] | CHANNELS <pattern>
//!     [BROKERS <host:port>[,...]] [TOPIC <template>]
//!     [KEY <template>] [FROM NEW|BEGINNING|<id>] [PARTITIONS <n>] [REPLICATION <n>]
//!     [ON-ERROR FAIL|SKIP|DLQ <topic>] [CONFIG <librdkafka-property> <value>]...
//! ```
//!
//! KEY and FROM belong to STREAMS sources. A KEYS source's Kafka key is always the Redis key
//! (so a compacted topic keeps each key's latest value), and its TOPIC is one topic name: a
//! deleted key's tombstone must reach the topic that holds its value. CHANNELS sources forward
//! what is published while they run, so FROM means nothing to them, and their templates know
//! only `${channel}`.

use crate::error::{arg_error, Error};
use crate::spec::args::{check_kafka_name, set_once, Args};
use crate::spec::client_config::Role;
use crate::spec::glob::validate_glob;
use crate::spec::options::{parse_brokers, parse_config_pair, parse_on_error, OnError};
use crate::spec::source::{Feed, FromPosition, SourceSpec};
use crate::spec::source_template::SourceTemplate;

pub const DEFAULT_TOPIC: &str = "${stream}";
pub const DEFAULT_KEY: &str = "${stream}";
/// TOPIC and KEY of a CHANNELS source.
pub const DEFAULT_CHANNEL_TEMPLATE: &str = "${channel}";

#[derive(Default)]
struct Options {
    feed: Option<(Feed, String)>,
    snapshot: Option<bool>,
    brokers: Option<String>,
    topic: Option<SourceTemplate>,
    key: Option<SourceTemplate>,
    from: Option<FromPosition>,
    partitions: Option<i32>,
    replication: Option<i32>,
    on_error: Option<OnError>,
    config: Vec<(String, String)>,
}

pub fn parse_source_create(mut args: Args) -> Result<SourceSpec, Error> {
    let name = args.next_str("source name")?;
    check_kafka_name("source name", &name, 200)?;
    let mut o = Options::default();
    while let Some(option) = args.next_keyword() {
        parse_option(&option, &mut args, &mut o)?;
    }
    let Some((feed, glob)) = o.feed.take() else {
        return arg_error("missing STREAMS <glob> or KEYS <glob> or CHANNELS <pattern>");
    };
    let feed = match feed {
        Feed::Keys { .. } => {
            check_keys_options(&o)?;
            Feed::Keys {
                snapshot: o.snapshot.unwrap_or(true),
            }
        }
        _ if o.snapshot.is_some() => return arg_error("SNAPSHOT belongs to KEYS sources"),
        Feed::Channels => {
            check_channels_options(&o)?;
            Feed::Channels
        }
        Feed::Streams => {
            check_streams_options(&o)?;
            Feed::Streams
        }
    };
    let or_default = |given: Option<SourceTemplate>, option: &str, default: &str| match given {
        Some(t) => Ok(t),
        None => template(option, default),
    };
    let (default_topic, default_key) = match feed {
        Feed::Keys { .. } => (name.as_str(), DEFAULT_KEY),
        Feed::Channels => (DEFAULT_CHANNEL_TEMPLATE, DEFAULT_CHANNEL_TEMPLATE),
        Feed::Streams => (DEFAULT_TOPIC, DEFAULT_KEY),
    };
    Ok(SourceSpec {
        topic: or_default(o.topic, "TOPIC", default_topic)?,
        name,
        feed,
        glob,
        key: or_default(o.key, "KEY", default_key)?,
        from: o.from.unwrap_or(FromPosition::New),
        brokers: o.brokers,
        partitions: o.partitions.unwrap_or(1),
        replication: o.replication.unwrap_or(1),
        created_ms: 0,
        on_error: o.on_error.unwrap_or(OnError::Fail),
        config: o.config,
    })
}

fn parse_option(option: &str, args: &mut Args, o: &mut Options) -> Result<(), Error> {
    let value_for = |args: &mut Args| args.next_str(&format!("value for {option}"));
    match option {
        "STREAMS" | "KEYS" | "CHANNELS" => {
            let glob = value_for(args)?;
            validate_glob(&glob).map_err(|e| Error::Arg(format!("{option}: {e}")))?;
            if let Some((given, _)) = o.feed {
                if given.option() == option {
                    return arg_error(format!("option {option} given twice"));
                }
                return arg_error(format!(
                    "{option} and {} cannot be given together (one feed per source)",
                    given.option()
                ));
            }
            let feed = match option {
                "STREAMS" => Feed::Streams,
                "CHANNELS" => Feed::Channels,
                _ => Feed::Keys { snapshot: true },
            };
            o.feed = Some((feed, glob));
            Ok(())
        }
        "SNAPSHOT" => {
            let text = value_for(args)?;
            let snapshot = match text.to_ascii_uppercase().as_str() {
                "YES" => true,
                "NO" => false,
                _ => return arg_error(format!("SNAPSHOT must be YES or NO, got '{text}'")),
            };
            set_once(&mut o.snapshot, snapshot, option)
        }
        "BROKERS" => set_once(&mut o.brokers, parse_brokers(&value_for(args)?)?, option),
        "TOPIC" => set_once(&mut o.topic, template(option, &value_for(args)?)?, option),
        "KEY" => set_once(&mut o.key, template(option, &value_for(args)?)?, option),
        "FROM" => {
            let from = FromPosition::parse(&value_for(args)?)?;
            set_once(&mut o.from, from, option)
        }
        "PARTITIONS" | "REPLICATION" => {
            let text = value_for(args)?;
            let n = text
                .parse::<i32>()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| {
                    Error::Arg(format!(
                        "{option} must be a number from 1 to 10000, got '{text}'"
                    ))
                })?;
            let slot = if option == "PARTITIONS" {
                &mut o.partitions
            } else {
                &mut o.replication
            };
            set_once(slot, n, option)
        }
        "ON-ERROR" => set_once(&mut o.on_error, parse_on_error(args)?, option),
        "CONFIG" => {
            o.config.push(parse_config_pair(Role::Source, args)?);
            Ok(())
        }
        other => arg_error(format!("unknown option '{other}'")),
    }
}

fn check_streams_options(o: &Options) -> Result<(), Error> {
    // One topic per entry would flood the cluster with topics; almost surely a typo for KEY.
    if o.topic.as_ref().is_some_and(SourceTemplate::uses_id) {
        return arg_error(
            "TOPIC must not use ${id} (it would create one topic per entry; use it in KEY)",
        );
    }
    for (option, given) in [("TOPIC", &o.topic), ("KEY", &o.key)] {
        if given.as_ref().is_some_and(SourceTemplate::uses_channel) {
            return arg_error(format!(
                "{option}: ${{channel}} belongs to CHANNELS sources (use ${{stream}}, ${{id}} or ${{field.<name>}})"
            ));
        }
    }
    Ok(())
}

/// A CHANNELS source sees a message and the channel it was published on, nothing more, and
/// only while it is subscribed.
fn check_channels_options(o: &Options) -> Result<(), Error> {
    if o.from.is_some() {
        return arg_error(
            "FROM does not apply to CHANNELS sources: they forward the messages published while they are subscribed",
        );
    }
    for (option, given) in [("TOPIC", &o.topic), ("KEY", &o.key)] {
        if given.as_ref().is_some_and(SourceTemplate::uses_entry) {
            return arg_error(format!(
                "{option} of a CHANNELS source may use only ${{channel}} (a published message has no stream, ID or fields)"
            ));
        }
    }
    Ok(())
}

/// KEYS sources key every record by its Redis key and write one topic (see the module doc).
fn check_keys_options(o: &Options) -> Result<(), Error> {
    if o.key.is_some() {
        return arg_error(
            "KEY does not apply to KEYS sources: the Kafka key is always the Redis key",
        );
    }
    if o.from.is_some() {
        return arg_error("FROM does not apply to KEYS sources (use SNAPSHOT YES|NO)");
    }
    if o.topic.as_ref().is_some_and(|t| !t.is_literal()) {
        return arg_error(
            "TOPIC of a KEYS source must be one topic name without placeholders: \
             a deleted key's tombstone must reach the topic that holds its value",
        );
    }
    Ok(())
}

fn template(option: &str, text: &str) -> Result<SourceTemplate, Error> {
    SourceTemplate::parse(text).map_err(|e| Error::Arg(format!("{option}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<SourceSpec, Error> {
        let items = line
            .split_whitespace()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        parse_source_create(Args::new(items))
    }

    #[test]
    fn defaults() {
        let spec = parse("orders STREAMS orders:*").unwrap();
        assert_eq!(spec.name, "orders");
        assert_eq!(spec.glob, "orders:*");
        assert_eq!(spec.topic.source(), "${stream}");
        assert_eq!(spec.key.source(), "${stream}");
        assert_eq!(spec.from, FromPosition::New);
        assert!(spec.brokers.is_none());
        assert!(spec.config.is_empty());
    }

    #[test]
    fn all_options_in_any_order_and_case() {
        let spec = parse(
            "orders config compression.codec lz4 from beginning key ${field.customer} \
             topic orders-${field.region} brokers h1:9092,h2:9093 streams o:[a-z]* \
             CONFIG linger.ms 5",
        )
        .unwrap();
        assert_eq!(spec.glob, "o:[a-z]*");
        assert_eq!(spec.brokers.as_deref(), Some("h1:9092,h2:9093"));
        assert_eq!(spec.topic.source(), "orders-${field.region}");
        assert_eq!(spec.key.source(), "${field.customer}");
        assert_eq!(spec.from, FromPosition::Beginning);
        assert_eq!(
            spec.config,
            vec![
                ("compression.codec".to_string(), "lz4".to_string()),
                ("linger.ms".to_string(), "5".to_string())
            ]
        );
    }

    #[test]
    fn keys_sources_default_to_a_snapshot_into_a_topic_named_after_them() {
        let spec = parse("users KEYS user:*").unwrap();
        assert_eq!(spec.feed, Feed::Keys { snapshot: true });
        assert_eq!(spec.glob, "user:*");
        assert_eq!(spec.topic.source(), "users");
        let spec = parse("users keys user:* snapshot no topic cdc.users").unwrap();
        assert_eq!(spec.feed, Feed::Keys { snapshot: false });
        assert_eq!(spec.topic.source(), "cdc.users");
        assert_eq!(parse("s STREAMS x").unwrap().feed, Feed::Streams);
    }

    #[test]
    fn channels_sources_default_to_the_channel_for_topic_and_key() {
        let spec = parse("news CHANNELS news.*").unwrap();
        assert_eq!(spec.feed, Feed::Channels);
        assert_eq!(spec.glob, "news.*");
        assert_eq!(spec.topic.source(), "${channel}");
        assert_eq!(spec.key.source(), "${channel}");
        let spec =
            parse("n channels n:[ab]? topic all-news key k-${channel} on-error skip").unwrap();
        assert_eq!(spec.topic.source(), "all-news");
        assert_eq!(spec.key.source(), "k-${channel}");
        assert_eq!(spec.on_error, OnError::Skip);
    }

    #[test]
    fn from_accepts_stream_ids() {
        let spec = parse("s STREAMS x FROM 1700000000000-3").unwrap();
        assert_eq!(spec.from, FromPosition::Id("1700000000000-3".into()));
        let spec = parse("s STREAMS x FROM 0").unwrap();
        assert_eq!(spec.from.id_parts(), Some((0, 0)));
        assert_eq!(
            parse("s FROM new STREAMS x").unwrap().from,
            FromPosition::New
        );
    }

    #[test]
    fn key_may_use_id_and_fields() {
        let spec = parse("s STREAMS x KEY ${stream}/${id}/${field.a.b}").unwrap();
        assert!(spec.key.uses_id() && spec.key.uses_fields());
    }

    #[test]
    fn errors_name_the_problem() {
        let long_name = format!("{} STREAMS x", "n".repeat(201));
        let cases = [
            ("", "missing source name"),
            (
                "s",
                "missing STREAMS <glob> or KEYS <glob> or CHANNELS <pattern>",
            ),
            (
                "s CHANNELS a STREAMS b",
                "STREAMS and CHANNELS cannot be given together",
            ),
            ("s CHANNELS a CHANNELS b", "option CHANNELS given twice"),
            ("s CHANNELS a[", "CHANNELS: unterminated '['"),
            (
                "s CHANNELS a FROM NEW",
                "FROM does not apply to CHANNELS sources",
            ),
            (
                "s CHANNELS a SNAPSHOT NO",
                "SNAPSHOT belongs to KEYS sources",
            ),
            (
                "s CHANNELS a TOPIC t-${stream}",
                "TOPIC of a CHANNELS source may use only ${channel}",
            ),
            (
                "s CHANNELS a KEY ${id}",
                "KEY of a CHANNELS source may use only ${channel}",
            ),
            (
                "s CHANNELS a KEY ${field.x}",
                "KEY of a CHANNELS source may use only ${channel}",
            ),
            (
                "s CHANNELS a TOPIC ${id}",
                "TOPIC of a CHANNELS source may use only ${channel}",
            ),
            (
                "s CHANNELS a TOPIC ${chan}",
                "TOPIC: unknown placeholder '${chan}'",
            ),
            (
                "s STREAMS a KEY ${channel}",
                "KEY: ${channel} belongs to CHANNELS sources",
            ),
            (
                "s STREAMS a TOPIC x${channel}",
                "TOPIC: ${channel} belongs to CHANNELS sources",
            ),
            (
                "s KEYS a TOPIC ${channel}",
                "TOPIC of a KEYS source must be one topic",
            ),
            ("s TOPIC t", "missing STREAMS <glob>"),
            (
                "s STREAMS a KEYS b",
                "KEYS and STREAMS cannot be given together",
            ),
            ("s KEYS a KEYS b", "option KEYS given twice"),
            ("s KEYS a[", "KEYS: unterminated '['"),
            (
                "s KEYS a KEY ${stream}",
                "KEY does not apply to KEYS sources",
            ),
            ("s KEYS a FROM NEW", "FROM does not apply to KEYS sources"),
            (
                "s KEYS a TOPIC t-${stream}",
                "TOPIC of a KEYS source must be one topic",
            ),
            (
                "s KEYS a SNAPSHOT maybe",
                "SNAPSHOT must be YES or NO, got 'maybe'",
            ),
            (
                "s KEYS a SNAPSHOT NO SNAPSHOT NO",
                "option SNAPSHOT given twice",
            ),
            (
                "s STREAMS a SNAPSHOT NO",
                "SNAPSHOT belongs to KEYS sources",
            ),
            ("s STREAMS", "missing value for STREAMS"),
            ("s STREAMS x[ab", "STREAMS: unterminated '['"),
            ("s STREAMS a STREAMS b", "option STREAMS given twice"),
            ("s STREAMS x COLOR red", "unknown option 'COLOR'"),
            (
                "s STREAMS x BROKERS nohost",
                "broker 'nohost' is not host:port",
            ),
            ("s STREAMS x BROKERS h:0", "not host:port"),
            (
                "s STREAMS x BROKERS ,",
                "BROKERS needs at least one host:port",
            ),
            (
                "s STREAMS x BROKERS h:1 BROKERS h:2",
                "option BROKERS given twice",
            ),
            ("s STREAMS x TOPIC", "missing value for TOPIC"),
            (
                "s STREAMS x TOPIC ${topic}",
                "TOPIC: unknown placeholder '${topic}'",
            ),
            ("s STREAMS x TOPIC t-${stream", "TOPIC: unterminated '${'"),
            ("s STREAMS x TOPIC ${id}", "TOPIC must not use ${id}"),
            ("s STREAMS x TOPIC a TOPIC b", "option TOPIC given twice"),
            ("s STREAMS x KEY ${field.}", "KEY: empty field name"),
            (
                "s STREAMS x KEY ${key}",
                "KEY: unknown placeholder '${key}'",
            ),
            ("s STREAMS x KEY a KEY b", "option KEY given twice"),
            ("s STREAMS x FROM", "missing value for FROM"),
            (
                "s STREAMS x FROM LATEST",
                "FROM must be NEW, BEGINNING or a stream ID",
            ),
            ("s STREAMS x FROM 1-x", "got '1-x'"),
            ("s STREAMS x FROM NEW FROM 0", "option FROM given twice"),
            ("s STREAMS x CONFIG", "missing property name for CONFIG"),
            (
                "s STREAMS x CONFIG linger.ms",
                "missing value for CONFIG linger.ms",
            ),
            ("s STREAMS x CONFIG bootstrap.servers h:1", "use BROKERS"),
            ("bad:name STREAMS x", "source name 'bad:name' contains ':'"),
            ("..", "source name '..' is not allowed"),
            (long_name.as_str(), "source name must be 1 to 200"),
        ];
        for (line, expected) in cases {
            let err = parse(line).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "'{line}': got '{err}', want '{expected}'"
            );
        }
    }

    #[test]
    fn non_utf8_arguments_are_rejected_by_name() {
        let items = vec![b"s".to_vec(), b"STREAMS".to_vec(), b"\xff".to_vec()];
        let err = parse_source_create(Args::new(items))
            .unwrap_err()
            .to_string();
        assert!(err.contains("value for STREAMS must be UTF-8"), "{err}");
    }
}
