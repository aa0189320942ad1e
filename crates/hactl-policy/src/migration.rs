//! Live migration (`allow-migrate=true`): a resource that moves from one node to
//! another is handed over by the agent (`migrate_to` on the source, then
//! `migrate_from` on the target) instead of being stopped and started, as
//! Pacemaker does it (lib/pacemaker/pcmk_sched_migration.c): the stop on the source
//! comes after `migrate_from`, and the start on the target becomes a pseudo action
//! that only marks the resource as running there.
//!
//! A migrating primitive may be named in orderings (`migration_orders.rs`): each
//! ordering of its start or stop is copied onto its migration steps, and a
//! neighbour's restart it is ordered against calls the migration off (then it is
//! stopped and started like any other resource); a group member's chain counts as
//! such orderings. The import refuses `allow-migrate` on a clone. A migration
//! left unfinished in the history is read in `migration_history.rs`; scheduling
//! refuses the histories that reading does not cover
//! (`check_migration_history`), so that none is scheduled as something else.

use hactl_model::values::parse_bool;
use hactl_model::{OpRecord, Role};

use crate::actions::{Act, Graph, Task, MIGRATION, ORDERED};
use crate::probe_order::ProbeThen;
use crate::sched::{RscRef, Sched};
use crate::PolicyError;

/// One scheduled migration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    pub prim: usize,
    /// The node it migrates from.
    pub source: usize,
    /// `migrate_from` itself when a partial migration is finished (its
    /// `migrate_to` ran already): what waits for `migrate_to` waits for it.
    pub migrate_to: usize,
    pub migrate_from: usize,
    /// The stop on the source and the (pseudo) start on the target.
    pub stop: usize,
    pub start: usize,
    /// Called off while the orderings were applied (`migration_orders.rs`):
    /// the resource is stopped and started instead.
    pub cancelled: bool,
}

fn unsupported(rsc: &str, node: &str, what: &str) -> PolicyError {
    PolicyError::Unsupported {
        rsc: rsc.to_string(),
        node: node.to_string(),
        reason: format!(
            "a live migration in progress or left unfinished ({what}) is not supported yet"
        ),
    }
}

/// Whether an operation is one of the two migration steps.
fn is_migration_op(op: &OpRecord) -> bool {
    matches!(op.operation.as_str(), "migrate_to" | "migrate_from")
}

/// The newest operation of a node's history that is not a recurring monitor.
fn last_state_op(ops: &[OpRecord]) -> Option<&OpRecord> {
    ops.iter()
        .filter(|o| !(o.operation == "monitor" && o.interval_ms > 0))
        .max_by_key(|o| (o.call_id, o.last_rc_change))
}

/// Whether the target of `migrate_to` has a successful `migrate_from` of `rsc`.
fn migrated_to(
    nodes: &std::collections::BTreeMap<String, hactl_model::NodeStatus>,
    rsc: &str,
    migrate_to: &OpRecord,
) -> bool {
    let target = migrate_to.migrate_target().unwrap_or_default();
    nodes
        .get(target)
        .and_then(|st| st.resources.get(rsc))
        .is_some_and(|h| {
            h.ops
                .iter()
                .any(|o| o.operation == "migrate_from" && o.op_status == 0 && o.rc == 0)
        })
}

