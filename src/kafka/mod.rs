//! Kafka plumbing shared by sinks and sources.

pub mod dead_letters;
pub mod delivery;
pub mod wait;
