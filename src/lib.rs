//! redis-kafka: Kafka bridges inside redis-server. This file only wires the module together.

// Layers, each using only the ones above it: runtime → spec → cluster → settings → store → kafka →
// lifecycle → sink, source → bridge → module → commands. `error` is shared by all.
mod bridge;
mod cluster;
mod commands;
mod error;
#[cfg(test)]
mod fuzz;
mod kafka;
mod lifecycle;
mod module;
mod runtime;
mod settings;
mod sink;
mod source;
mod spec;
mod store;

use redis_module::{redis_module, Context, RedisString, Status};

// Unit tests run outside Redis, where its allocator does not exist.
#[cfg(all(not(test), not(feature = "count-allocations")))]
type ModuleAllocator = redis_module::alloc::RedisAlloc;
#[cfg(all(not(test), not(feature = "count-allocations")))]
const MODULE_ALLOCATOR: ModuleAllocator = redis_module::alloc::RedisAlloc;
// `make bench` builds this variant to report allocations per record (KAFKA.DEBUG ALLOCATIONS).
#[cfg(all(not(test), feature = "count-allocations"))]
type ModuleAllocator = runtime::alloc_count::Counting<redis_module::alloc::RedisAlloc>;
#[cfg(all(not(test), feature = "count-allocations"))]
const MODULE_ALLOCATOR: ModuleAllocator =
    runtime::alloc_count::Counting(redis_module::alloc::RedisAlloc);
#[cfg(test)]
type ModuleAllocator = std::alloc::System;
#[cfg(test)]
const MODULE_ALLOCATOR: ModuleAllocator = std::alloc::System;

fn init(ctx: &Context, args: &[RedisString]) -> Status {
    let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_slice().to_vec()).collect();
    settings::set_producer_check(kafka::config::check_produce_properties);
    let loaded = settings::module_args::pairs(&args)
        .and_then(|pairs| settings::module_args::apply(&pairs))
        .and_then(|()| settings::register::register_all(ctx.ctx));
    if let Err(e) = loaded {
        runtime::log::warning(&format!("kafka: {e}"));
        return Status::Err;
    }
    if let Err(e) = commands::register::register_all(ctx) {
        runtime::log::warning(&format!("kafka: {e}"));
        return Status::Err;
    }
    runtime::context::init(ctx);
    runtime::main_thread::remember_main_thread();
    if !store::guard::register(ctx) {
        runtime::log::warning(
            "kafka: cannot register the command filter that guards __kafka:* keys",
        );
        return Status::Err;
    }
    module::info::register(ctx);
    if let Err(e) = module::subscriber_user::create() {
        // Only CHANNELS sources need it; they report this when they try to subscribe.
        runtime::log::warning(&format!("kafka: CHANNELS sources cannot subscribe: {e}"));
    }
    let on_cluster = ctx
        .get_flags()
        .contains(redis_module::ContextFlags::CLUSTER);
    cluster::topology::set_enabled(on_cluster);
    if on_cluster {
        if !store::definitions_aux::register(ctx.ctx) {
            runtime::log::warning(
                "kafka: cannot register the type that persists bridge definitions",
            );
            return Status::Err;
        }
        module::cluster_bus::register(ctx);
        module::cluster_bus::set_status_handler(commands::status::on_bus_message);
    }
    module::events::subscribe_server_events(ctx)
}

/// MODULE UNLOAD: refused (the module stays loaded, its bridges restart) when a Kafka client
/// is still closing at the shutdown deadline, since unloading the code under a running thread
/// would crash Redis.
fn deinit(_ctx: &Context) -> Status {
    match runtime::panic::catch("MODULE UNLOAD", module::events::stop_everything) {
        Ok(true) => {
            module::subscriber_user::release();
            runtime::context::release();
            settings::register::release_all();
            Status::Ok
        }
        _ => {
            runtime::log::warning(
                "kafka: MODULE UNLOAD refused: Kafka clients are still closing; try again shortly",
            );
            Status::Err
        }
    }
}

redis_module! {
    name: "kafka",
    version: 1,
    allocator: (ModuleAllocator, MODULE_ALLOCATOR),
    data_types: [],
    init: init,
    deinit: deinit,
    commands: [],
    event_handlers: [
        [@STREAM: source::doorbell::on_stream_event],
        [@GENERIC @STRING @LIST @SET @HASH @ZSET @EXPIRED @EVICTED @MODULE:
            source::keys::changes::on_key_event],
    ],
}
