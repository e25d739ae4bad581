//! Redis Cluster (issue 12, see docs/cluster-design.md): hash slots and the tags that name a
//! key into a chosen slot, and this node's view of which slots it serves and who its peers are.

pub mod slots;
pub mod topology;
