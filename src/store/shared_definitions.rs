//! Bridge definitions shared by the primaries of a Redis Cluster (issue 12, see
//! docs/cluster-design.md). Every change is a `Record` with a version, and each primary keeps
//! the newest version of each name, a deletion included. Merging in any order gives the same
//! table, so primaries converge by exchanging records over the cluster bus. Comparing digests
//! tells them when to exchange. This file is the pure core: the codec, merge and digest.

use crate::error::Error;
use crate::spec::args::check_kafka_name;
use crate::store::definitions::{Definition, Kind, MAX_ARGS_BYTES};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Which change is newer: the later one, then the one from the larger node id, so every
/// primary picks the same winner. Clock skew between primaries can let an older change win.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub at_ms: u64,
    pub origin: String,
}

impl Version {
    /// The version of a change made here now: never equal to or older than this node's last
    /// one, even for two changes within one millisecond.
    pub fn next(origin: &str, now_ms: u64, last: Option<&Version>) -> Version {
        let floor = last.map_or(0, |v| v.at_ms + 1);
        Version {
            at_ms: now_ms.max(floor),
            origin: origin.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    pub version: Version,
    /// None: the bridge was deleted. The deletion is kept, so a primary that missed it
    /// cannot bring the bridge back.
    pub definition: Option<Definition>,
    /// A deletion that also removes the bridge's progress (DELETE PURGE).
    pub purge: bool,
}

/// Cluster bus messages stay far below the bus's limits.
const MAX_RECORD_BYTES: usize = MAX_ARGS_BYTES + 4096;

impl Record {
    pub fn encode(&self) -> Vec<u8> {
        let mut object = json!({
            "name": self.name,
            "at_ms": self.version.at_ms,
            "origin": self.version.origin,
        });
        if let Some(definition) = &self.definition {
            object["kind"] = json!(definition.kind.name());
            object["args"] = json!(definition.args);
            object["created_ms"] = json!(definition.created_ms);
            object["paused"] = json!(definition.paused);
        }
        if self.purge {
            object["purge"] = json!(true);
        }
        object.to_string().into_bytes()
    }

    /// Reads a record another node sent; anything malformed is refused, never trusted.
    pub fn decode(bytes: &[u8]) -> Result<Record, Error> {
        let bad = |what: &str| Error::State(format!("cluster definition record: {what}"));
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(bad("too large"));
        }
        let value: Value = serde_json::from_slice(bytes).map_err(|_| bad("not JSON"))?;
        let text = |field: &str| value.get(field).and_then(Value::as_str);
        let name = text("name").ok_or_else(|| bad("no name"))?.to_string();
        check_kafka_name("bridge name", &name, 200)?;
        let version = Version {
            at_ms: value
                .get("at_ms")
                .and_then(Value::as_u64)
                .ok_or_else(|| bad("no at_ms"))?,
            origin: text("origin").ok_or_else(|| bad("no origin"))?.to_string(),
        };
        let definition = match text("kind") {
            None => None,
            Some(kind) => Some(Definition {
                kind: match kind {
                    "sink" => Kind::Sink,
                    "source" => Kind::Source,
                    _ => return Err(bad("unknown kind")),
                },
                args: value
                    .get("args")
                    .and_then(Value::as_array)
                    .ok_or_else(|| bad("no args"))?
                    .iter()
                    .map(|a| {
                        a.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| bad("bad args"))
                    })
                    .collect::<Result<_, _>>()?,
                created_ms: value.get("created_ms").and_then(Value::as_u64).unwrap_or(0),
                paused: value
                    .get("paused")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            }),
        };
        Ok(Record {
            name,
            version,
            purge: value.get("purge").and_then(Value::as_bool).unwrap_or(false),
            definition,
        })
    }
}

/// The newest record of each bridge name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    records: BTreeMap<String, Record>,
}

impl Table {
    pub const fn new() -> Table {
        Table {
            records: BTreeMap::new(),
        }
    }

