//! `hactl cluster node add/remove`: the CIB's node list and Raft's voters, changed
//! together.

use std::time::Duration;

use hactl_consensus::{Change, NodeId, ProposeError};
use tracing::info;

use crate::{members, stop, Daemon, PROPOSE_TIMEOUT};

/// Why a node was not added or removed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MembershipError {
    #[error("node {0} is already a member")]
    AlreadyMember(String),
    #[error("node {0} is not a member")]
    NotMember(String),
    #[error("{0} is the node answering this request; run it on another node")]
    IsSelf(String),
    #[error("bad address {address:?}: {source}")]
    Address {
        address: String,
        #[source]
        source: hactl_net::config::ConfigError,
    },
    #[error(transparent)]
    Name(#[from] hactl_net::NameError),
    #[error("{source}; {node} not removed (use --force to remove it anyway)")]
    Drain {
        node: String,
        #[source]
        source: stop::StopError,
    },
    #[error("could not record the node in the CIB: {0}")]
    Record(#[source] ProposeError),
    /// The last reason Raft gave, or none if it never answered in time.
    #[error("membership change not applied in time{}", last_reason(.0))]
    Raft(Option<ProposeError>),
    #[error("removed from Raft, but not from the CIB: {}", cib_reason(.0))]
    CibRemove(Option<ProposeError>),
}

fn last_reason(e: &Option<ProposeError>) -> String {
    e.as_ref().map(|e| format!(": {e}")).unwrap_or_default()
}

fn cib_reason(e: &Option<ProposeError>) -> String {
    e.as_ref()
        .map_or_else(|| "not applied within 2 s".to_string(), ToString::to_string)
}

impl Daemon {
    /// Adds a node: records it (id, address) in the CIB, then makes it a Raft voter.
    pub(crate) async fn node_add(&self, name: &str, address: &str) -> Result<u64, MembershipError> {
        let cib = self.consensus.status().cib.clone();
        if cib.config.node(name).is_some() || self.members.id_of(name).is_some() {
            return Err(MembershipError::AlreadyMember(name.to_string()));
        }
        let addrs = hactl_net::config::parse_peer_addresses(address).map_err(|source| {
            MembershipError::Address {
                address: address.to_string(),
                source,
            }
        })?;
        hactl_net::NodeName::new(name)?;
        let id = self.members.next_id(&cib);
        let node = hactl_model::Node {
            id: id.to_string(),
            name: name.to_string(),
            address: Some(members::cib_addresses(&addrs)),
            ..Default::default()
        };
        self.propose(Change::AddNode { node })
            .await
            .map_err(MembershipError::Record)?;
        let index = self.change_membership(true, id).await?;
        info!(node = name, id, index, "node added");
        Ok(index)
    }

    /// Adds (as a learner the leader promotes once caught up) or removes Raft member
    /// `id`. The leader drops a membership change forwarded while another is pending
    /// (it promotes and demotes rejoining members on its own), and the proposer never
    /// hears back: try again until the change shows in the configuration, within
    /// `PROPOSE_TIMEOUT`.
    async fn change_membership(&self, add: bool, id: NodeId) -> Result<u64, MembershipError> {
        let deadline = tokio::time::Instant::now() + PROPOSE_TIMEOUT;
        let landed = |s: &hactl_consensus::Status| {
            let member = s.voters.contains(&id) || s.learners.contains(&id);
            (member == add).then_some(s.applied_index)
        };
        let mut last = None;
        while tokio::time::Instant::now() < deadline {
            let attempt = async {
                if add {
                    self.consensus.add_voter(id).await
                } else {
                    self.consensus.remove_voter(id).await
                }
            };
            match tokio::time::timeout(Duration::from_secs(1), attempt).await {
                Ok(Ok(index)) => return Ok(index),
                Ok(Err(e)) => last = Some(e),
                Err(_) => {}
            }
            if let Some(index) = landed(&self.consensus.status()) {
                return Ok(index);
            }
            tokio::time::sleep(self.profile.interval).await;
        }
        Err(MembershipError::Raft(last))
    }

    /// Removes a node from the Raft voters, then from the CIB.
    pub(crate) async fn node_remove(
        &self,
        name: &str,
        opts: stop::StopOpts,
    ) -> Result<u64, MembershipError> {
        let id = self
            .members
            .id_of(name)
            .ok_or_else(|| MembershipError::NotMember(name.to_string()))?;
        if id == self.me {
            return Err(MembershipError::IsSelf(name.to_string()));
        }
        // Its resources stop (or move) first; its daemon then leaves by itself.
        self.drain_other(name, opts)
            .await
            .map_err(|source| MembershipError::Drain {
                node: name.to_string(),
                source,
            })?;
        self.change_membership(false, id).await?;
        self.forget_node(name, id).await
    }

    /// Removes a node Raft no longer counts from the CIB. The removed node may have
    /// been the leader: a proposal forwarded to it just before it stepped aside is
    /// lost, so try again (removal is idempotent: "not found" means an earlier
    /// attempt landed).
    async fn forget_node(&self, name: &str, id: NodeId) -> Result<u64, MembershipError> {
        let mut last = None;
        for _ in 0..3 {
            let change = Change::RemoveNode {
                name: name.to_string(),
            };
            let r = tokio::time::timeout(Duration::from_secs(2), self.consensus.propose(change));
            match r.await {
                Ok(Ok(index)) => {
                    info!(node = name, id, index, "node removed");
                    return Ok(index);
                }
                Ok(Err(ProposeError::Rejected(_)))
                    if self.consensus.status().cib.config.node(name).is_none() =>
                {
                    return Ok(self.consensus.status().applied_index);
                }
                Ok(Err(e)) => last = Some(e),
                Err(_) => last = None,
            }
            tokio::time::sleep(self.profile.lost_after).await;
        }
        Err(MembershipError::CibRemove(last))
    }
}
