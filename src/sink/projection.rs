//! Applies a sink's `FIELDS` to a record's JSON value: the selected fields, renamed, as hash or
//! stream fields, or as a new JSON document.

use crate::error::Error;
use crate::spec::fields::{Projection, Selected};
use crate::spec::template::{append_scalar, lookup};
use serde_json::{Map, Value};

/// Hash or stream fields as (name, value) pairs, in order.
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// Each selected field that the value has, in FIELDS order; a missing field that is not
/// optional is the record's error.
fn present<'p, 'v>(
    projection: &'p Projection,
    value: Option<&'v Value>,
) -> Result<Vec<(&'p Selected, &'v Value)>, Error> {
    let root =
        value.ok_or_else(|| Error::Record("value is not JSON, needed for FIELDS".to_string()))?;
    let mut found = Vec::with_capacity(projection.fields.len());
    for field in &projection.fields {
        match lookup(root, &field.path) {
            Some(v) => found.push((field, v)),
            None if field.optional => {}
            None => {
                return Err(Error::Record(format!(
                    "value has no field '{}' (selected by FIELDS)",
                    field.path.join(".")
                )))
            }
        }
    }
    Ok(found)
}

/// Hash or stream fields: name → the value's text (strings bare, the rest as compact JSON).
pub fn flat(projection: &Projection, value: Option<&Value>) -> Result<Fields, Error> {
    Ok(present(projection, value)?
        .into_iter()
        .map(|(field, v)| {
            let mut text = Vec::new();
            append_scalar(v, &mut text);
            (field.name.as_bytes().to_vec(), text)
        })
        .collect())
}

/// A JSON document of the selected fields, nested by the dots in their names; `None` when the
/// record has none of them.
pub fn document(projection: &Projection, value: Option<&Value>) -> Result<Option<Vec<u8>>, Error> {
    let found = present(projection, value)?;
    if found.is_empty() {
        return Ok(None);
    }
    let mut root = Map::new();
    for (field, v) in found {
        let mut node = &mut root;
        let mut segments = field.name.split('.').peekable();
        while let Some(segment) = segments.next() {
            if segments.peek().is_none() {
                node.insert(segment.to_string(), v.clone());
                break;
            }
            // CREATE refused names that overlap, so an inner node is always an object.
            let inner = node
                .entry(segment.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            match inner {
                Value::Object(map) => node = map,
                _ => break,
            }
        }
    }
    serde_json::to_vec(&Value::Object(root))
        .map(Some)
        .map_err(|e| Error::Record(format!("FIELDS document: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn flat_fields_follow_fields_order_and_rename() {
        let p = Projection::parse("user.id AS uid,page,ref?,tags").unwrap();
        let v = json(r#"{"page":"/a","user":{"id":7},"tags":["x",1],"other":1}"#);
        assert_eq!(
            flat(&p, Some(&v)).unwrap(),
            [
                (b"uid".to_vec(), b"7".to_vec()),
                (b"page".to_vec(), b"/a".to_vec()),
                (b"tags".to_vec(), br#"["x",1]"#.to_vec()),
            ]
        );
    }

    #[test]
    fn a_missing_required_field_is_the_records_error() {
        let p = Projection::parse("user.id AS uid,page").unwrap();
        let err = flat(&p, Some(&json(r#"{"user":{}}"#))).unwrap_err();
        assert!(
            err.contains("no field 'user.id' (selected by FIELDS)"),
            "{err}"
        );
        let err = flat(&p, Some(&json("5"))).unwrap_err();
        assert!(err.contains("no field 'user.id'"), "{err}");
        let err = flat(&p, None).unwrap_err();
        assert!(err.contains("not JSON"), "{err}");
        // null is a value: present.
        let v = json(r#"{"user":{"id":null},"page":"p"}"#);
        assert_eq!(flat(&p, Some(&v)).unwrap()[0].1, b"null");
    }

    #[test]
    fn documents_nest_by_name() {
        let p = Projection::parse("id AS meta.id,at AS meta.at,body,gone?").unwrap();
        let v = json(r#"{"id":1,"at":"t","body":{"x":[1,2]}}"#);
        let doc: Value = serde_json::from_slice(&document(&p, Some(&v)).unwrap().unwrap()).unwrap();
        assert_eq!(
            doc,
            json(r#"{"meta":{"id":1,"at":"t"},"body":{"x":[1,2]}}"#)
        );
        let p = Projection::parse("a?,b?").unwrap();
        assert_eq!(document(&p, Some(&json("{}"))).unwrap(), None);
    }
}
