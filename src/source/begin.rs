//! What every source run does first: wait for the previous run of the same source (a paused run
//! may still be settling what it sent), then get its own Redis context and producer.

use crate::lifecycle::Run;
use crate::runtime::gil::Gil;
use crate::source::forward::Forwarder;
use crate::source::shared::SourceShared;
use crate::spec::source::SourceSpec;
use std::sync::Arc;
use std::thread::JoinHandle;

/// The context and producer of a new run; None when the run ended first or failed (the
/// failure is in the source's state).
pub fn begin(
    spec: &SourceSpec,
    shared: &Arc<SourceShared>,
    run: &Run,
    previous: Vec<JoinHandle<()>>,
) -> Option<(Gil, Forwarder)> {
    for handle in previous {
        let _ = handle.join();
    }
    if run.ending() {
        return None;
    }
    let Some(gil) = Gil::new() else {
        shared
            .life
            .fail(run, "cannot get a thread-safe Redis context".to_string());
        return None;
    };
    let reporter = shared.clone();
    let on_error = Arc::new(move |message: String| reporter.life.set_last_error(message));
    match Forwarder::new(&spec.name, &shared.brokers, &spec.config, on_error) {
        Ok(forwarder) => Some((gil, forwarder)),
        Err(e) => {
            shared.life.fail(run, e);
            None
        }
    }
}
