//! The leader's side of rejoining ([`crate::rejoin`]): demote a voter that reports it
//! lost its state, promote a learner that has caught up. One membership change at a
//! time (raft-rs refuses a second while one is pending).

use crate::rejoin::{RejoinPhase, Reports};
use crate::{Cib, NodeId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Make a voter that lost its state a learner: it must not count as a voter.
    Demote(NodeId),
    /// Make a learner that holds everything committed a voter again.
    Promote(NodeId),
}

/// Whether the CIB says member `id` is away: its last record is a clean leave or a
/// fencing (`expected=down`) and its daemon has not recorded its return yet. A
/// learner that is away stays one: a two-node member that left cleanly demoted
/// itself so that its peer carries on as the only voter without fencing it
/// (docs/architecture.md, "Two-node mode"), and promoting it back at once (its log
/// matches the leader's until the next write) would make the peer need it again.
pub(crate) fn away(cib: &Cib, id: NodeId) -> bool {
    let id = id.to_string();
    cib.config
        .nodes
        .iter()
        .find(|n| n.id == id)
        .and_then(|n| cib.status.nodes.get(&n.name))
        .is_some_and(|st| st.expected.as_deref() == Some("down"))
}

/// The next membership change the leader `me` should propose. `matched(id)` is how
/// far `id`'s log is known to match ours; `away(id)` whether the CIB says `id` left
/// and has not come back ([`away`]); `committed` our commit index.
pub(crate) fn next_action(
    me: NodeId,
    voters: &[NodeId],
    learners: &[NodeId],
    reports: &Reports,
    matched: impl Fn(NodeId) -> u64,
    away: impl Fn(NodeId) -> bool,
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
                && !away(l)
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
            next_action(1, &[1, 2, 3], &[], &r, |_| 0, |_| false, 10),
            Some(Action::Demote(3))
        );
        assert_eq!(
            next_action(1, &[1, 2], &[3], &r, |_| 10, |_| false, 10),
            None,
            "not promoted before it knows it is a learner"
        );
        r.insert(3, report(Some(RejoinPhase::Learner)), now);
        assert_eq!(
            next_action(1, &[1, 2], &[3], &r, |_| 9, |_| false, 10),
            None
        );
        assert_eq!(
            next_action(1, &[1, 2], &[3], &r, |_| 10, |_| false, 10),
            Some(Action::Promote(3))
        );
        // A stale "no state" report after the promotion must not demote it again
        // before it says it has been a learner: it says Learner, so nothing happens.
        assert_eq!(
            next_action(1, &[1, 2, 3], &[], &r, |_| 10, |_| false, 10),
            None
        );
        // Caught up but away (it left cleanly and has not recorded its return).
        assert_eq!(
            next_action(1, &[1, 2], &[3], &r, |_| 10, |_| true, 10),
            None
        );
    }

    #[test]
    fn a_member_is_away_from_its_clean_leave_until_it_records_its_return() {
        let mut cib = Cib::default();
        let node = |id: &str, name: &str| hactl_model::Node {
            id: id.into(),
            name: name.into(),
            ..Default::default()
        };
        cib.config.nodes = vec![node("1", "a"), node("2", "b")];
        assert!(!away(&cib, 2), "no record yet: a new member");
        let st = cib.status.nodes.entry("b".into()).or_default();
        st.expected = Some("down".into());
        assert!(away(&cib, 2));
        assert!(!away(&cib, 1));
        assert!(!away(&cib, 3), "not in the CIB");
        cib.status.nodes.entry("b".into()).or_default().expected = Some("member".into());
        assert!(!away(&cib, 2));
    }
}
