//! The worker side of Redis's global lock: one detached thread-safe context per worker, locked
//! with try-lock so a worker told to stop never waits for a lock the main thread will not release
//! (MODULE UNLOAD and SHUTDOWN join workers while holding it).

use crate::runtime::main_thread::Watcher;
use parking_lot::Mutex;
use redis_module::{raw, Context};
use std::ops::Deref;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub struct Gil {
    ctx: *mut raw::RedisModuleCtx,
    main_thread: Mutex<Watcher>,
}

// The context is used only while its user holds Redis's global lock, so by one thread at a
// time: the worker that owns it, rdkafka callbacks inside that worker's `poll`, or a sink's
// filler thread polling for the same worker.
unsafe impl Send for Gil {}
unsafe impl Sync for Gil {}

pub struct GilGuard<'a> {
    _gil: &'a Gil,
    ctx: Context,
}

impl Gil {
    pub fn new() -> Option<Gil> {
        let get = unsafe { raw::RedisModule_GetThreadSafeContext }?;
        let ctx = unsafe { get(ptr::null_mut()) };
        (!ctx.is_null()).then_some(Gil {
            ctx,
            main_thread: Mutex::new(Watcher::new()),
        })
    }

    /// Waits for the lock, giving up (None) as soon as `stop` is set.
    pub fn lock(&self, stop: &AtomicBool) -> Option<GilGuard<'_>> {
        self.main_thread.lock().let_main_thread_in();
        let try_lock = unsafe { raw::RedisModule_ThreadSafeContextTryLock }?;
        let mut backoff = Duration::from_micros(5);
        loop {
            if stop.load(Ordering::Acquire) {
                return None;
            }
            if unsafe { try_lock(self.ctx) } == raw::REDISMODULE_OK as i32 {
                return Some(GilGuard {
                    _gil: self,
                    ctx: Context::new(self.ctx),
                });
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_micros(200));
        }
    }
}

impl Drop for Gil {
    fn drop(&mut self) {
        if let Some(free) = unsafe { raw::RedisModule_FreeThreadSafeContext } {
            unsafe { free(self.ctx) };
        }
    }
}

impl Deref for GilGuard<'_> {
    type Target = Context;
    fn deref(&self) -> &Context {
        &self.ctx
    }
}

impl Drop for GilGuard<'_> {
    fn drop(&mut self) {
        // Unlocking also propagates everything replicated under this lock as one MULTI/EXEC.
        if let Some(unlock) = unsafe { raw::RedisModule_ThreadSafeContextUnlock } {
            unsafe { unlock(self.ctx.ctx) };
        }
    }
}
