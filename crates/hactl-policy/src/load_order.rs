//! Pacemaker's load_stopped orderings (pcmk__create_utilization_constraints, and
//! the loop check of pcmk__disable_invalid_orderings): under a placement
//! strategy, what a managed resource with utilization stops on a node frees
//! capacity there before such resources start on that node or migrate to it,
//! through the node's `load_stopped_<node>` pseudo action.
//!
//! Migrations can make these orderings circular (A migrates n1 → n2 while B
//! migrates n2 → n1: each `migrate_to` waits for the other's stop). Pacemaker
//! then drops the ordering before a `migrate_to`, examining the migrations from
//! the last created to the first and dropping each one that still closes a loop;
//! the migrations it keeps waiting for the load to move run after those.

use crate::actions::{Act, Edge, Graph, Task, SAME_NODE};
use crate::sched::Sched;

/// Sequence only, and never dropped for a migrating stop (Pacemaker's
/// `pcmk__ar_if_on_same_node_or_target`): what a node's load waits for.
pub(crate) const LOAD: u32 = 1024;

/// Per node, the actions a load ordering joins.
struct LoadActions {
    stops: Vec<Vec<usize>>,
    starts: Vec<Vec<usize>>,
    /// `migrate_to` actions by the node the resource migrates to.
    migrate_tos: Vec<Vec<usize>>,
}

impl Sched<'_> {
    /// Whether primitive `p` takes part in the load orderings: managed, with
    /// utilization of its own.
    fn weighs(&self, p: usize) -> bool {
        let prim = &self.prims[p];
        prim.managed && prim.def.is_some_and(|d| !d.utilization.is_empty())
    }

    fn load_actions(&self, g: &Graph) -> LoadActions {
        let n = self.nodes.len();
        let mut la = LoadActions {
            stops: vec![Vec::new(); n],
            starts: vec![Vec::new(); n],
            migrate_tos: vec![Vec::new(); n],
        };
        let live = |a: usize| !g.acts[a].optional && g.acts[a].runnable;
        for p in (0..self.prims.len()).filter(|&p| self.weighs(p)) {
            for &a in g.stops_of[p].iter().filter(|&&a| live(a)) {
                if let Some(m) = g.acts[a].node {
                    la.stops[m].push(a);
                }
            }
            if let Some(a) = g.start_of[p].filter(|&a| live(a)) {
                if let Some(m) = g.acts[a].node {
                    la.starts[m].push(a);
                }
            }
        }
        for mig in g.migrations.iter().filter(|m| !m.cancelled) {
            // Where the resource goes, not where migrate_to runs, counts.
            let target = g.acts[mig.migrate_from].node;
            if let (true, true, Some(t)) = (self.weighs(mig.prim), live(mig.migrate_to), target) {
                la.migrate_tos[t].push(mig.migrate_to);
            }
        }
        la
    }

    /// Adds the load orderings (see the module comment). Sequence only, so added
    /// once the actions are final; the pseudo action is made only for a node that
    /// has both a stop and something to order after it.
    pub(crate) fn utilization_orders(&mut self, g: &mut Graph) {
        if self.capacity.is_none() {
            return;
        }
        let la = self.load_actions(g);
        // Edge indices of "load, then migrate_to", with the migrate_to.
        let mut to_migrations: Vec<(usize, usize)> = Vec::new();
        for m in 0..self.nodes.len() {
            let thens = la.starts[m].len() + la.migrate_tos[m].len();
            if la.stops[m].is_empty() || thens == 0 {
                continue;
            }
            let load = g.add(Act {
                rsc: None,
                task: Task::LoadStopped,
                node: Some(m),
                optional: false,
                runnable: true,
                pseudo: true,
                reason: None,
            });
            for &a in &la.stops[m] {
                g.order(a, load, LOAD);
            }
            for &a in &la.starts[m] {
                g.order(load, a, LOAD);
            }
            for &a in &la.migrate_tos[m] {
                to_migrations.push((g.edges.len(), a));
                g.order(load, a, LOAD);
            }
        }
        break_load_loops(g, to_migrations);
    }
}

/// Whether edge `e` is in the transition (as `build_transition` filters them).
fn in_transition(g: &Graph, in_graph: &[bool], e: &Edge) -> bool {
    if !in_graph[e.first] || !in_graph[e.then] {
        return false;
    }
    if e.flags & SAME_NODE != 0 {
        let (a, b) = (g.acts[e.first].node, g.acts[e.then].node);
        if a.is_some() && b.is_some() && a != b {
            return false;
        }
    }
    crate::migration_orders::keep_edge(g, e)
}

/// Drops the "load, then migrate_to" edges (`to_migrations`: edge index and
/// migrate_to) that close a loop, the last created migrate_to first, as
/// Pacemaker does.
fn break_load_loops(g: &mut Graph, mut to_migrations: Vec<(usize, usize)>) {
    if to_migrations.is_empty() {
        return;
    }
    let mut in_graph: Vec<bool> = g.acts.iter().map(|a| !a.optional).collect();
    for &a in &g.always_in_graph {
        in_graph[a] = true;
    }
    let mut after: Vec<Vec<(usize, usize)>> = vec![Vec::new(); g.acts.len()];
    for (i, e) in g.edges.iter().enumerate() {
        if in_transition(g, &in_graph, e) {
            after[e.first].push((e.then, i));
        }
    }
    let mut dropped = vec![false; g.edges.len()];
    to_migrations.sort_by_key(|&(_, mt)| std::cmp::Reverse(mt));
    for (e, mt) in to_migrations {
        let load = g.edges[e].first;
        if reaches(&after, &dropped, mt, load) {
            dropped[e] = true;
        }
    }
    let mut i = 0;
    g.edges.retain(|_| {
        i += 1;
        !dropped[i - 1]
    });
}

/// Whether `to` follows `from` along edges not dropped.
fn reaches(after: &[Vec<(usize, usize)>], dropped: &[bool], from: usize, to: usize) -> bool {
    let mut seen = vec![false; after.len()];
    let mut stack = vec![from];
    while let Some(a) = stack.pop() {
        if a == to {
            return true;
        }
        if std::mem::replace(&mut seen[a], true) {
            continue;
        }
        stack.extend(
            after[a]
                .iter()
                .filter(|(_, e)| !dropped[*e])
                .map(|(t, _)| *t),
        );
    }
    false
}
