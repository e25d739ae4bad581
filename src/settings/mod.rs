//! Module configuration (`kafka.*`): each setting is declared once below, with its default and
//! bounds beside the value, and listed once in `ALL`. `register` makes them Redis configs
//! (redis.conf, CONFIG GET/SET); `module_args` reads `loadmodule` arguments with the same
//! parsers.

pub mod module_args;
pub mod register;
pub mod values;

use crate::error::Error;
use crate::spec::options::parse_brokers;
use std::sync::OnceLock;
use std::time::Duration;
use values::{Choice, Flag, Number, Text};

/// A check of producer properties by librdkafka itself. The Kafka layer sits above settings, so
/// it installs its check at load (`set_producer_check`); until then only our own rules apply,
/// and KAFKA.PRODUCE checks the file again each time it reads it.
type ProducerCheck = fn(&[(String, String)]) -> Result<(), Error>;
static PRODUCER_CHECK: OnceLock<ProducerCheck> = OnceLock::new();

pub fn set_producer_check(check: ProducerCheck) {
    let _ = PRODUCER_CHECK.set(check);
}

/// `kafka.brokers`: the default bootstrap list, checked like BROKERS.
pub static BROKERS: Text = Text::new("", check_brokers);
/// `kafka.client-id`: prefix of the client.id of every Kafka client the module creates.
pub static CLIENT_ID: Text = Text::new(DEFAULT_CLIENT_ID, check_client_id);
const DEFAULT_CLIENT_ID: &str = "redis-kafka";
/// `kafka.embedded-broker`: start librdkafka's mock cluster when no brokers are given.
pub static EMBEDDED_BROKER: Flag = Flag::new(false);
/// `kafka.slice-max-records`: records a sink writes per hold of the lock.
pub static SLICE_MAX_RECORDS: Number = Number::new(500, 1, 1_000_000);
/// `kafka.slice-max-micros`: time a worker holds the lock per slice.
pub static SLICE_MAX_MICROS: Number = Number::new(500, 10, 1_000_000);
/// `kafka.slice-max-bytes`: bytes a sink writes per hold of the lock (one bigger record still
/// goes through alone).
pub static SLICE_MAX_BYTES: Number = Number::bytes(4 << 20, 64 << 10, 1 << 30);
/// `kafka.sink-batch-max-bytes`: bytes of polled records (and their DLQ copies) a sink task
/// holds at once.
pub static SINK_BATCH_MAX_BYTES: Number = Number::bytes(64 << 20, 1 << 20, 4 << 30);
/// `kafka.source-inflight-max-bytes`: bytes of entries a source has read and Kafka has not
/// acknowledged yet.
pub static SOURCE_INFLIGHT_MAX_BYTES: Number = Number::bytes(64 << 20, 1 << 20, 4 << 30);
/// `kafka.source-changes-max-keys`: changed keys a KEYS source remembers and has not read yet;
/// past it the source forgets them and rescans every matching key instead.
pub static SOURCE_CHANGES_MAX_KEYS: Number = Number::new(1_000_000, 1, 100_000_000);
/// `kafka.shutdown-timeout-ms`: longest SHUTDOWN and MODULE UNLOAD wait for workers and
/// producers, in total.
pub static SHUTDOWN_TIMEOUT_MS: Number = Number::new(5000, 100, 60_000);
/// `kafka.debug-command`: KAFKA.DEBUG (fault injection for tests); settable only at load.
pub static DEBUG_COMMAND: Flag = Flag::new(false);
/// `kafka.log-level`: the most verbose librdkafka level forwarded to the Redis log (syslog
/// numbering).
pub static LOG_LEVEL: Choice = Choice::new(
    4,
    &[
        ("error", 3),
        ("warning", 4),
        ("notice", 5),
        ("info", 6),
        ("debug", 7),
    ],
);

/// `kafka.produce-config-file`: a file of librdkafka properties (`name=value` lines) for
/// KAFKA.PRODUCE's producers (TLS, SASL, compression...). A file, so that passwords never pass
/// through CONFIG SET, which SLOWLOG records (Redis 7.0 and Valkey 8.1 do not hide a module
/// config's value there even when it is registered as sensitive).
pub static PRODUCE_CONFIG_FILE: Text = Text::new("", check_produce_config_file);

