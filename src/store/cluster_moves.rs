//! The one exception to the state guard: on Redis Cluster, resharding moves keys between
//! shards, and the per-slot progress keys (`__kafka:o:...{tag}`, `__kafka:c:...{tag}`) must
//! move with their slot's data. `redis-cli --cluster reshard` (and any resharding tool) does it
//! with `MIGRATE` on the node giving the slot and `RESTORE-ASKING` on the node taking it; both
//! are `@dangerous` in ACL, so only an administrator can run them. Standalone servers have no
//! slots to move: there the guard refuses these commands like any other write.

/// True when `command` (its name, any case) moves reserved keys between cluster shards and must
/// pass the guard. Only called for commands that name a reserved key.
pub fn moves_between_shards(command: &[u8], cluster: bool) -> bool {
    cluster
        && (command.eq_ignore_ascii_case(b"migrate")
            || command.eq_ignore_ascii_case(b"restore-asking"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_resharding_commands_on_a_cluster_pass() {
        for name in [&b"MIGRATE"[..], b"migrate", b"RESTORE-ASKING", b"Restore-Asking"] {
            assert!(moves_between_shards(name, true), "{name:?}");
            assert!(!moves_between_shards(name, false), "{name:?}");
        }
        for name in [&b"RESTORE"[..], b"DEL", b"HSET", b"COPY", b"RENAME", b"", b"migrat"] {
            assert!(!moves_between_shards(name, true), "{name:?}");
        }
    }
}
