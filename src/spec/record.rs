//! A borrowed view of one Kafka record, independent of rdkafka so the mapping is pure.

use std::ffi::CStr;

/// The header that overrides a sink's TTL for one record, in seconds.
pub const TTL_HEADER: &str = "redis.ttl";
/// The same name as librdkafka looks it up.
pub const TTL_HEADER_C: &CStr = c"redis.ttl";

/// A record's headers, looked up by name only when a template asks for one, so records pay
/// nothing for headers no template reads.
pub trait HeaderLookup {
    /// The last header of that name (Kafka allows repeats): `Some(None)` when its value is null.
    /// The name is a C string because librdkafka compares it so: no allocation per lookup.
    fn last(&self, name: &CStr) -> Option<Option<&[u8]>>;
}

impl std::fmt::Debug for dyn HeaderLookup + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<headers>")
    }
}

/// Headers as (name, value) pairs: what tests and the fuzzer build.
impl HeaderLookup for Vec<(&str, Option<&[u8]>)> {
    fn last(&self, name: &CStr) -> Option<Option<&[u8]>> {
        self.iter()
            .rev()
            .find(|(n, _)| n.as_bytes() == name.to_bytes())
            .map(|(_, v)| *v)
    }
}

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
    /// Every header, for `${header.<name>}`.
    pub headers: Option<&'a dyn HeaderLookup>,
}
