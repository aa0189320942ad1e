//! One module per top-level command group.
pub mod cib;
pub mod cib_push;
pub mod cluster;
pub mod config;
pub mod config_diff;
pub mod constraint;
pub mod daemon;
pub mod demo;
pub mod node;
pub mod property;
pub mod resource;
pub mod resource_config;
pub mod simulate;
pub mod status;
pub mod stonith;
pub mod ticket;
pub mod verify;
