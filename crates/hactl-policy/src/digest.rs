//! Definition changes, as Pacemaker detects them: every operation in a resource's
//! history since its last start carries the digest of the parameters it ran with
//! (`hactl_model::digest`). Where the resource runs, the digests are recomputed
//! from the current definition:
//!
//! - a changed agent (class, provider or type), or a changed parameter the agent
//!   cannot reload (`op-restart-digest` differs) → restart (stop, start, monitors);
//! - only other parameters changed (`op-digest` differs) → `reload-agent` when the
//!   agent can reload (the record has a restart digest), else restart; a reload
//!   is dropped when the resource has to stop there anyway;
//! - a recurring monitor whose digest differs (its parameters or timeout changed)
//!   is scheduled again, which replaces the running one.
//!
//! A record without a digest (written before hactl recorded them, or by a test
//! harness) is left alone. Pacemaker would reload or restart the resource; here an
//! upgrade must not restart every running resource once. Pacemaker's own
//! regression cases agree either way.

use hactl_model::digest::{op_digest, op_params, restart_digest, secure_digest_matches};
use hactl_model::{OpRecord, Primitive, ResourceHistory};

use crate::actions::{Act, Graph, Task, FIRST_IMPLIES_THEN, UNRUNNABLE_FIRST_BLOCKS};
use crate::sched::{RscRef, Sched};

/// What a primitive's changed definition asks for.
#[derive(Debug, Default, Clone)]
pub(crate) struct DefChange {
    /// Restart where it runs (a changed agent or non-reloadable parameter).
    pub restart: bool,
    /// The restart is for changed parameters: the summary says it is "due to
    /// resource definition change", as Pacemaker's does.
    pub params_changed: bool,
    /// Reload on this node (only reloadable parameters changed).
    pub reload: Option<usize>,
    /// Recurring monitors to schedule again: (node, interval).
    pub reschedule: Vec<(usize, u64)>,
}

/// The comparison of one history record with the current definition.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Match,
    Restart,
    /// `op-digest` differs: reload, reschedule or restart.
    Changed,
}

/// The record's digests against the current parameters `all` (the operation's own,
/// `has_own`, last).
fn digest_verdict(op: &OpRecord, all: &[(&str, &str)], has_own: bool, timeout: u64) -> Verdict {
    let now = op_digest(all.iter().copied(), op.interval_ms, timeout);
    if let Some(recorded) = &op.op_restart_digest {
        let restart = match &op.op_force_restart {
            Some(list) => restart_digest(all.iter().copied(), list),
            None => now.clone(),
        };
        if &restart != recorded {
            return Verdict::Restart;
        }
    }
    match &op.op_digest {
        None => Verdict::Match, // unknown: see the module comment
        Some(d) if *d == now => Verdict::Match,
        // An operation's own parameters are applied by a restart only.
        Some(_) if op.interval_ms == 0 && has_own => Verdict::Restart,
        Some(_) => Verdict::Changed,
    }
}

/// The operations whose records are compared: recurring ones, and those whose
/// parameters are the start's.
fn compared(op: &OpRecord) -> bool {
    op.interval_ms > 0
        || matches!(
            op.operation.as_str(),
            "monitor" | "start" | "promote" | "migrate_from"
        )
}

/// The index of the start the current run began with (Pacemaker's
/// `calculate_active_ops`), or None when the history ends stopped.
fn active_from(ops: &[&OpRecord]) -> Option<usize> {
    let (mut start, mut stop) = (None, None);
    let (mut monitor_start, mut role_start) = (None, None);
    for (i, op) in ops.iter().enumerate() {
        match op.operation.as_str() {
            "stop" if op.op_status == 0 => stop = Some(i),
            "start" | "migrate_from" => start = Some(i),
            "monitor" if monitor_start <= stop && matches!(op.rc, 0 | 8) => monitor_start = Some(i),
            "promote" | "demote" => role_start = Some(i),
            _ => {}
        }
    }
    let start = start.or(role_start).or(monitor_start);
    if start < stop {
        return None;
    }
    Some(start.unwrap_or(0))
}

