//! Kafka → Redis: a worker per task polls records, maps each to a Redis write and applies
//! slices of them under the module lock together with their offsets.

pub mod apply;
pub mod context;
pub mod flat_object;
pub mod group;
pub mod handover;
pub mod mapping;
pub mod projection;
pub mod shared;
pub mod slot_progress;
pub mod worker;
