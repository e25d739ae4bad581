//! Reads a source makes under the Redis lock: finding matching streams and reading entries
//! after a checkpoint (checkpoints themselves are in `store::checkpoints`).

use crate::error::{Error, Refusal};
use crate::spec::glob::glob_match;
use crate::spec::source::parse_stream_id;
use redis_module::{raw, CallOptions, CallReply, CallResult, Context, KeyType, RedisString};

/// An entry's fields, in stream order.
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

pub struct Entry {
    pub id: String,
    pub fields: Fields,
}

impl Entry {
    /// What the entry costs in memory while it is in flight.
    pub fn bytes(&self) -> usize {
        self.id.len()
            + self
                .fields
                .iter()
                .map(|(n, v)| n.len() + v.len())
                .sum::<usize>()
    }
}

/// The fields of entries already sent, kept to read the next entries into: a read then
/// allocates only where a name or value outgrows the buffer it reuses.
#[derive(Default)]
pub struct FieldBuffers(Vec<Fields>);

/// Most field vectors kept: about one slice's entries.
const KEPT_FIELDS: usize = 2000;
/// A field vector holding more than this is dropped, not kept: one huge entry must not pin
/// its memory for the rest of the run.
const KEPT_FIELDS_BYTES: usize = 4096;

impl FieldBuffers {
    pub fn give_back(&mut self, fields: Fields) {
        // The vector's slots count too: a truncated vector keeps those of its largest entry.
        let slots = fields.capacity() * std::mem::size_of::<(Vec<u8>, Vec<u8>)>();
        let held: usize = fields
            .iter()
            .map(|(n, v)| n.capacity() + v.capacity())
            .sum();
        if self.0.len() < KEPT_FIELDS && slots + held <= KEPT_FIELDS_BYTES {
            self.0.push(fields);
        }
    }

    #[cfg(test)]
    fn kept(&self) -> usize {
        self.0.len()
    }

    /// `from`'s names and values as bytes, in a kept vector when there is one.
    fn copy(&mut self, from: &[(RedisString, RedisString)]) -> Fields {
        let mut fields = self.0.pop().unwrap_or_default();
        fields.truncate(from.len());
        for (i, (name, value)) in from.iter().enumerate() {
            match fields.get_mut(i) {
                Some((n, v)) => {
                    n.clear();
                    n.extend_from_slice(name.as_slice());
                    v.clear();
                    v.extend_from_slice(value.as_slice());
                }
                None => fields.push((name.as_slice().to_vec(), value.as_slice().to_vec())),
            }
        }
        fields
    }
}

/// Entries read from one stream; `more` when a limit stopped the read before the stream's end.
pub struct Read {
    pub entries: Vec<Entry>,
    pub more: bool,
}

fn error_text(e: redis_module::ErrorReply<'_>) -> String {
    e.to_utf8_string().unwrap_or_default()
}

fn bytes(reply: &CallResult<'_>) -> Option<Vec<u8>> {
    match reply {
        Ok(CallReply::String(s)) => Some(s.as_bytes().to_vec()),
        _ => None,
    }
}

pub struct ScanStep {
    pub cursor: String,
    pub streams: Vec<Vec<u8>>,
    /// Matching keys that are not streams.
    pub others: u64,
}

/// One SCAN step over keys matching `glob`, split into streams and other keys.
pub fn scan_streams(
    ctx: &Context,
    options: &CallOptions,
    cursor: &str,
    glob: &str,
) -> Result<ScanStep, Error> {
    let (next, keys) = scan_matching(ctx, options, cursor, glob, "200")?;
    let mut step = ScanStep {
        cursor: next,
        streams: Vec::with_capacity(keys.len()),
        others: 0,
    };
    for key in keys {
        if key_type(ctx, options, &key).as_deref() == Some(&b"stream"[..]) {
            step.streams.push(key);
        } else {
            step.others += 1;
        }
    }
    Ok(step)
}

/// One SCAN step over keys matching `glob` as the module's keyspace callbacks match them
/// (`glob::glob_match`), so a scan finds exactly the keys whose changes are followed. Redis's
/// own `MATCH` filters first where both matchers agree; where they may not (bytes past ASCII,
/// which Redis compares as signed chars, or so many stars that Redis gives up), every key is
/// scanned and only ours decides.
pub fn scan_matching(
    ctx: &Context,
    options: &CallOptions,
    cursor: &str,
    glob: &str,
    count: &str,
) -> Result<(String, Vec<Vec<u8>>), Error> {
    let server_agrees = glob.is_ascii() && glob.bytes().filter(|b| *b == b'*').count() < 100;
    let (next, mut keys) = if server_agrees {
        scan_keys(ctx, options, &[cursor, "MATCH", glob, "COUNT", count])?
    } else {
        scan_keys(ctx, options, &[cursor, "COUNT", count])?
    };
    keys.retain(|key| glob_match(glob.as_bytes(), key));
    Ok((next, keys))
}

