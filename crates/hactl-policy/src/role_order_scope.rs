//! "First implies then" from a promotable clone's promotion or demotion to a
//! primitive's action on one node. Pacemaker judges the clone's action on the
//! node of "then" only (its collective action flags are node-scoped for a
//! primitive "then"): a promotion of another instance elsewhere does not make
//! the dependent's start required, so a running dependent is not restarted.

use crate::actions::{Graph, Task};
use crate::sched::{RscRef, Sched};

/// Whether `first` (a clone's promote/demote pseudo action) is optional as seen
/// from `then`'s node: no instance promotes (demotes) there as a required
/// action. `None` when the node-scoped view does not apply (not such a pair).
pub(crate) fn optional_on_then_node(
    s: &Sched<'_>,
    g: &Graph,
    first: usize,
    then: usize,
) -> Option<bool> {
    let f = &g.acts[first];
    let Some(RscRef::C(ci)) = f.rsc else {
        return None;
    };
    let task = match f.task {
        Task::CPromote | Task::CPromoted => Task::Promote,
        Task::CDemote | Task::CDemoted => Task::Demote,
        _ => return None,
    };
    let t = &g.acts[then];
    let (Some(RscRef::P(tp)), Some(node)) = (t.rsc, t.node) else {
        return None;
    };
    if s.prims[tp].clone.is_some() {
        return None;
    }
    let required_there = g.acts.iter().any(|a| {
        a.task == task
            && a.node == Some(node)
            && !a.optional
            && matches!(a.rsc, Some(RscRef::P(q)) if s.prims[q].clone == Some(ci))
    });
    Some(!required_there)
}
