//! A HASH or STREAM sink's value read straight into field/value pairs, without building a JSON
//! tree first: the tree cost about a third of such a sink's mapping (a map node, a string per
//! key and per value, then a copy of each into the pairs).
//!
//! The pairs are exactly what the tree gave: fields sorted by name, the last of repeated
//! names kept, strings unescaped, numbers printed as serde_json prints them, nested values as
//! compact JSON.

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;
use std::io::Write;

pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// A JSON document: an object's fields, or something else (a scalar or an array).
pub enum TopLevel {
    Object(Fields),
    Other,
}

/// Parses `bytes` as one JSON document (trailing characters are an error, as for a tree).
pub fn parse(bytes: &[u8]) -> Result<TopLevel, serde_json::Error> {
    serde_json::from_slice(bytes)
}

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TopLevel, D::Error> {
        deserializer.deserialize_any(TopLevelVisitor)
    }
}

struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
        let mut fields: Fields = Vec::with_capacity(map.size_hint().unwrap_or(8).min(64));
        while let Some(FieldName(name)) = map.next_key()? {
            let FieldText(text) = map.next_value()?;
            fields.push((name, text));
        }
        // A stable sort keeps repeated names in document order: the last one wins.
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        let mut kept: Fields = Vec::with_capacity(fields.len());
        for pair in fields {
            match kept.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => kept.push(pair),
            }
        }
        Ok(TopLevel::Object(kept))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TopLevel, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(TopLevel::Other)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }
}

struct FieldName(Vec<u8>);

impl<'de> Deserialize<'de> for FieldName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FieldName, D::Error> {
        deserializer.deserialize_str(FieldNameVisitor)
    }
}

struct FieldNameVisitor;

impl<'de> Visitor<'de> for FieldNameVisitor {
    type Value = FieldName;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<FieldName, E> {
        Ok(FieldName(name.as_bytes().to_vec()))
    }
}

/// A field's value as the text a hash or stream field holds.
struct FieldText(Vec<u8>);

impl<'de> Deserialize<'de> for FieldText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FieldText, D::Error> {
        deserializer.deserialize_any(FieldTextVisitor)
    }
}

struct FieldTextVisitor;

impl FieldTextVisitor {
    fn printed(value: impl fmt::Display) -> FieldText {
        let mut text = Vec::with_capacity(20);
        let _ = write!(text, "{value}");
        FieldText(text)
    }
}

impl<'de> Visitor<'de> for FieldTextVisitor {
    type Value = FieldText;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<FieldText, E> {
        Ok(FieldText(text.as_bytes().to_vec()))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<FieldText, E> {
        Ok(FieldTextVisitor::printed(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<FieldText, E> {
        Ok(FieldTextVisitor::printed(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<FieldText, E> {
        Ok(FieldTextVisitor::printed(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<FieldText, E> {
        // serde_json's own printing of a float (never NaN or infinite from a parse).
        Ok(FieldTextVisitor::printed(Value::from(value)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<FieldText, E> {
        Ok(FieldText(b"null".to_vec()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<FieldText, A::Error> {
        let value = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(FieldTextVisitor::printed(value))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FieldText, A::Error> {
        let value = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(FieldTextVisitor::printed(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::template::append_scalar;

    /// What the JSON tree gave for the same document.
    fn through_tree(bytes: &[u8]) -> Result<Option<Fields>, String> {
        match serde_json::from_slice::<Value>(bytes) {
            Err(e) => Err(e.to_string()),
            Ok(Value::Object(map)) => Ok(Some(
                map.iter()
                    .map(|(field, value)| {
                        let mut text = Vec::new();
                        append_scalar(value, &mut text);
                        (field.as_bytes().to_vec(), text)
                    })
                    .collect(),
            )),
            Ok(_) => Ok(None),
        }
    }

    fn direct(bytes: &[u8]) -> Result<Option<Fields>, String> {
        match parse(bytes) {
            Err(e) => Err(e.to_string()),
            Ok(TopLevel::Object(fields)) => Ok(Some(fields)),
            Ok(TopLevel::Other) => Ok(None),
        }
    }

    #[test]
    fn gives_what_the_tree_gave() {
        let documents: &[&[u8]] = &[
            br#"{"id":1,"user":"u1","payload":"xxx"}"#,
            br#"{"b":1,"a":2,"b":3}"#,
            br#"{"z":null,"y":true,"x":false,"w":-0,"v":-12,"u":18446744073709551615}"#,
            br#"{"big":123456789012345678901234567890,"f":1.5e3,"g":0.1,"h":-1E-7,"i":1.0}"#,
            br#"{"nested":{"b" : [1, 2 ,{"c":"d"}], "a":{}},"arr":[ ],"s":"q\"\\\/\b\f\n\r\tA\u00e9\ud83d\ude00"}"#,
            br#"{"":"empty name","\u0000":"nul","k\u0000":"v\u0000"}"#,
            br#"  {"spaces" : "around"}  "#,
            br#"{}"#,
            br#"[1,{"a":2}]"#,
            br#""a string""#,
            br#"12"#,
            br#"null"#,
            br#"{"a":1} trailing"#,
            br#"{"a":1,}"#,
            br#"{"a":"\ud800"}"#,
            br#"{"a":1e999}"#,
            b"{\"a\":\"\xff\"}",
            b"",
            b"{\"a\":",
            br#"{"deep":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}"#,
        ];
        for document in documents {
            assert_eq!(
                direct(document),
                through_tree(document),
                "{}",
                String::from_utf8_lossy(document)
            );
        }
    }

    #[test]
    fn deep_nesting_is_no_stack_overflow() {
        // In a field: serde_json's recursion limit, as for a tree.
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(direct(deep.as_bytes()).is_err());
        // At the top: skipped without recursion; it is not an object either way.
        let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(direct(deep.as_bytes()), Ok(None));
    }
}
