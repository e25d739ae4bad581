//! Module-wide plumbing every entry point uses: safe text for Redis APIs, logging, replies,
//! the panic boundary, and the module's own context.

pub mod blocked;
pub mod context;
pub mod log;
pub mod panic;
pub mod reply;
pub mod text;
