//! Actions of clones: the clone's start/running/stop/stopped pseudo actions, their
//! ordering around the instances' actions (`ordered` clones go one instance after
//! another), orderings with clones (interleaved per node when the clone asks for
//! it), and which instance probes a node.

use hactl_model::OrderAction;

use crate::actions::{
    Graph, Task, FIRST_IMPLIES_THEN, ORDERED, THEN_IMPLIES_FIRST, UNRUNNABLE_FIRST_BLOCKS,
};
use crate::sched::{RscRef, Sched};

impl Sched<'_> {
    pub(crate) fn clone_pseudo_actions(&self, ci: usize, g: &mut Graph) -> [usize; 4] {
        collective_pseudo_actions(
            ci,
            [Task::GStart, Task::GRunning, Task::GStop, Task::GStopped],
            g,
        )
    }
}

/// The clone's own pseudo actions for `tasks` (its start/running/stop/stopped, or a
/// promotable clone's promote/promoted/demote/demoted).
pub(crate) fn collective_pseudo_actions(ci: usize, tasks: [Task; 4], g: &mut Graph) -> [usize; 4] {
    crate::actions::pseudo_actions(RscRef::C(ci), tasks, g)
}

impl Sched<'_> {
    /// Pacemaker's clone internal constraints.
    pub(crate) fn clone_internal_orders(&self, g: &mut Graph) {
        for ci in 0..self.clones.len() {
            let [start, running, stop, stopped] = g.clone_acts[ci];
            if start == usize::MAX {
                continue;
            }
            g.order(stopped, start, ORDERED);
            g.order(start, running, UNRUNNABLE_FIRST_BLOCKS);
            g.order(stop, stopped, UNRUNNABLE_FIRST_BLOCKS);
            let instances = self.clones[ci].instances.clone();
            for (i, &p) in instances.iter().enumerate() {
                if let Some([gstart, grunning, gstop, gstopped]) = self.instance_bounds(p, g) {
                    // A cloned group's instance: the clone's pseudo actions
                    // frame the instance group's (which frame its members).
                    g.order(start, gstart, UNRUNNABLE_FIRST_BLOCKS | THEN_IMPLIES_FIRST);
                    g.order(grunning, running, FIRST_IMPLIES_THEN);
                    g.order(stop, gstop, THEN_IMPLIES_FIRST);
                    g.order(gstopped, stopped, FIRST_IMPLIES_THEN);
                    self.frame_group_members(p, start, stop, g);
                    continue;
                }
                let st = self.start_or_placeholder(p, g);
                g.order(start, st, UNRUNNABLE_FIRST_BLOCKS | THEN_IMPLIES_FIRST);
                g.order(st, running, FIRST_IMPLIES_THEN);
                for s in g.stops_of[p].clone() {
                    g.order(stop, s, THEN_IMPLIES_FIRST);
                    g.order(s, stopped, FIRST_IMPLIES_THEN);
                }
                if self.clones[ci].ordered {
                    for &later in &instances[i + 1..] {
                        let lst = self.start_or_placeholder(later, g);
                        g.order(st, lst, ORDERED);
                        for ls in g.stops_of[later].clone() {
                            for s in g.stops_of[p].clone() {
                                g.order(ls, s, ORDERED);
                            }
                        }
                    }
                }
            }
        }
    }

    /// The instance actions an ordering names for instance `p` (`as_first`: on
    /// the ordering's "first" side).
    pub(crate) fn instance_actions(
        &self,
        p: usize,
        action: OrderAction,
        as_first: bool,
        g: &mut Graph,
    ) -> Vec<usize> {
        if let Some(gi) = self.instance_group(p) {
            return self.group_instance_actions(gi, action, as_first, g);
        }
        let promotable = self.prims[p]
            .clone
            .is_some_and(|ci| self.clones[ci].promotable);
        match action {
            OrderAction::Promote if promotable => g.promote_of[p].into_iter().collect(),
            OrderAction::Demote if promotable => g.demote_of[p].into_iter().collect(),
            OrderAction::Start | OrderAction::Promote => vec![self.start_or_placeholder(p, g)],
            OrderAction::Stop | OrderAction::Demote => g.stops_of[p].clone(),
        }
    }

    /// Orderings that involve a clone. Interleaved orderings between two clones
    /// are made per node between instances (true: nothing else to add); for a
    /// clone that comes "then", its instances' actions are ordered too.
    pub(crate) fn clone_order(
        &self,
        first: RscRef,
        fa: OrderAction,
        then: RscRef,
        ta: OrderAction,
        flags: u32,
        g: &mut Graph,
    ) -> bool {
        let RscRef::C(tc) = then else {
            return false;
        };
        // A bundle's promote or demote is its bundled clone's (bundle.rs), whose
        // instances follow through that clone's pseudo actions: its containers
        // have nothing to order.
        if self.bundle_promotion_targets(tc, ta, false, g).is_some() {
            return false;
        }
        let stopping = matches!(ta, OrderAction::Stop | OrderAction::Demote);
        if let RscRef::C(fc) = first {
            let decider = if stopping { fc } else { tc };
            if fc != tc && self.clones[decider].interleave {
                self.interleave(fc, fa, tc, ta, flags, g);
                // The clones' own pseudo actions stay ordered as the constraint
                // says (sequence only: the instances carry the rest).
                for f in self.order_targets(first, fa, true, g) {
                    for t in self.order_targets(then, ta, false, g) {
                        g.order(f, t, crate::actions::ORDERED);
                    }
                }
                return true;
            }
        }
        // As Pacemaker's update_noninterleaved_actions: each instance's action is
        // ordered after the first too (after a group's or another clone's pseudo
        // action: those never interleave), so that a required first restarts the
        // instances and not only the clone's pseudo action.
        let firsts = match first {
            RscRef::P(p) => self.instance_actions(p, fa, true, g),
            RscRef::C(_) | RscRef::G(_) => self.order_targets(first, fa, true, g),
        };
        for p in self.clones[tc].instances.clone() {
            for t in self.instance_thens(p, ta, g) {
                if !g.acts[t].runnable {
                    continue;
                }
                for &f in &firsts {
                    g.order_member(f, t, flags);
                }
            }
        }
        false
    }

    /// The actions of instance `p` that a non-interleaved ordering's "then" side
    /// names. For an instance of a promotable cloned group, a promotion or
    /// demotion names its members' own: hactl has no promote action per group
    /// instance, and the group's start would restart members that Pacemaker only
    /// promotes (CTS case promoted-partially-demoted-group).
    fn instance_thens(&self, p: usize, ta: OrderAction, g: &mut Graph) -> Vec<usize> {
        let role = |m: usize| match ta {
            OrderAction::Promote => g.promote_of[m],
            OrderAction::Demote => g.demote_of[m],
            OrderAction::Start | OrderAction::Stop => None,
        };
        match self.instance_group(p) {
            Some(gi) if matches!(ta, OrderAction::Promote | OrderAction::Demote) => self.groups[gi]
                .members
                .iter()
                .filter_map(|&m| role(m))
                .collect(),
            _ => self.instance_actions(p, ta, false, g),
        }
    }

    /// Per instance of `tc`: the instance of `fc` on the same node.
    fn interleave(
        &self,
        fc: usize,
        fa: OrderAction,
        tc: usize,
        ta: OrderAction,
        flags: u32,
        g: &mut Graph,
    ) {
        g.interleaved_orders.push((fc, fa, tc, ta, flags));
        let current = matches!(fa, OrderAction::Stop | OrderAction::Demote);
        if !current && flags & (UNRUNNABLE_FIRST_BLOCKS | FIRST_IMPLIES_THEN) != 0 {
            g.interleaved.push((fc, tc));
        }
        let node_of = |p: usize| {
            if current {
                self.prims[p].active.first().copied()
            } else {
                self.prims[p].assigned
            }
        };
        for tp in self.clones[tc].instances.clone() {
            let Some(n) = node_of(tp) else { continue };
            let fp = self.clones[fc]
                .instances
                .iter()
                .copied()
                .find(|&q| node_of(q) == Some(n) && !self.prims[q].blocked);
            let Some(fp) = fp else { continue };
            let firsts = self.instance_actions(fp, fa, true, g);
            for t in self.instance_actions(tp, ta, false, g) {
                for &f in &firsts {
                    g.order(f, t, flags);
                }
            }
        }
    }

    /// Takes back the placement of the instances a mandatory interleaved ordering
    /// leaves without a partner on their node, until none is left (Pacemaker
    /// unassigns them while ordering): their start cannot run, and where they run
    /// now they stop.
    pub(crate) fn unassign_instances(&mut self, g: &mut Graph) {
        loop {
            let mut lost = Vec::new();
            for &(fc, tc) in &g.interleaved {
                for &tp in &self.clones[tc].instances {
                    let Some(n) = self.prims[tp].assigned else {
                        continue;
                    };
                    let partner = self.clones[fc]
                        .instances
                        .iter()
                        .any(|&q| self.prims[q].assigned == Some(n) && !self.prims[q].blocked);
                    if !partner && !lost.contains(&tp) {
                        lost.push(tp);
                    }
                }
            }
            if lost.is_empty() {
                return;
            }
            for p in lost {
                self.unassign_instance(p, g);
            }
        }
    }

    fn unassign_instance(&mut self, p: usize, g: &mut Graph) {
        if let Some(n) = self.prims[p].assigned.take() {
            self.release_node(p, n);
        }
        self.prims[p].next_role = Some(hactl_model::Role::Stopped);
        self.prims[p].next_role_reason = Some("node availability".into());
        if let Some(st) = g.start_of[p] {
            g.acts[st].runnable = false;
            g.acts[st].optional = true;
        }
        // Pacemaker takes the placement back after the stop was made, so the
        // stop gets no "node availability" reason (stop_reason_tests.rs).
        for s in g.stops_of[p].clone() {
            if self.prims[p].managed {
                g.acts[s].optional = false;
            }
        }
    }

    /// Whether instance `p` is the one of its anonymous clone that probes node `n`:
    /// none probed there yet, and it is the instance placed there, or the first.
    pub(crate) fn probes_instance(&self, p: usize, n: usize) -> bool {
        let Some(ci) = self.prims[p].clone else {
            return true;
        };
        if self.clones[ci].unique {
            return true;
        }
        let instances = &self.clones[ci].instances;
        if instances.iter().any(|&q| self.prims[q].probed[n]) {
            return false;
        }
        let chosen = instances
            .iter()
            .copied()
            .find(|&q| self.prims[q].assigned == Some(n))
            .or_else(|| instances.first().copied());
        chosen == Some(p)
    }
}

