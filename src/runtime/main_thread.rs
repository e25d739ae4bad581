//! Whether Redis's main thread is blocked waiting for the module lock, so a worker that has just
//! released it can let the main thread in before taking it again.
//!
//! A glibc mutex is not fair: a worker that unlocks and try-locks again wins the race against
//! the main thread it just woke, so clients waited for a whole batch of slices (PING max
//! 30–40 ms while a sink applied). The main thread takes the lock right after each epoll wait,
//! before anything a module can hook; what is observable is the EVENTLOOP server event
//! (before-sleep, after-sleep) and the system call the thread is in. Between a before-sleep and
//! the next after-sleep the main thread is either idle in `epoll_wait` or woken and blocked in
//! `futex` on the lock; `/proc/self/task/<main>/syscall` tells which, for a few microseconds,
//! and only in that window.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

static MAIN_TID: AtomicI32 = AtomicI32::new(0);
/// Event-loop iterations the main thread began (each after it took the lock).
static WAKES: AtomicU64 = AtomicU64::new(0);
/// Set from the end of an iteration (just before the main thread releases the lock for
/// `epoll_wait`) to the start of the next.
static ASLEEP: AtomicBool = AtomicBool::new(false);

#[cfg(target_arch = "x86_64")]
const EPOLL_WAITS: [libc::c_long; 3] = [
    libc::SYS_epoll_wait,
    libc::SYS_epoll_pwait,
    libc::SYS_epoll_pwait2,
];
#[cfg(not(target_arch = "x86_64"))]
const EPOLL_WAITS: [libc::c_long; 2] = [libc::SYS_epoll_pwait, libc::SYS_epoll_pwait2];

/// Longest a worker waits for a main thread it saw blocked on the lock: a woken thread runs
/// within tens of microseconds, unless both cores are busy with other work.
const HANDOVER_MAX: Duration = Duration::from_millis(1);

/// Called from the module's load, which runs on the main thread.
pub fn remember_main_thread() {
    MAIN_TID.store(unsafe { libc::gettid() }, Ordering::Relaxed);
}

pub fn on_after_sleep() {
    ASLEEP.store(false, Ordering::Release);
    WAKES.fetch_add(1, Ordering::Release);
}

pub fn on_before_sleep() {
    ASLEEP.store(true, Ordering::Release);
}

/// Reads the main thread's current system call; one per worker, opened on first use.
pub struct Watcher {
    syscall: Option<File>,
    opened: bool,
}

impl Watcher {
    pub const fn new() -> Watcher {
        Watcher {
            syscall: None,
            opened: false,
        }
    }

    /// Called by a worker that has just released the lock and wants it again: when the main
    /// thread is waiting for it, waits (at most `HANDOVER_MAX`) until the main thread has it.
    pub fn let_main_thread_in(&mut self) {
        let wakes = WAKES.load(Ordering::Acquire);
        if !ASLEEP.load(Ordering::Acquire) || !self.main_wants_lock() {
            return;
        }
        let since = Instant::now();
        while WAKES.load(Ordering::Acquire) == wakes && since.elapsed() < HANDOVER_MAX {
            std::thread::yield_now();
        }
    }

    /// Called between a before-sleep and an after-sleep: true unless the main thread waits in
    /// epoll (it is in `futex` on the lock, or running towards it after the unlock that woke
    /// it). False when its system call cannot be read: the worker then behaves as if the
    /// main thread were idle, as before this check existed.
    fn main_wants_lock(&mut self) -> bool {
        if !self.opened {
            self.opened = true;
            let tid = MAIN_TID.load(Ordering::Relaxed);
            if tid > 0 {
                self.syscall = File::open(format!("/proc/self/task/{tid}/syscall")).ok();
            }
        }
        let Some(file) = self.syscall.as_ref() else {
            return false;
        };
        let mut buf = [0u8; 24];
        match file.read_at(&mut buf, 0) {
            Ok(read) => !in_epoll_wait(&buf[..read]),
            Err(_) => false,
        }
    }
}

/// A `/proc/<pid>/task/<tid>/syscall` line ("232 0x5 0x7f…", "running", "-1 0x…") names an
/// epoll wait.
fn in_epoll_wait(line: &[u8]) -> bool {
    let number = line.split(|b| *b == b' ').next().unwrap_or_default();
    let number = std::str::from_utf8(number)
        .ok()
        .and_then(|n| n.trim().parse::<libc::c_long>().ok());
    matches!(number, Some(n) if EPOLL_WAITS.contains(&n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_epoll_wait_is_idle() {
        let epoll = format!("{} 0x5 0x7fa60336fb40 0x2790 0x64", libc::SYS_epoll_pwait);
        assert!(in_epoll_wait(epoll.as_bytes()));
        let futex = format!("{} 0x55d0 0x80 0x2 0x0", libc::SYS_futex);
        assert!(!in_epoll_wait(futex.as_bytes()));
        for line in ["running", "", "-1 0x7ffc 0x0", "not a number", "\u{0}\u{0}"] {
            assert!(!in_epoll_wait(line.as_bytes()), "{line}");
        }
    }

    #[test]
    fn this_thread_reads_as_not_waiting_in_epoll() {
        let tid = unsafe { libc::gettid() };
        let line = std::fs::read(format!("/proc/self/task/{tid}/syscall")).unwrap();
        assert!(!in_epoll_wait(&line), "{}", String::from_utf8_lossy(&line));
    }
}
