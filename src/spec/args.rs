//! A cursor over command arguments with Redis-style keyword matching.

use crate::error::{arg_error, Error};

pub struct Args {
    items: Vec<Vec<u8>>,
    pos: usize,
}

impl Args {
    pub fn new(items: Vec<Vec<u8>>) -> Args {
        Args { items, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.items.len()
    }

    /// The next argument as raw bytes, or an error naming what was expected.
    pub fn next_bytes(&mut self, what: &str) -> Result<Vec<u8>, Error> {
        match self.items.get(self.pos) {
            Some(item) => {
                self.pos += 1;
                Ok(item.clone())
            }
            None => Err(Error::Missing(what.to_string())),
        }
    }

    pub fn next_str(&mut self, what: &str) -> Result<String, Error> {
        let bytes = self.next_bytes(what)?;
        String::from_utf8(bytes).or_else(|_| arg_error(format!("{what} must be UTF-8 text")))
    }

    /// Consumes the next argument when it is `word` (any case).
    pub fn take_if(&mut self, word: &str) -> bool {
        let next = self.items.get(self.pos);
        let matches = next.is_some_and(|item| item.eq_ignore_ascii_case(word.as_bytes()));
        if matches {
            self.pos += 1;
        }
        matches
    }

    /// The next argument as an uppercase keyword.
    pub fn next_keyword(&mut self) -> Option<String> {
        let item = self.items.get(self.pos)?;
        self.pos += 1;
        Some(String::from_utf8_lossy(item).to_ascii_uppercase())
    }
}

/// Rejects a repeated option so that `TYPE HASH ... TYPE JSON` is not silently resolved.
pub fn set_once<T>(slot: &mut Option<T>, value: T, option: &str) -> Result<(), Error> {
    if slot.is_some() {
        return arg_error(format!("option {option} given twice"));
    }
    *slot = Some(value);
    Ok(())
}

/// Kafka's legal topic and group characters; bridge names follow the same rule so they can be
/// embedded in keys and group ids unquoted.
pub fn check_kafka_name(what: &str, name: &str, max: usize) -> Result<(), Error> {
    if name.is_empty() || name.len() > max {
        return arg_error(format!("{what} must be 1 to {max} characters"));
    }
    if name == "." || name == ".." {
        return arg_error(format!("{what} '{name}' is not allowed"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return arg_error(format!(
            "{what} '{name}' contains '{c}' (allowed: letters, digits, '.', '_', '-')"
        ));
    }
    Ok(())
}
