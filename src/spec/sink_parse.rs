//! Parses `KAFKA.SINK.CREATE` arguments into a [`SinkSpec`].

use crate::error::{arg_error, Error};
use crate::spec::args::{check_kafka_name, set_once, Args};
use crate::spec::client_config::Role;
use crate::spec::fields::Projection;
use crate::spec::options::{parse_brokers, parse_config_pair, parse_list, parse_on_error, OnError};
use crate::spec::sink::MAX_TTL_SECONDS;
use crate::spec::sink::{
    Duplicate, SinkSpec, SinkType, StartFrom, StreamTrim, Subscription, TrimBy, Update,
};
use crate::spec::template::Template;

pub const MAX_TASKS: usize = 64;

#[derive(Default)]
struct Options {
    subscription: Option<Subscription>,
    brokers: Option<String>,
    group: Option<String>,
    start: Option<StartFrom>,
    sink_type: Option<SinkType>,
    key: Option<Template>,
    channel: Option<Template>,
    member: Option<Template>,
    score: Option<Template>,
    push_left: Option<bool>,
    ttl: Option<u64>,
    on_error: Option<OnError>,
    tasks: Option<usize>,
    trim: Option<StreamTrim>,
    fields: Option<Projection>,
    /// The word given to UPDATE, checked against TYPE once both are known.
    update: Option<String>,
    on_duplicate: Option<Duplicate>,
    config: Vec<(String, String)>,
}

pub fn parse_sink_create(mut args: Args) -> Result<SinkSpec, Error> {
    let name = args.next_str("sink name")?;
    check_kafka_name("sink name", &name, 200)?;
    let mut o = Options::default();
    while let Some(option) = args.next_keyword() {
        parse_option(&option, &mut args, &mut o)?;
    }
    let sink_type = o.sink_type.unwrap_or(SinkType::String);
    check_type_options(sink_type, &o)?;
    let Some(subscription) = o.subscription else {
        return arg_error("missing TOPICS <topic>[,<topic>...] or PATTERN <regex>");
    };
    let template = |given: Option<Template>, default: &str| match given {
        Some(t) => Ok(t),
        None => Template::parse(default).map_err(|e| Error::Arg(e.to_string())),
    };
    Ok(SinkSpec {
        group: o.group.unwrap_or_else(|| format!("redis-kafka-{name}")),
        name,
        subscription,
        brokers: o.brokers,
        start: o.start.unwrap_or(StartFrom::Earliest),
        sink_type,
        key: template(o.key, sink_type.default_key_template())?,
        channel: template(o.channel, "${topic}")?,
        member: template(o.member, "${key}")?,
        score: template(o.score, "${value}")?,
        push_left: o.push_left.unwrap_or(false),
        ttl: o.ttl,
        on_error: o.on_error.unwrap_or(OnError::Fail),
        tasks: o.tasks.unwrap_or(1),
        update: update_mode(sink_type, o.update.as_deref())?,
        trim: o.trim,
        on_duplicate: o.on_duplicate.unwrap_or_default(),
        fields: o.fields,
        config: o.config,
    })
}

