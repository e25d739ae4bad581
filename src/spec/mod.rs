//! What a bridge is, independent of Redis and Kafka: the argument cursor, sink and source specs
//! and their parsers, the options both share, record and source templates, stream globs and
//! the rules on user CONFIG pairs, and the translation of redis-kafka-connect configs
//! (IMPORT). Pure code: property-tested in `crate::fuzz`.

pub mod args;
pub mod client_config;
pub mod connect_import;
pub mod fields;
pub mod glob;
pub mod options;
pub mod record;
pub mod sink;
pub mod sink_parse;
pub mod source;
pub mod source_parse;
pub mod source_template;
pub mod template;
pub mod template_syntax;
