//! Makes every setting in `ALL` a Redis module config (CONFIG GET/SET, redis.conf) through the
//! RM_Register*Config API, then loads redis.conf's values. A config's privdata is its index in
//! `ALL`. Every callback runs inside the panic boundary.

use crate::error::Error;
use crate::runtime::panic::catch;
use crate::runtime::text::truncate;
use crate::settings::{Raw, Setting, Value, ALL};
use redis_module::raw;
use std::ffi::{c_void, CString};
use std::os::raw::{c_char, c_int, c_longlong, c_uint};
use std::sync::atomic::{AtomicPtr, Ordering};

const OK: c_int = raw::REDISMODULE_OK as c_int;
const ERR: c_int = raw::REDISMODULE_ERR as c_int;

/// The string each text config last gave CONFIG GET: Redis copies it, the module owns it.
static LAST_TEXT: [AtomicPtr<raw::RedisModuleString>; ALL.len()] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; ALL.len()];

/// Registers every setting with its current value (the default, or what `loadmodule`
/// arguments set) as the default, then applies redis.conf.
pub fn register_all(ctx: *mut raw::RedisModuleCtx) -> Result<(), Error> {
    for (index, setting) in ALL.iter().enumerate() {
        register(ctx, index, setting)
            .map_err(|e| e.context(&format!("registering kafka.{}", setting.name)))?;
    }
    let load = unsafe { raw::RedisModule_LoadConfigs }
        .ok_or_else(|| Error::Internal("this server cannot load module configs".to_string()))?;
    if unsafe { load(ctx) } != OK {
        return Err(Error::Arg(
            "a kafka.* line in the configuration file has a value the module refuses".to_string(),
        ));
    }
    Ok(())
}

/// MODULE UNLOAD: frees what the configs hold, since Rust never drops statics and the library
/// is unloaded under them.
pub fn release_all() {
    for slot in &LAST_TEXT {
        free_string(slot.swap(std::ptr::null_mut(), Ordering::AcqRel));
    }
    for setting in &ALL {
        if let Value::Text(text) = &setting.value {
            text.reset();
        }
    }
}

fn register(ctx: *mut raw::RedisModuleCtx, index: usize, setting: &Setting) -> Result<(), Error> {
    let name = c_text(setting.name)?;
    let privdata = index as *mut c_void;
    let mut flags = if setting.immutable {
        raw::REDISMODULE_CONFIG_IMMUTABLE
    } else {
        raw::REDISMODULE_CONFIG_DEFAULT
    } as c_uint;
    let missing = || Error::Internal("this server has no module config API".to_string());
    let status = match &setting.value {
        Value::Number(number) => {
            if number.memory {
                flags |= raw::REDISMODULE_CONFIG_MEMORY as c_uint;
            }
            let f = unsafe { raw::RedisModule_RegisterNumericConfig }.ok_or_else(missing)?;
            unsafe {
                f(
                    ctx,
                    name.as_ptr(),
                    number.get(),
                    flags,
                    number.min,
                    number.max,
                    Some(get_number),
                    Some(set_number),
                    None,
                    privdata,
                )
            }
        }
        Value::Flag(flag) => {
            let f = unsafe { raw::RedisModule_RegisterBoolConfig }.ok_or_else(missing)?;
            let current = c_int::from(flag.get());
            unsafe {
                f(
                    ctx,
                    name.as_ptr(),
                    current,
                    flags,
                    Some(get_flag),
                    Some(set_flag),
                    None,
                    privdata,
                )
            }
        }
        Value::Text(text) => {
            let f = unsafe { raw::RedisModule_RegisterStringConfig }.ok_or_else(missing)?;
            let current = c_text(&text.get())?;
            unsafe {
                f(
                    ctx,
                    name.as_ptr(),
                    current.as_ptr(),
                    flags,
                    Some(get_text),
                    Some(set_text),
                    None,
                    privdata,
                )
            }
        }
        Value::Choice(choice) => {
            let f = unsafe { raw::RedisModule_RegisterEnumConfig }.ok_or_else(missing)?;
            let names = choice
                .options
                .iter()
                .map(|(name, _)| c_text(name))
                .collect::<Result<Vec<_>, _>>()?;
            let mut pointers: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
            let numbers: Vec<c_int> = choice.options.iter().map(|(_, v)| *v).collect();
            unsafe {
                f(
                    ctx,
                    name.as_ptr(),
                    choice.get(),
                    flags,
                    pointers.as_mut_ptr(),
                    numbers.as_ptr(),
                    numbers.len() as c_int,
                    Some(get_choice),
                    Some(set_choice),
                    None,
                    privdata,
                )
            }
        }
    };
    if status == OK {
        Ok(())
    } else {
        Err(Error::Internal("the server refused the config".to_string()))
    }
}

