//! A client blocked until another thread has its reply (KAFKA.PRODUCE waits for Kafka's
//! acknowledgement this way). The reply goes through `reply::send`, like every other reply.

use crate::runtime::panic::catch_and_log;
use crate::runtime::reply;
use crate::runtime::reply::Reply;
use redis_module::{raw, Context, RedisError, RedisResult};
use std::ptr;

pub struct Blocked(*mut raw::RedisModuleBlockedClient);

// Redis allows a blocked-client handle to be used from any one thread; `Blocked` is moved, not
// shared, and consumed by `answer`.
unsafe impl Send for Blocked {}
unsafe impl Sync for Blocked {}

impl Blocked {
    /// Blocks the calling client; None where the client cannot block (MULTI, scripts).
    pub fn block(ctx: &Context) -> Option<Blocked> {
        let block = unsafe { raw::RedisModule_BlockClient }?;
        let client = unsafe { block(ctx.ctx, None, None, None, 0) };
        (!client.is_null()).then_some(Blocked(client))
    }

    /// Sends the reply and unblocks the client (from any thread).
    pub fn answer(self, result: RedisResult) {
        self.answer_tree(result.map(Reply::Value));
    }

    /// `answer` for a reply tree (ordered maps).
    pub fn answer_tree(self, result: Result<Reply, RedisError>) {
        let client = self.0;
        std::mem::forget(self);
        answer_raw(client, result);
    }
}

fn answer_raw(client: *mut raw::RedisModuleBlockedClient, result: Result<Reply, RedisError>) {
    catch_and_log("reply to a blocked client", || {
        let api = unsafe {
            (
                raw::RedisModule_GetThreadSafeContext,
                raw::RedisModule_FreeThreadSafeContext,
            )
        };
        if let (Some(get), Some(free)) = api {
            let ctx = unsafe { get(client) };
            if !ctx.is_null() {
                match result {
                    Ok(tree) => reply::tree_reply(ctx, tree),
                    Err(e) => reply::send(ctx, Err(e)),
                }
                unsafe { free(ctx) };
            }
        }
    });
    if let Some(unblock) = unsafe { raw::RedisModule_UnblockClient } {
        unsafe { unblock(client, ptr::null_mut()) };
    }
}

impl Drop for Blocked {
    /// A blocked client is never left waiting: dropped unanswered, it gets an error.
    fn drop(&mut self) {
        answer_raw(
            self.0,
            Err(redis_module::RedisError::Str(
                "ERR the request was dropped before Kafka answered",
            )),
        );
    }
}
