//! The kinds of value a `kafka.*` setting holds. Each keeps its DEFAULT, MIN and MAX beside
//! the atomic it lives in, so a setting is declared in one line where it is defined.

use crate::error::Error;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

/// A whole number within `MIN..=MAX`; `memory` ones also take Redis's units (`4mb`, `1gb`).
pub struct Number {
    value: AtomicI64,
    pub min: i64,
    pub max: i64,
    pub memory: bool,
}

impl Number {
    pub const fn new(default: i64, min: i64, max: i64) -> Number {
        Number {
            value: AtomicI64::new(default),
            min,
            max,
            memory: false,
        }
    }

    pub const fn bytes(default: i64, min: i64, max: i64) -> Number {
        Number {
            memory: true,
            ..Number::new(default, min, max)
        }
    }

    pub fn get(&self) -> i64 {
        self.value.load(Ordering::Relaxed)
    }

    /// At least 1, as a count or size.
    pub fn positive(&self) -> usize {
        usize::try_from(self.get().max(1)).unwrap_or(usize::MAX)
    }

    pub fn set(&self, value: i64) -> Result<(), Error> {
        if !(self.min..=self.max).contains(&value) {
            return Err(Error::Arg(format!(
                "must be from {} to {}, got {value}",
                self.min, self.max
            )));
        }
        self.value.store(value, Ordering::Relaxed);
        Ok(())
    }

    /// Parses text the way Redis parses this config in redis.conf and CONFIG SET.
    pub fn parse(&self, text: &str) -> Result<i64, Error> {
        let parsed = if self.memory {
            parse_memory(text)
        } else {
            text.trim().parse::<i64>().ok()
        };
        match parsed {
            Some(n) if (self.min..=self.max).contains(&n) => Ok(n),
            _ => Err(Error::Arg(format!(
                "must be a number from {} to {}{}, got '{text}'",
                self.min,
                self.max,
                if self.memory {
                    " (units b, k, kb, m, mb, g, gb allowed)"
                } else {
                    ""
                }
            ))),
        }
    }
}

/// Redis's memory notation: a number with an optional unit, k/m/g powers of 1000 and
/// kb/mb/gb powers of 1024.
fn parse_memory(text: &str) -> Option<i64> {
    let lower = text.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit() && c != '-')
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let multiplier: i64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    digits.parse::<i64>().ok()?.checked_mul(multiplier)
}

/// yes or no.
pub struct Flag {
    value: AtomicBool,
}

impl Flag {
    pub const fn new(default: bool) -> Flag {
        Flag {
            value: AtomicBool::new(default),
        }
    }

    pub fn get(&self) -> bool {
        self.value.load(Ordering::Relaxed)
    }

    pub fn set(&self, value: bool) {
        self.value.store(value, Ordering::Relaxed);
    }

    pub fn parse(text: &str) -> Result<bool, Error> {
        match text.trim().to_ascii_lowercase().as_str() {
            "yes" | "true" | "1" | "on" => Ok(true),
            "no" | "false" | "0" | "off" => Ok(false),
            _ => Err(Error::Arg(format!("must be yes or no, got '{text}'"))),
        }
    }
}

/// Free text, normalized and checked by `check` before it is stored.
pub struct Text {
    /// None until set: the default holds.
    value: Mutex<Option<String>>,
    default: &'static str,
    check: fn(&str) -> Result<String, Error>,
}

impl Text {
    pub const fn new(default: &'static str, check: fn(&str) -> Result<String, Error>) -> Text {
        Text {
            value: Mutex::new(None),
            default,
            check,
        }
    }

    pub fn get(&self) -> String {
        self.value
            .lock()
            .clone()
            .unwrap_or_else(|| self.default.to_string())
    }

    /// The normalized text, or why it is refused.
    pub fn parse(&self, text: &str) -> Result<String, Error> {
        (self.check)(text)
    }

    pub fn set(&self, text: &str) -> Result<(), Error> {
        *self.value.lock() = Some(self.parse(text)?);
        Ok(())
    }

    /// Back to the default, freeing the text (MODULE UNLOAD: statics are never dropped).
    pub fn reset(&self) {
        *self.value.lock() = None;
    }
}

/// One of a fixed list of names, each with the number Redis stores for it.
pub struct Choice {
    value: AtomicI64,
    pub default: i32,
    pub options: &'static [(&'static str, i32)],
}

impl Choice {
    pub const fn new(default: i32, options: &'static [(&'static str, i32)]) -> Choice {
        Choice {
            value: AtomicI64::new(default as i64),
            default,
            options,
        }
    }

    pub fn get(&self) -> i32 {
        i32::try_from(self.value.load(Ordering::Relaxed)).unwrap_or(self.default)
    }

    pub fn set(&self, value: i32) -> Result<(), Error> {
        if !self.options.iter().any(|(_, v)| *v == value) {
            return Err(Error::Arg(format!("unknown value {value}")));
        }
        self.value.store(i64::from(value), Ordering::Relaxed);
        Ok(())
    }

    pub fn parse(&self, text: &str) -> Result<i32, Error> {
        self.options
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text.trim()))
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let names: Vec<&str> = self.options.iter().map(|(n, _)| *n).collect();
                Error::Arg(format!("must be one of {}, got '{text}'", names.join(", ")))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_check_their_range_and_memory_units() {
        let plain = Number::new(5, 1, 10);
        assert_eq!(plain.parse("7").unwrap(), 7);
        assert!(plain.parse("0").is_err());
        assert!(plain.parse("1kb").is_err());
        let bytes = Number::bytes(1 << 20, 1 << 10, 1 << 30);
        assert_eq!(bytes.parse("4mb").unwrap(), 4 << 20);
        assert_eq!(bytes.parse("4M").unwrap(), 4_000_000);
        assert_eq!(bytes.parse("2048").unwrap(), 2048);
        assert!(bytes.parse("2gb").is_err());
        assert!(bytes.parse("12xb").is_err());
        assert!(bytes.parse("99999999999999999999gb").is_err());
        assert!(bytes.set(1).is_err());
        assert_eq!(bytes.get(), 1 << 20);
    }

    #[test]
    fn flags_and_choices_parse_like_their_configs() {
        assert!(Flag::parse("YES").unwrap());
        assert!(!Flag::parse("off").unwrap());
        assert!(Flag::parse("maybe").is_err());
        let choice = Choice::new(4, &[("error", 3), ("warning", 4)]);
        assert_eq!(choice.parse("Error").unwrap(), 3);
        assert!(choice.parse("loud").unwrap_err().contains("error, warning"));
        assert!(choice.set(9).is_err());
    }
}
