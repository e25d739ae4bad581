//! A detached thread-safe context owned by the module, for API calls that want a context where
//! Redis gives none (the command filter). Created at load, freed at unload.

use redis_module::{raw, Context};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

static DETACHED: AtomicPtr<raw::RedisModuleCtx> = AtomicPtr::new(ptr::null_mut());

pub fn init(ctx: &Context) {
    if let Some(get) = unsafe { raw::RedisModule_GetDetachedThreadSafeContext } {
        let detached = unsafe { get(ctx.ctx) };
        free_previous(DETACHED.swap(detached, Ordering::AcqRel));
    }
}

pub fn detached() -> *mut raw::RedisModuleCtx {
    DETACHED.load(Ordering::Acquire)
}

pub fn release() {
    free_previous(DETACHED.swap(ptr::null_mut(), Ordering::AcqRel));
}

fn free_previous(previous: *mut raw::RedisModuleCtx) {
    if previous.is_null() {
        return;
    }
    if let Some(free) = unsafe { raw::RedisModule_FreeThreadSafeContext } {
        unsafe { free(previous) };
    }
}
