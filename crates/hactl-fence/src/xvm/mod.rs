//! Native fence_xvm: the wire protocol ([`proto`]), the client ([`client`]) and the
//! agent parameters ([`options`]), and the agent run in-process ([`inproc`]).
pub mod client;
pub mod inproc;
pub mod options;
pub mod proto;

pub use client::{Client, ClientConfig, PowerState, Reply, XvmError};
pub use options::{Action, XvmOptions};
pub use proto::{FenceKey, HashType, HostRecord, Op};
