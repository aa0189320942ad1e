//! One module per top-level command group.
pub mod cib;
pub mod cluster;
pub mod daemon;
pub mod resource;
pub mod simulate;
pub mod stonith;
