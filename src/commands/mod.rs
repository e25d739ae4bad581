//! Command handlers: parse arguments, validate, hand specs to the registry, build replies.
//! `entry` holds what Redis calls: each handler inside the panic boundary, with our own reply.

pub mod debug;
pub mod internal;
pub mod lifecycle_ops;
pub mod produce;
pub mod sink;
pub mod source;
pub mod status;

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

/// The functions registered with Redis: each runs its handler through `reply::guarded`.
pub mod entry {
    use crate::runtime::reply::guarded;
    use redis_module::{Context, RedisResult, RedisString};

    macro_rules! entries {
        ($($name:ident => $handler:path),* $(,)?) => {
            $(
                pub fn $name(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
                    guarded(ctx, args, $handler)
                }
            )*
        };
    }

    entries! {
        sink_create => super::sink::create,
        sink_delete => super::sink::delete,
        sink_pause => super::sink::pause,
        sink_resume => super::sink::resume,
        sink_list => super::sink::list,
        source_create => super::source::create,
        source_delete => super::source::delete,
        source_pause => super::source::pause,
        source_resume => super::source::resume,
        source_list => super::source::list,
        status => super::status::status,
        produce => super::produce::produce,
        debug => super::debug::debug,
        state => super::internal::state,
        refused => super::internal::refused,
    }
}
