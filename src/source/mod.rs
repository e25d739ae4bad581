//! Redis → Kafka. STREAMS sources: XADD rings a doorbell, a worker reads new entries under the
//! module lock in slices, turns them into records and produces them; checkpoints move once Kafka
//! acknowledged. KEYS sources (`keys`): any change marks the key, a worker produces its current
//! value, and the topic is reconciled with the dataset at every start. CHANNELS sources
//! (`channels`): a subscriber connection to this server produces each published message.

pub mod begin;
pub mod channels;
pub mod doorbell;
pub mod forward;
pub mod keys;
pub mod placement;
pub mod record;
pub mod shared;
pub mod stream_io;
pub mod topics;
pub mod worker;

use crate::lifecycle::Run;
use crate::source::shared::SourceShared;
use crate::spec::source::{Feed, SourceSpec};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The body of a source's worker thread, by feed.
pub fn run(
    spec: Arc<SourceSpec>,
    shared: Arc<SourceShared>,
    run: Arc<Run>,
    previous: Vec<JoinHandle<()>>,
) {
    match spec.feed {
        Feed::Streams => worker::run(spec, shared, run, previous),
        Feed::Keys { .. } => keys::worker::run(spec, shared, run, previous),
        Feed::Channels => channels::worker::run(spec, shared, run, previous),
    }
}
