//! The one exception to the state guard: on Redis Cluster, resharding moves keys between
//! shards, and the per-slot progress keys (`__kafka:o:...{tag}`, `__kafka:c:...{tag}`) must
//! move with their slot's data. `redis-cli --cluster reshard` (and any resharding tool) does it
//! with `MIGRATE` on the node giving the slot and `RESTORE-ASKING` on the node taking it; both
//! are `@dangerous` in ACL, so only an administrator can run them. Standalone servers have no
//! slots to move: there the guard refuses these commands like any other write.

/// What the guard needs to know about the server (settings, the same for every client).
#[derive(Debug, Clone, Copy, Default)]
pub struct Server {
    /// `cluster-enabled yes`.
    pub cluster: bool,
    /// A replica with `replica-read-only yes`: Redis itself refuses every write there that does
    /// not come from its primary's replication link (or AOF loading).
    pub read_only_replica: bool,
}

/// True when `command` (its name, any case) moves reserved keys between cluster shards and must
/// pass the guard. Only called for commands that name a reserved key. `slots_moving`: every
/// reserved key the command names is in a slot this node is migrating or importing, so an
/// administrator cannot use MIGRATE or RESTORE-ASKING to write progress keys outside a reshard.
pub fn moves_between_shards(command: &[u8], server: Server, slots_moving: bool) -> bool {
    if !server.cluster {
        return false;
    }
    let is = |name: &[u8]| command.eq_ignore_ascii_case(name);
    if is(b"migrate") || is(b"restore-asking") {
        // A replica replays what its primary did (only the replication link writes there).
        return slots_moving || server.read_only_replica;
    }
    // A primary replicates its MIGRATE as `DEL <moved keys>`: its replicas must drop the keys
    // too, or they keep progress for a slot that left (and a later failover would carry it).
    // Only the replication link can write on a read-only replica, so no client gains anything.
    server.read_only_replica && is(b"del")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIMARY: Server = Server {
        cluster: true,
        read_only_replica: false,
    };
    const REPLICA: Server = Server {
        cluster: true,
        read_only_replica: true,
    };

    #[test]
    fn only_resharding_commands_on_a_cluster_pass() {
        let standalone = Server::default();
        let standalone_replica = Server {
            cluster: false,
            read_only_replica: true,
        };
        for name in [
            &b"MIGRATE"[..],
            b"migrate",
            b"RESTORE-ASKING",
            b"Restore-Asking",
        ] {
            assert!(moves_between_shards(name, PRIMARY, true), "{name:?}");
            assert!(moves_between_shards(name, REPLICA, true), "{name:?}");
            assert!(!moves_between_shards(name, standalone, true), "{name:?}");
            assert!(
                !moves_between_shards(name, standalone_replica, true),
                "{name:?}"
            );
        }
        for name in [
            &b"RESTORE"[..],
            b"DEL",
            b"HSET",
            b"COPY",
            b"RENAME",
            b"",
            b"migrat",
        ] {
            assert!(!moves_between_shards(name, PRIMARY, true), "{name:?}");
        }
    }

    #[test]
    fn moves_pass_only_for_slots_being_resharded() {
        assert!(!moves_between_shards(b"MIGRATE", PRIMARY, false));
        assert!(!moves_between_shards(b"RESTORE-ASKING", PRIMARY, false));
    }

    #[test]
    fn only_a_read_only_cluster_replica_takes_the_replicated_del() {
        assert!(moves_between_shards(b"DEL", REPLICA, false));
        assert!(moves_between_shards(b"del", REPLICA, false));
        assert!(!moves_between_shards(b"DEL", PRIMARY, true));
        for name in [&b"UNLINK"[..], b"HSET", b"HDEL", b"RESTORE", b"FLUSHALL"] {
            assert!(!moves_between_shards(name, REPLICA, true), "{name:?}");
        }
        let writable_replica = Server {
            cluster: true,
            read_only_replica: false,
        };
        assert!(!moves_between_shards(b"DEL", writable_replica, true));
    }
}
