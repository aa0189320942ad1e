//! Actions of promotable clones: each instance's promote and demote (and the
//! cancel of the recurring monitor of the role it leaves), the clone's
//! promote/promoted/demote/demoted pseudo actions and their ordering (Pacemaker's
//! pcmk__order_promotable_instances and pcmk__promotable_restart_ordering), and
//! the roles as the transition summary names them.

use hactl_model::Role;

use crate::actions::{
    Graph, Task, FIRST_IMPLIES_THEN, ORDERED, PROMOTED_IMPLIES_FIRST, THEN_IMPLIES_FIRST,
    UNRUNNABLE_FIRST_BLOCKS,
};
use crate::sched::Sched;

impl Sched<'_> {
    /// The role a primitive has now, with the promotable roles.
    pub(crate) fn full_orig_role(&self, p: usize) -> Role {
        let prim = &self.prims[p];
        if prim.active.is_empty() {
            return Role::Stopped;
        }
        match prim.clone {
            Some(ci) if self.clones[ci].promotable => {
                if prim.promoted_on.is_some() {
                    Role::Promoted
                } else {
                    Role::Unpromoted
                }
            }
            _ => Role::Started,
        }
    }

    /// The role a primitive is to have, with the promotable roles.
    pub(crate) fn full_next_role(&self, p: usize) -> Role {
        match self.prims[p].next_role.unwrap_or(Role::Stopped) {
            Role::Stopped => Role::Stopped,
            _ => self.next_role_of(p),
        }
    }

    pub(crate) fn promotable_pseudo_actions(&self, ci: usize, g: &mut Graph) -> [usize; 4] {
        crate::clone_actions::collective_pseudo_actions(
            ci,
            [
                Task::CPromote,
                Task::CPromoted,
                Task::CDemote,
                Task::CDemoted,
            ],
            g,
        )
    }

    /// An instance's demote (where it is promoted now) and promote (where it is
    /// to be promoted). Each exists, optional, also when the role stays, so that
    /// a restart there (a required stop or start) demotes and promotes again.
    pub(crate) fn create_role_actions(&mut self, p: usize, g: &mut Graph) {
        let prim = &self.prims[p];
        let cur = prim.promoted_on.filter(|n| prim.active.contains(n));
        let next = if prim.promote && prim.next_role != Some(Role::Stopped) {
            prim.assigned
        } else {
            None
        };
        if let Some(c) = cur {
            let d = g.add(self.new_rsc_action(p, Task::Demote, Some(c), next == Some(c)));
            g.demote_of[p] = Some(d);
            for s in g.stops_of[p].clone() {
                if g.acts[s].node == Some(c) {
                    g.order(d, s, ORDERED | PROMOTED_IMPLIES_FIRST);
                }
            }
        }
        if let Some(n) = next {
            let pr = g.add(self.new_rsc_action(p, Task::Promote, Some(n), cur == Some(n)));
            g.promote_of[p] = Some(pr);
            let st = self.start_or_placeholder(p, g);
            g.order(
                st,
                pr,
                ORDERED | UNRUNNABLE_FIRST_BLOCKS | FIRST_IMPLIES_THEN,
            );
            if let Some(d) = g.demote_of[p] {
                g.order(d, pr, ORDERED);
            }
        }
        self.cancel_role_monitors(p, cur, next, g);
    }

    /// Where an instance stays but changes role, the recurring monitors of the
    /// role it leaves are cancelled first (they would report the new role as a
    /// failure).
    fn cancel_role_monitors(
        &self,
        p: usize,
        cur: Option<usize>,
        next: Option<usize>,
        g: &mut Graph,
    ) {
        let prim = &self.prims[p];
        let (Some(def), Some(n)) = (prim.def, prim.assigned) else {
            return;
        };
        if !prim.active.contains(&n) || cur == next {
            return;
        }
        let (change, to_promoted) = match (cur, next) {
            (None, Some(_)) => (g.promote_of[p], true),
            (Some(c), _) if c == n => (g.demote_of[p], false),
            _ => return,
        };
        let Some(change) = change else { return };
        // A failed monitor of the old role is cancelled too (on-fail=demote leaves
        // the instance in place with its failed promoted monitor recorded).
        for &(m, iv) in &prim.recurring_active {
            let mut ops = def
                .ops
                .iter()
                .filter(|o| o.name == "monitor" && o.interval_ms == iv);
            // Not configured (once) at this interval: Pacemaker leaves it alone.
            let (Some(op), None) = (ops.next(), ops.next()) else {
                continue;
            };
            if m != n || (op.role == Some(Role::Promoted)) == to_promoted {
                continue;
            }
            let c = g.add(self.new_rsc_action(p, Task::Cancel(iv), Some(n), false));
            g.order(c, change, ORDERED);
        }
    }

    /// The promotable clones' own orderings, around their instances'.
    pub(crate) fn promotable_orders(&self, g: &mut Graph) {
        for ci in 0..self.clones.len() {
            if !self.clones[ci].promotable {
                continue;
            }
            let [start, running, stop, stopped] = g.clone_acts[ci];
            let [promote, promoted, demote, demoted] = g.promo_acts[ci];
            if start == usize::MAX || promote == usize::MAX {
                continue;
            }
            g.order(stopped, promote, ORDERED);
            g.order(demoted, stop, ORDERED);
            g.order(demoted, start, ORDERED);
            g.order(demoted, promote, ORDERED);
            g.order(running, promote, ORDERED);
            g.order(demote, demoted, ORDERED);
            g.order(promote, promoted, ORDERED);
            let ordered = self.clones[ci].ordered;
            let mut last: Option<usize> = None;
            for p in self.instance_prims(ci) {
                if let Some(pr) = g.promote_of[p] {
                    g.order(promote, pr, ORDERED);
                    g.order(pr, promoted, ORDERED);
                }
                if let Some(d) = g.demote_of[p] {
                    g.order(demote, d, ORDERED | THEN_IMPLIES_FIRST);
                    g.order(d, demoted, ORDERED | FIRST_IMPLIES_THEN);
                }
                if let (true, Some(q)) = (ordered, last) {
                    if let (Some(a), Some(b)) = (g.promote_of[q], g.promote_of[p]) {
                        g.order(a, b, ORDERED);
                    }
                    if let (Some(a), Some(b)) = (g.demote_of[p], g.demote_of[q]) {
                        g.order(a, b, ORDERED);
                    }
                }
                last = Some(p);
            }
            self.group_instance_role_orders(ci, g);
        }
    }

    /// A promotable cloned group's instance promotes its members in order and
    /// demotes them in reverse order, as a group does.
    fn group_instance_role_orders(&self, ci: usize, g: &mut Graph) {
        for &gi in &self.clones[ci].instance_groups {
            for w in self.groups[gi].members.windows(2) {
                let (a, b) = (w[0], w[1]);
                if let (Some(x), Some(y)) = (g.promote_of[a], g.promote_of[b]) {
                    g.order(x, y, ORDERED | UNRUNNABLE_FIRST_BLOCKS);
                }
                if let (Some(x), Some(y)) = (g.demote_of[b], g.demote_of[a]) {
                    g.order(x, y, ORDERED);
                }
            }
        }
    }
}

