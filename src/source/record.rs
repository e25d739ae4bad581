//! Pure mapping from one Redis stream entry to the Kafka record a source produces.

use crate::error::Error;
use crate::spec::source_template::{kafka_topic_name, SourceTemplate};
use std::borrow::Cow;
use std::collections::HashMap;

/// Header carrying the name of the stream the entry came from.
pub const STREAM_HEADER: &str = "redis.stream";
/// Header carrying the entry ID (`<ms>-<seq>`).
pub const ID_HEADER: &str = "redis.id";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutRecord {
    pub topic: String,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub headers: Vec<(&'static str, Vec<u8>)>,
}

/// Maps one stream entry to a Kafka record:
///
/// - topic: the rendered topic template passed through [`kafka_topic_name`];
/// - key: the rendered key template, bytes as they are;
/// - value: the entry's fields as a JSON object (see [`entry_json`]);
/// - headers: [`STREAM_HEADER`] = the stream name, [`ID_HEADER`] = the entry ID.
///
/// Fails only when a template names a field the entry does not have; the error names it.
pub fn map_entry(
    spec_topic: &SourceTemplate,
    spec_key: &SourceTemplate,
    stream: &[u8],
    id: &[u8],
    fields: &[(Vec<u8>, Vec<u8>)],
) -> Result<OutRecord, Error> {
    let mut record = EntryRecord::default();
    record.map(spec_topic, spec_key, stream, id, fields)?;
    Ok(OutRecord {
        topic: record.topic,
        key: record.key,
        value: record.value,
        headers: vec![(STREAM_HEADER, stream.to_vec()), (ID_HEADER, id.to_vec())],
    })
}

/// One source's record buffers, reused from entry to entry: the hot path allocates nothing for
/// the value, and renders a topic or key whose template reads only `${stream}` once per stream.
#[derive(Default)]
pub struct EntryRecord {
    pub topic: String,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    /// The stream `topic` and `key` were rendered for, when their templates are per stream.
    topic_of: Option<Vec<u8>>,
    key_of: Option<Vec<u8>>,
    scratch: Vec<u8>,
}

impl EntryRecord {
    /// Maps one stream entry as [`map_entry`] does, into these buffers; the headers are the
    /// stream and the ID themselves. On an error the buffers hold nothing meaningful.
    pub fn map(
        &mut self,
        spec_topic: &SourceTemplate,
        spec_key: &SourceTemplate,
        stream: &[u8],
        id: &[u8],
        fields: &[(Vec<u8>, Vec<u8>)],
    ) -> Result<(), Error> {
        if !rendered_for(&self.topic_of, spec_topic, stream) {
            self.topic_of = None;
            spec_topic.render_into(stream, id, fields, &mut self.scratch)?;
            self.topic = kafka_topic_name(&self.scratch);
            self.topic_of = spec_topic.per_stream().then(|| stream.to_vec());
        }
        if !rendered_for(&self.key_of, spec_key, stream) {
            self.key_of = None;
            spec_key.render_into(stream, id, fields, &mut self.key)?;
            self.key_of = spec_key.per_stream().then(|| stream.to_vec());
        }
        entry_json_into(fields, &mut self.value)
    }

    /// Drops buffers one large entry grew, so it does not pin that memory for the whole run.
    /// (A topic name is at most 249 characters.)
    pub fn release_large(&mut self) {
        if self.key.capacity() > KEPT_RECORD_BYTES {
            self.key = Vec::new();
            self.key_of = None;
        }
        for buffer in [&mut self.value, &mut self.scratch] {
            if buffer.capacity() > KEPT_RECORD_BYTES {
                *buffer = Vec::new();
            }
        }
    }
}

/// A record buffer grown past this by one large entry is dropped after it is sent, not kept.
const KEPT_RECORD_BYTES: usize = 64 * 1024;

fn rendered_for(of: &Option<Vec<u8>>, template: &SourceTemplate, stream: &[u8]) -> bool {
    template.per_stream() && of.as_deref() == Some(stream)
}

/// The entry's fields as one compact JSON object whose names and values are all JSON strings,
/// in the entry's field order: `{"name":"ann","age":"31"}`.
///
/// - Redis stores bytes, JSON needs text: names and values that are not valid UTF-8 are
///   converted lossily (each invalid sequence becomes U+FFFD), so such bytes do not survive
///   the trip; binary payloads should be encoded (e.g. base64) before XADD.
/// - Redis allows a field name to repeat within one entry; JSON objects should not. The last
///   value wins and the field keeps the position of its first occurrence (as when assigning the
///   pairs in order to a JSON object). Names are compared after the lossy conversion, so the
///   object never carries a duplicate name.
pub fn entry_json(fields: &[(Vec<u8>, Vec<u8>)]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    entry_json_into(fields, &mut out)?;
    Ok(out)
}

/// [`entry_json`] into `out`, cleared first.
pub fn entry_json_into(fields: &[(Vec<u8>, Vec<u8>)], out: &mut Vec<u8>) -> Result<(), Error> {
    out.clear();
    let size: usize = fields.iter().map(|(n, v)| n.len() + v.len() + 6).sum();
    out.reserve(size + 2);
    out.push(b'{');
    if fields.len() <= FEW_FIELDS {
        // Few fields: comparing names pairwise allocates nothing (valid UTF-8 is borrowed).
        for (i, (name, _)) in fields.iter().enumerate() {
            let name = String::from_utf8_lossy(name);
            let same = |(other, _): &(Vec<u8>, Vec<u8>)| String::from_utf8_lossy(other) == name;
            if fields[..i].iter().any(same) {
                continue;
            }
            let winner = fields[i..].iter().rposition(same).map_or(i, |k| i + k);
            push_field(out, &name, &fields[winner].1)?;
        }
    } else {
        let names: Vec<Cow<'_, str>> = fields
            .iter()
            .map(|(name, _)| String::from_utf8_lossy(name))
            .collect();
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            last.insert(name.as_ref(), i);
        }
        for name in &names {
            // Emitted once, at the first occurrence, with the value of the last one.
            let Some(winner) = last.remove(name.as_ref()) else {
                continue;
            };
            push_field(out, name, &fields[winner].1)?;
        }
    }
    out.push(b'}');
    Ok(())
}

