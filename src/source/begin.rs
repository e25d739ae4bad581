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

/// Room left in the producer's `message.max.bytes` for a record's key and headers.
pub const RECORD_OVERHEAD: usize = 1024;

/// The largest value a source's producer can send: its `message.max.bytes` (librdkafka's
/// default 1,000,000) less room for the key and headers.
pub fn max_value_bytes(config: &[(String, String)]) -> usize {
    config
        .iter()
        .rev()
        .find(|(property, _)| property.eq_ignore_ascii_case("message.max.bytes"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(1_000_000)
        .saturating_sub(RECORD_OVERHEAD)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_value_follows_message_max_bytes() {
        assert_eq!(max_value_bytes(&[]), 1_000_000 - RECORD_OVERHEAD);
        let config = |v: &str| vec![("Message.Max.Bytes".to_string(), v.to_string())];
        assert_eq!(max_value_bytes(&config("5000")), 5000 - RECORD_OVERHEAD);
        assert_eq!(max_value_bytes(&config("10")), 1);
        assert_eq!(max_value_bytes(&config("x")), 1_000_000 - RECORD_OVERHEAD);
    }
}
