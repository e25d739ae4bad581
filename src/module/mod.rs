//! Module-level concerns: server events (start, shutdown, role changes, cron), INFO and ACL.

pub mod acl;
pub mod events;
pub mod info;
