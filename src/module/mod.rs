//! Module-level concerns: server events (start, shutdown, role changes, cron), INFO, ACL and
//! the cluster bus.

pub mod acl;
pub mod cluster_bus;
pub mod events;
pub mod info;
