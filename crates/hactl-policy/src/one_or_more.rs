//! `require-all="false"` in an order's resource set (`OrderConstraint::one_or_more`):
//! what comes after the set starts once any one of the set's members can start,
//! not all of them. As in Pacemaker (`order_rsc_sets`), a pseudo action stands
//! for the set: every member's start (or promote) comes before it, it is runnable
//! while one of them is, and every later member waits for it and cannot run
//! without it. Stops are ordered member by member as usual (the inverse of the
//! ordering is added by the caller).

use hactl_model::OrderConstraint;

use crate::actions::{Act, Graph, Task, FIRST_IMPLIES_THEN, ORDERED, UNRUNNABLE_FIRST_BLOCKS};
use crate::clone_min::OneOrMore;
use crate::sched::{RscRef, Sched};

impl Sched<'_> {
    /// The forward half of ordering `oc`, part of the one-or-more group `set`.
    pub(crate) fn one_or_more_order(
        &self,
        oc: &OrderConstraint,
        set: &str,
        first: RscRef,
        then: RscRef,
        flags: u32,
        g: &mut Graph,
    ) {
        let pseudo = match g.one_or_more.iter().position(|o| o.id == set) {
            // Rare (one per set): finding its pseudo action by a scan is enough.
            Some(k) => g.acts.iter().rposition(|a| a.task == Task::OneOrMore(k)),
            None => None,
        };
        let (k, pseudo) = match pseudo {
            Some(a) => match g.acts[a].task {
                Task::OneOrMore(k) => (k, a),
                _ => return,
            },
            None => {
                let k = g.one_or_more.len();
                let a = g.add(Act {
                    rsc: None,
                    task: Task::OneOrMore(k),
                    node: None,
                    optional: true,
                    runnable: true,
                    pseudo: true,
                    reason: None,
                });
                g.one_or_more.push(OneOrMore {
                    id: set.to_string(),
                    min: 1,
                    firsts: Vec::new(),
                });
                (k, a)
            }
        };
        for f in self.order_targets(first, oc.first_action, true, g) {
            // Sequence only: the count decides (`clone_min::refresh`).
            g.order(f, pseudo, ORDERED);
            if !g.one_or_more[k].firsts.contains(&f) {
                g.one_or_more[k].firsts.push(f);
            }
        }
        // Never makes "then" required (Pacemaker keeps the pseudo action optional).
        for t in self.order_thens(then, oc.then_action, g) {
            g.order(
                pseudo,
                t,
                (flags & !FIRST_IMPLIES_THEN) | UNRUNNABLE_FIRST_BLOCKS,
            );
        }
    }
}
