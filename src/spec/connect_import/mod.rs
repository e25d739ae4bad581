//! `KAFKA.SINK.IMPORT` / `KAFKA.SOURCE.IMPORT`: the config a user posts to Kafka Connect for
//! redis-kafka-connect (read against its 1.1.0 sources: `RedisSinkConfigDef`,
//! `RedisStreamSourceConfigDef`, `RedisKeysSourceConfigDef`, `RedisConfigDef`, and the sink's
//! older `redis.command` / `redis.key` / `redis.push.direction` names) becomes the arguments
//! of the equivalent `KAFKA.SINK.CREATE` / `KAFKA.SOURCE.CREATE`. Pure code: the command runs
//! the ordinary CREATE with what this returns, so every check of CREATE applies and the stored
//! definition is an ordinary CREATE.
//!
//! Each property is mapped, ignored for a stated reason (it only says how Connect reaches
//! Redis, or what redis-kafka always does anyway), or refused with an error naming it. None is
//! dropped silently.

mod json;
mod sink;
mod source;

use crate::error::{arg_error, Error};
use crate::spec::args::{set_once, Args};
use crate::spec::sink_parse::parse_sink_create;
use crate::spec::source_parse::parse_source_create;
use json::{read_properties, shown};

/// Which IMPORT command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    Sink,
    Source,
}

impl ImportKind {
    pub fn create_command(self) -> &'static str {
        match self {
            ImportKind::Sink => "KAFKA.SINK.CREATE",
            ImportKind::Source => "KAFKA.SOURCE.CREATE",
        }
    }
}

/// A parsed IMPORT: the CREATE arguments it stands for (name first) and whether it is a
/// DRYRUN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub create_args: Vec<String>,
    pub dry_run: bool,
}

/// `<name> <connector-config-json> [BROKERS <list>] [DRYRUN]`: translates the config and checks
/// the result with CREATE's own parser, so DRYRUN shows only what CREATE accepts.
pub fn parse_import(kind: ImportKind, mut args: Args) -> Result<Import, Error> {
    let name = args.next_str("bridge name")?;
    let json = args.next_bytes("connector config JSON")?;
    let mut brokers: Option<String> = None;
    let mut dry_run: Option<bool> = None;
    while let Some(option) = args.next_keyword() {
        match option.as_str() {
            "BROKERS" => set_once(&mut brokers, args.next_str("value for BROKERS")?, "BROKERS")?,
            "DRYRUN" => set_once(&mut dry_run, true, "DRYRUN")?,
            other => {
                return arg_error(format!(
                    "unknown option '{other}' (IMPORT takes the config JSON, then BROKERS <list> and DRYRUN)"
                ))
            }
        }
    }
    let mut create_args = vec![name];
    create_args.extend(translate(kind, &json, brokers.as_deref())?);
    let items = || Args::new(create_args.iter().map(|a| a.as_bytes().to_vec()).collect());
    let checked = match kind {
        ImportKind::Sink => parse_sink_create(items()).map(|_| ()),
        ImportKind::Source => parse_source_create(items()).map(|_| ()),
    };
    checked.map_err(|e| {
        e.context(&format!(
            "in the {} this IMPORT makes",
            kind.create_command()
        ))
    })?;
    Ok(Import {
        create_args,
        dry_run: dry_run.unwrap_or(false),
    })
}

