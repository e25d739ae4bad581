//! redis-kafka: Kafka bridges inside redis-server. This file only wires the module together.

mod acl;
mod args;
mod bridge;
mod brokers;
mod commands;
mod definitions;
mod embedded;
mod gil;
mod glob;
mod info;
mod kafka_config;
mod kafka_log;
mod lifecycle;
mod mapping;
mod offsets;
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
        ctx.log_warning(&e.to_string());
        return Status::Err;
    }
    info::register(ctx);
    acl::categorize(ctx);
    lifecycle::subscribe_server_events(ctx)
}

fn deinit(_ctx: &Context) -> Status {
    lifecycle::stop_everything();
    Status::Ok
}

redis_module! {
    name: "kafka",
    version: 1,
    allocator: (ModuleAllocator, MODULE_ALLOCATOR),
    data_types: [],
    init: init,
    deinit: deinit,
    commands: [
        ["kafka.sink.create", commands::sink::create, "write deny-oom admin", 0, 0, 0, ""],
        ["kafka.sink.delete", commands::sink::delete, "write admin", 0, 0, 0, ""],
        ["kafka.sink.pause", commands::sink::pause, "write admin", 0, 0, 0, ""],
        ["kafka.sink.resume", commands::sink::resume, "write deny-oom admin", 0, 0, 0, ""],
        ["kafka.sink.list", commands::sink::list, "readonly", 0, 0, 0, ""],
        ["kafka.source.create", commands::source::create, "write deny-oom admin", 0, 0, 0, ""],
        ["kafka.source.delete", commands::source::delete, "write admin", 0, 0, 0, ""],
        ["kafka.source.pause", commands::source::pause, "write admin", 0, 0, 0, ""],
        ["kafka.source.resume", commands::source::resume, "write deny-oom admin", 0, 0, 0, ""],
        ["kafka.source.list", commands::source::list, "readonly", 0, 0, 0, ""],
        ["kafka.status", commands::status::status, "readonly", 0, 0, 0, ""],
        ["kafka.produce", commands::produce::produce, "", 0, 0, 0, ""],
    ],
    event_handlers: [
        [@STREAM: source::doorbell::on_stream_event],
    ],
    configurations: [
        i64: [
            ["slice-max-records", &settings::SLICE_MAX_RECORDS, settings::SLICE_MAX_RECORDS_DEFAULT, 1, 1_000_000, ConfigurationFlags::DEFAULT, None],
            ["slice-max-micros", &settings::SLICE_MAX_MICROS, settings::SLICE_MAX_MICROS_DEFAULT, 10, 1_000_000, ConfigurationFlags::DEFAULT, None],
        ],
        string: [
            ["brokers", &settings::BROKERS, "", ConfigurationFlags::DEFAULT, None],
            ["client-id", &*settings::CLIENT_ID, settings::DEFAULT_CLIENT_ID, ConfigurationFlags::DEFAULT, None],
        ],
        bool: [
            ["embedded-broker", &settings::EMBEDDED_BROKER, false, ConfigurationFlags::DEFAULT, None],
        ],
        enum: [
            ["log-level", &settings::LOG_LEVEL, settings::LogLevel::warning, ConfigurationFlags::DEFAULT, None],
        ],
        module_args_as_configuration: false,
    ]
}
