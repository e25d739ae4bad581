//! Command handlers: parse arguments, validate, hand specs to the registry, build replies.
//! `table` declares every command once; `register` makes them Redis commands.

pub mod cluster_status;
pub mod debug;
pub mod handover;
pub mod import;
pub mod internal;
pub mod lifecycle_ops;
pub mod new_bridge;
pub mod produce;
pub mod register;
pub mod sink;
pub mod source;
pub mod status;
pub mod subscriber;
pub mod table;

use crate::error::Error;
use crate::spec::args::Args;
use redis_module::{RedisError, RedisString};

/// The arguments after the command name.
pub fn command_args(args: Vec<RedisString>) -> Args {
    Args::new(args.iter().skip(1).map(|a| a.as_slice().to_vec()).collect())
}

/// A command's own argument check failed (the reply is `ERR <message>`).
pub fn error(message: impl std::fmt::Display) -> RedisError {
    Error::Arg(message.to_string()).into()
}