/// Refreshes a promotable clone's pseudo action from its instances: required
/// when any instance's promote (or demote) is.
pub(crate) fn refresh_promotable(s: &Sched<'_>, g: &mut Graph, a: usize, ci: usize) -> bool {
    let of = match g.acts[a].task {
        Task::CPromote | Task::CPromoted => &g.promote_of,
        _ => &g.demote_of,
    };
    let required = s
        .instance_prims(ci)
        .into_iter()
        .filter_map(|p| of[p])
        .any(|x| !g.acts[x].optional);
    if required && g.acts[a].optional {
        g.acts[a].optional = false;
        return true;
    }
    false
}

/// Whether instance `p` runs promoted once the transition has run (`after`: the
/// nodes it runs on then).
pub(crate) fn promoted_after(s: &Sched<'_>, g: &Graph, p: usize, after: &[usize]) -> bool {
    let done = |a: Option<usize>| a.is_some_and(|a| !g.acts[a].optional && g.acts[a].runnable);
    if done(g.promote_of[p]) {
        return true;
    }
    let prim = &s.prims[p];
    prim.promoted_on.is_some_and(|n| after.contains(&n)) && !done(g.demote_of[p])
}

/// The details of a transition summary line, as Pacemaker words them: the roles
/// appear for promotable clone instances (`Unpromoted -> Promoted node1`,
/// `Promoted node1`).
pub(crate) fn action_details(
    orig: Role,
    next: Role,
    origin: Option<usize>,
    dest: Option<usize>,
    name: &dyn Fn(usize) -> String,
) -> String {
    let need_role = matches!(orig, Role::Unpromoted | Role::Promoted) || next == Role::Promoted;
    match (origin, dest) {
        (None, Some(d)) if need_role => format!("{orig} -> {next} {}", name(d)),
        (None, Some(d)) => name(d),
        (Some(o), None) if need_role => format!("{orig} {}", name(o)),
        (Some(o), None) => name(o),
        (None, None) => String::new(),
        (Some(o), Some(d)) => {
            let (same_host, same_role) = (o == d, orig == next);
            match (same_host, same_role, need_role) {
                (true, true, true) => format!("{orig} {}", name(o)),
                (true, true, false) => name(o),
                (false, true, true) => format!("{orig} {} -> {}", name(o), name(d)),
                (false, true, false) => format!("{} -> {}", name(o), name(d)),
                (true, false, _) => format!("{orig} -> {next} {}", name(o)),
                (false, false, _) => {
                    format!("{orig} {} -> {next} {}", name(o), name(d))
                }
            }
        }
    }
}
