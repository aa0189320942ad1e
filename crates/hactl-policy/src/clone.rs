//! Anonymous clones: instances (`rsc:0`, `rsc:1`, …) of one primitive, placed as
//! Pacemaker places them (pcmk_sched_clone.c and pcmk_sched_instances.c): history
//! entries are matched to instances the way Pacemaker numbers them, instances are
//! first kept where they run (as far as a fair spread allows), then the rest go to
//! the best remaining nodes, at most `clone-node-max` per node and `clone-max` in
//! all. Colocations with a clone use the nodes its instances were given.

use std::sync::Arc;

use hactl_model::{Attrs, CloneSet, Primitive, Resource, Role, Score};

use crate::sched::{Coloc, Meta, RscRef, Sched};

/// One clone after unpacking.
#[derive(Debug)]
pub(crate) struct CloneInfo<'a> {
    pub id: &'a str,
    pub def: &'a Primitive,
    /// The clone's definition.
    pub set: &'a CloneSet,
    /// A cloned group: the group of each instance, in `instances` order
    /// (`clone_group.rs`); empty for a cloned primitive.
    pub instance_groups: Vec<usize>,
    /// Instance primitives in instance-number order (orphans last).
    pub instances: Vec<usize>,
    pub max: usize,
    pub node_max: usize,
    pub interleave: bool,
    pub ordered: bool,
    /// Globally unique: each instance is its own resource (history names it
    /// `rsc:N`, several may run on one node).
    pub unique: bool,
    /// Promotable: instances are promoted (at most `promoted_max` in all and
    /// `promoted_node_max` per node) or unpromoted (`promotable.rs`).
    pub promotable: bool,
    pub promoted_max: usize,
    pub promoted_node_max: usize,
    pub priority: i64,
    /// The clone's own node scores (location constraints, dependents' wishes).
    pub allowed: Vec<Option<Score>>,
    /// Instances assigned per node during assignment.
    pub count: Vec<usize>,
    pub this_with: Vec<usize>,
    pub with_this: Vec<usize>,
    pub unassigned: bool,
    pub assigning: bool,
    pub updating: bool,
    /// Anonymous clones: every history entry read, and the instance it was given.
    pub history: Vec<HistoryEntry<'a>>,
}

/// One node's history entry of an anonymous clone, as unpacked.
#[derive(Debug)]
pub(crate) struct HistoryEntry<'a> {
    pub node: usize,
    pub instance: usize,
    /// The name it is recorded under (`rsc`, `rsc:N`, any instance number).
    pub name: &'a str,
    /// It made its instance active on the node.
    pub active: bool,
}

/// Pacemaker makes clones "ever so slightly sticky" unless told otherwise.
pub(crate) fn clone_stickiness_default() -> Attrs {
    let mut a = Attrs::new();
    a.insert("resource-stickiness".into(), "1".into());
    a
}

fn meta_usize(meta: &Attrs, key: &str) -> Option<usize> {
    meta.get(key)
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map(|v| v.max(0) as usize)
}

/// `rsc:3` → `rsc`; anything else unchanged.
pub(crate) fn strip_instance(id: &str) -> &str {
    match id.rsplit_once(':') {
        Some((base, num)) if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => id,
    }
}

