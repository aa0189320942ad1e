//! Two-node mode and the witness: how one half of the voters continues without the
//! other (docs/architecture.md, "Two-node mode" and "Witness").
//!
//! Raft commits with both votes of a two-voter cluster (three of four), so when the
//! cluster splits into halves neither can commit. One half continues through a
//! membership change that removes the other half and is not replicated (like etcd's
//! `--force-new-cluster`), and that this crate refuses unless:
//!
//! 1. the node was *sealed* against the other half ([`crate::Handle::seal`]) before it
//!    asked: from the seal on it drops their Raft messages and sends them none, so it
//!    acknowledges nothing of theirs and grants them no vote;
//! 2. it holds an [`AloneProof`] that the other half is out: a confirmed fence of the
//!    peer (two voters), or the grant of the cluster's witness (`hactl-witness`), which
//!    grants at most one half;
//! 3. the configuration is exactly this half and the other as voters, nothing pending,
//!    and this node is not rejoining (a node catching up does not hold everything
//!    committed).
//!
//! Why nothing committed is lost and no two halves commit, for `2k` voters split into
//! halves of `k` (two voters: `k = 1`). What the daemon and the witness add to this
//! guard (docs/architecture.md, "Witness"): the witness grants a half only once
//! *every* node of it asked, each sealed against the other half and reporting its log
//! end as the seal took effect ([`crate::Handle::seal_and_report`]); and only the node
//! with the greatest log end forces, the others vote for it and follow.
//!
//! * Once the whole half is sealed the old configuration commits nothing more: a
//!   quorum of it (`k + 1`) needs a node of each half.
//! * Every entry it committed is in the log end some node of the half reported: a
//!   quorum of `k + 1` includes a node of the half, which acknowledged the entry
//!   before its seal (after it, it hears the other half no more, and a leader of its
//!   own half needed the other half's acknowledgements before that leader sealed).
//! * The node that forces has the greatest reported log end, so by Raft's vote rule
//!   (a log at least as up to date as one holding a committed entry holds it) it holds
//!   every committed entry; its partners vote for it, and no other node of the half
//!   forces, so no leader lacking an entry can be elected in the new configuration.
//!   (With `k <= 2` the first leader needs every vote of the half anyway.)
//! * Before the whole half sealed, a node that forced early, a partner still in the
//!   old configuration and the other half are three views whose quorums all meet: the
//!   half's nodes are sealed against the other half, and the old configuration cannot
//!   elect a leader without one of them.
//!
//! Halves of three or more are refused ([`AloneError::NotHalf`]): the argument needs
//! every node of the half to stay sealed from its report until the new configuration
//! reaches it, and today a node that gives up waiting for the witness, or hears the
//! grant released, lifts its seal; it could then acknowledge the old configuration's
//! commits with the other half, which the holder and one more node of the half, a
//! majority of three, would not hold. With halves of one or two the new
//! configuration's first leader needs every vote of the half, so such an entry is
//! never lost (the node holding it refuses its vote).
//!
//! The log is kept: whatever it holds past the commit index becomes committed under
//! the new configuration. The other half is then added back as learners by replicated
//! membership changes, so when they return their own logs (whose tails may hold
//! entries never committed) are overwritten by ours, and the leader promotes each once
//! it holds everything committed (the rejoin path of [`crate::rejoin`]). A node of this
//! half that never forced applies those same changes to the old configuration and ends
//! in the same one. Until the learner entries are applied the ids are kept in a small
//! fsynced file next to the store, so a crash in between does not forget them.

use std::path::{Path, PathBuf};

use crate::{Error, NodeId, RejoinPhase};

/// Where a node's log ends: what [`crate::Handle::seal_and_report`] answers and the
/// witness compares (Raft's "at least as up to date": term first, then index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct LogEnd {
    pub term: u64,
    pub index: u64,
}

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
    /// The cluster's witness at `witness` granted this node's half, not the other
    /// (`out`: the peer of a two-voter cluster, two of four), the right to continue
    /// (grant `generation`). It proves the other half will not continue, not that
    /// their resources stopped: the DC fences them or holds their resources for the
    /// split-brain hold, as for any lost node.
    Witness {
        out: Vec<NodeId>,
        witness: String,
        generation: u64,
    },
}

impl AloneProof {
    /// The nodes the proof says are out, sorted.
    pub fn out(&self) -> Vec<NodeId> {
        let mut out = match self {
            AloneProof::Fenced { peer, .. } => vec![*peer],
            AloneProof::Witness { out, .. } => out.clone(),
        };
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Why a node may not continue alone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AloneError {
    #[error("not a two-node cluster of this node and node {peer}: voters are {voters:?}")]
    NotTwoNode { peer: NodeId, voters: Vec<NodeId> },
    #[error(
        "nodes {out:?} are not the other half of voters {voters:?} (a witness settles a \
         split of two or four voters into halves; halves of three or more are not \
         supported)"
    )]
    NotHalf {
        out: Vec<NodeId>,
        voters: Vec<NodeId>,
    },
    #[error(
        "not sealed against nodes {out:?}: they might still commit with this node's \
         acknowledgement (seal first, then fence or ask the witness)"
    )]
    NotSealed { out: Vec<NodeId> },
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
    pub sealed: &'a [NodeId],
    pub pending_conf: bool,
    pub committed: u64,
    pub applied: u64,
    pub rejoin: Option<RejoinPhase>,
    pub stalled: Option<&'a str>,
}

