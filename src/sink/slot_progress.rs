//! A sink's offsets on Redis Cluster: one hash per hash slot (`slot_offsets_key`), kept in that
//! slot, so it moves with the slot's keys and replicates with them. An entry `<topic>:<p> = n`
//! says: every record of partition p below n whose key is in this slot has been applied, and
//! none at or above it. A slot with no entry for p has had none of its records applied from p.
//! Read lazily within one slice (under the lock) and written back at the slice's end, in the
//! same MULTI/EXEC as the data.

use crate::error::Error;
use crate::store::keys::slot_offsets_key;
use crate::store::offsets;
use std::collections::HashMap;

use redis_module::Context;

struct SlotEntries {
    key: String,
    /// Next offset to apply, per partition index of the batch (`PartitionSlot` order).
    next: Vec<Option<i64>>,
    changed: Vec<bool>,
}

pub struct SlotProgress<'a> {
    sink: &'a str,
    fields: &'a [String],
    slots: HashMap<u16, SlotEntries>,
}

impl<'a> SlotProgress<'a> {
    /// `fields` are the offsets fields (`<topic>:<partition>`) of the batch's partitions.
    pub fn new(sink: &'a str, fields: &'a [String]) -> SlotProgress<'a> {
        SlotProgress {
            sink,
            fields,
            slots: HashMap::new(),
        }
    }

    fn entries(&mut self, ctx: &Context, slot: u16) -> Result<&mut SlotEntries, Error> {
        if !self.slots.contains_key(&slot) {
            let key = slot_offsets_key(self.sink, slot);
            let fields: Vec<&str> = self.fields.iter().map(String::as_str).collect();
            let next = offsets::read(ctx, &key, &fields)?;
            let changed = vec![false; next.len()];
            self.slots.insert(slot, SlotEntries { key, next, changed });
        }
        self.slots
            .get_mut(&slot)
            .ok_or_else(|| Error::Internal("slot entries vanished".to_string()))
    }

    /// Next offset to apply for `slot` in partition `partition` (index into `fields`).
    pub fn next(
        &mut self,
        ctx: &Context,
        slot: u16,
        partition: usize,
    ) -> Result<Option<i64>, Error> {
        Ok(self
            .entries(ctx, slot)?
            .next
            .get(partition)
            .copied()
            .flatten())
    }

    pub fn advance(
        &mut self,
        ctx: &Context,
        slot: u16,
        partition: usize,
        next: i64,
    ) -> Result<(), Error> {
        let entries = self.entries(ctx, slot)?;
        if let (Some(held), Some(changed)) = (
            entries.next.get_mut(partition),
            entries.changed.get_mut(partition),
        ) {
            *held = Some(next);
            *changed = true;
        }
        Ok(())
    }

    /// Writes the entries this slice moved (one HSET per slot touched).
    pub fn write(&mut self, ctx: &Context) -> Result<(), Error> {
        for entries in self.slots.values_mut() {
            let pairs: Vec<(String, i64)> = self
                .fields
                .iter()
                .zip(entries.next.iter().zip(entries.changed.iter_mut()))
                .filter_map(|(field, (next, changed))| {
                    let write = std::mem::take(changed);
                    Some((field.clone(), (*next)?)).filter(|_| write)
                })
                .collect();
            offsets::write(ctx, &entries.key, &pairs)?;
        }
        Ok(())
    }
}
