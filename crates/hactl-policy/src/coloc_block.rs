//! Blocking of mandatory colocation dependents (Pacemaker's
//! `pcmk__block_colocation_dependents`): when a resource's start cannot run
//! (for a group: no member's can), what is colocated with it at INFINITY
//! cannot reach its role either. Its start (promote, for a promoted role) is
//! made unrunnable with the reason "colocation with X", which the summary then
//! names ("Stop cinder-volume … due to colocation with cinder-scheduler", CTS
//! case complex_enforce_colo). Clones as primaries do not block yet (see
//! `dependents`).

use crate::actions::{Graph, Task, FIRST_IMPLIES_THEN};
use crate::sched::{RscRef, Sched};
use hactl_model::Score;

/// An ordering made action `a` unrunnable: its dependents are blocked, once
/// "required" has spread from `a` to those of them ordered right after it.
/// Pacemaker had found such a start required in an earlier pass, so their
/// reason is "required X start", while theirs in turn are blocked at once:
/// "colocation with X" (both checked against crm_simulate,
/// `coloc_block_tests.rs`; CTS case complex_enforce_colo). An optional one
/// waits until it is found required, or until the first pass is over.
pub(crate) fn blocked_by_ordering(s: &Sched<'_>, g: &mut Graph, a: usize) {
    let deps = dependents(s, g, a);
    if deps.is_empty() {
        return;
    }
    if g.acts[a].optional {
        g.block_later.push(a);
        return;
    }
    let dep_acts: Vec<usize> = deps
        .into_iter()
        .flat_map(|(r, promote)| actions_of(s, g, r, promote))
        .collect();
    for i in 0..g.edges.len() {
        let e = g.edges[i];
        if e.first == a && e.flags & FIRST_IMPLIES_THEN != 0 && dep_acts.contains(&e.then) {
            crate::actions::clear_optional(s, g, e.then, a);
        }
    }
    block_dependents(s, g, a);
}

/// Action `a` was found required: if it waits to block its dependents, now.
pub(crate) fn now_required(s: &Sched<'_>, g: &mut Graph, a: usize) {
    if let Some(i) = g.block_later.iter().position(|&x| x == a) {
        g.block_later.swap_remove(i);
        blocked_by_ordering(s, g, a);
    }
}

/// Blocks the dependents of action `a` if it is an unrunnable start or promote.
pub(crate) fn block_dependents(s: &Sched<'_>, g: &mut Graph, a: usize) {
    let Some(rsc) = g.acts[a].rsc else { return };
    let why = format!("colocation with {}", s.rsc_id(rsc));
    for (dep, promote) in dependents(s, g, a) {
        mark_blocked(s, g, dep, promote, &why);
    }
}

/// What action `a`, an unrunnable start or promote, blocks: the dependents of
/// its mandatory colocations, and whether their promote (else start) is blocked.
fn dependents(s: &Sched<'_>, g: &Graph, a: usize) -> Vec<(RscRef, bool)> {
    let mut out = Vec::new();
    let act = &g.acts[a];
    let Some(rsc) = act.rsc else { return out };
    let top = collective(s, rsc);
    // Not for clones yet: Pacemaker blocks from the clone's own start, which
    // hactl keeps runnable, and when it does depends on how the instances'
    // orderings were spread (a dependent of a clone ordered after it keeps the
    // reason "required CLONE running" in a small case, not in
    // complex_enforce_colo).
    // Only starts: what promotes is a clone instance.
    if act.runnable
        || matches!(top, RscRef::C(_))
        || !matches!(act.task, Task::Start | Task::GStart)
    {
        return out;
    }
    if !all_unrunnable(s, g, top) {
        return out;
    }
    let with_this = match top {
        RscRef::P(p) => &s.prims[p].with_this,
        RscRef::G(gi) => &s.groups[gi].with_this,
        RscRef::C(ci) => &s.clones[ci].with_this,
    };
    for &c in with_this {
        let c = &s.colocs[c];
        if c.score < Score::INFINITY || !c.explicit {
            continue;
        }
        // A primary that cannot start fails the dependent's colocated role,
        // whichever it is.
        out.push((c.dependent, c.dep_role == Some(hactl_model::Role::Promoted)));
    }
    out
}

/// The resource whose colocations count: the clone of an instance, the group of
/// a member (the clone of a cloned group's member).
fn collective(s: &Sched<'_>, r: RscRef) -> RscRef {
    let p = match r {
        RscRef::P(p) => p,
        RscRef::G(gi) => match s.groups[gi].members.first() {
            Some(&m) => m,
            None => return r,
        },
        RscRef::C(_) => return r,
    };
    match (s.prims[p].clone, s.prims[p].group) {
        (Some(ci), _) => RscRef::C(ci),
        (None, Some(gi)) => RscRef::G(gi),
        (None, None) => r,
    }
}

/// Whether none of the collective's children can start: the colocation fails
/// only if the whole primary cannot reach its role.
fn all_unrunnable(s: &Sched<'_>, g: &Graph, top: RscRef) -> bool {
    // A placeholder (no node) is no start.
    let child_act = |p: usize| g.start_of[p].filter(|&a| g.acts[a].node.is_some());
    let blocked = |a: Option<usize>| a.is_some_and(|a| !g.acts[a].runnable);
    match top {
        RscRef::P(_) => true,
        RscRef::G(gi) => s.groups[gi].members.iter().all(|&m| blocked(child_act(m))),
        // Clones do not block (see `dependents`).
        RscRef::C(_) => false,
    }
}

/// Makes `r`'s starts (promotes), and its children's, unrunnable because of
/// `why`, blocking their own dependents in turn.
fn mark_blocked(s: &Sched<'_>, g: &mut Graph, r: RscRef, promote: bool, why: &str) {
    for a in actions_of(s, g, r, promote) {
        if !g.acts[a].runnable {
            continue;
        }
        g.acts[a].runnable = false;
        if g.acts[a].reason.is_none() {
            g.acts[a].reason = Some(why.to_string());
        }
        block_dependents(s, g, a);
    }
}

/// The starts (promotes) of `r` and of its children, `r`'s own first.
fn actions_of(s: &Sched<'_>, g: &Graph, r: RscRef, promote: bool) -> Vec<usize> {
    let (own, children): (Option<usize>, Vec<RscRef>) = match r {
        RscRef::P(p) => (
            if promote {
                g.promote_of[p]
            } else {
                g.start_of[p]
            },
            Vec::new(),
        ),
        RscRef::G(gi) => (
            g.group_acts
                .get(gi)
                .map(|acts| acts[0])
                .filter(|_| !promote),
            s.groups[gi].members.iter().map(|&m| RscRef::P(m)).collect(),
        ),
        RscRef::C(ci) => {
            let own = if promote {
                g.promo_acts.get(ci).map(|acts| acts[0])
            } else {
                g.clone_acts.get(ci).map(|acts| acts[0])
            };
            let cl = &s.clones[ci];
            let children = if cl.instance_groups.is_empty() {
                cl.instances.iter().map(|&p| RscRef::P(p)).collect()
            } else {
                cl.instance_groups.iter().map(|&gi| RscRef::G(gi)).collect()
            };
            (own, children)
        }
    };
    let mut out: Vec<usize> = own.into_iter().collect();
    for c in children {
        out.extend(actions_of(s, g, c, promote));
    }
    out
}
