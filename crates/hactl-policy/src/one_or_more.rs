//! `require-all="false"` in an order's resource set (`OrderConstraint::one_or_more`):
//! what comes after the set starts once any one of the set's members can start,
//! not all of them. As in Pacemaker (`order_rsc_sets`), a pseudo action stands
//! for the set: every member's start (or promote) comes before it, it is runnable
//! while one of them is, and every later member waits for it and cannot run
//! without it. Stops are ordered member by member as usual (the inverse of the
//! ordering is added by the caller).

use hactl_model::OrderConstraint;

use crate::actions::{Graph, Task, FIRST_IMPLIES_THEN, ORDERED, UNRUNNABLE_FIRST_BLOCKS};
use crate::clone_min::add_one_or_more;
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
        // Rare (one per set): finding the set's pseudo action by a scan is enough.
        let found = g
            .one_or_more
            .iter()
            .position(|o| o.id == set)
            .and_then(|k| {
                g.acts
                    .iter()
                    .rposition(|a| a.task == Task::OneOrMore(k))
                    .map(|a| (k, a))
            });
        let (k, pseudo) = match found {
            Some(found) => found,
            None => add_one_or_more(g, set, 1),
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