impl Sched<'_> {
    /// Compares every active primitive's history with its definition (before
    /// placement, as Pacemaker does).
    pub(crate) fn check_definitions(&mut self) {
        let cib = self.cib;
        for p in 0..self.prims.len() {
            let prim = &self.prims[p];
            let Some(def) = prim.def else { continue };
            if prim.orphan || !prim.managed {
                continue;
            }
            let name = prim.history_name.as_ref().unwrap_or(&prim.id).clone();
            for n in prim.active.clone() {
                if !self.nodes[n].available() {
                    continue;
                }
                let hist = cib
                    .status
                    .nodes
                    .get(self.nodes[n].name)
                    .and_then(|st| st.resources.get(&name));
                if let Some(hist) = hist {
                    self.check_on_node(p, n, def, hist);
                }
            }
        }
    }

    fn check_on_node(&mut self, p: usize, n: usize, def: &Primitive, hist: &ResourceHistory) {
        let mut ops: Vec<&OpRecord> = hist.ops.iter().collect();
        ops.sort_by_key(|o| o.call_id);
        let old = &hist.agent;
        let agent_changed = !old.class.is_empty()
            && (old.class != def.agent.class
                || old.kind != def.agent.kind
                || old.provider != def.agent.provider);
        if agent_changed {
            self.prims[p].def_change.restart = true;
        }
        let Some(from) = active_from(&ops) else {
            return;
        };
        let start_pending = agent_changed
            || ops
                .iter()
                .rev()
                .find(|o| o.operation == "start")
                .is_some_and(|o| o.op_status == -1);
        let failed = self.prims[p].failed;
        for op in &ops[from..] {
            if !compared(op) {
                continue;
            }
            // A recurring op no longer configured is cancelled (`cancel.rs`).
            if op.interval_ms > 0 && def.op(&op.operation, op.interval_ms).is_none() {
                continue;
            }
            let verdict = self.compare(def, op, n);
            if verdict == Verdict::Match {
                continue;
            }
            // A changed definition is tried afresh (Pacemaker's "action
            // definition changed").
            if self.failcount(p, n, false).0 != 0 {
                self.prims[p].cleanup.clear_on(n);
            }
            let change = &mut self.prims[p].def_change;
            match verdict {
                Verdict::Restart => (change.restart, change.params_changed) = (true, true),
                _ if op.interval_ms > 0 => change.reschedule.push((n, op.interval_ms)),
                // A start still pending restarts without a word about why.
                _ if start_pending => change.restart = true,
                _ if op.op_restart_digest.is_none() => {
                    (change.restart, change.params_changed) = (true, true)
                }
                _ if !failed => change.reload = Some(n),
                _ => {}
            }
        }
    }

    /// Pacemaker's `rsc_action_digest_cmp` for one record; a record whose secrets
    /// were masked (`only_sanitized_changed`) matches when its other parameters do.
    pub(crate) fn compare(&self, def: &Primitive, op: &OpRecord, n: usize) -> Verdict {
        // Probes, promotes and migrations ran with the start's parameters.
        let task = if op.interval_ms == 0 {
            "start"
        } else {
            op.operation.as_str()
        };
        let spec = def.op(task, op.interval_ms);
        let own = op_params(spec);
        // Parameters with a rule can differ per node (`conditional.rs`).
        let params = crate::conditional::params_on(self.cib, def, self.nodes[n].name, self.now);
        let params = crate::bundle_nodes::digest_params(params, def, self.nodes[n].name);
        let all: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(own.iter().copied())
            .collect();
        let timeout = self.cib.config.op_timeout_ms(spec);
        let verdict = digest_verdict(op, &all, !own.is_empty(), timeout);
        if verdict == Verdict::Match {
            return verdict;
        }
        if let (Some(secure), Some(digest)) = (&op.op_secure_params, &op.op_secure_digest) {
            let rsc = &all[..params.len()];
            if secure_digest_matches(&all, rsc, secure, op.interval_ms, timeout, digest) {
                return Verdict::Match;
            }
        }
        verdict
    }

    /// The reload of primitive `p`, if its definition asks for one (before the
    /// monitors, which follow it).
    pub(crate) fn create_reload(&self, p: usize, g: &mut Graph) -> Option<usize> {
        let n = self.prims[p].def_change.reload?;
        if self.prims[p].assigned != Some(n) {
            return None;
        }
        let a = Act {
            rsc: Some(RscRef::P(p)),
            task: Task::Reload,
            node: Some(n),
            optional: false,
            runnable: true,
            pseudo: false,
            reason: None,
        };
        let r = g.add(a);
        g.reloads.push((p, r));
        Some(r)
    }

    /// Orders a monitor after the reload: a required reload requires it.
    pub(crate) fn monitor_after_reload(reload: Option<usize>, monitor: usize, g: &mut Graph) {
        if let Some(r) = reload {
            g.order(r, monitor, FIRST_IMPLIES_THEN | UNRUNNABLE_FIRST_BLOCKS);
        }
    }

    /// A required stop where the reload would run makes the reload moot (the
    /// restart applies the new parameters).
    pub(crate) fn drop_moot_reloads(&self, g: &mut Graph) {
        for i in 0..g.reloads.len() {
            let (p, r) = g.reloads[i];
            let node = g.acts[r].node;
            let stopping = g.stops_of[p]
                .iter()
                .any(|&s| g.acts[s].node == node && !g.acts[s].optional);
            if stopping {
                g.acts[r].optional = true;
            }
        }
    }

    /// The required reload of primitive `p`, for the summary.
    pub(crate) fn reload_of(&self, p: usize, g: &Graph) -> Option<usize> {
        g.reloads
            .iter()
            .find(|&&(q, r)| q == p && !g.acts[r].optional)
            .map(|&(_, r)| r)
    }
}
