//! Actions and their ordering: which stops, starts, probes, monitors and fencing
//! operations a placement needs, and how "required" and "cannot run" spread along
//! ordering edges (a restart of one resource forces the restart of what depends
//! on it; an unrunnable start blocks what must start after it).

use hactl_model::{OrderAction, OrderKind, Role, Score};

use crate::sched::{RscRef, Sched};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Task {
    Start,
    Stop,
    Probe,
    Monitor(u64),
    Fence,
    /// Group pseudo actions.
    GStart,
    GRunning,
    GStop,
    GStopped,
    /// Promotable clone instances: promote, demote; and the cancel of a recurring
    /// monitor (of the role being left, or see `cancel.rs`).
    Promote,
    Demote,
    Cancel(u64),
    /// A promotable clone's pseudo actions.
    CPromote,
    CPromoted,
    CDemote,
    CDemoted,
    /// Apply changed reloadable parameters in place (`reload-agent`, see
    /// `digest.rs`).
    Reload,
    /// Clone notifications (`notify.rs`): an instance's notify operation, and the
    /// clone's pseudo actions around them.
    Notify(crate::NotifyPhase, crate::NotifyOf),
    NotifyMarker(crate::NotifyPhase, crate::NotifyOf),
    /// `clone-one-or-more:<ordering>` (`clone_min.rs`; index into
    /// `Graph::one_or_more`).
    OneOrMore(usize),
    /// Clean-up (`cleanup.rs`): clear a fail count, delete a history.
    ClearFailcount,
    Delete,
    /// Live migration steps (`migration.rs`).
    MigrateTo,
    MigrateFrom,
    /// A node's `load_stopped` pseudo action (`utilization.rs`).
    LoadStopped,
    /// Unfencing of a node (`stonith ... on`, `unfence.rs`).
    Unfence,
}

