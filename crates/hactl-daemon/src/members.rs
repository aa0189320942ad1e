//! The cluster's nodes: Raft id ↔ node name ↔ peer address, from `cluster.toml`.

use std::net::SocketAddr;

use hactl_consensus::NodeId;
use hactl_net::{ClusterConfig, NodeName};

/// The configured members, in config order.
#[derive(Debug, Clone)]
pub struct Members {
    nodes: Vec<(NodeId, NodeName, SocketAddr)>,
}

impl Members {
    pub fn from_config(c: &ClusterConfig) -> Members {
        Members {
            nodes: c
                .nodes
                .iter()
                .map(|n| (n.id, n.name.clone(), n.address))
                .collect(),
        }
    }

    pub fn get(&self, id: NodeId) -> Option<(NodeName, SocketAddr)> {
        self.nodes
            .iter()
            .find(|(i, _, _)| *i == id)
            .map(|(_, n, a)| (n.clone(), *a))
    }

    pub fn id_of(&self, name: &str) -> Option<NodeId> {
        self.nodes
            .iter()
            .find(|(_, n, _)| n.as_str() == name)
            .map(|(i, _, _)| *i)
    }

    pub fn all(&self) -> Vec<(NodeId, NodeName, SocketAddr)> {
        self.nodes.clone()
    }
}
