//! The module's own, binary-safe access to its state keys through Redis's key API. Unlike a
//! command through RM_Call, a key-API write shows up in neither MONITOR nor SLOWLOG (definitions
//! carry secrets) and does not pass the command filter that keeps clients off these keys.
//! Callers hold the Redis lock (main thread, or a worker holding its thread-safe context).

use redis_module::{raw, Context};
use std::os::raw::{c_char, c_int, c_void};
use std::ptr;

/// A Redis string we created and free ourselves.
struct Owned(*mut raw::RedisModuleString);

impl Owned {
    fn new(bytes: &[u8]) -> Option<Owned> {
        let create = unsafe { raw::RedisModule_CreateString }?;
        let s = unsafe {
            create(
                ptr::null_mut(),
                bytes.as_ptr().cast::<c_char>(),
                bytes.len(),
            )
        };
        (!s.is_null()).then_some(Owned(s))
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        if let Some(free) = unsafe { raw::RedisModule_FreeString } {
            unsafe { free(ptr::null_mut(), self.0) };
        }
    }
}

fn bytes_of(s: *mut raw::RedisModuleString) -> Vec<u8> {
    let Some(ptr_len) = (unsafe { raw::RedisModule_StringPtrLen }) else {
        return Vec::new();
    };
    let mut len = 0usize;
    let p = unsafe { ptr_len(s, &mut len) };
    if p.is_null() {
        return Vec::new();
    }
    unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }.to_vec()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Empty,
    String,
    Hash,
    List,
    Set,
    Zset,
    Stream,
    /// A module's type (RedisJSON's documents among them).
    Module,
    Other,
}

/// An open key, closed on drop. Opened for reading, a missing key has no handle and reads as
/// empty; opened for writing, None means Redis gave no handle at all.
pub struct Key {
    key: *mut raw::RedisModuleKey,
    _name: Owned,
}

impl Key {
    pub fn open(ctx: &Context, name: &[u8], write: bool) -> Option<Key> {
        let open = unsafe { raw::RedisModule_OpenKey }?;
        let name = Owned::new(name)?;
        let mode = if write {
            raw::REDISMODULE_READ | raw::REDISMODULE_WRITE
        } else {
            raw::REDISMODULE_READ
        };
        let key = unsafe { open(ctx.ctx, name.0, mode as c_int) };
        if key.is_null() && write {
            return None;
        }
        Some(Key { key, _name: name })
    }

    pub fn kind(&self) -> KeyKind {
        if self.key.is_null() {
            return KeyKind::Empty;
        }
        let Some(key_type) = (unsafe { raw::RedisModule_KeyType }) else {
            return KeyKind::Other;
        };
        match unsafe { key_type(self.key) } as isize {
            raw::REDISMODULE_KEYTYPE_EMPTY => KeyKind::Empty,
            raw::REDISMODULE_KEYTYPE_STRING => KeyKind::String,
            raw::REDISMODULE_KEYTYPE_HASH => KeyKind::Hash,
            raw::REDISMODULE_KEYTYPE_LIST => KeyKind::List,
            raw::REDISMODULE_KEYTYPE_SET => KeyKind::Set,
            raw::REDISMODULE_KEYTYPE_ZSET => KeyKind::Zset,
            raw::REDISMODULE_KEYTYPE_STREAM => KeyKind::Stream,
            raw::REDISMODULE_KEYTYPE_MODULE => KeyKind::Module,
            _ => KeyKind::Other,
        }
    }

    /// Elements of a collection, or bytes of a string.
    pub fn len(&self) -> usize {
        if self.key.is_null() {
            return 0;
        }
        match unsafe { raw::RedisModule_ValueLength } {
            Some(length) => unsafe { length(self.key) },
            None => 0,
        }
    }

