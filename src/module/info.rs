//! The `INFO kafka` section: counts and one dictionary line per bridge, in the
//! `name:key=value,...` form redis_exporter and other INFO scrapers read.
//!   kafka_sinks:1
//!   kafka_bridge_pv:kind=sink,state=running,records=10,errors=0,skipped=0,dlq=0,lag=0

use crate::bridge::registry;
use crate::kafka::embedded;
use crate::lifecycle::count;
use crate::spec::source::Feed;
use redis_module::raw;
use std::os::raw::c_int;
use std::sync::atomic::Ordering;

struct Line {
    name: String,
    kind: &'static str,
    state: &'static str,
    numbers: Vec<(&'static str, i64)>,
}

pub extern "C" fn kafka_info(ctx: *mut raw::RedisModuleInfoCtx, for_crash_report: c_int) {
    crate::runtime::panic::catch_and_log("INFO", || section(ctx, for_crash_report));
}

fn section(ctx: *mut raw::RedisModuleInfoCtx, for_crash_report: c_int) {
    raw::add_info_section(ctx, None);
    if for_crash_report != 0 {
        // The registry lock may be held by the thread that crashed.
        return;
    }
    let mut lines = registry::sinks(|e| {
        let c = &e.shared.counters;
        Line {
            name: e.spec.name.clone(),
            kind: "sink",
            state: e.shared.life.state().name(),
            numbers: vec![
                ("records", count(&c.records) as i64),
                ("errors", count(&c.errors) as i64),
                ("skipped", count(&c.skipped) as i64),
                ("dlq", count(&c.dlq) as i64),
                ("lag", e.shared.lag().unwrap_or(-1)),
            ],
        }
    });
    let sinks = lines.len();
    lines.extend(registry::sources(|e| {
        let c = &e.shared.counters;
        let backlog = match e.spec.feed {
            Feed::Channels => e.shared.channel.in_flight.load(Ordering::Relaxed) as i64,
            _ => e.shared.backlog().map_or(-1, |b| b as i64),
        };
        let mut numbers = vec![
            ("records", count(&c.records) as i64),
            ("errors", count(&c.errors) as i64),
            ("ignored", count(&c.ignored) as i64),
            ("skipped", count(&c.skipped) as i64),
            ("dlq", count(&c.dlq) as i64),
            ("backlog", backlog),
        ];
        if e.spec.feed == Feed::Channels {
            numbers.extend([
                ("dropped", count(&c.dropped) as i64),
                ("reconnects", count(&c.reconnects) as i64),
            ]);
        }
        Line {
            name: e.spec.name.clone(),
            kind: "source",
            state: e.shared.life.state().name(),
            numbers,
        }
    }));
    let invalid = registry::invalid();
    raw::add_info_field_long_long(ctx, "sinks", sinks as i64);
    raw::add_info_field_long_long(ctx, "sources", (lines.len() - sinks) as i64);
    raw::add_info_field_long_long(ctx, "invalid_definitions", invalid.len() as i64);
    raw::add_info_field_long_long(ctx, "stored_bridges", registry::stored_count() as i64);
    raw::add_info_field_str(
        ctx,
        "state_error",
        &registry::state_error().unwrap_or_default(),
    );
    raw::add_info_field_str(
        ctx,
        "embedded_broker",
        &embedded::running_bootstrap().unwrap_or_default(),
    );
    if let Some(ownership) = crate::cluster::topology::current() {
        raw::add_info_field_str(ctx, "cluster_node", &ownership.node_id);
        raw::add_info_field_long_long(ctx, "cluster_slots_served", ownership.served_count() as i64);
    }
    for line in lines {
        raw::add_info_begin_dict_field(ctx, &format!("bridge_{}", line.name));
        raw::add_info_field_str(ctx, "kind", line.kind);
        raw::add_info_field_str(ctx, "state", line.state);
        for (name, value) in line.numbers {
            raw::add_info_field_long_long(ctx, name, value);
        }
        raw::add_info_end_dict_field(ctx);
    }
}

/// Replaces the default (empty) info callback registered by `redis_module!`.
pub fn register(ctx: &redis_module::Context) {
    raw::register_info_function(ctx.ctx, Some(kafka_info));
}