fn parse_option(option: &str, args: &mut Args, o: &mut Options) -> Result<(), Error> {
    let value_for = |args: &mut Args| args.next_str(&format!("value for {option}"));
    match option {
        "TOPICS" => {
            let topics = parse_list(&value_for(args)?);
            for topic in &topics {
                check_kafka_name("topic", topic, 249)?;
            }
            if topics.is_empty() {
                return arg_error("TOPICS needs at least one topic");
            }
            set_subscription(o, Subscription::Topics(topics))
        }
        "PATTERN" => {
            let regex = value_for(args)?;
            if regex.is_empty() || regex == "^" {
                return arg_error("PATTERN must not be empty");
            }
            set_subscription(o, Subscription::Pattern(regex))
        }
        "BROKERS" => set_once(&mut o.brokers, parse_brokers(&value_for(args)?)?, option),
        "GROUP" => {
            let id = value_for(args)?;
            if id.is_empty() {
                return arg_error("GROUP must not be empty");
            }
            set_once(&mut o.group, id, option)
        }
        "START" => {
            let word = value_for(args)?;
            let from = match word.to_ascii_uppercase().as_str() {
                "EARLIEST" => StartFrom::Earliest,
                "LATEST" => StartFrom::Latest,
                _ => return arg_error(format!("START must be EARLIEST or LATEST, got '{word}'")),
            };
            set_once(&mut o.start, from, option)
        }
        "TYPE" => {
            let word = value_for(args)?;
            let parsed = SinkType::parse(&word).ok_or_else(|| {
                let names: Vec<&str> = SinkType::ALL.iter().map(|t| t.name()).collect();
                Error::Arg(format!(
                    "unknown TYPE '{word}' (expected {})",
                    names.join(", ")
                ))
            })?;
            set_once(&mut o.sink_type, parsed, option)
        }
        "KEY" => set_once(&mut o.key, template(option, &value_for(args)?)?, option),
        "UPDATE" => set_once(&mut o.update, value_for(args)?.to_ascii_uppercase(), option),
        "MAXLEN" | "MINID" => {
            let mut value = value_for(args)?;
            let approximate = value == "~";
            if approximate || value == "=" {
                value = value_for(args)?;
            }
            let by = if option == "MAXLEN" {
                let n = value.parse::<u64>().ok().filter(|n| *n <= i64::MAX as u64);
                match n {
                    Some(n) => TrimBy::MaxLen(n),
                    None => {
                        return arg_error(format!(
                            "MAXLEN must be a whole number of entries, got '{value}'"
                        ))
                    }
                }
            } else {
                TrimBy::MinId(template(option, &value)?)
            };
            if let Some(given) = &o.trim {
                let given = given.describe();
                return arg_error(format!(
                    "{option} cannot be given with {given} (XADD trims one way)"
                ));
            }
            o.trim = Some(StreamTrim { by, approximate });
            Ok(())
        }
        "FIELDS" => {
            // `FIELDS "user.id AS uid,page"` or, unquoted, `FIELDS user.id AS uid,page`.
            let mut text = value_for(args)?;
            while args.take_if("AS") {
                text.push_str(" AS ");
                text.push_str(&args.next_str("name after AS in FIELDS")?);
            }
            set_once(&mut o.fields, Projection::parse(&text)?, option)
        }
        "CHANNEL" => set_once(&mut o.channel, template(option, &value_for(args)?)?, option),
        "MEMBER" => set_once(&mut o.member, template(option, &value_for(args)?)?, option),
        "SCORE" => set_once(&mut o.score, template(option, &value_for(args)?)?, option),
        "PUSH" => {
            let word = value_for(args)?;
            let left = match word.to_ascii_uppercase().as_str() {
                "RIGHT" => false,
                "LEFT" => true,
                _ => return arg_error(format!("PUSH must be RIGHT or LEFT, got '{word}'")),
            };
            set_once(&mut o.push_left, left, option)
        }
        "TTL" => {
            let text = value_for(args)?;
            let seconds = text
                .parse::<u64>()
                .ok()
                .filter(|s| (1..=MAX_TTL_SECONDS).contains(s))
                .ok_or_else(|| {
                    Error::Arg(format!(
                        "TTL must be a whole number of seconds > 0 and at most {MAX_TTL_SECONDS}, got '{text}'"
                    ))
                })?;
            set_once(&mut o.ttl, seconds, option)
        }
        "ON-ERROR" => set_once(&mut o.on_error, parse_on_error(args)?, option),
        "ON-DUPLICATE" => {
            let word = value_for(args)?;
            let policy = Duplicate::parse(&word).ok_or_else(|| {
                Error::Arg(format!(
                    "ON-DUPLICATE must be BLOCK, FIRST, LAST, MIN, MAX or SUM, got '{word}'"
                ))
            })?;
            set_once(&mut o.on_duplicate, policy, option)
        }
        "TASKS" => {
            let text = value_for(args)?;
            let tasks = text
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_TASKS).contains(n))
                .ok_or_else(|| {
                    Error::Arg(format!(
                        "TASKS must be a number from 1 to {MAX_TASKS}, got '{text}'"
                    ))
                })?;
            set_once(&mut o.tasks, tasks, option)
        }
        "CONFIG" => {
            o.config.push(parse_config_pair(Role::Sink, args)?);
            Ok(())
        }
        other => arg_error(format!("unknown option '{other}'")),
    }
}

fn set_subscription(o: &mut Options, subscription: Subscription) -> Result<(), Error> {
    if o.subscription.is_some() {
        return arg_error("give TOPICS or PATTERN once, not both");
    }
    o.subscription = Some(subscription);
    Ok(())
}

