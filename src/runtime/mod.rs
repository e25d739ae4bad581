//! How the module talks to Redis safely, used by every entry point: text Redis APIs accept,
//! logging, replies, the panic boundary, blocked clients, the module's own context, the module
//! lock, the faults KAFKA.DEBUG injects and the secret of the module's pub/sub subscriber.

pub mod alloc_count;
pub mod blocked;
pub mod call;
pub mod clock;
pub mod context;
pub mod faults;
pub mod gil;
pub mod log;
pub mod main_thread;
pub mod panic;
pub mod pause;
pub mod reply;
pub mod subscriber_token;
pub mod text;
