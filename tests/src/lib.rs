//! Shared test harness for multi-node scenarios.
//!
//! * [`netns`]: a [`hactl_lab::Lab`] of network namespaces (a bridge in a switch
//!   namespace, one namespace per node, partitions as nftables drops), torn down on
//!   drop.
//! * [`bench`]: the cluster-core benchmarks behind `scripts/bench-cluster`.
//! * [`cts`]: the Pacemaker regression-case runner's comparisons and known-failures file.
//! * [`cluster`]: real `hactl daemon` processes in that lab, set up with
//!   `hactl cluster setup`, with crash (SIGKILL) and clean stop (SIGTERM), and a
//!   control-socket client for status, CIB reads and changes.
//! * [`ipvs_guest`]: the host half of the cluster tests run in the ipvs-vm guest.
//! * [`alert_receivers`]: snmptrapd and an SMTP server for Pacemaker's sample alert
//!   agents.
//! * [`vip_watch`]: which nodes hold a VIP, read from their namespaces every 10 ms.

pub mod alert_receivers;
pub mod bench;
pub mod cluster;
pub mod controller_lab;
pub mod cts;
pub mod fence_virtd;
pub mod ipvs_guest;
pub mod netns;
pub mod power_gate;
pub mod tmux;
pub mod two_node_lab;
pub mod vip_watch;
pub mod witness_lab;
