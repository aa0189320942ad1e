//! Live migration of a resource named in orderings, as Pacemaker does it
//! (lib/pacemaker's migration and ordering code):
//!
//! * Each ordering of the resource's start or stop is copied onto its migration
//!   steps: "start A then start B" also orders A's start (or, when A migrates
//!   too, A's `migrate_from`) before B's `migrate_to`; "stop A then stop B" orders
//!   A's stop before B's `migrate_to`; likewise promote/start and demote/stop.
//!   A copy whose first side is itself migrating is left out of the graph.
//! * While it migrates, the resource's stop and start do not restart what is
//!   ordered after them (nothing about it really stops).
//! * A neighbour that must really stop, and that the resource's stop is ordered
//!   before ("then implies first", e.g. the resource ordered after a neighbour
//!   that restarts), calls the migration off: the resource is then stopped and
//!   started like any other, in the neighbour's restart. So does a start that
//!   cannot run.
//! * In the graph, a plain (optional) ordering after a migrating stop is left
//!   out: the stop runs at the end of the migration, not where it would have.

use hactl_model::OrderAction;

use crate::actions::{
    Edge, Graph, Task, FIRST_NON_MIGRATABLE, INTERMEDIATE_STOP, ORDERED, THEN_IMPLIES_FIRST,
};
use crate::sched::{RscRef, Sched};

/// The migration (index into `Graph::migrations`, still on) whose start or stop
/// `a` is.
fn migration_of_act(g: &Graph, a: usize) -> Option<usize> {
    g.migrations
        .iter()
        .position(|m| !m.cancelled && (m.start == a || m.stop == a))
}

/// Whether action `a` is the start or stop of a migration that is still on
/// (Pacemaker's "migrate runnable").
pub(crate) fn migrating(g: &Graph, a: usize) -> bool {
    !g.migrations.is_empty() && migration_of_act(g, a).is_some()
}

/// Calls migration `k` off: its steps do not run, and its start is a real one.
pub(crate) fn cancel(g: &mut Graph, k: usize) {
    let m = g.migrations[k];
    if m.cancelled {
        return;
    }
    g.migrations[k].cancelled = true;
    for a in [m.migrate_to, m.migrate_from] {
        g.acts[a].runnable = false;
        g.acts[a].optional = true;
    }
    g.acts[m.start].pseudo = false;
}

/// What edge `e` means for the migrations: (first changed, then changed).
pub(crate) fn apply_edge(s: &Sched<'_>, g: &mut Graph, e: Edge) -> (bool, bool) {
    let (f, t) = (e.first, e.then);
    let mut changed = (false, false);
    // A required real stop of a neighbour ordered after the migrating stop. A
    // clone's stop does not count (Pacemaker compares with the clone's own stop
    // there, which does not call the migration off; `clone_order` copies the
    // ordering onto its instances).
    let neighbour = matches!(g.acts[t].rsc, Some(RscRef::P(q)) if s.prims[q].clone.is_none());
    if e.flags & (THEN_IMPLIES_FIRST | INTERMEDIATE_STOP) != 0
        && neighbour
        && !g.acts[t].optional
        && !migrating(g, t)
    {
        if let Some(k) = migration_of_act(g, f) {
            cancel(g, k);
            changed.0 = true;
        }
    }
    if let Some(k) = migration_of_act(g, t) {
        if !g.acts[g.migrations[k].start].runnable {
            cancel(g, k);
            changed.1 = true;
        }
    }
    changed
}

/// Whether edge `e` belongs in the transition (see the module comment).
pub(crate) fn keep_edge(g: &Graph, e: &Edge) -> bool {
    if g.migrations.is_empty() || !migrating(g, e.first) {
        return true;
    }
    if e.flags & FIRST_NON_MIGRATABLE != 0 {
        return false;
    }
    !(e.flags == ORDERED && g.acts[e.first].task == Task::Stop)
}

impl Sched<'_> {
    /// Whether `a` contains `b` (a group and its member).
    fn contains(&self, a: RscRef, b: RscRef) -> bool {
        match (a, b) {
            (RscRef::G(gi), RscRef::P(p)) => self.prims[p].group == Some(gi),
            (RscRef::C(ci), RscRef::P(p)) => self.prims[p].clone == Some(ci),
            _ => false,
        }
    }

    /// A group's chain between members `prev` and `m` (start `prev` then `m`,
    /// stop `m` then `prev`), copied onto their migrations.
    pub(crate) fn order_member_migrations(&self, prev: usize, m: usize, g: &mut Graph) {
        let (a, b) = (RscRef::P(prev), RscRef::P(m));
        self.order_migration_equivalents(a, OrderAction::Start, b, OrderAction::Start, g);
        self.order_migration_equivalents(b, OrderAction::Stop, a, OrderAction::Stop, g);
    }

    /// Copies the ordering "`fa` of `first`, then `ta` of `then`" onto `then`'s
    /// migration steps, when `then` migrates.
    pub(crate) fn order_migration_equivalents(
        &self,
        first: RscRef,
        fa: OrderAction,
        then: RscRef,
        ta: OrderAction,
        g: &mut Graph,
    ) {
        if g.migrations.is_empty() || first == then || self.contains(then, first) {
            return;
        }
        let RscRef::P(tp) = then else { return };
        let Some(tm) = g.migrations.iter().copied().find(|m| m.prim == tp) else {
            return;
        };
        let first_migratable = matches!(first, RscRef::P(fp) if self.allow_migrate(fp));
        let flags = if first_migratable {
            ORDERED | FIRST_NON_MIGRATABLE
        } else {
            ORDERED
        };
        let copied = match (fa, ta) {
            (OrderAction::Start, OrderAction::Start) => {
                if let RscRef::P(fp) = first {
                    let fm = g.migrations.iter().copied().find(|m| m.prim == fp);
                    if let Some(fm) = fm {
                        g.order(fm.migrate_from, tm.migrate_to, ORDERED);
                    }
                }
                Some(OrderAction::Start)
            }
            (OrderAction::Stop, OrderAction::Stop) => Some(OrderAction::Stop),
            (OrderAction::Promote, OrderAction::Start) => Some(OrderAction::Promote),
            (OrderAction::Demote, OrderAction::Stop) => Some(OrderAction::Demote),
            _ => None,
        };
        if let Some(action) = copied {
            for f in self.order_targets(first, action, true, g) {
                g.order(f, tm.migrate_to, flags);
            }
        }
    }
}