/// The CREATE options (after the name) equivalent to a connector config.
pub fn translate(
    kind: ImportKind,
    json: &[u8],
    brokers: Option<&str>,
) -> Result<Vec<String>, Error> {
    let mut props = Props::new(read_properties(json)?);
    let class = props
        .take("connector.class")
        .ok_or_else(|| Error::Arg("missing property 'connector.class'".to_string()))?;
    let connector = Connector::parse(&class)?;
    match (kind, connector) {
        (ImportKind::Sink, Connector::Sink)
        | (ImportKind::Source, Connector::Stream | Connector::Keys) => {}
        (ImportKind::Sink, _) => {
            return arg_error(format!(
                "connector.class '{class}' is a source connector: use KAFKA.SOURCE.IMPORT"
            ))
        }
        (ImportKind::Source, Connector::Sink) => {
            return arg_error(format!(
                "connector.class '{class}' is a sink connector: use KAFKA.SINK.IMPORT"
            ))
        }
    }
    let mut out = Create::default();
    common(&mut props)?;
    let bootstrap = match connector {
        Connector::Sink => sink::translate(&mut props, &mut out)?,
        Connector::Stream => source::translate_stream(&mut props, &mut out)?,
        Connector::Keys => source::translate_keys(&mut props, &mut out)?,
    };
    match (brokers, bootstrap) {
        (Some(given), Some((property, from_json))) if given != from_json => {
            return arg_error(format!(
                "BROKERS '{given}' differs from property '{property}' ('{from_json}'): give one"
            ))
        }
        (Some(list), _) => out.option("BROKERS", list),
        (None, Some((_, list))) => out.option("BROKERS", list),
        (None, None) => {}
    }
    if let Some(name) = props.leftover() {
        return Err(no_equivalent(name, &leftover_reason(connector, name)));
    }
    Ok(out.args)
}

/// The connectors IMPORT knows; Connect also accepts a class's simple name and that name
/// without `Connector`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connector {
    Sink,
    Stream,
    Keys,
}

impl Connector {
    fn parse(class: &str) -> Result<Connector, Error> {
        let simple = class
            .strip_prefix("com.redis.kafka.connect.")
            .unwrap_or(class);
        let simple = simple.strip_suffix("Connector").unwrap_or(simple);
        match simple {
            "RedisSink" => Ok(Connector::Sink),
            "RedisStreamSource" => Ok(Connector::Stream),
            "RedisKeysSource" => Ok(Connector::Keys),
            _ => arg_error(format!(
                "unknown connector.class '{}': IMPORT takes com.redis.kafka.connect.RedisSinkConnector, RedisStreamSourceConnector or RedisKeysSourceConnector",
                shown(class)
            )),
        }
    }

    fn class(self) -> &'static str {
        match self {
            Connector::Sink => "RedisSinkConnector",
            Connector::Stream => "RedisStreamSourceConnector",
            Connector::Keys => "RedisKeysSourceConnector",
        }
    }
}

/// The connector's properties, each taken at most once; what is left at the end is refused.
struct Props {
    entries: Vec<(String, String, bool)>,
}

impl Props {
    fn new(entries: Vec<(String, String)>) -> Props {
        Props {
            entries: entries.into_iter().map(|(k, v)| (k, v, false)).collect(),
        }
    }

    fn take(&mut self, name: &str) -> Option<String> {
        let entry = self
            .entries
            .iter_mut()
            .find(|(k, _, used)| k == name && !*used)?;
        entry.2 = true;
        Some(entry.1.clone())
    }

    /// Takes every property under `prefix`, returning (rest of the name, value) pairs.
    fn take_prefixed(&mut self, prefix: &str) -> Vec<(String, String)> {
        self.entries
            .iter_mut()
            .filter(|(k, _, used)| !*used && k.starts_with(prefix))
            .map(|(k, v, used)| {
                *used = true;
                (k[prefix.len()..].to_string(), v.clone())
            })
            .collect()
    }

    fn leftover(&self) -> Option<&str> {
        self.entries
            .iter()
            .find(|(_, _, used)| !*used)
            .map(|(k, _, _)| k.as_str())
    }

    /// Takes one of two names for the same setting (a newer and an older one).
    fn take_either(
        &mut self,
        newer: &'static str,
        older: &'static str,
    ) -> Result<Option<(&'static str, String)>, Error> {
        match (self.take(newer), self.take(older)) {
            (Some(_), Some(_)) => arg_error(format!(
                "give property '{newer}' or its older name '{older}', not both"
            )),
            (Some(value), None) => Ok(Some((newer, value))),
            (None, Some(value)) => Ok(Some((older, value))),
            (None, None) => Ok(None),
        }
    }
}

/// The CREATE options being built.
#[derive(Default)]
struct Create {
    args: Vec<String>,
}

impl Create {
    fn option(&mut self, option: &str, value: impl Into<String>) {
        self.args.push(option.to_string());
        self.args.push(value.into());
    }

    fn word(&mut self, word: &str) {
        self.args.push(word.to_string());
    }
}

