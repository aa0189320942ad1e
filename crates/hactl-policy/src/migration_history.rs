//! Reading a live migration left unfinished from the history, as Pacemaker's
//! `unpack_migrate_to_success` / `unpack_migrate_to_failure`
//! (lib/pengine/unpack.c) read it: a `migrate_to` whose `migrate_from` never
//! ran (or failed) counts the resource as active on the target too, unless the
//! target has newer state of it; without that, the resource is failed and may
//! not migrate. A partial migration whose target is chosen again is finished
//! (`continue_partial_migrations`); one that cannot be is recovered in place
//! when the resource is active on the target only, else refused.

use hactl_model::OpRecord;

use crate::sched::Sched;
use crate::PolicyError;

/// The operations that change where a resource runs (Pacemaker's
/// `non_monitor_after` looks only at these).
const STATE_OPS: [&str; 4] = ["start", "stop", "migrate_to", "migrate_from"];

/// Whether `a` is newer than `b`: by call id on the same node, else by
/// `last-rc-change` when both have one (else neither is newer).
fn newer(a: &OpRecord, b: &OpRecord, same_node: bool) -> bool {
    if same_node {
        return a.call_id > b.call_id;
    }
    matches!((a.last_rc_change, b.last_rc_change), (Some(x), Some(y)) if x > y)
}

/// Whether one node's history has a start, stop or migration newer than `than`.
fn state_after(ops: &[OpRecord], than: &OpRecord, same_node: bool) -> bool {
    ops.iter().any(|o| {
        !std::ptr::eq(o, than)
            && STATE_OPS.contains(&o.operation.as_str())
            && newer(o, than, same_node)
    })
}

fn succeeded(op: &OpRecord) -> bool {
    op.op_status == 0 && op.rc == 0
}

/// What a `migrate_to` on its source says about the resource.
#[derive(Debug, PartialEq, Eq)]
enum Reading {
    /// Nothing beyond each node's own history.
    Nothing,
    /// Also active on the target; `partial`: a migration that may be continued.
    OnTarget { partial: bool },
    /// Failed (recovered), and may not migrate.
    Failed,
}

/// The facts about one `migrate_to` that the reading depends on.
struct Facts {
    failed: bool,
    source_newer: bool,
    /// `Some(succeeded)` when the target has a `migrate_from` from this source.
    from: Option<bool>,
    target_known: bool,
    target_newer: bool,
    target_online: bool,
    source_online: bool,
}

fn read(f: &Facts) -> Reading {
    let on_target = f.target_known && !f.target_newer && f.target_online;
    if f.failed {
        // unpack_migrate_to_failure: a target without newer state may run it.
        return if on_target {
            Reading::OnTarget { partial: false }
        } else {
            Reading::Nothing
        };
    }
    if f.source_newer && (f.from.is_some() || f.target_newer) {
        return Reading::Nothing; // a completed (or superseded) migration
    }
    match f.from {
        // A dangling migration: refused by `check_migration_history`.
        Some(true) => Reading::Nothing,
        Some(false) if on_target => Reading::OnTarget { partial: false },
        Some(false) => Reading::Failed,
        // Cleaned up on the target: a probe there tells.
        None if f.target_online && !f.target_known => Reading::Nothing,
        None if on_target => Reading::OnTarget {
            partial: f.source_online,
        },
        None if !f.source_newer => Reading::Failed,
        None => Reading::Nothing,
    }
}

