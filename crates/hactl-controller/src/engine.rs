//! The transition engine: a pure state machine (no I/O, no clock) that runs one
//! transition graph at a time.
//!
//! Inputs are a [`Transition`] from the policy engine and [`Event`]s (action results,
//! recurring-monitor changes, fencing results, node loss, configuration change, loss of
//! quorum, clock ticks); outputs are [`Command`]s for the runtime to carry out (run an
//! operation on a node, fence a node, propose a CIB change, recompute). Time is an
//! input (`now_ms`, milliseconds since the Unix epoch), so every decision can be
//! replayed in a test.
//!
//! Rules (Pacemaker's controld semantics, our own structure):
//! - An action is dispatched once every runnable predecessor is done; pseudo actions
//!   complete as soon as their predecessors are done. Actions the policy marked not
//!   runnable are never dispatched; their successors were already marked by the
//!   policy when they must not run either, so an edge from one is ignored (as
//!   Pacemaker leaves unrunnable inputs out of its graph).
//! - An action the policy found runnable but the engine cannot carry out (no
//!   operation definition, no node to run the fencer) is `Undispatchable`, and so
//!   is every action that depends on one through a mandatory edge: a start ordered
//!   after a fence or stop that never happened must not run. Optional edges
//!   (sequence only) from it are ignored.
//! - Fencing is done only once the CIB records it: a successful fence result is
//!   proposed as `RecordFencing` (`Command::RecordFencing`), and the action
//!   completes — releasing the starts after it — only when the runtime reports the
//!   proposal committed (`Event::FencingRecorded`); until then it is retried every
//!   `resend_ms`. A fence result counts only from the node the DC chose to fence
//!   from, for the target it named.
//! - Each result is compared with the expected rc: 0 for start, stop and recurring
//!   monitors; 7 for a probe, where 0 (running) and 5 (cannot run here) are
//!   information, not failures — but information the graph did not assume, so the
//!   transition is aborted and recomputed.
//! - Every result is recorded (`RecordOp`, call ids increase per node); a failure also
//!   raises the fail count (`SetFailCount`): +1, or INFINITY for a failed stop and for
//!   a failed start while `start-failure-is-fatal` (Pacemaker's rule).
//! - Abort (unexpected result, node lost, configuration changed, quorum lost): nothing
//!   new is dispatched; once no action is in flight the engine asks for a recompute
//!   (not after quorum loss: a DC without quorum must not act).
//! - A fence action goes to a node other than the victim (the DC itself unless the
//!   DC is the victim).

use std::collections::BTreeMap;

use hactl_model::change::Change;
use hactl_model::transitions::TransitionRecord;
use hactl_model::{Cib, Score};
use hactl_policy::{ActionKind, EdgeKind, Transition};
use serde::{Deserialize, Serialize};

use crate::ops::{self, rc, status, OpDetails, Outcome};

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// This node's name (the DC).
    pub dc: String,
    /// How long past an op's own timeout the DC waits for a result before it counts
    /// the op as timed out (covers the trip to and from the node).
    pub result_grace_ms: u64,
    /// How long the DC waits for a fencing result.
    pub fence_timeout_ms: u64,
    /// An operation without a result is sent again this often: peer messages are
    /// not retried by the transport (a connection to a node that restarted can eat
    /// one), and the node answers a repeat with the result it already has.
    pub resend_ms: u64,
    /// Id of the first transition. Results name the transition they answer, so a new
    /// DC starts from a base of its own (its Raft term) to never mistake an old DC's
    /// result for one of its own.
    pub first_transition: u64,
}

impl EngineConfig {
    pub fn new(dc: impl Into<String>) -> EngineConfig {
        EngineConfig {
            dc: dc.into(),
            result_grace_ms: 5_000,
            fence_timeout_ms: 60_000,
            first_transition: 1,
            resend_ms: 1_000,
        }
    }
}

/// Run this operation on `node`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dispatch {
    pub transition: u64,
    pub action: usize,
    pub node: String,
    pub details: OpDetails,
    pub expected_rc: i32,
}

/// Fence `target` by running the fencer on `executor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FenceRequest {
    pub transition: u64,
    pub action: usize,
    pub target: String,
    /// `reboot` or `off`.
    pub fence_action: String,
    pub executor: String,
    /// `priority-fencing-delay` the executor waits before fencing (0 from a DC that
    /// predates it).
    #[serde(default)]
    pub delay_ms: u64,
}

