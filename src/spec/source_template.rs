//! Templates for sources (Redis stream entry → Kafka topic and key), such as `${stream}` or
//! `orders-${field.region}`, parsed once at CREATE time and rendered per entry.
//!
//! Placeholders: `${stream}` (the stream key), `${id}` (the entry ID) and `${field.<name>}`
//! (the value of one field of the entry; everything between `field.` and `}` is the field
//! name, dots included, so a field name cannot contain `}`). CHANNELS sources have only
//! `${channel}` (the channel a message was published on); the parser keeps the two apart.

use crate::error::Error;
use crate::spec::template_syntax::parse_parts;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(Vec<u8>),
    Stream,
    Id,
    Field(Vec<u8>),
    Channel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceTemplate {
    source: String,
    parts: Vec<Part>,
}

impl fmt::Display for SourceTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl SourceTemplate {
    pub fn parse(source: &str) -> Result<SourceTemplate, Error> {
        let parts = parse_parts(source, Part::Literal, |name| {
            Self::placeholder(name, source)
        })?;
        Ok(SourceTemplate {
            source: source.to_string(),
            parts,
        })
    }

    fn placeholder(name: &str, source: &str) -> Result<Part, Error> {
        Ok(match name {
            "stream" => Part::Stream,
            "id" => Part::Id,
            "channel" => Part::Channel,
            _ => match name.strip_prefix("field.") {
                Some("") => {
                    return Err(Error::Arg(format!(
                        "empty field name in '${{field.}}' in template '{source}'"
                    )))
                }
                Some(field) => Part::Field(field.as_bytes().to_vec()),
                None => {
                    return Err(Error::Arg(format!(
                        "unknown placeholder '${{{name}}}' in template '{source}' (use stream, id, field.<name> or channel)"
                    )))
                }
            },
        })
    }

    /// The template text as given at CREATE.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// True when the template has no placeholder: it renders the same text for every entry.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }

    /// True when the template contains `${id}`.
    pub fn uses_id(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Id))
    }

    /// True when the template renders the same text for every entry of one stream (it has no
    /// `${id}` and no `${field.<name>}`).
    pub fn per_stream(&self) -> bool {
        !self
            .parts
            .iter()
            .any(|p| matches!(p, Part::Id | Part::Field(_)))
    }

    /// True when the template contains `${channel}`.
    pub fn uses_channel(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Channel))
    }

    /// True when the template has placeholders of stream entries (`${stream}`, `${id}`,
    /// `${field.<name>}`).
    pub fn uses_entry(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Stream | Part::Id | Part::Field(_)))
    }

    /// Renders for a message published on `channel` into `out` (cleared first). Entry
    /// placeholders, which CHANNELS sources refuse at CREATE, render as nothing.
    pub fn render_channel_into(&self, channel: &[u8], out: &mut Vec<u8>) {
        out.clear();
        for part in &self.parts {
            match part {
                Part::Literal(bytes) => out.extend_from_slice(bytes),
                Part::Channel => out.extend_from_slice(channel),
                Part::Stream | Part::Id | Part::Field(_) => {}
            }
        }
    }

    #[cfg(test)]
    /// True when rendering reads entry fields (`${field.<name>}`).
    pub fn uses_fields(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Field(_)))
    }

    /// Renders into `out` (cleared first) so callers can reuse one buffer per entry. When a
    /// field occurs more than once in the entry, the last occurrence wins (as in the JSON value).
    pub fn render_into(
        &self,
        stream: &[u8],
        id: &[u8],
        fields: &[(Vec<u8>, Vec<u8>)],
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        out.clear();
        for part in &self.parts {
            match part {
                Part::Literal(bytes) => out.extend_from_slice(bytes),
                Part::Stream => out.extend_from_slice(stream),
                Part::Id => out.extend_from_slice(id),
                // Refused in entry templates at CREATE: renders as nothing.
                Part::Channel => {}
                Part::Field(name) => {
                    let value = fields
                        .iter()
                        .rev()
                        .find(|(field, _)| field == name)
                        .map(|(_, value)| value)
                        .ok_or_else(|| {
                            Error::Record(format!(
                                "entry {} of stream '{}' has no field '{}' for template '{}'",
                                String::from_utf8_lossy(id),
                                String::from_utf8_lossy(stream),
                                String::from_utf8_lossy(name),
                                self.source
                            ))
                        })?;
                    out.extend_from_slice(value);
                }
            }
        }
        Ok(())
    }

    #[cfg(test)]
    pub fn render(
        &self,
        stream: &[u8],
        id: &[u8],
        fields: &[(Vec<u8>, Vec<u8>)],
    ) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.render_into(stream, id, fields, &mut out)?;
        Ok(out)
    }
}

/// Kafka's limit on topic name length.
pub const MAX_TOPIC_LEN: usize = 249;

