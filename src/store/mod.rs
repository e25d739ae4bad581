//! The module's state in the dataset: key names, definitions, sink offsets, source
//! checkpoints, the one write path (applied and replicated together) and the guard that keeps
//! clients off those keys.

pub mod checkpoints;
pub mod cluster_definitions;
pub mod cluster_moves;
pub mod definitions;
pub mod definitions_aux;
pub mod guard;
pub mod keys;
pub mod keyspace;
pub mod offsets;
pub mod pause_watch;
pub mod setslot_reroute;
pub mod shared_definitions;
pub mod slot_keys;
pub mod write;
