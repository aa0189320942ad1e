//! Bundles (Pacemaker's `<bundle>`): a container image run as `replicas` copies,
//! each optionally with its own IP address and, when a primitive is configured
//! inside, a Pacemaker Remote connection into the container (a guest node) on
//! which one instance of that primitive runs. The configuration keeps the bundle
//! as written; the scheduler expands it into the primitives and the clone it
//! stands for (`hactl-policy`'s `bundle.rs`). Only `hactl simulate` schedules
//! bundles: a running cluster refuses them ([`crate::remote::refusal_in_cluster`]).

use serde::{Deserialize, Serialize};

use crate::{Attrs, Primitive};

/// The container technology, which names the container resources
/// (`<bundle>-docker-<i>`) and their agent (`ocf:heartbeat:docker`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerKind {
    #[default]
    Docker,
    Podman,
}

impl ContainerKind {
    /// The element name, the agent type and the middle of the container ids.
    pub fn name(self) -> &'static str {
        match self {
            ContainerKind::Docker => "docker",
            ContainerKind::Podman => "podman",
        }
    }
}

/// A `<port-mapping>`: `port` (or a `range`) on the replica's address forwarded
/// to `internal-port` inside the container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortMapping {
    pub id: String,
    /// `port` or `range` as written.
    pub source: String,
    /// `internal-port`; the same as `source` when not set.
    pub target: Option<String>,
}

/// A `<storage-mapping>`: a host directory mounted into every container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageMapping {
    pub id: String,
    /// `source-dir`, the same directory for every replica.
    pub source_dir: Option<String>,
    /// `source-dir-root`: each replica mounts its own `<root>/<bundle>-<i>`.
    pub source_dir_root: Option<String>,
    pub target_dir: String,
    pub options: Option<String>,
}

/// A `<bundle>` as configured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Bundle {
    pub id: String,
    /// Meta attributes every resource of the bundle inherits.
    pub meta: Attrs,
    pub kind: ContainerKind,
    pub image: String,
    /// `replicas`; Pacemaker's default is `promoted-max` when that is set, else 1.
    pub replicas: Option<u32>,
    /// `replicas-per-host` (default 1).
    pub replicas_per_host: Option<u32>,
    /// `promoted-max` (or the older `masters`): the bundled primitive is promotable.
    pub promoted_max: Option<u32>,
    /// `network` of the container element (`host`, a bridge …).
    pub network: Option<String>,
    pub run_command: Option<String>,
    pub options: Option<String>,
    /// `<network ip-range-start>`: replica i gets the i-th address from here.
    pub ip_range_start: Option<String>,
    pub host_interface: Option<String>,
    pub host_netmask: Option<String>,
    pub control_port: Option<String>,
    /// `add-host` (default true).
    pub add_host: Option<bool>,
    pub ports: Vec<PortMapping>,
    pub storage: Vec<StorageMapping>,
    /// The primitive run inside each replica (as instance `<id>:<i>`), if any.
    pub primitive: Option<Primitive>,
    /// How many of `Configuration::resources` came before the bundle in the CIB:
    /// Pacemaker breaks ties between equal resources by that order.
    pub position: usize,
}

impl Bundle {
    /// The number of replicas (Pacemaker: `replicas`, else `promoted-max` when set,
    /// else 1).
    pub fn replica_count(&self) -> u32 {
        match (self.replicas, self.promoted_max) {
            (Some(r), _) => r.max(1),
            (None, Some(m)) if m > 0 => m,
            _ => 1,
        }
    }

    pub fn per_host(&self) -> u32 {
        self.replicas_per_host.unwrap_or(1).max(1)
    }

    /// The container resource of replica `i`: `<bundle>-<docker|podman>-<i>`.
    pub fn container_id(&self, i: u32) -> String {
        format!("{}-{}-{i}", self.id, self.kind.name())
    }

    /// The IP address resource of a replica with address `addr`: `<bundle>-ip-<addr>`.
    pub fn address_id(&self, addr: &str) -> String {
        format!("{}-ip-{addr}", self.id)
    }

    /// The bundled primitive's instance in replica `i`: `<primitive>:<i>`.
    pub fn instance_id(&self, i: u32) -> Option<String> {
        self.primitive.as_ref().map(|p| format!("{}:{i}", p.id))
    }

    /// The guest node (and its connection resource) of replica `i`.
    pub fn replica_node(&self, i: u32) -> String {
        format!("{}-{i}", self.id)
    }

    /// The implicit clone of the bundled primitive: `<bundle>-clone`, or
    /// `<bundle>-master` when `promoted-max` is set (Pacemaker keeps the old name
    /// so that existing histories still match).
    pub fn clone_id(&self) -> String {
        let suffix = if self.promoted_max.unwrap_or(0) > 0 {
            "master"
        } else {
            "clone"
        };
        format!("{}-{suffix}", self.id)
    }

    /// The addresses of the replicas, in replica order, when `ip-range-start` is
    /// set: consecutive IPv4 addresses, skipping .0, .254 and .255 as Pacemaker
    /// does. `None` where the range runs out or does not read as IPv4.
    pub fn replica_addresses(&self) -> Vec<Option<String>> {
        let Some(start) = &self.ip_range_start else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut last: Option<String> = None;
        for _ in 0..self.replica_count() {
            let next = match &last {
                None => Some(start.trim().to_string()),
                Some(prev) => next_ip(prev),
            };
            out.push(next.clone());
            match next {
                Some(n) => last = Some(n),
                None => break,
            }
        }
        out.resize(self.replica_count() as usize, None);
        out
    }

    /// Whether the bundled primitive can be managed: Pacemaker needs an IP range
    /// or a control port to reach the replica's Pacemaker Remote.
    pub fn valid_network(&self) -> bool {
        self.ip_range_start.is_some() || self.control_port.is_some()
    }
}

/// The address after `ip` (Pacemaker's `next_ip`): the last octet counts up to
/// 254, then the third one goes up and the last restarts at 1.
fn next_ip(ip: &str) -> Option<String> {
    let o: Vec<u32> = ip
        .split('.')
        .map(|p| p.parse::<u32>().ok())
        .collect::<Option<Vec<_>>>()?;
    let [a, b, mut c, mut d] = <[u32; 4]>::try_from(o).ok()?;
    if c > 253 {
        return None;
    }
    if d > 253 {
        c += 1;
        d = 1;
    } else {
        d += 1;
    }
    Some(format!("{a}.{b}.{c}.{d}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replica addresses count up from ip-range-start and wrap past .254 into
    /// the next /24 at .1; replicas default to promoted-max, else 1.
    #[test]
    fn replica_addresses_and_counts_follow_pacemaker() {
        let mut b = Bundle {
            id: "web".into(),
            ip_range_start: Some("10.0.1.253".into()),
            replicas: Some(3),
            ..Default::default()
        };
        let want: Vec<Option<String>> = ["10.0.1.253", "10.0.1.254", "10.0.2.1"]
            .iter()
            .map(|s| Some(s.to_string()))
            .collect();
        assert_eq!(b.replica_addresses(), want);
        assert_eq!(b.container_id(2), "web-docker-2");
        assert_eq!(b.clone_id(), "web-clone");
        b.replicas = None;
        assert_eq!(b.replica_count(), 1);
        b.promoted_max = Some(2);
        assert_eq!(b.replica_count(), 2);
        assert_eq!(b.clone_id(), "web-master");
        b.ip_range_start = Some("fe80::1".into());
        assert_eq!(
            b.replica_addresses(),
            vec![Some("fe80::1".to_string()), None]
        );
    }
}
