//! Reads the JSON a user posts to Kafka Connect into the list of its properties, strictly: a
//! repeated property is refused (Connect would keep the last one silently), and so is any value
//! that is not text. Numbers and booleans are taken as their JSON text, as Connect's REST API
//! takes them (`"tasks.max": 1`); nulls, objects, arrays and fractional numbers are refused.

use crate::error::{arg_error, Error};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// The largest connector config IMPORT reads. A real one is a few KB; the translated CREATE is
/// stored in the bridge's definition, which holds at most 64 KiB of arguments.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// One JSON value, kept only as far as a connector config needs it.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Text(String),
    /// An integer or a boolean, kept as its JSON text.
    Scalar(String),
    Fraction,
    Null,
    Array,
    Object(Vec<(String, Json)>),
}

impl Json {
    fn kind(&self) -> &'static str {
        match self {
            Json::Text(_) => "a string",
            Json::Scalar(_) => "a number or boolean",
            Json::Fraction => "a fractional number",
            Json::Null => "null",
            Json::Array => "an array",
            Json::Object(_) => "an object",
        }
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Scalar(v.to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Scalar(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Scalar(v.to_string()))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Json, E> {
        Ok(Json::Fraction)
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Text(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::Text(v))
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        while seq.next_element::<Json>()?.is_some() {}
        Ok(Json::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries: Vec<(String, Json)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(de::Error::custom(format!(
                    "property '{}' given twice",
                    shown(&key)
                )));
            }
            let value = map.next_value::<Json>()?;
            entries.push((key, value));
        }
        Ok(Json::Object(entries))
    }
}

impl<'de> serde::Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

/// A property name as an error shows it: at most 100 characters, control characters escaped.
pub fn shown(name: &str) -> String {
    let mut out: String = name
        .chars()
        .take(100)
        .flat_map(char::escape_debug)
        .collect();
    if name.chars().count() > 100 {
        out.push_str("...");
    }
    out
}

/// The connector's properties, in the order given. Accepts the `config` object itself or
/// Connect's REST body `{"name": ..., "config": {...}}` (also as `GET /connectors/<name>`
/// returns it, with `tasks` and `type`), whose `config` is used.
pub fn read_properties(bytes: &[u8]) -> Result<Vec<(String, String)>, Error> {
    if bytes.len() > MAX_JSON_BYTES {
        return arg_error(format!(
            "the connector config is {} bytes, more than {MAX_JSON_BYTES}",
            bytes.len()
        ));
    }
    if std::str::from_utf8(bytes).is_err() {
        return arg_error("the connector config must be UTF-8 JSON");
    }
    let parsed: Json = serde_json::from_slice(bytes)
        .map_err(|e| Error::Arg(format!("the connector config is not valid JSON: {e}")))?;
    let Json::Object(top) = parsed else {
        return arg_error(format!(
            "the connector config must be a JSON object, got {}",
            parsed.kind()
        ));
    };
    let config = match top.iter().find(|(k, _)| k == "config") {
        Some((_, Json::Object(config))) => {
            if let Some((other, _)) = top
                .iter()
                .find(|(k, _)| !matches!(k.as_str(), "name" | "config" | "tasks" | "type"))
            {
                return arg_error(format!(
                    "the Connect REST body has '{}' beside 'config' (expected only name, config, tasks, type)",
                    shown(other)
                ));
            }
            config.clone()
        }
        Some((_, other)) => {
            return arg_error(format!(
                "'config' must be the connector's config object, got {}",
                other.kind()
            ))
        }
        None => top,
    };
    config
        .into_iter()
        .map(|(name, value)| match value {
            Json::Text(text) | Json::Scalar(text) => Ok((name, text)),
            other => arg_error(format!(
                "property '{}' must be a string (Kafka Connect configs map names to strings), got {}",
                shown(&name),
                other.kind()
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<(String, String)>, Error> {
        read_properties(text.as_bytes())
    }

    fn err(text: &str) -> String {
        read(text).unwrap_err().to_string()
    }

    #[test]
    fn reads_a_flat_config_in_order() {
        let props = read(r#"{"b":"1","a":"x y","c":""}"#).unwrap();
        assert_eq!(
            props,
            vec![
                ("b".into(), "1".into()),
                ("a".into(), "x y".into()),
                ("c".into(), "".into())
            ]
        );
    }

    #[test]
    fn reads_the_config_of_a_rest_body() {
        let body = r#"{"name":"redis-sink","config":{"topics":"t"},"tasks":[],"type":"sink"}"#;
        assert_eq!(read(body).unwrap(), vec![("topics".into(), "t".into())]);
        assert!(err(r#"{"name":"x","config":{},"extra":"1"}"#).contains("'extra' beside 'config'"));
        assert!(
            err(r#"{"config":"nope"}"#).contains("'config' must be the connector's config object")
        );
    }

    #[test]
    fn numbers_and_booleans_are_their_text_other_values_are_refused() {
        assert_eq!(
            read(r#"{"tasks.max":1,"redis.cluster":true,"n":-5}"#).unwrap(),
            vec![
                ("tasks.max".into(), "1".into()),
                ("redis.cluster".into(), "true".into()),
                ("n".into(), "-5".into())
            ]
        );
        for (value, kind) in [
            ("null", "null"),
            ("1.5", "a fractional number"),
            ("[1]", "an array"),
            (r#"{"a":"b"}"#, "an object"),
        ] {
            let e = err(&format!(r#"{{"topics":{value}}}"#));
            assert!(e.contains("property 'topics' must be a string"), "{e}");
            assert!(e.ends_with(kind), "{e}");
        }
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_level() {
        assert!(err(r#"{"topics":"a","topics":"b"}"#).contains("property 'topics' given twice"));
        assert!(err(r#"{"config":{"x":"1","x":"1"}}"#).contains("given twice"));
    }

    #[test]
    fn hostile_input_gets_a_clear_error() {
        assert!(err("").contains("not valid JSON"));
        assert!(err("{").contains("not valid JSON"));
        assert!(err(r#"{"a":"b"} trailing"#).contains("not valid JSON"));
        assert!(err("[]").contains("must be a JSON object, got an array"));
        assert!(err(r#""text""#).contains("must be a JSON object, got a string"));
        assert!(err("42").contains("got a number"));
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(err(&format!(r#"{{"a":{deep}}}"#)).contains("recursion limit"));
        let deep_objects = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
        assert!(err(&deep_objects).contains("not valid JSON"));
        let huge = format!(r#"{{"topics":"{}"}}"#, "t".repeat(MAX_JSON_BYTES));
        assert!(err(&huge).contains("more than 65536"));
        assert!(read_properties(b"{\"a\":\"\xff\"}")
            .unwrap_err()
            .to_string()
            .contains("must be UTF-8"));
        assert!(err(r#"{"a":"\ud800"}"#).contains("not valid JSON"));
        assert!(err("{\"a\":1e999}").contains("not valid JSON"));
    }

    #[test]
    fn long_or_odd_names_are_shown_bounded_and_escaped() {
        let name = format!("x\n{}", "y".repeat(500));
        let e = err(&format!(r#"{{"{}":null}}"#, name.replace('\n', "\\n")));
        assert!(e.contains("x\\nyyy"), "{e}");
        assert!(e.contains("...'"), "{e}");
        assert!(e.len() < 300, "{e}");
    }
}
