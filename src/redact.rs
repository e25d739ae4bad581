//! Keeps secrets passed through CONFIG out of replies and logs.

pub fn is_secret(property: &str) -> bool {
    let p = property.to_ascii_lowercase();
    p.ends_with("password")
        || p.ends_with("secret")
        || p.contains("sasl.jaas")
        || p.ends_with(".pem")
}

pub fn redact(property: &str, value: &str) -> String {
    if is_secret(property) {
        "(redacted)".to_string()
    } else {
        value.to_string()
    }
}

/// CONFIG pairs as LIST shows them: flat name/value, secrets redacted.
pub fn redacted_config(config: &[(String, String)]) -> redis_module::RedisValue {
    redis_module::RedisValue::Array(
        config
            .iter()
            .flat_map(|(k, v)| [k.clone().into(), redact(k, v).into()])
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_passwords_and_secrets_only() {
        assert_eq!(redact("sasl.password", "hunter2"), "(redacted)");
        assert_eq!(redact("ssl.key.password", "x"), "(redacted)");
        assert_eq!(redact("sasl.oauthbearer.client.secret", "x"), "(redacted)");
        assert_eq!(redact("ssl.key.pem", "x"), "(redacted)");
        assert_eq!(redact("fetch.min.bytes", "1"), "1");
    }
}