impl<'a> Sched<'a> {
    /// Creates the clone and its `clone-max` instances; returns the clone's index.
    pub(crate) fn unpack_clone(&mut self, cl: &'a CloneSet) -> Option<usize> {
        let def = match &*cl.child {
            Resource::Primitive(def) => def,
            Resource::Group(g) => g.children.first()?,
            Resource::Clone(_) => return None,
        };
        let defaults = &self.cib.config.rsc_defaults;
        let layers = [&cl.meta, defaults];
        let meta = Meta(&layers);
        let ci = self.clones.len();
        let max = meta_usize(&cl.meta, "clone-max").unwrap_or(self.nodes.len().max(1));
        let truthy = |k: &str| meta.get(k).and_then(|v| hactl_model::values::parse_bool(v));
        // Pacemaker's default: globally unique when more than one instance may
        // run per node.
        let node_max_set = meta_usize(&cl.meta, "clone-node-max").unwrap_or(1);
        let unique = truthy("globally-unique").unwrap_or(node_max_set > 1);
        let promotable = truthy("promotable").unwrap_or(false);
        // The old names (master-max, master-node-max) still count.
        let count_of = |new: &str, old: &str| {
            meta_usize(&cl.meta, new)
                .or_else(|| meta_usize(&cl.meta, old))
                .unwrap_or(1)
        };
        let priority = meta
            .get("priority")
            .and_then(|v| v.parse::<Score>().ok())
            .map(Score::value)
            .unwrap_or(0);
        self.clones.push(CloneInfo {
            id: &cl.id,
            def,
            set: cl,
            instance_groups: Vec::new(),
            instances: Vec::new(),
            max,
            // Anonymous clones run at most one instance per node.
            node_max: if unique {
                meta_usize(&cl.meta, "clone-node-max").unwrap_or(1)
            } else {
                1
            },
            interleave: truthy("interleave").unwrap_or(false),
            ordered: truthy("ordered").unwrap_or(false),
            unique,
            promotable,
            promoted_max: count_of("promoted-max", "master-max"),
            promoted_node_max: count_of("promoted-node-max", "master-node-max"),
            priority,
            allowed: vec![None; self.nodes.len()],
            count: vec![0; self.nodes.len()],
            this_with: Vec::new(),
            with_this: Vec::new(),
            unassigned: true,
            assigning: false,
            updating: false,
            history: Vec::new(),
        });
        // A bundle's containers are recorded under their own names (by_id).
        if crate::bundle::bundle_replica_defs(cl).is_none() {
            for p in cl.child.primitives() {
                self.clone_base.insert(&p.id, ci);
            }
        }
        for _ in 0..max.max(1) {
            self.new_instance(ci);
        }
        Some(ci)
    }

    /// Adds the clone's next instance (`base:N`); past `clone-max` it is an orphan
    /// that only ever stops.
    pub(crate) fn new_instance(&mut self, ci: usize) -> usize {
        let set = self.clones[ci].set;
        if let Some(defs) = crate::bundle::bundle_replica_defs(set) {
            return self.new_replica_instance(ci, defs);
        }
        if let Resource::Group(grp) = &*set.child {
            return self.new_group_instance(ci, set, grp);
        }
        let cl = &self.clones[ci];
        let def = cl.def;
        let number = cl.instances.len();
        let orphan = number >= cl.max;
        let cdef = self.cib.config.clone_of(&def.id);
        let empty = Attrs::new();
        let cmeta = cdef.map(|c| &c.meta).unwrap_or(&empty);
        let sticky = clone_stickiness_default();
        let layers = [&def.meta, cmeta, &self.cib.config.rsc_defaults, &sticky];
        let agent: Arc<str> = Arc::from(def.agent.to_string());
        let mut prim = self.new_prim(
            format!("{}:{number}", def.id),
            Some(def),
            agent,
            None,
            Meta(&layers),
        );
        prim.clone = Some(ci);
        prim.orphan = orphan;
        let p = self.prims.len();
        self.prims.push(prim);
        if self.failcounts.len() < self.prims.len() {
            self.failcounts.resize(self.prims.len(), Vec::new());
        }
        self.clones[ci].instances.push(p);
        p
    }

    /// The instance a history entry `rid` on node `n` belongs to, when `rid` names
    /// an anonymous clone's primitive (`rsc` or `rsc:N`): the instance already
    /// active there, else the first inactive one, else a new orphan instance
    /// (Pacemaker's find_anonymous_clone).
    pub(crate) fn clone_history_instance(&mut self, n: usize, rid: &str) -> Option<usize> {
        let ci = *self.clone_base.get(strip_instance(rid))?;
        if let Some(p) = self.bundle_instance_on(ci, n) {
            return Some(p);
        }
        if self.clones[ci].unique {
            return self.unique_instance(ci, rid);
        }
        if !self.clones[ci].instance_groups.is_empty() {
            return self.group_clone_history_instance(ci, n, rid);
        }
        let mut inactive = None;
        let mut skip_inactive = false;
        for &p in &self.clones[ci].instances {
            let prim = &self.prims[p];
            match prim.active.first() {
                Some(&m) if m == n => {
                    // A second history entry for the clone on this node.
                    skip_inactive = true;
                    break;
                }
                Some(_) => {}
                None => {
                    if inactive.is_none() && !prim.blocked && !prim.orphan {
                        inactive = Some(p);
                    }
                }
            }
        }
        let mut found = if skip_inactive { None } else { inactive };
        let node = &self.nodes[n];
        // An instance number is not used up on an unclean node, unless the clone
        // has one instance for every node (Pacemaker's pe__is_universal_clone).
        let universal = self.clones[ci].max == self.nodes.len();
        if found.is_some()
            && !self.instance_needs_fencing(ci)
            && (!node.online || node.unclean)
            && !universal
        {
            found = None;
        }
        Some(match found {
            Some(p) => p,
            None => self.new_instance(ci),
        })
    }

