//! Clones of groups: a `<clone>` whose child is a `<group>`.
//!
//! # Design
//!
//! The clone engine (`clone.rs`) places *instances*; an instance of a cloned
//! primitive is one [`Prim`](crate::sched::Prim). An instance of a cloned group is
//! a group: instance N of clone `c` holding group `grp` with members `web`, `ip`
//! is a [`GroupInfo`] with id `grp:N` whose members are the primitives `web:N`,
//! `ip:N` (the instance numbers as for cloned primitives: `clone-max` instances,
//! orphans past it). So everything a group does already holds for each instance:
//! its members are placed together (each member is colocated with the one before
//! it, `compute_this_with`), start in order and stop in reverse order through the
//! instance's own pseudo actions `grp:N_start_0` / `_running_0` / `_stop_0` /
//! `_stopped_0` (the group chain loop in `actions.rs` runs over every group).
//!
//! The clone keeps one primitive per instance in `CloneInfo::instances`: the
//! instance group's *first member* (its "lead"). The lead is what the clone engine
//! ranks, counts per node and assigns (`assign_instance` assigns the lead, which
//! assigns its group, which assigns the members after it on the lead's node).
//! `CloneInfo::instance_groups[i]` is the group of instance `i` (empty for a
//! cloned primitive), so the places that must see the whole instance ask for it:
//!
//! - history: `web:3` or `web` on node n is matched to an instance as Pacemaker's
//!   find_anonymous_clone does for groups: the instance whose group is already
//!   active on n (any member), else the first instance whose group is wholly
//!   inactive, else a new orphan instance; the entry then belongs to that
//!   instance's member named `web` ([`Sched::group_clone_history_instance`]).
//! - location constraints on the clone reach every instance as a group location
//!   (the lead gets the score, the others a zero where they had none).
//! - actions: every member gets its actions; the clone's start/stop pseudo
//!   actions are ordered around the *instance groups'* pseudo actions (clone start
//!   → `grp:N_start_0`, `grp:N_running_0` → clone running, and the same for
//!   stops), not around the members ([`Sched::instance_bounds`]).
//! - orderings and colocations between the clone and other resources go through
//!   the lead (placement) and the instance group's pseudo actions (ordering); with
//!   `interleave`, instance N of one clone is ordered with the instance of the
//!   other on the same node, through the group's start/stop.
//!
//! Promotable cloned groups: an instance's promotion score is the sum of its
//! members' (`promotable.rs`), promoting or not applies to all its members,
//! which promote in order and demote in reverse (`promotable_actions.rs`).
//!
//! Globally unique cloned groups (one instance per node): a member's history
//! `web:3` is instance 3's member `web`, whatever else runs on the node
//! (`clone.rs` unique_instance).
//!
//! Notifications (`notify.rs`) go to every member of every instance, and the
//! `notify_*` lists name members.
//!
//! Not done yet (see /work/notes/clone-groups.md): interleaved orderings
//! through the instance groups, more than one instance per node, the status
//! view of a cloned group.

use std::borrow::Cow;
use std::sync::Arc;

use hactl_model::{CloneSet, Group, OrderAction, Role, Score};

use crate::actions::{Graph, THEN_IMPLIES_FIRST, UNRUNNABLE_FIRST_BLOCKS};
use crate::sched::{GroupInfo, Meta, RscRef, Sched};

impl<'a> Sched<'a> {
    /// Adds the next instance of cloned group `grp` to clone `ci`: the group
    /// `grp:N` and its members `m:N`; returns the instance's lead (first member).
    pub(crate) fn new_group_instance(
        &mut self,
        ci: usize,
        cl: &'a CloneSet,
        grp: &'a Group,
    ) -> usize {
        let number = self.clones[ci].instances.len();
        let orphan = number >= self.clones[ci].max;
        let gi = self.groups.len();
        let sticky = crate::clone::clone_stickiness_default();
        let mut members = Vec::with_capacity(grp.children.len());
        for m in &grp.children {
            let layers = [
                &m.meta,
                &grp.meta,
                &cl.meta,
                &self.cib.config.rsc_defaults,
                &sticky,
            ];
            let agent: Arc<str> = Arc::from(m.agent.to_string());
            let mut prim = self.new_prim(
                format!("{}:{number}", m.id),
                Some(m),
                agent,
                Some(gi),
                Meta(&layers),
            );
            prim.clone = Some(ci);
            prim.orphan = orphan;
            members.push(self.prims.len());
            self.prims.push(prim);
        }
        if self.failcounts.len() < self.prims.len() {
            self.failcounts.resize(self.prims.len(), Vec::new());
        }
        let layers = [&grp.meta, &cl.meta, &self.cib.config.rsc_defaults];
        let priority = crate::sched::meta_score(Meta(&layers), "priority").unwrap_or(0);
        let lead = members.first().copied().unwrap_or(usize::MAX);
        let id = Cow::Owned(format!("{}:{number}", grp.id));
        self.groups.push(GroupInfo::new(id, grp, members, priority));
        self.clones[ci].instances.push(lead);
        self.clones[ci].instance_groups.push(gi);
        lead
    }

