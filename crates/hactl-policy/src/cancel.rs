//! Cancelling recurring monitors that run but must not, as Pacemaker does:
//!
//! - in maintenance mode (of the resource or of its node) nothing is monitored, so
//!   a monitor still running there is cancelled;
//! - a monitor that is no longer configured (removed, disabled, or its interval
//!   changed) is cancelled where it still runs ("orphaned" operations), unless
//!   `cancel-removed-actions` (formerly `stop-orphan-actions`) is false: then it is
//!   left running.
//!
//! A cancel comes after the resource's stops (Pacemaker orders it so). It shows in
//! the transition graph as `operation="cancel"` with the monitor's key, and not in
//! the summary.

use crate::actions::{Act, Graph, Task, ORDERED};
use crate::sched::{RscRef, Sched};

impl Sched<'_> {
    /// Adds the cancels primitive `p` needs.
    pub(crate) fn create_cancels(&self, p: usize, g: &mut Graph) {
        let prim = &self.prims[p];
        // A removed resource is stopped and forgotten as a whole.
        let Some(def) = prim.def else { return };
        for &(n, interval_ms) in &prim.recurring_active {
            let node = &self.nodes[n];
            if !node.online || node.unclean {
                continue;
            }
            // Cluster-wide maintenance-mode only unmanages: monitors keep running
            // (Pacemaker's bug-5028-detach).
            let maintenance = node.maintenance || (prim.maintenance && !self.opts.maintenance_mode);
            let configured = def.ops.iter().any(|o| {
                o.name == "monitor" && o.interval_ms == interval_ms && o.enabled != Some(false)
            });
            if !maintenance && (configured || !self.opts.stop_orphan_actions) {
                continue;
            }
            let c = g.add(Act {
                rsc: Some(RscRef::P(p)),
                task: Task::Cancel(interval_ms),
                node: Some(n),
                optional: false,
                runnable: true,
                pseudo: false,
                reason: None,
            });
            for &s in &g.stops_of[p].clone() {
                g.order(s, c, ORDERED);
            }
        }
    }
}