impl Sched<'_> {
    fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// The facts of primitive `rid`'s newest `migrate_to` on node `src`, with
    /// the index of its target.
    fn migrate_to_facts(&self, rid: &str, src: &str) -> Option<(usize, Facts)> {
        let status = &self.cib.status.nodes;
        let src_ops = &status.get(src)?.resources.get(rid)?.ops;
        let to = src_ops
            .iter()
            .filter(|o| o.operation == "migrate_to" && o.op_status != -1)
            .max_by_key(|o| o.call_id)?;
        if to.migrate_source() != Some(src) {
            return None;
        }
        let tgt = to.migrate_target()?;
        let t = self.node_index(tgt)?;
        let tgt_ops = status
            .get(tgt)
            .and_then(|st| st.resources.get(rid))
            .map_or(&[][..], |h| &h.ops[..]);
        let from = tgt_ops
            .iter()
            .filter(|o| o.operation == "migrate_from" && o.migrate_source() == Some(src))
            .max_by_key(|o| o.call_id);
        let target_newer = match from {
            Some(f) => state_after(tgt_ops, f, true),
            None => state_after(tgt_ops, to, false),
        };
        let facts = Facts {
            failed: !succeeded(to),
            source_newer: state_after(src_ops, to, true),
            from: from.map(succeeded),
            target_known: tgt_ops.iter().any(|o| o.op_status != -1),
            target_newer,
            target_online: self.nodes[t].online,
            source_online: self.node_index(src).is_some_and(|s| self.nodes[s].online),
        };
        Some((t, facts))
    }

    /// Applies the reading of every unfinished migration (after each node's
    /// own history is read, before the original roles are set).
    pub(crate) fn read_migration_history(&mut self) {
        let cib = self.cib;
        for p in 0..self.prims.len() {
            if self.prims[p].clone.is_some() {
                continue;
            }
            for src in cib.status.nodes.keys() {
                self.stop_on_pending_target(p, src);
                let Some((t, facts)) = self.migrate_to_facts(&self.prims[p].id, src) else {
                    continue;
                };
                let src_index = self.node_index(src);
                let prim = &mut self.prims[p];
                match read(&facts) {
                    Reading::Nothing => {}
                    Reading::OnTarget { partial } => {
                        if !prim.active.contains(&t) {
                            // Pacemaker adds the target while reading the
                            // source's history, before the source itself.
                            let at = src_index
                                .and_then(|s| prim.active.iter().position(|&a| a == s))
                                .unwrap_or(prim.active.len());
                            prim.active.insert(at, t);
                        }
                        prim.probed[t] = true;
                        prim.migration_barred = true;
                        if partial {
                            prim.partial_target = Some(t);
                        }
                    }
                    Reading::Failed => {
                        prim.failed = true;
                        prim.stop_if_failed = true;
                        prim.migration_barred = true;
                    }
                }
            }
        }
    }

    /// A `migrate_to` still pending on an unclean source may have reached its
    /// target: Pacemaker stops the resource there (unpack_rsc_op), which
    /// counting it active there does.
    fn stop_on_pending_target(&mut self, p: usize, src: &str) {
        let cib = self.cib;
        let Some(ops) = cib
            .status
            .nodes
            .get(src)
            .and_then(|st| st.resources.get(&self.prims[p].id))
        else {
            return;
        };
        // A pending operation (call id -1) is the newest there is.
        let pending = ops
            .ops
            .iter()
            .find(|o| o.operation == "migrate_to" && o.op_status == -1);
        let unclean = self.node_index(src).is_some_and(|s| self.nodes[s].unclean);
        let Some(pending) = pending.filter(|_| unclean) else {
            return;
        };
        let target = pending.migrate_target().and_then(|t| self.node_index(t));
        if let Some(t) = target.filter(|t| !self.prims[p].active.contains(t)) {
            self.prims[p].active.push(t);
            self.prims[p].migration_barred = true;
        }
    }

    /// A partial migration whose target is chosen again is finished, as
    /// Pacemaker does when the resource is active on just its source and target
    /// and may migrate: it moves from the source (`migrate_from` on the target,
    /// no `migrate_to`; `migration.rs`). Otherwise Pacemaker recovers it:
    /// restarted on the target when active there only, else refused.
    pub(crate) fn continue_partial_migrations(&mut self) -> Result<(), PolicyError> {
        for p in 0..self.prims.len() {
            let prim = &self.prims[p];
            let (Some(t), Some(a)) = (prim.partial_target, prim.assigned) else {
                continue;
            };
            if t != a {
                continue;
            }
            let source = prim.active.iter().copied().find(|&n| n != t);
            let continues = prim.active.len() == 2
                && prim.next_role != Some(hactl_model::Role::Stopped)
                && source.is_some_and(|src| self.may_finish_migration(p, src));
            if !continues && prim.active.len() == 1 {
                // Active on the target only (stopped on the source since):
                // Pacemaker forces its recovery in place (need_stop).
                self.prims[p].partial_restart = true;
                continue;
            }
            if !continues {
                return Err(PolicyError::Unsupported {
                    rsc: prim.id.clone(),
                    node: self.nodes[t].name.to_string(),
                    reason: "recovering a partial live migration that cannot be finished \
                             (migrate_to done, migrate_from not) is not supported yet"
                        .into(),
                });
            }
            let prim = &mut self.prims[p];
            prim.active.retain(|&n| n != t);
            prim.partial_continue = Some(t);
        }
        Ok(())
    }
}

/// The nodes a primitive is shown active on: a partial migration being
/// finished still counts its target (`Sched::continue_partial_migrations`),
/// which Pacemaker lists first.
pub(crate) fn shown_active<'p>(p: &'p crate::sched::Prim<'_>) -> impl Iterator<Item = usize> + 'p {
    p.partial_continue
        .into_iter()
        .chain(p.active.iter().copied())
}

impl Sched<'_> {}

#[cfg(test)]
#[path = "migration_history_tests.rs"]
mod tests;