    /// The group of clone instance `p` (its lead or any member), when the clone
    /// clones a group.
    pub(crate) fn instance_group(&self, p: usize) -> Option<usize> {
        self.prims[p].clone.and(self.prims[p].group)
    }

    /// The node a cloned group's instance runs on: where its first active
    /// member runs (an instance never spans nodes).
    fn group_current_node(&self, gi: usize) -> Option<usize> {
        self.groups[gi]
            .members
            .iter()
            .find_map(|&m| self.prims[m].active.first().copied())
    }

    /// The member of a cloned group's instance that history entry `rid` (`web`
    /// or `web:N`) on node `n` belongs to, as Pacemaker's find_anonymous_clone
    /// picks it for groups: the instance running on `n` whose member `web` is not
    /// active yet; else (unless such an instance's `web` is active already: a
    /// second history of it) the first instance running nowhere; else a new
    /// orphan instance.
    pub(crate) fn group_clone_history_instance(
        &mut self,
        ci: usize,
        n: usize,
        rid: &str,
    ) -> Option<usize> {
        let base = crate::clone::strip_instance(rid);
        let member = |s: &Self, gi: usize| s.instance_member(gi, base);
        let mut found = None;
        let mut inactive = None;
        let mut skip_inactive = false;
        for gi in self.clones[ci].instance_groups.clone() {
            let Some(m) = member(self, gi) else { continue };
            match self.group_current_node(gi) {
                Some(loc) if loc == n => {
                    if self.prims[m].active.is_empty() {
                        found = Some(m);
                        break;
                    }
                    skip_inactive = true;
                }
                Some(_) => {}
                None => {
                    if inactive.is_none() && !self.prims[m].blocked && !self.prims[m].orphan {
                        inactive = Some(m);
                    }
                }
            }
        }
        if found.is_none() && !skip_inactive {
            let node = &self.nodes[n];
            // As for cloned primitives: no instance number is used up on an
            // unclean node unless the clone covers every node.
            let universal = self.clones[ci].max == self.nodes.len();
            let usable =
                self.instance_needs_fencing(ci) || (node.online && !node.unclean) || universal;
            found = inactive.filter(|_| usable);
        }
        match found {
            Some(m) => Some(m),
            None => {
                self.new_instance(ci);
                let gi = *self.clones[ci].instance_groups.last()?;
                member(self, gi)
            }
        }
    }

    /// The member of instance group `gi` configured as `member` (`web` for `web:2`).
    pub(crate) fn instance_member(&self, gi: usize, member: &str) -> Option<usize> {
        self.groups[gi]
            .members
            .iter()
            .copied()
            .find(|&m| self.prims[m].def.is_some_and(|d| d.id == member))
    }

    /// Every primitive of clone `ci`'s instances: the instances themselves, or
    /// all members of every instance group.
    pub(crate) fn instance_prims(&self, ci: usize) -> Vec<usize> {
        let cl = &self.clones[ci];
        if cl.instance_groups.is_empty() {
            return cl.instances.clone();
        }
        cl.instance_groups
            .iter()
            .flat_map(|&gi| self.groups[gi].members.iter().copied())
            .collect()
    }

    /// The instances of clone `ci` that run primitive `base`: every instance of
    /// a cloned primitive, or member `base` of every instance group.
    pub(crate) fn instances_named(&self, ci: usize, base: &str) -> Vec<usize> {
        let cl = &self.clones[ci];
        if cl.instance_groups.is_empty() {
            return cl.instances.clone();
        }
        self.instance_prims(ci)
            .into_iter()
            .filter(|&m| self.prims[m].def.is_some_and(|d| d.id == base))
            .collect()
    }

    /// What a resource colocated with clone `x` is colocated with, per
    /// instance: the instance itself, or a cloned group instance's last member
    /// (as with a group, Pacemaker colocates with the group's last member: the
    /// instance counts only where all of it runs).
    pub(crate) fn colocation_instances(&self, x: usize) -> Vec<usize> {
        let cl = &self.clones[x];
        if cl.instance_groups.is_empty() {
            return cl.instances.clone();
        }
        cl.instance_groups
            .iter()
            .filter_map(|&gi| self.groups[gi].members.last().copied())
            .collect()
    }

    /// A location score on a cloned group reaches each instance group as a group
    /// location: the lead gets it, the other members a zero where they had none.
    pub(crate) fn group_clone_location(&mut self, ci: usize, n: usize, score: Score, what: &str) {
        for gi in self.clones[ci].instance_groups.clone() {
            self.group_location(gi, n, score);
            let members = self.groups[gi].members.clone();
            for (i, &m) in members.iter().enumerate() {
                if i == 0 {
                    self.location(m, Some(n), score, what.to_string());
                } else if self.prims[m].allowed[n].is_none() {
                    self.prims[m].allowed[n] = Some(Score::ZERO);
                }
            }
        }
    }

