//! Argument parsers, templates and globs: never panic, and what they accept survives being
//! stored and read back (reconciliation re-parses the stored CREATE arguments).

use super::{check, Gen};
use crate::spec::args::Args;
use crate::spec::glob::{glob_match, validate_glob};
use crate::spec::options::parse_brokers;
use crate::spec::record::{HeaderLookup, Record};
use crate::spec::sink_parse::parse_sink_create;
use crate::spec::source::{Feed, FromPosition};
use crate::spec::source_parse::parse_source_create;
use crate::spec::source_template::{kafka_topic_name, SourceTemplate, MAX_TOPIC_LEN};
use crate::spec::template::{Parsed, Template};

/// A CREATE command: a plausible name and required option often, then random options.
fn create_args(g: &mut Gen, required: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut args = vec![if g.chance(85) {
        b"n1".to_vec()
    } else {
        g.arg()
    }];
    if g.chance(70) {
        args.extend(required.iter().map(|a| a.to_vec()));
    }
    args.extend(g.args(10));
    args
}

/// What a definition stores: the arguments after the name, converted as CREATE converts them.
fn stored(args: &[Vec<u8>]) -> Vec<Vec<u8>> {
    args.iter()
        .map(|a| String::from_utf8_lossy(a).into_owned().into_bytes())
        .collect()
}

#[test]
fn sink_create_never_panics_and_what_it_accepts_reparses_the_same() {
    check("sink create", |g| {
        let args = create_args(g, &[b"TOPICS", b"t"]);
        match parse_sink_create(Args::new(args.clone())) {
            Ok(spec) => {
                let again = parse_sink_create(Args::new(stored(&args)))
                    .expect("stored arguments parse again");
                assert_eq!(format!("{spec:?}"), format!("{again:?}"));
                assert!((1..=64).contains(&spec.tasks));
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    });
}

#[test]
fn source_create_never_panics_and_what_it_accepts_reparses_the_same() {
    check("source create", |g| {
        let args = create_args(g, &[b"STREAMS", b"s:*"]);
        match parse_source_create(Args::new(args.clone())) {
            Ok(spec) => {
                let again = parse_source_create(Args::new(stored(&args)))
                    .expect("stored arguments parse again");
                assert_eq!(spec, again);
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    });
}

#[test]
fn channels_sources_accept_only_channel_templates() {
    check("channels source create", |g| {
        let args = create_args(g, &[b"CHANNELS", b"c:*"]);
        let Ok(spec) = parse_source_create(Args::new(args)) else {
            return;
        };
        if spec.feed != Feed::Channels {
            return;
        }
        assert!(
            !spec.topic.uses_entry() && !spec.key.uses_entry(),
            "{spec:?}"
        );
        let channel = g.bytes(12);
        let mut out = Vec::new();
        spec.key.render_channel_into(&channel, &mut out);
        if spec.key.source() == "${channel}" {
            assert_eq!(out, channel);
        }
        spec.topic.render_channel_into(&channel, &mut out);
        let topic = kafka_topic_name(&out);
        assert!(!topic.is_empty() && topic.chars().count() <= MAX_TOPIC_LEN);
    });
}

#[test]
fn record_templates_parse_and_render_anything_without_panicking() {
    check("record template", |g| {
        let mut source = String::new();
        for _ in 0..g.below(5) {
            source.push_str(&String::from_utf8_lossy(&g.arg()));
        }
        let Ok(template) = Template::parse(&source) else {
            return;
        };
        assert_eq!(template.source(), source);
        let key = g.bytes(8);
        let value = g.json_bytes(3);
        let json: Option<serde_json::Value> = serde_json::from_slice(&value).ok();
        let key_json: Option<serde_json::Value> = serde_json::from_slice(&key).ok();
        let header_value = g.bytes(4);
        let header_name = String::from_utf8_lossy(&g.arg()).into_owned();
        let headers: Vec<(&str, Option<&[u8]>)> = vec![
            (
                header_name.as_str(),
                g.chance(80).then_some(header_value.as_slice()),
            ),
            ("h", None),
        ];
        let record = Record {
            topic: "t",
            partition: g.below(8) as i32,
            offset: g.next() as i64,
            timestamp: g.chance(80).then(|| g.next() as i64),
            key: g.chance(80).then_some(key.as_slice()),
            value: g.chance(80).then_some(value.as_slice()),
            ttl_header: None,
            headers: g.chance(80).then_some(&headers as &dyn HeaderLookup),
        };
        let parsed = Parsed {
            value: json.as_ref(),
            key: key_json.as_ref(),
        };
        let _ = template.render(&record, &parsed);
    });
}

#[test]
fn source_templates_and_topic_names_hold_for_any_entry() {
    check("source template", |g| {
        let source = String::from_utf8_lossy(&g.arg()).into_owned();
        if let Ok(template) = SourceTemplate::parse(&source) {
            let fields: Vec<(Vec<u8>, Vec<u8>)> =
                (0..g.below(4)).map(|_| (g.arg(), g.bytes(8))).collect();
            let rendered = template.render(&g.bytes(10), b"1-1", &fields);
            if let Ok(raw) = rendered {
                let topic = kafka_topic_name(&raw);
                assert!(!topic.is_empty() && topic.chars().count() <= MAX_TOPIC_LEN);
                assert!(topic != "." && topic != "..");
                assert!(topic
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')));
            }
        }
        let _ = FromPosition::parse(&source);
    });
}

#[test]
fn globs_never_panic_and_literals_match_only_themselves() {
    check("glob", |g| {
        let pattern = g.text_bytes(20);
        let subject = g.text_bytes(20);
        let _ = validate_glob(&String::from_utf8_lossy(&pattern));
        let _ = glob_match(&pattern, &subject);
        let literal: Vec<u8> = subject
            .iter()
            .copied()
            .filter(|b| !matches!(b, b'*' | b'?' | b'[' | b']' | b'\\'))
            .collect();
        assert!(glob_match(&literal, &literal));
        let mut other = literal.clone();
        other.push(b'x');
        assert!(!glob_match(&literal, &other));
        assert_eq!(glob_match(b"*", &subject), !subject.is_empty());
    });
}

#[test]
fn broker_lists_parse_to_host_port_pairs_or_a_clear_error() {
    check("brokers", |g| {
        let text = String::from_utf8_lossy(&g.arg()).into_owned();
        match parse_brokers(&text) {
            Ok(list) => {
                for broker in list.split(',') {
                    let (host, port) = broker.rsplit_once(':').expect("host:port");
                    assert!(!host.is_empty());
                    assert!(port.parse::<u16>().is_ok_and(|p| p > 0), "{broker}");
                }
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    });
}
