//! Key templates such as `pageviews:${key}` or `user:${value.profile.id}`, parsed once at
//! CREATE time and rendered per record without re-parsing.

use crate::error::Error;
use crate::spec::record::Record;
use serde_json::Value;

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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

impl Template {
    pub fn parse(source: &str) -> Result<Template, Error> {
        let mut parts = Vec::new();
        let mut literal = Vec::new();
        let mut rest = source;
        while let Some(start) = rest.find("${") {
            literal.extend_from_slice(&rest.as_bytes()[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| Error::Arg(format!("unterminated '${{' in template '{source}'")))?;
            let name = &after[..end];
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(Self::placeholder(name, source)?);
            rest = &after[end + 1..];
        }
        literal.extend_from_slice(rest.as_bytes());
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        if parts.is_empty() {
            return Err(Error::Arg("empty template".to_string()));
        }
        Ok(Template {
            source: source.to_string(),
            parts,
        })
    }

    fn placeholder(name: &str, source: &str) -> Result<Part, Error> {
        Ok(match name {
            "topic" => Part::Topic,
            "partition" => Part::Partition,
            "offset" => Part::Offset,
            "timestamp" => Part::Timestamp,
            "key" => Part::Key,
            "value" => Part::Value,
            _ => match name.strip_prefix("value.") {
                Some(path) if !path.is_empty() && path.split('.').all(|f| !f.is_empty()) => {
                    Part::ValueField(path.split('.').map(str::to_string).collect())
                }
                _ => {
                    return Err(Error::Arg(format!(
                        "unknown placeholder '${{{name}}}' in template '{source}' (use topic, partition, offset, timestamp, key, value or value.<field>)"
                    )))
                }
            },
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// True when rendering needs the record value parsed as JSON.
    pub fn needs_json(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::ValueField(_)))
    }

    /// Renders into `out` (cleared first) so callers can reuse one buffer per record.
    pub fn render_into(
        &self,
        record: &Record<'_>,
        json: Option<&Value>,
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
                Part::ValueField(path) => {
                    let root = json.ok_or_else(|| {
                        Error::Record(format!(
                            "value is not JSON, needed for ${{value.{}}}",
                            path.join(".")
                        ))
                    })?;
                    let field = lookup(root, path).ok_or_else(|| {
                        Error::Record(format!("value has no field '{}'", path.join(".")))
                    })?;
                    append_scalar(field, out);
                }
            }
        }
        Ok(())
    }

    pub fn render(&self, record: &Record<'_>, json: Option<&Value>) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.render_into(record, json, &mut out)?;
        Ok(out)
    }
}

fn lookup<'v>(root: &'v Value, path: &[String]) -> Option<&'v Value> {
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
        }
    }

    #[test]
    fn renders_every_placeholder() {
        let t = Template::parse("${topic}/${partition}/${offset}/${timestamp}/${key}").unwrap();
        let out = t.render(&record(Some(b"k1"), None), None).unwrap();
        assert_eq!(out, b"pageviews/3/42/1700000000000/k1");
    }

    #[test]
    fn renders_nested_value_fields() {
        let v: Value =
            serde_json::from_str(r#"{"user":{"id":1451,"name":"ann"},"tags":["a","b"]}"#).unwrap();
        let t = Template::parse("u:${value.user.id}:${value.user.name}:${value.tags.1}").unwrap();
        assert!(t.needs_json());
        let out = t.render(&record(None, Some(b"{}")), Some(&v)).unwrap();
        assert_eq!(out, b"u:1451:ann:b");
    }

    #[test]
    fn literal_only_template_is_kept() {
        let t = Template::parse("fixed").unwrap();
        assert!(!t.needs_json());
        assert_eq!(t.render(&record(None, None), None).unwrap(), b"fixed");
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
            .render(&record(None, None), None)
            .unwrap_err()
            .contains("no key"));
        let t = Template::parse("${value.missing}").unwrap();
        let v: Value = serde_json::from_str(r#"{"a":1}"#).unwrap();
        let err = t.render(&record(None, Some(b"{}")), Some(&v)).unwrap_err();
        assert!(err.contains("missing"), "{err}");
        let err = t.render(&record(None, Some(b"x")), None).unwrap_err();
        assert!(err.contains("not JSON"), "{err}");
    }
}
