//! Keeps secrets passed through CONFIG out of replies, logs, SLOWLOG and MONITOR.

use crate::runtime::reply::Reply;
use redis_module::{raw, Context, RedisString};

pub fn is_secret(property: &str) -> bool {
    let p = property.to_ascii_lowercase();
    p.ends_with("password")
        || p.ends_with("passphrase")
        || p.ends_with("secret")
        || p.contains("sasl.jaas")
        || p.ends_with(".pem")
        || p == "ssl_key"
        || p == "sasl.oauthbearer.config"
}

/// Positions (in the full command, name at 0) of the values of secret CONFIG properties.
/// Errs on the side of hiding: a CONFIG word anywhere followed by a secret name counts.
pub fn secret_positions(args: &[&[u8]]) -> Vec<usize> {
    (1..args.len().saturating_sub(2))
        .filter(|&i| {
            args[i].eq_ignore_ascii_case(b"CONFIG")
                && std::str::from_utf8(args[i + 1]).is_ok_and(is_secret)
        })
        .map(|i| i + 2)
        .collect()
}

/// Hides secret CONFIG values of the running command from SLOWLOG and MONITOR (Redis 7.0+).
pub fn redact_command(ctx: &Context, args: &[RedisString]) {
    let Some(redact) = (unsafe { raw::RedisModule_RedactClientCommandArgument }) else {
        return;
    };
    let slices: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    for position in secret_positions(&slices) {
        if let Ok(position) = i32::try_from(position) {
            unsafe { redact(ctx.ctx, position) };
        }
    }
}

pub fn redact(property: &str, value: &str) -> String {
    if is_secret(property) {
        "(redacted)".to_string()
    } else {
        value.to_string()
    }
}

/// CONFIG pairs as LIST shows them: flat name/value, secrets redacted.
pub fn redacted_config(config: &[(String, String)]) -> Reply {
    Reply::Map(
        config
            .iter()
            .map(|(k, v)| (k.clone(), redact(k, v).into()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_secret_values_in_a_command() {
        let args: Vec<&[u8]> = vec![
            b"KAFKA.SINK.CREATE",
            b"s",
            b"CONFIG",
            b"sasl.password",
            b"pw",
            b"config",
            b"fetch.min.bytes",
            b"1",
            b"CONFIG",
            b"ssl.key.pem",
            b"k",
            b"CONFIG",
            b"sasl.password",
        ];
        assert_eq!(secret_positions(&args), vec![4, 10]);
        assert!(secret_positions(&[b"X".as_slice()]).is_empty());
    }

    #[test]
    fn hides_passwords_and_secrets_only() {
        assert_eq!(redact("sasl.password", "hunter2"), "(redacted)");
        assert_eq!(redact("ssl.key.password", "x"), "(redacted)");
        assert_eq!(redact("sasl.oauthbearer.client.secret", "x"), "(redacted)");
        assert_eq!(redact("ssl.key.pem", "x"), "(redacted)");
        assert_eq!(redact("ssl.keystore.password", "x"), "(redacted)");
        assert_eq!(
            redact("sasl.oauthbearer.assertion.private.key.passphrase", "x"),
            "(redacted)"
        );
        assert_eq!(redact("sasl.jaas.config", "x"), "(redacted)");
        assert_eq!(redact("fetch.min.bytes", "1"), "1");
    }
}
