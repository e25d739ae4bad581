//! The sink's place in its Kafka consumer group: joining it, and noticing when the group gives
//! the sink nothing for too long. A group coordinator can settle a group with nothing assigned
//! (Tansu 0.6 does when its leader died, then only heartbeats follow), and other consumers
//! sharing the group can hold every partition; a new member forces a new generation.

use crate::kafka::config;
use crate::lifecycle::Run;
use crate::sink::context::SinkContext;
use crate::sink::shared::SinkShared;
use crate::spec::sink::{SinkSpec, Subscription};
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// librdkafka's default session.timeout.ms, used when the sink's CONFIG does not set one.
const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(45);

/// A consumer in the sink's group, subscribed; None (the run failed) when that is impossible.
pub fn join_group(
    spec: &SinkSpec,
    shared: &Arc<SinkShared>,
    run: &Arc<Run>,
    task: usize,
) -> Option<BaseConsumer<SinkContext>> {
    let Some(context) = SinkContext::new(shared.clone(), run.clone(), task, &spec.name, spec.start)
    else {
        shared.fail(run, "cannot get a thread-safe Redis context".to_string());
        return None;
    };
    let mut config = config::sink_consumer(spec, &shared.brokers, task);
    if let Some(view) = crate::cluster::topology::current() {
        // Each primary reads every partition (it keeps the records of its own slots), so each
        // is its own group: one per node, since a promoted replica is a new member anyway.
        let node: String = view.node_id.chars().take(12).collect();
        config.set("group.id", format!("{}.{node}", spec.group));
    }
    let consumer: BaseConsumer<SinkContext> = match config.create_with_context(context) {
        Ok(consumer) => consumer,
        Err(e) => {
            shared.fail(run, format!("creating consumer: {e}"));
            return None;
        }
    };
    let topics = spec.subscription.subscribe_list();
    let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
    if let Err(e) = consumer.subscribe(&topics) {
        shared.fail(
            run,
            format!("subscribing to {}: {e}", spec.subscription.describe()),
        );
        return None;
    }
    Some(consumer)
}

pub struct Starvation {
    /// Since when no task of this sink holds a partition.
    unassigned_since: Option<Instant>,
    /// A session timeout (for dead members to leave) plus time for the rebalance.
    starve_after: Duration,
}

impl Starvation {
    pub fn new(spec: &SinkSpec) -> Starvation {
        Starvation {
            unassigned_since: None,
            starve_after: session_timeout(spec) + Duration::from_secs(15),
        }
    }

    /// Why the sink should rejoin its group: no task has held a partition for `starve_after`
    /// although its topics have partitions.
    pub fn check(
        &mut self,
        spec: &SinkSpec,
        shared: &SinkShared,
        consumer: &BaseConsumer<SinkContext>,
    ) -> Option<String> {
        if shared.holds_any_partition() {
            self.unassigned_since = None;
            return None;
        }
        let since = *self.unassigned_since.get_or_insert_with(Instant::now);
        if since.elapsed() < self.starve_after {
            return None;
        }
        self.unassigned_since = Some(Instant::now());
        // A PATTERN may match nothing yet: that is not starvation.
        let Subscription::Topics(topics) = &spec.subscription else {
            return None;
        };
        let partitions: usize = topics
            .iter()
            .filter_map(|topic| {
                consumer
                    .fetch_metadata(Some(topic), Duration::from_secs(1))
                    .ok()
            })
            .map(|metadata| {
                metadata
                    .topics()
                    .iter()
                    .map(|t| t.partitions().len())
                    .sum::<usize>()
            })
            .sum();
        (partitions > 0).then(|| {
            format!(
                "no task of this sink was given any of the {partitions} partitions of {} for {} s: group '{}' is held by other consumers or its coordinator assigned nothing; rejoining as a new member",
                topics.join(","),
                self.starve_after.as_secs(),
                spec.group
            )
        })
    }
}

/// The sink's session.timeout.ms: its CONFIG's or librdkafka's default.
fn session_timeout(spec: &SinkSpec) -> Duration {
    spec.config
        .iter()
        .find(|(property, _)| property.eq_ignore_ascii_case("session.timeout.ms"))
        .and_then(|(_, value)| value.trim().parse::<u64>().ok())
        .map_or(DEFAULT_SESSION_TIMEOUT, Duration::from_millis)
}
