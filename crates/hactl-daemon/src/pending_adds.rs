//! The DC records the cluster's members in the CIB (`reconcile` in lib.rs). A
//! proposal that outlives `PROPOSE_TIMEOUT` is not lost: while the DC leads in the
//! same Raft term its entry stays in its log and commits once a majority has it (a
//! slow follower, an emulated guest). Proposing the same nodes again meanwhile commits
//! them twice, and the CIB model rejects the second batch ("duplicate id n1 …").

/// Nodes whose `AddNode` this DC proposed in `term` without seeing the outcome.
#[derive(Debug, Default)]
pub(crate) struct PendingAdds {
    term: u64,
    names: Vec<String>,
}

impl PendingAdds {
    /// Whether every node in `missing` (members the CIB lacks) is on its way: its
    /// `AddNode` was proposed in this term and may still commit.
    pub(crate) fn in_flight(&self, term: u64, missing: &[String]) -> bool {
        self.term == term && !missing.is_empty() && missing.iter().all(|n| self.names.contains(n))
    }

    /// The outcome of proposing `names` in `term`: unknown (timed out) keeps them
    /// pending; applied, rejected or dropped settles them.
    pub(crate) fn settle(&mut self, term: u64, names: Vec<String>, unknown: bool) {
        *self = if unknown {
            PendingAdds { term, names }
        } else {
            PendingAdds::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_timed_out_add_is_not_proposed_again_in_the_same_term() {
        let mut p = PendingAdds::default();
        assert!(
            !p.in_flight(7, &names(&["n1", "n2"])),
            "nothing proposed yet"
        );
        p.settle(7, names(&["n1", "n2"]), true);
        assert!(p.in_flight(7, &names(&["n1", "n2"])));
        assert!(
            p.in_flight(7, &names(&["n2"])),
            "n1 applied, n2 still coming"
        );
        // Another term: the entry may have been lost with the old leader's log.
        assert!(!p.in_flight(8, &names(&["n1", "n2"])));
        // A node never proposed is proposed (with the others again).
        assert!(!p.in_flight(7, &names(&["n1", "n3"])));
        assert!(!p.in_flight(7, &[]), "nothing missing: nothing to wait for");
        // A known outcome (applied, rejected, dropped) settles them.
        p.settle(7, names(&["n1", "n2"]), false);
        assert!(!p.in_flight(7, &names(&["n1", "n2"])));
    }
}
