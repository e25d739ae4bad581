//! Which streams a source may read and where their checkpoints live. A standalone server
//! reads every matching stream and keeps all checkpoints in `__kafka:checkpoints:<source>`.
//! A cluster node reads only the streams of slots it serves stably (owned, not migrating or
//! importing), and keeps each stream's checkpoint in `__kafka:c:<source>:{tag}` in the stream's
//! own slot, so resharding moves the checkpoint with the stream and failover finds it on the
//! replica. The cluster view comes from `cluster::topology`; the worker hands every view it
//! reads (under the module lock) to `follow`.

use crate::cluster::slots::{key_slot, SLOTS};
use crate::cluster::topology::Ownership;
use crate::store::keys::{checkpoints_key, slot_checkpoints_key};
use std::borrow::Cow;
use std::sync::Arc;

pub enum Placement {
    Standalone {
        key: String,
    },
    Cluster {
        source: String,
        /// The last view followed; None until one was read (then nothing is served).
        view: Option<Arc<Ownership>>,
    },
}

/// What changed in the served slots when a new view was followed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    /// Some slot stopped being served: its streams must be forgotten.
    pub lost: bool,
    /// Some slot started being served: its streams must be found (they may have arrived by
    /// migration or promotion, which ring no XADD doorbell).
    pub gained: bool,
}

impl Placement {
    pub fn new(source: &str, cluster: bool) -> Placement {
        if cluster {
            Placement::Cluster {
                source: source.to_string(),
                view: None,
            }
        } else {
            Placement::Standalone {
                key: checkpoints_key(source),
            }
        }
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Placement::Cluster { .. })
    }

    /// The hash holding `stream`'s checkpoint.
    pub fn checkpoint_key(&self, stream: &[u8]) -> Cow<'_, str> {
        match self {
            Placement::Standalone { key } => Cow::Borrowed(key.as_str()),
            Placement::Cluster { source, .. } => {
                Cow::Owned(slot_checkpoints_key(source, key_slot(stream)))
            }
        }
    }

    /// May the worker read `stream` and write its checkpoint now?
    pub fn serves(&self, stream: &[u8]) -> bool {
        match self {
            Placement::Standalone { .. } => true,
            Placement::Cluster { view, .. } => view
                .as_ref()
                .is_some_and(|view| view.serves(key_slot(stream))),
        }
    }

    /// Takes a newly read view (cluster only; a standalone placement ignores it).
    pub fn follow(&mut self, new: Option<Arc<Ownership>>) -> Moved {
        let Placement::Cluster { view, .. } = self else {
            return Moved::default();
        };
        let Some(new) = new else {
            return Moved::default();
        };
        let unchanged = view
            .as_ref()
            .is_some_and(|old| Arc::ptr_eq(old, &new) || old.generation == new.generation);
        if unchanged {
            return Moved::default();
        }
        let moved = compare(view.as_deref(), &new);
        *view = Some(new);
        moved
    }
}

/// Which way the served slots changed from `old` to `new`.
pub fn compare(old: Option<&Ownership>, new: &Ownership) -> Moved {
    let mut moved = Moved::default();
    for slot in 0..SLOTS as u16 {
        let before = old.is_some_and(|o| o.serves(slot));
        let after = new.serves(slot);
        moved.lost |= before && !after;
        moved.gained |= after && !before;
        if moved.lost && moved.gained {
            break;
        }
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(slots: &str, generation: u64) -> Arc<Ownership> {
        let line = format!("me 1:1@2 myself,master - 0 0 1 connected {slots}");
        let mut own = Ownership::parse(line.trim_end()).unwrap();
        own.generation = generation;
        Arc::new(own)
    }

    #[test]
    fn standalone_reads_everything_into_one_hash() {
        let mut placement = Placement::new("src", false);
        assert!(!placement.is_cluster());
        assert!(placement.serves(b"orders:1"));
        assert_eq!(placement.checkpoint_key(b"a"), "__kafka:checkpoints:src");
        assert_eq!(placement.checkpoint_key(b"b"), "__kafka:checkpoints:src");
        assert_eq!(placement.follow(Some(view("", 1))), Moved::default());
        assert!(placement.serves(b"orders:1"));
    }

    #[test]
    fn cluster_checkpoints_live_in_the_stream_slot() {
        let placement = Placement::new("src", true);
        for stream in [&b"orders:1"[..], b"{user7}.events", b"foo", b""] {
            let key = placement.checkpoint_key(stream);
            assert_eq!(key_slot(key.as_bytes()), key_slot(stream), "{stream:?}");
            assert!(key.starts_with("__kafka:c:src:{"));
        }
        // Streams sharing a hash tag share the checkpoint hash.
        assert_eq!(
            placement.checkpoint_key(b"{u}.a"),
            placement.checkpoint_key(b"{u}.b")
        );
    }

    #[test]
    fn cluster_serves_only_stable_owned_slots() {
        let foo = key_slot(b"foo"); // 12182
        let mut placement = Placement::new("src", true);
        assert!(!placement.serves(b"foo"), "no view yet: nothing is served");
        let moved = placement.follow(Some(view("10000-16383", 1)));
        assert_eq!(
            moved,
            Moved {
                lost: false,
                gained: true
            }
        );
        assert!(placement.serves(b"foo"));
        // The same generation again changes nothing.
        assert_eq!(placement.follow(Some(view("", 1))), Moved::default());
        assert!(placement.serves(b"foo"));
        let migrating = format!("10000-16383 [{foo}->-other]");
        let moved = placement.follow(Some(view(&migrating, 2)));
        assert_eq!(
            moved,
            Moved {
                lost: true,
                gained: false
            }
        );
        assert!(!placement.serves(b"foo"));
        let importing = format!("[{foo}-<-other]");
        let moved = placement.follow(Some(view(&importing, 3)));
        assert!(moved.lost && !moved.gained);
        assert!(!placement.serves(b"foo"));
        let moved = placement.follow(Some(view(&foo.to_string(), 4)));
        assert!(moved.gained && !moved.lost);
        assert!(placement.serves(b"foo"));
        // A view that could not be read keeps the last one.
        assert_eq!(placement.follow(None), Moved::default());
        assert!(placement.serves(b"foo"));
    }

    #[test]
    fn compare_sees_both_directions_at_once() {
        let old = view("0-99", 0);
        let new = view("50-149", 1);
        assert_eq!(
            compare(Some(&old), &new),
            Moved {
                lost: true,
                gained: true
            }
        );
        assert_eq!(compare(Some(&old), &old), Moved::default());
        assert_eq!(
            compare(None, &view("", 0)),
            Moved::default(),
            "a replica serves nothing"
        );
    }
}