/// What the runtime must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Execute(Dispatch),
    Fence(FenceRequest),
    /// Propose this change through Raft (in the order given).
    Propose(Change),
    /// Propose `RecordFencing` for the target of a fence action that succeeded and
    /// answer with `Event::FencingRecorded` once it is committed (on failure,
    /// nothing: the engine asks again).
    RecordFencing {
        transition: u64,
        action: usize,
        change: Change,
    },
    /// Run the policy engine again on the CIB (after the changes proposed before).
    Recompute {
        reason: String,
    },
    /// The transition finished; `incomplete` actions could not run.
    Complete {
        transition: u64,
        incomplete: usize,
    },
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The result of a dispatched operation.
    ActionResult {
        transition: u64,
        action: usize,
        node: String,
        details: OpDetails,
        outcome: Outcome,
    },
    /// A recurring monitor's result changed on a node (outside any graph).
    MonitorChanged {
        node: String,
        details: OpDetails,
        outcome: Outcome,
    },
    /// A result older than one already recorded from the same run of the node (a
    /// `Synced` backlog that came after the DC probed the node). Recorded as a
    /// result it would pass for newer than the probe that followed it, so only a
    /// failure's fail count is kept.
    LateResult {
        node: String,
        details: OpDetails,
        outcome: Outcome,
    },
    FenceResult {
        /// The node that sent the result.
        from: String,
        transition: u64,
        action: usize,
        target: String,
        ok: bool,
        reason: Option<String>,
    },
    /// A `Command::RecordFencing` proposal was committed.
    FencingRecorded {
        transition: u64,
        action: usize,
    },
    NodeLost(String),
    ConfigChanged,
    QuorumLost,
    /// Time passed (checks result deadlines).
    Tick,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Waiting,
    InFlight,
    Done,
    Failed,
    /// Not runnable (per the policy).
    Blocked,
    /// Runnable per the policy but impossible to carry out, or mandatorily after
    /// such an action.
    Undispatchable,
    /// Fenced; waiting for the CIB to record it.
    Recording,
}

#[derive(Debug, Clone)]
struct Act {
    kind: ActionKind,
    node: Option<String>,
    pseudo: bool,
    /// For resource operations.
    op: Option<OpDetails>,
    expected_rc: i32,
    st: St,
    /// Fencing: the node that runs the fencer.
    fence_executor: Option<String>,
    /// Fencing: `priority-fencing-delay` for this target, and the longest delay its
    /// devices may add (`pcmk_delay_*`): neither counts against the fence timeout.
    fence_delay_ms: u64,
    device_delay_ms: u64,
    deadline_ms: u64,
    dispatched_ms: u64,
    sent_ms: u64,
    /// When its result came (for the transition history).
    ended_ms: u64,
    /// The agent's rc and run time, for operations that answered.
    rc: Option<i32>,
    exec_ms: Option<u64>,
}

#[derive(Debug)]
struct Graph {
    id: u64,
    acts: Vec<Act>,
    preds: Vec<Vec<(usize, EdgeKind)>>,
    abort: Option<String>,
    /// Whether to ask for a recompute once the abort has drained.
    recompute: bool,
    started_ms: u64,
}

/// A snapshot for status output and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub transition: Option<u64>,
    pub total: usize,
    pub done: usize,
    pub in_flight: usize,
    pub failed: usize,
    pub aborted: Option<String>,
}

/// Why a new transition could not be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("transition {0} still has actions in flight")]
    Busy(u64),
}

/// The transition engine.
#[derive(Debug)]
pub struct Engine {
    cfg: EngineConfig,
    next_id: u64,
    graph: Option<Graph>,
    /// Last call id issued per node (the CIB may not have it yet).
    call_ids: BTreeMap<String, i64>,
    start_failure_is_fatal: bool,
    /// Fence requests sent, (transition, action) → (executor, target), until
    /// answered: a result is accepted only from that executor for that target,
    /// also after its graph is gone (a late success is still recorded).
    fence_requests: BTreeMap<(u64, usize), (String, String)>,
    /// The last transition that ended, for the history (taken by the runtime).
    finished: Option<TransitionRecord>,
}

/// How many unanswered fence requests are remembered (oldest forgotten first).
const FENCE_REQUESTS_KEPT: usize = 64;

/// A fence result as received.
struct FenceAnswer {
    from: String,
    transition: u64,
    action: usize,
    target: String,
    ok: bool,
    reason: Option<String>,
}

