//! Persists a cluster node's bridge definitions (`cluster_definitions`) in the RDB, as the aux
//! data of a module type that no key ever has. The RDB is also what a replica's full sync and
//! an AOF's base file carry, so the definitions follow the dataset everywhere. A registered
//! type forbids MODULE UNLOAD, so it is registered only on cluster nodes.

use crate::runtime::log;
use crate::runtime::panic::{catch, catch_and_log};
use crate::store::cluster_definitions;
use crate::store::shared_definitions::Record;
use redis_module::native_types::RedisType;
use redis_module::raw;
use std::os::raw::{c_int, c_void};

const ENCODING_VERSION: i32 = 1;

static DEFINITIONS_TYPE: RedisType = RedisType::new(
    "kafka-def",
    ENCODING_VERSION,
    raw::RedisModuleTypeMethods {
        version: raw::REDISMODULE_TYPE_METHOD_VERSION as u64,
        rdb_load: Some(no_key_load),
        rdb_save: Some(no_key_save),
        aof_rewrite: None,
        mem_usage: None,
        digest: None,
        free: Some(no_key_free),
        aux_load: Some(aux_load),
        aux_save: Some(aux_save),
        aux_save_triggers: raw::REDISMODULE_AUX_BEFORE_RDB as c_int,
        free_effort: None,
        unlink: None,
        copy: None,
        defrag: None,
        mem_usage2: None,
        free_effort2: None,
        unlink2: None,
        copy2: None,
        aux_save2: None,
    },
);

pub fn register(ctx: *mut raw::RedisModuleCtx) -> bool {
    DEFINITIONS_TYPE.create_data_type(ctx).is_ok()
}

extern "C" fn aux_save(rdb: *mut raw::RedisModuleIO, _when: c_int) {
    catch_and_log("saving bridge definitions", || {
        let records = cluster_definitions::encoded_records();
        raw::save_unsigned(rdb, records.len() as u64);
        for record in records {
            raw::save_slice(rdb, &record);
        }
    });
}

extern "C" fn aux_load(rdb: *mut raw::RedisModuleIO, encver: c_int, _when: c_int) -> c_int {
    // An error here stops Redis loading the RDB: only for data it cannot parse past.
    let loaded = catch("loading bridge definitions", || {
        if encver != ENCODING_VERSION {
            log::warning(&format!(
                "kafka: bridge definitions in this RDB have encoding {encver}, this module reads {ENCODING_VERSION}"
            ));
            return false;
        }
        let Ok(count) = raw::load_unsigned(rdb) else {
            return false;
        };
        let mut records = Vec::new();
        for _ in 0..count {
            let Ok(buffer) = raw::load_string_buffer(rdb) else {
                return false;
            };
            // A record that cannot be read is reported and left out, never a failed load.
            match Record::decode(buffer.as_ref()) {
                Ok(record) => records.push(record),
                Err(e) => log::warning(&format!("kafka: a stored bridge definition: {e}")),
            }
        }
        cluster_definitions::replace_all(records);
        true
    });
    match loaded {
        Ok(true) => raw::REDISMODULE_OK as c_int,
        Ok(false) => raw::REDISMODULE_ERR as c_int,
        Err(panic) => {
            log::warning(&format!("kafka: loading bridge definitions: {panic}"));
            raw::REDISMODULE_ERR as c_int
        }
    }
}

extern "C" fn no_key_load(_rdb: *mut raw::RedisModuleIO, _encver: c_int) -> *mut c_void {
    std::ptr::null_mut()
}

extern "C" fn no_key_save(_rdb: *mut raw::RedisModuleIO, _value: *mut c_void) {}

extern "C" fn no_key_free(_value: *mut c_void) {}
