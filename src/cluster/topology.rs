//! Which hash slots this node serves, read from its own `CLUSTER NODES` line: the slots it
//! owns, and those being moved in or out (where a bridge must neither write nor skip).

use crate::cluster::slots::SLOTS;
use parking_lot::Mutex;
use redis_module::{CallOptionsBuilder, CallReply, CallResult, Context};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The last view, read on the main thread; workers read it under the module lock, so a view
/// changed on the main thread (a SETSLOT seen by the command filter) holds for their next slice.
static CURRENT: Mutex<Option<Arc<Ownership>>> = Mutex::new(None);

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Set once at load: the server runs with `cluster-enabled yes`.
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Reads this node's `CLUSTER NODES` line (main thread or under the module lock). The view keeps
/// its generation while nothing in it changed, so workers compare generations, not slot tables.
pub fn refresh(ctx: &Context) -> Option<Arc<Ownership>> {
    let options = CallOptionsBuilder::new().errors_as_replies().build();
    let reply: CallResult = ctx.call_ext("CLUSTER", &options, &["NODES"][..]);
    let text = match reply {
        Ok(CallReply::String(text)) => text.to_string()?,
        Ok(CallReply::VerbatimString(text)) => {
            let (_, bytes) = text.to_parts()?;
            String::from_utf8(bytes).ok()?
        }
        _ => return None,
    };
    let mut ownership = Ownership::parse(&text)?;
    apply_marks(&mut ownership);
    let mut current = CURRENT.lock();
    if let Some(held) = current.as_ref() {
        if held.same_slots(&ownership) {
            return Some(held.clone());
        }
        ownership.generation = held.generation + 1;
    }
    let ownership = Arc::new(ownership);
    *current = Some(ownership.clone());
    Some(ownership)
}

pub fn current() -> Option<Arc<Ownership>> {
    CURRENT.lock().clone()
}

/// Stops serving `slot` at once (main thread, before a `CLUSTER SETSLOT` runs): no worker may
/// write it until the next `CLUSTER NODES` read says where it stands.
pub fn mark_moving(slot: u16, migrating_out: bool) {
    MARKS.lock().push((slot, Instant::now()));
    if migrating_out {
        HANDOVERS.lock().insert(slot, Handover::Pending);
    }
    let mut current = CURRENT.lock();
    if let Some(held) = current.as_ref() {
        let mut changed = Ownership::clone(held);
        if let Some(moving) = changed.moving.get_mut(usize::from(slot)) {
            *moving = true;
        }
        changed.generation = held.generation + 1;
        *current = Some(Arc::new(changed));
    }
}

/// Slots marked moving that `CLUSTER NODES` has not shown moving yet. Valkey 8 applies a
/// SETSLOT only once its replicas have it, so a read in between would unmark the slot.
static MARKS: Mutex<Vec<(u16, Instant)>> = Mutex::new(Vec::new());
/// A mark the node never confirms (the SETSLOT failed) ends after this.
const MARK_LIFETIME: Duration = Duration::from_secs(5);

fn apply_marks(ownership: &mut Ownership) {
    MARKS.lock().retain(|&(slot, at)| {
        let shown = ownership.is_moving(slot);
        let keep = !shown && at.elapsed() < MARK_LIFETIME;
        if keep {
            if let Some(moving) = ownership.moving.get_mut(usize::from(slot)) {
                *moving = true;
            }
        }
        keep
    });
}

/// The move of `slot` ended (`CLUSTER SETSLOT <slot> NODE|STABLE` seen): the next
/// `CLUSTER NODES` read says where it stands, whether or not one showed it moving.
pub fn settle(slot: u16) {
    MARKS.lock().retain(|&(marked, _)| marked != slot);
    HANDOVERS.lock().remove(&slot);
}

/// Where the handover of a slot migrating out stands: once per migration, since a second
/// write would create a key the slot's move has already carried off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handover {
    /// SETSLOT MIGRATING seen.
    Pending,
    /// The command filter rerouted the slot's first GETKEYSINSLOT to the handover command.
    Rerouted,
    Written,
}

static HANDOVERS: Mutex<BTreeMap<u16, Handover>> = Mutex::new(BTreeMap::new());

/// Moves `slot` from `from` to `to`; true if it was at `from`.
fn advance_handover(slot: u16, from: Handover, to: Handover) -> bool {
    let mut handovers = HANDOVERS.lock();
    match handovers.get_mut(&slot) {
        Some(state) if *state == from => {
            *state = to;
            true
        }
        _ => false,
    }
}

/// The command filter: true for the first GETKEYSINSLOT of a slot being migrated out.
pub fn needs_handover(slot: u16) -> bool {
    advance_handover(slot, Handover::Pending, Handover::Rerouted)
}

