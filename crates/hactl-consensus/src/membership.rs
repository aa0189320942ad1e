//! The leader's side of rejoining ([`crate::rejoin`]): demote a voter that reports it
//! lost its state, promote a learner that has caught up. One membership change at a
//! time (raft-rs refuses a second while one is pending).

use crate::rejoin::{RejoinPhase, Reports};
use crate::NodeId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Make a voter that lost its state a learner: it must not count as a voter.
    Demote(NodeId),
    /// Make a learner that holds everything committed a voter again.
    Promote(NodeId),
}

/// The next membership change the leader `me` should propose. `matched(id)` is how
/// far `id`'s log is known to match ours; `committed` our commit index.
pub(crate) fn next_action(
    me: NodeId,
    voters: &[NodeId],
    learners: &[NodeId],
    reports: &Reports,
    matched: impl Fn(NodeId) -> u64,
    committed: u64,
) -> Option<Action> {
    let demote = voters.iter().copied().find(|&v| {
        v != me
            && reports
                .last(v)
                .is_some_and(|r| r.rejoin == Some(RejoinPhase::NoState))
    });
    if let Some(v) = demote {
        return Some(Action::Demote(v));
    }
    // A learner that still says "no state" has not applied its demotion yet: promoted
    // now, its next report would look like a voter without state.
    learners
        .iter()
        .copied()
        .find(|&l| {
            matched(l) >= committed
                && !matches!(reports.last(l), Some(r) if r.rejoin == Some(RejoinPhase::NoState))
        })
        .map(Action::Promote)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PeerReport;
    use std::time::Instant;

    #[test]
    fn demotes_a_voter_without_state_and_promotes_a_caught_up_learner() {
        let mut r = Reports::default();
        let now = Instant::now();
        let report = |rejoin| PeerReport {
            max_format: 2,
            rejoin,
            last_term: 0,
            last_index: 0,
        };
        r.insert(3, report(Some(RejoinPhase::NoState)), now);
        assert_eq!(
            next_action(1, &[1, 2, 3], &[], &r, |_| 0, 10),
            Some(Action::Demote(3))
        );
        assert_eq!(
            next_action(1, &[1, 2], &[3], &r, |_| 10, 10),
            None,
            "not promoted before it knows it is a learner"
        );
        r.insert(3, report(Some(RejoinPhase::Learner)), now);
        assert_eq!(next_action(1, &[1, 2], &[3], &r, |_| 9, 10), None);
        assert_eq!(
            next_action(1, &[1, 2], &[3], &r, |_| 10, 10),
            Some(Action::Promote(3))
        );
        // A stale "no state" report after the promotion must not demote it again
        // before it says it has been a learner: it says Learner, so nothing happens.
        assert_eq!(next_action(1, &[1, 2, 3], &[], &r, |_| 10, 10), None);
    }
}