/// `ERR property 'x' has no equivalent in redis-kafka: <why>`.
fn no_equivalent(name: &str, why: &str) -> Error {
    Error::Arg(format!(
        "property '{}' has no equivalent in redis-kafka: {why}",
        shown(name)
    ))
}

/// A value of a (non-secret) property that redis-kafka-connect itself would refuse.
fn bad_value(name: &str, value: &str, expected: &str) -> Error {
    Error::Arg(format!(
        "property '{}' must be {expected}, got '{}'",
        shown(name),
        shown(value)
    ))
}

fn parse_bool(name: &str, value: &str) -> Result<bool, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad_value(name, value, "true or false")),
    }
}

fn parse_long(name: &str, value: &str) -> Result<i64, Error> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| bad_value(name, value, "a whole number"))
}

/// Properties every connector has that need no counterpart: how Connect names the connector
/// and reaches Redis. The module runs inside the Redis it reads and writes, so these change
/// nothing about the data, with one exception refused here: a `redis.uri` naming a database
/// other than 0 (bridges write and watch database 0).
fn common(props: &mut Props) -> Result<(), Error> {
    // Connect's name for the connector: the bridge's name is IMPORT's first argument.
    props.take("name");
    props.take("config.action.reload");
    if let Some(uri) = props.take("redis.uri") {
        check_uri_database(&uri)?;
    }
    // Host, port, cluster client, TLS, credentials, timeouts and pool: how Connect's client
    // reaches Redis. The module is loaded in that Redis; it writes as the module, so the ACL
    // user named here plays no part (IMPORT, like CREATE, is an admin command).
    for name in [
        "redis.host",
        "redis.port",
        "redis.cluster",
        "redis.tls",
        "redis.insecure",
        "redis.username",
        "redis.password",
        "redis.timeout",
        "redis.pool",
        "redis.key.file",
        "redis.key.cert",
        "redis.key.password",
        "redis.cacert",
    ] {
        props.take(name);
    }
    // Logging and retries of Connect's error handler: the bridge reports errors in STATUS
    // (never a record's contents) and retries Redis's temporary refusals by itself.
    for name in [
        "errors.log.enable",
        "errors.log.include.messages",
        "errors.retry.timeout",
        "errors.retry.delay.max.ms",
    ] {
        props.take(name);
    }
    // Headers are read as their bytes (only the TTL header is used).
    props.take("header.converter");
    props.take_prefixed("header.converter.");
    if props
        .take("transforms")
        .is_some_and(|t| !t.trim().is_empty())
    {
        return Err(no_equivalent("transforms", TRANSFORMS));
    }
    if props
        .take("predicates")
        .is_some_and(|t| !t.trim().is_empty())
    {
        return Err(no_equivalent("predicates", TRANSFORMS));
    }
    Ok(())
}

const TRANSFORMS: &str = "single message transforms run inside Kafka Connect and redis-kafka has none (KEY, MEMBER and SCORE templates can use ${value.<field>})";

/// Lettuce URIs: `redis[s]://[[user]:password@]host[:port][/database][?database=n]`,
/// `redis-socket://path?database=n`, `redis-sentinel://...[/database]#master`.
fn check_uri_database(uri: &str) -> Result<(), Error> {
    let refuse = |db: &str| {
        Err(no_equivalent(
            "redis.uri",
            &format!(
                "it names database '{}'; bridges read and write database 0 (use a URI without a database, or /0)",
                shown(db)
            ),
        ))
    };
    let rest = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    let rest = rest.split('#').next().unwrap_or("");
    let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
    let socket = uri.starts_with("redis-socket");
    if !socket {
        if let Some((_, path)) = location.split_once('/') {
            let db = path.trim_matches('/');
            if !db.is_empty() && db.parse::<u32>() != Ok(0) {
                return refuse(db);
            }
        }
    }
    for pair in query.split('&') {
        if let Some((key, db)) = pair.split_once('=') {
            if matches!(key, "database" | "db") && db.parse::<u32>() != Ok(0) {
                return refuse(db);
            }
        }
    }
    Ok(())
}

