//! The promotion scores Pacemaker prints as it chooses which instances of a
//! promotable clone to promote (`RSC promotion score on NODE: SCORE` in
//! `crm_simulate -s`, from show_promotion_score): each instance's final sort
//! index, the value the instances are ranked by, on the node it was placed on.
//! An instance placed nowhere is `(inactive)` and can never be promoted.

use hactl_model::Score;

use crate::sched::Sched;

/// One instance's promotion score as its clone's roles were chosen.
#[derive(Debug, Clone)]
pub struct PromotionScore {
    /// The instance (a cloned group's instance is the group, e.g. `grp:0`).
    pub resource: String,
    /// Index in `Transition::nodes` of the node it was placed on.
    pub node: Option<usize>,
    pub score: Score,
}

impl Sched<'_> {
    /// Records instance `p`'s promotion score: `sort_index` once instances are
    /// ranked. An unplaced instance counts as -INFINITY, as Pacemaker ranks it.
    pub(crate) fn note_promotion_score(&mut self, p: usize, sort_index: Score) {
        let resource = match self.instance_group(p) {
            Some(gi) => self.groups[gi].id.to_string(),
            None => self.prims[p].id.clone(),
        };
        let node = self.prims[p].assigned;
        let score = if node.is_some() {
            sort_index
        } else {
            Score::NEG_INFINITY
        };
        self.promotion_scores.push(PromotionScore {
            resource,
            node,
            score,
        });
    }
}
