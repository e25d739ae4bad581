//! Waiting on an rdkafka future (admin operations) from a worker thread without ever waiting
//! past a stop request: the future is polled in short steps instead of blocked on.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

const STEP: Duration = Duration::from_millis(10);

/// The future's output, or None when `stop` was set or `limit` passed first.
pub fn interruptible<F: Future>(
    future: F,
    stop: &AtomicBool,
    limit: Duration,
) -> Option<F::Output> {
    let deadline = Instant::now() + limit;
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return Some(output);
        }
        if stop.load(Ordering::Acquire) || Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(STEP);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_futures_finish_and_stopped_waits_end() {
        let stop = AtomicBool::new(false);
        assert_eq!(
            interruptible(async { 7 }, &stop, Duration::from_secs(1)),
            Some(7)
        );
        stop.store(true, Ordering::Release);
        let never = std::future::pending::<u8>();
        assert_eq!(interruptible(never, &stop, Duration::from_secs(60)), None);
        let started = Instant::now();
        let calm = AtomicBool::new(false);
        assert_eq!(
            interruptible(
                std::future::pending::<u8>(),
                &calm,
                Duration::from_millis(30)
            ),
            None
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
