//! Record templates such as `pageviews:${key}`, `user:${value.profile.id}` or
//! `${header.tenant}:${key.id}`, parsed once at CREATE time and rendered per record without
//! re-parsing. The syntax is shared with source templates (`template_syntax`).

use crate::error::Error;
use crate::spec::record::Record;
use crate::spec::template_syntax::{json_path, parse_parts};
use serde_json::Value;
use std::ffi::CString;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(Vec<u8>),
    Topic,
    Partition,
    Offset,
    Timestamp,
    Key,
    Value,
    ValueField(Vec<String>),
    KeyField(Vec<String>),
    /// A C string: librdkafka looks headers up by one, and it is made once, here.
    Header(CString),
}

/// The record's value and key parsed as JSON, for templates that read fields of them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Parsed<'v> {
    pub value: Option<&'v Value>,
    pub key: Option<&'v Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

impl Template {
    pub fn parse(source: &str) -> Result<Template, Error> {
        let parts = parse_parts(source, Part::Literal, |name| {
            Self::placeholder(name, source)
        })?;
        Ok(Template {
            source: source.to_string(),
            parts,
        })
    }

    fn placeholder(name: &str, source: &str) -> Result<Part, Error> {
        let unknown = || {
            Error::Arg(format!(
                "unknown placeholder '${{{name}}}' in template '{source}' (use topic, partition, offset, timestamp, key, key.<field>, value, value.<field> or header.<name>)"
            ))
        };
        Ok(match name {
            "topic" => Part::Topic,
            "partition" => Part::Partition,
            "offset" => Part::Offset,
            "timestamp" => Part::Timestamp,
            "key" => Part::Key,
            "value" => Part::Value,
            _ => {
                if let Some(path) = name.strip_prefix("value.") {
                    Part::ValueField(json_path(path).ok_or_else(unknown)?)
                } else if let Some(path) = name.strip_prefix("key.") {
                    Part::KeyField(json_path(path).ok_or_else(unknown)?)
                } else if let Some(header) = name.strip_prefix("header.") {
                    if header.is_empty() {
                        return Err(unknown());
                    }
                    Part::Header(CString::new(header).map_err(|_| {
                        Error::Arg(format!(
                            "header name in '${{{name}}}' of template '{source}' contains a NUL byte"
                        ))
                    })?)
                } else {
                    return Err(unknown());
                }
            }
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// True when rendering needs the record value parsed as JSON.
    pub fn needs_json(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::ValueField(_)))
    }

    /// True when rendering needs the record key parsed as JSON.
    pub fn needs_key_json(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::KeyField(_)))
    }

    /// Renders into `out` (cleared first) so callers can reuse one buffer per record.
    pub fn render_into(
        &self,
        record: &Record<'_>,
        parsed: &Parsed<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        out.clear();
        for part in &self.parts {
            match part {
                Part::Literal(bytes) => out.extend_from_slice(bytes),
                Part::Topic => out.extend_from_slice(record.topic.as_bytes()),
                Part::Partition => out.extend_from_slice(record.partition.to_string().as_bytes()),
                Part::Offset => out.extend_from_slice(record.offset.to_string().as_bytes()),
                Part::Timestamp => match record.timestamp {
                    Some(ts) => out.extend_from_slice(ts.to_string().as_bytes()),
                    None => {
                        return Err(Error::Record(
                            "record has no timestamp for ${timestamp}".to_string(),
                        ))
                    }
                },
                Part::Key => match record.key {
                    Some(key) => out.extend_from_slice(key),
                    None => return Err(Error::Record("record has no key for ${key}".to_string())),
                },
                Part::Value => match record.value {
                    Some(value) => out.extend_from_slice(value),
                    None => {
                        return Err(Error::Record(
                            "record has no value for ${value}".to_string(),
                        ))
                    }
                },
                Part::ValueField(path) => append_field(parsed.value, "value", path, out)?,
                Part::KeyField(path) => append_field(parsed.key, "key", path, out)?,
                Part::Header(name) => match record.headers.and_then(|h| h.last(name)) {
                    Some(Some(value)) => out.extend_from_slice(value),
                    Some(None) => {
                        let name = name.to_string_lossy();
                        return Err(Error::Record(format!(
                            "header '{name}' has a null value, needed for ${{header.{name}}}"
                        )));
                    }
                    None => {
                        let name = name.to_string_lossy();
                        return Err(Error::Record(format!(
                            "record has no header '{name}' for ${{header.{name}}}"
                        )));
                    }
                },
            }
        }
        Ok(())
    }

    pub fn render(&self, record: &Record<'_>, parsed: &Parsed<'_>) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.render_into(record, parsed, &mut out)?;
        Ok(out)
    }
}

/// Appends the field at `path` of the record's `what` (value or key) parsed as JSON.
fn append_field(
    root: Option<&Value>,
    what: &str,
    path: &[String],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let root = root.ok_or_else(|| {
        Error::Record(format!(
            "{what} is not JSON, needed for ${{{what}.{}}}",
            path.join(".")
        ))
    })?;
    let field = lookup(root, path)
        .ok_or_else(|| Error::Record(format!("{what} has no field '{}'", path.join("."))))?;
    append_scalar(field, out);
    Ok(())
}

