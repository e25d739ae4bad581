//! Pure mapping from one Kafka record to the Redis write that applies it.

use crate::error::Error;
use crate::runtime::text::quoted;
use crate::sink::flat_object::{self, TopLevel};
use crate::sink::projection;
use crate::spec::fields::Projection;
use crate::spec::record::{Record, TTL_HEADER};
use crate::spec::sink::{
    Duplicate, SinkSpec, SinkType, StreamTrim, TrimBy, Update, MAX_TTL_SECONDS,
};
use crate::spec::source::parse_stream_id;
use crate::spec::template::{append_scalar, Parsed, Template};
use crate::store::keys::is_reserved;
use serde_json::Value;
use std::ffi::CStr;

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
    /// HASH with `UPDATE REPLACE`: the hash ends up holding exactly these fields.
    HashReplace {
        key: Vec<u8>,
        fields: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// JSON with `UPDATE MERGE`: JSON.MERGE (RFC 7396) at the root.
    JsonMerge {
        key: Vec<u8>,
        document: Vec<u8>,
    },
    JsonSet {
        key: Vec<u8>,
        document: Vec<u8>,
    },
    StreamAdd {
        key: Vec<u8>,
        trim: Option<Trimming>,
        fields: Vec<(Vec<u8>, Vec<u8>)>,
    },
    Push {
        key: Vec<u8>,
        member: Vec<u8>,
        left: bool,
    },
    ListRemove {
        key: Vec<u8>,
        member: Vec<u8>,
    },
    SetAdd {
        key: Vec<u8>,
        member: Vec<u8>,
    },
    SetRemove {
        key: Vec<u8>,
        member: Vec<u8>,
    },
    ZAdd {
        key: Vec<u8>,
        score: Vec<u8>,
        member: Vec<u8>,
    },
    ZRemove {
        key: Vec<u8>,
        member: Vec<u8>,
    },
    TsAdd {
        key: Vec<u8>,
        timestamp: Vec<u8>,
        value: Vec<u8>,
        /// TS.ADD's ON_DUPLICATE policy (`ON-DUPLICATE`).
        on_duplicate: Duplicate,
    },
    /// Sent to the channel's subscribers; writes no key.
    Publish {
        channel: Vec<u8>,
        message: Vec<u8>,
    },
    /// A tombstone for an append-only type or PUBLISH: nothing to write, counted as skipped.
    Skip,
    /// Already dealt with by the error policy (skipped or sent to the DLQ): nothing to write.
    Resolved,
}

