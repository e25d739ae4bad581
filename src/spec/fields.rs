//! `FIELDS` for HASH, JSON and STREAM sinks: which fields of a record's JSON value land in
//! Redis, and under which names. `FIELDS user.id AS uid,page,referrer?` selects the nested
//! `user.id` as `uid`, `page` as `page`, and `referrer` only when the record has it.

use crate::error::{arg_error, Error};
use crate::spec::template_syntax::json_path;

/// More would be a mistake, not a projection; it also bounds the work per record.
pub const MAX_FIELDS: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    /// Where the field is in the record's value (object members by name, array items by index).
    pub path: Vec<String>,
    /// The field's name in Redis: the path as written unless renamed with `AS`. In a JSON
    /// document, dots in the name nest it (`id AS meta.id` gives `{"meta":{"id":...}}`).
    pub name: String,
    /// Marked with a trailing `?`: a record without it is written without it, not an error.
    pub optional: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    source: String,
    pub fields: Vec<Selected>,
}

impl Projection {
    pub fn parse(text: &str) -> Result<Projection, Error> {
        let mut fields: Vec<Selected> = Vec::new();
        for item in text.split(',') {
            let words: Vec<&str> = item.split_whitespace().collect();
            let (written, name) = match words.as_slice() {
                [path] => (*path, None),
                [path, as_word, name] if as_word.eq_ignore_ascii_case("AS") => (*path, Some(*name)),
                [] => return arg_error(format!("empty field in FIELDS '{text}'")),
                _ => {
                    return arg_error(format!(
                        "FIELDS item '{}' must be <path>[?] [AS <name>]",
                        item.trim()
                    ))
                }
            };
            let (path_text, optional) = match written.strip_suffix('?') {
                Some(path) => (path, true),
                None => (written, false),
            };
            let path = json_path(path_text).ok_or_else(|| {
                Error::Arg(format!(
                    "FIELDS path '{path_text}' must be field names joined by '.' (like user.id)"
                ))
            })?;
            let name = name.unwrap_or(path_text).to_string();
            if fields.iter().any(|f| f.name == name) {
                return arg_error(format!("FIELDS names '{name}' twice"));
            }
            fields.push(Selected {
                path,
                name,
                optional,
            });
            if fields.len() > MAX_FIELDS {
                return arg_error(format!("FIELDS selects more than {MAX_FIELDS} fields"));
            }
        }
        Ok(Projection {
            source: text.to_string(),
            fields,
        })
    }

    /// The projection as given at CREATE (for LIST).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// JSON documents nest names by their dots: one name may not be a field inside another
    /// (`a` with `a.b`), nor have an empty segment.
    pub fn check_json_names(&self) -> Result<(), Error> {
        for field in &self.fields {
            if json_path(&field.name).is_none() {
                return arg_error(format!(
                    "FIELDS name '{}' must be field names joined by '.' for TYPE JSON",
                    field.name
                ));
            }
            let inside = format!("{}.", field.name);
            if let Some(other) = self.fields.iter().find(|f| f.name.starts_with(&inside)) {
                return arg_error(format!(
                    "FIELDS names '{}' and '{}' overlap in a JSON document",
                    field.name, other.name
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths_renames_and_optional_fields() {
        let p = Projection::parse("user.id AS uid, page,referrer? ,tags.0 as first").unwrap();
        let got: Vec<(String, String, bool)> = p
            .fields
            .iter()
            .map(|f| (f.path.join("."), f.name.clone(), f.optional))
            .collect();
        assert_eq!(
            got,
            [
                ("user.id".into(), "uid".into(), false),
                ("page".into(), "page".into(), false),
                ("referrer".into(), "referrer".into(), true),
                ("tags.0".into(), "first".into(), false),
            ]
        );
        assert!(p.check_json_names().is_ok());
    }

    #[test]
    fn refuses_what_it_cannot_mean() {
        for (text, want) in [
            ("", "empty field"),
            ("a,,b", "empty field"),
            ("a,", "empty field"),
            ("a AS", "must be <path>[?] [AS <name>]"),
            ("a b", "must be <path>[?] [AS <name>]"),
            ("a AS b c", "must be <path>[?] [AS <name>]"),
            ("a..b", "must be field names joined by '.'"),
            (".a", "must be field names joined by '.'"),
            ("?", "must be field names joined by '.'"),
            ("a,a", "names 'a' twice"),
            ("a AS x,b AS x", "names 'x' twice"),
        ] {
            let err = Projection::parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
        let many: Vec<String> = (0..=MAX_FIELDS).map(|i| format!("f{i}")).collect();
        assert!(Projection::parse(&many.join(","))
            .unwrap_err()
            .contains("more than 1024"));
    }

    #[test]
    fn json_names_must_not_overlap() {
        let err = Projection::parse("a,b AS a.x")
            .unwrap()
            .check_json_names()
            .unwrap_err();
        assert!(err.contains("'a' and 'a.x' overlap"), "{err}");
        assert!(Projection::parse("x AS meta.id,y AS meta.at")
            .unwrap()
            .check_json_names()
            .is_ok());
        assert!(Projection::parse("x AS a..b")
            .unwrap()
            .check_json_names()
            .is_err());
    }
}