/// The handover command: true only right after the filter rerouted a GETKEYSINSLOT here, so a
/// client calling the internal command itself never makes the module write a key.
pub fn take_handover(slot: u16) -> bool {
    advance_handover(slot, Handover::Rerouted, Handover::Written)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Primary {
    pub id: String,
    /// `host:port` clients use.
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    pub node_id: String,
    pub primary: bool,
    /// Grows by one each time the view changes.
    pub generation: u64,
    /// A replica's primary.
    pub primary_of: Option<String>,
    /// Every primary that serves slots, this one included, as `CLUSTER NODES` lists them.
    pub primaries: Vec<Primary>,
    /// Slots assigned to this node, including those it is migrating out.
    owned: Vec<bool>,
    /// Slots being migrated out of (`[s->-id]`) or into (`[s-<-id]`) this node.
    moving: Vec<bool>,
}

impl Ownership {
    /// Owned and not being migrated: writes for this slot belong here and nowhere else.
    pub fn serves(&self, slot: u16) -> bool {
        let s = usize::from(slot);
        self.owned.get(s).copied().unwrap_or(false) && !self.moving.get(s).copied().unwrap_or(true)
    }

    /// Being migrated into or out of this node.
    pub fn is_moving(&self, slot: u16) -> bool {
        self.moving.get(usize::from(slot)).copied().unwrap_or(false)
    }

    fn same_slots(&self, other: &Ownership) -> bool {
        self.node_id == other.node_id
            && self.primary == other.primary
            && self.owned == other.owned
            && self.moving == other.moving
            && self.primaries == other.primaries
    }

    pub fn served_count(&self) -> usize {
        (0..SLOTS as u16).filter(|&s| self.serves(s)).count()
    }

    /// Parses `CLUSTER NODES` output; None when it has no `myself` line.
    pub fn parse(nodes: &str) -> Option<Ownership> {
        let line = nodes.lines().find(|line| {
            line.split(' ')
                .nth(2)
                .is_some_and(|flags| flags.split(',').any(|f| f == "myself"))
        })?;
        let fields: Vec<&str> = line.split(' ').collect();
        let node_id = fields.first()?.to_string();
        let primary = fields
            .get(2)?
            .split(',')
            .any(|f| f == "master" || f == "primary");
        let mut owned = vec![false; SLOTS];
        let mut moving = vec![false; SLOTS];
        for item in fields.iter().skip(8) {
            if let Some(inner) = item.strip_prefix('[').and_then(|i| i.strip_suffix(']')) {
                // [slot->-node] migrating out, [slot-<-node] importing in.
                let slot = inner.split(['-', '<', '>']).next()?.parse::<usize>().ok()?;
                *moving.get_mut(slot)? = true;
                continue;
            }
            let (start, end) = match item.split_once('-') {
                Some((a, b)) => (a.parse::<usize>().ok()?, b.parse::<usize>().ok()?),
                None => {
                    let slot = item.parse::<usize>().ok()?;
                    (slot, slot)
                }
            };
            if start > end || end >= SLOTS {
                return None;
            }
            owned[start..=end].iter_mut().for_each(|o| *o = true);
        }
        let primaries = nodes
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split(' ').collect();
                let is_primary = fields
                    .get(2)?
                    .split(',')
                    .any(|f| f == "master" || f == "primary");
                // Slot ranges start at field 8: a primary without any serves nothing.
                (is_primary && fields.len() > 8).then(|| Primary {
                    id: fields[0].to_string(),
                    address: fields
                        .get(1)
                        .map(|a| a.split('@').next().unwrap_or(a).to_string())
                        .unwrap_or_default(),
                })
            })
            .collect();
        let primary_of = fields
            .get(3)
            .filter(|id| !primary && **id != "-")
            .map(|id| id.to_string());
        Some(Ownership {
            node_id,
            primary,
            generation: 0,
            primary_of,
            primaries,
            owned,
            moving,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = "\
07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 7000 [93->-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1] [12000-<-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]
";

    #[test]
    fn reads_its_own_slots_and_the_moving_ones() {
        let own = Ownership::parse(NODES).unwrap();
        assert_eq!(own.node_id, "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca");
        assert!(own.primary);
        assert!(own.serves(0) && own.serves(5460) && own.serves(7000));
        assert!(!own.serves(5461) && !own.serves(16383));
        assert!(own.is_moving(93) && !own.serves(93));
        assert!(own.is_moving(12000) && !own.serves(12000));
        assert_eq!(own.served_count(), 5461 + 1 - 1);
        let ids: Vec<&str> = own.primaries.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1",
                "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca"
            ]
        );
        assert_eq!(own.primaries[1].address, "127.0.0.1:30001");
    }

    #[test]
    fn any_text_parses_or_is_refused_without_panicking() {
        crate::fuzz::check("cluster nodes text", |g| {
            let mut text = String::from("id 1:1@2 myself,master - 0 0 1 connected ");
            for _ in 0..g.below(6) {
                let piece = match g.below(5) {
                    0 => format!("{}-{}", g.below(20000), g.below(20000)),
                    1 => format!("[{}->-x]", g.below(20000)),
                    2 => format!("[{}-<-y]", g.below(20000)),
                    3 => g.below(20000).to_string(),
                    _ => String::from_utf8_lossy(&g.bytes(12)).into_owned(),
                };
                text.push_str(&piece);
                text.push(' ');
            }
            if let Some(own) = Ownership::parse(&text) {
                assert!(own.served_count() <= SLOTS);
            }
            let _ = Ownership::parse(&String::from_utf8_lossy(&g.bytes(200)));
        });
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert!(Ownership::parse("").is_none());
        let bad = "x 1:1@2 myself,master - 0 0 1 connected 9-3\n";
        assert!(Ownership::parse(bad).is_none());
        let replica = "r 1:1@2 myself,slave p 0 0 1 connected\n";
        let own = Ownership::parse(replica).unwrap();
        assert!(!own.primary && own.served_count() == 0);
        assert_eq!(own.primary_of.as_deref(), Some("p"));
    }
}