fn c_text(text: &str) -> Result<CString, Error> {
    CString::new(text).map_err(|_| Error::Arg("a setting holds a NUL byte".to_string()))
}

fn setting_at(privdata: *mut c_void) -> Option<&'static Setting> {
    ALL.get(privdata as usize)
}

/// Runs a setter inside the panic boundary and turns its error into Redis's `err` string.
fn setter(privdata: *mut c_void, err: *mut *mut raw::RedisModuleString, value: Raw<'_>) -> c_int {
    let result = match setting_at(privdata) {
        Some(setting) => catch("CONFIG SET", || setting.set_raw(value))
            .unwrap_or_else(|panic| Err(Error::Internal(panic))),
        None => Err(Error::Internal("unknown setting".to_string())),
    };
    match result {
        Ok(()) => OK,
        Err(error) => {
            // Redis puts this text in its reply and cuts it at about 300 bytes wherever that
            // falls, even inside a UTF-8 character: send short ASCII.
            let ascii: String = error
                .to_string()
                .chars()
                .flat_map(|c| {
                    if c.is_ascii() && !c.is_ascii_control() {
                        vec![c]
                    } else {
                        c.escape_unicode().collect()
                    }
                })
                .collect();
            let text = truncate(&ascii, 200);
            if !err.is_null() {
                if let Some(create) = unsafe { raw::RedisModule_CreateString } {
                    unsafe {
                        *err = create(std::ptr::null_mut(), text.as_ptr().cast(), text.len());
                    }
                }
            }
            ERR
        }
    }
}

fn integer_at(privdata: *mut c_void) -> i64 {
    setting_at(privdata).map_or(0, Setting::integer)
}

fn free_string(string: *mut raw::RedisModuleString) {
    if !string.is_null() {
        if let Some(free) = unsafe { raw::RedisModule_FreeString } {
            unsafe { free(std::ptr::null_mut(), string) };
        }
    }
}

extern "C" fn get_number(_name: *const c_char, privdata: *mut c_void) -> c_longlong {
    integer_at(privdata)
}

extern "C" fn set_number(
    _name: *const c_char,
    value: c_longlong,
    privdata: *mut c_void,
    err: *mut *mut raw::RedisModuleString,
) -> c_int {
    setter(privdata, err, Raw::Number(value))
}

extern "C" fn get_flag(_name: *const c_char, privdata: *mut c_void) -> c_int {
    c_int::from(integer_at(privdata) != 0)
}

extern "C" fn set_flag(
    _name: *const c_char,
    value: c_int,
    privdata: *mut c_void,
    err: *mut *mut raw::RedisModuleString,
) -> c_int {
    setter(privdata, err, Raw::Flag(value != 0))
}

extern "C" fn get_choice(_name: *const c_char, privdata: *mut c_void) -> c_int {
    c_int::try_from(integer_at(privdata)).unwrap_or(0)
}

extern "C" fn set_choice(
    _name: *const c_char,
    value: c_int,
    privdata: *mut c_void,
    err: *mut *mut raw::RedisModuleString,
) -> c_int {
    setter(privdata, err, Raw::Choice(value))
}

extern "C" fn get_text(_name: *const c_char, privdata: *mut c_void) -> *mut raw::RedisModuleString {
    let index = privdata as usize;
    let (Some(Value::Text(text)), Some(slot), Some(create)) = (
        setting_at(privdata).map(|s| &s.value),
        LAST_TEXT.get(index),
        unsafe { raw::RedisModule_CreateString },
    ) else {
        return std::ptr::null_mut();
    };
    let value = text.get();
    let fresh = unsafe { create(std::ptr::null_mut(), value.as_ptr().cast(), value.len()) };
    free_string(slot.swap(fresh, Ordering::AcqRel));
    fresh
}

extern "C" fn set_text(
    _name: *const c_char,
    value: *mut raw::RedisModuleString,
    privdata: *mut c_void,
    err: *mut *mut raw::RedisModuleString,
) -> c_int {
    let bytes = redis_module::RedisString::string_as_slice(value);
    setter(privdata, err, Raw::Text(bytes))
}
