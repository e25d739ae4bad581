//! Creates the topics a source writes to, through the admin API, the first time it meets them.
//! A broker that refuses (no CreateTopics, no permission) leaves the error in STATUS; producing
//! is still tried, for brokers that create topics on first use.

use crate::error::Error;
use crate::kafka::config as kafka_config;
use crate::kafka::embedded;
use crate::kafka::wait::interruptible;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

pub struct TopicMaker {
    admin: Option<AdminClient<DefaultClientContext>>,
    embedded: bool,
    partitions: i32,
    replication: i32,
    /// Topic-level settings of the topics it creates.
    topic_config: Vec<(&'static str, &'static str)>,
    known: HashSet<String>,
    /// Topics the broker did not answer about, and when it was last asked.
    unanswered: HashMap<String, Instant>,
}

/// How long a topic the broker did not answer about is left alone before asking again.
const ASK_AGAIN: Duration = Duration::from_secs(30);
/// Topics remembered; past this they are forgotten (and asked about again when met), so a
/// template that names a new topic per channel or stream cannot grow memory without bound.
const MAX_REMEMBERED: usize = 10_000;

impl TopicMaker {
    pub fn new(
        brokers: &str,
        config: &[(String, String)],
        partitions: i32,
        replication: i32,
    ) -> TopicMaker {
        let embedded = embedded::running_bootstrap().is_some_and(|b| b == brokers);
        TopicMaker {
            admin: kafka_config::topic_admin(brokers, config).create().ok(),
            embedded,
            partitions,
            replication,
            topic_config: Vec::new(),
            known: HashSet::new(),
            unanswered: HashMap::new(),
        }
    }

    pub fn with_topic_config(mut self, name: &'static str, value: &'static str) -> TopicMaker {
        self.topic_config.push((name, value));
        self
    }

    /// Makes sure `topic` exists; Err carries the broker's refusal for STATUS. `exists` asks
    /// the broker first, so brokers without CreateTopics (or that create topics on first use)
    /// cost one metadata round trip.
    /// Gives up (for now, not for good) when `stop` is set while the broker is asked.
    pub fn ensure(
        &mut self,
        topic: &str,
        exists: impl FnOnce(&str) -> bool,
        stop: &AtomicBool,
    ) -> Result<(), Error> {
        if self.known.contains(topic) {
            return Ok(());
        }
        if self.known.len() + self.unanswered.len() >= MAX_REMEMBERED {
            self.known.clear();
            self.unanswered.clear();
        }
        if self
            .unanswered
            .get(topic)
            .is_some_and(|asked| asked.elapsed() < ASK_AGAIN)
        {
            return Ok(());
        }
        if exists(topic) {
            self.known.insert(topic.to_string());
            return Ok(());
        }
        if self.embedded {
            embedded::ensure_topics(&[topic.to_string()]);
            self.known.insert(topic.to_string());
            return Ok(());
        }
        let Some(admin) = &self.admin else {
            return Err(Error::Kafka("no admin client".to_string()));
        };
        let new_topic = self.topic_config.iter().fold(
            NewTopic::new(
                topic,
                self.partitions,
                TopicReplication::Fixed(self.replication),
            ),
            |new_topic, (name, value)| new_topic.set(name, value),
        );
        let options = AdminOptions::new()
            .operation_timeout(Some(Duration::from_secs(10)))
            .request_timeout(Some(Duration::from_secs(10)));
        let Some(result) = interruptible(
            admin.create_topics([&new_topic], &options),
            stop,
            Duration::from_secs(15),
        ) else {
            self.unanswered.insert(topic.to_string(), Instant::now());
            return Err(Error::Kafka(format!(
                "creating topic {topic}: no answer from the broker"
            )));
        };
        let outcome = match result {
            Ok(results) => match results.into_iter().next() {
                Some(Ok(_)) | None => Ok(()),
                Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => Ok(()),
                Some(Err((_, code))) => {
                    Err(Error::Kafka(format!("creating topic {topic}: {code}")))
                }
            },
            Err(e) => Err(Error::Kafka(format!("creating topic {topic}: {e}"))),
        };
        // Asked once per topic per run either way: a refusal is not retried on every batch.
        self.known.insert(topic.to_string());
        outcome
    }
}
