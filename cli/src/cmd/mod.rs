//! One module per top-level command group.
pub mod cib;
pub mod cluster;
pub mod config;
pub mod constraint;
pub mod daemon;
pub mod demo;
pub mod mon;
pub mod node;
pub mod property;
pub mod resource;
pub mod resource_config;
pub mod simulate;
pub mod status;
pub mod stonith;
pub mod verify;