    pub fn hash_get(&self, field: &[u8]) -> Option<Vec<u8>> {
        if self.kind() != KeyKind::Hash {
            return None;
        }
        let get = unsafe { raw::RedisModule_HashGet }?;
        let field = Owned::new(field)?;
        let mut value: *mut raw::RedisModuleString = ptr::null_mut();
        let status = unsafe {
            get(
                self.key,
                raw::REDISMODULE_HASH_NONE as c_int,
                field.0,
                &mut value as *mut *mut raw::RedisModuleString,
                ptr::null_mut::<c_void>(),
            )
        };
        if status != raw::REDISMODULE_OK as c_int || value.is_null() {
            return None;
        }
        let value = Owned(value);
        Some(bytes_of(value.0))
    }

    /// Sets (Some) or deletes (None) one field; false if Redis refused.
    pub fn hash_put(&self, field: &[u8], value: Option<&[u8]>) -> bool {
        let Some(set) = (unsafe { raw::RedisModule_HashSet }) else {
            return false;
        };
        let Some(field) = Owned::new(field) else {
            return false;
        };
        let owned_value = match value {
            Some(bytes) => match Owned::new(bytes) {
                Some(v) => Some(v),
                None => return false,
            },
            None => None,
        };
        // REDISMODULE_HASH_DELETE is the pointer value 1 in redismodule.h.
        let value_ptr = owned_value
            .as_ref()
            .map_or(ptr::without_provenance_mut(1), |v| v.0);
        unsafe {
            set(
                self.key,
                raw::REDISMODULE_HASH_NONE as c_int,
                field.0,
                value_ptr,
                ptr::null_mut::<c_void>(),
            )
        };
        // HashSet's count cannot tell an insert from a refusal; the key's type afterwards can
        // (a hash, or gone after deleting its last field).
        matches!(self.kind(), KeyKind::Hash | KeyKind::Empty)
    }

    pub fn delete(&self) -> bool {
        match unsafe { raw::RedisModule_DeleteKey } {
            Some(delete) => (unsafe { delete(self.key) }) == raw::REDISMODULE_OK as c_int,
            None => false,
        }
    }

    /// Up to `limit` members (set) or field/value pairs (hash), in Redis's scan order.
    pub fn scan(&self, limit: usize) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        if !matches!(self.kind(), KeyKind::Hash | KeyKind::Set) {
            return Vec::new();
        }
        let api = unsafe {
            (
                raw::RedisModule_ScanCursorCreate,
                raw::RedisModule_ScanKey,
                raw::RedisModule_ScanCursorDestroy,
            )
        };
        let (Some(create), Some(scan), Some(destroy)) = api else {
            return Vec::new();
        };
        struct Collected {
            items: Vec<(Vec<u8>, Option<Vec<u8>>)>,
            limit: usize,
        }
        unsafe extern "C" fn collect(
            _key: *mut raw::RedisModuleKey,
            field: *mut raw::RedisModuleString,
            value: *mut raw::RedisModuleString,
            data: *mut c_void,
        ) {
            // Called by Redis inside ScanKey, on this thread; `data` is the Collected below.
            let collected = unsafe { &mut *data.cast::<Collected>() };
            if collected.items.len() < collected.limit && !field.is_null() {
                let value = (!value.is_null()).then(|| bytes_of(value));
                collected.items.push((bytes_of(field), value));
            }
        }
        let mut collected = Collected {
            items: Vec::new(),
            limit,
        };
        let cursor = unsafe { create() };
        if cursor.is_null() {
            return Vec::new();
        }
        while collected.items.len() < limit {
            let more = unsafe {
                scan(
                    self.key,
                    cursor,
                    Some(collect),
                    (&mut collected as *mut Collected).cast::<c_void>(),
                )
            };
            if more == 0 {
                break;
            }
        }
        unsafe { destroy(cursor) };
        collected.items
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        if self.key.is_null() {
            return;
        }
        if let Some(close) = unsafe { raw::RedisModule_CloseKey } {
            unsafe { close(self.key) };
        }
    }
}
