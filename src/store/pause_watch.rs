//! Part of the command filter: notes the commands after which Redis pauses writes, so the
//! module holds its own (`runtime::pause`). The hold ends with CLIENT UNPAUSE or FAILOVER ABORT,
//! or when the longest such pause could have ended.

use crate::runtime::pause;
use std::time::Duration;

/// A FAILOVER waits for its replica as long as it takes (or its TIMEOUT); SHUTDOWN waits
/// `shutdown-timeout` (10 s by default) for lagging replicas.
const FAILOVER_HOLD: Duration = Duration::from_secs(30);
const SHUTDOWN_HOLD: Duration = Duration::from_secs(30);
/// A cluster manual failover pauses its primary for at most 5 s (CLUSTER_MF_TIMEOUT) and more
/// with its pause margin.
pub const CLUSTER_FAILOVER_HOLD: Duration = Duration::from_secs(12);

/// The bus message a replica sends its primary before a CLUSTER FAILOVER.
pub const FAILOVER_NOTICE: u8 = 6;

/// Only these commands can pause writes: the filter looks no further at any other.
pub fn may_pause(name: &[u8]) -> bool {
    [&b"client"[..], b"failover", b"shutdown", b"cluster"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
}

/// What the command (its first arguments) means for writes.
pub fn watch(args: &[&[u8]]) -> Option<Notice> {
    let is = |i: usize, word: &[u8]| args.get(i).is_some_and(|a| a.eq_ignore_ascii_case(word));
    if is(0, b"client") && is(1, b"pause") {
        let millis = std::str::from_utf8(args.get(2)?)
            .ok()?
            .parse::<u64>()
            .ok()?;
        pause::hold_for(Duration::from_millis(millis.saturating_add(100)));
    } else if is(0, b"client") && is(1, b"unpause") {
        pause::release();
    } else if is(0, b"failover") {
        if is(1, b"abort") {
            pause::release();
        } else {
            pause::hold_for(FAILOVER_HOLD);
        }
    } else if is(0, b"shutdown") {
        pause::hold_for(SHUTDOWN_HOLD);
    } else if is(0, b"cluster") && is(1, b"failover") {
        // Sent to a replica: its primary will pause, so tell the primary first.
        return Some(Notice::ClusterFailover);
    }
    None
}

pub enum Notice {
    ClusterFailover,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pausing_commands_hold_writes_and_unpausing_ones_release_them() {
        pause::release();
        assert!(watch(&[b"CLIENT", b"PAUSE", b"500", b"WRITE"]).is_none());
        assert!(pause::writes_held());
        watch(&[b"client", b"unpause"]);
        assert!(!pause::writes_held());
        watch(&[b"FAILOVER", b"TO", b"h", b"1"]);
        assert!(pause::writes_held());
        watch(&[b"FAILOVER", b"ABORT"]);
        assert!(!pause::writes_held());
        assert!(matches!(
            watch(&[b"CLUSTER", b"FAILOVER"]),
            Some(Notice::ClusterFailover)
        ));
        assert!(watch(&[b"CLIENT", b"PAUSE", b"soon"]).is_none());
        assert!(!pause::writes_held());
        assert!(!may_pause(b"HSET") && may_pause(b"Client"));
    }
}
