//! The controller (Pacemaker's controld), in two halves like openraft's engine and
//! runtime:
//!
//! - [`engine`]: the transition engine, a pure state machine. Given the policy
//!   engine's [`hactl_policy::Transition`] and events it emits [`engine::Command`]s;
//!   no I/O, no clock.
//! - the runtime (DC loop, per-node executor service, no-quorum-policy) that carries
//!   those commands out with the daemon's Raft handle, the peer transport and the
//!   local `hactl-exec` executor.

mod backoff;
pub mod controller;
pub mod dc;
mod definition;
pub mod engine;
pub mod fence_delay;
mod history;
pub mod ipvs_status;
pub mod messages;
pub mod node_service;
pub mod ops;
pub mod orders;
pub mod propose;
pub mod quorum;
mod recorded;
pub mod sched_thread;
pub mod shutdown;
pub mod split_brain;
pub mod watchdog;

#[cfg(test)]
mod clone_history_tests;

pub use controller::{Controller, ControllerConfig, Host};
pub use engine::{Command, Dispatch, Engine, EngineConfig, EngineError, Event, FenceRequest};
pub use ops::{OpDetails, Outcome};
pub use propose::{Proposal, ProposeError};
