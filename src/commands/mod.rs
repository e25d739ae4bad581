//! Command handlers: parse arguments, validate, hand specs to the registry, build replies.

pub mod lifecycle_ops;
pub mod produce;
pub mod sink;
pub mod source;
pub mod status;

use crate::args::{ArgError, Args};
use redis_module::{RedisError, RedisString};

/// The arguments after the command name.
pub fn command_args(args: Vec<RedisString>) -> Args {
    Args::new(args.iter().skip(1).map(|a| a.as_slice().to_vec()).collect())
}

/// Every error reply starts with an uppercase code.
pub fn error(message: impl std::fmt::Display) -> RedisError {
    RedisError::String(format!("ERR {message}"))
}

impl From<ArgError> for RedisError {
    fn from(e: ArgError) -> RedisError {
        error(e.0)
    }
}
