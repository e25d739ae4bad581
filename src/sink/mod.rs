pub mod apply;
pub mod context;
pub mod shared;
pub mod worker;
