//! A member that lost its state rejoins; it never re-founds the cluster.
//!
//! A node whose store is empty and that may not found ([`crate::Config::may_found`])
//! starts without any configuration of its own and in [`RejoinPhase::NoState`]. Raft
//! alone would let such a node vote (an empty log is "up to date" against any
//! candidate, and it forgot whom it voted for), which can elect a leader that lacks
//! entries the node had acknowledged before it lost them. So, while it rejoins:
//!
//! 1. It sends no vote requests and grants no votes, with one exception (below).
//! 2. It tells its peers (a [`crate::PeerReport`] in the daemon's heartbeats); the
//!    leader demotes it to a learner (raft `AddLearnerNode`), so nobody counts it as a
//!    voter.
//! 3. As a learner it receives a snapshot and the log ([`RejoinPhase::Learner`]).
//! 4. Once it has everything the leader has committed, the leader promotes it back to
//!    voter; seeing itself a voter after having been a learner ends the rejoin.
//!
//! The phase is kept in a small fsynced file next to the store, so a crash in the
//! middle resumes the rejoin instead of turning a half-filled store into a voter.
//!
//! The exception: when the members that still have their state are too few to elect a
//! leader without the rejoining nodes (two of three lost their disks), a rejoining
//! node lends its vote, but only to the member whose log is the most complete of all
//! members with state, and only while it hears from every configured member. Until
//! then the cluster waits: the wiped nodes never form a cluster among themselves.

use std::collections::{BTreeSet, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{Error, NodeId, PeerReport};

/// Where a rejoining node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejoinPhase {
    /// Lost its state; waits for the leader to make it a learner (it does not vote).
    NoState,
    /// A learner receiving the cluster's state; becomes a voter again when caught up.
    Learner,
}

impl RejoinPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            RejoinPhase::NoState => "rejoining: lost its state, waiting to be made a learner",
            RejoinPhase::Learner => "rejoining: learner, catching up",
        }
    }
}

/// The phase file of the store in `data_dir` (next to it, not inside: the store's
/// directory belongs to the storage engine).
pub(crate) fn phase_path(data_dir: &Path) -> PathBuf {
    let mut name = data_dir.file_name().unwrap_or_default().to_os_string();
    name.push(".rejoin");
    data_dir.with_file_name(name)
}

pub(crate) fn load_phase(data_dir: &Path) -> Result<Option<RejoinPhase>, Error> {
    let p = phase_path(data_dir);
    match std::fs::read_to_string(&p) {
        Ok(s) => match s.trim() {
            "no_state" => Ok(Some(RejoinPhase::NoState)),
            "learner" => Ok(Some(RejoinPhase::Learner)),
            other => Err(Error::Storage(format!(
                "{}: unknown rejoin phase {other:?}",
                p.display()
            ))),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Storage(format!("{}: {e}", p.display()))),
    }
}

/// Records the phase durably; `None` removes the file.
pub(crate) fn store_phase(data_dir: &Path, phase: Option<RejoinPhase>) -> Result<(), Error> {
    let word = phase.map(|ph| match ph {
        RejoinPhase::NoState => "no_state\n",
        RejoinPhase::Learner => "learner\n",
    });
    write_durably(&phase_path(data_dir), word)
}

/// Writes `text` to `p` durably (write, fsync, rename, fsync the directory); `None`
/// removes the file.
pub(crate) fn write_durably(p: &Path, text: Option<&str>) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::Storage(format!("{}: {e}", p.display()));
    match text {
        None => match std::fs::remove_file(p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        },
        Some(text) => {
            let mut tmp = p.as_os_str().to_os_string();
            tmp.push(".tmp");
            let tmp = PathBuf::from(tmp);
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(text.as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
            std::fs::rename(&tmp, p).map_err(io)?;
        }
    }
    if let Some(dir) = p.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
    }
    Ok(())
}

/// Reports received from peers, with when they arrived.
#[derive(Debug, Default)]
pub(crate) struct Reports {
    by_peer: HashMap<NodeId, (PeerReport, Instant)>,
}

impl Reports {
    pub(crate) fn insert(&mut self, id: NodeId, r: PeerReport, now: Instant) {
        self.by_peer.insert(id, (r, now));
    }

    /// The last report of `id` (however old).
    pub(crate) fn last(&self, id: NodeId) -> Option<&PeerReport> {
        self.by_peer.get(&id).map(|(r, _)| r)
    }

    fn fresh(&self, id: NodeId, now: Instant, ttl: Duration) -> Option<&PeerReport> {
        self.by_peer
            .get(&id)
            .filter(|(_, at)| now.saturating_duration_since(*at) <= ttl)
            .map(|(r, _)| r)
    }

    /// Whether a rejoining node may vote for `candidate`, whose log ends at
    /// `candidate_pos` (term, index): it hears from every other member in `members`,
    /// the candidate has its state, and no member with state has a more complete log.
    /// Then the candidate's log is the best the cluster still has, and electing it is
    /// the only way forward; otherwise the members with state elect without us.
    pub(crate) fn may_vote_for(
        &self,
        me: NodeId,
        members: &BTreeSet<NodeId>,
        candidate: NodeId,
        candidate_pos: (u64, u64),
        now: Instant,
        ttl: Duration,
    ) -> bool {
        let mut candidate_ok = false;
        for &m in members.iter().filter(|&&m| m != me) {
            let Some(r) = self.fresh(m, now, ttl) else {
                return false; // a member we cannot hear may hold a better log
            };
            if r.rejoin.is_some() {
                continue;
            }
            if m == candidate {
                candidate_ok = true;
            } else if (r.last_term, r.last_index) > candidate_pos {
                return false;
            }
        }
        candidate_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(rejoin: Option<RejoinPhase>, term: u64, index: u64) -> PeerReport {
        PeerReport {
            max_format: crate::format::ENTRY_FORMAT,
            rejoin,
            last_term: term,
            last_index: index,
        }
    }

    #[test]
    fn votes_only_for_the_best_log_while_hearing_every_member() {
        let now = Instant::now();
        let ttl = Duration::from_secs(1);
        let members: BTreeSet<NodeId> = [1, 2, 3].into();
        let mut r = Reports::default();
        // Node 3 (us) and node 2 lost their state; node 1 has it.
        r.insert(1, rep(None, 7, 40), now);
        assert!(
            !r.may_vote_for(3, &members, 1, (7, 40), now, ttl),
            "node 2 unheard: it might hold a better log"
        );
        r.insert(2, rep(Some(RejoinPhase::NoState), 0, 0), now);
        assert!(r.may_vote_for(3, &members, 1, (7, 40), now, ttl));
        assert!(
            !r.may_vote_for(3, &members, 2, (0, 0), now, ttl),
            "never for a node without state"
        );
        // Node 2 has its state and a longer log: only node 2 may get our vote.
        r.insert(2, rep(None, 7, 41), now);
        assert!(!r.may_vote_for(3, &members, 1, (7, 40), now, ttl));
        assert!(r.may_vote_for(3, &members, 2, (7, 41), now, ttl));
        // Reports go stale.
        let later = now + Duration::from_secs(2);
        assert!(!r.may_vote_for(3, &members, 2, (7, 41), later, ttl));
    }

    #[test]
    fn phase_file_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("raft");
        assert_eq!(load_phase(&store).unwrap(), None);
        store_phase(&store, Some(RejoinPhase::Learner)).unwrap();
        assert_eq!(load_phase(&store).unwrap(), Some(RejoinPhase::Learner));
        store_phase(&store, None).unwrap();
        assert_eq!(load_phase(&store).unwrap(), None);
    }
}
