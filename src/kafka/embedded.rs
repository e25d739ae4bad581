//! librdkafka's in-process mock cluster, hosted inside redis-server when
//! `kafka.embedded-broker` is on, so the module can be tried without a Kafka deployment.
//! Data lives in memory only and is gone when Redis stops.

use crate::error::Error;
use parking_lot::Mutex;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

struct Embedded {
    cluster: MockCluster<'static, DefaultProducerContext>,
    bootstrap: String,
}

// The mock cluster is a librdkafka handle whose API is thread-safe; it is only reached through
// the mutex below.
unsafe impl Send for Embedded {}

static EMBEDDED: Mutex<Option<Embedded>> = Mutex::new(None);

const PARTITIONS: i32 = 4;

/// Starts the cluster on first use and returns its bootstrap address.
pub fn bootstrap() -> Result<String, Error> {
    let mut embedded = EMBEDDED.lock();
    if let Some(running) = embedded.as_ref() {
        return Ok(running.bootstrap.clone());
    }
    let cluster =
        MockCluster::new(1).map_err(|e| Error::Kafka(format!("starting embedded broker: {e}")))?;
    let bootstrap = cluster.bootstrap_servers();
    *embedded = Some(Embedded {
        cluster,
        bootstrap: bootstrap.clone(),
    });
    Ok(bootstrap)
}

/// The bootstrap address if the embedded broker is running.
pub fn running_bootstrap() -> Option<String> {
    EMBEDDED.lock().as_ref().map(|e| e.bootstrap.clone())
}

/// Creates topics up front so a sink subscribed before the first produce sees them at once.
pub fn ensure_topics(topics: &[String]) {
    if let Some(embedded) = EMBEDDED.lock().as_ref() {
        for topic in topics {
            // An existing topic is reported as an error and left as it is.
            let _ = embedded.cluster.create_topic(topic, PARTITIONS, 1);
        }
    }
}

pub fn stop() {
    EMBEDDED.lock().take();
}