/// Entries with at most this many fields find repeated names without a hash map.
const FEW_FIELDS: usize = 16;

fn push_field(out: &mut Vec<u8>, name: &str, value: &[u8]) -> Result<(), Error> {
    if out.len() > 1 {
        out.push(b',');
    }
    write_json_string(out, name)?;
    out.push(b':');
    write_json_string(out, &String::from_utf8_lossy(value))
}

fn write_json_string(out: &mut Vec<u8>, text: &str) -> Result<(), Error> {
    serde_json::to_writer(out, text)
        .map_err(|e| Error::Record(format!("cannot encode JSON string: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn t(text: &str) -> SourceTemplate {
        SourceTemplate::parse(text).unwrap()
    }

    fn fields(pairs: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        pairs
            .iter()
            .map(|(f, v)| (f.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    fn json_of(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn default_mapping() {
        let f = fields(&[("name", "ann"), ("age", "31")]);
        let r = map_entry(&t("${stream}"), &t("${stream}"), b"orders", b"1700-0", &f).unwrap();
        assert_eq!(r.topic, "orders");
        assert_eq!(r.key, b"orders");
        assert_eq!(r.value, br#"{"name":"ann","age":"31"}"#);
        assert_eq!(json_of(&r.value), json!({"name": "ann", "age": "31"}));
        assert_eq!(
            r.headers,
            vec![
                ("redis.stream", b"orders".to_vec()),
                ("redis.id", b"1700-0".to_vec())
            ]
        );
    }

    #[test]
    fn values_are_strings_and_escaped() {
        let f = fields(&[
            ("n", "42"),
            ("q", "say \"hi\"\n\tand \\ go"),
            ("u", "caf\u{e9} \u{1f600}"),
            ("ctl", "\u{1}"),
            ("", "empty name"),
            ("e", ""),
        ]);
        let v = json_of(&entry_json(&f).unwrap());
        assert_eq!(
            v,
            json!({
                "n": "42",
                "q": "say \"hi\"\n\tand \\ go",
                "u": "caf\u{e9} \u{1f600}",
                "ctl": "\u{1}",
                "": "empty name",
                "e": ""
            })
        );
    }

    #[test]
    fn many_fields_take_the_hash_map_and_give_the_same_object() {
        let mut pairs: Vec<(String, String)> = (0..40)
            .map(|i| (format!("f{}", i % 25), format!("v{i}")))
            .collect();
        pairs.push(("\u{fffd}".into(), "lossy twin".into()));
        let mut f: Vec<(Vec<u8>, Vec<u8>)> = pairs
            .iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        f.push((b"\xff".to_vec(), b"last".to_vec()));
        let many = entry_json(&f).unwrap();
        // The same rule, field by field: first position, last value.
        let mut expected = String::from("{");
        let mut seen = Vec::new();
        for (i, (name, _)) in f.iter().enumerate() {
            let name = String::from_utf8_lossy(name).to_string();
            if seen.contains(&name) {
                continue;
            }
            seen.push(name.clone());
            let winner = f
                .iter()
                .rposition(|(n, _)| String::from_utf8_lossy(n) == name)
                .unwrap_or(i);
            if expected.len() > 1 {
                expected.push(',');
            }
            expected.push_str(&serde_json::to_string(&name).unwrap());
            expected.push(':');
            let value = String::from_utf8_lossy(&f[winner].1).to_string();
            expected.push_str(&serde_json::to_string(&value).unwrap());
        }
        expected.push('}');
        assert_eq!(String::from_utf8(many).unwrap(), expected);
        // And a few fields (the pairwise path) agree with it on a prefix.
        let few = entry_json(&f[..6]).unwrap();
        assert_eq!(
            json_of(&few),
            json_of(br#"{"f0":"v0","f1":"v1","f2":"v2","f3":"v3","f4":"v4","f5":"v5"}"#)
        );
    }

    #[test]
    fn empty_entry_is_an_empty_object() {
        assert_eq!(entry_json(&[]).unwrap(), b"{}");
    }

    #[test]
    fn repeated_field_last_value_wins_at_first_position() {
        let f = fields(&[("a", "1"), ("b", "2"), ("a", "3")]);
        assert_eq!(entry_json(&f).unwrap(), br#"{"a":"3","b":"2"}"#);
    }

    #[test]
    fn non_utf8_is_converted_lossily_and_never_duplicates_names() {
        let f = vec![
            (b"bin".to_vec(), b"a\xffb".to_vec()),
            (b"\xfe".to_vec(), b"x".to_vec()),
            (b"\xff".to_vec(), b"y".to_vec()),
        ];
        let bytes = entry_json(&f).unwrap();
        assert_eq!(
            json_of(&bytes),
            json!({"bin": "a\u{fffd}b", "\u{fffd}": "y"})
        );
        assert_eq!(
            String::from_utf8(bytes)
                .unwrap()
                .matches('\u{fffd}')
                .count(),
            2
        );
    }

    #[test]
    fn topic_is_sanitized() {
        let f = fields(&[("region", "eu/west")]);
        let r = map_entry(&t("${stream}"), &t("${stream}"), b"orders:1", b"1-1", &f).unwrap();
        assert_eq!(r.topic, "orders_1");
        assert_eq!(r.key, b"orders:1", "the key keeps the stream name as it is");
        let r = map_entry(&t("o.${field.region}"), &t("k"), b"s", b"1-1", &f).unwrap();
        assert_eq!(r.topic, "o.eu_west");
    }

    #[test]
    fn key_from_fields_and_id() {
        let f = fields(&[("customer", "c-9"), ("x", "1")]);
        let r = map_entry(&t("${stream}"), &t("${field.customer}"), b"s", b"5-2", &f).unwrap();
        assert_eq!(r.key, b"c-9");
        let r = map_entry(&t("${stream}"), &t("${stream}@${id}"), b"s", b"5-2", &f).unwrap();
        assert_eq!(r.key, b"s@5-2");
    }

    #[test]
    fn missing_field_is_an_error_naming_it() {
        let f = fields(&[("a", "1")]);
        let err =
            map_entry(&t("${stream}"), &t("${field.customer}"), b"s", b"5-2", &f).unwrap_err();
        assert!(err.contains("no field 'customer'"), "{err}");
        let err = map_entry(&t("${field.region}"), &t("k"), b"s", b"5-2", &f).unwrap_err();
        assert!(err.contains("no field 'region'"), "{err}");
    }

    #[test]
    fn reused_buffers_give_what_map_entry_gives_entry_after_entry() {
        // Streams alternate, templates of every kind, an entry that fails in between: each
        // mapping must equal a fresh map_entry, so no stream's topic or key leaks to the next.
        let templates = [
            "${stream}",
            "lit",
            "t.${stream}.x",
            "${field.region}",
            "${stream}@${id}",
            "${stream}/${field.region}",
        ];
        let entries = [
            (
                &b"orders:1"[..],
                &b"1-1"[..],
                fields(&[("region", "eu"), ("n", "1")]),
            ),
            (b"orders:1", b"1-2", fields(&[("region", "us"), ("n", "2")])),
            (b"orders:2", b"1-3", fields(&[("n", "3")])),
            (
                b"\xff\x00",
                b"1-4",
                fields(&[("region", "a b"), ("region", "z")]),
            ),
            (b"orders:1", b"1-5", fields(&[("region", "eu"), ("n", "5")])),
            (b"orders:2", b"1-6", fields(&[("region", "x/y")])),
        ];
        for topic in templates {
            for key in templates {
                let (topic, key) = (t(topic), t(key));
                let mut record = EntryRecord::default();
                for (stream, id, f) in &entries {
                    let expected = map_entry(&topic, &key, stream, id, f);
                    let got = record.map(&topic, &key, stream, id, f);
                    match expected {
                        Ok(expected) => {
                            assert!(got.is_ok(), "{got:?}");
                            assert_eq!(record.topic, expected.topic);
                            assert_eq!(record.key, expected.key);
                            assert_eq!(record.value, expected.value);
                        }
                        Err(expected) => assert_eq!(got.unwrap_err(), expected),
                    }
                }
            }
        }
    }

    #[test]
    fn a_large_entry_does_not_pin_its_buffers() {
        let mut record = EntryRecord::default();
        let big = fields(&[("k", &"x".repeat(1 << 20)), ("v", &"\u{1}".repeat(1 << 18))]);
        let key = t("${field.k}");
        record
            .map(&t("${stream}"), &key, b"s", b"1-1", &big)
            .unwrap();
        assert!(record.value.capacity() > KEPT_RECORD_BYTES);
        record.release_large();
        assert_eq!((record.key.capacity(), record.value.capacity()), (0, 0));
        // The next entry maps as if nothing had been kept.
        let small = fields(&[("k", "a"), ("v", "b")]);
        record
            .map(&t("${stream}"), &key, b"s", b"1-2", &small)
            .unwrap();
        let expected = map_entry(&t("${stream}"), &key, b"s", b"1-2", &small).unwrap();
        assert_eq!(
            (record.key.clone(), record.value.clone()),
            (expected.key, expected.value)
        );
        assert_eq!(record.topic, expected.topic);
    }
}