/// Refreshes a clone pseudo action from its instances: required when any
/// instance's matching action is, and "running" runnable only while some instance
/// can start (or keeps running).
pub(crate) fn refresh_clone(s: &Sched<'_>, g: &mut Graph, a: usize, ci: usize) -> bool {
    let (is_start, check_runnable) = match g.acts[a].task {
        Task::GStart => (true, false),
        Task::GRunning => (true, true),
        Task::GStop => (false, false),
        Task::GStopped => (false, false),
        Task::CPromote | Task::CPromoted | Task::CDemote | Task::CDemoted => {
            return crate::promotable_actions::refresh_promotable(s, g, a, ci)
        }
        _ => return false,
    };
    let mut optional = g.acts[a].optional;
    let mut any_runnable = false;
    for p in &s.clones[ci].instances {
        // A cloned group's instance counts all its members, not only its lead
        // (which may keep running while a later member stops).
        let prims = match s.instance_group(*p) {
            Some(gi) => s.groups[gi].members.as_slice(),
            None => std::slice::from_ref(p),
        };
        for &x in prims.iter().flat_map(|&m| {
            if is_start {
                g.start_of[m].as_slice()
            } else {
                g.stops_of[m].as_slice()
            }
        }) {
            if !g.acts[x].optional {
                optional = false;
            }
            if g.acts[x].runnable && g.acts[x].node.is_some() {
                any_runnable = true;
            }
        }
    }
    let runnable = g.acts[a].runnable && (!check_runnable || any_runnable);
    let changed = optional != g.acts[a].optional || runnable != g.acts[a].runnable;
    g.acts[a].optional = optional;
    g.acts[a].runnable = runnable;
    changed
}