impl Task {
    pub fn name(self) -> &'static str {
        match self {
            Task::Start | Task::GStart => "start",
            Task::Stop | Task::GStop => "stop",
            Task::Probe | Task::Monitor(_) => "monitor",
            Task::Fence => "fence",
            Task::Unfence => "unfence",
            Task::GRunning => "running",
            Task::GStopped => "stopped",
            Task::Promote | Task::CPromote => "promote",
            Task::Demote | Task::CDemote => "demote",
            Task::Cancel(_) => "cancel",
            Task::CPromoted => "promoted",
            Task::CDemoted => "demoted",
            Task::Reload => "reload-agent",
            Task::Notify(..) => "notify",
            Task::OneOrMore(_) => "clone-one-or-more",
            Task::ClearFailcount => "clear_failcount",
            Task::Delete => "delete",
            Task::MigrateTo => "migrate_to",
            Task::MigrateFrom => "migrate_from",
            Task::LoadStopped => "load_stopped",
            Task::NotifyMarker(phase, _) => match phase {
                crate::NotifyPhase::Pre | crate::NotifyPhase::Post => "notify",
                _ => "notified",
            },
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Act {
    pub rsc: Option<RscRef>,
    pub task: Task,
    pub node: Option<usize>,
    pub optional: bool,
    pub runnable: bool,
    pub pseudo: bool,
    pub reason: Option<String>,
}

pub(crate) const ORDERED: u32 = 1;
pub(crate) const FIRST_IMPLIES_THEN: u32 = 2;
pub(crate) const THEN_IMPLIES_FIRST: u32 = 4;
pub(crate) const UNRUNNABLE_FIRST_BLOCKS: u32 = 8;
pub(crate) const INTERMEDIATE_STOP: u32 = 16;
pub(crate) const ASYMMETRIC: u32 = 32;
/// Sequence only, and only between actions on the same node (an anti-colocation's
/// stop before start; see `probe_order.rs`).
pub(crate) const SAME_NODE: u32 = 64;
/// A required "then" makes "first" required (Pacemaker's promoted-implies-first:
/// an instance's stop requires its demote).
pub(crate) const PROMOTED_IMPLIES_FIRST: u32 = 128;
/// Only when "first" is not part of a live migration (Pacemaker's
/// apply-first-non-migratable; `migration_orders.rs`).
pub(crate) const FIRST_NON_MIGRATABLE: u32 = 256;
/// A live migration's own steps (`migration.rs`).
pub(crate) const MIGRATION: u32 = 512;

/// The engine's view of an edge: anything beyond plain sequence is mandatory.
/// Flags 0 (a group member's stop before the group's "stopped" marker, for all
/// but the first member) is also sequence only.
pub(crate) fn edge_kind(flags: u32) -> crate::EdgeKind {
    let sequence_only = ORDERED | SAME_NODE | FIRST_NON_MIGRATABLE | crate::load_order::LOAD;
    if flags & !sequence_only == 0 {
        crate::EdgeKind::Optional
    } else {
        crate::EdgeKind::Mandatory
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Edge {
    pub first: usize,
    pub then: usize,
    pub flags: u32,
    /// A copy, onto a member's (instance's) action, of an ordering whose "then"
    /// is its group's (clone's) pseudo action: applied with that ordering, as
    /// Pacemaker's group and clone update methods pass it on (`pass_to_members`).
    pub member: bool,
}

pub(crate) struct Graph {
    pub acts: Vec<Act>,
    pub edges: Vec<Edge>,
    /// Per primitive: its start (on the assigned node) and stops (per active node).
    pub start_of: Vec<Option<usize>>,
    pub stops_of: Vec<Vec<usize>>,
    /// Per group: start, running, stop, stopped pseudo actions.
    pub group_acts: Vec<[usize; 4]>,
    /// Per clone: the same four pseudo actions.
    pub clone_acts: Vec<[usize; 4]>,
    /// Per promotable clone: promote, promoted, demote, demoted pseudo actions.
    pub promo_acts: Vec<[usize; 4]>,
    /// Per primitive: its promote and demote, if any.
    pub promote_of: Vec<Option<usize>>,
    pub demote_of: Vec<Option<usize>>,
    /// Mandatory interleaved orderings (first clone, then clone), kept to find
    /// the "then" instances left without a partner on their node: those must not
    /// run after all (see `unassign_instances`).
    pub interleaved: Vec<(usize, usize)>,
    /// Every interleaved ordering between clones, as (first clone, its action,
    /// then clone, its action, flags): a notifying first clone orders the then
    /// clone's own action after its notifications (`notify.rs`).
    pub interleaved_orders: Vec<(usize, OrderAction, usize, OrderAction, u32)>,
    /// `clone-min` orderings' pseudo actions (`clone_min.rs`).
    pub one_or_more: Vec<crate::clone_min::OneOrMore>,
    /// Optional actions that are in the transition all the same: the start of a
    /// resource whose start is pending (Pacemaker's create_pending_start), so
    /// that what follows that start waits for it.
    pub always_in_graph: Vec<usize>,
    /// Unrunnable but optional starts whose colocation dependents are blocked
    /// once they turn out required, or after the first pass (`coloc_block.rs`).
    pub block_later: Vec<usize>,
    /// Runnable probes (primitive, node). They are always scheduled and never
    /// change another action's flags, so they stay out of the propagation and
    /// are only materialized in the transition.
    pub probes: Vec<(usize, usize)>,
    /// Per node: its unfencing, when something waits for it (`unfence.rs`;
    /// empty when unfencing is not in use).
    pub unfence_of: Vec<Option<usize>>,
    /// Anti-colocation orderings (primitive that stops, then action), see
    /// `probe_order.rs`.
    pub anti_orders: Vec<(usize, usize)>,
    /// "Probe A, then X" orderings, sorted by primitive (see `probe_order.rs`).
    pub probe_thens: Vec<crate::probe_order::ProbeThen>,
    /// Reloads (primitive, action), see `digest.rs`.
    pub reloads: Vec<(usize, usize)>,
    /// Stopped-role monitors (primitive, action), see `stopped_monitors.rs`.
    pub stopped_monitors: Vec<(usize, usize)>,
    /// Live migrations (`migration.rs`).
    pub migrations: Vec<crate::migration::Migration>,
}

impl Graph {
    pub(crate) fn add(&mut self, a: Act) -> usize {
        self.acts.push(a);
        self.acts.len() - 1
    }

    pub(crate) fn order(&mut self, first: usize, then: usize, flags: u32) {
        self.edges.push(Edge {
            first,
            then,
            flags,
            member: false,
        });
    }

    /// Orders a member's (an instance's) action after `first` as a copy of the
    /// ordering onto its group's (clone's) pseudo action (see `Edge::member`).
    pub(crate) fn order_member(&mut self, first: usize, then: usize, flags: u32) {
        self.edges.push(Edge {
            first,
            then,
            flags,
            member: true,
        });
    }
}

fn set_reason(a: &mut Act, r: String) {
    if a.reason.is_none() {
        a.reason = Some(r);
    }
}

impl Sched<'_> {
    /// Pacemaker's rsc_is_known_on: whether node `n`'s state of `p` is known —
    /// its own history, or for an instance of an anonymous clone of a primitive
    /// any instance's (not for a cloned group, which may be only partly known).
    fn known_on(&self, p: usize, n: usize) -> bool {
        let prim = &self.prims[p];
        if prim.probed[n] {
            return true;
        }
        match prim.clone {
            Some(ci) if !self.clones[ci].unique && prim.group.is_none() => self.clones[ci]
                .instances
                .iter()
                .any(|&q| self.prims[q].probed[n]),
            _ => false,
        }
    }

    /// Whether an action that needs quorum can run for this primitive.
    fn quorum_block(&self, p: usize) -> Option<&'static str> {
        if self.quorate || !self.prims[p].needs_quorum {
            return None;
        }
        match self.nqp {
            hactl_model::NoQuorumPolicy::Ignore => None,
            hactl_model::NoQuorumPolicy::Freeze => {
                let prim = &self.prims[p];
                let next_higher = prim.orig_role == Role::Stopped
                    && prim.next_role == Some(Role::Started)
                    && prim.target_role == Some(Role::Started);
                if prim.active.is_empty() || next_higher {
                    Some("quorum freeze")
                } else {
                    None
                }
            }
            _ => Some("no quorum"),
        }
    }

    pub(crate) fn new_rsc_action(
        &self,
        p: usize,
        task: Task,
        node: Option<usize>,
        optional: bool,
    ) -> Act {
        let mut a = Act {
            rsc: Some(RscRef::P(p)),
            task,
            node,
            optional,
            runnable: true,
            pseudo: false,
            reason: None,
        };
        if !self.prims[p].managed && !matches!(task, Task::Monitor(_)) {
            a.optional = true;
        }
        match node {
            None => a.runnable = false,
            Some(n) => {
                let nd = &self.nodes[n];
                let stopping = matches!(task, Task::Stop | Task::Demote);
                if stopping && nd.guest_reset {
                    // Implied by the guest's fencing (its container's recovery),
                    // even if the guest comes back this transition.
                    a.pseudo = true;
                } else if !nd.online {
                    // A stop on an unclean node that will be fenced is implied by
                    // the fencing.
                    if stopping && nd.unclean && self.can_fence(n) {
                        a.pseudo = true;
                    } else {
                        a.runnable = false;
                    }
                } else if nd.pending {
                    a.runnable = false;
                } else if matches!(task, Task::Stop | Task::Demote) && nd.unclean {
                    if self.can_fence(n) {
                        a.pseudo = true;
                    } else {
                        a.runnable = false;
                    }
                } else if matches!(task, Task::Start) {
                    if let Some(why) = self.quorum_block(p) {
                        a.runnable = false;
                        a.reason = Some(why.to_string());
                    }
                }
            }
        }
        a
    }

    /// Builds the action graph from the placement.
    pub(crate) fn build_graph(&mut self) -> Graph {
        self.hide_undiscovered();
        let np = self.prims.len();
        // Roughly what a cluster that is mostly settled needs (a stop, start or
        // monitor per primitive), to avoid regrowing the largest vectors.
        let mut g = Graph {
            acts: Vec::with_capacity(np * 2),
            edges: Vec::with_capacity(np * 2),
            start_of: vec![None; np],
            stops_of: vec![Vec::new(); np],
            group_acts: Vec::new(),
            clone_acts: Vec::new(),
            promo_acts: Vec::new(),
            promote_of: vec![None; np],
            demote_of: vec![None; np],
            interleaved: Vec::new(),
            interleaved_orders: Vec::new(),
            one_or_more: Vec::new(),
            always_in_graph: Vec::new(),
            block_later: Vec::new(),
            probes: Vec::new(),
            unfence_of: Vec::new(),
            anti_orders: Vec::new(),
            probe_thens: Vec::new(),
            reloads: Vec::new(),
            stopped_monitors: Vec::new(),
            migrations: Vec::new(),
        };
        // Fencing.
        let mut fence_of = vec![None; self.nodes.len()];
        for (n, slot) in fence_of.iter_mut().enumerate() {
            if self.nodes[n].unclean && self.can_fence(n) {
                *slot = Some(self.fence_action(n, &mut g));
            }
        }
        // Actions in resource order: a group's members, then its pseudo actions.
        g.group_acts = vec![[usize::MAX; 4]; self.groups.len()];
        g.clone_acts = vec![[usize::MAX; 4]; self.clones.len()];
        g.promo_acts = vec![[usize::MAX; 4]; self.clones.len()];
        for r in self.top.clone() {
            match r {
                RscRef::P(p) => self.create_prim_actions(p, &mut g),
                RscRef::G(gi) => {
                    for m in self.groups[gi].members.clone() {
                        self.create_prim_actions(m, &mut g);
                    }
                    g.group_acts[gi] = group_pseudo_actions(gi, &mut g);
                }
                RscRef::C(ci) if !self.clones[ci].instance_groups.is_empty() => {
                    self.create_group_instance_actions(ci, &mut g);
                    g.clone_acts[ci] = self.clone_pseudo_actions(ci, &mut g);
                    if self.clones[ci].promotable {
                        g.promo_acts[ci] = self.promotable_pseudo_actions(ci, &mut g);
                    }
                }
                RscRef::C(ci) => {
                    for p in self.clones[ci].instances.clone() {
                        self.create_prim_actions(p, &mut g);
                    }
                    g.clone_acts[ci] = self.clone_pseudo_actions(ci, &mut g);
                    if self.clones[ci].promotable {
                        g.promo_acts[ci] = self.promotable_pseudo_actions(ci, &mut g);
                    }
                }
            }
        }
        self.fence_unrecoverable_remotes(&mut g, &mut fence_of);
        crate::fence_order::order_fencing(self, &mut g, &fence_of);
        self.add_guest_fencing(&mut g, &mut fence_of);
        // Fencing before the implied stops of what needs fencing (Pacemaker's
        // order_stop_vs_fencing orders only those after it).
        for p in 0..np {
            if !self.prims[p].needs_fencing {
                continue;
            }
            for s in g.stops_of[p].clone() {
                if let Some(n) = g.acts[s].node {
                    if let Some(f) = fence_of[n] {
                        g.order(f, s, ORDERED | FIRST_IMPLIES_THEN);
                    }
                }
            }
        }
        // Resources that need fencing start only after all pending fencing. Those
        // that need only quorum (fence devices by default, `requires=quorum`): as
        // in Pacemaker, their start waits only for the fencing of a node they may
        // run on but whose state of them is unknown.
        let fences: Vec<(usize, usize)> = fence_of
            .iter()
            .enumerate()
            .filter_map(|(n, f)| Some((n, (*f)?)))
            .collect();
        for p in 0..np {
            let Some(s) = g.start_of[p] else { continue };
            let prim = &self.prims[p];
            for &(n, f) in &fences {
                if prim.needs_fencing || (!self.known_on(p, n) && prim.allowed[n].is_some()) {
                    g.order(f, s, ORDERED);
                }
            }
        }
        // Group pseudo actions and the members' chain.
        for gi in 0..self.groups.len() {
            let ids = g.group_acts[gi];
            let [gstart, grunning, gstop, gstopped] = ids;
            g.order(gstop, gstopped, UNRUNNABLE_FIRST_BLOCKS);
            g.order(gstopped, gstart, ORDERED);
            g.order(gstart, grunning, UNRUNNABLE_FIRST_BLOCKS);
            let members = self.groups[gi].members.clone();
            let ordered = self.group_is_ordered(gi);
            let mut prev: Option<usize> = None;
            let mut last_active: Option<usize> = None;
            for &m in &members {
                if !self.prims[m].managed {
                    // An unmanaged member that cannot stop still holds back the
                    // stops of the members before it (they stop after it).
                    if let Some(pm) = prev {
                        for &s in &g.stops_of[m].clone() {
                            for &ps in &g.stops_of[pm].clone() {
                                g.order(s, ps, ORDERED | INTERMEDIATE_STOP);
                            }
                        }
                    }
                    prev = Some(m);
                    continue;
                }
                // Unordered: every member is framed like a later one of an ordered
                // group, and started as soon as the group starts.
                let first_member = prev.is_none() && ordered;
                for &s in &g.stops_of[m].clone() {
                    let down = if first_member {
                        THEN_IMPLIES_FIRST | ORDERED
                    } else {
                        THEN_IMPLIES_FIRST
                    };
                    g.order(gstop, s, down);
                    let post = if first_member { FIRST_IMPLIES_THEN } else { 0 };
                    g.order(s, gstopped, post);
                }
                if let Some(st) = g.start_of[m] {
                    let up = if ordered {
                        ORDERED
                    } else {
                        ORDERED | FIRST_IMPLIES_THEN | UNRUNNABLE_FIRST_BLOCKS
                    };
                    g.order(gstart, st, up);
                    g.order(st, grunning, UNRUNNABLE_FIRST_BLOCKS | FIRST_IMPLIES_THEN);
                }
                if let Some(pm) = prev.filter(|_| ordered) {
                    let pstart = self.start_or_placeholder(pm, &mut g);
                    if let Some(st) = g.start_of[m] {
                        g.order(pstart, st, FIRST_IMPLIES_THEN | UNRUNNABLE_FIRST_BLOCKS);
                    }
                    for &s in &g.stops_of[m].clone() {
                        for &ps in &g.stops_of[pm].clone() {
                            g.order(s, ps, ORDERED | INTERMEDIATE_STOP);
                        }
                    }
                    self.order_member_migrations(pm, m, &mut g);
                }
                // Across stopped members too: a member stops before the last
                // earlier member that is active (Pacemaker's group stop order).
                if let Some(la) = last_active.filter(|&la| Some(la) != prev) {
                    for &s in &g.stops_of[m].clone() {
                        for &ls in &g.stops_of[la].clone() {
                            g.order(s, ls, ORDERED);
                        }
                    }
                }
                if !g.stops_of[m].is_empty() {
                    last_active = Some(m);
                }
                prev = Some(m);
            }
        }
        self.clone_internal_orders(&mut g);
        self.promotable_orders(&mut g);
        self.order_constraints(&mut g);
        self.bundle_orders(&mut g);
        self.bundle_connection_probes(&mut g);
        self.anti_colocation_orders(&mut g);
        self.order_unfencing(&mut g);
        self.unassign_instances(&mut g);
        self.order_remote_actions(&mut g);
        propagate(self, &mut g);
        self.drop_moot_reloads(&mut g);
        g.probe_thens = self.probe_thens(&mut g);
        self.order_guest_probe_skips(&mut g);
        self.stopped_monitor_probe_orders(&mut g);
        self.finish_migrations(&mut g);
        self.utilization_orders(&mut g);
        g
    }

    /// The start action of a primitive, or an unrunnable placeholder when it has
    /// none (so that orderings after it see "cannot start").
    pub(crate) fn start_or_placeholder(&self, p: usize, g: &mut Graph) -> usize {
        if let Some(s) = g.start_of[p] {
            return s;
        }
        let a = Act {
            rsc: Some(RscRef::P(p)),
            task: Task::Start,
            node: None,
            optional: true,
            runnable: false,
            pseudo: false,
            reason: None,
        };
        let i = g.add(a);
        g.start_of[p] = Some(i);
        i
    }

    pub(crate) fn create_prim_actions(&mut self, p: usize, g: &mut Graph) {
        // Default next role.
        if self.prims[p].next_role.is_none() {
            self.prims[p].next_role = Some(if self.prims[p].assigned.is_some() {
                Role::Started
            } else {
                Role::Stopped
            });
        }
        let prim = &self.prims[p];
        let current = prim.active.first().copied();
        let assigned = prim.assigned;
        let next_role = prim.next_role.unwrap_or(Role::Stopped);
        let orig_role = prim.orig_role;
        let mut need_stop = false;
        let is_moving = current.is_some()
            && assigned.is_some()
            && current != assigned
            && next_role == Role::Started;
        if is_moving {
            need_stop = true;
        }
        if prim.active.len() > 1 || prim.def_change.restart || prim.partial_restart {
            need_stop = true;
        }
        if !is_moving {
            if prim.failed {
                if prim.stop_if_failed {
                    need_stop = true;
                }
            } else if prim.blocked {
                need_stop = true;
            }
        }
        let blocked = prim.blocked;
        // Bring the resource down (optionally) on its current nodes, and back up.
        if orig_role == Role::Started {
            self.stop_resource(p, !need_stop, g);
            if next_role == Role::Started && !blocked {
                if let Some(n) = assigned {
                    self.start_resource(p, n, !need_stop, g);
                }
            }
        }
        // Then the role transition itself.
        match (orig_role, next_role) {
            (Role::Stopped, Role::Started) => {
                if let Some(n) = assigned {
                    self.start_resource(p, n, false, g);
                }
            }
            (Role::Started, Role::Stopped) => self.stop_resource(p, false, g),
            _ => {}
        }
        if self.prims[p].def_change.params_changed {
            if let Some(st) = g.start_of[p] {
                set_reason(&mut g.acts[st], "resource definition change".into());
            }
        }
        // Restart ordering: stops before the start.
        if self.prims[p].managed {
            if let Some(st) = g.start_of[p] {
                for &s in &g.stops_of[p].clone() {
                    g.order(s, st, ORDERED | FIRST_IMPLIES_THEN | INTERMEDIATE_STOP);
                }
            }
        }
        if self.prims[p]
            .clone
            .is_some_and(|ci| self.clones[ci].promotable)
        {
            self.create_role_actions(p, g);
        }
        self.create_pending_start(p, g);
        self.create_probes(p, g);
        let reload = self.create_reload(p, g);
        self.create_monitors(p, g, reload);
        self.create_cancels(p, g);
        self.create_cleanups(p, g);
        self.create_stopped_monitors(p, g);
        self.create_migration(p, g);
    }

    fn stop_resource(&mut self, p: usize, optional: bool, g: &mut Graph) {
        let active = self.prims[p].active.clone();
        for n in active {
            if self.stays_where_expected(p, n) {
                continue;
            }
            let existing = g.stops_of[p]
                .iter()
                .copied()
                .find(|&s| g.acts[s].node == Some(n));
            let s = match existing {
                Some(s) => {
                    if !optional && self.prims[p].managed {
                        g.acts[s].optional = false;
                    }
                    s
                }
                None => {
                    let a = self.new_rsc_action(p, Task::Stop, Some(n), optional);
                    let i = g.add(a);
                    g.stops_of[p].push(i);
                    i
                }
            };
            if self.prims[p].assigned.is_none() {
                g.acts[s].reason = Some("node availability".into());
            } else if self.stopping_unexpected(p) {
                g.acts[s].reason = Some("being multiply active".into());
            }
            if !self.prims[p].managed {
                g.acts[s].runnable = false;
            }
        }
    }

    fn start_resource(&mut self, p: usize, n: usize, optional: bool, g: &mut Graph) {
        let s = match g.start_of[p] {
            Some(s) => s,
            None => {
                let a = self.new_rsc_action(p, Task::Start, Some(n), true);
                let i = g.add(a);
                g.start_of[p] = Some(i);
                i
            }
        };
        if g.acts[s].runnable && !optional && self.prims[p].managed {
            g.acts[s].optional = false;
        }
        // It keeps running there: the start only stands for it in the graph.
        if self.stays_where_expected(p, n) {
            g.acts[s].pseudo = true;
        }
    }

    /// A start that is pending where the resource stays is in the transition,
    /// optional, as a real action (Pacemaker's create_pending_start): its
    /// recurring monitors and the clone's "running" wait for it.
    fn create_pending_start(&mut self, p: usize, g: &mut Graph) {
        let prim = &self.prims[p];
        if !prim.start_pending || prim.next_role != Some(Role::Started) {
            return;
        }
        let Some(n) = prim.assigned else { return };
        self.start_resource(p, n, true, g);
        if let Some(s) = g.start_of[p].filter(|&s| g.acts[s].node == Some(n)) {
            g.acts[s].pseudo = false;
            g.always_in_graph.push(s);
        }
    }

    fn create_probes(&self, p: usize, g: &mut Graph) {
        let prim = &self.prims[p];
        // A contained resource can only run inside its container: not probed
        // (a guest node's connection is).
        if prim.orphan || (self.container_of(p).is_some() && !self.is_connection(p)) {
            return;
        }
        // A bundle replica's connection is probed once its container runs
        // (bundle_nodes.rs).
        if self.is_bundle_connection(p) {
            return;
        }
        for n in 0..self.nodes.len() {
            let nd = &self.nodes[n];
            if prim.probed[n] || !nd.online || nd.unclean || nd.maintenance {
                continue;
            }
            if !self.probes_on_remote(p, n) || !self.probes_on_guest(p, n) || !self.discovers(p, n)
            {
                continue;
            }
            if !self.probes_instance(p, n) || !self.bundle_probes(p, n) {
                continue;
            }
            // A pending node cannot run the probe yet.
            let runnable = !nd.pending;
            if runnable {
                g.probes.push((p, n));
                continue;
            }
            let a = Act {
                rsc: Some(RscRef::P(p)),
                task: Task::Probe,
                node: Some(n),
                optional: false,
                runnable,
                pseudo: false,
                reason: None,
            };
            let i = g.add(a);
            if let Some(st) = g.start_of[p] {
                // Don't start what could not be probed, unless it already runs.
                let flags = if !runnable && prim.active.is_empty() {
                    ORDERED | UNRUNNABLE_FIRST_BLOCKS
                } else {
                    ORDERED
                };
                g.order(i, st, flags);
            }
        }
    }

    fn create_monitors(&self, p: usize, g: &mut Graph, reload: Option<usize>) {
        let prim = &self.prims[p];
        let Some(def) = prim.def else { return };
        // An unmanaged resource keeps being monitored where it runs (Pacemaker
        // schedules its recurring monitors), unless it is blocked or in
        // maintenance (nothing runs for it then).
        if !prim.managed && (prim.blocked || prim.maintenance) {
            return;
        }
        let Some(n) = prim.assigned else { return };
        if prim.next_role != Some(Role::Started) {
            return;
        }
        let start = g.start_of[p];
        let start_needed = start.is_some_and(|s| !g.acts[s].optional);
        let start_runnable = start.is_some_and(|s| g.acts[s].runnable);
        for op in &def.ops {
            if op.name != "monitor" || op.interval_ms == 0 || op.enabled == Some(false) {
                continue;
            }
            // Two monitors with one interval (even for different roles) are a
            // configuration error Pacemaker schedules neither of.
            let same =
                |o: &&hactl_model::OpSpec| o.name == op.name && o.interval_ms == op.interval_ms;
            if def.ops.iter().filter(same).count() > 1 {
                continue;
            }
            // Monitors of the role the resource will have (a promoted instance
            // runs the Promoted ones only).
            let promoted_op = op.role == Some(Role::Promoted);
            if op.role == Some(Role::Stopped) || promoted_op != prim.promote {
                continue;
            }
            // What is not promotable never has the Unpromoted role (Pacemaker
            // matches an op's role with the resource's next role exactly).
            let promotable = prim.clone.is_some_and(|ci| self.clones[ci].promotable);
            if op.role == Some(Role::Unpromoted) && !promotable {
                continue;
            }
            // A monitor already running is only needed again if the start is (a
            // restart found required later, when ordering spreads "required").
            // A monitor whose definition changed is scheduled again.
            let running = prim.running_monitors.contains(&(n, op.interval_ms))
                && !prim.def_change.reschedule.contains(&(n, op.interval_ms));
            // A role change needs the new role's monitor.
            let role_changing = [g.promote_of[p], g.demote_of[p]]
                .into_iter()
                .flatten()
                .any(|a| !g.acts[a].optional);
            if running && start.is_none() && !role_changing && reload.is_none() {
                continue;
            }
            let optional = running && !start_needed && !role_changing && reload.is_none();
            let a = Act {
                rsc: Some(RscRef::P(p)),
                task: Task::Monitor(op.interval_ms),
                node: Some(n),
                optional,
                runnable: start_runnable || start.is_none(),
                pseudo: false,
                reason: None,
            };
            let i = g.add(a);
            if let Some(st) = start {
                g.order(
                    st,
                    i,
                    ORDERED | UNRUNNABLE_FIRST_BLOCKS | FIRST_IMPLIES_THEN,
                );
            }
            Sched::monitor_after_reload(reload, i, g);
            // After the role change that makes it the right monitor.
            let role_change = if prim.promote {
                g.promote_of[p]
            } else {
                g.demote_of[p]
            };
            if let Some(rc) = role_change {
                g.order(rc, i, ORDERED | UNRUNNABLE_FIRST_BLOCKS);
            }
        }
    }

    /// The actions an order constraint names for a resource.
    pub(crate) fn order_targets(
        &self,
        r: RscRef,
        action: OrderAction,
        as_first: bool,
        g: &mut Graph,
    ) -> Vec<usize> {
        if let RscRef::C(ci) = r {
            if let Some(acts) = self.bundle_promotion_targets(ci, action, as_first, g) {
                return acts;
            }
        }
        match r {
            RscRef::P(p) => match action {
                OrderAction::Start | OrderAction::Promote => vec![self.start_or_placeholder(p, g)],
                OrderAction::Stop | OrderAction::Demote => g.stops_of[p].clone(),
            },
            RscRef::C(ci)
                if self.clones[ci].promotable
                    && matches!(action, OrderAction::Promote | OrderAction::Demote) =>
            {
                let [promote, promoted, demote, demoted] = g.promo_acts[ci];
                match (action, as_first) {
                    (OrderAction::Promote, true) => vec![promoted],
                    (OrderAction::Promote, false) => vec![promote],
                    (_, true) => vec![demoted],
                    (_, false) => vec![demote],
                }
            }
            RscRef::G(_) | RscRef::C(_) => {
                let [gstart, grunning, gstop, gstopped] = match r {
                    RscRef::G(gi) => g.group_acts[gi],
                    RscRef::C(ci) => g.clone_acts[ci],
                    RscRef::P(_) => unreachable!("primitives are matched above"),
                };
                match (action, as_first) {
                    (OrderAction::Start | OrderAction::Promote, true) => vec![grunning],
                    (OrderAction::Start | OrderAction::Promote, false) => vec![gstart],
                    (OrderAction::Stop | OrderAction::Demote, true) => vec![gstopped],
                    (OrderAction::Stop | OrderAction::Demote, false) => vec![gstop],
                }
            }
        }
    }

    fn order_constraints(&self, g: &mut Graph) {
        let cib = self.cib;
        for oc in &cib.config.constraints.order {
            let (Some(&first), Some(&then)) = (
                self.by_id.get(oc.first.as_str()),
                self.by_id.get(oc.then.as_str()),
            ) else {
                continue;
            };
            let sym = oc.is_symmetrical();
            let flags = match oc.kind {
                OrderKind::Optional | OrderKind::Serialize => ORDERED,
                OrderKind::Mandatory => {
                    if sym {
                        let mut f = ORDERED | FIRST_IMPLIES_THEN;
                        if matches!(oc.first_action, OrderAction::Start | OrderAction::Promote) {
                            f |= UNRUNNABLE_FIRST_BLOCKS;
                        }
                        f
                    } else {
                        ORDERED | ASYMMETRIC
                    }
                }
            };
            match (first, self.clone_min_of_order(first, oc)) {
                (RscRef::C(ci), Some(min)) => self.clone_min_order(
                    &oc.id,
                    ci,
                    oc.first_action,
                    then,
                    oc.then_action,
                    flags,
                    min,
                    g,
                ),
                _ => match oc.one_or_more.as_deref() {
                    Some(set)
                        if matches!(oc.first_action, OrderAction::Start | OrderAction::Promote) =>
                    {
                        self.one_or_more_order(oc, set, first, then, flags, g)
                    }
                    _ => self.add_order(first, oc.first_action, then, oc.then_action, flags, g),
                },
            }
            self.order_migration_equivalents(first, oc.first_action, then, oc.then_action, g);
            if sym && oc.kind != OrderKind::Serialize {
                let inv = |a: OrderAction| match a {
                    OrderAction::Start => OrderAction::Stop,
                    OrderAction::Stop => OrderAction::Start,
                    OrderAction::Promote => OrderAction::Demote,
                    OrderAction::Demote => OrderAction::Promote,
                };
                let iflags = match oc.kind {
                    OrderKind::Mandatory => ORDERED | THEN_IMPLIES_FIRST,
                    _ => ORDERED,
                };
                self.add_order(
                    then,
                    inv(oc.then_action),
                    first,
                    inv(oc.first_action),
                    iflags,
                    g,
                );
                self.order_migration_equivalents(
                    then,
                    inv(oc.then_action),
                    first,
                    inv(oc.first_action),
                    g,
                );
            }
        }
    }

    fn add_order(
        &self,
        first: RscRef,
        fa: OrderAction,
        then: RscRef,
        ta: OrderAction,
        flags: u32,
        g: &mut Graph,
    ) {
        if self.clone_order(first, fa, then, ta, flags, g) {
            return;
        }
        let firsts = self.order_targets(first, fa, true, g);
        let thens = self.order_thens(then, ta, g);
        for &f in &firsts {
            for &t in &thens {
                if self.member_action(t, then, g) {
                    g.order_member(f, t, flags);
                } else {
                    g.order(f, t, flags);
                }
            }
        }
    }

    /// Whether action `t` belongs to a member of `then` (not to `then` itself).
    fn member_action(&self, t: usize, then: RscRef, g: &Graph) -> bool {
        g.acts[t].rsc.is_some_and(|r| self.within(r, then))
    }

    /// The actions an ordering's "then" side names.
    pub(crate) fn order_thens(&self, then: RscRef, ta: OrderAction, g: &mut Graph) -> Vec<usize> {
        let mut thens = self.order_targets(then, ta, false, g);
        // An ordering on a group action also updates its members' actions.
        if let RscRef::G(gi) = then {
            for &m in &self.groups[gi].members {
                match ta {
                    OrderAction::Start | OrderAction::Promote => {
                        if let Some(s) = g.start_of[m] {
                            thens.push(s);
                        }
                    }
                    _ => thens.extend(g.stops_of[m].iter().copied()),
                }
            }
        }
        thens
    }
}

/// A group's start/running/stop/stopped pseudo actions.
pub(crate) fn group_pseudo_actions(gi: usize, g: &mut Graph) -> [usize; 4] {
    pseudo_actions(
        RscRef::G(gi),
        [Task::GStart, Task::GRunning, Task::GStop, Task::GStopped],
        g,
    )
}

/// A collective's (group's or clone's) own pseudo actions for `tasks`: optional and
/// runnable until their members say otherwise.
pub(crate) fn pseudo_actions(rsc: RscRef, tasks: [Task; 4], g: &mut Graph) -> [usize; 4] {
    tasks.map(|task| {
        g.add(Act {
            rsc: Some(rsc),
            task,
            node: None,
            optional: true,
            runnable: true,
            pseudo: true,
            reason: None,
        })
    })
}

/// Refreshes a group pseudo action from its members: required if any member's
/// matching action is, and ("running"/"stopped") unrunnable if any member's is.
fn refresh_group(s: &Sched<'_>, g: &mut Graph, a: usize) -> bool {
    let gi = match g.acts[a].rsc {
        Some(RscRef::G(gi)) => gi,
        Some(RscRef::C(ci)) => return crate::clone_actions::refresh_clone(s, g, a, ci),
        None => {
            return match g.acts[a].task {
                Task::OneOrMore(k) => crate::clone_min::refresh(g, a, k),
                _ => false,
            }
        }
        _ => return false,
    };
    let (is_start, check_runnable) = match g.acts[a].task {
        Task::GStart => (true, false),
        Task::GRunning => (true, true),
        Task::GStop => (false, false),
        Task::GStopped => (false, true),
        _ => return false,
    };
    let mut optional = g.acts[a].optional;
    let mut runnable = g.acts[a].runnable;
    for &m in &s.groups[gi].members {
        let acts: &[usize] = if is_start {
            g.start_of[m].as_slice()
        } else {
            &g.stops_of[m]
        };
        if acts.is_empty() && is_start && check_runnable {
            runnable = false;
        }
        for &x in acts {
            if !g.acts[x].optional {
                optional = false;
            }
            if check_runnable && !g.acts[x].runnable {
                runnable = false;
            }
        }
    }
    let changed = optional != g.acts[a].optional || runnable != g.acts[a].runnable;
    g.acts[a].optional = optional;
    g.acts[a].runnable = runnable;
    changed
}

/// Edges by action, in compressed form (one flat array per direction). Each
/// action's edges are listed newest first, as Pacemaker keeps them (it prepends):
/// the order decides which cause a change is attributed to, e.g. a group member's
/// restart is "due to required <previous member> start", not to its own stop.
struct Adjacency {
    in_start: Vec<usize>,
    in_edges: Vec<usize>,
    out_start: Vec<usize>,
    out_edges: Vec<usize>,
    /// Member copies (`Edge::member`) by their first action and the group or
    /// clone they reach the members of, in member order (see `index_copies`).
    copies: std::collections::BTreeMap<(usize, RscRef), Vec<usize>>,
}

impl Adjacency {
    fn new(n: usize, edges: &[Edge]) -> Adjacency {
        let build = |key: &dyn Fn(&Edge) -> usize| {
            let mut start = vec![0usize; n + 1];
            for e in edges {
                start[key(e) + 1] += 1;
            }
            for i in 0..n {
                start[i + 1] += start[i];
            }
            let mut fill = start.clone();
            let mut flat = vec![0usize; edges.len()];
            for (i, e) in edges.iter().enumerate().rev() {
                let k = key(e);
                flat[fill[k]] = i;
                fill[k] += 1;
            }
            (start, flat)
        };
        let (in_start, in_edges) = build(&|e: &Edge| e.then);
        let (out_start, out_edges) = build(&|e: &Edge| e.first);
        Adjacency {
            in_start,
            in_edges,
            out_start,
            out_edges,
            copies: std::collections::BTreeMap::new(),
        }
    }

    /// Indexes the member copies under each group or clone their action belongs
    /// to, a group instance's own action before its members' (the order
    /// Pacemaker's update methods go down a clone in).
    fn index_copies(&mut self, s: &Sched<'_>, g: &Graph) {
        let mut clone_of_group = vec![None; s.groups.len()];
        for (ci, c) in s.clones.iter().enumerate() {
            for &gi in &c.instance_groups {
                clone_of_group[gi] = Some(ci);
            }
        }
        for (ei, e) in g.edges.iter().enumerate().filter(|(_, e)| e.member) {
            let parents = match g.acts[e.then].rsc {
                Some(RscRef::P(p)) => [
                    s.prims[p].group.map(RscRef::G),
                    s.prims[p].clone.map(RscRef::C),
                ],
                Some(RscRef::G(gi)) => [clone_of_group[gi].map(RscRef::C), None],
                _ => [None, None],
            };
            for parent in parents.into_iter().flatten() {
                self.copies.entry((e.first, parent)).or_default().push(ei);
            }
        }
        for list in self.copies.values_mut() {
            list.sort_by_key(|&ei| {
                let t = g.edges[ei].then;
                (matches!(g.acts[t].rsc, Some(RscRef::P(_))), t)
            });
        }
    }

    fn copies(&self, first: usize, parent: RscRef) -> &[usize] {
        self.copies.get(&(first, parent)).map_or(&[], |v| v)
    }

    fn incoming(&self, a: usize) -> &[usize] {
        &self.in_edges[self.in_start[a]..self.in_start[a + 1]]
    }

    fn outgoing(&self, a: usize) -> &[usize] {
        &self.out_edges[self.out_start[a]..self.out_start[a + 1]]
    }
}

/// Re-evaluates the orderings into `a`, and whatever follows from changes, in the
/// order Pacemaker does (which decides the reason text a change is attributed to).
fn update(s: &Sched<'_>, g: &mut Graph, adj: &Adjacency, a: usize, depth: usize) {
    if depth > 512 {
        // Deep cascades are finished by the final fixpoint pass.
        return;
    }
    let mut then_changed = false;
    for &ei in adj.incoming(a) {
        let e = g.edges[ei];
        if e.member {
            continue;
        }
        // A group's or clone's pseudo action takes its flags from its members
        // here, as Pacemaker computes them for the ordering; that alone is no
        // change to spread (Pacemaker does not count it as one).
        refresh_group(s, g, e.first);
        refresh_group(s, g, e.then);
        let (fc, tc) = apply_with_members(s, g, adj, e, depth);
        then_changed |= tc;
        if fc {
            for &oe in adj.outgoing(e.first) {
                let next = g.edges[oe].then;
                if next != a {
                    update(s, g, adj, next, depth + 1);
                } else if reapply(s, g, oe) {
                    then_changed = true;
                    for &ae in adj.outgoing(a) {
                        update(s, g, adj, g.edges[ae].then, depth + 1);
                    }
                }
            }
            update(s, g, adj, e.first, depth + 1);
        }
    }
    if then_changed {
        update(s, g, adj, a, depth + 1);
        for &oe in adj.outgoing(a) {
            let next = g.edges[oe].then;
            update(s, g, adj, next, depth + 1);
        }
    }
}

/// Applies ordering `e` and its member copies: (first changed, then or a
/// member changed). Pacemaker passes "required" down to every member before
/// "unrunnable" (one flag after the other, each to the whole resource): a
/// member's start made required restarts it, and the next member's is then
/// "due to required <member> start" (CTS case cloned-group-stop).
fn apply_with_members(
    s: &Sched<'_>,
    g: &mut Graph,
    adj: &Adjacency,
    e: Edge,
    depth: usize,
) -> (bool, bool) {
    let (mut fc, mut tc) = (false, false);
    if e.flags & UNRUNNABLE_FIRST_BLOCKS != 0 && has_members(g, e.then) {
        let required_only = Edge {
            flags: e.flags & !UNRUNNABLE_FIRST_BLOCKS,
            ..e
        };
        let (f1, t1) = apply_edge(s, g, required_only);
        fc |= f1;
        tc |= t1;
        tc |= pass_to_members(s, g, adj, e, !UNRUNNABLE_FIRST_BLOCKS, depth);
    }
    let (f2, t2) = apply_edge(s, g, e);
    fc |= f2;
    tc |= t2;
    tc |= pass_to_members(s, g, adj, e, !0, depth);
    (fc, tc)
}

/// Re-applies ordering `ei` into the action being updated after its "first"
/// changed (Pacemaker re-evaluates all of first's "then" actions, this one
/// included): whether "then" changed.
fn reapply(s: &Sched<'_>, g: &mut Graph, ei: usize) -> bool {
    let e = g.edges[ei];
    !e.member && apply_edge(s, g, e).1
}

/// Applies the member copies of ordering `e` (into a group's or clone's pseudo
/// action), member by member, re-evaluating each changed member's own orderings
/// before the next member's copy, as Pacemaker's group and clone update methods
/// do. The order decides the reasons: a member made unrunnable restarts, which
/// makes its start required, and the next member's start is then "due to
/// required <member> start" (CTS case bug-1718). Whether anything changed.
fn pass_to_members(
    s: &Sched<'_>,
    g: &mut Graph,
    adj: &Adjacency,
    e: Edge,
    mask: u32,
    depth: usize,
) -> bool {
    if !has_members(g, e.then) {
        return false;
    }
    let Some(parent) = g.acts[e.then].rsc else {
        return false;
    };
    let mut changed = false;
    for &ei in adj.copies(e.first, parent) {
        let c = Edge {
            flags: g.edges[ei].flags & mask,
            ..g.edges[ei]
        };
        refresh_group(s, g, c.then);
        let (_, tc) = apply_edge(s, g, c);
        if tc {
            changed = true;
            update(s, g, adj, c.then, depth + 1);
        }
    }
    changed
}

/// Whether action `a` is a group's or clone's pseudo action (which orderings
/// reach the members of).
fn has_members(g: &Graph, a: usize) -> bool {
    matches!(g.acts[a].rsc, Some(RscRef::G(_) | RscRef::C(_)))
}

/// Spreads "required" and "unrunnable" along the edges until nothing changes.
fn propagate(s: &Sched<'_>, g: &mut Graph) {
    let mut adj = Adjacency::new(g.acts.len(), &g.edges);
    adj.index_copies(s, g);
    // What cannot start from the outset blocks its colocation dependents before
    // orderings spread anything (as Pacemaker's pcmk__apply_orderings).
    for a in 0..g.acts.len() {
        crate::coloc_block::block_dependents(s, g, a);
    }
    for a in 0..g.acts.len() {
        update(s, g, &adj, a, 0);
    }
    for a in std::mem::take(&mut g.block_later) {
        crate::coloc_block::block_dependents(s, g, a);
    }
    // Safety net: a plain fixpoint over all edges.
    loop {
        let mut changed = false;
        for a in 0..g.acts.len() {
            changed |= refresh_group(s, g, a);
        }
        for i in 0..g.edges.len() {
            let (fc, tc) = apply_edge(s, g, g.edges[i]);
            changed |= fc || tc;
        }
        if !changed {
            break;
        }
    }
}

fn same_rsc(g: &Graph, a: usize, b: usize) -> bool {
    g.acts[a].rsc == g.acts[b].rsc
}

fn because(s: &Sched<'_>, g: &Graph, first: usize, what: &str) -> String {
    let a = &g.acts[first];
    match a.rsc {
        Some(r) => format!("{what} {} {}", s.rsc_id(r), a.task.name()),
        None => match a.task {
            Task::OneOrMore(k) => format!("{what} clone-one-or-more:{}", g.one_or_more[k].id),
            _ => format!("{what} {}", a.task.name()),
        },
    }
}

pub(crate) fn clear_optional(s: &Sched<'_>, g: &mut Graph, target: usize, cause: usize) -> bool {
    if !g.acts[target].optional {
        return false;
    }
    if let Some(RscRef::P(p)) = g.acts[target].rsc {
        if !s.prims[p].managed && !matches!(g.acts[target].task, Task::Monitor(_)) {
            return false;
        }
    }
    g.acts[target].optional = false;
    if !same_rsc(g, target, cause) {
        let r = because(s, g, cause, "required");
        set_reason(&mut g.acts[target], r);
    }
    crate::coloc_block::now_required(s, g, target);
    true
}

pub(crate) fn clear_runnable(s: &Sched<'_>, g: &mut Graph, target: usize, cause: usize) -> bool {
    if !g.acts[target].runnable {
        return false;
    }
    g.acts[target].runnable = false;
    if !same_rsc(g, target, cause) {
        let r = because(s, g, cause, "unrunnable");
        set_reason(&mut g.acts[target], r);
    }
    crate::coloc_block::blocked_by_ordering(s, g, target);
    true
}

fn apply_edge(s: &Sched<'_>, g: &mut Graph, e: Edge) -> (bool, bool) {
    let (f, t) = (e.first, e.then);
    let mut fch = false;
    let mut tch = false;
    if e.flags & ASYMMETRIC != 0 && !g.acts[f].runnable {
        let mut skip = false;
        if g.acts[t].optional {
            if let Some(RscRef::P(p)) = g.acts[t].rsc {
                let running = !s.prims[p].active.is_empty();
                let stopped_stop = !running && g.acts[t].task == Task::Stop;
                let start_in_place = running
                    && g.acts[t].task == Task::Start
                    && s.prims[p].active.len() == 1
                    && Some(s.prims[p].active[0]) == g.acts[t].node;
                skip = stopped_stop || start_in_place;
            }
        }
        if !skip {
            tch |= clear_optional(s, g, t, f);
            tch |= clear_runnable(s, g, t, f);
        }
    }
    // THEN_IMPLIES_FIRST is recorded for the graph's readers but changes no flags:
    // Pacemaker compares the first action's flags with themselves there, so a
    // required "then" never makes a resource's "first" action required.
    let _ = THEN_IMPLIES_FIRST;
    // A migrating resource's stop and start do not restart what follows them
    // (Pacemaker's implies-then skips a migratable first).
    if e.flags & FIRST_IMPLIES_THEN != 0
        && !g.acts[f].optional
        && g.acts[t].optional
        && !crate::migration_orders::migrating(g, f)
        && crate::role_order_scope::optional_on_then_node(s, g, f, t) != Some(true)
    {
        tch |= clear_optional(s, g, t, f);
    }
    // After implies-then, as in Pacemaker: a first that is both required and
    // unrunnable makes "then" required first, which names the reason
    // ("required X start"; stop_reason_tests.rs).
    if e.flags & UNRUNNABLE_FIRST_BLOCKS != 0 && !g.acts[f].runnable && g.acts[t].runnable {
        tch |= clear_runnable(s, g, t, f);
    }
    if e.flags & PROMOTED_IMPLIES_FIRST != 0 && !g.acts[t].optional && g.acts[f].optional {
        fch |= clear_optional(s, g, f, t);
    }
    if e.flags & INTERMEDIATE_STOP != 0 {
        let then_required = !g.acts[t].optional;
        let then_managed = match g.acts[t].rsc {
            Some(RscRef::P(p)) => s.prims[p].managed,
            _ => true,
        };
        let stop_reason = !g.acts[t].runnable && then_managed && same_rsc(g, f, t);
        if then_required || stop_reason {
            if g.acts[f].runnable {
                fch |= clear_optional(s, g, f, t);
            }
            if !g.acts[t].optional {
                fch |= clear_optional(s, g, f, t);
            }
            if !g.acts[f].optional && !g.acts[f].runnable {
                tch |= clear_runnable(s, g, t, f);
            }
        }
    }
    if !g.migrations.is_empty() {
        let (mf, mt) = crate::migration_orders::apply_edge(s, g, e);
        fch |= mf;
        tch |= mt;
    }
    // A blocked, unmanaged resource that cannot stop holds back whatever is
    // ordered relative to that stop.
    if e.flags & (FIRST_IMPLIES_THEN | THEN_IMPLIES_FIRST | INTERMEDIATE_STOP) != 0
        && g.acts[f].task == Task::Stop
        && !g.acts[f].runnable
        && g.acts[t].runnable
    {
        if let Some(RscRef::P(p)) = g.acts[f].rsc {
            if !s.prims[p].managed && s.prims[p].blocked {
                g.acts[t].runnable = false;
                tch = true;
            }
        }
    }
    (fch, tch)
}

/// Per primitive with runnable probes: the required stops of other primitives that
/// its start forces (a dependant's restart), found by following "first implies then"
/// edges, and group markers into their members, from its start. A probe is ordered
/// before those stops, as Pacemaker does: after a cleanup forgot a running
/// resource's history, its re-probe answers "running" and aborts the transition
/// before any dependant is stopped for a start that was never needed.
pub(crate) fn stops_after_probes(s: &Sched<'_>, g: &Graph) -> Vec<(usize, Vec<usize>)> {
    let required_stop = |a: usize| {
        let x = &g.acts[a];
        x.task == Task::Stop && !x.optional && !x.pseudo
    };
    if g.probes.is_empty() || !(0..g.acts.len()).any(required_stop) {
        return Vec::new();
    }
    let adj = Adjacency::new(g.acts.len(), &g.edges);
    let into_member = |e: &Edge| match (g.acts[e.first].rsc, g.acts[e.then].rsc) {
        (Some(RscRef::G(gi)), Some(RscRef::P(q))) => s.prims[q].group == Some(gi),
        _ => false,
    };
    let mut prims: Vec<usize> = g.probes.iter().map(|&(p, _)| p).collect();
    prims.sort_unstable();
    prims.dedup();
    // Visited marks, stamped with the primitive whose start is being followed.
    let mut seen = vec![usize::MAX; g.acts.len()];
    let mut out = Vec::new();
    for p in prims {
        let Some(start) = g.start_of[p] else { continue };
        let mut stops = Vec::new();
        let mut stack = vec![start];
        seen[start] = p;
        while let Some(a) = stack.pop() {
            if let (Task::Start, Some(RscRef::P(q))) = (g.acts[a].task, g.acts[a].rsc) {
                if q != p {
                    stops.extend(g.stops_of[q].iter().copied().filter(|&x| required_stop(x)));
                }
            }
            for &ei in adj.outgoing(a) {
                let e = &g.edges[ei];
                let follow = e.flags & FIRST_IMPLIES_THEN != 0 || into_member(e);
                if follow && seen[e.then] != p {
                    seen[e.then] = p;
                    stack.push(e.then);
                }
            }
        }
        stops.sort_unstable();
        stops.dedup();
        if !stops.is_empty() {
            out.push((p, stops));
        }
    }
    out
}

/// One line of the transition summary for a primitive, in crm_simulate's words.
pub(crate) struct SummaryItem {
    pub verb: &'static str,
    pub rsc: String,
    pub details: String,
    pub reason: Option<String>,
}

impl SummaryItem {
    pub fn text(&self) -> String {
        // A minimum width, never one computed from the id: a width argument past
        // u16::MAX panics in `format!`, and an id is outside input.
        let mut s = format!("{:<8}   {:<5}   ( {} )", self.verb, self.rsc, self.details);
        if let Some(r) = &self.reason {
            s.push_str("  ");
            s.push_str(r);
        }
        s
    }
}

pub(crate) fn summarize_prim(s: &Sched<'_>, g: &Graph, p: usize) -> Vec<SummaryItem> {
    let prim = &s.prims[p];
    let mut out = Vec::new();
    let current = prim.active.first().copied();
    let next = prim.assigned;
    if !prim.managed || (current.is_none() && next.is_none()) {
        return out;
    }
    let name = |n: usize| s.nodes[n].name.to_string();
    let next_role = s.full_next_role(p);
    let orig = s.full_orig_role(p);
    let moving = current.is_some() && next.is_some() && current != next;
    let start = g.start_of[p].filter(|&a| g.acts[a].node.is_some() && g.acts[a].node == next);
    let start_node = match start {
        Some(a) if g.acts[a].runnable => current,
        _ => None,
    };
    let stop = g.stops_of[p]
        .iter()
        .copied()
        .find(|&a| start_node.is_none() || g.acts[a].node == start_node)
        // Not stopping where it stays (stop_unexpected): its stop elsewhere.
        .or_else(|| {
            g.stops_of[p]
                .first()
                .copied()
                .filter(|_| s.stopping_unexpected(p))
        });
    let item = |verb: &'static str,
                origin: Option<usize>,
                dest: Option<usize>,
                action: usize,
                source: Option<usize>| {
        let source = source.unwrap_or(action);
        let details =
            crate::promotable_actions::action_details(orig, next_role, origin, dest, &name);
        let runnable = g.acts[action].runnable;
        let reason = match (&g.acts[source].reason, runnable) {
            (Some(r), false) => Some(format!("due to {r} (blocked)")),
            (Some(r), true) => Some(format!("due to {r}")),
            (None, false) => Some("blocked".to_string()),
            (None, true) => None,
        };
        SummaryItem {
            verb,
            rsc: prim.id.clone(),
            details,
            reason,
        }
    };
    let required = |a: Option<usize>| a.filter(|&a| !g.acts[a].optional);
    let (promote, demote) = (required(g.promote_of[p]), required(g.demote_of[p]));
    if orig == next_role {
        let Some(_) = next else { return out };
        if let Some(r) = s.reload_of(p, g) {
            out.push(item("Reload", current, next, r, None));
            return out;
        }
        let Some(st) = start.filter(|&st| !g.acts[st].optional) else {
            if let (Some(pr), Some(_)) = (promote, demote) {
                out.push(item("Re-promote", current, next, pr, demote));
            }
            return out;
        };
        if !g.acts[st].runnable {
            let Some(sp) = stop else { return out };
            let reason_op = if g.acts[sp].reason.is_some() { sp } else { st };
            out.push(item("Stop", current, None, sp, Some(reason_op)));
        } else if moving {
            let Some(sp) = stop else { return out };
            let verb = match (prim.failed, s.migration_of(p, g)) {
                (true, _) => "Recover",
                (false, Some(_)) => "Migrate",
                (false, None) => "Move",
            };
            out.push(item(verb, current, next, sp, None));
        } else if prim.failed {
            let Some(sp) = stop else { return out };
            out.push(item("Recover", current, None, sp, None));
        } else {
            out.push(item("Restart", current, next, st, None));
        }
        return out;
    }
    let start_unrunnable = start.is_some_and(|a| !g.acts[a].runnable);
    if stop.is_some() && (next_role == Role::Stopped || start_unrunnable) {
        for &n in &prim.active {
            let stop_op = g.stops_of[p]
                .iter()
                .copied()
                .find(|&a| g.acts[a].node == Some(n));
            let Some(sp) = stop_op else { continue };
            let reason_op = if g.acts[sp].reason.is_some() {
                Some(sp)
            } else {
                start.or(Some(sp))
            };
            out.push(item("Stop", Some(n), None, sp, reason_op));
        }
    } else if let (Some(sp), true) = (stop, prim.failed && prim.stop_if_failed) {
        out.push(item("Recover", current, next, sp, start));
    } else if moving {
        if let Some(sp) = stop {
            out.push(item("Move", current, next, sp, None));
        }
    } else if let Some(sp) = stop.filter(|&a| !g.acts[a].optional) {
        if let Some(st) = start {
            let _ = sp;
            out.push(item("Restart", current, next, st, None));
        }
    } else if let (Role::Promoted, Some(d)) = (orig, demote) {
        out.push(item("Demote", current, next, d, None));
    } else if let (Role::Promoted, Some(pr)) = (next_role, promote) {
        out.push(item("Promote", current, next, pr, None));
    } else if orig == Role::Stopped && next_role != Role::Stopped {
        if let Some(st) = start {
            out.push(item("Start", current, next, st, None));
        }
    }
    out
}

/// Whether the score is one a node can be chosen with.
#[allow(dead_code)]
pub(crate) fn usable(s: Score) -> bool {
    s >= Score::ZERO
}
