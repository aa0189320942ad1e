//! Two-node mode: how one of two voters continues alone (docs/architecture.md,
//! "Two-node mode").
//!
//! Raft commits with both votes of a two-voter cluster, so when the two nodes lose each
//! other neither can commit. The survivor continues through a membership change to
//! itself that is not replicated (like etcd's `--force-new-cluster`), and that this
//! crate refuses unless:
//!
//! 1. the node was *sealed* against its peer ([`crate::Handle::seal`]) before it asked:
//!    from the seal on it drops the peer's Raft messages and sends it none, so it
//!    acknowledges nothing and grants no vote; the peer can no longer commit (it needs
//!    this node's acknowledgement), and every entry the peer ever committed is already
//!    in this node's log;
//! 2. it holds an [`AloneProof`] that the peer is out: a confirmed fence, or the grant
//!    of the cluster's witness (`hactl-witness`), which grants at most one of the two;
//! 3. the configuration is exactly `{me, peer}` as voters, nothing pending, and this
//!    node is not rejoining (a node catching up does not hold everything committed).
//!
//! The log is kept: whatever it holds past the commit index becomes committed under
//! the new configuration, which loses nothing the peer committed (1). The peer is then
//! added back as a learner by a replicated membership change, so when it returns its
//! own log (whose tail may hold entries never committed) is overwritten by ours, and
//! the leader promotes it once it holds everything committed (the rejoin path of
//! [`crate::rejoin`]). Until that learner entry is applied the peer's id is kept in a
//! small fsynced file next to the store, so a crash in between does not forget it.

use std::path::{Path, PathBuf};

use crate::{Error, NodeId, RejoinPhase};

/// Why this node may continue as the only voter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AloneProof {
    /// The peer was fenced: `device` reported the `off` (or `reboot`) of it done at
    /// `at_unix` (seconds).
    Fenced {
        peer: NodeId,
        device: String,
        at_unix: i64,
    },
    /// The cluster's witness at `witness` granted this node, not the peer, the right to
    /// continue alone (grant `generation`). It proves the peer will not continue
    /// alone, not that its resources stopped: the DC fences it or holds its resources
    /// for the split-brain hold, as for any lost node.
    Witness {
        peer: NodeId,
        witness: String,
        generation: u64,
    },
}

impl AloneProof {
    /// The node the proof says is out.
    pub fn peer(&self) -> NodeId {
        match self {
            AloneProof::Fenced { peer, .. } | AloneProof::Witness { peer, .. } => *peer,
        }
    }
}

/// Why a node may not continue alone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AloneError {
    #[error("not a two-node cluster of this node and node {peer}: voters are {voters:?}")]
    NotTwoNode { peer: NodeId, voters: Vec<NodeId> },
    #[error(
        "not sealed against node {peer}: it might still commit with this node's \
         acknowledgement (seal first, then fence)"
    )]
    NotSealed { peer: NodeId },
    #[error("a membership change is pending (committed index {committed}, applied {applied})")]
    Pending { committed: u64, applied: u64 },
    #[error("this node is rejoining ({0:?}): it may lack committed entries")]
    Rejoining(RejoinPhase),
    #[error("this node stopped applying the log: {0}")]
    Stalled(String),
    #[error("storage: {0}")]
    Storage(String),
    #[error("consensus node stopped")]
    Stopped,
}

/// What the guard looks at.
pub(crate) struct Facts<'a> {
    pub me: NodeId,
    pub voters: &'a [NodeId],
    pub learners: &'a [NodeId],
    pub sealed: Option<NodeId>,
    pub pending_conf: bool,
    pub committed: u64,
    pub applied: u64,
    pub rejoin: Option<RejoinPhase>,
    pub stalled: Option<&'a str>,
}

