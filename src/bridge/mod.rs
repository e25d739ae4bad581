//! The running bridges: the registry that starts and stops their workers, and reconcile, which
//! makes the registry match the definitions stored in the dataset.

pub mod reconcile;
pub mod registry;
