//! `loadmodule <path> [<name> <value> ...]`: each pair sets a setting's starting value with the
//! parser its config uses; names may carry the `kafka.` prefix or not. redis.conf lines
//! (`kafka.<name> <value>`) are applied after these and win.

use crate::error::Error;
use crate::settings::values::Flag;
use crate::settings::{Raw, Setting, Value, ALL};

pub fn apply(args: &[(String, String)]) -> Result<(), Error> {
    for (name, value) in args {
        let bare = name.strip_prefix("kafka.").unwrap_or(name);
        let setting = ALL.iter().find(|s| s.name == bare).ok_or_else(|| {
            let known: Vec<String> = ALL.iter().map(|s| format!("kafka.{}", s.name)).collect();
            Error::Arg(format!(
                "unknown module argument '{name}' (known: {})",
                known.join(", ")
            ))
        })?;
        set_from_text(setting, value).map_err(|e| e.context(name))?;
    }
    Ok(())
}

/// Pairs from the raw arguments; an odd count is refused.
pub fn pairs(args: &[Vec<u8>]) -> Result<Vec<(String, String)>, Error> {
    if !args.len().is_multiple_of(2) {
        return Err(Error::Arg(
            "module arguments must be <name> <value> pairs".to_string(),
        ));
    }
    Ok(args
        .chunks(2)
        .map(|pair| {
            (
                String::from_utf8_lossy(&pair[0]).into_owned(),
                String::from_utf8_lossy(&pair[1]).into_owned(),
            )
        })
        .collect())
}

/// Parses with the setting's own parser, then sets it the way CONFIG SET does.
fn set_from_text(setting: &Setting, text: &str) -> Result<(), Error> {
    let raw = match &setting.value {
        Value::Number(number) => Raw::Number(number.parse(text)?),
        Value::Flag(_) => Raw::Flag(Flag::parse(text)?),
        Value::Choice(choice) => Raw::Choice(choice.parse(text)?),
        Value::Text(_) => Raw::Text(text.as_bytes()),
    };
    setting.set_raw(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{LOG_LEVEL, SLICE_MAX_BYTES};

    fn args(words: &[&str]) -> Vec<(String, String)> {
        pairs(
            &words
                .iter()
                .map(|w| w.as_bytes().to_vec())
                .collect::<Vec<_>>(),
        )
        .unwrap()
    }

    #[test]
    fn arguments_use_each_configs_own_parser() {
        apply(&args(&[
            "kafka.slice-max-bytes",
            "8mb",
            "log-level",
            "DEBUG",
        ]))
        .unwrap();
        assert_eq!(SLICE_MAX_BYTES.get(), 8 << 20);
        assert_eq!(LOG_LEVEL.get(), 7);
        let unknown = apply(&args(&["kafka.bogus", "1"])).unwrap_err();
        assert!(
            unknown.contains("unknown module argument 'kafka.bogus'"),
            "{unknown}"
        );
        assert!(unknown.contains("kafka.shutdown-timeout-ms"), "{unknown}");
        let range = apply(&args(&["kafka.slice-max-records", "0"])).unwrap_err();
        assert!(
            range.contains("kafka.slice-max-records: must be a number from 1"),
            "{range}"
        );
        assert!(apply(&args(&["kafka.brokers", "nohost"])).is_err());
        assert!(pairs(&[b"kafka.brokers".to_vec()]).is_err());
        apply(&args(&[
            "kafka.slice-max-bytes",
            "4mb",
            "log-level",
            "warning",
        ]))
        .unwrap();
    }
}
