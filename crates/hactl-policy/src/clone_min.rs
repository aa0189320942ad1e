//! `clone-min`: what is ordered after a clone waits until that many of its
//! instances can run the action, not for all of them (Pacemaker's
//! `clone_min_ordering`). As in Pacemaker, a pseudo action
//! `clone-one-or-more:<ordering id>` comes after every instance's action and is
//! runnable only while at least `clone-min` of them are; the "then" side waits for
//! it and cannot run without it.

use hactl_model::OrderAction;

use crate::actions::{Act, Graph, Task, FIRST_IMPLIES_THEN, ORDERED, UNRUNNABLE_FIRST_BLOCKS};
use crate::sched::{RscRef, Sched};

/// One `clone-one-or-more` pseudo action.
#[derive(Debug, Clone)]
pub(crate) struct OneOrMore {
    /// The ordering constraint it stands for.
    pub id: String,
    /// How many of `firsts` must be runnable.
    pub min: usize,
    /// The instances' actions.
    pub firsts: Vec<usize>,
}

/// A new one-or-more group `id` needing `min` of its (not yet known) firsts, and
/// the pseudo action that stands for it: (its index, the action). Shared by
/// `clone-min` and `require-all="false"` sets.
pub(crate) fn add_one_or_more(g: &mut Graph, id: &str, min: usize) -> (usize, usize) {
    let k = g.one_or_more.len();
    let pseudo = g.add(Act {
        rsc: None,
        task: Task::OneOrMore(k),
        node: None,
        optional: true,
        runnable: true,
        pseudo: true,
        reason: None,
    });
    g.one_or_more.push(OneOrMore {
        id: id.to_string(),
        min,
        firsts: Vec::new(),
    });
    (k, pseudo)
}

/// A clone meta attribute (the clone's own, else `rsc_defaults`).
pub(crate) fn clone_meta<'s>(s: &Sched<'s>, ci: usize, key: &str) -> Option<&'s String> {
    let id = s.clones[ci].id;
    let hactl_model::Resource::Clone(cl) = s.cib.config.resources.iter().find(|r| r.id() == id)?
    else {
        return None;
    };
    cl.meta
        .get(key)
        .or_else(|| s.cib.config.rsc_defaults.get(key))
}

impl Sched<'_> {
    /// The `clone-min` of `r` when it is a clone that sets one above zero.
    pub(crate) fn clone_min(&self, r: RscRef) -> Option<usize> {
        let RscRef::C(ci) = r else { return None };
        clone_meta(self, ci, "clone-min")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|&m| m > 0)
            .map(|m| m as usize)
    }

    /// How many instances of `first` the ordering `oc` waits for, when not all:
    /// the clone's `clone-min` when it sets one, else 1 for `require-all="false"`
    /// (Pacemaker's `get_minimum_first_instances`; require-all only means
    /// something when `first` is a clone).
    pub(crate) fn clone_min_of_order(
        &self,
        first: RscRef,
        oc: &hactl_model::OrderConstraint,
    ) -> Option<usize> {
        let RscRef::C(ci) = first else { return None };
        if clone_meta(self, ci, "clone-min").is_some() {
            return self.clone_min(first);
        }
        (oc.require_all == Some(false)).then_some(1)
    }

    /// "First clone `fa`, then `then` `ta`" for a clone with `clone-min`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn clone_min_order(
        &self,
        id: &str,
        ci: usize,
        fa: OrderAction,
        then: RscRef,
        ta: OrderAction,
        flags: u32,
        min: usize,
        g: &mut Graph,
    ) {
        let (k, pseudo) = add_one_or_more(g, id, min);
        let mut firsts = Vec::new();
        for p in self.clones[ci].instances.clone() {
            firsts.extend(self.instance_actions(p, fa, true, g));
        }
        for &f in &firsts {
            // Sequence only: one instance that cannot run blocks nothing here;
            // the count decides (`refresh`).
            g.order(f, pseudo, ORDERED);
        }
        g.one_or_more[k].firsts = firsts;
        let mut thens = self.order_thens(then, ta, g);
        // A clone's instances are ordered directly too, so that what blocks them
        // is named as Pacemaker names it (the pseudo action, not the clone).
        if let RscRef::C(tc) = then {
            for p in self.clones[tc].instances.clone() {
                thens.extend(self.instance_actions(p, ta, false, g));
            }
        }
        // The pseudo action is in the graph when an instance's action is (see
        // `refresh`), but it never makes "then" required: Pacemaker keeps it
        // optional.
        for t in thens {
            g.order(
                pseudo,
                t,
                (flags & !FIRST_IMPLIES_THEN) | UNRUNNABLE_FIRST_BLOCKS,
            );
        }
    }
}

/// Re-evaluates a `clone-one-or-more` pseudo action: runnable while at least
/// `min` of the instances' actions are, and in the transition (so that "then"
/// waits for the instances through it) when one of them is. True when that
/// changed.
pub(crate) fn refresh(g: &mut Graph, a: usize, k: usize) -> bool {
    let o = &g.one_or_more[k];
    let runnable = o.firsts.iter().filter(|&&f| g.acts[f].runnable).count() >= o.min;
    let optional = o.firsts.iter().all(|&f| g.acts[f].optional);
    let changed = runnable != g.acts[a].runnable || optional != g.acts[a].optional;
    g.acts[a].runnable = runnable;
    g.acts[a].optional = optional;
    changed
}
