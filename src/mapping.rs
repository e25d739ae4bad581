//! Pure mapping from one Kafka record to the single Redis write that applies it.

use crate::record::Record;
use crate::spec::SinkType;
use crate::template::{append_scalar, Template};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Set {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        key: Vec<u8>,
    },
    HashSet {
        key: Vec<u8>,
        fields: Vec<(Vec<u8>, Vec<u8>)>,
    },
    JsonSet {
        key: Vec<u8>,
        document: Vec<u8>,
    },
    StreamAdd {
        key: Vec<u8>,
        fields: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// The record has nothing to apply (a tombstone for an append-only type); its offset still advances.
    Skip,
}

impl Write {
    /// The Redis command and its arguments.
    pub fn command(&self) -> Option<(&'static str, Vec<&[u8]>)> {
        Some(match self {
            Write::Set { key, value } => ("SET", vec![key.as_slice(), value.as_slice()]),
            Write::Delete { key } => ("DEL", vec![key.as_slice()]),
            Write::HashSet { key, fields } => ("HSET", with_fields(key, None, fields)),
            Write::JsonSet { key, document } => (
                "JSON.SET",
                vec![key.as_slice(), b"$".as_slice(), document.as_slice()],
            ),
            Write::StreamAdd { key, fields } => ("XADD", with_fields(key, Some(b"*"), fields)),
            Write::Skip => return None,
        })
    }
}

fn with_fields<'a>(
    key: &'a [u8],
    id: Option<&'a [u8]>,
    fields: &'a [(Vec<u8>, Vec<u8>)],
) -> Vec<&'a [u8]> {
    let mut args = Vec::with_capacity(2 + fields.len() * 2);
    args.push(key);
    args.extend(id);
    for (field, value) in fields {
        args.push(field.as_slice());
        args.push(value.as_slice());
    }
    args
}

/// How one sink turns records into writes.
#[derive(Debug, Clone)]
pub struct Mapper {
    sink_type: SinkType,
    key: Template,
}

impl Mapper {
    pub fn new(sink_type: SinkType, key: Template) -> Mapper {
        Mapper { sink_type, key }
    }

    pub fn map(&self, record: &Record<'_>) -> Result<Write, String> {
        let must_be_json = matches!(self.sink_type, SinkType::Hash | SinkType::Json);
        let wants_json =
            must_be_json || self.sink_type == SinkType::Stream || self.key.needs_json();
        let json = match record.value {
            Some(bytes) if wants_json => match serde_json::from_slice::<Value>(bytes) {
                Ok(v) => Some(v),
                Err(e) if must_be_json => return Err(format!("value is not JSON: {e}")),
                Err(_) => None,
            },
            _ => None,
        };
        if record.value.is_none() && self.sink_type == SinkType::Stream {
            return Ok(Write::Skip);
        }
        let key = self.key.render(record, json.as_ref())?;
        let Some(value) = record.value else {
            return Ok(Write::Delete { key });
        };
        Ok(match self.sink_type {
            SinkType::String => Write::Set {
                key,
                value: value.to_vec(),
            },
            SinkType::Json => Write::JsonSet {
                key,
                document: value.to_vec(),
            },
            SinkType::Hash => match json {
                Some(Value::Object(map)) if map.is_empty() => Write::Delete { key },
                Some(Value::Object(map)) => Write::HashSet {
                    key,
                    fields: object_fields(map),
                },
                _ => return Err("HASH needs a JSON object value".to_string()),
            },
            SinkType::Stream => match json {
                Some(Value::Object(map)) if map.is_empty() => {
                    return Err("STREAM needs a non-empty JSON object or a scalar".to_string())
                }
                Some(Value::Object(map)) => Write::StreamAdd {
                    key,
                    fields: object_fields(map),
                },
                _ => Write::StreamAdd {
                    key,
                    fields: vec![(b"value".to_vec(), value.to_vec())],
                },
            },
        })
    }
}