/// The guard: whether `proof` lets this node become the only voter.
pub(crate) fn check(f: &Facts<'_>, proof: &AloneProof) -> Result<(), AloneError> {
    let peer = proof.peer();
    let mut voters = f.voters.to_vec();
    voters.sort_unstable();
    let mut two = vec![f.me, peer];
    two.sort_unstable();
    if peer == f.me || voters != two || !f.learners.is_empty() {
        return Err(AloneError::NotTwoNode { peer, voters });
    }
    if f.sealed != Some(peer) {
        return Err(AloneError::NotSealed { peer });
    }
    if let Some(p) = f.rejoin {
        return Err(AloneError::Rejoining(p));
    }
    if let Some(s) = f.stalled {
        return Err(AloneError::Stalled(s.to_string()));
    }
    if f.pending_conf {
        return Err(AloneError::Pending {
            committed: f.committed,
            applied: f.applied,
        });
    }
    Ok(())
}

/// The file naming the peer still to be added back as a learner.
fn path(data_dir: &Path) -> PathBuf {
    let mut name = data_dir.file_name().unwrap_or_default().to_os_string();
    name.push(".alone");
    data_dir.with_file_name(name)
}

pub(crate) fn load(data_dir: &Path) -> Result<Option<NodeId>, Error> {
    let p = path(data_dir);
    match std::fs::read_to_string(&p) {
        Ok(s) => s
            .trim()
            .parse::<NodeId>()
            .map(Some)
            .map_err(|e| Error::Storage(format!("{}: {e}", p.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Storage(format!("{}: {e}", p.display()))),
    }
}

pub(crate) fn store(data_dir: &Path, peer: Option<NodeId>) -> Result<(), Error> {
    let text = peer.map(|p| format!("{p}\n"));
    crate::rejoin::write_durably(&path(data_dir), text.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(voters: &'a [NodeId], sealed: Option<NodeId>) -> Facts<'a> {
        Facts {
            me: 1,
            voters,
            learners: &[],
            sealed,
            pending_conf: false,
            committed: 5,
            applied: 5,
            rejoin: None,
            stalled: None,
        }
    }

    fn fenced(peer: NodeId) -> AloneProof {
        AloneProof::Fenced {
            peer,
            device: "xvm".into(),
            at_unix: 0,
        }
    }

    #[test]
    fn a_witness_grant_is_a_proof_under_the_same_guard() {
        let grant = |peer| AloneProof::Witness {
            peer,
            witness: "10.0.0.9:7421".into(),
            generation: 1,
        };
        assert_eq!(check(&facts(&[1, 2], Some(2)), &grant(2)), Ok(()));
        assert!(matches!(
            check(&facts(&[1, 2], None), &grant(2)),
            Err(AloneError::NotSealed { .. })
        ));
        assert!(matches!(
            check(&facts(&[1, 2], Some(2)), &grant(3)),
            Err(AloneError::NotTwoNode { .. })
        ));
    }

    #[test]
    fn refuses_without_the_seal_a_two_node_config_or_the_right_peer() {
        assert_eq!(check(&facts(&[1, 2], Some(2)), &fenced(2)), Ok(()));
        assert!(matches!(
            check(&facts(&[1, 2], None), &fenced(2)),
            Err(AloneError::NotSealed { .. })
        ));
        assert!(matches!(
            check(&facts(&[1, 2, 3], Some(2)), &fenced(2)),
            Err(AloneError::NotTwoNode { .. })
        ));
        assert!(matches!(
            check(&facts(&[1, 2], Some(2)), &fenced(3)),
            Err(AloneError::NotTwoNode { .. })
        ));
        assert!(matches!(
            check(&facts(&[1, 2], Some(2)), &fenced(1)),
            Err(AloneError::NotTwoNode { .. })
        ));
        let mut f = facts(&[1, 2], Some(2));
        f.rejoin = Some(RejoinPhase::Learner);
        assert!(matches!(
            check(&f, &fenced(2)),
            Err(AloneError::Rejoining(_))
        ));
        let mut f = facts(&[1, 2], Some(2));
        f.pending_conf = true;
        assert!(matches!(
            check(&f, &fenced(2)),
            Err(AloneError::Pending { .. })
        ));
    }

    #[test]
    fn the_peer_file_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let store_dir = dir.path().join("raft");
        assert_eq!(load(&store_dir).unwrap(), None);
        store(&store_dir, Some(2)).unwrap();
        assert_eq!(load(&store_dir).unwrap(), Some(2));
        store(&store_dir, None).unwrap();
        assert_eq!(load(&store_dir).unwrap(), None);
    }
}
