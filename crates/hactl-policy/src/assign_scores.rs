//! The node scores Pacemaker prints as it starts assigning a group or a clone
//! (`pcmk__group_assign: …` / `pcmk__clone_assign: …` in `crm_simulate -s`): the
//! collective resource's own scores (its location constraints; for a clone also
//! its dependents' preferences), then each member's or instance's scores as they
//! stand before any of them is assigned (its own constraints, stickiness, failure
//! bans, a promotable instance's positive promotion scores; a group's location
//! constraints count in full for its first member only, as they do for assignment).

use hactl_model::Score;

use crate::sched::{RscRef, Sched};

/// One resource's scores at the start of a collective's assignment.
#[derive(Debug, Clone)]
pub struct AssignScores {
    /// `pcmk__group_assign` or `pcmk__clone_assign`.
    pub function: &'static str,
    pub resource: String,
    /// Per node (in `Transition::nodes` order); None: not an allowed node.
    pub scores: Vec<Option<Score>>,
}

impl Sched<'_> {
    /// Records the scores of group `g` and its members (call as its assignment
    /// starts, once).
    pub(crate) fn note_group_assign(&mut self, g: usize) {
        // An orphan instance of a cloned group is removed: no scores (as for
        // any removed resource).
        if self.groups[g]
            .members
            .first()
            .is_some_and(|&m| self.prims[m].orphan)
        {
            return;
        }
        let own = self.group_allowed.get(g).cloned().unwrap_or_default();
        let members = self.groups[g].members.clone();
        self.note_assign("pcmk__group_assign", RscRef::G(g), own, &members);
    }

    /// Records the scores of clone `ci` and its instances.
    pub(crate) fn note_clone_assign(&mut self, ci: usize) {
        let own = self.clones[ci].allowed.clone();
        let instances = self.clones[ci].instances.clone();
        self.note_assign("pcmk__clone_assign", RscRef::C(ci), own, &instances);
        self.note_clone_group_instances(ci);
    }

    /// A cloned group's instances as its clone's assignment starts: Pacemaker
    /// shows the clone's children recursively, so each instance group's own
    /// scores and all its members (the leads are already noted as instances).
    fn note_clone_group_instances(&mut self, ci: usize) {
        for gi in self.clones[ci].instance_groups.clone() {
            let members = self.groups[gi].members.clone();
            if members.first().is_none_or(|&m| self.prims[m].orphan) {
                continue;
            }
            let own = self.group_allowed.get(gi).cloned().unwrap_or_default();
            self.assign_scores.push(AssignScores {
                function: "pcmk__clone_assign",
                resource: self.groups[gi].id.to_string(),
                scores: own,
            });
            for &m in members.iter().skip(1) {
                self.assign_scores.push(AssignScores {
                    function: "pcmk__clone_assign",
                    resource: self.prims[m].id.clone(),
                    scores: self.prims[m].allowed.clone(),
                });
            }
        }
    }

    fn note_assign(
        &mut self,
        function: &'static str,
        r: RscRef,
        own: Vec<Option<Score>>,
        members: &[usize],
    ) {
        let mut out = vec![AssignScores {
            function,
            resource: self.rsc_id(r).to_string(),
            scores: own,
        }];
        // Pacemaker shows no scores for removed resources (pe__show_node_scores_as),
        // such as the orphan instances made for extra clone histories.
        for &m in members.iter().filter(|&&m| !self.prims[m].orphan) {
            out.push(AssignScores {
                function,
                resource: self.prims[m].id.clone(),
                scores: self.prims[m].allowed.clone(),
            });
        }
        self.assign_scores.extend(out);
    }

    /// Primitives whose assignment is undone (an instance tried on its current
    /// node went elsewhere or nowhere) and will be assigned again: Pacemaker
    /// printed their pcmk__primitive_assign scores as it assigned them, so those
    /// lines appear once more, with the scores of that first attempt (the final
    /// ones come from the placements).
    pub(crate) fn note_undone_assign(&mut self, prims: &[usize]) {
        for &m in prims {
            let prim = &self.prims[m];
            if prim.orphan || prim.unassigned {
                continue;
            }
            self.assign_scores.push(AssignScores {
                function: "pcmk__primitive_assign",
                resource: prim.id.clone(),
                scores: prim.allowed.clone(),
            });
        }
    }

    /// A location constraint's score on a group's own scores.
    pub(crate) fn group_location(&mut self, g: usize, n: usize, score: Score) {
        let nodes = self.nodes.len();
        if self.group_allowed.len() <= g {
            self.group_allowed.resize(self.groups.len(), Vec::new());
        }
        let row = &mut self.group_allowed[g];
        if row.len() < nodes {
            row.resize(nodes, None);
        }
        row[n] = Some(row[n].unwrap_or(Score::ZERO) + score);
    }

    /// Every group starts at the node base scores in a symmetric cluster, and
    /// nowhere in an asymmetric one.
    pub(crate) fn init_group_scores(&mut self, base: Option<&[Score]>) {
        let nodes = self.nodes.len();
        self.group_allowed = (0..self.groups.len())
            .map(|_| match base {
                Some(b) => b.iter().map(|&s| Some(s)).collect(),
                None => vec![None; nodes],
            })
            .collect();
    }
}
