//! CHANNELS sources: Redis pub/sub → Kafka. Redis 7.0 gives a module no hook on published
//! messages (a command filter on PUBLISH would run before ACL and miss RM_PublishMessage), so
//! the worker is a real subscriber: a connection to its own server (`endpoint`) as the
//! module's subscriber user, that PSUBSCRIBEs the pattern (`subscriber`, `resp`) and produces
//! each message as it arrives (`worker`). At most once: what is published while it is not
//! subscribed is not seen.

pub mod endpoint;
pub mod resp;
pub mod subscriber;
pub mod worker;

use std::sync::atomic::{AtomicBool, AtomicU64};

/// What STATUS shows of a CHANNELS source's subscriber beside the counters.
#[derive(Default)]
pub struct ChannelState {
    /// Subscribed now.
    pub connected: AtomicBool,
    /// Messages handed to the producer and not yet settled.
    pub in_flight: AtomicU64,
}

/// The CLIENT LIST name of a source's subscriber connection.
pub fn client_name(source: &str) -> String {
    format!("kafka-source-{source}")
}
