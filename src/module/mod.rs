//! Module-level concerns: server events (start, shutdown, role changes, cron), INFO, ACL, the
//! cluster bus and the user CHANNELS sources subscribe as.

pub mod acl;
pub mod cluster_bus;
pub mod events;
pub mod info;
pub mod subscriber_user;