/// How a setting's value is held.
pub enum Value {
    Number(&'static Number),
    Flag(&'static Flag),
    Text(&'static Text),
    Choice(&'static Choice),
}

pub struct Setting {
    /// The name after `kafka.`.
    pub name: &'static str,
    pub value: Value,
    /// Settable only at load (redis.conf or loadmodule arguments), not by CONFIG SET.
    pub immutable: bool,
}

/// A value as Redis hands it to a config callback.
pub enum Raw<'a> {
    Number(i64),
    Flag(bool),
    Choice(i32),
    Text(&'a [u8]),
}

impl Setting {
    /// Sets the value Redis gives (redis.conf at load, CONFIG SET), checked like any other.
    pub fn set_raw(&self, raw: Raw<'_>) -> Result<(), Error> {
        match (&self.value, raw) {
            (Value::Number(number), Raw::Number(value)) => number.set(value),
            (Value::Flag(flag), Raw::Flag(value)) => {
                flag.set(value);
                Ok(())
            }
            (Value::Choice(choice), Raw::Choice(value)) => choice.set(value),
            (Value::Text(text), Raw::Text(bytes)) => text.set(
                std::str::from_utf8(bytes)
                    .map_err(|_| Error::Arg("must be UTF-8 text".to_string()))?,
            ),
            _ => Err(Error::Internal("setting of another kind".to_string())),
        }
    }

    /// The value of a number, flag (0/1) or choice setting; 0 for text.
    pub fn integer(&self) -> i64 {
        match &self.value {
            Value::Number(number) => number.get(),
            Value::Flag(flag) => i64::from(flag.get()),
            Value::Choice(choice) => i64::from(choice.get()),
            Value::Text(_) => 0,
        }
    }
}

const fn setting(name: &'static str, value: Value) -> Setting {
    Setting {
        name,
        value,
        immutable: false,
    }
}

/// Every `kafka.*` setting.
pub static ALL: [Setting; 13] = [
    setting("brokers", Value::Text(&BROKERS)),
    setting("client-id", Value::Text(&CLIENT_ID)),
    setting("embedded-broker", Value::Flag(&EMBEDDED_BROKER)),
    setting("slice-max-records", Value::Number(&SLICE_MAX_RECORDS)),
    setting("slice-max-micros", Value::Number(&SLICE_MAX_MICROS)),
    setting("slice-max-bytes", Value::Number(&SLICE_MAX_BYTES)),
    setting("sink-batch-max-bytes", Value::Number(&SINK_BATCH_MAX_BYTES)),
    setting(
        "source-inflight-max-bytes",
        Value::Number(&SOURCE_INFLIGHT_MAX_BYTES),
    ),
    setting(
        "source-changes-max-keys",
        Value::Number(&SOURCE_CHANGES_MAX_KEYS),
    ),
    setting("shutdown-timeout-ms", Value::Number(&SHUTDOWN_TIMEOUT_MS)),
    Setting {
        immutable: true,
        ..setting("debug-command", Value::Flag(&DEBUG_COMMAND))
    },
    setting("log-level", Value::Choice(&LOG_LEVEL)),
    setting("produce-config-file", Value::Text(&PRODUCE_CONFIG_FILE)),
];

fn check_brokers(text: &str) -> Result<String, Error> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(String::new());
    }
    parse_brokers(text)
}

/// librdkafka takes client.id as a C string, and brokers log it: printable and short.
fn check_client_id(text: &str) -> Result<String, Error> {
    let text = text.trim();
    if text.len() > 200 || text.chars().any(char::is_control) {
        return Err(Error::Arg(
            "must be at most 200 printable characters".to_string(),
        ));
    }
    Ok(text.to_string())
}

/// librdkafka properties from a file: `name=value` per line (spaces around both trimmed),
/// blank lines and `#` comments skipped. Errors name the line, never its text: it may hold a
/// password.
pub fn parse_properties(text: &str) -> Result<Vec<(String, String)>, Error> {
    let mut pairs = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                pairs.push((name.trim().to_string(), value.trim().to_string()))
            }
            _ => {
                return Err(Error::Arg(format!(
                    "line {} is not <librdkafka-property>=<value>",
                    index + 1
                )))
            }
        }
    }
    Ok(pairs)
}

/// Checked like a source's CONFIG (a producer that must stay idempotent and acknowledged),
/// then by librdkafka, so a typo is refused when the file is named, not at the next PRODUCE.
fn check_properties(pairs: &[(String, String)]) -> Result<(), Error> {
    for (name, value) in pairs {
        crate::spec::client_config::check_user_property(
            crate::spec::client_config::Role::Source,
            name,
            value,
        )?;
    }
    match PRODUCER_CHECK.get() {
        Some(check) => check(pairs),
        None => Ok(()),
    }
}

/// A properties file larger than this is a mistake (librdkafka's are a few hundred bytes).
const PROPERTIES_FILE_MAX_BYTES: u64 = 1 << 20;

