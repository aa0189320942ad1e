//! Promotable clones: which instances are promoted (Pacemaker's
//! pcmk_sched_promotable.c). After the instances are placed, each placed instance
//! gets a promotion priority: the agent's promotion score on its node (the node
//! attribute `master-<rsc>` that `crm_attribute --promotion` / `ocf_promotion_score`
//! set; -1 when there is none, so that nothing is promoted without a score or a
//! constraint), plus location constraints for the Promoted role, plus colocations
//! of the clone limited to a role. The clone's node scores, the instances'
//! priorities and colocations with the Promoted role then order the instances,
//! and the first `promoted-max` that may be promoted (at most `promoted-node-max`
//! per node, priority not negative) are.

use hactl_model::{Role, Score};

use crate::sched::{Coloc, RscRef, Sched};

/// OCF_RUNNING_PROMOTED: the agent runs the resource in the promoted role.
pub(crate) const RC_RUNNING_PROMOTED: i32 = 8;
/// OCF_FAILED_PROMOTED: the agent failed while promoted.
pub(crate) const RC_FAILED_PROMOTED: i32 = 9;

/// Per instance, while roles are chosen.
#[derive(Clone, Copy)]
struct Rank {
    p: usize,
    priority: Score,
    sort_index: Score,
}

impl Sched<'_> {
    pub(crate) fn is_promotable(&self, r: RscRef) -> bool {
        matches!(r, RscRef::C(ci) if self.clones[ci].promotable)
    }

    /// Whether the instance is limited to the unpromoted role by its target-role.
    fn kept_unpromoted(&self, p: usize) -> bool {
        let Some(ci) = self.prims[p].clone else {
            return false;
        };
        let def = self.clones[ci].def;
        let cdef = self.cib.config.clone_of(&def.id);
        let target = def
            .meta
            .get("target-role")
            .or_else(|| cdef.and_then(|c| c.meta.get("target-role")));
        target.and_then(|t| t.parse::<Role>().ok()) == Some(Role::Unpromoted)
    }

    /// Pacemaker's promotion_score_applies: whether what a node says about
    /// promoting instance `p` counts there.
    fn promotion_score_applies(&self, p: usize, n: usize) -> bool {
        let Some(ci) = self.prims[p].clone else {
            return false;
        };
        let cl = &self.clones[ci];
        let allowed = self.prims[p].allowed[n].is_some_and(|s| s >= Score::ZERO);
        if !cl.unique {
            // The instances of the same primitive (of each instance group's
            // member of that name, for a cloned group).
            let base = self.prims[p].def.map_or("", |d| d.id.as_str());
            let same = self.instances_named(ci, base);
            let active = same
                .iter()
                .copied()
                .find(|&q| self.prims[q].active.contains(&n));
            if active == Some(p) {
                return allowed;
            }
            if active.is_none() && same.iter().any(|&q| self.prims[q].probed[n]) {
                return allowed;
            }
        }
        let prim = &self.prims[p];
        let known_nowhere = prim.active.is_empty() && !prim.probed.iter().any(|&b| b);
        if known_nowhere || prim.probed[n] || prim.active.contains(&n) {
            return allowed;
        }
        false
    }

    /// The agent's promotion score for instance `p` on node `n` (None: none set).
    fn promotion_score(&self, p: usize, n: usize) -> Option<Score> {
        if !self.promotion_score_applies(p, n) {
            return None;
        }
        let attrs = &self.nodes[self.attribute_node(p, n)?].attrs;
        // The agent set it under the name the history knows the instance by
        // (crm_attribute --promotion uses OCF_RESOURCE_INSTANCE).
        let prim = &self.prims[p];
        let id = prim.history_name.as_ref().unwrap_or(&prim.id);
        let value = attrs.get(&format!("master-{id}")).or_else(|| {
            let ci = self.prims[p].clone?;
            if self.clones[ci].unique {
                return None;
            }
            // The primitive's own name (a cloned group's member, not the clone's
            // first primitive), as Pacemaker's clone_strip of the instance id.
            let base = self.prims[p]
                .def
                .map_or(self.clones[ci].def.id.as_str(), |d| &d.id);
            attrs.get(&format!("master-{base}"))
        })?;
        value.parse::<Score>().ok()
    }

    /// An instance's promotion score: its own, or for a cloned group's
    /// instance the sum of its members' (None when no member has one), as
    /// Pacemaker's promotion_score sums a group's children.
    fn instance_promotion_score(&self, p: usize, n: usize) -> Option<Score> {
        let Some(gi) = self.instance_group(p) else {
            return self.promotion_score(p, n);
        };
        self.groups[gi]
            .members
            .iter()
            .filter_map(|&m| self.promotion_score(m, n))
            .reduce(|a, b| a + b)
    }

    /// Sets instance `p`'s promotion, and for a cloned group's instance its
    /// members' (a group's role is its members').
    fn set_promote(&mut self, p: usize, promote: bool) {
        match self.instance_group(p) {
            Some(gi) => {
                for m in self.groups[gi].members.clone() {
                    self.prims[m].promote = promote;
                }
            }
            None => self.prims[p].promote = promote,
        }
    }

    /// Pacemaker's pcmk__add_promotion_scores: before placement, a positive
    /// promotion score also makes a node more attractive to the instance.
    pub(crate) fn add_promotion_scores(&mut self, ci: usize) {
        for p in self.clones[ci].instances.clone() {
            for n in 0..self.nodes.len() {
                if self.prims[p].allowed[n].is_none() || !self.avail[n] {
                    continue;
                }
                if let Some(s) = self
                    .instance_promotion_score(p, n)
                    .filter(|s| *s > Score::ZERO)
                {
                    self.location(p, Some(n), s, "promotion score".into());
                }
            }
        }
    }

    /// Pacemaker's pcmk__set_instance_roles: marks the instances to promote.
    pub(crate) fn set_instance_roles(&mut self, ci: usize) {
        let mut ranks: Vec<Rank> = self.clones[ci]
            .instances
            .clone()
            .into_iter()
            .map(|p| self.instance_priority(ci, p))
            .collect();
        self.sort_promotable(ci, &mut ranks);
        let mut count = vec![0usize; self.nodes.len()];
        let mut promoted = 0;
        for r in ranks {
            let p = r.p;
            self.note_promotion_score(p, r.sort_index);
            self.set_promote(p, false);
            if r.sort_index < Score::ZERO || promoted >= self.clones[ci].promoted_max {
                continue;
            }
            let Some(n) = self.promotion_node(ci, r, &count) else {
                continue;
            };
            let freeze = !self.quorate && self.nqp == hactl_model::NoQuorumPolicy::Freeze;
            if self.prims[p].promoted_on.is_none() && freeze {
                continue;
            }
            count[n] += 1;
            promoted += 1;
            self.set_promote(p, true);
        }
    }

    /// Pacemaker's node_to_be_promoted_on.
    fn promotion_node(&self, ci: usize, r: Rank, count: &[usize]) -> Option<usize> {
        let prim = &self.prims[r.p];
        let n = prim.assigned?;
        if !prim.managed {
            return prim.promoted_on.filter(|&m| m == n);
        }
        if r.priority < Score::ZERO || !self.avail[n] {
            return None;
        }
        let cl = &self.clones[ci];
        if cl.allowed[n].is_none() || count[n] >= cl.promoted_node_max {
            return None;
        }
        Some(n)
    }

    /// Pacemaker's set_instance_priority.
    fn instance_priority(&self, ci: usize, p: usize) -> Rank {
        let mut rank = Rank {
            p,
            priority: Score::new(self.clones[ci].priority),
            sort_index: Score::new(-1),
        };
        let Some(n) = self.prims[p].assigned else {
            return rank;
        };
        let next_stopped = self.prims[p].next_role == Some(Role::Stopped);
        rank.priority = if self.kept_unpromoted(p) || next_stopped {
            Score::NEG_INFINITY
        } else {
            self.instance_promotion_score(p, n)
                .unwrap_or(Score::new(-1))
        };
        for lc in &self.cib.config.constraints.location {
            let names = lc.rsc == self.clones[ci].id || lc.rsc == self.clones[ci].def.id;
            if !names || lc.expires.is_some_and(|e| self.now >= e) {
                continue;
            }
            for (m, s, _) in self.location_scores(lc, true) {
                if m == n {
                    rank.priority += s;
                }
            }
        }
        for c in &self.role_colocs {
            if c.dependent == RscRef::C(ci) {
                rank.priority = self.coloc_priority(c, n, rank.priority);
            }
        }
        rank.sort_index = rank.priority;
        rank
    }

    /// Pacemaker's pcmk__apply_coloc_to_priority (and, for a clone as the
    /// primary, pcmk__update_promotable_dependent_priority).
    fn coloc_priority(&self, c: &Coloc, n: usize, priority: Score) -> Score {
        let primary_here = match c.primary {
            RscRef::P(q) => match self.prims[q].assigned {
                None => return priority,
                Some(m) if m != n => {
                    let mandatory = c.score.is_pos_infinity() && c.dep_role == Some(Role::Promoted);
                    return if mandatory {
                        Score::NEG_INFINITY
                    } else {
                        priority
                    };
                }
                Some(_) => c.pri_role.is_none_or(|r| r == self.next_role_of(q)),
            },
            RscRef::G(g) => {
                let Some(&first) = self.groups[g].members.first() else {
                    return priority;
                };
                match self.prims[first].assigned {
                    None => return priority,
                    Some(m) => m == n,
                }
            }
            RscRef::C(x) => self.clones[x].instances.iter().any(|&q| {
                self.prims[q].assigned == Some(n)
                    && c.pri_role.is_none_or(|r| r == self.next_role_of(q))
            }),
        };
        let clone = matches!(c.primary, RscRef::C(_));
        if !primary_here {
            let mandatory = c.score.is_pos_infinity();
            return if mandatory && (clone || c.dep_role == Some(Role::Promoted)) {
                Score::NEG_INFINITY
            } else {
                priority
            };
        }
        if c.dep_role == Some(Role::Unpromoted) && !clone {
            priority + (-c.score)
        } else {
            priority + c.score
        }
    }

    /// The role instance (or primitive) `q` will have: Promoted, Unpromoted
    /// (an instance of a promotable clone that is not promoted), Started or Stopped.
    pub(crate) fn next_role_of(&self, q: usize) -> Role {
        let prim = &self.prims[q];
        if prim.assigned.is_none() {
            return Role::Stopped;
        }
        match prim.clone {
            Some(ci) if self.clones[ci].promotable => {
                if prim.promote {
                    Role::Promoted
                } else {
                    Role::Unpromoted
                }
            }
            _ => Role::Started,
        }
    }

    /// Pacemaker's sort_promotable_instances.
    fn sort_promotable(&mut self, ci: usize, ranks: &mut [Rank]) {
        let mut table = self.clones[ci].allowed.clone();
        for r in ranks.iter() {
            let Some(n) = self.prims[r.p].assigned else {
                continue;
            };
            if r.sort_index >= Score::ZERO {
                table[n] = Some(table[n].unwrap_or(Score::ZERO) + r.sort_index);
            }
        }
        let role_colocs: Vec<Coloc> = self
            .role_colocs
            .iter()
            .filter(|c| c.dependent == RscRef::C(ci) && c.dep_role == Some(Role::Promoted))
            .cloned()
            .collect();
        for c in &role_colocs {
            let factor = c.score.value() as f64 / Score::INFINITY_VALUE as f64;
            self.merge_colocated_scores(c.primary, &mut table, c, factor);
        }
        let with_promoted: Vec<Coloc> = self
            .colocs
            .iter()
            .filter(|c| c.primary == RscRef::C(ci) && c.pri_role == Some(Role::Promoted))
            .cloned()
            .collect();
        for c in &with_promoted {
            if !self.has_influence(c) {
                continue;
            }
            let factor = c.score.value() as f64 / Score::INFINITY_VALUE as f64;
            let before = table.clone();
            self.merge_colocated_scores(c.dependent, &mut table, c, factor);
            for (slot, old) in table.iter_mut().zip(&before) {
                if let (Some(new), Some(old)) = (*slot, *old) {
                    if new < Score::ZERO && old >= Score::ZERO {
                        *slot = Some(old);
                    }
                }
            }
        }
        if self.promotion_ticket_missing(ci) {
            table
                .iter_mut()
                .flatten()
                .for_each(|s| *s = Score::NEG_INFINITY);
        }
        for r in ranks.iter_mut() {
            let prim = &self.prims[r.p];
            if !prim.managed && prim.promoted_on.is_some() {
                r.sort_index = Score::INFINITY;
            } else if let (Some(n), true) = (prim.assigned, r.sort_index >= Score::ZERO) {
                r.sort_index = table[n].unwrap_or(Score::NEG_INFINITY);
            }
        }
        ranks.sort_by(|a, b| {
            b.sort_index
                .cmp(&a.sort_index)
                .then_with(|| {
                    let promoted = |r: &Rank| self.prims[r.p].promoted_on.is_some();
                    promoted(b).cmp(&promoted(a))
                })
                .then_with(|| self.cmp_instance(ci, a.p, b.p))
        });
    }

    /// Pacemaker's pcmk__require_promotion_tickets: a ticket needed for the
    /// Promoted role that is not granted (or in standby) allows no promotion.
    fn promotion_ticket_missing(&self, ci: usize) -> bool {
        let cl = &self.clones[ci];
        self.cib.config.constraints.tickets.iter().any(|tc| {
            let names = tc.rsc == cl.id || tc.rsc == cl.def.id;
            let state = self.cib.status.tickets.get(&tc.ticket);
            let usable = state.is_some_and(|t| t.granted && !t.standby);
            names && tc.rsc_role == Some(Role::Promoted) && !usable
        })
    }

    /// Assigns first the primaries of the clone's role-limited colocations (as
    /// Pacemaker assigns every primary of a clone's colocations first).
    pub(crate) fn assign_role_primaries(&mut self, ci: usize) {
        let primaries: Vec<RscRef> = self
            .role_colocs
            .iter()
            .filter(|c| c.dependent == RscRef::C(ci))
            .map(|c| c.primary)
            .collect();
        for r in primaries {
            if self.is_unassigned(r) {
                self.assign(r);
            }
        }
    }

    /// Pacemaker's pcmk__update_dependent_with_promotable: `p` placed with the
    /// instances of promotable clone `x` that will have `role`.
    pub(crate) fn apply_coloc_with_role(&mut self, p: usize, x: usize, role: Role, coloc: &Coloc) {
        if !self.prims[p].unassigned {
            return;
        }
        let nodes: Vec<usize> = self.clones[x]
            .instances
            .iter()
            .filter(|&&q| self.next_role_of(q) == role)
            .filter_map(|&q| self.prims[q].assigned)
            // A bundled instance counts where its replica's container is.
            .filter_map(|n| self.bundle_host(n))
            .collect();
        let label = format!(
            "colocation {} with {} ({role})",
            coloc.id, self.clones[x].id
        );
        if !coloc.score.is_pos_infinity() {
            for &n in &nodes {
                if self.prims[p].allowed[n].is_some() {
                    self.location(p, Some(n), coloc.score, label.clone());
                }
            }
            return;
        }
        if coloc.dep_role == Some(Role::Promoted) && role == Role::Promoted {
            return;
        }
        for n in 0..self.nodes.len() {
            if self.prims[p].allowed[n].is_some() && !nodes.contains(&n) {
                self.location(p, Some(n), Score::NEG_INFINITY, label.clone());
            }
        }
    }
}
