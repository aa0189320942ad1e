//! `hactl witness`: a light arbiter for clusters of two or four nodes, in the spirit
//! of corosync-qdevice (docs/architecture.md, "Witness").
//!
//! A witness runs on a third host (say, the libvirt host that runs fence_virtd). It
//! stores no CIB and runs no resources; it only answers one question for a cluster
//! split into halves (two nodes that lost each other, or two sites): *which half may
//! continue?* It grants that to at most one half of a cluster, and keeps the grant
//! (on disk, a few bytes per cluster) until a node of that half gives it back once the
//! cluster is whole again. The grant is the node's proof for
//! `hactl_consensus::AloneProof::Witness`.
//!
//! * [`grants`]: the rule and its durable table (pure, tested on its own).
//! * [`server`]: the QUIC server: one port for several clusters, each authenticated
//!   by its own CA (mutual TLS, `hactl_net::tls::witness_server_config`).
//! * [`client`]: what a daemon uses to ask.
//! * [`cli`]: the commands (`hactl witness ...`, and the `hactl-witness` binary).
//!
//! This crate does not know the daemon: the daemon links it, not the other way round.

pub mod cli;
pub mod client;
pub mod grants;
pub mod server;

pub use client::{WitnessClient, WitnessError};
pub use grants::{Ask, Grants, Reply};
pub use hactl_proto::witness::WitnessOp;

/// The witness protocol version carried in every request.
pub const PROTOCOL_VERSION: u32 = 1;

/// The port a witness listens on unless told otherwise.
pub use hactl_settings::witness::DEFAULT_PORT;

/// Largest request or reply accepted (they are a few dozen bytes).
pub(crate) const MAX_MESSAGE: usize = 4096;