/// Reads the file on the main thread, so only a regular file of bounded size: a FIFO would
/// block Redis in open(), and /dev/zero would fill its memory.
fn read_text(path: &str) -> Result<String, Error> {
    use std::io::Read;
    let cannot = |e: std::io::Error| Error::Arg(format!("cannot read {path}: {e}"));
    let metadata = std::fs::metadata(path).map_err(cannot)?;
    if !metadata.is_file() {
        return Err(Error::Arg(format!("{path} is not a regular file")));
    }
    if metadata.len() > PROPERTIES_FILE_MAX_BYTES {
        return Err(Error::Arg(format!(
            "{path} is larger than {PROPERTIES_FILE_MAX_BYTES} bytes"
        )));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| {
            file.take(PROPERTIES_FILE_MAX_BYTES + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(cannot)?;
    if bytes.len() as u64 > PROPERTIES_FILE_MAX_BYTES {
        return Err(Error::Arg(format!(
            "{path} is larger than {PROPERTIES_FILE_MAX_BYTES} bytes"
        )));
    }
    String::from_utf8(bytes).map_err(|_| Error::Arg(format!("{path} is not UTF-8 text")))
}

fn read_properties(path: &str) -> Result<Vec<(String, String)>, Error> {
    let text = read_text(path)?;
    let pairs = parse_properties(&text).map_err(|e| e.context(path))?;
    check_properties(&pairs).map_err(|e| e.context(path))?;
    Ok(pairs)
}

fn check_produce_config_file(text: &str) -> Result<String, Error> {
    let path = text.trim();
    if !path.is_empty() {
        read_properties(path)?;
    }
    Ok(path.to_string())
}

/// KAFKA.PRODUCE's client properties: `kafka.produce-config-file` read now, so an edited file
/// takes effect at the next PRODUCE (a changed set of properties gets its own producer).
pub fn produce_config() -> Result<Vec<(String, String)>, Error> {
    let path = PRODUCE_CONFIG_FILE.get();
    if path.is_empty() {
        return Ok(Vec::new());
    }
    read_properties(&path).map_err(|e| e.context("kafka.produce-config-file"))
}

pub fn default_brokers() -> Option<String> {
    Some(BROKERS.get()).filter(|b| !b.is_empty())
}

pub fn client_id_prefix() -> String {
    Some(CLIENT_ID.get())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| DEFAULT_CLIENT_ID.to_string())
}

pub fn embedded_broker_enabled() -> bool {
    EMBEDDED_BROKER.get()
}

pub fn debug_command_enabled() -> bool {
    DEBUG_COMMAND.get()
}

pub fn log_level_threshold() -> i32 {
    LOG_LEVEL.get()
}

pub fn slice_max_records() -> usize {
    SLICE_MAX_RECORDS.positive()
}

pub fn slice_max_time() -> Duration {
    Duration::from_micros(SLICE_MAX_MICROS.positive() as u64)
}

pub fn slice_max_bytes() -> usize {
    SLICE_MAX_BYTES.positive()
}

pub fn sink_batch_max_bytes() -> usize {
    SINK_BATCH_MAX_BYTES.positive()
}

pub fn source_inflight_max_bytes() -> usize {
    SOURCE_INFLIGHT_MAX_BYTES.positive()
}

pub fn source_changes_max_keys() -> usize {
    SOURCE_CHANGES_MAX_KEYS.positive()
}

pub fn shutdown_timeout() -> Duration {
    Duration::from_millis(SHUTDOWN_TIMEOUT_MS.positive() as u64)
}

#[cfg(test)]
mod produce_config_tests {
    use super::*;

    #[test]
    fn properties_are_checked_without_echoing_values() {
        set_producer_check(crate::kafka::config::check_produce_properties);
        let pairs = parse_properties(
            "# TLS\n security.protocol = sasl_ssl\n\nsasl.mechanism=SCRAM-SHA-512\nsasl.password=a=b c\n",
        )
        .unwrap();
        assert_eq!(pairs.len(), 3);
        assert_eq!(pairs[2], ("sasl.password".to_string(), "a=b c".to_string()));
        assert!(check_properties(&pairs).is_ok());
        let error = parse_properties("sasl.password hunter2")
            .unwrap_err()
            .to_string();
        assert!(
            !error.contains("hunter2") && error.contains("line 1"),
            "{error}"
        );
        let pairs = parse_properties("sasl.password=hunter2\nno.such=1").unwrap();
        let error = check_properties(&pairs).unwrap_err().to_string();
        assert!(
            !error.contains("hunter2") && error.contains("no.such"),
            "{error}"
        );
        assert!(check_properties(&parse_properties("acks=1").unwrap()).is_err());
        assert!(check_properties(&parse_properties("bootstrap.servers=h:1").unwrap()).is_err());
        assert!(check_produce_config_file("/no/such/file").is_err());
        for (path, want) in [
            ("/dev/zero", "not a regular file"),
            ("/tmp", "not a regular file"),
        ] {
            let error = check_produce_config_file(path).unwrap_err().to_string();
            assert!(error.contains(want), "{path}: {error}");
        }
        let dir = std::env::temp_dir().join(format!("produce-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.properties");
        std::fs::write(&big, vec![b'#'; (PROPERTIES_FILE_MAX_BYTES + 1) as usize]).unwrap();
        let error = check_produce_config_file(big.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(error.contains("larger than"), "{error}");
        let binary = dir.join("binary.properties");
        std::fs::write(&binary, b"security.protocol=ssl\n\xff\xfe=1\n").unwrap();
        let error = check_produce_config_file(binary.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(error.contains("not UTF-8"), "{error}");
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let error = check_produce_config_file(fifo.to_str().unwrap())
                .unwrap_err()
                .to_string();
            assert!(error.contains("not a regular file"), "{error}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(check_produce_config_file(" ").unwrap(), "");
    }
}