impl Sched<'_> {
    /// Whether primitive `p` may migrate: `allow-migrate` on the primitive (else
    /// on its group, else `rsc_defaults`), whatever its agent class (a running
    /// cluster refuses a non-OCF one, `hactl_model::live`). The import refuses it on clones; a configuration made
    /// otherwise (the CLI) that puts it there gets stop and start.
    pub(crate) fn allow_migrate(&self, p: usize) -> bool {
        let prim = &self.prims[p];
        if prim.clone.is_some() || !self.migrations_recordable {
            return false;
        }
        let Some(def) = prim.def else { return false };
        // A group member inherits the group's meta attributes (Pacemaker).
        let group = prim.group.map(|gi| &self.groups[gi].def.meta);
        def.meta
            .get("allow-migrate")
            .or_else(|| group.and_then(|m| m.get("allow-migrate")))
            .or_else(|| self.cib.config.rsc_defaults.get("allow-migrate"))
            .and_then(|v| parse_bool(v))
            // Remote nodes' connections migrate unless told not to (Pacemaker).
            .unwrap_or_else(|| hactl_model::remote::is_remote_connection(def))
    }

    /// Refuses the histories of a migration `migration_history.rs` does not
    /// read: one in progress (a pending step), a failed `migrate_from`, and a
    /// dangling one (`migrate_to` and `migrate_from` done, the source not
    /// stopped since). Pacemaker continues or finishes these; hactl would see
    /// the resource in the wrong place.
    pub(crate) fn check_migration_history(&self) -> Result<(), PolicyError> {
        let nodes = &self.cib.status.nodes;
        for (node, st) in nodes {
            for (rsc, h) in &st.resources {
                let Some(op) = last_state_op(&h.ops).filter(|o| is_migration_op(o)) else {
                    continue;
                };
                let failed = op.op_status != 0 || op.rc != op.expected_rc.unwrap_or(0);
                let unclean = self
                    .node_by_name
                    .get(node.as_str())
                    .is_some_and(|&n| self.nodes[n].unclean);
                let what = if op.op_status == -1 && !(unclean && op.operation == "migrate_to") {
                    format!("{} pending", op.operation)
                } else if failed && op.operation == "migrate_from" {
                    "migrate_from failed, not followed by a stop or start there".to_string()
                } else if !failed && op.operation == "migrate_to" && migrated_to(nodes, rsc, op) {
                    "migrate_to and migrate_from succeeded, the source not stopped since"
                        .to_string()
                } else {
                    continue;
                };
                return Err(unsupported(rsc, node, &what));
            }
        }
        Ok(())
    }

    /// Pacemaker's `pcmk__rsc_can_migrate` for a resource that moves from
    /// `current`: migratable, managed, not failed, and neither node unclean.
    fn can_migrate(&self, p: usize, current: usize) -> bool {
        let prim = &self.prims[p];
        (!prim.migration_barred || prim.partial_continue.is_some())
            && self.may_finish_migration(p, current)
    }

    /// `can_migrate` apart from the history: what a partial migration needs to
    /// be finished (`migration_history.rs`).
    pub(crate) fn may_finish_migration(&self, p: usize, current: usize) -> bool {
        let prim = &self.prims[p];
        self.allow_migrate(p)
            && prim.managed
            && !prim.failed
            && !self.nodes[current].unclean
            && prim.assigned.is_some_and(|n| !self.nodes[n].unclean)
    }

    /// Replaces the stop/start of a moving migratable resource by a migration:
    /// `migrate_to` (source) → `migrate_from` (target) → stop (source) and the
    /// start (target), which becomes a pseudo action.
    pub(crate) fn create_migration(&self, p: usize, g: &mut Graph) {
        let prim = &self.prims[p];
        let (Some(current), Some(target)) = (prim.active.first().copied(), prim.assigned) else {
            return;
        };
        if current == target
            || prim.active.len() != 1
            || prim.next_role != Some(Role::Started)
            || !self.can_migrate(p, current)
        {
            return;
        }
        let Some(start) = g.start_of[p].filter(|&s| g.acts[s].runnable) else {
            return;
        };
        let Some(stop) = g.stops_of[p]
            .iter()
            .copied()
            .find(|&s| g.acts[s].node == Some(current))
        else {
            return;
        };
        let mk = |task, node| Act {
            rsc: Some(RscRef::P(p)),
            task,
            node: Some(node),
            optional: false,
            runnable: true,
            pseudo: false,
            reason: None,
        };
        // A partial migration being finished ran its migrate_to already.
        let partial = prim.partial_continue.is_some();
        let migrate_to = (!partial).then(|| g.add(mk(Task::MigrateTo, current)));
        let migrate_from = g.add(mk(Task::MigrateFrom, target));
        let migrate_to = migrate_to.unwrap_or(migrate_from);
        g.acts[start].pseudo = true;
        if !partial {
            g.order(migrate_to, migrate_from, ORDERED | MIGRATION);
        }
        g.order(migrate_from, stop, ORDERED | MIGRATION);
        g.order(migrate_from, start, ORDERED | MIGRATION);
        g.migrations.push(Migration {
            prim: p,
            source: current,
            migrate_to,
            migrate_from,
            stop,
            start,
            cancelled: false,
        });
    }

    /// After propagation: a migration whose start cannot run after all does not
    /// happen (Pacemaker's unmigratable-then-blocks and first-else-then), and what
    /// the start waits for (fencing) `migrate_to` waits for too, as Pacemaker
    /// gives `migrate_to` the start's requirements. Probes of the resource come
    /// before `migrate_to`.
    pub(crate) fn finish_migrations(&self, g: &mut Graph) {
        for k in 0..g.migrations.len() {
            let m = g.migrations[k];
            let start = m.start;
            if m.cancelled {
                continue;
            }
            if !g.acts[start].runnable || g.acts[start].optional {
                crate::migration_orders::cancel(g, k);
                continue;
            }
            // Only what requires fencing waits for it there: the start of one
            // that requires quorum only waits for a fencing where its state is
            // unknown, which is no requirement migrate_to inherits.
            let fences: Vec<usize> = g
                .edges
                .iter()
                .filter(|e| e.then == start && g.acts[e.first].task == Task::Fence)
                .filter(|_| self.prims[m.prim].needs_fencing)
                .map(|e| e.first)
                .collect();
            for f in fences {
                g.order(f, m.migrate_to, ORDERED);
            }
            g.probe_thens.push(ProbeThen {
                prim: m.prim,
                then: m.migrate_to,
                same_node: false,
            });
        }
        g.probe_thens.sort_by_key(|pt| pt.prim);
    }

    /// The migration of primitive `p`, if it migrates in this transition.
    pub(crate) fn migration_of(&self, p: usize, g: &Graph) -> Option<Migration> {
        g.migrations
            .iter()
            .copied()
            .find(|m| m.prim == p && !m.cancelled && !g.acts[m.migrate_to].optional)
    }
}

/// The transition's kind of migration action `a`, naming both nodes.
pub(crate) fn action_kind(s: &Sched<'_>, g: &Graph, a: usize) -> crate::ActionKind {
    let m = g
        .migrations
        .iter()
        .find(|m| m.migrate_to == a || m.migrate_from == a);
    let node = |x: usize| {
        g.acts[x]
            .node
            .map(|n| s.nodes[n].name.to_string())
            .unwrap_or_default()
    };
    let (source, target) = m
        .map(|m| (s.nodes[m.source].name.to_string(), node(m.migrate_from)))
        .unwrap_or_default();
    if g.acts[a].task == Task::MigrateTo {
        crate::ActionKind::MigrateTo { source, target }
    } else {
        crate::ActionKind::MigrateFrom { source, target }
    }
}
