pub mod doorbell;
pub mod forward;
pub mod shared;
pub mod stream_io;
pub mod topics;
pub mod worker;
