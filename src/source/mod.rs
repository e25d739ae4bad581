//! Redis → Kafka: XADD rings a doorbell, a worker reads new entries under the module lock in
//! slices, turns them into records and produces them; checkpoints move once Kafka acknowledged.

pub mod doorbell;
pub mod forward;
pub mod placement;
pub mod record;
pub mod shared;
pub mod stream_io;
pub mod topics;
pub mod worker;