/// Why a property nobody took has no counterpart.
fn leftover_reason(connector: Connector, name: &str) -> String {
    let prefixed = |prefix: &str| name.starts_with(prefix);
    if prefixed("transforms.") || prefixed("predicates.") {
        return TRANSFORMS.to_string();
    }
    if prefixed("admin.override.") {
        return "redis-kafka's admin requests (topic creation) use the producer's settings: give them as producer.override.*".to_string();
    }
    if prefixed("consumer.override.") && connector != Connector::Sink {
        return "a source has no Kafka consumer".to_string();
    }
    if prefixed("topic.creation.") {
        return "a source creates its topics with PARTITIONS and REPLICATION only (topic.creation.default.partitions and topic.creation.default.replication.factor)".to_string();
    }
    if prefixed("key.converter.") || prefixed("value.converter.") {
        return "redis-kafka reads and writes record bytes as they are and knows only the converter settings schemas.enable and encoding".to_string();
    }
    match name {
        "exactly.once.support" | "transaction.boundary" | "transaction.boundary.interval.ms" => {
            "sources produce at least once through an idempotent producer, not in transactions"
                .to_string()
        }
        "offsets.storage.topic" => {
            "a source keeps its checkpoints in Redis, not in a Kafka topic".to_string()
        }
        "errors.deadletterqueue.topic.name" => {
            "Kafka Connect has no dead letter queue for source connectors".to_string()
        }
        _ => format!(
            "it is not a property of {} (redis-kafka-connect 1.1.0) or of Kafka Connect that IMPORT knows",
            connector.class()
        ),
    }
}

/// How a connector's converter for keys or values turns records into bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Converter {
    /// Not set in the connector's config: the worker's default, unknown here.
    Unset,
    String,
    ByteArray,
    Json {
        schemas: bool,
    },
    /// Any other converter (Avro, Protobuf, JSON Schema, the number converters...).
    Other(String),
}

/// Reads `<which>.converter` and its settings (`<which>` is `key` or `value`).
fn converter(props: &mut Props, which: &str) -> Result<Converter, Error> {
    let name = format!("{which}.converter");
    let Some(class) = props.take(&name) else {
        for setting in ["schemas.enable", "encoding"] {
            props.take(&format!("{name}.{setting}"));
        }
        return Ok(Converter::Unset);
    };
    let simple = class.trim().rsplit('.').next().unwrap_or("").to_string();
    let converter = match simple.as_str() {
        "StringConverter" => Converter::String,
        "ByteArrayConverter" => Converter::ByteArray,
        "JsonConverter" => {
            let setting = format!("{name}.schemas.enable");
            let schemas = match props.take(&setting) {
                Some(value) => parse_bool(&setting, &value)?,
                // JsonConverter's own default.
                None => true,
            };
            Converter::Json { schemas }
        }
        _ => return Ok(Converter::Other(class)),
    };
    if converter != (Converter::Json { schemas: true })
        && converter != (Converter::Json { schemas: false })
    {
        // schemas.enable means nothing to the other converters.
        props.take(&format!("{name}.schemas.enable"));
    }
    let encoding = format!("{name}.encoding");
    if let Some(value) = props.take(&encoding) {
        if !is_utf8_name(&value) {
            return Err(no_equivalent(
                &encoding,
                "redis-kafka reads and writes text as UTF-8",
            ));
        }
    }
    Ok(converter)
}

/// Takes every setting of a converter whose output does not matter.
fn ignore_converter(props: &mut Props, which: &str) {
    props.take(&format!("{which}.converter"));
    props.take_prefixed(&format!("{which}.converter."));
}

fn is_utf8_name(charset: &str) -> bool {
    matches!(
        charset.trim().to_ascii_lowercase().as_str(),
        "utf-8" | "utf8"
    )
}

/// The reason a converter the bridge cannot imitate is refused.
fn other_converter_reason(class: &str) -> String {
    format!(
        "redis-kafka reads and writes record bytes as they are: it has no equivalent of {}",
        shown(class.trim())
    )
}

