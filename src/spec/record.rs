//! A borrowed view of one Kafka record, independent of rdkafka so the mapping is pure.

/// The header that overrides a sink's TTL for one record, in seconds.
pub const TTL_HEADER: &str = "redis.ttl";

#[derive(Debug, Clone, Copy, Default)]
pub struct Record<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch, when the broker or producer set one.
    pub timestamp: Option<i64>,
    pub key: Option<&'a [u8]>,
    /// `None` is a tombstone.
    pub value: Option<&'a [u8]>,
    /// The `redis.ttl` header, when present.
    pub ttl_header: Option<&'a [u8]>,
}