/// The value at a dotted path: object members by name, array items by index.
pub fn lookup<'v>(root: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(root, |node, field| match node {
        Value::Object(map) => map.get(field),
        Value::Array(items) => field.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// Strings go in as their text (no quotes); everything else as compact JSON.
pub fn append_scalar(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::String(s) => out.extend_from_slice(s.as_bytes()),
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'a>(key: Option<&'a [u8]>, value: Option<&'a [u8]>) -> Record<'a> {
        Record {
            topic: "pageviews",
            partition: 3,
            offset: 42,
            timestamp: Some(1700000000000),
            key,
            value,
            ttl_header: None,
            headers: None,
        }
    }

    fn value(v: &Value) -> Parsed<'_> {
        Parsed {
            value: Some(v),
            key: None,
        }
    }

    #[test]
    fn renders_headers_and_json_key_fields() {
        let headers: Vec<(&str, Option<&[u8]>)> = vec![
            ("tenant", Some(b"acme")),
            ("tenant", Some(b"globex")),
            ("gone", None),
            ("with.dot", Some(b"d")),
        ];
        let key: Value = serde_json::from_str(r#"{"id":7,"region":{"code":"eu"}}"#).unwrap();
        let mut rec = record(Some(br#"{"id":7}"#), Some(b"v"));
        rec.headers = Some(&headers);
        let parsed = Parsed {
            value: None,
            key: Some(&key),
        };
        let t = Template::parse("${header.tenant}:${key.id}:${key.region.code}:${header.with.dot}")
            .unwrap();
        assert!(t.needs_key_json() && !t.needs_json());
        // The last header of a repeated name wins, as Kafka Connect's lastWithName.
        assert_eq!(t.render(&rec, &parsed).unwrap(), b"globex:7:eu:d");
        let err = Template::parse("${header.gone}")
            .unwrap()
            .render(&rec, &parsed)
            .unwrap_err();
        assert!(err.contains("header 'gone' has a null value"), "{err}");
        let err = Template::parse("${header.absent}")
            .unwrap()
            .render(&rec, &parsed)
            .unwrap_err();
        assert!(err.contains("no header 'absent'"), "{err}");
        rec.headers = None;
        assert!(Template::parse("${header.tenant}")
            .unwrap()
            .render(&rec, &parsed)
            .is_err());
        let err = Template::parse("${key.id}")
            .unwrap()
            .render(&rec, &Parsed::default())
            .unwrap_err();
        assert!(err.contains("key is not JSON"), "{err}");
        let err = Template::parse("${key.nope}")
            .unwrap()
            .render(&rec, &parsed)
            .unwrap_err();
        assert!(err.contains("key has no field 'nope'"), "{err}");
        let err = Template::parse("${header.a\0b}").unwrap_err();
        assert!(err.contains("contains a NUL byte"), "{err}");
        for bad in ["${header.}", "${key.}", "${key.a..b}", "${headers.x}"] {
            assert!(
                Template::parse(bad)
                    .unwrap_err()
                    .contains("unknown placeholder"),
                "{bad}"
            );
        }
    }

    #[test]
    fn renders_every_placeholder() {
        let t = Template::parse("${topic}/${partition}/${offset}/${timestamp}/${key}").unwrap();
        let out = t
            .render(&record(Some(b"k1"), None), &Parsed::default())
            .unwrap();
        assert_eq!(out, b"pageviews/3/42/1700000000000/k1");
    }

    #[test]
    fn renders_nested_value_fields() {
        let v: Value =
            serde_json::from_str(r#"{"user":{"id":1451,"name":"ann"},"tags":["a","b"]}"#).unwrap();
        let t = Template::parse("u:${value.user.id}:${value.user.name}:${value.tags.1}").unwrap();
        assert!(t.needs_json());
        let out = t.render(&record(None, Some(b"{}")), &value(&v)).unwrap();
        assert_eq!(out, b"u:1451:ann:b");
    }

    #[test]
    fn literal_only_template_is_kept() {
        let t = Template::parse("fixed").unwrap();
        assert!(!t.needs_json());
        assert_eq!(
            t.render(&record(None, None), &Parsed::default()).unwrap(),
            b"fixed"
        );
    }

    #[test]
    fn rejects_bad_templates() {
        assert!(Template::parse("").is_err());
        assert!(Template::parse("a:${key")
            .unwrap_err()
            .contains("unterminated"));
        assert!(Template::parse("${nope}")
            .unwrap_err()
            .contains("unknown placeholder"));
        assert!(Template::parse("${value.}").is_err());
        assert!(Template::parse("${value.a..b}").is_err());
    }

    #[test]
    fn missing_parts_are_errors() {
        let t = Template::parse("${topic}:${key}").unwrap();
        assert!(t
            .render(&record(None, None), &Parsed::default())
            .unwrap_err()
            .contains("no key"));
        let t = Template::parse("${value.missing}").unwrap();
        let v: Value = serde_json::from_str(r#"{"a":1}"#).unwrap();
        let err = t
            .render(&record(None, Some(b"{}")), &value(&v))
            .unwrap_err();
        assert!(err.contains("missing"), "{err}");
        let err = t
            .render(&record(None, Some(b"x")), &Parsed::default())
            .unwrap_err();
        assert!(err.contains("not JSON"), "{err}");
    }
}