/// How an XADD trims: `MAXLEN` or `MINID`, whether approximate (`~`), and the threshold.
pub type Trimming = (&'static str, bool, Vec<u8>);

impl Write {
    /// The Redis command and its arguments.
    #[cfg(test)]
    pub fn command(&self) -> Option<(&'static str, Vec<&[u8]>)> {
        let mut args = Vec::new();
        let name = self.command_into(&mut args)?;
        Some((name.to_str().unwrap_or_default(), args))
    }

    /// The Redis command, its arguments pushed onto `args` (cleared first): the write path
    /// reuses one vector for every record.
    pub fn command_into<'a>(&'a self, args: &mut Vec<&'a [u8]>) -> Option<&'static CStr> {
        args.clear();
        self.visit_args(|arg| args.push(arg))
    }

    /// Bytes of the command's arguments: what the write costs the slice's byte budget.
    fn argument_bytes(&self) -> usize {
        let mut bytes = 0;
        self.visit_args(|arg| bytes += arg.len());
        bytes
    }

    /// The Redis command; each argument is given to `arg`, in order.
    fn visit_args<'a>(&'a self, mut arg: impl FnMut(&'a [u8])) -> Option<&'static CStr> {
        let fields = |fields: &'a [(Vec<u8>, Vec<u8>)], arg: &mut dyn FnMut(&'a [u8])| {
            for (field, value) in fields {
                arg(field);
                arg(value);
            }
        };
        Some(match self {
            Write::Set { key, value } => {
                arg(key);
                arg(value);
                c"SET"
            }
            Write::Delete { key } => {
                arg(key);
                c"DEL"
            }
            Write::HashSet { key, fields: f } | Write::HashReplace { key, fields: f } => {
                arg(key);
                fields(f, &mut arg);
                c"HSET"
            }
            Write::JsonMerge { key, document } => {
                [&key[..], b"$", document].into_iter().for_each(arg);
                c"JSON.MERGE"
            }
            Write::JsonSet { key, document } => {
                [&key[..], b"$", document].into_iter().for_each(arg);
                c"JSON.SET"
            }
            Write::StreamAdd {
                key,
                trim,
                fields: f,
            } => {
                arg(key);
                if let Some((by, approximate, threshold)) = trim {
                    arg(by.as_bytes());
                    if *approximate {
                        arg(b"~");
                    }
                    arg(threshold);
                }
                arg(b"*");
                fields(f, &mut arg);
                c"XADD"
            }
            Write::Push { key, member, left } => {
                arg(key);
                arg(member);
                if *left {
                    c"LPUSH"
                } else {
                    c"RPUSH"
                }
            }
            Write::ListRemove { key, member } => {
                [&key[..], b"0", member].into_iter().for_each(arg);
                c"LREM"
            }
            Write::SetAdd { key, member } => {
                arg(key);
                arg(member);
                c"SADD"
            }
            Write::SetRemove { key, member } => {
                arg(key);
                arg(member);
                c"SREM"
            }
            Write::ZAdd { key, score, member } => {
                [&key[..], score, member].into_iter().for_each(arg);
                c"ZADD"
            }
            Write::ZRemove { key, member } => {
                arg(key);
                arg(member);
                c"ZREM"
            }
            Write::TsAdd {
                key,
                timestamp,
                value,
                on_duplicate,
            } => {
                [
                    &key[..],
                    timestamp,
                    value,
                    b"ON_DUPLICATE",
                    on_duplicate.name().as_bytes(),
                ]
                .into_iter()
                .for_each(arg);
                c"TS.ADD"
            }
            Write::Publish { channel, message } => {
                arg(channel);
                arg(message);
                c"PUBLISH"
            }
            Write::Skip | Write::Resolved => return None,
        })
    }

    /// A command that must run just before `command`, in the same MULTI/EXEC: a replacing
    /// write first drops what the key held.
    pub fn prelude(&self) -> Option<(&'static CStr, &[u8])> {
        match self {
            Write::HashReplace { key, .. } => Some((c"DEL", key)),
            _ => None,
        }
    }

    /// The key the write touches, if any.
    pub fn key(&self) -> Option<&[u8]> {
        match self {
            Write::Set { key, .. }
            | Write::Delete { key }
            | Write::HashSet { key, .. }
            | Write::HashReplace { key, .. }
            | Write::JsonMerge { key, .. }
            | Write::JsonSet { key, .. }
            | Write::StreamAdd { key, .. }
            | Write::Push { key, .. }
            | Write::ListRemove { key, .. }
            | Write::SetAdd { key, .. }
            | Write::SetRemove { key, .. }
            | Write::ZAdd { key, .. }
            | Write::ZRemove { key, .. }
            | Write::TsAdd { key, .. } => Some(key),
            Write::Publish { .. } | Write::Skip | Write::Resolved => None,
        }
    }

    /// On Redis Cluster, the name whose hash slot picks the one primary that applies the
    /// write: its key, or a PUBLISH's channel (a PUBLISH on any primary reaches the whole
    /// cluster's subscribers, so exactly one may send it).
    pub fn slot_name(&self) -> Option<&[u8]> {
        match self {
            Write::Publish { channel, .. } => Some(channel),
            _ => self.key(),
        }
    }

    /// The key a TTL applies to: only writes that add data, never removals.
    pub fn expiring_key(&self) -> Option<&[u8]> {
        match self {
            Write::Set { key, .. }
            | Write::HashSet { key, .. }
            | Write::HashReplace { key, .. }
            | Write::JsonMerge { key, .. }
            | Write::JsonSet { key, .. }
            | Write::StreamAdd { key, .. }
            | Write::Push { key, .. }
            | Write::SetAdd { key, .. }
            | Write::ZAdd { key, .. }
            | Write::TsAdd { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// One record's effect: the write and, when the key should expire, its TTL in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub write: Write,
    pub ttl: Option<u64>,
    /// Bytes of the write's arguments: what the record costs in a batch and in a slice.
    pub bytes: usize,
}

impl Mapped {
    pub fn resolved() -> Mapped {
        Mapped {
            write: Write::Resolved,
            ttl: None,
            bytes: 0,
        }
    }
}

/// How one sink turns records into writes.
#[derive(Debug, Clone)]
pub struct Mapper {
    sink_type: SinkType,
    key: Template,
    channel: Template,
    member: Template,
    score: Template,
    push_left: bool,
    trim: Option<StreamTrim>,
    update: Update,
    on_duplicate: Duplicate,
    fields: Option<Projection>,
    ttl: Option<u64>,
    /// Whether a record's value, or its key, must be parsed as JSON: fixed by the spec, so
    /// decided once here rather than per record.
    value_json: bool,
    key_json: bool,
    /// A HASH or STREAM sink that needs the value only as its fields (no FIELDS, no template
    /// reading it): read them straight from the JSON text (`flat_object`).
    flat_value: bool,
}

impl Mapper {
    pub fn new(spec: &SinkSpec) -> Mapper {
        let mut mapper = Mapper {
            sink_type: spec.sink_type,
            key: spec.key.clone(),
            channel: spec.channel.clone(),
            member: spec.member.clone(),
            score: spec.score.clone(),
            push_left: spec.push_left,
            trim: spec.trim.clone(),
            update: spec.update,
            on_duplicate: spec.on_duplicate,
            fields: spec.fields.clone(),
            ttl: spec.ttl,
            value_json: false,
            key_json: false,
            flat_value: false,
        };
        let templates_need_json = mapper.templates().any(Template::needs_json);
        let flat_value = matches!(mapper.sink_type, SinkType::Hash | SinkType::Stream)
            && mapper.fields.is_none()
            && !templates_need_json;
        let value_json = !flat_value
            && (templates_need_json
                || mapper.sink_type == SinkType::Stream
                || mapper.value_must_be_json());
        let key_json = mapper.templates().any(Template::needs_key_json);
        mapper.value_json = value_json;
        mapper.key_json = key_json;
        mapper.flat_value = flat_value;
        mapper
    }

    /// The templates this sink renders for a record of its type.
    fn templates(&self) -> impl Iterator<Item = &Template> {
        let minid = match &self.trim {
            Some(StreamTrim {
                by: TrimBy::MinId(template),
                ..
            }) => Some(template),
            _ => None,
        };
        let publish = self.sink_type == SinkType::Publish;
        [
            (!publish).then_some(&self.key),
            publish.then_some(&self.channel),
            self.sink_type.has_members().then_some(&self.member),
            (self.sink_type == SinkType::Zset).then_some(&self.score),
            minid,
        ]
        .into_iter()
        .flatten()
    }

    fn value_must_be_json(&self) -> bool {
        matches!(self.sink_type, SinkType::Hash | SinkType::Json)
    }

    pub fn map(&self, record: &Record<'_>) -> Result<Mapped, Error> {
        // PUBLISH writes no key: a `redis.ttl` header has nothing to expire, so it is not read.
        let ttl = match self.sink_type.writes_keys() {
            true => self.ttl_for(record)?,
            false => None,
        };
        let write = self.write_for(record)?;
        if write.key().is_some_and(is_reserved) {
            return Err(Error::Record(
                "the rendered key is in the module's reserved namespace (__kafka:)".to_string(),
            ));
        }
        let ttl = write.expiring_key().and(ttl);
        let bytes = write.argument_bytes();
        Ok(Mapped { write, ttl, bytes })
    }

    fn ttl_for(&self, record: &Record<'_>) -> Result<Option<u64>, Error> {
        let Some(header) = record.ttl_header else {
            return Ok(self.ttl);
        };
        let seconds = std::str::from_utf8(header)
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
            .filter(|s| *s <= MAX_TTL_SECONDS)
            .ok_or_else(|| {
                Error::Record(format!(
                    "header {TTL_HEADER} must be whole seconds from 0 to {MAX_TTL_SECONDS} ({} bytes given)",
                    header.len()
                ))
            })?;
        // 0 means "this record does not expire", overriding the sink's TTL.
        Ok((seconds > 0).then_some(seconds))
    }

    fn write_for(&self, record: &Record<'_>) -> Result<Write, Error> {
        let json = match record.value {
            Some(bytes) if self.value_json => match serde_json::from_slice::<Value>(bytes) {
                Ok(v) => Some(v),
                Err(e) if self.value_must_be_json() => {
                    return Err(Error::Record(format!("value is not JSON: {e}")))
                }
                Err(_) => None,
            },
            _ => None,
        };
        let key_json = match record.key {
            Some(bytes) if self.key_json => serde_json::from_slice::<Value>(bytes).ok(),
            _ => None,
        };
        let parsed = Parsed {
            value: json.as_ref(),
            key: key_json.as_ref(),
        };
        let json = parsed.value;
        if record.value.is_none()
            && matches!(
                self.sink_type,
                SinkType::Stream | SinkType::Timeseries | SinkType::Publish
            )
        {
            return Ok(Write::Skip);
        }
        if let (SinkType::Publish, Some(value)) = (self.sink_type, record.value) {
            // Before the key is rendered: PUBLISH has none.
            return self.publish(record, &parsed, value);
        }
        let key = self.key.render(record, &parsed)?;
        let member = || self.member.render(record, &parsed);
        let Some(value) = record.value else {
            return Ok(match self.sink_type {
                SinkType::List => Write::ListRemove {
                    key,
                    member: member()?,
                },
                SinkType::Set => Write::SetRemove {
                    key,
                    member: member()?,
                },
                SinkType::Zset => Write::ZRemove {
                    key,
                    member: member()?,
                },
                _ => Write::Delete { key },
            });
        };
        Ok(match self.sink_type {
            SinkType::String => Write::Set {
                key,
                value: value.to_vec(),
            },
            SinkType::Json if self.fields.is_some() => match self.projected_document(json)? {
                Some(document) if self.update == Update::Merge => {
                    Write::JsonMerge { key, document }
                }
                Some(document) => Write::JsonSet { key, document },
                None => Write::Skip,
            },
            SinkType::Hash if self.fields.is_some() => match self.projected_fields(json)? {
                fields if fields.is_empty() => Write::Skip,
                fields if self.update == Update::Replace => Write::HashReplace { key, fields },
                fields => Write::HashSet { key, fields },
            },
            SinkType::Stream if self.fields.is_some() => match self.projected_fields(json)? {
                fields if fields.is_empty() => Write::Skip,
                fields => Write::StreamAdd {
                    key,
                    trim: self.trim_for(record, &parsed)?,
                    fields,
                },
            },
            SinkType::Hash | SinkType::Stream if self.flat_value => {
                self.flat_write(record, &parsed, key, value)?
            }
            SinkType::Json if self.update == Update::Merge => Write::JsonMerge {
                key,
                document: value.to_vec(),
            },
            SinkType::Json => Write::JsonSet {
                key,
                document: value.to_vec(),
            },
            SinkType::Hash => match json {
                Some(Value::Object(map)) if map.is_empty() => Write::Delete { key },
                Some(Value::Object(map)) if self.update == Update::Replace => Write::HashReplace {
                    key,
                    fields: object_fields(map),
                },
                Some(Value::Object(map)) => Write::HashSet {
                    key,
                    fields: object_fields(map),
                },
                _ => return Err(Error::Record("HASH needs a JSON object value".to_string())),
            },
            SinkType::Stream => match json {
                Some(Value::Object(map)) if map.is_empty() => {
                    return Err(Error::Record(
                        "STREAM needs a non-empty JSON object or a scalar".to_string(),
                    ))
                }
                Some(Value::Object(map)) => Write::StreamAdd {
                    key,
                    trim: self.trim_for(record, &parsed)?,
                    fields: object_fields(map),
                },
                _ => Write::StreamAdd {
                    key,
                    trim: self.trim_for(record, &parsed)?,
                    fields: vec![(b"value".to_vec(), value.to_vec())],
                },
            },
            SinkType::List => Write::Push {
                key,
                member: member()?,
                left: self.push_left,
            },
            SinkType::Set => Write::SetAdd {
                key,
                member: member()?,
            },
            SinkType::Zset => Write::ZAdd {
                key,
                score: number(&self.score.render(record, &parsed)?, "score")?,
                member: member()?,
            },
            SinkType::Timeseries => Write::TsAdd {
                key,
                timestamp: record
                    .timestamp
                    .map_or_else(|| b"*".to_vec(), |ts| ts.to_string().into_bytes()),
                value: number(value, "value")?,
                on_duplicate: self.on_duplicate,
            },
            SinkType::Publish => self.publish(record, &parsed, value)?,
        })
    }

    /// HASH or STREAM from the value's fields read straight from its JSON text; the same
    /// writes and errors as through a JSON tree.
    fn flat_write(
        &self,
        record: &Record<'_>,
        parsed: &Parsed<'_>,
        key: Vec<u8>,
        value: &[u8],
    ) -> Result<Write, Error> {
        let document = flat_object::parse(value);
        Ok(match (self.sink_type, document) {
            (SinkType::Hash, Err(e)) => {
                return Err(Error::Record(format!("value is not JSON: {e}")))
            }
            (SinkType::Hash, Ok(TopLevel::Object(fields))) if fields.is_empty() => {
                Write::Delete { key }
            }
            (SinkType::Hash, Ok(TopLevel::Object(fields))) if self.update == Update::Replace => {
                Write::HashReplace { key, fields }
            }
            (SinkType::Hash, Ok(TopLevel::Object(fields))) => Write::HashSet { key, fields },
            (SinkType::Hash, Ok(TopLevel::Other)) => {
                return Err(Error::Record("HASH needs a JSON object value".to_string()))
            }
            (_, Ok(TopLevel::Object(fields))) if fields.is_empty() => {
                return Err(Error::Record(
                    "STREAM needs a non-empty JSON object or a scalar".to_string(),
                ))
            }
            (_, Ok(TopLevel::Object(fields))) => Write::StreamAdd {
                key,
                trim: self.trim_for(record, parsed)?,
                fields,
            },
            (_, _) => Write::StreamAdd {
                key,
                trim: self.trim_for(record, parsed)?,
                fields: vec![(b"value".to_vec(), value.to_vec())],
            },
        })
    }

    /// A STREAM sink's trimming for this record; a MINID that does not render a stream ID is
    /// the record's error.
    fn trim_for(
        &self,
        record: &Record<'_>,
        parsed: &Parsed<'_>,
    ) -> Result<Option<Trimming>, Error> {
        let Some(trim) = &self.trim else {
            return Ok(None);
        };
        Ok(Some(match &trim.by {
            TrimBy::MaxLen(n) => ("MAXLEN", trim.approximate, n.to_string().into_bytes()),
            TrimBy::MinId(template) => {
                let id = template.render(record, parsed)?;
                let valid = std::str::from_utf8(&id).ok().and_then(parse_stream_id);
                if valid.is_none() {
                    return Err(Error::Record(format!(
                        "MINID {} rendered {}, not a stream ID",
                        template.source(),
                        quoted(&id)
                    )));
                }
                ("MINID", trim.approximate, id)
            }
        }))
    }

    /// The value's FIELDS as hash or stream fields (empty when only optional ones were absent).
    fn projected_fields(&self, json: Option<&Value>) -> Result<projection::Fields, Error> {
        match &self.fields {
            Some(fields) => projection::flat(fields, json),
            None => Ok(Vec::new()),
        }
    }

    fn projected_document(&self, json: Option<&Value>) -> Result<Option<Vec<u8>>, Error> {
        match &self.fields {
            Some(fields) => projection::document(fields, json),
            None => Ok(None),
        }
    }

    fn publish(
        &self,
        record: &Record<'_>,
        parsed: &Parsed<'_>,
        value: &[u8],
    ) -> Result<Write, Error> {
        Ok(Write::Publish {
            channel: self.channel.render(record, parsed)?,
            message: value.to_vec(),
        })
    }
}

/// Checks that `text` is a number Redis accepts and returns it trimmed.
fn number(text: &[u8], what: &str) -> Result<Vec<u8>, Error> {
    let trimmed = std::str::from_utf8(text).map(str::trim).unwrap_or("");
    match trimmed.parse::<f64>() {
        Ok(n) if !n.is_nan() => Ok(trimmed.as_bytes().to_vec()),
        // Record content never goes into an error: errors travel in DLQ headers and replies.
        _ => Err(Error::Record(format!(
            "{what} is not a number ({} bytes)",
            text.len()
        ))),
    }
}

fn object_fields(map: &serde_json::Map<String, Value>) -> Vec<(Vec<u8>, Vec<u8>)> {
    map.iter()
        .map(|(field, value)| {
            let mut text = Vec::new();
            append_scalar(value, &mut text);
            (field.as_bytes().to_vec(), text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::args::Args;
    use crate::spec::sink_parse::parse_sink_create;

    fn rec<'a>(key: Option<&'a [u8]>, value: Option<&'a [u8]>) -> Record<'a> {
        Record {
            topic: "t",
            partition: 0,
            offset: 7,
            timestamp: Some(1_700_000_000_123),
            key,
            value,
            ttl_header: None,
            headers: None,
        }
    }

    fn mapper(options: &str) -> Mapper {
        let line = format!("s TOPICS t {options}");
        let items = line
            .split_whitespace()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        Mapper::new(&parse_sink_create(Args::new(items)).unwrap())
    }

    fn write(m: &Mapper, r: Record<'_>) -> Write {
        m.map(&r).unwrap().write
    }

    fn command(m: &Mapper, r: Record<'_>) -> (String, Vec<String>) {
        let w = write(m, r);
        let (name, args) = w.command().unwrap();
        (
            name.to_string(),
            args.iter()
                .map(|a| String::from_utf8_lossy(a).to_string())
                .collect(),
        )
    }

    fn cmd(name: &str, args: &[&str]) -> (String, Vec<String>) {
        (
            name.to_string(),
            args.iter().map(|a| a.to_string()).collect(),
        )
    }

    #[test]
    fn string_stores_raw_bytes() {
        let w = write(&mapper(""), rec(Some(b"k"), Some(b"\x00not json\xff")));
        assert_eq!(
            w,
            Write::Set {
                key: b"t:k".to_vec(),
                value: b"\x00not json\xff".to_vec()
            }
        );
    }

    #[test]
    fn tombstone_deletes_key_for_keyed_types() {
        for t in ["STRING", "HASH", "JSON"] {
            let w = write(&mapper(&format!("TYPE {t}")), rec(Some(b"k"), None));
            assert_eq!(
                w,
                Write::Delete {
                    key: b"t:k".to_vec()
                }
            );
        }
    }

    #[test]
    fn tombstone_is_skipped_for_streams_and_timeseries() {
        for t in ["STREAM", "TIMESERIES"] {
            let w = write(&mapper(&format!("TYPE {t}")), rec(Some(b"k"), None));
            assert_eq!(w, Write::Skip);
            assert!(w.command().is_none());
        }
    }

    #[test]
    fn hash_flattens_object_scalars_and_keeps_nested_as_json() {
        let v = br#"{"name":"ann","age":31,"vip":true,"tags":["a"],"addr":{"city":"x"},"n":null}"#;
        let Write::HashSet { key, fields } =
            write(&mapper("TYPE HASH KEY ${key}"), rec(Some(b"u1"), Some(v)))
        else {
            panic!("not a hash write")
        };
        assert_eq!(key, b"u1");
        let text: Vec<(String, String)> = fields
            .into_iter()
            .map(|(f, v)| (String::from_utf8(f).unwrap(), String::from_utf8(v).unwrap()))
            .collect();
        for pair in [
            ("name", "ann"),
            ("age", "31"),
            ("vip", "true"),
            ("tags", r#"["a"]"#),
            ("addr", r#"{"city":"x"}"#),
            ("n", "null"),
        ] {
            assert!(text.contains(&(pair.0.into(), pair.1.into())), "{pair:?}");
        }
    }

    #[test]
    fn hash_rejects_non_objects() {
        let m = mapper("TYPE HASH");
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
        let m = mapper("TYPE JSON KEY pv:${value.userid}");
        assert_eq!(
            command(&m, rec(None, Some(br#"{"userid":1451}"#))),
            cmd("JSON.SET", &["pv:1451", "$", r#"{"userid":1451}"#])
        );
        assert!(m.map(&rec(None, Some(b"{oops"))).is_err());
    }

    #[test]
    fn stream_adds_object_fields_or_single_value_field() {
        let m = mapper("TYPE STREAM");
        assert_eq!(
            command(&m, rec(None, Some(br#"{"a":1}"#))),
            cmd("XADD", &["t", "*", "a", "1"])
        );
        assert_eq!(
            command(&m, rec(None, Some(b"42"))),
            cmd("XADD", &["t", "*", "value", "42"])
        );
        assert_eq!(
            command(&m, rec(None, Some(b"plain text"))),
            cmd("XADD", &["t", "*", "value", "plain text"])
        );
        assert!(m.map(&rec(None, Some(b"{}"))).is_err());
    }

    #[test]
    fn list_pushes_member_and_tombstone_removes_it() {
        let m = mapper("TYPE LIST");
        assert_eq!(
            command(&m, rec(Some(b"k1"), Some(b"x"))),
            cmd("RPUSH", &["t", "k1"])
        );
        assert_eq!(
            command(&m, rec(Some(b"k1"), None)),
            cmd("LREM", &["t", "0", "k1"])
        );
        let left = mapper("TYPE LIST PUSH LEFT MEMBER ${value}");
        assert_eq!(
            command(&left, rec(Some(b"k1"), Some(b"x"))),
            cmd("LPUSH", &["t", "x"])
        );
    }

    #[test]
    fn set_adds_and_removes_members() {
        let m = mapper("TYPE SET KEY users");
        assert_eq!(
            command(&m, rec(Some(b"ann"), Some(b"1"))),
            cmd("SADD", &["users", "ann"])
        );
        assert_eq!(
            command(&m, rec(Some(b"ann"), None)),
            cmd("SREM", &["users", "ann"])
        );
    }

    #[test]
    fn zset_scores_from_a_template_and_checks_numbers() {
        let m = mapper("TYPE ZSET MEMBER ${value.user} SCORE ${value.points}");
        assert_eq!(
            command(
                &m,
                rec(Some(b"k"), Some(br#"{"user":"ann","points":12.5}"#))
            ),
            cmd("ZADD", &["t", "12.5", "ann"])
        );
        let err = m
            .map(&rec(Some(b"k"), Some(br#"{"user":"ann","points":"lots"}"#)))
            .unwrap_err();
        assert!(err.contains("score is not a number"), "{err}");
        let plain = mapper("TYPE ZSET");
        assert_eq!(
            command(&plain, rec(Some(b"m"), Some(b" 3 "))),
            cmd("ZADD", &["t", "3", "m"])
        );
        assert_eq!(
            command(&plain, rec(Some(b"m"), None)),
            cmd("ZREM", &["t", "m"])
        );
    }

    #[test]
    fn timeseries_adds_value_at_record_timestamp() {
        let m = mapper("TYPE TIMESERIES KEY ts:${key}");
        assert_eq!(
            command(&m, rec(Some(b"cpu"), Some(b"0.75"))),
            cmd(
                "TS.ADD",
                &["ts:cpu", "1700000000123", "0.75", "ON_DUPLICATE", "LAST"]
            )
        );
        let block = mapper("TYPE TIMESERIES ON-DUPLICATE block");
        assert_eq!(
            command(&block, rec(Some(b"cpu"), Some(b"1"))),
            cmd(
                "TS.ADD",
                &["t", "1700000000123", "1", "ON_DUPLICATE", "BLOCK"]
            )
        );
        assert!(m
            .map(&rec(Some(b"cpu"), Some(b"hot")))
            .unwrap_err()
            .contains("value is not a number"));
    }

    #[test]
    fn publish_sends_the_raw_value_on_the_rendered_channel() {
        let m = mapper("TYPE PUBLISH");
        let binary = b"a\x00b\r\n\xff";
        let w = write(&m, rec(Some(b"k"), Some(binary)));
        assert_eq!(
            w,
            Write::Publish {
                channel: b"t".to_vec(),
                message: binary.to_vec()
            }
        );
        assert_eq!(w.command().unwrap().0, "PUBLISH");
        assert_eq!((w.key(), w.expiring_key()), (None, None));
        assert_eq!(w.slot_name(), Some(&b"t"[..]));
        let templated = mapper("TYPE PUBLISH CHANNEL ev:${key}:${value.kind}");
        assert_eq!(
            command(&templated, rec(Some(b"u1"), Some(br#"{"kind":"click"}"#))),
            cmd("PUBLISH", &["ev:u1:click", r#"{"kind":"click"}"#])
        );
        assert!(templated
            .map(&rec(Some(b"u1"), Some(b"not json")))
            .unwrap_err()
            .contains("not JSON"));
    }

    #[test]
    fn publish_skips_tombstones_and_ignores_ttl_headers() {
        let m = mapper("TYPE PUBLISH CHANNEL ${value.kind}");
        assert_eq!(write(&m, rec(Some(b"k"), None)), Write::Skip);
        let mut r = rec(Some(b"k"), Some(br#"{"kind":"a"}"#));
        r.ttl_header = Some(b"soon");
        let mapped = m.map(&r).unwrap();
        assert_eq!(mapped.ttl, None);
        assert_eq!(mapped.bytes, 1 + r.value.unwrap().len());
    }

    #[test]
    fn ttl_from_sink_and_header_only_on_writes() {
        let m = mapper("TTL 60");
        assert_eq!(m.map(&rec(Some(b"k"), Some(b"v"))).unwrap().ttl, Some(60));
        assert_eq!(m.map(&rec(Some(b"k"), None)).unwrap().ttl, None);
        let mut r = rec(Some(b"k"), Some(b"v"));
        r.ttl_header = Some(b"5");
        assert_eq!(m.map(&r).unwrap().ttl, Some(5));
        r.ttl_header = Some(b"0");
        assert_eq!(m.map(&r).unwrap().ttl, None);
        r.ttl_header = Some(b"soon");
        assert!(m.map(&r).unwrap_err().contains("redis.ttl"));
        let no_default = mapper("TYPE SET");
        let mut r = rec(Some(b"k"), Some(b"v"));
        r.ttl_header = Some(b"9");
        assert_eq!(no_default.map(&r).unwrap().ttl, Some(9));
    }

    #[test]
    fn string_key_from_json_field_when_value_is_not_json_fails_cleanly() {
        let m = mapper("KEY ${value.id}");
        assert!(m
            .map(&rec(None, Some(b"plain")))
            .unwrap_err()
            .contains("not JSON"));
    }
}