fn template(option: &str, text: &str) -> Result<Template, Error> {
    Template::parse(text).map_err(|e| Error::Arg(format!("{option}: {e}")))
}

/// Options that only make sense for some types are rejected elsewhere, so typos surface.
/// `UPDATE REPLACE|MERGE` for HASH (default MERGE), `UPDATE SET|MERGE` for JSON (default SET).
fn update_mode(sink_type: SinkType, given: Option<&str>) -> Result<Update, Error> {
    let Some(word) = given else {
        return Ok(Update::Default);
    };
    match (sink_type, word) {
        (SinkType::Hash, "MERGE") | (SinkType::Json, "SET") => Ok(Update::Default),
        (SinkType::Hash, "REPLACE") => Ok(Update::Replace),
        (SinkType::Json, "MERGE") => Ok(Update::Merge),
        (SinkType::Hash, _) => arg_error(format!(
            "UPDATE for TYPE HASH must be REPLACE or MERGE, got '{word}'"
        )),
        (SinkType::Json, _) => arg_error(format!(
            "UPDATE for TYPE JSON must be SET or MERGE, got '{word}'"
        )),
        (other, _) => arg_error(format!(
            "UPDATE applies to TYPE HASH or JSON, not {}",
            other.name()
        )),
    }
}

fn check_type_options(sink_type: SinkType, o: &Options) -> Result<(), Error> {
    let name = sink_type.name();
    if !sink_type.writes_keys() {
        let given = [("KEY", o.key.is_some()), ("TTL", o.ttl.is_some())];
        if let Some((option, _)) = given.into_iter().find(|(_, given)| *given) {
            return arg_error(format!(
                "{option} does not apply to TYPE {name}, which writes no key (its records go to CHANNEL <template>)"
            ));
        }
    }
    if o.channel.is_some() && sink_type != SinkType::Publish {
        return arg_error(format!("CHANNEL applies to TYPE PUBLISH, not {name}"));
    }
    if o.member.is_some() && !sink_type.has_members() {
        return arg_error(format!(
            "MEMBER applies to TYPE LIST, SET or ZSET, not {name}"
        ));
    }
    if o.score.is_some() && sink_type != SinkType::Zset {
        return arg_error(format!("SCORE applies to TYPE ZSET, not {name}"));
    }
    if o.push_left.is_some() && sink_type != SinkType::List {
        return arg_error(format!("PUSH applies to TYPE LIST, not {name}"));
    }
    if let Some(projection) = &o.fields {
        match sink_type {
            SinkType::Hash | SinkType::Stream => {}
            SinkType::Json => projection.check_json_names()?,
            _ => {
                return arg_error(format!(
                    "FIELDS applies to TYPE HASH, JSON or STREAM, not {name}"
                ))
            }
        }
    }
    if o.on_duplicate.is_some() && sink_type != SinkType::Timeseries {
        return arg_error(format!(
            "ON-DUPLICATE applies to TYPE TIMESERIES, not {name}"
        ));
    }
    if let (Some(trim), false) = (&o.trim, sink_type == SinkType::Stream) {
        let option = trim.describe();
        return arg_error(format!("{option} applies to TYPE STREAM, not {name}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<SinkSpec, Error> {
        let items = line
            .split_whitespace()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        parse_sink_create(Args::new(items))
    }

    #[test]
    fn on_duplicate_is_for_timeseries_and_defaults_to_last() {
        assert_eq!(
            parse("s TOPICS t TYPE TIMESERIES").unwrap().on_duplicate,
            Duplicate::Last
        );
        assert_eq!(
            parse("s TOPICS t TYPE TIMESERIES ON-DUPLICATE sum")
                .unwrap()
                .on_duplicate,
            Duplicate::Sum
        );
        let err = parse("s TOPICS t TYPE TIMESERIES ON-DUPLICATE NEWEST").unwrap_err();
        assert!(
            err.to_string()
                .contains("ON-DUPLICATE must be BLOCK, FIRST, LAST, MIN, MAX or SUM, got 'NEWEST'"),
            "{err}"
        );
        let err = parse("s TOPICS t TYPE HASH ON-DUPLICATE LAST").unwrap_err();
        assert!(
            err.to_string()
                .contains("ON-DUPLICATE applies to TYPE TIMESERIES, not HASH"),
            "{err}"
        );
        let err = parse("s TOPICS t ON-DUPLICATE LAST").unwrap_err();
        assert!(err.to_string().contains("not STRING"), "{err}");
        let err =
            parse("s TOPICS t TYPE TIMESERIES ON-DUPLICATE MIN ON-DUPLICATE MAX").unwrap_err();
        assert!(err.to_string().contains("ON-DUPLICATE"), "{err}");
    }

    #[test]
    fn update_modes_follow_the_type() {
        assert_eq!(
            parse("s TOPICS t TYPE HASH").unwrap().update,
            Update::Default
        );
        assert_eq!(
            parse("s TOPICS t TYPE HASH UPDATE replace").unwrap().update,
            Update::Replace
        );
        assert_eq!(
            parse("s TOPICS t TYPE HASH UPDATE MERGE").unwrap().update,
            Update::Default
        );
        assert_eq!(
            parse("s TOPICS t TYPE JSON UPDATE MERGE").unwrap().update,
            Update::Merge
        );
        for (line, want) in [
            (
                "s TOPICS t TYPE HASH UPDATE SET",
                "UPDATE for TYPE HASH must be REPLACE or MERGE, got 'SET'",
            ),
            (
                "s TOPICS t TYPE JSON UPDATE REPLACE",
                "UPDATE for TYPE JSON must be SET or MERGE",
            ),
            (
                "s TOPICS t UPDATE MERGE",
                "UPDATE applies to TYPE HASH or JSON, not STRING",
            ),
            ("s TOPICS t TYPE HASH UPDATE", "missing value for UPDATE"),
            (
                "s TOPICS t TYPE HASH UPDATE MERGE UPDATE MERGE",
                "option UPDATE given twice",
            ),
        ] {
            let err = parse(line).unwrap_err().to_string();
            assert!(err.contains(want), "{line}: {err}");
        }
    }

    #[test]
    fn stream_trimming_parses_and_is_refused_elsewhere() {
        let spec = parse("s TOPICS t TYPE STREAM MAXLEN ~ 1000").unwrap();
        assert_eq!(spec.trim.as_ref().unwrap().describe(), "MAXLEN ~ 1000");
        let spec = parse("s TOPICS t TYPE STREAM MAXLEN 5").unwrap();
        assert_eq!(
            spec.trim,
            Some(StreamTrim {
                by: TrimBy::MaxLen(5),
                approximate: false
            })
        );
        let spec = parse("s TOPICS t TYPE STREAM MINID ${value.since}").unwrap();
        assert_eq!(spec.trim.unwrap().describe(), "MINID ${value.since}");
        for (line, want) in [
            (
                "s TOPICS t TYPE HASH MAXLEN 5",
                "MAXLEN 5 applies to TYPE STREAM, not HASH",
            ),
            (
                "s TOPICS t MINID 0",
                "MINID 0 applies to TYPE STREAM, not STRING",
            ),
            (
                "s TOPICS t TYPE STREAM MAXLEN -1",
                "MAXLEN must be a whole number",
            ),
            (
                "s TOPICS t TYPE STREAM MAXLEN ~",
                "missing value for MAXLEN",
            ),
            (
                "s TOPICS t TYPE STREAM MAXLEN 1 MINID 0",
                "MINID cannot be given with MAXLEN 1",
            ),
            (
                "s TOPICS t TYPE STREAM MINID ${nope}",
                "MINID: unknown placeholder",
            ),
        ] {
            let err = parse(line).unwrap_err().to_string();
            assert!(err.contains(want), "{line}: {err}");
        }
    }

    #[test]
    fn fields_take_one_argument_or_words_around_as() {
        let spec = parse("s TOPICS t TYPE HASH FIELDS user.id AS uid,page TTL 5").unwrap();
        let projection = spec.fields.unwrap();
        assert_eq!(projection.source(), "user.id AS uid,page");
        assert_eq!(projection.fields.len(), 2);
        assert_eq!(spec.ttl, Some(5));
        let spec = parse("s TOPICS t TYPE STREAM FIELDS a as b,c? AS d,e").unwrap();
        let names: Vec<&str> = spec
            .fields
            .as_ref()
            .unwrap()
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(names, ["b", "d", "e"]);
        for (line, want) in [
            (
                "s TOPICS t FIELDS a",
                "FIELDS applies to TYPE HASH, JSON or STREAM, not STRING",
            ),
            (
                "s TOPICS t TYPE ZSET FIELDS a",
                "FIELDS applies to TYPE HASH, JSON or STREAM, not ZSET",
            ),
            ("s TOPICS t TYPE HASH FIELDS", "missing value for FIELDS"),
            ("s TOPICS t TYPE HASH FIELDS a AS", "missing name after AS"),
            ("s TOPICS t TYPE HASH FIELDS a,,b", "empty field in FIELDS"),
            (
                "s TOPICS t TYPE HASH FIELDS a FIELDS b",
                "FIELDS given twice",
            ),
            (
                "s TOPICS t TYPE JSON FIELDS a,b AS a.c",
                "FIELDS names 'a' and 'a.c' overlap",
            ),
        ] {
            let err = parse(line).unwrap_err().to_string();
            assert!(err.contains(want), "{line}: {err}");
        }
    }

    #[test]
    fn defaults() {
        let spec = parse("pv TOPICS pageviews").unwrap();
        assert_eq!(spec.name, "pv");
        assert_eq!(
            spec.subscription,
            Subscription::Topics(vec!["pageviews".into()])
        );
        assert_eq!(spec.group, "redis-kafka-pv");
        assert_eq!(spec.start, StartFrom::Earliest);
        assert_eq!(spec.sink_type, SinkType::String);
        assert_eq!(spec.key.source(), "${topic}:${key}");
        assert_eq!(spec.member.source(), "${key}");
        assert_eq!(spec.score.source(), "${value}");
        assert_eq!(spec.on_error, OnError::Fail);
        assert_eq!(spec.tasks, 1);
        assert!(spec.brokers.is_none() && spec.ttl.is_none() && !spec.push_left);
    }

    #[test]
    fn all_options_in_any_order_and_case() {
        let spec = parse(
            "pv type json key pv:${key} topics a,b brokers h1:9092,h2:9093 group g start latest \
             config fetch.min.bytes 1 CONFIG client.id me ttl 60 on-error dlq dead tasks 3",
        )
        .unwrap();
        assert_eq!(
            spec.subscription,
            Subscription::Topics(vec!["a".into(), "b".into()])
        );
        assert_eq!(spec.brokers.as_deref(), Some("h1:9092,h2:9093"));
        assert_eq!(spec.group, "g");
        assert_eq!(spec.start, StartFrom::Latest);
        assert_eq!(spec.sink_type, SinkType::Json);
        assert_eq!(spec.key.source(), "pv:${key}");
        assert_eq!(spec.config.len(), 2);
        assert_eq!(spec.ttl, Some(60));
        assert_eq!(spec.on_error, OnError::Dlq("dead".into()));
        assert_eq!(spec.tasks, 3);
    }

    #[test]
    fn collection_types_default_to_topic_key_and_take_member_options() {
        for t in ["STREAM", "LIST", "SET", "ZSET", "TIMESERIES"] {
            assert_eq!(
                parse(&format!("s TOPICS t TYPE {t}")).unwrap().key.source(),
                "${topic}"
            );
        }
        let spec =
            parse("s TOPICS t TYPE ZSET MEMBER ${value.user} SCORE ${value.points}").unwrap();
        assert_eq!(spec.member.source(), "${value.user}");
        assert_eq!(spec.score.source(), "${value.points}");
        assert!(parse("s TOPICS t TYPE LIST PUSH LEFT").unwrap().push_left);
    }

    #[test]
    fn publish_takes_a_channel_template_defaulting_to_the_topic() {
        let spec = parse("s TOPICS t TYPE publish").unwrap();
        assert_eq!(spec.sink_type, SinkType::Publish);
        assert_eq!(spec.channel.source(), "${topic}");
        let spec =
            parse("s CHANNEL ev:${key}:${value.kind} TOPICS t TYPE PUBLISH ON-ERROR SKIP").unwrap();
        assert_eq!(spec.channel.source(), "ev:${key}:${value.kind}");
        assert_eq!(spec.on_error, OnError::Skip);
    }

    #[test]
    fn publish_refuses_key_options_and_other_types_refuse_channel() {
        let cases = [
            ("TYPE PUBLISH KEY k", "KEY does not apply to TYPE PUBLISH"),
            ("TYPE PUBLISH TTL 5", "TTL does not apply to TYPE PUBLISH"),
            (
                "TYPE PUBLISH MEMBER ${key}",
                "MEMBER applies to TYPE LIST, SET or ZSET, not PUBLISH",
            ),
            (
                "TYPE PUBLISH SCORE ${value}",
                "SCORE applies to TYPE ZSET, not PUBLISH",
            ),
            (
                "TYPE PUBLISH PUSH LEFT",
                "PUSH applies to TYPE LIST, not PUBLISH",
            ),
            ("CHANNEL c", "CHANNEL applies to TYPE PUBLISH, not STRING"),
            (
                "TYPE STREAM CHANNEL c",
                "CHANNEL applies to TYPE PUBLISH, not STREAM",
            ),
            (
                "TYPE PUBLISH CHANNEL ${nope}",
                "CHANNEL: unknown placeholder",
            ),
            ("TYPE PUBLISH CHANNEL a CHANNEL b", "CHANNEL given twice"),
        ];
        for (options, expected) in cases {
            let err = parse(&format!("s TOPICS t {options}"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(expected),
                "'{options}': got '{err}', want '{expected}'"
            );
        }
    }

    #[test]
    fn pattern_subscription() {
        let spec = parse("s PATTERN orders-.*").unwrap();
        assert_eq!(spec.subscription, Subscription::Pattern("orders-.*".into()));
    }

    #[test]
    fn errors_name_the_problem() {
        let cases = [
            ("", "missing sink name"),
            ("pv", "missing TOPICS"),
            ("pv TOPICS", "missing value for TOPICS"),
            ("pv TOPICS t TYPE BLOB", "unknown TYPE 'BLOB'"),
            ("pv TOPICS t COLOR red", "unknown option 'COLOR'"),
            ("pv TOPICS t START NOW", "START must be EARLIEST or LATEST"),
            ("pv TOPICS t BROKERS nohost", "not host:port"),
            ("pv TOPICS t BROKERS h:-1", "not host:port"),
            ("pv TOPICS t KEY ${nope}", "unknown placeholder"),
            ("pv TOPICS t TYPE HASH TYPE JSON", "TYPE given twice"),
            ("pv TOPICS bad/topic", "contains '/'"),
            ("bad:name TOPICS t", "sink name 'bad:name'"),
            ("pv TOPICS t CONFIG group.id x", "use GROUP"),
            (
                "pv TOPICS t CONFIG fetch.min.bytes",
                "missing value for CONFIG fetch.min.bytes",
            ),
            ("pv TOPICS t PATTERN x.*", "TOPICS or PATTERN once"),
            (
                "pv TOPICS t SCORE ${value}",
                "SCORE applies to TYPE ZSET, not STRING",
            ),
            (
                "pv TOPICS t TYPE SET SCORE ${value}",
                "SCORE applies to TYPE ZSET, not SET",
            ),
            (
                "pv TOPICS t MEMBER ${key}",
                "MEMBER applies to TYPE LIST, SET or ZSET",
            ),
            (
                "pv TOPICS t TYPE SET PUSH LEFT",
                "PUSH applies to TYPE LIST",
            ),
            (
                "pv TOPICS t TYPE LIST PUSH UP",
                "PUSH must be RIGHT or LEFT",
            ),
            (
                "pv TOPICS t TYPE ZSET SCORE ${value.",
                "SCORE: unterminated",
            ),
            (
                "pv TOPICS t TTL -5",
                "TTL must be a whole number of seconds > 0",
            ),
            (
                "pv TOPICS t TTL 0",
                "TTL must be a whole number of seconds > 0",
            ),
            ("pv TOPICS t TTL soon", "TTL must be a whole number"),
            ("pv TOPICS t ON-ERROR DLQ", "missing topic for ON-ERROR DLQ"),
            (
                "pv TOPICS t ON-ERROR IGNORE",
                "ON-ERROR must be FAIL, SKIP or DLQ",
            ),
            ("pv TOPICS t TASKS 0", "TASKS must be a number from 1 to 64"),
            ("pv TOPICS t TASKS many", "TASKS must be a number"),
        ];
        for (line, expected) in cases {
            let err = parse(line).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "'{line}': got '{err}', want '{expected}'"
            );
        }
    }
}
