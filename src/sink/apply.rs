//! Applies mapped records to Redis under the module lock, in slices bounded in records, bytes
//! and time. Each slice writes its data and the offsets it covers together, so AOF and replicas
//! see them as one MULTI/EXEC. Records below the offset stored in Redis are skipped: that check,
//! made under the lock, is what keeps the effect exactly-once across restarts and rebalances.

use crate::cluster::topology::Ownership;
use crate::error::{Error, Refusal};
use crate::runtime::call::Caller;
use crate::sink::mapping::{Mapped, Write};
use crate::sink::slot_progress::SlotProgress;
use crate::store::offsets;
use redis_module::Context;
use std::ffi::CStr;
use std::time::{Duration, Instant};

/// One polled record, already decoded and mapped outside the lock.
pub struct Pending {
    pub partition: usize,
    pub offset: i64,
    /// On Redis Cluster, the hash slot that decides which primary applies the record: its
    /// target key's (a PUBLISH's channel's), or for a record without one (a mapping error),
    /// its Kafka key's.
    pub hash_slot: u16,
    pub mapped: Result<Mapped, Error>,
}

/// A partition seen in the current batch, with its field name in the offsets hash.
pub struct PartitionSlot {
    pub topic: String,
    pub partition: i32,
    pub field: String,
    /// Next offset to apply as stored in Redis, refreshed at the start of each slice. On
    /// Redis Cluster, the next offset this node has gone past (offsets are kept per slot).
    pub stored: Option<i64>,
    pub dirty: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum SliceEnd {
    /// The slice limit was reached or the batch is done.
    Limit,
    /// The slice stopped before the record at `at` (relative to the slice). The error's kind
    /// says what comes next: a temporary refusal is retried, stored state that cannot be read
    /// or written stops the sink, and anything about the record goes to ON-ERROR.
    Stopped { at: usize, error: Error },
    /// Redis Cluster: the record at `at` belongs to a slot being migrated; it waits, and so
    /// does its partition, until the slot has settled on one side.
    Held { at: usize, slot: u16 },
}

/// What a slice needs on Redis Cluster: which slots this node serves, and the per-slot offsets.
pub struct ClusterSlice<'a> {
    pub view: &'a Ownership,
    pub progress: SlotProgress<'a>,
}

pub struct SliceReport {
    /// Records consumed from the batch: applied, skipped, or found already applied.
    pub consumed: usize,
    pub applied: u64,
    pub skipped: u64,
    /// Redis Cluster: records for slots another primary serves.
    pub elsewhere: u64,
    /// Records written whose EXPIRE Redis refused, with the last refusal.
    pub expire_failures: u64,
    pub expire_error: Option<String>,
    pub end: SliceEnd,
}

pub struct Limits {
    pub max_records: usize,
    pub max_bytes: usize,
    pub max_time: Duration,
}

/// Bytes written between two looks at the clock: reading it costs as much as a small write,
/// but one multi-megabyte write can take longer than a whole slice's budget.
const BYTES_PER_CLOCK_CHECK: usize = 256 * 1024;

