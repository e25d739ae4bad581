//! Stopping everything at MODULE UNLOAD and SHUTDOWN: Redis does not call the module's unload
//! hook at shutdown, so the shutdown server event does the same work.

use crate::{embedded, produce_pool, registry};
use redis_module::{raw, Context, Status};
use std::time::Duration;

const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

pub fn stop_everything() {
    registry::stop_all();
    produce_pool::shutdown(FLUSH_TIMEOUT);
    embedded::stop();
}

extern "C" fn on_shutdown(
    _ctx: *mut raw::RedisModuleCtx,
    _event: raw::RedisModuleEvent,
    _subevent: u64,
    _data: *mut std::os::raw::c_void,
) {
    stop_everything();
}

pub fn subscribe_shutdown(ctx: &Context) -> Status {
    let Some(subscribe) = (unsafe { raw::RedisModule_SubscribeToServerEvent }) else {
        ctx.log_warning("kafka: this server cannot report SHUTDOWN; bridges stop at exit only");
        return Status::Ok;
    };
    let event = raw::RedisModuleEvent {
        id: raw::REDISMODULE_EVENT_SHUTDOWN,
        dataver: 1,
    };
    if unsafe { subscribe(ctx.ctx, event, Some(on_shutdown)) } != raw::REDISMODULE_OK as i32 {
        ctx.log_warning("kafka: could not subscribe to the SHUTDOWN event");
    }
    Status::Ok
}
