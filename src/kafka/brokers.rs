//! Chooses the broker list for a bridge: its BROKERS option, else `kafka.brokers`, else the
//! embedded broker when enabled.

use crate::error::Error;
use crate::kafka::embedded;
use crate::settings;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub brokers: String,
    pub embedded: bool,
}

pub fn resolve(explicit: Option<&str>) -> Result<Resolved, Error> {
    if let Some(brokers) = explicit {
        return Ok(Resolved {
            brokers: brokers.to_string(),
            embedded: false,
        });
    }
    if let Some(brokers) = settings::default_brokers() {
        return Ok(Resolved {
            brokers,
            embedded: false,
        });
    }
    if settings::embedded_broker_enabled() {
        return Ok(Resolved {
            brokers: embedded::bootstrap()?,
            embedded: true,
        });
    }
    Err(Error::Arg("no brokers configured: give BROKERS <host:port>, set kafka.brokers, or enable kafka.embedded-broker".to_string()))
}
