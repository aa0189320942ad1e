//! The live state of an `ocf:hactl:ipvs` virtual service, as the node holding it
//! publishes it for `hactl status`, `--output json` and `hactl mon`.
//!
//! It travels as a transient node attribute of that node ([`attr_name`]), its value
//! this struct in JSON. Transient attributes are replicated through Raft like every
//! status fact, vanish when the node leaves, and need no new kind of log entry. The
//! publisher bounds the rate (docs/user-guide.md, "IPVS state in status"): an entry
//! on each health transition and, at most every `status_interval`, when the kernel's
//! counters changed; never more than one a second per service.

use serde::{Deserialize, Serialize};

/// Transient attributes whose name starts with this carry a service's state; views
/// show them as the service, not as attributes.
pub const ATTR_PREFIX: &str = "hactl-ipvs-status-";

/// The attribute that carries resource `rsc`'s state.
pub fn attr_name(rsc: &str) -> String {
    format!("{ATTR_PREFIX}{rsc}")
}

/// The resource whose state attribute `name` is, if it is one.
pub fn resource_of(name: &str) -> Option<&str> {
    name.strip_prefix(ATTR_PREFIX)
}

/// One virtual service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IpvsServiceState {
    /// `vip:port/proto` (`[v6]:port/proto`) or `fwmark N`.
    pub service: String,
    pub scheduler: String,
    /// The service's default forwarding method: `dr`, `nat` or `tun`.
    pub forward: String,
    /// Whether the kernel has the service at all (false: its table is missing).
    pub in_kernel: bool,
    /// The health check kind (`tcp`, `http`, `https`, `misc`, `none`).
    pub check: String,
    /// Seconds since the epoch when the kernel's counters were read.
    pub read_at: i64,
    /// The service's own counters (`ipvsadm -Ln --stats`): connections since it was
    /// created, packets and bytes in and out.
    pub conns: u64,
    pub in_pkts: u64,
    pub out_pkts: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub real_servers: Vec<IpvsRealServerState>,
}

/// One real server (or the sorry server) of a service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IpvsRealServerState {
    /// `addr:port` (`[v6]:port`).
    pub address: String,
    /// The sorry server, in the table only while no real server is healthy.
    pub sorry_server: bool,
    /// `up`, `down`, or `unchecked` (check=none, and the sorry server).
    pub health: String,
    /// Seconds since the epoch of the last health transition (or of the check's
    /// start when there was none).
    pub since: Option<i64>,
    /// The configured weight.
    pub configured_weight: u32,
    /// The weight in the kernel's table now; none when the server is not in it.
    pub weight: Option<u32>,
    pub forward: String,
    /// Connections the kernel counts for it now (`ActiveConn`, `InActConn`).
    pub active_conns: u32,
    pub inactive_conns: u32,
    /// Connections since it entered the table (`ipvsadm -Ln --stats`, `Conns`).
    pub conns: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_names_name_their_resource() {
        assert_eq!(resource_of(&attr_name("web")), Some("web"));
        assert_eq!(resource_of("shutdown"), None);
    }
}
