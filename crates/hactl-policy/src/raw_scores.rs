//! Allocation scores in the form `crm_simulate -s` prints them (and Pacemaker's
//! regression suite keeps them in `<case>.scores`): one line per primitive and node,
//! `pcmk__primitive_assign: RSC allocation score on NODE: SCORE`, sorted.
//!
//! Groups and clones add the scores they and their members had as their
//! assignment started (`pcmk__group_assign: …`, `pcmk__clone_assign: …`; see
//! `assign_scores.rs`). Promotable clones add each instance's promotion score
//! (`RSC promotion score on NODE: SCORE`; see `promotion_scores.rs`).

use crate::Transition;

impl Transition {
    /// The allocation scores, one `pcmk__primitive_assign` line per primitive and
    /// node it may run on, sorted as in a `.scores` file (orphans have none).
    pub fn raw_scores(&self) -> String {
        let mut lines: Vec<String> = Vec::new();
        // Orphans (no longer configured) are not assigned, so Pacemaker prints no
        // scores for them; placements and scores are both in primitive order.
        let configured = self.placements.iter().map(|p| !p.orphan);
        for (r, _) in self.scores.iter().zip(configured).filter(|(_, c)| *c) {
            for (node, score) in self.nodes.iter().zip(&r.scores) {
                // None: not an allowed node at all (asymmetric cluster), which
                // Pacemaker does not list either.
                if let Some(score) = score {
                    lines.push(format!(
                        "pcmk__primitive_assign: {} allocation score on {}: {score}",
                        r.resource, node.name
                    ));
                }
            }
        }
        for a in &self.assign_scores {
            for (node, score) in self.nodes.iter().zip(&a.scores) {
                if let Some(score) = score {
                    lines.push(format!(
                        "{}: {} allocation score on {}: {score}",
                        a.function, a.resource, node.name
                    ));
                }
            }
        }
        for s in &self.promotion_scores {
            lines.push(match s.node.and_then(|n| self.nodes.get(n)) {
                Some(node) => format!(
                    "{} promotion score on {}: {}",
                    s.resource, node.name, s.score
                ),
                None => format!("{} promotion score (inactive): {}", s.resource, s.score),
            });
        }
        lines.sort();
        let mut out = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
        out
    }
}