    /// Creates the actions of a cloned group's instances: each member's, then
    /// the instance group's pseudo actions.
    pub(crate) fn create_group_instance_actions(&mut self, ci: usize, g: &mut Graph) {
        for gi in self.clones[ci].instance_groups.clone() {
            for m in self.groups[gi].members.clone() {
                self.create_prim_actions(m, g);
            }
            g.group_acts[gi] = crate::actions::group_pseudo_actions(gi, g);
        }
    }

    /// The actions an ordering names for a cloned group's instance `gi`: as
    /// for a group, its running/stopped pseudo action on the "first" side; on
    /// the "then" side its start/stop pseudo action and its members' matching
    /// actions (an ordering on a group updates its members too, `order_thens`).
    pub(crate) fn group_instance_actions(
        &self,
        gi: usize,
        action: OrderAction,
        as_first: bool,
        g: &mut Graph,
    ) -> Vec<usize> {
        let mut acts = self.order_targets(RscRef::G(gi), action, as_first, g);
        if !as_first {
            for &m in &self.groups[gi].members {
                match action {
                    OrderAction::Start | OrderAction::Promote => acts.extend(g.start_of[m]),
                    OrderAction::Stop | OrderAction::Demote => {
                        acts.extend(g.stops_of[m].iter().copied())
                    }
                }
            }
        }
        acts
    }

    /// The clone's start and stop reach the members of instance `p`'s group as
    /// they reach a cloned primitive's instance (an ordering on a group passes
    /// on to its members): an unrunnable clone start blocks their starts.
    pub(crate) fn frame_group_members(&self, p: usize, start: usize, stop: usize, g: &mut Graph) {
        let Some(gi) = self.instance_group(p) else {
            return;
        };
        for &m in &self.groups[gi].members {
            if let Some(st) = g.start_of[m] {
                g.order(start, st, UNRUNNABLE_FIRST_BLOCKS | THEN_IMPLIES_FIRST);
            }
            for s in g.stops_of[m].clone() {
                g.order(stop, s, THEN_IMPLIES_FIRST);
            }
        }
    }

    /// The actions the clone's start and stop pseudo actions are ordered around
    /// for instance `p`: `(starts, stops)` — the instance group's start/running
    /// and stop/stopped pseudo actions for a cloned group, else `None`.
    pub(crate) fn instance_bounds(&self, p: usize, g: &Graph) -> Option<[usize; 4]> {
        let gi = self.instance_group(p)?;
        Some(g.group_acts[gi])
    }

    /// Unassigns every member of instance group `gi` and restores what
    /// [`Sched::save_instance_group`] saved (an early assignment that did not land
    /// on the instance's current node is undone).
    pub(crate) fn unassign_instance_group(&mut self, gi: usize, saved: &[SavedMember]) {
        for s in saved {
            if let Some(n) = self.prims[s.prim].assigned.take() {
                self.release_node(s.prim, n);
            }
            let prim = &mut self.prims[s.prim];
            prim.unassigned = true;
            prim.allowed = s.allowed.clone();
            prim.explain.truncate(s.explain);
            prim.next_role = s.role.0;
            prim.next_role_reason = s.role.1.clone();
        }
        self.groups[gi].unassigned = true;
    }

    /// A node instance `p` cannot run on, for a cloned group's instance: Pacemaker
    /// bans it on the instance group and every member, not only the lead (the
    /// lead's own ban is the caller's).
    pub(crate) fn ban_instance_group(&mut self, p: usize, n: usize) {
        let Some(gi) = self.instance_group(p) else {
            return;
        };
        if let Some(slot) = self
            .group_allowed
            .get_mut(gi)
            .and_then(|row| row.get_mut(n))
        {
            if slot.is_some() {
                *slot = Some(Score::NEG_INFINITY);
            }
        }
        for m in self.groups[gi].members.clone() {
            if self.prims[m].allowed[n].is_some() {
                self.prims[m].allowed[n] = Some(Score::NEG_INFINITY);
            }
        }
    }

    /// Each member's state that assigning it changes.
    pub(crate) fn save_instance_group(&self, gi: usize) -> Vec<SavedMember> {
        self.groups[gi]
            .members
            .iter()
            .map(|&m| {
                let prim = &self.prims[m];
                SavedMember {
                    prim: m,
                    allowed: prim.allowed.clone(),
                    explain: prim.explain.len(),
                    role: (prim.next_role, prim.next_role_reason.clone()),
                }
            })
            .collect()
    }

    /// Leaves instance `p` (and, for a cloned group, all its group) stopped.
    pub(crate) fn stop_instance(&mut self, p: usize, why: &str) {
        let Some(gi) = self.instance_group(p) else {
            self.ban_everywhere_rc(p, why);
            self.do_assign(p, None, false);
            return;
        };
        for m in self.groups[gi].members.clone() {
            self.ban_everywhere_rc(m, why);
            self.do_assign(m, None, false);
        }
        self.groups[gi].unassigned = false;
    }
}

/// A member's assignment state, saved before a trial assignment.
pub(crate) struct SavedMember {
    prim: usize,
    allowed: Vec<Option<Score>>,
    explain: usize,
    role: (Option<Role>, Option<String>),
}
