pub mod apply;
pub mod context;
pub mod dlq;
pub mod shared;
pub mod worker;
