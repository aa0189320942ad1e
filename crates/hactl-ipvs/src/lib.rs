//! `hactl-ipvs`: the kernel's IPVS (LVS) tables over generic netlink.
//!
//! The IPVS family's attributes are defined as netlink-packet-core NLAs ([`nla`]),
//! carried in netlink-packet-generic messages ([`message`]) over a netlink-sys socket
//! ([`Ipvs`]). No ipvsadm, no hand-built byte buffers. On top: typed services and
//! real servers ([`Service`], [`Dest`]) and an in-place reconciler ([`reconcile`])
//! that the `ocf:hactl:ipvs` agent uses for start, monitor repair and update.
//!
//! Everything acts on the calling thread's network namespace.

pub mod client;
pub mod message;
pub mod nla;
pub mod reconcile;
pub mod types;

pub use client::{Ipvs, IpvsError, ServiceState, SyncDaemon, SyncRole};
pub use reconcile::{plan, reconcile, Step, Table};
pub use types::{
    Dest, Forward, Persistence, Protocol, Service, ServiceKey, ServiceStats, SockAddr,
};