impl Engine {
    pub fn new(cfg: EngineConfig) -> Engine {
        Engine {
            next_id: cfg.first_transition.max(1),
            cfg,
            graph: None,
            call_ids: BTreeMap::new(),
            start_failure_is_fatal: true,
            fence_requests: BTreeMap::new(),
            finished: None,
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// The id the next transition will get.
    pub fn next_transition(&self) -> u64 {
        self.next_id
    }

    /// Whether a transition is running (or draining after an abort).
    pub fn busy(&self) -> bool {
        self.graph.is_some()
    }

    /// The record of the transition that ended last, once (the runtime proposes it
    /// to the history).
    pub fn take_finished(&mut self) -> Option<TransitionRecord> {
        self.finished.take()
    }

    pub fn progress(&self) -> Progress {
        let Some(g) = &self.graph else {
            return Progress::default();
        };
        let count = |s: St| g.acts.iter().filter(|a| a.st == s).count();
        Progress {
            transition: Some(g.id),
            total: g.acts.len(),
            done: count(St::Done),
            in_flight: count(St::InFlight) + count(St::Recording),
            failed: count(St::Failed),
            aborted: g.abort.clone(),
        }
    }

    /// Starts running `t`, computed from `cib`. Refused while another transition
    /// still has actions in flight.
    pub fn start(
        &mut self,
        t: &Transition,
        cib: &Cib,
        now_ms: u64,
    ) -> Result<Vec<Command>, EngineError> {
        if let Some(g) = &self.graph {
            return Err(EngineError::Busy(g.id));
        }
        self.start_failure_is_fatal = cib
            .config
            .options()
            .map(|o| o.start_failure_is_fatal)
            .unwrap_or(true);
        let id = self.next_id;
        self.next_id += 1;
        let online: Vec<String> = t
            .nodes
            .iter()
            .filter(|n| n.online && !n.unclean)
            .map(|n| n.name.clone())
            .collect();
        let n = t.actions.len();
        let index = ops::primitive_index(cib);
        let mut acts = Vec::with_capacity(n);
        for a in &t.actions {
            let details = |r: &str, node: &str, op: &str, interval_ms: u64| {
                let prim = index.get(r).copied();
                let mut d = ops::op_details_of(cib, prim, r, node, op, interval_ms)?;
                // An anonymous clone instance runs, and is recorded, under the
                // name the node's history already knows it by.
                if let Some(name) = &a.history_name {
                    d.rsc = name.to_string();
                }
                Some(d)
            };
            let (op, expected_rc) = match (&a.kind, &a.resource, &a.node) {
                (ActionKind::Start, Some(r), Some(node)) if !a.pseudo => {
                    (details(r, node, "start", 0), rc::OK)
                }
                (ActionKind::Stop, Some(r), Some(node)) if !a.pseudo => {
                    (details(r, node, "stop", 0), rc::OK)
                }
                (ActionKind::Probe, Some(r), Some(node)) if !a.pseudo => {
                    (details(r, node, "monitor", 0), rc::NOT_RUNNING)
                }
                (ActionKind::Monitor { interval_ms }, Some(r), Some(node)) if !a.pseudo => (
                    details(r, node, "monitor", *interval_ms),
                    ops::expected_rc(cib, r, "monitor", *interval_ms),
                ),
                (ActionKind::Promote, Some(r), Some(node)) if !a.pseudo => {
                    (details(r, node, "promote", 0), rc::OK)
                }
                (ActionKind::Demote, Some(r), Some(node)) if !a.pseudo => {
                    (details(r, node, "demote", 0), rc::OK)
                }
                (ActionKind::Cancel { interval_ms }, Some(r), Some(node)) if !a.pseudo => {
                    (details(r, node, "cancel", *interval_ms), rc::OK)
                }
                (ActionKind::Reload, Some(r), Some(node)) if !a.pseudo => {
                    (details(r, node, "reload-agent", 0), rc::OK)
                }
                (ActionKind::Notify { env, .. }, Some(r), Some(node)) if !a.pseudo => (
                    details(r, node, "notify", 0).map(|d| ops::with_notify_env(d, env)),
                    rc::OK,
                ),
                (
                    ActionKind::MigrateTo { source, target }
                    | ActionKind::MigrateFrom { source, target },
                    Some(r),
                    Some(node),
                ) if !a.pseudo => {
                    let op = if matches!(a.kind, ActionKind::MigrateTo { .. }) {
                        "migrate_to"
                    } else {
                        "migrate_from"
                    };
                    // The agent learns both ends as Pacemaker tells it.
                    let env = [
                        ("migrate_source".to_string(), source.clone()),
                        ("migrate_target".to_string(), target.clone()),
                    ];
                    (
                        details(r, node, op, 0).map(|d| ops::with_notify_env(d, &env)),
                        rc::OK,
                    )
                }
                _ => (None, rc::OK),
            };
            let is_op = matches!(
                a.kind,
                ActionKind::Start
                    | ActionKind::Stop
                    | ActionKind::Probe
                    | ActionKind::Monitor { .. }
                    | ActionKind::Promote
                    | ActionKind::Demote
                    | ActionKind::Cancel { .. }
                    | ActionKind::Reload
                    | ActionKind::Notify { .. }
                    | ActionKind::MigrateTo { .. }
                    | ActionKind::MigrateFrom { .. }
            ) && !a.pseudo;
            let fence_executor = match (&a.kind, &a.node) {
                (ActionKind::Fence { .. }, Some(victim)) if !a.pseudo => {
                    if self.cfg.dc.as_str() != &**victim {
                        Some(self.cfg.dc.clone())
                    } else {
                        online.iter().find(|o| o.as_str() != &**victim).cloned()
                    }
                }
                _ => None,
            };
            let dispatchable = if a.pseudo {
                true
            } else if is_op {
                op.is_some()
            } else if matches!(a.kind, ActionKind::Fence { .. }) {
                fence_executor.is_some()
            } else {
                // Group markers without the pseudo flag are still markers.
                true
            };
            let st = match (a.runnable, dispatchable) {
                (false, _) => St::Blocked,
                (true, true) => St::Waiting,
                (true, false) => St::Undispatchable,
            };
            if a.runnable && !dispatchable {
                tracing::warn!(transition = id, action = a.id, kind = ?a.kind,
                    resource = a.resource.as_deref().unwrap_or(""), node = a.node.as_deref().unwrap_or(""),
                    "action cannot be dispatched (no definition or no fencing executor)");
            }
            let pseudo = a.pseudo || (!is_op && !matches!(a.kind, ActionKind::Fence { .. }));
            let (fence_delay_ms, device_delay_ms) = match (&a.kind, &a.node) {
                (ActionKind::Fence { action }, Some(victim)) if !pseudo => {
                    fence_delays(t, cib, victim, action)
                }
                _ => (0, 0),
            };
            acts.push(Act {
                kind: a.kind.clone(),
                node: a.node.as_deref().map(String::from),
                pseudo,
                op,
                expected_rc,
                st,
                fence_executor,
                fence_delay_ms,
                device_delay_ms,
                deadline_ms: 0,
                dispatched_ms: 0,
                sent_ms: 0,
                ended_ms: 0,
                rc: None,
                exec_ms: None,
            });
        }
        let mut preds = vec![Vec::new(); n];
        for e in &t.edges {
            if e.before < n && e.after < n && e.before != e.after {
                preds[e.after].push((e.before, e.kind));
            }
        }
        self.graph = Some(Graph {
            id,
            acts,
            preds,
            abort: None,
            recompute: false,
            started_ms: now_ms,
        });
        tracing::debug!(transition = id, actions = n, "transition started");
        let mut out = Vec::new();
        self.advance(cib, now_ms, &mut out);
        Ok(out)
    }

    /// Feeds one event. `cib` is the current CIB and must already hold every change
    /// this engine proposed before (the runtime awaits each proposal before it feeds
    /// the next event): fail counts are computed on top of it.
    pub fn handle(&mut self, ev: Event, cib: &Cib, now_ms: u64) -> Vec<Command> {
        let mut out = Vec::new();
        match ev {
            Event::ActionResult {
                transition,
                action,
                node,
                details,
                outcome,
            } => self.on_result(
                transition, action, &node, &details, &outcome, cib, now_ms, &mut out,
            ),
            Event::MonitorChanged {
                node,
                details,
                outcome,
            } => {
                let expected =
                    ops::expected_rc(cib, &details.rsc, &details.op, details.interval_ms);
                let failed = !outcome.is(expected);
                self.record(
                    &node, &details, &outcome, expected, failed, cib, now_ms, &mut out,
                );
                if failed {
                    self.abort(
                        format!(
                            "monitor of {} on {} returned rc={} (status {})",
                            details.rsc, node, outcome.rc, outcome.op_status
                        ),
                        true,
                        &mut out,
                    );
                }
            }
            Event::LateResult {
                node,
                details,
                outcome,
            } => self.on_late_result(&node, &details, &outcome, cib, now_ms, &mut out),
            Event::FenceResult {
                from,
                transition,
                action,
                target,
                ok,
                reason,
            } => {
                let r = FenceAnswer {
                    from,
                    transition,
                    action,
                    target,
                    ok,
                    reason,
                };
                self.on_fence_result(r, now_ms, &mut out);
            }
            Event::FencingRecorded { transition, action } => {
                if let Some(a) = self
                    .graph
                    .as_mut()
                    .filter(|g| g.id == transition)
                    .and_then(|g| g.acts.get_mut(action))
                    .filter(|a| a.st == St::Recording)
                {
                    tracing::info!(
                        transition,
                        action,
                        target = a.node.as_deref().unwrap_or(""),
                        "fencing recorded in the CIB"
                    );
                    a.st = St::Done;
                    a.ended_ms = now_ms;
                }
            }
            Event::NodeLost(node) => {
                let mut hit = false;
                if let Some(g) = self.graph.as_mut() {
                    for a in g.acts.iter_mut() {
                        let runs_there =
                            a.node.as_deref() == Some(node.as_str()) && a.fence_executor.is_none();
                        let fences_from_there = a.fence_executor.as_deref() == Some(node.as_str());
                        if (runs_there || fences_from_there) && a.st == St::InFlight {
                            // The result will never come; what happened is for the
                            // next transition to find out (fencing or probing).
                            a.st = St::Failed;
                            a.ended_ms = now_ms;
                        }
                    }
                    hit = true;
                }
                if hit {
                    self.abort(format!("node {node} lost"), true, &mut out);
                } else {
                    out.push(Command::Recompute {
                        reason: format!("node {node} lost"),
                    });
                }
            }
            Event::ConfigChanged => {
                if self.graph.is_some() {
                    self.abort("configuration changed".into(), true, &mut out);
                } else {
                    out.push(Command::Recompute {
                        reason: "configuration changed".into(),
                    });
                }
            }
            Event::QuorumLost => {
                if self.graph.is_some() {
                    self.abort("quorum lost".into(), false, &mut out);
                }
            }
            Event::Tick => self.check_deadlines(cib, now_ms, &mut out),
        }
        self.advance(cib, now_ms, &mut out);
        out
    }

    /// Whom the DC asked to fence whom for `(transition, action)`: the running
    /// graph's action while in flight, else a remembered earlier request.
    fn fence_asked(&self, transition: u64, action: usize) -> Option<(String, String, bool)> {
        let current = self
            .graph
            .as_ref()
            .filter(|g| g.id == transition)
            .and_then(|g| g.acts.get(action))
            .filter(|a| a.st == St::InFlight);
        if let Some(a) = current {
            return Some((a.fence_executor.clone()?, a.node.clone()?, true));
        }
        let (exec, target) = self.fence_requests.get(&(transition, action))?;
        Some((exec.clone(), target.clone(), false))
    }

    fn on_fence_result(&mut self, r: FenceAnswer, now_ms: u64, out: &mut Vec<Command>) {
        let FenceAnswer {
            from,
            transition,
            action,
            target,
            ok,
            reason,
        } = r;
        let Some((exec, victim, current)) = self.fence_asked(transition, action) else {
            tracing::warn!(node = %from, target = %target, transition, action, ok,
                "fence result for no fencing this DC asked for ignored");
            return;
        };
        if exec != from || victim != target {
            // Only the node the DC chose knows whether it fenced the target; anyone
            // else's word (a stale or confused peer) must not release recovery.
            tracing::warn!(node = %from, target = %target, transition, action, ok,
                expected_node = %exec, expected_target = %victim,
                "fence result from a node not asked, or for another target, ignored");
            return;
        }
        self.fence_requests.remove(&(transition, action));
        let change = Change::RecordFencing {
            node: target.clone(),
            at: (now_ms / 1000) as i64,
        };
        match (current, ok) {
            (true, true) => {
                if let Some(g) = self.graph.as_mut() {
                    g.acts[action].st = St::Recording;
                    g.acts[action].sent_ms = now_ms;
                }
                out.push(Command::RecordFencing {
                    transition,
                    action,
                    change,
                });
            }
            (true, false) => {
                if let Some(g) = self.graph.as_mut() {
                    g.acts[action].st = St::Failed;
                    g.acts[action].ended_ms = now_ms;
                }
                let why = reason.as_deref().unwrap_or("no reason given");
                self.abort(format!("fencing of {target} failed: {why}"), true, out);
            }
            // Late but true: the node is fenced; no graph waits for the record.
            (false, true) => out.push(Command::Propose(change)),
            (false, false) => tracing::info!(target = %target, "late fencing failure ignored"),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_result(
        &mut self,
        transition: u64,
        action: usize,
        node: &str,
        details: &OpDetails,
        outcome: &Outcome,
        cib: &Cib,
        now_ms: u64,
        out: &mut Vec<Command>,
    ) {
        if details.op == "notify" {
            self.on_notify_result(transition, action, node, details, outcome, now_ms);
            return;
        }
        let probe = details.op == "monitor" && details.interval_ms == 0;
        let expected = self
            .graph
            .as_ref()
            .filter(|g| g.id == transition)
            .and_then(|g| g.acts.get(action))
            .filter(|a| a.st == St::InFlight && a.node.as_deref() == Some(node))
            .map(|a| a.expected_rc);
        let expected_rc = expected.unwrap_or(if probe { rc::NOT_RUNNING } else { rc::OK });
        let as_expected = outcome.is(expected_rc);
        let failure = if probe {
            !outcome.probe_answer()
        } else {
            !as_expected
        };
        self.record(
            node,
            details,
            outcome,
            expected_rc,
            failure,
            cib,
            now_ms,
            out,
        );
        let what = format!(
            "{} {} of {} on {}: rc={} status={}{}",
            if as_expected {
                "expected"
            } else {
                "unexpected"
            },
            if probe { "probe" } else { details.op.as_str() },
            details.rsc,
            node,
            outcome.rc,
            outcome.op_status,
            outcome
                .exit_reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
        match expected {
            Some(_) => {
                if let Some(g) = self.graph.as_mut() {
                    let a = &mut g.acts[action];
                    a.st = if as_expected { St::Done } else { St::Failed };
                    a.ended_ms = now_ms;
                    a.rc = Some(outcome.rc);
                    a.exec_ms = Some(outcome.exec_ms);
                }
                if as_expected {
                    tracing::debug!(transition, action, resource = %details.rsc, node, op = %details.op, "{what}");
                } else {
                    tracing::info!(transition, action, resource = %details.rsc, node, op = %details.op, "{what}");
                    self.abort(what, true, out);
                }
            }
            None => {
                // A result from an earlier transition (or a repeat): it is recorded
                // above; if it contradicts what we assumed, plan again.
                tracing::info!(transition, action, resource = %details.rsc, node, "late result: {what}");
                if !as_expected {
                    self.abort(what, true, out);
                }
            }
        }
    }

    /// A notification's result: as in Pacemaker it is neither recorded in the
    /// resource's history nor a failure (the agent was only told something), so
    /// the transition goes on whatever it returned.
    fn on_notify_result(
        &mut self,
        transition: u64,
        action: usize,
        node: &str,
        details: &OpDetails,
        outcome: &Outcome,
        now_ms: u64,
    ) {
        if !outcome.is(rc::OK) {
            tracing::warn!(transition, action, resource = %details.rsc, node, op = "notify",
                rc = outcome.rc, status = outcome.op_status, "notification failed (ignored)");
        }
        let Some(g) = self.graph.as_mut().filter(|g| g.id == transition) else {
            return;
        };
        if let Some(a) = g
            .acts
            .get_mut(action)
            .filter(|a| a.st == St::InFlight && a.node.as_deref() == Some(node))
        {
            a.st = St::Done;
            a.ended_ms = now_ms;
            a.rc = Some(outcome.rc);
            a.exec_ms = Some(outcome.exec_ms);
        }
    }

    /// [`Event::LateResult`]: a failure raises the fail count, as it would have
    /// when it came in time; the history keeps the newer results it has.
    fn on_late_result(
        &mut self,
        node: &str,
        d: &OpDetails,
        outcome: &Outcome,
        cib: &Cib,
        now_ms: u64,
        out: &mut Vec<Command>,
    ) {
        let failed = if d.op == "notify" {
            false
        } else if d.interval_ms > 0 {
            !outcome.is(ops::expected_rc(cib, &d.rsc, &d.op, d.interval_ms))
        } else if d.op == "monitor" {
            !outcome.probe_answer()
        } else {
            !outcome.is(rc::OK)
        };
        tracing::info!(resource = %d.rsc, node, op = %d.op, rc = outcome.rc, failed,
            "result older than one recorded from the node: not recorded as its newest");
        if failed {
            out.push(Command::Propose(self.failcount(node, d, cib, now_ms)));
        }
    }

    /// The fail count change for a failure of `d` on `node`.
    fn failcount(&self, node: &str, d: &OpDetails, cib: &Cib, now_ms: u64) -> Change {
        // The runtime hands us a CIB that holds every change proposed before, so
        // the recorded count is the base (a cleanup in between resets it).
        let base = ops::recorded_failcount(cib, node, &d.rsc, &d.op, d.interval_ms);
        let fatal = (d.op == "start" && d.interval_ms == 0 && self.start_failure_is_fatal)
            || (d.op == "stop" && d.interval_ms == 0);
        let count = if fatal {
            Score::INFINITY
        } else {
            base + Score::new(1)
        };
        ops::failcount_change(
            node,
            &d.rsc,
            &d.op,
            d.interval_ms,
            count,
            (now_ms / 1000) as i64,
        )
    }

    /// Proposes the record of a result, and the fail count for a failure.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        node: &str,
        d: &OpDetails,
        outcome: &Outcome,
        expected_rc: i32,
        failure: bool,
        cib: &Cib,
        now_ms: u64,
        out: &mut Vec<Command>,
    ) {
        let now_s = (now_ms / 1000) as i64;
        let call_id = self.next_call_id(cib, node);
        let mut changes = vec![ops::record_change(
            node,
            d,
            outcome,
            call_id,
            expected_rc,
            now_s,
        )];
        if failure {
            changes.push(self.failcount(node, d, cib, now_ms));
        }
        let change = if changes.len() == 1 {
            changes.remove(0)
        } else {
            Change::Batch { changes }
        };
        out.push(Command::Propose(change));
    }

    fn next_call_id(&mut self, cib: &Cib, node: &str) -> i64 {
        let from_cib = ops::max_call_id(cib, node);
        let e = self.call_ids.entry(node.to_string()).or_insert(0);
        *e = (*e).max(from_cib) + 1;
        *e
    }

    fn abort(&mut self, reason: String, recompute: bool, out: &mut Vec<Command>) {
        match self.graph.as_mut() {
            Some(g) => {
                if g.abort.is_none() {
                    tracing::info!(transition = g.id, reason = %reason, "transition aborted");
                    g.abort = Some(reason);
                }
                g.recompute |= recompute;
            }
            None if recompute => out.push(Command::Recompute { reason }),
            None => {}
        }
    }

    fn check_deadlines(&mut self, cib: &Cib, now_ms: u64, out: &mut Vec<Command>) {
        let resend = self.cfg.resend_ms;
        if let Some(g) = self.graph.as_mut() {
            let id = g.id;
            for (i, a) in g.acts.iter_mut().enumerate() {
                if a.st == St::Recording && now_ms >= a.sent_ms + resend {
                    // The record did not commit (yet): recovery waits for it.
                    a.sent_ms = now_ms;
                    out.push(Command::RecordFencing {
                        transition: id,
                        action: i,
                        change: Change::RecordFencing {
                            node: a.node.clone().unwrap_or_default(),
                            at: (now_ms / 1000) as i64,
                        },
                    });
                    continue;
                }
                if a.st != St::InFlight || now_ms < a.sent_ms + resend {
                    continue;
                }
                if let (Some(d), Some(node)) = (&a.op, &a.node) {
                    a.sent_ms = now_ms;
                    out.push(Command::Execute(Dispatch {
                        transition: id,
                        action: i,
                        node: node.clone(),
                        details: d.clone(),
                        expected_rc: a.expected_rc,
                    }));
                }
            }
        }
        let Some(g) = self.graph.as_ref() else {
            return;
        };
        let id = g.id;
        let expired: Vec<usize> = g
            .acts
            .iter()
            .enumerate()
            .filter(|(_, a)| a.st == St::InFlight && now_ms >= a.deadline_ms)
            .map(|(i, _)| i)
            .collect();
        for i in expired {
            let Some(a) = self.graph.as_ref().map(|g| g.acts[i].clone()) else {
                return;
            };
            match (&a.op, &a.node) {
                (Some(d), Some(node)) => {
                    let reason = format!(
                        "no result from {node} within {} ms",
                        now_ms.saturating_sub(a.dispatched_ms)
                    );
                    let outcome =
                        Outcome::synthetic_timeout((a.dispatched_ms / 1000) as i64, reason);
                    self.on_result(id, i, node, &d.clone(), &outcome, cib, now_ms, out);
                }
                _ => {
                    if let Some(g) = self.graph.as_mut() {
                        g.acts[i].st = St::Failed;
                        g.acts[i].ended_ms = now_ms;
                    }
                    self.abort(
                        format!("fencing of {} timed out", a.node.as_deref().unwrap_or("?")),
                        true,
                        out,
                    );
                }
            }
        }
    }

    /// Dispatches what is ready; finishes the transition when nothing more can
    /// happen.
    fn advance(&mut self, _cib: &Cib, now_ms: u64, out: &mut Vec<Command>) {
        let Some(g) = self.graph.as_mut() else {
            return;
        };
        if g.abort.is_none() {
            // Pseudo actions can complete in chains: loop until nothing changes.
            loop {
                let mut progressed = false;
                for i in 0..g.acts.len() {
                    if g.acts[i].st != St::Waiting {
                        continue;
                    }
                    let cannot = g.preds[i].iter().any(|&(p, kind)| {
                        kind == EdgeKind::Mandatory && g.acts[p].st == St::Undispatchable
                    });
                    if cannot {
                        g.acts[i].st = St::Undispatchable;
                        progressed = true;
                        continue;
                    }
                    let ready = g.preds[i].iter().all(|&(p, _)| {
                        matches!(g.acts[p].st, St::Done | St::Blocked | St::Undispatchable)
                    });
                    if !ready {
                        continue;
                    }
                    let a = &mut g.acts[i];
                    if a.pseudo {
                        a.st = St::Done;
                        progressed = true;
                        continue;
                    }
                    a.st = St::InFlight;
                    a.dispatched_ms = now_ms;
                    a.sent_ms = now_ms;
                    if let Some(d) = &a.op {
                        // Saturating: a timeout from a CIB older than the duration
                        // limit must not wrap the deadline into the past.
                        a.deadline_ms = now_ms
                            .saturating_add(d.timeout_ms)
                            .saturating_add(self.cfg.result_grace_ms);
                        out.push(Command::Execute(Dispatch {
                            transition: g.id,
                            action: i,
                            node: a.node.clone().unwrap_or_default(),
                            details: d.clone(),
                            expected_rc: a.expected_rc,
                        }));
                    } else if let (ActionKind::Fence { action }, Some(exec)) =
                        (&a.kind, &a.fence_executor)
                    {
                        a.deadline_ms = now_ms
                            + self.cfg.fence_timeout_ms
                            + a.fence_delay_ms
                            + a.device_delay_ms;
                        let target = a.node.clone().unwrap_or_default();
                        self.fence_requests
                            .insert((g.id, i), (exec.clone(), target.clone()));
                        while self.fence_requests.len() > FENCE_REQUESTS_KEPT {
                            self.fence_requests.pop_first();
                        }
                        out.push(Command::Fence(FenceRequest {
                            transition: g.id,
                            action: i,
                            target: a.node.clone().unwrap_or_default(),
                            fence_action: action.clone(),
                            executor: exec.clone(),
                            delay_ms: a.fence_delay_ms,
                        }));
                    }
                }
                if !progressed {
                    break;
                }
            }
        }
        let in_flight = g
            .acts
            .iter()
            .any(|a| matches!(a.st, St::InFlight | St::Recording));
        if in_flight {
            return;
        }
        let id = g.id;
        self.finished = Some(history::record_of(g, &self.cfg.dc, now_ms));
        if let Some(reason) = g.abort.clone() {
            let recompute = g.recompute;
            self.graph = None;
            if recompute {
                out.push(Command::Recompute { reason });
            }
            return;
        }
        // Nothing in flight, no abort: actions still waiting can never become ready
        // (a failure would have aborted), so they count as incomplete.
        let incomplete = g
            .acts
            .iter()
            .filter(|a| matches!(a.st, St::Waiting | St::Blocked | St::Undispatchable))
            .count();
        tracing::debug!(transition = id, incomplete, "transition complete");
        self.graph = None;
        out.push(Command::Complete {
            transition: id,
            incomplete,
        });
    }
}

/// For runtimes and tests: the ops a command list dispatches.
/// Fencing `victim` with `action`: its `priority-fencing-delay` and the longest delay
/// its devices may add, in ms.
fn fence_delays(t: &Transition, cib: &Cib, victim: &str, action: &str) -> (u64, u64) {
    let priority = crate::fence_delay::priority_fencing_delay(t, cib, victim);
    let (devs, _) = hactl_fence::cluster::devices(&cib.config);
    let device = hactl_fence::cluster::max_delay(&devs, action, victim);
    (priority.as_millis() as u64, device.as_millis() as u64)
}

pub fn dispatches(cmds: &[Command]) -> Vec<&Dispatch> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Execute(d) => Some(d),
            _ => None,
        })
        .collect()
}

/// An outcome with rc and status "done", for tests and the executor service.
pub fn done(rc: i32, now_s: i64) -> Outcome {
    Outcome {
        rc,
        op_status: status::DONE,
        exit_reason: None,
        exec_ms: 0,
        queue_ms: 0,
        started_at: now_s,
        digest: None,
        restart: None,
    }
}

/// The history record of an ended graph: its real actions (pseudo and blocked ones
/// left out), in the order they were dispatched, those never dispatched last.
mod history {
    use hactl_model::transitions::{ActionRecord, ActionResult, TransitionRecord};
    use hactl_policy::ActionKind;