    /// Keeps `record` if it is newer than what the table holds for its name; true if kept.
    /// Two different records with one version (only a faulty peer sends those) are ordered by
    /// their encoding, so even then every primary keeps the same one.
    pub fn merge(&mut self, record: Record) -> bool {
        let newer = match self.records.get(&record.name) {
            None => true,
            Some(held) => match record.version.cmp(&held.version) {
                std::cmp::Ordering::Greater => true,
                std::cmp::Ordering::Less => false,
                std::cmp::Ordering::Equal => record.encode() > held.encode(),
            },
        };
        if newer {
            self.records.insert(record.name.clone(), record);
        }
        newer
    }

    /// Equal on two primaries when they hold the same records (FNV-1a over the encoded
    /// records in name order).
    pub fn digest(&self) -> u64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |bytes: &[u8]| {
            for &b in bytes {
                hash ^= u64::from(b);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
            hash ^= 0xff;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        };
        for record in self.records.values() {
            feed(&record.encode());
        }
        hash
    }

    /// Bridges that exist (not deleted), by name.
    pub fn live(&self) -> impl Iterator<Item = (&str, &Definition)> {
        self.records
            .values()
            .filter_map(|r| r.definition.as_ref().map(|d| (r.name.as_str(), d)))
    }

    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.records.values()
    }

    pub fn get(&self, name: &str) -> Option<&Record> {
        self.records.get(name)
    }

    pub fn clear(&mut self) {
        self.records.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::{check, Gen};

    fn record(g: &mut Gen) -> Record {
        Record {
            name: format!("b{}", g.below(4)),
            version: Version {
                at_ms: g.below(5) as u64,
                origin: format!("node{}", g.below(3)),
            },
            definition: g.chance(70).then(|| Definition {
                kind: if g.chance(50) {
                    Kind::Sink
                } else {
                    Kind::Source
                },
                args: vec!["TOPICS".into(), format!("t{}", g.below(3))],
                created_ms: g.below(3) as u64,
                paused: g.chance(30),
            }),
            purge: g.chance(10),
        }
    }

    #[test]
    fn primaries_converge_whatever_order_records_arrive_in() {
        check("shared definitions converge", |g| {
            let records: Vec<Record> = (0..g.below(12)).map(|_| record(g)).collect();
            let mut forward = Table::default();
            records.iter().cloned().for_each(|r| {
                forward.merge(r);
            });
            let mut shuffled = records.clone();
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, g.below(i + 1));
            }
            let mut other = Table::default();
            for r in shuffled.iter().chain(shuffled.iter()) {
                other.merge(r.clone());
            }
            assert_eq!(forward, other, "merge must not depend on order or repeats");
            assert_eq!(forward.digest(), other.digest());
            let deleted = forward.records().filter(|r| r.definition.is_none()).count();
            assert_eq!(forward.live().count() + deleted, forward.records().count());
            // A table that missed a record whose version is not shadowed differs in digest.
            if let Some(last) = records.last() {
                let mut fewer = Table::default();
                records[..records.len() - 1].iter().cloned().for_each(|r| {
                    fewer.merge(r);
                });
                if fewer != forward {
                    assert_ne!(fewer.digest(), forward.digest(), "{last:?}");
                }
            }
        });
    }

    #[test]
    fn a_nodes_changes_within_one_millisecond_get_distinct_versions() {
        let first = Version::next("n", 100, None);
        let second = Version::next("n", 100, Some(&first));
        let late_clock = Version::next("n", 50, Some(&second));
        assert!(first < second && second < late_clock);
    }

    #[test]
    fn records_round_trip_and_hostile_bytes_are_refused() {
        check("shared definition codec", |g| {
            let r = record(g);
            assert_eq!(Record::decode(&r.encode()).unwrap(), r);
            let noise = if g.chance(50) {
                g.json_bytes(3)
            } else {
                g.bytes(64)
            };
            let _ = Record::decode(&noise);
        });
        assert!(Record::decode(br#"{"name":"a\u0000","at_ms":1,"origin":"n"}"#).is_err());
        assert!(Record::decode(&vec![b' '; MAX_RECORD_BYTES + 1]).is_err());
    }
}
