//! The panic boundary. A panic that unwinds into Redis (through an `extern "C"` callback) aborts
//! the whole server, so every entry point Redis or a thread calls runs its body through `catch`:
//! a panic becomes an error value with the panic's message, and Redis keeps serving.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `body`; a panic comes back as `Err("<what> panicked: <message>")`.
pub fn catch<T>(what: &str, body: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(body))
        .map_err(|payload| format!("{what} panicked: {}", panic_message(payload.as_ref())))
}

/// Like `catch`, for callbacks that have nothing to return: a panic is logged.
pub fn catch_and_log(what: &str, body: impl FnOnce()) {
    if let Err(message) = catch(what, body) {
        crate::runtime::log::warning(&format!("kafka: {message}"));
    }
}

pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_errors_with_their_message() {
        assert_eq!(catch("x", || 5), Ok(5));
        let error = catch("worker", || -> u8 { panic!("boom {}", 7) }).unwrap_err();
        assert_eq!(error, "worker panicked: boom 7");
    }
}