pub fn apply_slice(
    ctx: &Context,
    caller: &mut Caller,
    offsets_key: &str,
    slots: &mut [PartitionSlot],
    batch: &[Pending],
    limits: &Limits,
    mut cluster: Option<ClusterSlice<'_>>,
) -> SliceReport {
    let mut report = SliceReport {
        consumed: 0,
        applied: 0,
        skipped: 0,
        elsewhere: 0,
        expire_failures: 0,
        expire_error: None,
        end: SliceEnd::Limit,
    };
    if cluster.is_none() {
        if let Err(error) = refresh_stored(ctx, offsets_key, slots) {
            report.end = SliceEnd::Stopped { at: 0, error };
            return report;
        }
    }
    let started = Instant::now();
    let mut args = Vec::new();
    let mut bytes = 0usize;
    let mut bytes_at_last_check = 0usize;
    for (index, pending) in batch.iter().enumerate() {
        if report.consumed > 0 {
            let check_clock =
                index % 16 == 15 || bytes - bytes_at_last_check >= BYTES_PER_CLOCK_CHECK;
            if check_clock {
                bytes_at_last_check = bytes;
            }
            if report.consumed >= limits.max_records
                || bytes >= limits.max_bytes
                || (check_clock && started.elapsed() >= limits.max_time)
            {
                break;
            }
        }
        let slot = &mut slots[pending.partition];
        match cluster.as_mut() {
            None if slot.stored.is_some_and(|next| pending.offset < next) => {
                report.consumed += 1;
                continue;
            }
            None => {}
            Some(cluster) => match routing(ctx, cluster, pending) {
                Ok(Route::Apply) => {}
                Ok(Route::Done) => {
                    slot.stored = Some(pending.offset + 1);
                    report.consumed += 1;
                    continue;
                }
                Ok(Route::Elsewhere) => {
                    slot.stored = Some(pending.offset + 1);
                    report.elsewhere += 1;
                    report.consumed += 1;
                    continue;
                }
                Ok(Route::Hold) => {
                    report.end = SliceEnd::Held {
                        at: index,
                        slot: pending.hash_slot,
                    };
                    break;
                }
                Err(error) => {
                    report.end = SliceEnd::Stopped { at: index, error };
                    break;
                }
            },
        }
        let mapped = match &pending.mapped {
            Ok(mapped) => mapped,
            Err(error) => {
                report.end = SliceEnd::Stopped {
                    at: index,
                    error: error.clone(),
                };
                break;
            }
        };
        match execute(ctx, caller, &mut args, mapped) {
            Ok(None) => {}
            Ok(Some(expire_refused)) => {
                // The write is in: its offset must be stored with it, or a retry duplicates it.
                report.expire_failures += 1;
                report.expire_error = Some(format!(
                    "{}/{} offset {}: written, but {}",
                    slot.topic,
                    slot.partition,
                    pending.offset,
                    Error::Refused(expire_refused)
                ));
            }
            Err(refusal) => {
                report.end = SliceEnd::Stopped {
                    at: index,
                    error: Error::Refused(refusal),
                };
                break;
            }
        }
        bytes += mapped.bytes;
        match mapped.write {
            Write::Skip => report.skipped += 1,
            Write::Resolved => {}
            _ => report.applied += 1,
        }
        slot.stored = Some(pending.offset + 1);
        slot.dirty = true;
        report.consumed += 1;
        if let Some(cluster) = cluster.as_mut() {
            let advanced = cluster.progress.advance(
                ctx,
                pending.hash_slot,
                pending.partition,
                pending.offset + 1,
            );
            if let Err(error) = advanced {
                report.end = SliceEnd::Stopped {
                    at: report.consumed,
                    error,
                };
                break;
            }
        }
    }
    if let Some(cluster) = cluster.as_mut() {
        if let Err(error) = cluster.progress.write(ctx) {
            report.end = SliceEnd::Stopped {
                at: report.consumed,
                error: Error::State(error.to_string()),
            };
        }
        return report;
    }
    let entries: Vec<(String, i64)> = slots
        .iter_mut()
        .filter(|s| s.dirty)
        .filter_map(|s| {
            s.dirty = false;
            Some((s.field.clone(), s.stored?))
        })
        .collect();
    if let Err(error) = offsets::write(ctx, offsets_key, &entries) {
        // The data writes of this slice are in the same MULTI/EXEC: the sink must stop.
        report.end = SliceEnd::Stopped {
            at: report.consumed,
            error: Error::State(error.to_string()),
        };
    }
    report
}

enum Route {
    Apply,
    /// Applied here before (below its slot's stored offset).
    Done,
    /// Another primary serves the slot.
    Elsewhere,
    Hold,
}

fn routing(
    ctx: &Context,
    cluster: &mut ClusterSlice<'_>,
    pending: &Pending,
) -> Result<Route, Error> {
    let slot = pending.hash_slot;
    if !cluster.view.serves(slot) {
        return Ok(if cluster.view.is_moving(slot) {
            Route::Hold
        } else {
            Route::Elsewhere
        });
    }
    let next = cluster.progress.next(ctx, slot, pending.partition)?;
    Ok(if next.is_some_and(|next| pending.offset < next) {
        Route::Done
    } else {
        Route::Apply
    })
}

fn call(
    ctx: &Context,
    caller: &mut Caller,
    command: &'static CStr,
    args: &[&[u8]],
) -> Result<(), Refusal> {
    caller
        .call(ctx, command, args)
        .map_err(|text| Refusal::new(command.to_str().unwrap_or_default(), text))
}

/// Runs one record's write (after its prelude, if any), then its EXPIRE; all land in the
/// slice's MULTI/EXEC. Ok(Some) says the write was made but its EXPIRE was refused.
fn execute<'a>(
    ctx: &Context,
    caller: &mut Caller,
    args: &mut Vec<&'a [u8]>,
    mapped: &'a Mapped,
) -> Result<Option<Refusal>, Refusal> {
    if let Some((prelude, key)) = mapped.write.prelude() {
        call(ctx, caller, prelude, &[key])?;
    }
    let Some(command) = mapped.write.command_into(args) else {
        return Ok(None);
    };
    call(ctx, caller, command, args)?;
    if let (Some(ttl), Some(key)) = (mapped.ttl, mapped.write.expiring_key()) {
        let mut seconds = itoa::Buffer::new();
        let seconds = seconds.format(ttl).as_bytes();
        if let Err(refusal) = call(ctx, caller, c"EXPIRE", &[key, seconds]) {
            return Ok(Some(refusal));
        }
    }
    Ok(None)
}

fn refresh_stored(
    ctx: &Context,
    offsets_key: &str,
    slots: &mut [PartitionSlot],
) -> Result<(), Error> {
    let fields: Vec<&str> = slots.iter().map(|s| s.field.as_str()).collect();
    let stored = offsets::read(ctx, offsets_key, &fields)?;
    for (slot, value) in slots.iter_mut().zip(stored) {
        slot.stored = value;
        slot.dirty = false;
    }
    Ok(())
}
