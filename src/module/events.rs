//! Server events that drive bridges: the dataset finished loading, the role changed, a flush
//! happened, or simply a cron tick (about once a second) — each reconciles running bridges
//! with the stored definitions. SHUTDOWN stops everything: Redis does not call the module's
//! unload hook then, so the shutdown event does the same work. Both wait at most
//! `kafka.shutdown-timeout-ms` in total, whatever Kafka is doing.

use crate::bridge::reconcile::reconcile;
use crate::bridge::registry;
use crate::kafka::{embedded, produce_pool};
use crate::runtime::panic::catch_and_log;
use crate::runtime::{log, main_thread};
use crate::settings;
use redis_module::{raw, Context, ContextFlags, Status};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// Cron ticks between routine reconciliations (Redis runs cron `hz` times a second, 10 by default).
const RECONCILE_EVERY: u64 = 10;

/// Set when something happened that calls for a reconciliation at the next cron tick. Starts
/// set so that bridges stored in the dataset start after MODULE LOAD, without a timer that
/// could outlive a module unloaded by a failed load.
static RECONCILE_SOON: AtomicBool = AtomicBool::new(true);
static TICKS: AtomicU64 = AtomicU64::new(0);

/// Stops every bridge, flushes KAFKA.PRODUCE's producers and stops the embedded broker,
/// waiting at most the shutdown timeout. False when some thread was still running at the
/// deadline (it keeps stopping in the background).
pub fn stop_everything() -> bool {
    let deadline = Instant::now() + settings::shutdown_timeout();
    let workers_done = registry::stop_all(deadline);
    let producers_done = produce_pool::shutdown(deadline);
    embedded::stop();
    RECONCILE_SOON.store(true, Ordering::Relaxed);
    if !(workers_done && producers_done) {
        log::warning(&format!(
            "kafka: Kafka clients were still closing after {} ms (kafka.shutdown-timeout-ms)",
            settings::shutdown_timeout().as_millis()
        ));
    }
    workers_done && producers_done
}

/// Asks for a reconciliation at the next cron tick (state replicated or loaded meanwhile).
pub fn reconcile_soon() {
    RECONCILE_SOON.store(true, Ordering::Relaxed);
}

extern "C" fn on_server_event(
    ctx: *mut raw::RedisModuleCtx,
    event: raw::RedisModuleEvent,
    subevent: u64,
    _data: *mut std::os::raw::c_void,
) {
    catch_and_log("server event", || {
        let ctx = Context::new(ctx);
        handle(&ctx, event.id, subevent);
    });
}

fn handle(ctx: &Context, event: u64, subevent: u64) {
    match event {
        raw::REDISMODULE_EVENT_SHUTDOWN => {
            stop_everything();
        }
        raw::REDISMODULE_EVENT_CRON_LOOP => {
            let tick = TICKS.fetch_add(1, Ordering::Relaxed);
            crate::runtime::faults::maybe_panic_in_event();
            if ctx.get_flags().contains(ContextFlags::CLUSTER) {
                crate::cluster::topology::refresh(ctx);
                crate::module::cluster_bus::on_tick(ctx, tick);
            }
            if RECONCILE_SOON.swap(false, Ordering::Relaxed) || tick.is_multiple_of(RECONCILE_EVERY)
            {
                reconcile(ctx);
            }
        }
        raw::REDISMODULE_EVENT_LOADING if subevent == raw::REDISMODULE_SUBEVENT_LOADING_ENDED => {
            reconcile(ctx)
        }
        raw::REDISMODULE_EVENT_FLUSHDB if subevent == raw::REDISMODULE_SUBEVENT_FLUSHDB_END => {
            reconcile(ctx)
        }
        raw::REDISMODULE_EVENT_REPLICATION_ROLE_CHANGED => reconcile(ctx),
        raw::REDISMODULE_EVENT_EVENTLOOP => match subevent {
            raw::REDISMODULE_SUBEVENT_EVENTLOOP_AFTER_SLEEP => main_thread::on_after_sleep(),
            _ => main_thread::on_before_sleep(),
        },
        _ => {}
    }
}

pub fn subscribe_server_events(ctx: &Context) -> Status {
    let Some(subscribe) = (unsafe { raw::RedisModule_SubscribeToServerEvent }) else {
        log::warning("kafka: this server has no server events; bridges will not follow restarts");
        return Status::Ok;
    };
    for id in [
        raw::REDISMODULE_EVENT_SHUTDOWN,
        raw::REDISMODULE_EVENT_CRON_LOOP,
        raw::REDISMODULE_EVENT_LOADING,
        raw::REDISMODULE_EVENT_FLUSHDB,
        raw::REDISMODULE_EVENT_REPLICATION_ROLE_CHANGED,
        raw::REDISMODULE_EVENT_EVENTLOOP,
    ] {
        let event = raw::RedisModuleEvent { id, dataver: 1 };
        if unsafe { subscribe(ctx.ctx, event, Some(on_server_event)) } != raw::REDISMODULE_OK as i32
        {
            log::warning(&format!("kafka: could not subscribe to server event {id}"));
        }
    }
    Status::Ok
}
