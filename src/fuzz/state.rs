//! What comes back from the dataset or goes to Redis APIs: stored definitions, replicated
//! state changes, and the text made safe for replies and logs.

use super::check;
use crate::kafka::redact::secret_positions;
use crate::runtime::reply::with_code;
use crate::runtime::text::{one_line, quoted, truncate};
use crate::spec::client_config::{check_user_property, Role};
use crate::store::definitions::Definition;
use crate::store::write::Change;
use std::collections::HashMap;

#[test]
fn stored_definitions_decode_or_say_why_and_round_trip() {
    check("definition", |g| {
        let mut fields: HashMap<&str, Vec<u8>> = HashMap::new();
        for name in ["kind", "args", "created_ms", "paused"] {
            if g.chance(80) {
                let value = match (name, g.below(3)) {
                    ("kind", 0) => b"sink".to_vec(),
                    ("kind", 1) => b"source".to_vec(),
                    ("args", 0) => {
                        let args: Vec<String> = g
                            .args(6)
                            .iter()
                            .map(|a| String::from_utf8_lossy(a).into_owned())
                            .collect();
                        serde_json::to_vec(&args).unwrap_or_default()
                    }
                    ("args", 1) => g.json_bytes(4),
                    _ => g.arg(),
                };
                fields.insert(name, value);
            }
        }
        if let Ok(definition) = Definition::from_fields(&fields) {
            let again: HashMap<&str, Vec<u8>> = definition
                .fields()
                .into_iter()
                .map(|(k, v)| (k, v.into_bytes()))
                .collect();
            assert_eq!(Definition::from_fields(&again), Ok(definition));
        }
    });
}

#[test]
fn replicated_state_changes_decode_or_refuse_and_round_trip() {
    check("state change", |g| {
        let mut args = vec![g
            .pick(&[&b"HSET"[..], b"HDEL", b"SADD", b"SREM", b"DEL", b"x"])
            .to_vec()];
        if g.chance(70) {
            let mut key = b"__kafka:".to_vec();
            key.extend(g.arg());
            args.push(key);
        }
        args.extend(g.args(5));
        if let Ok(change) = Change::decode(&args) {
            let encoded: Vec<Vec<u8>> = change.encode().iter().map(|a| a.to_vec()).collect();
            assert_eq!(Change::decode(&encoded), Ok(change));
        }
    });
}

#[test]
fn text_for_redis_is_one_safe_line_with_a_code() {
    check("text", |g| {
        let raw = g.bytes(64);
        let line = one_line(&raw);
        assert!(!line.as_bytes().iter().any(|b| matches!(b, b'\r' | b'\n')));
        let text = String::from_utf8_lossy(&raw).into_owned();
        let max = g.below(40) + 3;
        let cut = truncate(&text, max);
        assert!(cut.len() <= max.max(text.len().min(max)));
        assert!(!quoted(&raw).chars().any(char::is_control));
        let coded = with_code(text);
        let code = coded.split(' ').next().unwrap_or("");
        assert!(code.len() >= 2 && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'));
        let args = g.args(8);
        let slices: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        assert!(secret_positions(&slices).iter().all(|&p| p < slices.len()));
        let property = String::from_utf8_lossy(&g.arg()).into_owned();
        let value = String::from_utf8_lossy(&g.arg()).into_owned();
        let _ = check_user_property(Role::Source, &property, &value);
    });
}