    use super::{Act, Graph, St};

    pub(super) fn record_of(g: &Graph, dc: &str, now_ms: u64) -> TransitionRecord {
        let mut acts: Vec<&Act> = g
            .acts
            .iter()
            .filter(|a| !a.pseudo && a.st != St::Blocked)
            .collect();
        acts.sort_by_key(|a| (a.dispatched_ms == 0, a.dispatched_ms));
        TransitionRecord {
            id: g.id,
            dc: dc.to_string(),
            started_ms: g.started_ms,
            duration_ms: now_ms.saturating_sub(g.started_ms),
            aborted: g.abort.clone(),
            actions: acts.into_iter().map(action_of).collect(),
            ..TransitionRecord::default()
        }
        .bounded()
    }

    fn action_of(a: &Act) -> ActionRecord {
        let result = match a.st {
            St::Done => ActionResult::Ok,
            St::Failed => ActionResult::Failed,
            _ => ActionResult::NotRun,
        };
        let (task, rsc, interval_ms) = match (&a.kind, &a.op) {
            (ActionKind::Fence { .. }, _) => ("fence".to_string(), None, 0),
            (_, Some(d)) if d.op == "monitor" && d.interval_ms == 0 => {
                ("probe".to_string(), Some(d.rsc.clone()), 0)
            }
            (_, Some(d)) => (d.op.clone(), Some(d.rsc.clone()), d.interval_ms),
            (kind, None) => (format!("{kind:?}").to_lowercase(), None, 0),
        };
        let ran = a.dispatched_ms > 0 && a.ended_ms >= a.dispatched_ms;
        ActionRecord {
            task,
            rsc,
            node: a.node.clone().unwrap_or_default(),
            interval_ms,
            result,
            rc: a.rc,
            ms: a.exec_ms.or(ran.then(|| a.ended_ms - a.dispatched_ms)),
        }
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
