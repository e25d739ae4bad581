//! The one `${...}` template syntax every template shares (sink KEY, MEMBER, SCORE, CHANNEL,
//! MINID; source TOPIC and KEY): literal text with placeholders in `${` and `}`. Which
//! placeholders exist depends on where the template is used; the caller resolves each name.

use crate::error::Error;

/// Splits `source` into parts: literal runs become `literal(bytes)`, each `${name}` becomes
/// `placeholder(name)`. An empty template, or a `${` with no `}`, is an error.
pub fn parse_parts<P>(
    source: &str,
    literal: impl Fn(Vec<u8>) -> P,
    placeholder: impl Fn(&str) -> Result<P, Error>,
) -> Result<Vec<P>, Error> {
    let mut parts = Vec::new();
    let mut text = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find("${") {
        text.extend_from_slice(&rest.as_bytes()[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| Error::Arg(format!("unterminated '${{' in template '{source}'")))?;
        if !text.is_empty() {
            parts.push(literal(std::mem::take(&mut text)));
        }
        parts.push(placeholder(&after[..end])?);
        rest = &after[end + 1..];
    }
    text.extend_from_slice(rest.as_bytes());
    if !text.is_empty() {
        parts.push(literal(text));
    }
    if parts.is_empty() {
        return Err(Error::Arg("empty template".to_string()));
    }
    Ok(parts)
}

/// A dotted path into a JSON document (`user.id`, `tags.0`): non-empty segments.
pub fn json_path(path: &str) -> Option<Vec<String>> {
    (!path.is_empty() && path.split('.').all(|f| !f.is_empty()))
        .then(|| path.split('.').map(str::to_string).collect())
}
