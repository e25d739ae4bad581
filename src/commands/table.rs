//! Every command the module registers, declared once: its handler, Redis flags, whether it
//! changes bridges (then it joins @admin and @dangerous where the server allows), and the text
//! COMMAND DOCS shows. `register` turns this table into Redis commands.

use crate::commands::{
    debug, handover, import, internal, lifecycle_ops, produce, sink, source, status, subscriber,
};
use crate::runtime::reply::Handler;
use crate::spec::connect_import::ImportKind;
use crate::store::definitions::Kind;
use crate::store::setslot_reroute::HANDOVER_COMMAND;

pub struct Command {
    pub name: &'static str,
    pub handler: Handler,
    pub flags: &'static str,
    /// Starts threads, opens connections or writes module state: @admin.
    pub admin: bool,
    pub summary: &'static str,
    pub usage: &'static str,
    pub complexity: &'static str,
    pub since: &'static str,
}

const SINCE: &str = "0.1.0";

pub static COMMANDS: [Command; 19] = [
    Command {
        name: "kafka.sink.create",
        handler: sink::create,
        flags: "write deny-oom admin",
        admin: true,
        summary: "Creates a sink: Kafka topics to Redis keys (exactly once) or channels",
        usage: "<name> TOPICS <topic>[,...]|PATTERN <regex> [TYPE ...] [KEY <template>] [CHANNEL <template>] [...]",
        complexity: "O(1)",
        since: SINCE,
    },
    Command {
        name: "kafka.sink.import",
        handler: |ctx, args| import::import(ctx, args, ImportKind::Sink),
        flags: "write deny-oom admin",
        admin: true,
        summary: "Creates the sink equivalent to a redis-kafka-connect RedisSinkConnector config (DRYRUN shows the CREATE)",
        usage: "<name> <connector-config-json> [BROKERS <host:port>[,...]] [DRYRUN]",
        complexity: "O(N) where N is the size of the config",
        since: SINCE,
    },
    Command {
        name: "kafka.sink.delete",
        handler: |ctx, args| lifecycle_ops::delete(ctx, args, Kind::Sink),
        flags: "write admin",
        admin: true,
        summary: "Stops a sink and deletes its definition (PURGE also its offsets)",
        usage: "<name> [PURGE]",
        complexity: "O(1)",
        since: SINCE,
    },
    Command {
        name: "kafka.sink.pause",
        handler: |ctx, args| lifecycle_ops::pause(ctx, args, Kind::Sink),
        flags: "write admin",
        admin: true,
        summary: "Stops a sink's workers, keeping its definition and offsets",
        usage: "<name>",
        complexity: "O(1)",
        since: SINCE,
    },
    Command {
        name: "kafka.sink.resume",
        handler: |ctx, args| lifecycle_ops::resume(ctx, args, Kind::Sink),
        flags: "write deny-oom admin",
        admin: true,
        summary: "Restarts a paused or failed sink where its stored offsets say",
        usage: "<name>",
        complexity: "O(1)",
        since: SINCE,
    },
    Command {
        name: "kafka.sink.list",
        handler: sink::list,
        flags: "readonly",
        admin: false,
        summary: "Lists every sink with its options (secrets redacted)",
        usage: "",
        complexity: "O(N) where N is the number of sinks",
        since: SINCE,
    },
    Command {
        name: "kafka.source.create",
        handler: source::create,
        flags: "write deny-oom admin",
        admin: true,
        summary: "Creates a source: Redis streams to Kafka topics, without loss",
        usage: "<name> STREAMS <glob> [TOPIC <template>] [KEY <template>] [FROM ...] [...]",
        complexity: "O(1)",
        since: SINCE,
    },
    Command {
        name: "kafka.source.import",
        handler: |ctx, args| import::import(ctx, args, ImportKind::Source),
        flags: "write deny-oom admin",
        admin: true,
        summary: "Creates the source equivalent to a redis-kafka-connect RedisStreamSourceConnector or RedisKeysSourceConnector config (DRYRUN shows the CREATE)",
        usage: "<name> <connector-config-json> [BROKERS <host:port>[,...]] [DRYRUN]",
        complexity: "O(N) where N is the size of the config",
        since: SINCE,
    },
    Command {
        name: "kafka.source.delete",
        handler: |ctx, args| lifecycle_ops::delete(ctx, args, Kind::Source),
        flags: "write admin",
        admin: true,
        summary: "Stops a source and deletes its definition (PURGE also its checkpoints)",
        usage: "<name> [PURGE]",
        complexity: "O(1)",
        since: SINCE,
    },
    Command {
        name: "kafka.source.pause",
        handler: |ctx, args| lifecycle_ops::pause(ctx, args, Kind::Source),
        flags: "write admin",
        admin: true,
        summary: "Stops a source's worker, keeping its definition and checkpoints",
        usage: "<name>",
        complexity: "O(1)",
        since: SINCE,
    },
    Command {
        name: "kafka.source.resume",
        handler: |ctx, args| lifecycle_ops::resume(ctx, args, Kind::Source),
        flags: "write deny-oom admin",
        admin: true,
        summary: "Restarts a paused or failed source from its checkpoints",
        usage: "<name>",
        complexity: "O(1)",
        since: SINCE,
    },
    Command {
        name: "kafka.source.list",
        handler: source::list,
        flags: "readonly",
        admin: false,
        summary: "Lists every source with its options (secrets redacted)",
        usage: "",
        complexity: "O(N) where N is the number of sources",
        since: SINCE,
    },
    Command {
        name: "kafka.status",
        handler: status::status,
        flags: "readonly",
        admin: false,
        summary: "Shows the state, counters, last error and lag of one bridge or of all",
        usage: "[<name> [CLUSTER]]",
        complexity: "O(N) where N is the number of bridges and partitions shown",
        since: SINCE,
    },
    Command {
        name: "kafka.produce",
        handler: produce::produce,
        flags: "",
        admin: false,
        summary: "Produces one record and replies with its partition and offset once acknowledged",
        usage: "<topic> <value> [KEY <key>] [PARTITION <n>] [HEADER <name> <value>]... [BROKERS <list>]",
        complexity: "O(1)",
        since: SINCE,
    },
    Command {
        name: "kafka.debug",
        handler: debug::debug,
        flags: "admin",
        admin: true,
        summary: "Fault injection for tests (only with kafka.debug-command yes)",
        usage: "PANIC|PANIC-WORKER <name>|PANIC-EVENT",
        complexity: "O(1)",
        since: SINCE,
    },
    Command {
        name: "kafka._state",
        handler: internal::state,
        flags: "write admin no-monitor no-slowlog",
        admin: true,
        summary: "Internal: a module state change, as replicated and written to the AOF",
        usage: "<op> <key> ...",
        complexity: "O(1)",
        since: SINCE,
    },
    Command {
        name: HANDOVER_COMMAND,
        handler: handover::handover,
        flags: "admin may-replicate",
        admin: true,
        summary: "Internal: CLUSTER GETKEYSINSLOT of a slot migrating out, after the sinks' handover",
        usage: "GETKEYSINSLOT <slot> <count>",
        complexity: "O(sinks)",
        since: SINCE,
    },
    Command {
        name: "kafka._refused",
        handler: internal::refused,
        flags: "readonly fast allow-loading allow-stale",
        admin: false,
        summary: "Internal: the reply to a client write to a __kafka: key",
        usage: "<command> ...",
        complexity: "O(1)",
        since: SINCE,
    },
    Command {
        name: "kafka._subscriber",
        handler: subscriber::subscriber,
        // no-auth: the module's own connection presents its token before any AUTH; the
        // token must never reach MONITOR or SLOWLOG.
        flags: "no-auth no-monitor no-slowlog deny-script fast",
        admin: false,
        summary: "Internal: makes this connection the kafka module's pub/sub subscriber (CHANNELS sources)",
        usage: "<token>",
        complexity: "O(1)",
        since: SINCE,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_lowercase_and_admin_commands_are_flagged_admin() {
        for (i, command) in COMMANDS.iter().enumerate() {
            assert_eq!(command.name, command.name.to_ascii_lowercase());
            assert!(
                COMMANDS[i + 1..].iter().all(|c| c.name != command.name),
                "{} twice",
                command.name
            );
            if command.admin {
                assert!(command.flags.contains("admin"), "{}", command.name);
            }
            assert!(!command.summary.is_empty());
        }
    }
}