/// One SCAN step with these arguments: the next cursor and the keys returned.
fn scan_keys(
    ctx: &Context,
    options: &CallOptions,
    args: &[&str],
) -> Result<(String, Vec<Vec<u8>>), Error> {
    let reply: CallResult = ctx.call_ext("SCAN", options, args);
    match reply {
        Ok(CallReply::Array(parts)) => {
            let next = parts
                .get(0)
                .and_then(|c| bytes(&c))
                .map(|c| String::from_utf8_lossy(&c).to_string())
                .ok_or(Error::State("SCAN returned no cursor".to_string()))?;
            let keys: Vec<Vec<u8>> = match parts.get(1) {
                Some(Ok(CallReply::Array(keys))) => keys.iter().filter_map(|k| bytes(&k)).collect(),
                _ => Vec::new(),
            };
            Ok((next, keys))
        }
        Ok(_) => Err(Error::State("unexpected SCAN reply".to_string())),
        Err(e) => Err(Error::State(format!("SCAN failed: {}", error_text(e)))),
    }
}

fn key_type(ctx: &Context, options: &CallOptions, key: &[u8]) -> Option<Vec<u8>> {
    let reply: CallResult = ctx.call_ext("TYPE", options, &[key][..]);
    match reply {
        Ok(CallReply::String(s)) => Some(s.as_bytes().to_vec()),
        _ => None,
    }
}

/// Up to `count` entries and about `max_bytes` (at least one entry) of `stream` from `start`
/// (exclusive unless `inclusive`), read with the stream iterator API: no RESP reply is built
/// and parsed, unlike XRANGE through RM_Call. Fields are copied into `buffers`' vectors.
pub fn read_entries(
    ctx: &Context,
    stream: &[u8],
    start: &str,
    inclusive: bool,
    count: usize,
    max_bytes: usize,
    buffers: &mut FieldBuffers,
) -> Result<Read, Error> {
    let (ms, seq) = parse_stream_id(start)
        .ok_or_else(|| Error::Internal(format!("bad stream ID '{start}'")))?;
    let key = ctx.open_key(&ctx.create_string(stream));
    let mut read = Read {
        entries: Vec::new(),
        more: false,
    };
    match key.key_type() {
        KeyType::Empty => return Ok(read),
        KeyType::Stream => {}
        _ => {
            return Err(Error::Refused(Refusal::new(
                "reading a stream",
                "WRONGTYPE the key is not a stream",
            )))
        }
    }
    if count == 0 {
        read.more = true;
        return Ok(read);
    }
    let from = raw::RedisModuleStreamID { ms, seq };
    let records = key
        .get_stream_range_iterator(Some(from), None, !inclusive, false)
        .map_err(|e| Error::Internal(format!("reading stream: {e}")))?;
    let mut bytes = 0;
    for record in records {
        let entry = Entry {
            id: format!("{}-{}", record.id.ms, record.id.seq),
            fields: buffers.copy(&record.fields),
        };
        bytes += entry.bytes();
        read.entries.push(entry);
        if read.entries.len() >= count || bytes >= max_bytes {
            read.more = true;
            break;
        }
    }
    Ok(read)
}

/// `entries-added` from XINFO STREAM: how many entries the stream ever received.
pub fn entries_added(ctx: &Context, options: &CallOptions, stream: &[u8]) -> Option<u64> {
    let args: [&[u8]; 2] = [b"STREAM", stream];
    let reply: CallResult = ctx.call_ext("XINFO", options, &args[..]);
    let Ok(CallReply::Array(flat)) = reply else {
        return None;
    };
    (0..flat.len()).step_by(2).find_map(|i| {
        let name = flat.get(i).and_then(|n| bytes(&n))?;
        if name != b"entries-added" {
            return None;
        }
        match flat.get(i + 1) {
            Some(Ok(CallReply::I64(v))) => u64::try_from(v.to_i64()).ok(),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_small_field_vectors_are_kept_and_only_so_many() {
        let mut buffers = FieldBuffers::default();
        buffers.give_back(vec![(b"id".to_vec(), b"1".to_vec())]);
        assert_eq!(buffers.kept(), 1);
        // One large value, many empty fields (slots only), or slots left by a truncation.
        buffers.give_back(vec![(b"v".to_vec(), vec![0; KEPT_FIELDS_BYTES])]);
        buffers.give_back(vec![(Vec::new(), Vec::new()); 1_000]);
        let mut truncated: Fields = vec![(Vec::new(), Vec::new()); 1_000];
        truncated.truncate(1);
        buffers.give_back(truncated);
        assert_eq!(buffers.kept(), 1);
        for _ in 0..2 * KEPT_FIELDS {
            buffers.give_back(vec![(b"id".to_vec(), b"1".to_vec())]);
        }
        assert_eq!(buffers.kept(), KEPT_FIELDS);
    }
}
