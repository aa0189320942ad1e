//! Fencing a remote node whose connection cannot come back, decided once the
//! resource actions exist and before the fencing actions are made. Pacemaker
//! orders the actions on remote nodes against their connections before it
//! schedules fencing, because that is where such a node turns out to need it:
//! a stop there (what is active can only be stopped by fencing the node), or a
//! probe there (what may be active cannot be found out). Decided any later, the
//! node would be marked unclean with no fencing, and its stops would wait for a
//! connection that never starts.

use crate::actions::{Act, Graph, Task};
use crate::sched::{RscRef, Sched};

const ACTIVE: &str = "resources are active but connection is unrecoverable";
const UNKNOWN: &str = "resources are in unknown state and connection is unrecoverable";

impl Sched<'_> {
    /// The fencing action of node `n`, with the reason it is fenced for.
    pub(crate) fn fence_action(&self, n: usize, g: &mut Graph) -> usize {
        let reason =
            (self.nodes[n].fence_reason.clone()).or_else(|| Some("node is unclean".into()));
        g.add(Act {
            rsc: None,
            task: Task::Fence,
            node: Some(n),
            optional: false,
            runnable: true,
            pseudo: false,
            reason,
        })
    }

    /// Marks for fencing each remote node whose connection has failed for good
    /// and that has a stop or a probe to run, adds its fencing to `fence_of`, and
    /// turns the actions that fencing stands for into what they are on any node
    /// being fenced: its stops and demotes implied (pseudo), its probes gone.
    pub(crate) fn fence_unrecoverable_remotes(
        &mut self,
        g: &mut Graph,
        fence_of: &mut [Option<usize>],
    ) {
        let failed: Vec<usize> = (0..self.nodes.len())
            // A guest node is fenced by its container's recovery (`guest.rs`).
            .filter(|&n| {
                !self.nodes[n].unclean
                    && self.guest_container(n).is_none()
                    && self.connection_failed(n)
            })
            .collect();
        if failed.is_empty() {
            return;
        }
        // Probes first: Pacemaker creates them before the other actions, and the
        // first reason found is the one the fencing gives.
        let probes = g.probes.iter().map(|&(_, n)| (n, UNKNOWN));
        let acts = g.acts.iter().filter_map(|a| {
            let (Some(RscRef::P(_)), Some(n)) = (a.rsc, a.node) else {
                return None;
            };
            match a.task {
                _ if a.pseudo => None,
                Task::Probe => Some((n, UNKNOWN)),
                Task::Stop | Task::MigrateTo | Task::MigrateFrom => Some((n, ACTIVE)),
                _ => None,
            }
        });
        let mut fenced: Vec<(usize, &str)> = Vec::new();
        for (n, why) in probes.chain(acts) {
            if failed.contains(&n) && !fenced.iter().any(|&(f, _)| f == n) {
                fenced.push((n, why));
            }
        }
        for (n, why) in fenced {
            self.fence_remote(n, why);
            let fence = self.can_fence(n);
            if fence && fence_of[n].is_none() {
                fence_of[n] = Some(self.fence_action(n, g));
            }
            g.probes.retain(|&(_, pn)| pn != n);
            for a in g
                .acts
                .iter_mut()
                .filter(|a| a.node == Some(n) && a.rsc.is_some())
            {
                match a.task {
                    Task::Stop | Task::Demote if fence => a.pseudo = true,
                    Task::Stop | Task::Demote | Task::Probe => a.runnable = false,
                    _ => {}
                }
            }
        }
    }
}