/// `errors.tolerance` and `errors.deadletterqueue.*` → `ON-ERROR`.
fn on_error(props: &mut Props, out: &mut Create, dead_letters: bool) -> Result<(), Error> {
    let tolerance = props.take("errors.tolerance");
    let all = match tolerance.as_deref().map(|t| t.trim().to_ascii_lowercase()) {
        None => false,
        Some(t) if t == "none" => false,
        Some(t) if t == "all" => true,
        Some(_) => {
            return Err(bad_value(
                "errors.tolerance",
                tolerance.as_deref().unwrap_or(""),
                "none or all",
            ))
        }
    };
    let dlq_name = "errors.deadletterqueue.topic.name";
    // Dead letters here always carry the error and origin in redis.* headers, and the topic
    // is not created by the bridge (create it first, or let the broker create it).
    props.take("errors.deadletterqueue.context.headers.enable");
    props.take("errors.deadletterqueue.topic.replication.factor");
    let dlq = match props.take(dlq_name) {
        Some(topic) if !topic.trim().is_empty() => Some(topic.trim().to_string()),
        _ => None,
    };
    match (all, dlq) {
        (_, Some(_)) if !dead_letters => {
            return Err(no_equivalent(
                dlq_name,
                "Kafka Connect has no dead letter queue for source connectors",
            ))
        }
        (false, Some(_)) => {
            return Err(no_equivalent(
                dlq_name,
                "with errors.tolerance=none the first failing record stops the connector; redis-kafka's ON-ERROR is FAIL, SKIP or DLQ, one at a time: set errors.tolerance=all for DLQ",
            ))
        }
        (true, Some(topic)) => {
            out.option("ON-ERROR", "DLQ");
            out.word(&topic);
        }
        (true, None) => out.option("ON-ERROR", "SKIP"),
        (false, None) => out.option("ON-ERROR", "FAIL"),
    }
    Ok(())
}

/// `<role>.override.*` → `CONFIG` pairs, except the properties CREATE has options for.
/// Returns the bootstrap servers the overrides name, if any.
fn overrides(
    props: &mut Props,
    out: &mut Create,
    roles: &[&str],
) -> Result<Option<(String, String)>, Error> {
    let mut bootstrap: Option<(String, String)> = None;
    let mut config: Vec<(String, String, String)> = Vec::new();
    for role in roles {
        let prefix = format!("{role}.override.");
        for (property, value) in props.take_prefixed(&prefix) {
            let full = format!("{prefix}{property}");
            match (*role, property.as_str()) {
                (_, "bootstrap.servers") => {
                    let value = value.trim().to_string();
                    if let Some((first, earlier)) = &bootstrap {
                        if *earlier != value {
                            return arg_error(format!(
                                "property '{full}' differs from '{first}': the bridge's clients share one broker list"
                            ));
                        }
                    }
                    bootstrap = Some((full, value));
                }
                ("consumer", "group.id") => out.option("GROUP", value),
                ("consumer", "auto.offset.reset") => {
                    let start = match value.trim().to_ascii_lowercase().as_str() {
                        "earliest" => "EARLIEST",
                        "latest" => "LATEST",
                        _ => {
                            return Err(no_equivalent(
                                &full,
                                "a sink starts where Redis's stored offsets say, else at START EARLIEST or LATEST",
                            ))
                        }
                    };
                    out.option("START", start);
                }
                _ => {
                    match config.iter().find(|(p, _, _)| *p == property) {
                        Some((_, earlier, first)) if *earlier != value => {
                            return arg_error(format!(
                                "property '{full}' differs from '{first}': the bridge passes one CONFIG value to all its clients"
                            ))
                        }
                        Some(_) => {}
                        None => config.push((property, value, full)),
                    }
                }
            }
        }
    }
    for (property, value, _) in config {
        out.args.push("CONFIG".to_string());
        out.args.push(property);
        out.args.push(value);
    }
    Ok(bootstrap)
}

/// A Connect template (`${topic}` or `${stream}` is its only placeholder; any other `${` is
/// literal text there) as a redis-kafka template, whose every `${...}` is a placeholder.
fn connect_template(name: &str, text: &str, placeholder: &str) -> Result<String, Error> {
    if text.split(placeholder).any(|part| part.contains("${")) {
        return Err(no_equivalent(
            name,
            &format!(
                "its '${{' is literal text for the connector (only {placeholder} is replaced), and redis-kafka templates read every '${{...}}' as a placeholder"
            ),
        ));
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests;