/// The guard: whether `proof` lets this node become the only voter.
pub(crate) fn check(f: &Facts<'_>, proof: &AloneProof) -> Result<(), AloneError> {
    let out = proof.out();
    let mut voters = f.voters.to_vec();
    voters.sort_unstable();
    match proof {
        AloneProof::Fenced { peer, .. } => {
            let mut two = vec![f.me, *peer];
            two.sort_unstable();
            if *peer == f.me || voters != two || !f.learners.is_empty() {
                return Err(AloneError::NotTwoNode {
                    peer: *peer,
                    voters,
                });
            }
        }
        AloneProof::Witness { .. } => {
            let half = (voters.len() == 2 || voters.len() == 4)
                && out.len() * 2 == voters.len()
                && out.iter().all(|o| voters.contains(o))
                && voters.contains(&f.me)
                && !out.contains(&f.me)
                && f.learners.is_empty();
            if !half {
                return Err(AloneError::NotHalf { out, voters });
            }
        }
    }
    if !out.iter().all(|o| f.sealed.contains(o)) {
        return Err(AloneError::NotSealed { out });
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

/// The file naming the nodes still to be added back as learners.
fn path(data_dir: &Path) -> PathBuf {
    let mut name = data_dir.file_name().unwrap_or_default().to_os_string();
    name.push(".alone");
    data_dir.with_file_name(name)
}

/// The ids, one per line (a file of one id, as two-node mode wrote it, reads the same).
pub(crate) fn load(data_dir: &Path) -> Result<Vec<NodeId>, Error> {
    let p = path(data_dir);
    match std::fs::read_to_string(&p) {
        Ok(s) => s
            .split_whitespace()
            .map(|w| w.parse::<NodeId>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Storage(format!("{}: {e}", p.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::Storage(format!("{}: {e}", p.display()))),
    }
}

/// Writes `ids` (none: removes the file).
pub(crate) fn store(data_dir: &Path, ids: &[NodeId]) -> Result<(), Error> {
    let text: String = ids.iter().map(|i| format!("{i}\n")).collect();
    crate::rejoin::write_durably(&path(data_dir), (!ids.is_empty()).then_some(text.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(voters: &'a [NodeId], sealed: &'a [NodeId]) -> Facts<'a> {
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
        assert_eq!(check(&facts(&[1, 2], &[2]), &grant(&[2])), Ok(()));
        assert!(matches!(
            check(&facts(&[1, 2], &[]), &grant(&[2])),
            Err(AloneError::NotSealed { .. })
        ));
        assert!(matches!(
            check(&facts(&[1, 2], &[2]), &grant(&[3])),
            Err(AloneError::NotHalf { .. })
        ));
    }

    fn grant(out: &[NodeId]) -> AloneProof {
        AloneProof::Witness {
            out: out.to_vec(),
            witness: "10.0.0.9:7421".into(),
            generation: 1,
        }
    }

    #[test]
    fn a_witness_grant_lets_a_half_continue_and_nothing_else() {
        let four = [1, 2, 3, 4];
        // Node 1 with node 2, the other half 3 and 4 sealed out.
        assert_eq!(check(&facts(&four, &[3, 4]), &grant(&[4, 3])), Ok(()));
        // Sealed against only one of them: the other might still commit with us.
        assert!(matches!(
            check(&facts(&four, &[3]), &grant(&[3, 4])),
            Err(AloneError::NotSealed { .. })
        ));
        // Not a half: one node out (that side has a majority and needs no witness),
        // three out, this node among the out, a node that is no voter.
        for out in [&[3][..], &[2, 3, 4], &[1, 3], &[3, 5]] {
            assert!(
                matches!(
                    check(&facts(&four, &[2, 3, 4, 5]), &grant(out)),
                    Err(AloneError::NotHalf { .. })
                ),
                "{out:?}"
            );
        }
        // Halves of three are refused (the module's comment says why).
        let six = [1, 2, 3, 4, 5, 6];
        for out in [&[4, 5, 6][..], &[5, 6]] {
            assert!(matches!(
                check(&facts(&six, &[4, 5, 6]), &grant(out)),
                Err(AloneError::NotHalf { .. })
            ));
        }
        // A fence proves one peer out: only in a two-voter configuration.
        assert!(matches!(
            check(&facts(&four, &[3, 4]), &fenced(3)),
            Err(AloneError::NotTwoNode { .. })
        ));
    }

    #[test]
    fn refuses_without_the_seal_a_two_node_config_or_the_right_peer() {
        assert_eq!(check(&facts(&[1, 2], &[2]), &fenced(2)), Ok(()));
        assert!(matches!(
            check(&facts(&[1, 2], &[]), &fenced(2)),
            Err(AloneError::NotSealed { .. })
        ));
        assert!(matches!(
            check(&facts(&[1, 2, 3], &[2]), &fenced(2)),
            Err(AloneError::NotTwoNode { .. })
        ));
        assert!(matches!(
            check(&facts(&[1, 2], &[2]), &fenced(3)),
            Err(AloneError::NotTwoNode { .. })
        ));
        assert!(matches!(
            check(&facts(&[1, 2], &[2]), &fenced(1)),
            Err(AloneError::NotTwoNode { .. })
        ));
        let mut f = facts(&[1, 2], &[2]);
        f.rejoin = Some(RejoinPhase::Learner);
        assert!(matches!(
            check(&f, &fenced(2)),
            Err(AloneError::Rejoining(_))
        ));
        let mut f = facts(&[1, 2], &[2]);
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
        assert_eq!(load(&store_dir).unwrap(), Vec::<NodeId>::new());
        store(&store_dir, &[2]).unwrap();
        assert_eq!(load(&store_dir).unwrap(), vec![2]);
        store(&store_dir, &[3, 4]).unwrap();
        assert_eq!(load(&store_dir).unwrap(), vec![3, 4]);
        store(&store_dir, &[]).unwrap();
        assert_eq!(load(&store_dir).unwrap(), Vec::<NodeId>::new());
    }
}
