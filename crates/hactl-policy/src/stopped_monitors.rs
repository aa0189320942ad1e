//! Recurring monitors for the Stopped role (`role=Stopped`), as Pacemaker plans
//! them (pcmk_sched_recurring.c, recurring_op_for_inactive): on every node where
//! the resource is not to run, the monitor runs and expects "not running" (rc 7),
//! after the resource's stop there and after its probe; where it already runs it
//! is left alone (unless the stop there makes it needed again). On the node the
//! resource is assigned to, a running one is cancelled before the start.
//! Instances of clones are left out, as Pacemaker leaves anonymous ones out.

use hactl_model::Role;

use crate::actions::{Act, Graph, Task, FIRST_IMPLIES_THEN, ORDERED};
use crate::probe_order::ProbeThen;
use crate::sched::{RscRef, Sched};

impl Sched<'_> {
    /// Adds `p`'s Stopped-role monitors and the cancels of running ones where it
    /// is to start.
    pub(crate) fn create_stopped_monitors(&self, p: usize, g: &mut Graph) {
        let prim = &self.prims[p];
        let Some(def) = prim.def else { return };
        if prim.clone.is_some() || prim.maintenance {
            return;
        }
        let assigned = prim.assigned;
        for op in &def.ops {
            let iv = op.interval_ms;
            if op.name != "monitor" || iv == 0 || op.role != Some(Role::Stopped) {
                continue;
            }
            if op.enabled == Some(false) {
                continue;
            }
            for n in 0..self.nodes.len() {
                let running = prim.recurring_active.contains(&(n, iv));
                if assigned == Some(n) {
                    if running {
                        let c = g.add(self.stopped_monitor_act(p, n, Task::Cancel(iv), false));
                        if let Some(st) = g.start_of[p] {
                            g.order(c, st, ORDERED);
                        }
                    }
                    continue;
                }
                let node = &self.nodes[n];
                let mut a = self.stopped_monitor_act(p, n, Task::Monitor(iv), running);
                a.runnable = node.online && !node.unclean;
                let m = g.add(a);
                g.stopped_monitors.push((p, m));
                for &s in &g.stops_of[p].clone() {
                    if g.acts[s].node != Some(n) {
                        continue;
                    }
                    if !g.acts[s].runnable {
                        g.acts[m].runnable = false;
                    }
                    if prim.managed {
                        g.order(s, m, ORDERED | FIRST_IMPLIES_THEN);
                    }
                }
            }
        }
    }

    fn stopped_monitor_act(&self, p: usize, n: usize, task: Task, optional: bool) -> Act {
        Act {
            rsc: Some(RscRef::P(p)),
            task,
            node: Some(n),
            optional,
            runnable: true,
            pseudo: false,
            reason: None,
        }
    }

    /// A Stopped-role monitor waits for the probe on its node.
    pub(crate) fn stopped_monitor_probe_orders(&self, g: &mut Graph) {
        if g.stopped_monitors.is_empty() {
            return;
        }
        for &(p, m) in &g.stopped_monitors {
            if self.prims[p].managed {
                g.probe_thens.push(ProbeThen {
                    prim: p,
                    then: m,
                    same_node: true,
                });
            }
        }
        g.probe_thens.sort_by_key(|pt| pt.prim);
    }
}
