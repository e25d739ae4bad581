//! Makes the running bridges match the definitions stored in the dataset: after a restart
//! (RDB/AOF loaded), MODULE LOAD, failover, FLUSHALL, or definitions replicated to a replica.
//! Only a primary runs bridges; a replica lists them in state `replica`.

use crate::bridge::registry;
use crate::error::Error;
use crate::kafka::brokers;
use crate::kafka::embedded;
use crate::lifecycle::State;
use crate::runtime::log;
use crate::runtime::text::quoted;
use crate::spec::args::Args;
use crate::spec::options::OnError;
use crate::spec::sink::Subscription;
use crate::spec::sink_parse::parse_sink_create;
use crate::spec::source_parse::parse_source_create;
use crate::store::definitions::{self, Definition, Kind, MAX_BRIDGES};
use crate::store::keys::INDEX_KEY;
use redis_module::{Context, ContextFlags};

fn create_args(name: &str, args: &[String]) -> Args {
    let mut items = Vec::with_capacity(args.len() + 1);
    items.push(name.as_bytes().to_vec());
    items.extend(args.iter().map(|a| a.as_bytes().to_vec()));
    Args::new(items)
}

fn resting_state(definition: &Definition) -> State {
    if definition.paused {
        State::Paused
    } else {
        State::Replica
    }
}

/// Registers a bridge from its stored definition, starting it when `primary` and not paused.
pub fn instantiate(name: &str, definition: Definition, primary: bool) -> Result<(), Error> {
    let run = primary && !definition.paused;
    let resting = resting_state(&definition);
    match definition.kind {
        Kind::Sink => {
            let spec = parse_sink_create(create_args(name, &definition.args))?;
            let resolved = brokers::resolve(spec.brokers.as_deref())?;
            if resolved.embedded {
                let mut topics = match &spec.subscription {
                    Subscription::Topics(topics) => topics.clone(),
                    Subscription::Pattern(_) => Vec::new(),
                };
                if let OnError::Dlq(topic) = &spec.on_error {
                    topics.push(topic.clone());
                }
                embedded::ensure_topics(&topics);
            }
            registry::add_sink(spec, resolved.brokers, definition, run, resting)
        }
        Kind::Source => {
            let mut spec = parse_source_create(create_args(name, &definition.args))?;
            spec.created_ms = definition.created_ms;
            let resolved = brokers::resolve(spec.brokers.as_deref())?;
            registry::add_source(spec, resolved.brokers, definition, run, resting)
        }
    }
}

pub fn reconcile(ctx: &Context) {
    let flags = ctx.get_flags();
    if flags.contains(ContextFlags::LOADING) {
        return;
    }
    let primary = flags.contains(ContextFlags::MASTER);
    let stored = match definitions::load_all(ctx) {
        Ok(stored) => stored,
        Err(e) => {
            report_state_error(Some(format!("cannot read bridge definitions: {e}")), 0);
            return;
        }
    };
    let overflow = (stored.total > MAX_BRIDGES).then(|| {
        format!(
            "{INDEX_KEY} holds {} names, too many: the module manages the first {MAX_BRIDGES} it reads",
            stored.total
        )
    });
    report_state_error(overflow, stored.total);
    for (name, running) in registry::definitions() {
        let same = stored.bridges.iter().any(|(n, d)| {
            n.as_slice() == name.as_bytes()
                && d.as_ref().is_ok_and(|d| {
                    d.kind == running.kind
                        && d.args == running.args
                        && d.created_ms == running.created_ms
                })
        });
        if !same {
            registry::remove(&name);
        }
    }
    for (name, definition) in &stored.bridges {
        let definition = match definition {
            Ok(definition) => definition.clone(),
            Err(reason) => {
                report_invalid(name, reason.to_string());
                continue;
            }
        };
        // A valid definition always has a valid (ASCII) name.
        let name = String::from_utf8_lossy(name).to_string();
        if registry::kind_of(&name).is_some() {
            registry::set_paused_flag(&name, definition.paused);
            let run = primary && !definition.paused;
            if let Err(e) = registry::set_running(&name, run, resting_state(&definition)) {
                report_invalid(name.as_bytes(), e.to_string());
            }
        } else if let Err(e) = instantiate(&name, definition, primary) {
            report_invalid(name.as_bytes(), e.to_string());
        }
    }
    let names: Vec<Vec<u8>> = stored.bridges.into_iter().map(|(n, _)| n).collect();
    registry::retain_invalid(&names);
}

/// Logs a definition that cannot be started (once per distinct reason) and shows it in STATUS.
fn report_invalid(name: &[u8], reason: String) {
    if registry::invalid_reason(name).as_deref() != Some(reason.as_str()) {
        log::warning(&format!(
            "kafka: bridge {} stored in the dataset cannot be started: {reason}",
            quoted(name)
        ));
    }
    registry::set_invalid(name, reason);
}

/// A problem with the stored state as a whole (shown in INFO, logged once when it changes).
fn report_state_error(error: Option<String>, stored: usize) {
    if registry::state_error() != error {
        if let Some(error) = &error {
            log::warning(&format!("kafka: {error}"));
        }
    }
    registry::set_state_error(error, stored);
}