fn object_fields(map: serde_json::Map<String, Value>) -> Vec<(Vec<u8>, Vec<u8>)> {
    map.into_iter()
        .map(|(field, value)| {
            let mut text = Vec::new();
            append_scalar(&value, &mut text);
            (field.into_bytes(), text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec<'a>(key: Option<&'a [u8]>, value: Option<&'a [u8]>) -> Record<'a> {
        Record {
            topic: "t",
            partition: 0,
            offset: 7,
            timestamp: None,
            key,
            value,
        }
    }

    fn mapper(sink_type: SinkType, key: &str) -> Mapper {
        Mapper::new(sink_type, Template::parse(key).unwrap())
    }

    #[test]
    fn string_stores_raw_bytes() {
        let w = mapper(SinkType::String, "${topic}:${key}")
            .map(&rec(Some(b"k"), Some(b"\x00not json\xff")))
            .unwrap();
        assert_eq!(
            w,
            Write::Set {
                key: b"t:k".to_vec(),
                value: b"\x00not json\xff".to_vec()
            }
        );
        assert_eq!(w.command().unwrap().0, "SET");
    }

    #[test]
    fn tombstone_deletes_key_for_keyed_types() {
        for t in [SinkType::String, SinkType::Hash, SinkType::Json] {
            let w = mapper(t, "${topic}:${key}")
                .map(&rec(Some(b"k"), None))
                .unwrap();
            assert_eq!(
                w,
                Write::Delete {
                    key: b"t:k".to_vec()
                }
            );
        }
    }

    #[test]
    fn tombstone_is_skipped_for_streams() {
        let w = mapper(SinkType::Stream, "${topic}")
            .map(&rec(Some(b"k"), None))
            .unwrap();
        assert_eq!(w, Write::Skip);
        assert!(w.command().is_none());
    }

    #[test]
    fn hash_flattens_object_scalars_and_keeps_nested_as_json() {
        let v = br#"{"name":"ann","age":31,"vip":true,"tags":["a"],"addr":{"city":"x"},"n":null}"#;
        let w = mapper(SinkType::Hash, "${key}")
            .map(&rec(Some(b"u1"), Some(v)))
            .unwrap();
        let Write::HashSet { key, fields } = w else {
            panic!("not a hash write")
        };
        assert_eq!(key, b"u1");
        let text: Vec<(String, String)> = fields
            .into_iter()
            .map(|(f, v)| (String::from_utf8(f).unwrap(), String::from_utf8(v).unwrap()))
            .collect();
        assert!(text.contains(&("name".into(), "ann".into())));
        assert!(text.contains(&("age".into(), "31".into())));
        assert!(text.contains(&("vip".into(), "true".into())));
        assert!(text.contains(&("tags".into(), r#"["a"]"#.into())));
        assert!(text.contains(&("addr".into(), r#"{"city":"x"}"#.into())));
        assert!(text.contains(&("n".into(), "null".into())));
    }

    #[test]
    fn hash_rejects_non_objects() {
        let m = mapper(SinkType::Hash, "${key}");
        assert!(m
            .map(&rec(Some(b"k"), Some(b"not json")))
            .unwrap_err()
            .contains("not JSON"));
        assert!(m
            .map(&rec(Some(b"k"), Some(b"[1,2]")))
            .unwrap_err()
            .contains("object"));
    }

    #[test]
    fn json_requires_valid_json_and_uses_root_path() {
        let m = mapper(SinkType::Json, "pv:${value.userid}");
        let w = m.map(&rec(None, Some(br#"{"userid":1451}"#))).unwrap();
        assert_eq!(
            w.command().unwrap(),
            (
                "JSON.SET",
                vec![&b"pv:1451"[..], b"$", br#"{"userid":1451}"#]
            )
        );
        assert!(m.map(&rec(None, Some(b"{oops"))).is_err());
    }

    #[test]
    fn stream_adds_object_fields_or_single_value_field() {
        let m = mapper(SinkType::Stream, "${topic}");
        let w = m.map(&rec(None, Some(br#"{"a":1}"#))).unwrap();
        assert_eq!(
            w.command().unwrap(),
            ("XADD", vec![&b"t"[..], b"*", b"a", b"1"])
        );
        let w = m.map(&rec(None, Some(b"42"))).unwrap();
        assert_eq!(
            w.command().unwrap(),
            ("XADD", vec![&b"t"[..], b"*", b"value", b"42"])
        );
        let w = m.map(&rec(None, Some(b"plain text"))).unwrap();
        assert_eq!(
            w.command().unwrap(),
            ("XADD", vec![&b"t"[..], b"*", b"value", b"plain text"])
        );
        assert!(m.map(&rec(None, Some(b"{}"))).is_err());
    }

    #[test]
    fn string_key_from_json_field_when_value_is_not_json_fails_cleanly() {
        let m = mapper(SinkType::String, "${value.id}");
        assert!(m
            .map(&rec(None, Some(b"plain")))
            .unwrap_err()
            .contains("not JSON"));
    }
}
