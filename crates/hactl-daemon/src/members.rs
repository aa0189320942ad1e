//! The cluster's nodes: Raft id ↔ node name ↔ peer addresses (link 0 first).
//!
//! Known nodes come from `cluster.toml` and from the CIB (nodes added later with
//! `hactl cluster node add` are in the CIB with their id and addresses, comma
//! separated); the members are
//! those of them that are Raft voters, plus this node.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::RwLock;

use hactl_consensus::NodeId;
use hactl_model::Cib;
use hactl_net::{ClusterConfig, NodeName};

type Entry = (NodeId, NodeName, Vec<SocketAddr>);

/// A node's addresses as the CIB keeps them: `ADDR[,ADDR...]`, link 0 first.
pub(crate) fn cib_addresses(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_cib_addresses(s: &str) -> Option<Vec<SocketAddr>> {
    let v: Vec<SocketAddr> = s
        .split(',')
        .map(|a| a.trim().parse().ok())
        .collect::<Option<_>>()?;
    (!v.is_empty() && v.len() <= hactl_net::config::MAX_LINKS).then_some(v)
}

#[derive(Debug)]
pub struct Members {
    me: NodeId,
    from_config: Vec<Entry>,
    current: RwLock<Vec<Entry>>,
}

impl Members {
    pub fn from_config(c: &ClusterConfig, me: NodeId) -> Members {
        let from_config: Vec<Entry> = c
            .nodes
            .iter()
            .map(|n| (n.id, n.name.clone(), n.addresses()))
            .collect();
        Members {
            me,
            current: RwLock::new(from_config.clone()),
            from_config,
        }
    }

    /// Recomputes the members from the config, the CIB and the Raft voters.
    pub fn refresh(&self, cib: &Cib, voters: &[NodeId]) {
        let mut known: BTreeMap<NodeId, Entry> =
            self.from_config.iter().map(|e| (e.0, e.clone())).collect();
        for n in &cib.config.nodes {
            let (Ok(id), Some(addr), Ok(name)) = (
                n.id.parse::<NodeId>(),
                n.address.as_deref().and_then(parse_cib_addresses),
                NodeName::new(n.name.clone()),
            ) else {
                continue;
            };
            known.entry(id).or_insert((id, name, addr));
        }
        let next: Vec<Entry> = known
            .into_values()
            .filter(|(id, _, _)| *id == self.me || voters.is_empty() || voters.contains(id))
            .collect();
        if let Ok(mut cur) = self.current.write() {
            if *cur != next {
                tracing::info!(members = ?next.iter().map(|e| e.1.as_str()).collect::<Vec<_>>(), "membership changed");
                *cur = next;
            }
        }
    }

    /// Any known node by id (a node just removed is still reachable by name until the
    /// config forgets it: raft may still need to tell it).
    pub fn get(&self, id: NodeId) -> Option<(NodeName, Vec<SocketAddr>)> {
        self.all()
            .into_iter()
            .chain(self.from_config.iter().cloned())
            .find(|(i, _, _)| *i == id)
            .map(|(_, n, a)| (n, a))
    }

    pub fn id_of(&self, name: &str) -> Option<NodeId> {
        self.all()
            .into_iter()
            .find(|(_, n, _)| n.as_str() == name)
            .map(|(i, _, _)| i)
    }

    pub fn all(&self) -> Vec<Entry> {
        self.current.read().map(|c| c.clone()).unwrap_or_default()
    }

    /// The id for a new node: above every id ever seen here.
    pub fn next_id(&self, cib: &Cib) -> NodeId {
        let cib_max = cib
            .config
            .nodes
            .iter()
            .filter_map(|n| n.id.parse::<NodeId>().ok())
            .max()
            .unwrap_or(0);
        let known_max = self
            .all()
            .iter()
            .chain(self.from_config.iter())
            .map(|e| e.0)
            .max()
            .unwrap_or(0);
        cib_max.max(known_max) + 1
    }
}
