//! redis-kafka: Kafka bridges inside redis-server. This file only wires the module together.

mod acl;
mod args;
mod bridge;
mod brokers;
mod commands;
mod embedded;
#[cfg(test)]
mod fuzz;
mod gil;
mod glob;
mod info;
mod kafka;
mod kafka_config;
mod kafka_log;
mod lifecycle;
mod mapping;
mod module;
mod produce_pool;
mod reconcile;
mod record;
mod redact;
mod registry;
mod settings;
mod sink;
mod sink_parse;
mod source;
mod source_parse;
mod source_record;
mod source_spec;
mod source_template;
mod spec;
mod store;
mod template;

use redis_module::configuration::ConfigurationFlags;
use redis_module::{redis_module, Context, RedisString, Status};

// Unit tests run outside Redis, where its allocator does not exist.
#[cfg(not(test))]
type ModuleAllocator = redis_module::alloc::RedisAlloc;
#[cfg(not(test))]
const MODULE_ALLOCATOR: ModuleAllocator = redis_module::alloc::RedisAlloc;
#[cfg(test)]
type ModuleAllocator = std::alloc::System;
#[cfg(test)]
const MODULE_ALLOCATOR: ModuleAllocator = std::alloc::System;

fn init(ctx: &Context, args: &[RedisString]) -> Status {
    if let Err(e) = settings::apply_module_args(args) {
        module::log::warning(&module::reply::error_text(&e));
        return Status::Err;
    }
    module::context::init(ctx);
    if !store::guard::register(ctx) {
        module::log::warning(
            "kafka: cannot register the command filter that guards __kafka:* keys",
        );
        return Status::Err;
    }
    info::register(ctx);
    acl::categorize(ctx);
    lifecycle::subscribe_server_events(ctx)
}

/// MODULE UNLOAD: refused (the module stays loaded, its bridges restart) when a Kafka client
/// is still closing at the shutdown deadline, since unloading the code under a running thread
/// would crash Redis.
fn deinit(_ctx: &Context) -> Status {
    match module::panic::catch("MODULE UNLOAD", lifecycle::stop_everything) {
        Ok(true) => {
            module::context::release();
            Status::Ok
        }
        _ => {
            module::log::warning(
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
    commands: [
        ["kafka.sink.create", commands::entry::sink_create, "write deny-oom admin", 0, 0, 0, ""],
        ["kafka.sink.delete", commands::entry::sink_delete, "write admin", 0, 0, 0, ""],
        ["kafka.sink.pause", commands::entry::sink_pause, "write admin", 0, 0, 0, ""],
        ["kafka.sink.resume", commands::entry::sink_resume, "write deny-oom admin", 0, 0, 0, ""],
        ["kafka.sink.list", commands::entry::sink_list, "readonly", 0, 0, 0, ""],
        ["kafka.source.create", commands::entry::source_create, "write deny-oom admin", 0, 0, 0, ""],
        ["kafka.source.delete", commands::entry::source_delete, "write admin", 0, 0, 0, ""],
        ["kafka.source.pause", commands::entry::source_pause, "write admin", 0, 0, 0, ""],
        ["kafka.source.resume", commands::entry::source_resume, "write deny-oom admin", 0, 0, 0, ""],
        ["kafka.source.list", commands::entry::source_list, "readonly", 0, 0, 0, ""],
        ["kafka.status", commands::entry::status, "readonly", 0, 0, 0, ""],
        ["kafka.produce", commands::entry::produce, "", 0, 0, 0, ""],
        ["kafka.debug", commands::entry::debug, "admin", 0, 0, 0, ""],
        ["kafka._state", commands::entry::state, "write admin no-monitor no-slowlog", 0, 0, 0, ""],
        ["kafka._refused", commands::entry::refused, "readonly fast allow-loading allow-stale", 0, 0, 0, ""],
    ],
    event_handlers: [
        [@STREAM: source::doorbell::on_stream_event],
    ],
    configurations: [
        i64: [
            ["slice-max-records", &settings::SLICE_MAX_RECORDS, settings::SLICE_MAX_RECORDS_DEFAULT, 1, 1_000_000, ConfigurationFlags::DEFAULT, None],
            ["slice-max-micros", &settings::SLICE_MAX_MICROS, settings::SLICE_MAX_MICROS_DEFAULT, 10, 1_000_000, ConfigurationFlags::DEFAULT, None],
            ["slice-max-bytes", &settings::SLICE_MAX_BYTES, settings::SLICE_MAX_BYTES_DEFAULT, settings::SLICE_MAX_BYTES_RANGE.0, settings::SLICE_MAX_BYTES_RANGE.1, ConfigurationFlags::MEMORY, None],
            ["sink-batch-max-bytes", &settings::SINK_BATCH_MAX_BYTES, settings::SINK_BATCH_MAX_BYTES_DEFAULT, settings::SINK_BATCH_MAX_BYTES_RANGE.0, settings::SINK_BATCH_MAX_BYTES_RANGE.1, ConfigurationFlags::MEMORY, None],
            ["source-inflight-max-bytes", &settings::SOURCE_INFLIGHT_MAX_BYTES, settings::SOURCE_INFLIGHT_MAX_BYTES_DEFAULT, settings::SOURCE_INFLIGHT_MAX_BYTES_RANGE.0, settings::SOURCE_INFLIGHT_MAX_BYTES_RANGE.1, ConfigurationFlags::MEMORY, None],
            ["shutdown-timeout-ms", &settings::SHUTDOWN_TIMEOUT_MS, settings::SHUTDOWN_TIMEOUT_MS_DEFAULT, settings::SHUTDOWN_TIMEOUT_MS_RANGE.0, settings::SHUTDOWN_TIMEOUT_MS_RANGE.1, ConfigurationFlags::DEFAULT, None],
        ],
        string: [
            ["brokers", &settings::BROKERS, "", ConfigurationFlags::DEFAULT, None],
            ["client-id", &*settings::CLIENT_ID, settings::DEFAULT_CLIENT_ID, ConfigurationFlags::DEFAULT, None],
        ],
        bool: [
            ["embedded-broker", &settings::EMBEDDED_BROKER, false, ConfigurationFlags::DEFAULT, None],
            ["debug-command", &settings::DEBUG_COMMAND, false, ConfigurationFlags::IMMUTABLE, None],
        ],
        enum: [
            ["log-level", &settings::LOG_LEVEL, settings::LogLevel::warning, ConfigurationFlags::DEFAULT, None],
        ],
        module_args_as_configuration: false,
    ]
}