    /// Remembers that history entry `name` on node `n` was given to instance `p`
    /// (`active`: it made `p` active there), for `instance_history_name`.
    pub(crate) fn note_clone_history(&mut self, n: usize, p: usize, name: &'a str, active: bool) {
        let Some(ci) = self.prims[p].clone else {
            return;
        };
        if !self.clones[ci].unique {
            self.clones[ci].history.push(HistoryEntry {
                node: n,
                instance: p,
                name,
                active,
            });
        }
    }

    /// After a history entry of `p` on node `n` is read: a numbered name
    /// (`rsc:N`) under which the instance is not active there is forgotten, so
    /// the instance keeps its own name in the graph and for its promotion score
    /// (Pacemaker's process_rsc_state clears such a history id: old status
    /// sections kept instance numbers of stopped instances).
    pub(crate) fn forget_stopped_history_name(&mut self, n: usize, p: usize) {
        let prim = &mut self.prims[p];
        if !prim.active.contains(&n) && prim.history_name.as_ref().is_some_and(|h| h.contains(':'))
        {
            prim.history_name = None;
        }
    }

    /// The name the executor on node `n` must run and record anonymous clone
    /// instance `p` under, when not `p`'s own id: the name of the node's history
    /// entry given to `p` (the one that made it active first), else of an entry
    /// there whose instance is not active on `n` (a stopped record, given to
    /// another inactive instance). An anonymous clone has one instance per node
    /// and the agent knows it by that name only (`OCF_RESOURCE_INSTANCE`, its
    /// state files): an operation under a new name would start a second history
    /// there, which the next run reads as one more instance (an orphan) that the
    /// agent does not know.
    pub(crate) fn instance_history_name(&self, p: usize, n: usize) -> Option<&'a str> {
        let ci = self.prims[p].clone?;
        // A cloned group's history holds every member's entries: only those of
        // `p`'s own member can name it (else `fs:1` would run as `app`).
        let member = self.prims[p].def.map(|d| &d.id);
        let here = self.clones[ci]
            .history
            .iter()
            .filter(|h| h.node == n && self.prims[h.instance].def.map(|d| &d.id) == member);
        let own = here.clone().filter(|h| h.instance == p);
        let name = own
            .clone()
            .find(|h| h.active)
            .or_else(|| own.clone().next())
            .or_else(|| {
                here.clone()
                    .find(|h| !self.prims[h.instance].active.contains(&n))
            })?
            .name;
        (name != self.prims[p].id).then_some(name)
    }

    /// A globally-unique clone's history names its instance: `rsc:N` is instance
    /// N (made, as an orphan past `clone-max`, when it does not exist yet); of a
    /// cloned group, its member `rsc`.
    fn unique_instance(&mut self, ci: usize, rid: &str) -> Option<usize> {
        let (base, num) = rid.rsplit_once(':')?;
        let number: usize = num.parse().ok()?;
        while self.clones[ci].instances.len() <= number {
            self.new_instance(ci);
        }
        match self.clones[ci].instance_groups.get(number) {
            Some(&gi) => self.instance_member(gi, base),
            None => Some(self.clones[ci].instances[number]),
        }
    }

    pub(crate) fn instance_needs_fencing(&self, ci: usize) -> bool {
        let def = self.clones[ci].def;
        let cdef = self.cib.config.clone_of(&def.id);
        let requires = def
            .meta
            .get("requires")
            .or_else(|| cdef.and_then(|c| c.meta.get("requires")))
            .or_else(|| self.cib.config.rsc_defaults.get("requires"));
        match requires.map(String::as_str) {
            Some("fencing") | Some("unfencing") => true,
            Some(_) => false,
            None => self.opts.stonith_enabled && def.agent.class != "stonith",
        }
    }

    /// Sets up the clones' own score tables once node states are final.
    pub(crate) fn init_clone_scores(&mut self, base: &[Score]) {
        let symmetric = self.opts.symmetric_cluster;
        for cl in &mut self.clones {
            for (slot, b) in cl.allowed.iter_mut().zip(base) {
                if symmetric {
                    *slot = Some(slot.unwrap_or(Score::ZERO) + *b);
                }
            }
        }
    }

    /// A location constraint on a clone applies to the clone and to every instance.
    pub(crate) fn clone_location(&mut self, ci: usize, n: usize, score: Score, what: String) {
        let cur = self.clones[ci].allowed[n].unwrap_or(Score::ZERO);
        self.clones[ci].allowed[n] = Some(cur + score);
        if !self.clones[ci].instance_groups.is_empty() {
            return self.group_clone_location(ci, n, score, &what);
        }
        for p in self.clones[ci].instances.clone() {
            self.location(p, Some(n), score, what.clone());
        }
    }

    // ---------------------------------------------------------- assignment

    pub(crate) fn assign_clone(&mut self, ci: usize) {
        if !self.clones[ci].unassigned || self.clones[ci].assigning {
            return;
        }
        self.clones[ci].assigning = true;
        if self.clones[ci].promotable {
            self.add_promotion_scores(ci);
            self.assign_role_primaries(ci);
        }
        let mut this_with = self.clones[ci].this_with.clone();
        self.sort_colocs(&mut this_with, true);
        for c in this_with {
            let primary = self.colocs[c].primary;
            if self.is_unassigned(primary) {
                self.assign(primary);
            }
        }
        let mut with_this = self.clones[ci].with_this.clone();
        self.sort_colocs(&mut with_this, false);
        for c in with_this {
            self.add_dependent_scores_to_clone(c, ci);
        }
        // Pacemaker shows the scores with the promotion scores and its
        // dependents' preferences added, just before placing the instances.
        self.note_clone_assign(ci);
        let mut order = self.clones[ci].instances.clone();
        order.sort_by(|&a, &b| self.cmp_instance(ci, a, b));
        self.assign_instances(ci, &order);
        if self.clones[ci].promotable {
            self.set_instance_roles(ci);
        }
        self.clones[ci].assigning = false;
        self.clones[ci].unassigned = false;
    }

    /// pcmk__add_dependent_scores with a clone as the primary: only non-negative
    /// results are kept.
    fn add_dependent_scores_to_clone(&mut self, c: usize, ci: usize) {
        let coloc = self.colocs[c].clone();
        if !self.has_influence(&coloc) {
            return;
        }
        let before = self.clones[ci].allowed.clone();
        let mut table = before.clone();
        let factor = coloc.score.value() as f64 / Score::INFINITY_VALUE as f64;
        self.merge_colocated_scores(coloc.dependent, &mut table, &coloc, factor);
        for (slot, old) in table.iter_mut().zip(&before) {
            if let (Some(new), Some(old)) = (*slot, *old) {
                if new < Score::ZERO && old > Score::ZERO {
                    *slot = Some(Score::new(1));
                } else if new < Score::ZERO && old == Score::ZERO {
                    *slot = Some(old);
                }
            }
        }
        self.clones[ci].allowed = table;
    }

    fn instance_current(&self, p: usize) -> Option<usize> {
        self.prims[p].active.first().copied()
    }

    /// Pacemaker's pcmk__cmp_instance: which instance to assign first.
    pub(crate) fn cmp_instance(&self, ci: usize, a: usize, b: usize) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        let (pa, pb) = (&self.prims[a], &self.prims[b]);
        let (na, nb) = (pa.active.len(), pb.active.len());
        if na > 0 && nb > 0 && na != nb {
            return na.cmp(&nb);
        }
        let allowed = |p: usize, n: Option<usize>| -> (bool, Option<usize>) {
            match n {
                Some(n) if self.prims[p].allowed[n].is_none_or(|s| s < Score::ZERO) => {
                    (false, None)
                }
                other => (true, other),
            }
        };
        let (can1, n1) = allowed(a, self.instance_current(a));
        let (can2, n2) = allowed(b, self.instance_current(b));
        if can1 != can2 {
            return if can1 { Less } else { Greater };
        }
        if pa.priority != pb.priority {
            return pb.priority.cmp(&pa.priority);
        }
        let (n1, n2) = match (n1, n2) {
            (None, None) => return Equal,
            (None, Some(_)) => return Greater,
            (Some(_), None) => return Less,
            (Some(x), Some(y)) => (x, y),
        };
        if self.avail[n1] != self.avail[n2] {
            return if self.avail[n1] { Less } else { Greater };
        }
        let cl = &self.clones[ci];
        let (t1, t2) = (cl.allowed[n1].is_some(), cl.allowed[n2].is_some());
        match (t1, t2) {
            (false, false) => return Equal,
            (false, true) => return Greater,
            (true, false) => return Less,
            _ => {}
        }
        if cl.count[n1] != cl.count[n2] {
            return cl.count[n1].cmp(&cl.count[n2]);
        }
        if pa.failed != pb.failed {
            return if pa.failed { Greater } else { Less };
        }
        let (s1, s2) = (
            self.colocated_score_on(a, n1),
            self.colocated_score_on(b, n2),
        );
        if s1 != s2 {
            return s2.cmp(&s1);
        }
        a.cmp(&b)
    }

    /// An instance's score on its current node counting only its (and its clone's)
    /// colocations (Pacemaker's cmp_instance_by_colocation).
    fn colocated_score_on(&self, p: usize, n: usize) -> Score {
        let mut total = Score::ZERO;
        for &c in &self.this_with_list(p) {
            let coloc = &self.colocs[c];
            let factor = coloc.score.value() as f64 / Score::INFINITY_VALUE as f64;
            total += scaled(self.rsc_score_on(coloc.primary, n), factor);
        }
        for &c in &self.with_this_list(p) {
            let coloc = &self.colocs[c];
            if !self.has_influence(coloc) {
                continue;
            }
            let factor = coloc.score.value() as f64 / Score::INFINITY_VALUE as f64;
            let d = scaled(self.rsc_score_on(coloc.dependent, n), factor);
            if d >= Score::ZERO || total > Score::ZERO {
                total += d;
            }
        }
        total
    }

    fn rsc_score_on(&self, r: RscRef, n: usize) -> Score {
        let table = match r {
            RscRef::P(p) => &self.prims[p].allowed,
            RscRef::G(g) => match self.groups[g].members.first() {
                Some(&m) => &self.prims[m].allowed,
                None => return Score::NEG_INFINITY,
            },
            RscRef::C(c) => &self.clones[c].allowed,
        };
        match table[n] {
            Some(s) if self.avail[n] => s,
            _ => Score::NEG_INFINITY,
        }
    }

    fn assign_instances(&mut self, ci: usize, order: &[usize]) {
        let max_total = self.clones[ci].max;
        let node_max = self.clones[ci].node_max;
        self.clones[ci].count.iter_mut().for_each(|c| *c = 0);
        let available_nodes = (0..self.nodes.len())
            .filter(|&n| self.clones[ci].allowed[n].is_some() && self.avail[n])
            .count();
        let optimal = max_total.checked_div(available_nodes).unwrap_or(1).max(1);
        let mut assigned = 0;
        for &p in order {
            if assigned >= max_total {
                break;
            }
            if !self.prims[p].unassigned {
                continue;
            }
            let available = max_total - assigned;
            if let Some(cur) = self.preferred_node(ci, p, optimal) {
                if self.assign_instance_early(ci, p, cur, node_max, available) {
                    assigned += 1;
                }
            }
        }
        for &p in order {
            if !self.prims[p].unassigned {
                continue;
            }
            if assigned >= max_total {
                self.stop_instance(p, "clone-max instances already assigned");
            } else if self.assign_instance(ci, p, None, node_max).is_some() {
                assigned += 1;
            }
        }
    }

    fn preferred_node(&self, ci: usize, p: usize, optimal: usize) -> Option<usize> {
        let prim = &self.prims[p];
        if prim.active.is_empty() || !prim.unassigned || prim.failed {
            return None;
        }
        let n = prim.active[0];
        if !self.avail[n] {
            return None;
        }
        let cl = &self.clones[ci];
        if cl.allowed[n].is_some() && cl.count[n] >= optimal {
            return None;
        }
        Some(n)
    }

    fn can_run_instance(&self, ci: usize, p: usize, n: usize, node_max: usize) -> bool {
        let cl = &self.clones[ci];
        !self.prims[p].orphan
            && self.avail[n]
            && cl.allowed[n].is_some_and(|s| s >= Score::ZERO)
            && cl.count[n] < node_max
    }

    fn assign_instance(
        &mut self,
        ci: usize,
        p: usize,
        prefer: Option<usize>,
        node_max: usize,
    ) -> Option<usize> {
        if self.prims[p].assigning {
            return None;
        }
        for n in 0..self.nodes.len() {
            if self.prims[p].allowed[n].is_some() && !self.can_run_instance(ci, p, n, node_max) {
                self.prims[p].allowed[n] = Some(Score::NEG_INFINITY);
                self.ban_instance_group(p, n);
            }
        }
        self.prefer = prefer.map(|n| (p, n));
        let chosen = self.assign(RscRef::P(p));
        self.prefer = None;
        if let Some(n) = chosen {
            self.clones[ci].count[n] += 1;
        }
        chosen
    }

    fn assign_instance_early(
        &mut self,
        ci: usize,
        p: usize,
        current: usize,
        node_max: usize,
        available: usize,
    ) -> bool {
        if !self.avail[current] || self.prims[p].allowed[current].is_none_or(|s| s < Score::ZERO) {
            return false;
        }
        let saved_allowed = self.prims[p].allowed.clone();
        let saved_explain = self.prims[p].explain.len();
        let saved_role = (
            self.prims[p].next_role,
            self.prims[p].next_role_reason.clone(),
        );
        let saved_counts = self.clones[ci].count.clone();
        let saved_group = self
            .instance_group(p)
            .map(|gi| (gi, self.save_instance_group(gi)));
        let mut reserved = 0;
        let mut chosen = None;
        while reserved < available {
            chosen = self.assign_instance(ci, p, Some(current), node_max);
            if chosen == Some(current) {
                break;
            }
            if let Some((gi, saved)) = &saved_group {
                // The whole instance group goes back to unassigned.
                self.note_undone_assign(&self.groups[*gi].members.clone());
                self.unassign_instance_group(*gi, saved);
                if chosen.is_none() {
                    break;
                }
                reserved += 1;
                chosen = None;
                continue;
            }
            self.note_undone_assign(&[p]);
            self.prims[p].allowed = saved_allowed.clone();
            self.prims[p].explain.truncate(saved_explain);
            let Some(other) = chosen else {
                self.unassign_prim(p, None, &saved_role);
                break;
            };
            reserved += 1;
            self.unassign_prim(p, Some(other), &saved_role);
            chosen = None;
        }
        self.clones[ci].count = saved_counts;
        match chosen {
            Some(n) => {
                self.clones[ci].count[n] += 1;
                true
            }
            None => false,
        }
    }

    fn unassign_prim(
        &mut self,
        p: usize,
        from: Option<usize>,
        role: &(Option<Role>, Option<String>),
    ) {
        if let Some(n) = from {
            self.release_node(p, n);
        }
        let prim = &mut self.prims[p];
        prim.assigned = None;
        prim.unassigned = true;
        prim.next_role = role.0;
        prim.next_role_reason = role.1.clone();
    }

    // -------------------------------------------------------- colocations

    /// A primitive (or clone instance) `p` placed relative to clone `x`
    /// (pcmk__clone_apply_coloc_score with the clone as the primary).
    pub(crate) fn apply_coloc_with_clone(&mut self, p: usize, x: usize, coloc: &Coloc) {
        if self.clones[x].unassigned {
            return;
        }
        if let Some(role) = coloc.pri_role {
            self.apply_coloc_with_role(p, x, role, coloc);
            return;
        }
        if let Some(d) = self.prims[p].clone {
            if self.clones[d].interleave && self.clones[d].node_max == self.clones[x].node_max {
                match self.compatible_instance(p, x) {
                    Some(q) => self.apply_coloc_to_scores(p, q, coloc),
                    None if coloc.score.is_pos_infinity() => {
                        self.ban_everywhere_rc(p, "no instance to interleave with")
                    }
                    None => {}
                }
                return;
            }
        }
        if coloc.score.is_pos_infinity() {
            let nodes: Vec<usize> = self
                .colocation_instances(x)
                .iter()
                .filter(|&&q| !self.prims[q].blocked)
                .filter_map(|&q| self.prims[q].assigned)
                .collect();
            let label: Arc<str> =
                format!("colocation {} with {}", coloc.id, self.clones[x].id).into();
            for n in 0..self.nodes.len() {
                if self.prims[p].allowed[n].is_some() && !nodes.contains(&n) {
                    self.prims[p].allowed[n] = Some(Score::NEG_INFINITY);
                    self.prims[p].explain.push(crate::sched::Contribution {
                        nodes: crate::sched::NodeSel::One(n),
                        what: label.clone(),
                        score: Score::NEG_INFINITY,
                    });
                }
            }
            return;
        }
        for q in self.colocation_instances(x) {
            self.apply_coloc_to_scores(p, q, coloc);
        }
    }

    /// The instance of clone `x` on the best node `p` may run on (for interleaving).
    fn compatible_instance(&self, p: usize, x: usize) -> Option<usize> {
        let targets = self.colocation_instances(x);
        let on = |n: usize| {
            targets
                .iter()
                .copied()
                .find(|&q| self.prims[q].assigned == Some(n) && !self.prims[q].blocked)
        };
        if let Some(n) = self.prims[p].assigned {
            return on(n);
        }
        let mut nodes: Vec<usize> = (0..self.nodes.len())
            .filter(|&n| self.prims[p].allowed[n].is_some())
            .collect();
        // Pacemaker sorts the candidate nodes as it does for placement (score,
        // then fewest resources assigned, then name): instances interleaved
        // with a clone spread like the clone's own instances did.
        nodes.sort_by(|&a, &b| {
            let (sa, sb) = (self.node_score_of(p, a), self.node_score_of(p, b));
            sb.cmp(&sa)
                .then_with(|| self.capacity_order(a, b))
                .then(
                    self.nodes[a]
                        .num_resources
                        .cmp(&self.nodes[b].num_resources),
                )
                .then(self.nodes[a].name.cmp(self.nodes[b].name))
        });
        nodes.into_iter().find_map(on)
    }

    fn node_score_of(&self, p: usize, n: usize) -> Score {
        if !self.avail[n] {
            return Score::NEG_INFINITY;
        }
        self.prims[p].allowed[n].unwrap_or(Score::NEG_INFINITY)
    }

    pub(crate) fn ban_everywhere_rc(&mut self, p: usize, why: &str) {
        self.location(p, None, Score::NEG_INFINITY, why.to_string());
    }

    /// The clone `p` is an instance of, if any, and that clone's colocations (the
    /// instance inherits them).
    pub(crate) fn clone_colocs_of(&self, p: usize, this_with: bool) -> &[usize] {
        match self.prims[p].clone {
            Some(ci) if this_with => &self.clones[ci].this_with,
            Some(ci) => &self.clones[ci].with_this,
            None => &[],
        }
    }
}

fn scaled(score: Score, factor: f64) -> Score {
    if score.is_infinite() && factor.abs() >= 1.0 {
        return if (score.value() > 0) == (factor > 0.0) {
            Score::INFINITY
        } else {
            Score::NEG_INFINITY
        };
    }
    let d = factor * score.value() as f64;
    Score::new(if d < 0.0 {
        (d - 0.5) as i64
    } else {
        (d + 0.5) as i64
    })
}
