//! Clean-up actions, planned as Pacemaker plans them besides starts and stops:
//!
//! - `clear_failcount` of a resource on a node: when all its failures there have
//!   expired (`failure-timeout`), when the definition of an operation changed
//!   where it runs or the parameters of its last failed start or monitor changed,
//!   and for a removed resource (Pacemaker's check_operation_expiry,
//!   process_rsc_history, clear_failcounts_if_removed). A fail count about to be
//!   cleared does not count against `migration-threshold`.
//! - `delete` of a resource's history on a node: of a removed resource, after its
//!   stop, and where the agent (class, provider, type) changed, between stop and
//!   start (Pacemaker's pcmk__schedule_cleanup).
//!
//! Neither runs an agent. The DC applies both to the status itself when it plans
//! the transition (`forget_orphans` in the controller), a history only where the
//! resource no longer runs.

use hactl_model::{OpRecord, ResourceHistory};

use crate::actions::{Act, Graph, Task, ORDERED};
use crate::digest::Verdict;
use crate::sched::{RscRef, Sched};

/// What one primitive's clean-up asks for.
#[derive(Debug, Default, Clone)]
pub(crate) struct Cleanup {
    /// Nodes where its fail count is cleared.
    clear_failcount: Vec<usize>,
}

impl Cleanup {
    pub(crate) fn clear_on(&mut self, n: usize) {
        if !self.clear_failcount.contains(&n) {
            self.clear_failcount.push(n);
        }
    }

    pub(crate) fn clears(&self, n: usize) -> bool {
        self.clear_failcount.contains(&n)
    }
}

impl Sched<'_> {
    /// After `p`'s history on `n` is read: the fail count to clear because its
    /// failures expired, or because its last failed start or monitor ran with
    /// parameters that changed since.
    pub(crate) fn note_failures_to_clear(&mut self, p: usize, n: usize, hist: &ResourceHistory) {
        let (all, _) = self.failcount(p, n, true);
        let (effective, _) = self.failcount(p, n, false);
        // A failure of an operation with on-fail=block turns failure-timeout
        // off for the resource there (Pacemaker's block_failure).
        let blocked = hist
            .last_failures
            .iter()
            .any(|op| self.failure_timeout_ignored(p, Some(&op.operation), Some(op.interval_ms)));
        let expired_here = |s: &Self, op: &OpRecord| {
            let timeout = s.prims[p].failure_timeout_s;
            timeout > 0
                && !blocked
                && op.op_status != 5 // "not installed" never expires
                && op.last_rc_change.is_some_and(|t| s.now >= t + timeout)
        };
        if all > 0 && effective == 0 && hist.ops.iter().any(|op| expired_here(self, op)) {
            self.prims[p].cleanup.clear_on(n);
            return;
        }
        // Only with a fail count, and only failed starts and probes: Pacemaker
        // looks at `_last_failure_0` records (of starts and monitors), which the
        // import does not tell apart from other failed records. Old status
        // sections have failed records without fail counts, and a failed
        // recurring monitor is also recorded under its own key; modern ones
        // record a failure and its fail count together and clear both together.
        let Some(def) = self.prims[p].def.filter(|_| all > 0) else {
            return;
        };
        let changed = hist.last_failures.iter().any(|op| {
            let expired = expired_here(self, op) && !(all > 0 && effective > 0);
            !expired
                && op.interval_ms == 0
                && matches!(op.operation.as_str(), "start" | "monitor")
                && self.compare(def, op, n) != Verdict::Match
        });
        if changed {
            self.prims[p].cleanup.clear_on(n);
        }
    }

    /// Adds `p`'s clean-up actions.
    pub(crate) fn create_cleanups(&self, p: usize, g: &mut Graph) {
        let removed = self.prims[p].def.is_none();
        let mut clears = self.prims[p].cleanup.clear_failcount.clone();
        if removed {
            let failed: Vec<usize> = (0..self.nodes.len())
                .filter(|&n| self.nodes[n].online && self.failcount(p, n, false).0 != 0)
                .filter(|n| !clears.contains(n))
                .collect();
            clears.extend(failed);
        }
        for n in clears {
            let c = g.add(self.cleanup_act(p, n, Task::ClearFailcount));
            // A removed resource's fail count goes before it stops.
            if removed {
                for &s in &g.stops_of[p].clone() {
                    g.order(c, s, ORDERED);
                }
            }
        }
        for n in self.histories_to_delete(p) {
            let d = g.add(self.cleanup_act(p, n, Task::Delete));
            for &s in &g.stops_of[p].clone() {
                g.order(s, d, ORDERED);
            }
            if let Some(st) = g.start_of[p] {
                g.order(d, st, ORDERED);
            }
        }
    }

    fn cleanup_act(&self, p: usize, n: usize, task: Task) -> Act {
        Act {
            rsc: Some(RscRef::P(p)),
            task,
            node: Some(n),
            optional: false,
            runnable: true,
            pseudo: false,
            reason: None,
        }
    }

    /// The nodes where `p`'s history is deleted: every node that can run
    /// resources (or is in maintenance) with a history of a removed resource, or
    /// of one whose agent changed. Not of a failed resource, nor of a removed
    /// clone instance, nor of an unmanaged one (a removed resource left running by
    /// stop-removed-resources=false: Pacemaker's delete is optional there).
    fn histories_to_delete(&self, p: usize) -> Vec<usize> {
        let prim = &self.prims[p];
        if prim.failed || prim.clone.is_some() || !prim.managed {
            return Vec::new();
        }
        let name = prim.history_name.as_ref().unwrap_or(&prim.id);
        (0..self.nodes.len())
            .filter(|&n| {
                let node = &self.nodes[n];
                if !(node.available() || node.online && !node.unclean && node.maintenance) {
                    return false;
                }
                let hist = self
                    .cib
                    .status
                    .nodes
                    .get(node.name)
                    .and_then(|st| st.resources.get(name));
                // An expired shutdown lock is forgotten with its history
                // (Pacemaker's unpack_shutdown_lock).
                hist.is_some_and(|h| {
                    !h.ops.is_empty() && (self.delete_history(p, h) || self.lock_expired(h))
                })
            })
            .collect()
    }

    /// Whether history `h` of `p` is deleted: `p` was removed, or its agent changed.
    fn delete_history(&self, p: usize, h: &ResourceHistory) -> bool {
        let Some(def) = self.prims[p].def else {
            return true;
        };
        let old = &h.agent;
        !old.class.is_empty()
            && (old.class != def.agent.class
                || old.kind != def.agent.kind
                || old.provider != def.agent.provider)
    }
}
