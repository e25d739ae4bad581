//! KAFKA._SUBSCRIBER <token>: the first command of a CHANNELS source's own connection to this
//! server. It may run before AUTH (flag `no-auth`), so it works with `requirepass` or the
//! default user off, and never shows in MONITOR or SLOWLOG. With the right token the
//! connection becomes the module's subscriber user (`module::subscriber_user`); with any other
//! argument it stays as it was.

use crate::commands::error;
use crate::module::subscriber_user;
use redis_module::{Context, ContextFlags, RedisResult, RedisString, RedisValue};

pub fn subscriber(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    if args.len() != 2 {
        return Err(error("KAFKA._SUBSCRIBER takes one argument (a token)"));
    }
    // Only a connection may become the subscriber, never a script's, a transaction's or a
    // replication link's client.
    let not_a_connection =
        ContextFlags::MULTI | ContextFlags::LUA | ContextFlags::REPLICATED | ContextFlags::LOADING;
    if ctx.get_flags().intersects(not_a_connection) {
        return Err(error(
            "KAFKA._SUBSCRIBER runs only as a connection's own command (not in MULTI, scripts or replication)",
        ));
    }
    subscriber_user::authenticate(ctx, args[1].as_slice())?;
    Ok(RedisValue::SimpleStringStatic("OK"))
}
