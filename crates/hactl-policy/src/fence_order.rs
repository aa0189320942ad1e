//! The order between fencing actions, as Pacemaker's scheduler sets it: with
//! `concurrent-fencing=false` one node is fenced after the other (in name order), and
//! fencing the DC always waits for every other fencing action (the DC carries the
//! transition out; fencing it last lets it finish the rest first).

use hactl_model::values::parse_bool;

use crate::actions::{Graph, ORDERED};
use crate::sched::Sched;

/// Orders the fencing actions `fence_of[node]` (one per node at most).
pub(crate) fn order_fencing(s: &Sched<'_>, g: &mut Graph, fence_of: &[Option<usize>]) {
    let concurrent = s
        .cib
        .config
        .properties
        .get("concurrent-fencing")
        .and_then(|v| parse_bool(v))
        .unwrap_or(true);
    let dc = s.cib.status.dc.as_deref();
    let mut others: Vec<usize> = Vec::new();
    let mut dc_fence = None;
    // Pacemaker keeps its nodes sorted by name, digit runs as numbers (remote
    // nodes among the others).
    let mut by_name: Vec<usize> = (0..fence_of.len()).collect();
    by_name.sort_by(|&a, &b| crate::output::natural_cmp(s.nodes[a].name, s.nodes[b].name));
    for n in by_name {
        let Some(f) = fence_of[n] else { continue };
        if Some(s.nodes[n].name) == dc {
            dc_fence = Some(f);
            continue;
        }
        if let (false, Some(&last)) = (concurrent, others.last()) {
            g.order(last, f, ORDERED);
        }
        others.push(f);
    }
    if let Some(d) = dc_fence {
        for &f in &others {
            g.order(f, d, ORDERED);
        }
    }
}