/// Turns a rendered topic template into a topic name Kafka accepts: every character outside
/// `[A-Za-z0-9._-]` becomes `_` (one `_` per character; bytes that are not UTF-8 are decoded
/// lossily first, so each invalid sequence becomes one `_`), the result is cut to 249
/// characters, and the names Kafka forbids outright become underscores: `""` → `_`, `.` → `_`,
/// `..` → `__`.
///
/// Distinct streams can map to one topic (`a:b` and `a/b` both give `a_b`); that is the price
/// of accepting every stream name.
pub fn kafka_topic_name(raw: &[u8]) -> String {
    let mut name: String = String::from_utf8_lossy(raw)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(MAX_TOPIC_LEN)
        .collect();
    match name.as_str() {
        "" | "." => name = "_".to_string(),
        ".." => name = "__".to_string(),
        _ => {}
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        pairs
            .iter()
            .map(|(f, v)| (f.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn renders_every_placeholder() {
        let t = SourceTemplate::parse("${stream}/${id}/${field.region}!").unwrap();
        assert!(t.uses_id() && t.uses_fields());
        let out = t
            .render(b"orders:1", b"1700-0", &fields(&[("region", "eu")]))
            .unwrap();
        assert_eq!(out, b"orders:1/1700-0/eu!");
        assert_eq!(t.source(), "${stream}/${id}/${field.region}!");
        assert_eq!(t.to_string(), t.source());
    }

    #[test]
    fn field_names_may_contain_dots_and_last_occurrence_wins() {
        let t = SourceTemplate::parse("${field.user.id}").unwrap();
        let f = fields(&[("user.id", "1"), ("user", "x"), ("user.id", "2")]);
        assert_eq!(t.render(b"s", b"1-1", &f).unwrap(), b"2");
    }

    #[test]
    fn binary_values_pass_through() {
        let t = SourceTemplate::parse("k:${field.b}").unwrap();
        let f = vec![(b"b".to_vec(), b"\x00\xff".to_vec())];
        assert_eq!(t.render(b"s", b"1-1", &f).unwrap(), b"k:\x00\xff");
    }

    #[test]
    fn literal_only_and_reused_buffer() {
        let t = SourceTemplate::parse("fixed").unwrap();
        assert!(!t.uses_id() && !t.uses_fields());
        let mut out = b"old".to_vec();
        t.render_into(b"s", b"1-1", &[], &mut out).unwrap();
        assert_eq!(out, b"fixed");
    }

    #[test]
    fn channel_templates_render_the_channel_only() {
        let t = SourceTemplate::parse("events.${channel}!").unwrap();
        assert!(t.uses_channel() && !t.uses_entry() && !t.is_literal());
        let mut out = b"old".to_vec();
        t.render_channel_into(b"news:\x00\r\n", &mut out);
        assert_eq!(out, b"events.news:\x00\r\n!");
        let mixed = SourceTemplate::parse("${channel}/${stream}").unwrap();
        assert!(mixed.uses_channel() && mixed.uses_entry());
        let entry = SourceTemplate::parse("${field.a}").unwrap();
        assert!(entry.uses_entry() && !entry.uses_channel());
        assert!(SourceTemplate::parse("${id}").unwrap().uses_entry());
        assert!(!SourceTemplate::parse("fixed").unwrap().uses_entry());
    }

    #[test]
    fn rejects_bad_templates() {
        assert_eq!(
            SourceTemplate::parse("").unwrap_err().to_string(),
            "empty template"
        );
        let cases = [
            ("a:${stream", "unterminated '${'"),
            ("${topic}", "unknown placeholder '${topic}'"),
            ("${field}", "unknown placeholder '${field}'"),
            ("${}", "unknown placeholder '${}'"),
            ("${field.}", "empty field name"),
        ];
        for (text, expected) in cases {
            let err = SourceTemplate::parse(text).unwrap_err();
            assert!(err.contains(expected), "'{text}': got '{err}'");
        }
    }

    #[test]
    fn missing_field_is_named() {
        let t = SourceTemplate::parse("${field.region}").unwrap();
        let err = t
            .render(b"orders", b"5-0", &fields(&[("other", "x")]))
            .unwrap_err();
        assert!(err.contains("no field 'region'"), "{err}");
        assert!(err.contains("orders") && err.contains("5-0"), "{err}");
    }

    #[test]
    fn topic_names_are_sanitized() {
        assert_eq!(kafka_topic_name(b"orders"), "orders");
        assert_eq!(kafka_topic_name(b"Orders.v1_x-y"), "Orders.v1_x-y");
        assert_eq!(kafka_topic_name(b"orders:eu/1 2"), "orders_eu_1_2");
        assert_eq!(kafka_topic_name("caf\u{e9}".as_bytes()), "caf_");
        assert_eq!(kafka_topic_name(b"a\xffb"), "a_b");
        assert_eq!(kafka_topic_name(b""), "_");
        assert_eq!(kafka_topic_name(b"."), "_");
        assert_eq!(kafka_topic_name(b".."), "__");
        assert_eq!(kafka_topic_name(b"..."), "...");
        let long = kafka_topic_name(&[b'x'; 1000]);
        assert_eq!(long.len(), MAX_TOPIC_LEN);
        let long_unicode = kafka_topic_name("\u{e9}".repeat(300).as_bytes());
        assert_eq!(long_unicode, "_".repeat(MAX_TOPIC_LEN));
    }

    #[test]
    fn sanitized_names_pass_the_create_time_check() {
        for raw in [&b""[..], b".", b"..", b"a:b", b"\xff\xfe", &[b':'; 400]] {
            let name = kafka_topic_name(raw);
            assert!(
                crate::spec::args::check_kafka_name("topic", &name, MAX_TOPIC_LEN).is_ok(),
                "{name}"
            );
        }
    }
}
