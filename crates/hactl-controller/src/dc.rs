//! The DC runtime: runs on the Raft leader while it has quorum. On every CIB change or
//! event it runs the policy engine, feeds the transition engine, sends actions to the
//! nodes' executor services, and writes results through Raft.
//!
//! Before it plans anything it makes sure it knows what the nodes know:
//! - **Sync.** When it takes over, and whenever a node (re)joins, it asks the node
//!   for every result no DC has acknowledged yet (`Resync` → `Synced`) and records
//!   them; it waits for that answer (bounded by `sync_timeout`) before scheduling.
//!   A node still silent then has an unknown state, not the one its recorded
//!   history shows (that history may be stale: a stop waiting in its outbox since a
//!   partition, a reboot): it is probed for every resource before anything is
//!   planned, as Pacemaker probes what it has not learned. Its late answer is
//!   recorded when it lands and the DC plans again.
//! - **Reprobe.** A node's executor service has a boot id that changes whenever it
//!   starts. The DC records, as the node attribute `hactl-probed`, the boot under
//!   which it last probed the node. A node whose boot differs (it restarted: its
//!   executor remembers nothing) is probed for every resource before anything else
//!   is scheduled; the probes' results, with newer call ids, replace what the CIB
//!   held — the node learns what it runs by probing, not by trusting memory.
//!   Resources the probes find running get their recurring monitors back.
//! - **Off the runtime.** The policy engine runs on a thread of its own
//!   ([`crate::sched_thread`]) while the DC keeps serving events, held to
//!   `schedule_deadline`: a run that overruns it is logged and its transition
//!   discarded (the running graph, if any, stands) — so no CIB can stall the
//!   daemon's heartbeats.
//! - **Batched records.** Results that arrive together (a burst of reports, a
//!   node's `Synced` backlog) are recorded in one Raft proposal.
//! - **Split brain.** Without fencing, a lost node's resources are started elsewhere
//!   only after a hold derived from the CIB (the lost node's chain of stop timeouts,
//!   or `stonith-watchdog-timeout`), so that the lost node — which lost quorum too —
//!   has stopped them or been reset by its watchdog first
//!   ([`crate::split_brain`], `docs/architecture.md`, "Split brain").

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hactl_model::change::Change;
use hactl_model::{Cib, Resource};
use hactl_policy::{Action, ActionKind, LiveFacts, NodeState, OrderingEdge, Transition};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::backoff::Backoff;
use crate::engine::{Command, Engine, EngineConfig, Event};
use crate::history::{self, Triggers};
use crate::messages::{ControllerMsg, Report};
use crate::ops::rc;
use crate::recorded::{Recorded, Seen};
use crate::sched_thread::{SchedThread, Scheduled};
use crate::split_brain::{self, Liveness};
use crate::watchdog;

/// The node attribute holding the boot id under which the node was last probed.
pub const PROBED_ATTR: &str = "hactl-probed";

/// What the DC runtime needs from the daemon.
pub trait ClusterIo: Send + Sync + 'static {
    /// Sends a message to a node's executor service (this node's included).
    fn send(&self, node: &str, msg: ControllerMsg);
    /// Proposes a change through Raft; resolves once applied locally.
    fn propose(&self, change: Change) -> crate::Proposal<'_>;
    /// The CIB as applied locally; after `propose` resolved, it holds the change.
    fn cib(&self) -> Arc<Cib>;
    /// Whether a migration step's record (its source and target) can be written:
    /// not while a member on an older build reads only an older entry format. The
    /// DC plans no live migration until then (stop and start instead): a migration
    /// whose steps ran but could not be recorded would leave the resource where the
    /// CIB does not show it.
    fn records_migrations(&self) -> bool {
        true
    }
    /// Told after each policy engine run (tests and metrics watch it).
    fn scheduled(&self, _run: &ScheduleRun) {}
}

/// One policy engine run, as the DC used it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRun {
    /// How long the run took on the scheduler thread.
    pub took: Duration,
    pub outcome: RunOutcome,
}

/// What became of a policy engine run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// A transition of this many actions was started.
    Started { actions: usize },
    /// Nothing runnable to do.
    Idle,
    /// Past `schedule_deadline`: discarded.
    Overran,
    /// The configuration changed meanwhile: run again.
    Stale,
    /// The policy engine refused the CIB.
    Refused,
}

/// DC settings.
#[derive(Debug, Clone)]
pub struct DcConfig {
    pub node: String,
    /// The Raft term this node leads in (base of transition ids).
    pub term: u64,
    /// The liveness layer's timing, from which (with the CIB) the split-brain hold
    /// is derived when fencing is off.
    pub liveness: Liveness,
    /// How long to wait for a node's `Synced`; a node that has not answered by then
    /// is probed before anything is planned.
    pub sync_timeout: Duration,
    /// Deadline checks and time-based rechecks.
    pub tick: Duration,
    /// Re-run the policy engine this often even when nothing changed (expiring
    /// constraints and failures).
    pub recheck: Duration,
    /// A policy engine run that takes longer is abandoned: its transition is
    /// discarded and the DC goes on with what it runs.
    pub schedule_deadline: Duration,
    /// The next transition id not used yet by any DC run of this process. A DC that
    /// stops and starts again in the same term (two-node mode steps aside while it
    /// fences, then leads on in that term) must not reuse its ids: the nodes take a
    /// repeated (transition, action) for a request they have already run, and an
    /// action they are still running answers nothing: the DC waits for it forever.
    pub next_transition: Arc<AtomicU64>,
    /// Set after each turn of the DC's loop: whether it has nothing under way (see
    /// [`crate::controller::Controller::dc_idle`]).
    pub idle: Arc<AtomicBool>,
}

impl DcConfig {
    pub fn new(node: impl Into<String>, term: u64) -> DcConfig {
        DcConfig {
            node: node.into(),
            term,
            liveness: Liveness::new(
                Duration::from_millis(50),
                Duration::from_millis(250),
                Duration::from_millis(20),
            ),
            sync_timeout: Duration::from_secs(2),
            tick: Duration::from_millis(100),
            recheck: Duration::from_secs(60),
            schedule_deadline: Duration::from_secs(20),
            next_transition: Arc::new(AtomicU64::new(0)),
            idle: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Input to the DC besides CIB changes.
pub type Inbox = mpsc::UnboundedReceiver<(String, ControllerMsg)>;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Nodes the CIB shows online (member, controller up, joined).
pub fn online_nodes(cib: &Cib) -> BTreeSet<String> {
    cib.config
        .nodes
        .iter()
        .filter(|n| {
            cib.status.nodes.get(&n.name).is_some_and(|s| {
                s.member == Some(true)
                    && s.controller_online == Some(true)
                    && s.join.as_deref() == Some("member")
            })
        })
        .map(|n| n.name.clone())
        .collect()
}

/// What [`propose_batch`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchOutcome {
    /// Every change committed, but for those refused for their format
    /// (`too_new`), which is no failure of what they record.
    pub all_ok: bool,
    /// At least one did (the CIB moved).
    pub committed: bool,
    /// Changes refused because a member does not read their format yet (a rolling
    /// upgrade: the transition history has a gap until every member reads it).
    pub too_new: usize,
}

impl BatchOutcome {
    fn new(all_ok: bool, committed: bool) -> BatchOutcome {
        BatchOutcome {
            all_ok,
            committed,
            too_new: 0,
        }
    }
}

/// Proposes `changes` as one batch (one Raft round for a burst of results). If it
/// is refused for one of its changes — the model refuses a result from a node
/// removed meanwhile; a member on an older build cannot read a transition record —
/// each goes on its own so the others still commit.
pub(crate) async fn propose_batch(
    io: &dyn ClusterIo,
    node: &str,
    mut changes: Vec<Change>,
) -> BatchOutcome {
    use crate::ProposeError::{Rejected, TooNew};
    let change = match changes.len() {
        0 => return BatchOutcome::new(true, false),
        1 => changes.remove(0),
        _ => Change::Batch {
            changes: changes.clone(),
        },
    };
    match io.propose(change).await {
        Ok(()) => return BatchOutcome::new(true, true),
        Err(e @ TooNew { .. }) if changes.is_empty() => {
            info!(%node, error = %e, "change not recorded");
            return BatchOutcome {
                too_new: 1,
                ..BatchOutcome::new(true, false)
            };
        }
        // Only these can be one change among good ones; anything else (no leader,
        // stopping) would fail each of them too.
        Err(e) if changes.is_empty() || !matches!(e, Rejected(_) | TooNew { .. }) => {
            warn!(%node, error = %e, "proposal failed");
            return BatchOutcome::new(false, false);
        }
        Err(e) => warn!(%node, error = %e, changes = changes.len(),
            "batched proposal failed: proposing its changes one by one"),
    }
    let mut out = BatchOutcome::new(true, false);
    for ch in changes {
        match io.propose(ch).await {
            Ok(()) => out.committed = true,
            Err(TooNew { .. }) => out.too_new += 1,
            Err(e) => {
                warn!(%node, error = %e, "proposal failed");
                out.all_ok = false;
            }
        }
    }
    if out.too_new > 0 {
        info!(%node, changes = out.too_new,
            "changes not recorded until every node reads their entry format (rolling upgrade)");
    }
    out
}

struct Dc {
    cfg: DcConfig,
    io: Arc<dyn ClusterIo>,
    engine: Engine,
    cib: Arc<Cib>,
    online: BTreeSet<String>,
    /// Node → (boot, since when we wait for it to sync).
    synced: HashMap<String, u64>,
    waiting_since: HashMap<String, Instant>,
    /// Node → when it was last sent `Resync`, while its `Synced` is missing.
    asked: HashMap<String, Instant>,
    /// The reports recorded per (node, boot).
    recorded: HashMap<(String, u64), Recorded>,
    hold_until: Option<Instant>,
    /// Node → resources whose start was dispatched there and has no result yet (a
    /// lost node may still complete them: the split-brain hold counts them).
    starting: HashMap<String, BTreeSet<String>>,
    want_schedule: bool,
    /// Nodes (and boots) being reprobed by the running transition; no boot for a
    /// node probed because its `Synced` did not come in time.
    reprobing: Vec<(String, Option<u64>)>,
    /// Nodes probed since their `Synced` was overdue (not probed again until they
    /// answer, leave or rejoin).
    probed_unsynced: HashSet<String>,
    /// After a reprobe: nodes whose running resources need their monitors back.
    followup: Vec<String>,
    /// The configuration epoch last reacted to (seen by `on_cib` or planned on).
    last_epoch: u64,
    last_schedule: Instant,
    /// The epoch whose `have-watchdog` property the DC last warned it ignores.
    warned_watchdog: Option<u64>,
    /// The policy engine's thread (`None` if it could not be started).
    sched: Option<SchedThread>,
    /// The run it is on.
    pending: Option<PendingRun>,
    /// Why the next run is wanted (for the transition history).
    triggers: Triggers,
    /// The CIB as the last `on_cib` saw it (what the next change is described
    /// against; `cib` also moves with the DC's own proposals).
    seen: Arc<Cib>,
    /// The running transition's trigger, plan and scheduling time.
    meta: Option<Meta>,
    /// The wait before the next policy run after changes not committed.
    backoff: Backoff,
}

/// What the history record of a transition takes from the run that computed it.
struct Meta {
    trigger: Vec<String>,
    planned: Vec<String>,
    scheduler_ms: u64,
}

/// A policy engine run under way.
struct PendingRun {
    id: u64,
    deadline: Instant,
    /// The configuration epoch it was asked for.
    epoch: u64,
    overdue: bool,
    triggers: Triggers,
}

/// Most messages taken from the inbox in one go (their results are recorded in one
/// proposal).
const MAX_BATCH: usize = 256;

/// Runs the DC until the task is dropped (the daemon aborts it when this node stops
/// leading or loses quorum; operations in flight finish on their nodes and reach the
/// next DC through `Resync`).
pub async fn run(
    cfg: DcConfig,
    io: Arc<dyn ClusterIo>,
    mut cib_rx: watch::Receiver<Arc<Cib>>,
    mut inbox: Inbox,
) {
    let cib = cib_rx.borrow_and_update().clone();
    let mut ecfg = EngineConfig::new(cfg.node.clone());
    // 2^20 transitions per term before ids could meet the next term's; after those an
    // earlier run of this process used in the same term.
    ecfg.first_transition = ((cfg.term << 20) + 1).max(cfg.next_transition.load(Ordering::SeqCst));
    let online = online_nodes(&cib);
    let start = Instant::now();
    let cib_stonith = cib
        .config
        .options()
        .map(|o| o.stonith_enabled)
        .unwrap_or(true);
    // Only without fencing (it walks every node's history).
    let first_hold = (!cib_stonith).then(|| initial_hold(&cfg, &cib));
    let (sched, mut sched_rx) = match SchedThread::spawn(&cfg.node) {
        Ok((t, rx)) => (Some(t), rx),
        Err(e) => {
            tracing::error!(node = %cfg.node, error = %e, "cannot start the scheduler thread");
            (None, tokio::sync::mpsc::unbounded_channel().1)
        }
    };
    let mut dc = Dc {
        sched,
        pending: None,
        engine: Engine::new(ecfg),
        io,
        last_epoch: cib.epoch,
        seen: cib.clone(),
        cib,
        waiting_since: online.iter().map(|n| (n.clone(), start)).collect(),
        asked: online.iter().map(|n| (n.clone(), start)).collect(),
        online,
        synced: HashMap::new(),
        recorded: HashMap::new(),
        // A new DC is usually the result of a failover; its predecessor's node may be
        // lost without the CIB showing it yet: hold as for the slowest lost node.
        hold_until: first_hold.map(|h| start + h),
        starting: HashMap::new(),
        want_schedule: true,
        reprobing: Vec::new(),
        probed_unsynced: HashSet::new(),
        followup: Vec::new(),
        last_schedule: start,
        warned_watchdog: None,
        triggers: Triggers::default(),
        meta: None,
        backoff: Backoff::default(),
        cfg,
    };
    dc.triggers
        .add(format!("{} became DC (term {})", dc.cfg.node, dc.cfg.term));
    info!(node = %dc.cfg.node, term = dc.cfg.term, "DC runtime started");
    for n in dc.online.clone() {
        dc.io.send(&n, ControllerMsg::Resync);
    }
    let mut tick = tokio::time::interval(dc.cfg.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            m = inbox.recv() => match m {
                Some(first) => {
                    // Take what else is waiting, so results that arrived together
                    // are recorded together.
                    let mut msgs = vec![first];
                    while msgs.len() < MAX_BATCH {
                        match inbox.try_recv() {
                            Ok(m) => msgs.push(m),
                            Err(_) => break,
                        }
                    }
                    dc.on_msgs(msgs).await;
                }
                None => return,
            },
            Some(done) = sched_rx.recv() => dc.on_scheduled(done).await,
            _ = tokio::time::sleep_until(
                dc.pending.as_ref().map_or_else(Instant::now, |p| p.deadline).into()
            ), if dc.pending.as_ref().is_some_and(|p| !p.overdue) => dc.on_overdue(),
            r = cib_rx.changed() => {
                if r.is_err() { return; }
                cib_rx.borrow_and_update();
                // The watch only wakes us: it is fed on the daemon's tick and may
                // hold a CIB older than the one our own proposals returned (taking
                // it would plan on a status without the latest records, e.g. a
                // recurring monitor started a second time).
                let cib = dc.io.cib();
                dc.on_cib(cib).await;
            }
            // Wake exactly when a split-brain hold ends, not at the next tick.
            _ = tokio::time::sleep_until(
                dc.hold_until.unwrap_or_else(Instant::now).into()
            ), if dc.hold_until.is_some() => {}
            _ = tick.tick() => {
                let cmds = dc.engine.handle(Event::Tick, &dc.cib, now_ms());
                dc.run_cmds(cmds).await;
                dc.ask_again();
                if dc.last_schedule.elapsed() >= dc.cfg.recheck {
                    dc.want_schedule = true;
                    dc.triggers.add("periodic recheck");
                }
            }
        }
        dc.maybe_schedule().await;
        dc.cfg.idle.store(dc.idle(), Ordering::SeqCst);
    }
}

impl Dc {
    /// Carries out commands. Dispatches go first: the engine makes an action ready
    /// only once its predecessors' results have come back from their nodes (a stop
    /// is confirmed by the node that ran it, not by its record), so a start
    /// elsewhere need not wait a Raft round for the stop's record. A DC that dies
    /// before the record commits leaves it in the node's outbox: the next DC
    /// collects it (`Resync`) before it plans. Then the changes to propose, in one
    /// proposal, so the engine always sees a CIB holding what it proposed before
    /// its next event (the DC takes no event while it waits) and a burst of results
    /// costs one Raft round. False if a change could not be committed.
    async fn run_cmds(&mut self, cmds: Vec<Command>) -> bool {
        let mut queue: VecDeque<Command> = cmds.into();
        let mut all_ok = true;
        while !queue.is_empty() {
            let mut changes: Vec<Change> = self.finished_record().into_iter().collect();
            let mut rest = VecDeque::new();
            for c in queue.drain(..) {
                match c {
                    Command::Propose(ch) => changes.push(ch),
                    Command::Execute(_) | Command::Fence(_) => self.run_cmd(c),
                    other => rest.push_back(other),
                }
            }
            all_ok &= self.propose_all(changes).await;
            for c in rest {
                match c {
                    Command::RecordFencing {
                        transition,
                        action,
                        change,
                    } => {
                        // Recovery after fencing waits for this record; the
                        // engine asks again if it does not commit.
                        if self.propose_all(vec![change]).await {
                            let ev = Event::FencingRecorded { transition, action };
                            queue.extend(self.engine.handle(ev, &self.cib, now_ms()));
                        } else {
                            all_ok = false;
                        }
                    }
                    other => self.run_cmd(other),
                }
            }
        }
        if let Some(c) = self.finished_record() {
            all_ok &= self.propose_all(vec![c]).await;
        }
        all_ok
    }

    /// The history record of the transition that just ended, if one did.
    fn finished_record(&mut self) -> Option<Change> {
        let mut record = self.engine.take_finished()?;
        if let Some(m) = self.meta.take() {
            record.trigger = m.trigger;
            record.planned = m.planned;
            record.scheduler_ms = m.scheduler_ms;
        }
        Some(Change::RecordTransition {
            record: Box::new(record.bounded()),
        })
    }

    /// Proposes `changes` (see [`propose_batch`]); the DC's CIB then holds what
    /// committed.
    async fn propose_all(&mut self, changes: Vec<Change>) -> bool {
        let out = propose_batch(&*self.io, &self.cfg.node, changes).await;
        if out.committed {
            self.cib = self.io.cib();
        }
        if !out.all_ok {
            let wait = self.backoff.failed(Instant::now());
            warn!(node = %self.cfg.node, wait_ms = wait.as_millis() as u64,
                "changes not committed: the next policy run waits (it would plan the same again)");
        } else if out.committed {
            self.backoff.succeeded();
        }
        out.all_ok
    }

    fn run_cmd(&mut self, c: Command) {
        match c {
            Command::Execute(d) => {
                debug!(node = %d.node, resource = %d.details.rsc, op = %d.details.op,
                    interval_ms = d.details.interval_ms, transition = d.transition, "dispatch");
                let node = d.node.clone();
                if d.details.op == "start" {
                    self.starting
                        .entry(node.clone())
                        .or_default()
                        .insert(d.details.rsc.clone());
                }
                self.io.send(&node, ControllerMsg::Execute(d));
            }
            Command::Fence(f) => {
                info!(target = %f.target, executor = %f.executor, "fencing");
                let ex = f.executor.clone();
                self.io.send(&ex, ControllerMsg::Fence(f));
            }
            Command::Recompute { reason } => {
                debug!(%reason, "recompute");
                self.want_schedule = true;
                self.triggers.add(reason);
            }
            Command::Complete {
                transition,
                incomplete,
            } => {
                debug!(transition, incomplete, "transition complete");
                self.want_schedule = true;
                self.triggers.add(format!("transition {transition} ended"));
            }
            // Handled by `run_cmds`.
            Command::Propose(_) | Command::RecordFencing { .. } => {}
        }
    }

    /// Records reports, as few proposals as possible: one per run of reports that
    /// touch distinct (node, resource) pairs (a second result for the same pair
    /// waits for the first to be recorded: its fail count builds on it).
    async fn on_reports(&mut self, reports: Vec<Report>) {
        let mut chunk: Vec<Report> = Vec::new();
        let mut keys: HashSet<(String, String)> = HashSet::new();
        for r in reports {
            let key = (r.node.clone(), r.details.rsc.clone());
            if keys.contains(&key) {
                self.record_reports(std::mem::take(&mut chunk)).await;
                keys.clear();
            }
            keys.insert(key);
            chunk.push(r);
        }
        self.record_reports(chunk).await;
    }

    async fn record_reports(&mut self, reports: Vec<Report>) {
        if reports.is_empty() {
            return;
        }
        let mut cmds = Vec::new();
        let mut fresh = Vec::new();
        let mut acks: HashMap<String, Vec<u64>> = HashMap::new();
        for r in reports {
            let key = (r.node.clone(), r.boot);
            if r.details.op == "start" {
                if let Some(s) = self.starting.get_mut(&r.node) {
                    s.remove(&r.details.rsc);
                }
            }
            let seen = self
                .recorded
                .get(&key)
                .map_or(Seen::New, |s| s.judge(r.seq));
            let event = match seen {
                Seen::Repeat => {
                    acks.entry(r.node.clone()).or_default().push(r.seq);
                    continue;
                }
                Seen::New => report_event(&r),
                Seen::Late => Event::LateResult {
                    node: r.node.clone(),
                    details: r.details.clone(),
                    outcome: r.outcome.clone(),
                },
            };
            cmds.extend(self.engine.handle(event, &self.cib, now_ms()));
            fresh.push((key, r.seq));
        }
        if self.run_cmds(cmds).await {
            for ((node, boot), seq) in fresh {
                acks.entry(node.clone()).or_default().push(seq);
                self.recorded.entry((node, boot)).or_default().insert(seq);
            }
        }
        // Not recorded: left in the nodes' outboxes for the next DC (or resync).
        for (node, seqs) in acks {
            self.io.send(&node, ControllerMsg::Ack { seqs });
        }
    }

    async fn on_msgs(&mut self, msgs: Vec<(String, ControllerMsg)>) {
        let mut reports = Vec::new();
        for (from, msg) in msgs {
            match msg {
                ControllerMsg::Report(r) if r.node == from => reports.push(r),
                other => {
                    self.on_reports(std::mem::take(&mut reports)).await;
                    self.on_msg(from, other).await;
                }
            }
        }
        self.on_reports(reports).await;
    }

    async fn on_msg(&mut self, from: String, msg: ControllerMsg) {
        match msg {
            ControllerMsg::Report(r) if r.node == from => self.on_reports(vec![r]).await,
            ControllerMsg::Synced {
                node,
                boot,
                mut reports,
            } if node == from => {
                reports.sort_by_key(|r| r.seq);
                reports.retain(|r| r.node == node && r.boot == boot);
                self.on_reports(reports).await;
                debug!(node = %node, boot, "node synced");
                self.synced.insert(node.clone(), boot);
                self.waiting_since.remove(&node);
                self.asked.remove(&node);
                self.probed_unsynced.remove(&node);
                self.want_schedule = true;
                self.triggers.add(format!("node {node} synced"));
            }
            ControllerMsg::FenceResult {
                transition,
                action,
                target,
                ok,
                reason,
            } => {
                let cmds = self.engine.handle(
                    Event::FenceResult {
                        from,
                        transition,
                        action,
                        target,
                        ok,
                        reason,
                    },
                    &self.cib,
                    now_ms(),
                );
                self.run_cmds(cmds).await;
            }
            other => debug!(from = %from, msg = ?other, "unexpected message for the DC ignored"),
        }
    }

    async fn on_cib(&mut self, cib: Arc<Cib>) {
        let epoch_changed = cib.epoch != self.last_epoch;
        self.last_epoch = cib.epoch;
        let online = online_nodes(&cib);
        let stonith = cib
            .config
            .options()
            .map(|o| o.stonith_enabled)
            .unwrap_or(true);
        self.cib = cib;
        if !self.engine.busy() {
            // What a run would now react to (while busy, an abort says why).
            self.triggers
                .extend(history::describe(&self.seen, &self.cib));
        }
        self.seen = self.cib.clone();
        let lost: Vec<String> = self.online.difference(&online).cloned().collect();
        let joined: Vec<String> = online.difference(&self.online).cloned().collect();
        self.online = online;
        let mut cmds = Vec::new();
        if epoch_changed {
            cmds.extend(
                self.engine
                    .handle(Event::ConfigChanged, &self.cib, now_ms()),
            );
        }
        for n in lost {
            info!(node = %n, "node lost");
            self.triggers.add(format!("node {n} lost"));
            self.synced.remove(&n);
            self.waiting_since.remove(&n);
            self.asked.remove(&n);
            self.probed_unsynced.remove(&n);
            if !stonith {
                self.hold_for_lost(&n);
            }
            cmds.extend(self.engine.handle(Event::NodeLost(n), &self.cib, now_ms()));
        }
        for n in joined {
            info!(node = %n, "node joined: asking for its results");
            self.triggers.add(format!("node {n} joined"));
            self.synced.remove(&n);
            self.probed_unsynced.remove(&n);
            self.waiting_since.insert(n.clone(), Instant::now());
            self.asked.insert(n.clone(), Instant::now());
            self.io.send(&n, ControllerMsg::Resync);
        }
        self.run_cmds(cmds).await;
        if !self.engine.busy() {
            self.want_schedule = true;
        }
    }

    /// Nothing under way: no transition, no policy engine run pending or wanted, no
    /// hold, no reprobe or follow-up, no node it still waits for.
    fn idle(&self) -> bool {
        !self.engine.busy()
            && self.pending.is_none()
            && !self.want_schedule
            && self.hold_until.is_none()
            && self.reprobing.is_empty()
            && self.followup.is_empty()
            && !self.waiting_since.iter().any(|(n, since)| {
                self.online.contains(n) && since.elapsed() < self.cfg.sync_timeout
            })
    }

    /// Sends `Resync` again to each online node whose `Synced` is still missing, once
    /// per `sync_timeout`: the transport does not retry a message (a connection to a
    /// node that just restarted can swallow one), and without the answer the results
    /// the node keeps never reach the CIB.
    fn ask_again(&mut self) {
        let due: Vec<String> = self
            .asked
            .iter()
            .filter(|(n, at)| self.online.contains(*n) && at.elapsed() >= self.cfg.sync_timeout)
            .map(|(n, _)| n.clone())
            .collect();
        for n in due {
            debug!(node = %n, "no Synced yet: asking again");
            self.asked.insert(n.clone(), Instant::now());
            self.io.send(&n, ControllerMsg::Resync);
        }
    }

    /// Without fencing: no resource of the lost `node` starts elsewhere before it has
    /// stopped them or been reset (the longest hold wins when several are lost).
    fn hold_for_lost(&mut self, node: &str) {
        let starting = self.starting.remove(node).unwrap_or_default();
        let hold = split_brain::hold_for(
            &self.cfg.liveness,
            &self.cib,
            node,
            starting.iter().map(String::as_str),
        );
        info!(node = %node, hold_ms = hold.as_millis() as u64,
            "fencing disabled: holding the lost node's resources until it has stopped them");
        let until = Instant::now() + hold;
        self.hold_until = Some(self.hold_until.map_or(until, |h| h.max(until)));
    }

    fn probed_boot(&self, node: &str) -> Option<u64> {
        self.cib
            .status
            .nodes
            .get(node)
            .and_then(|s| s.attributes.get(PROBED_ATTR))
            .and_then(|v| v.parse().ok())
    }

    /// Online nodes to probe before anything is planned: those whose executor booted
    /// since they were last probed, and (boot unknown) those that have not answered
    /// `Resync` within `sync_timeout` — their recorded history is not what they run
    /// now, or not known to be: planning on it restarted a group that had moved away
    /// from a node back from a partition (both copies looked active).
    fn probes_needed(&self) -> Vec<(String, Option<u64>)> {
        self.online
            .iter()
            .filter_map(|n| match self.synced.get(n) {
                Some(&boot) => (self.probed_boot(n) != Some(boot)).then(|| (n.clone(), Some(boot))),
                None => (!self.probed_unsynced.contains(n)).then(|| (n.clone(), None)),
            })
            .collect()
    }

    /// Starts the probes of [`Dc::probes_needed`], if any are: true if it did.
    async fn start_probes(&mut self) -> bool {
        let need = self.probes_needed();
        if need.is_empty() {
            return false;
        }
        let nodes: Vec<String> = need.iter().map(|(n, _)| n.clone()).collect();
        let t = reprobe(&self.cib, &nodes);
        info!(nodes = ?nodes, probes = t.actions.len(),
            "probing nodes whose executor restarted or whose resync is overdue");
        let why: Vec<String> = need
            .iter()
            .map(|(n, boot)| match boot {
                Some(_) => format!("executor started on {n}"),
                None => format!("no resync from {n} within the sync timeout"),
            })
            .collect();
        let plan = format!("probe every resource on {}", nodes.join(" "));
        self.reprobing = need;
        self.start(t, Meta::direct(why.join("; "), &plan)).await;
        true
    }

    async fn maybe_schedule(&mut self) {
        // Our own proposals refresh `self.cib` with whatever else committed meanwhile,
        // before the watch brings it: a membership change in it is handled first (a
        // rejoined node resynced and reprobed, a lost one held), never planned on as
        // it stands (a rejoined node's old history taken for what it runs).
        if online_nodes(&self.cib) != self.online {
            self.on_cib(self.cib.clone()).await;
        }
        // A hold that has passed is over (and must not keep waking the loop).
        if self.hold_until.is_some_and(|h| Instant::now() >= h) {
            self.hold_until = None;
        }
        // One policy engine run at a time; nothing else starts while it runs.
        if self.engine.busy() || self.pending.is_some() {
            return;
        }
        if !self.reprobing.is_empty() {
            self.finish_reprobe().await;
        }
        if !self.followup.is_empty() {
            let nodes = std::mem::take(&mut self.followup);
            let t = followup_monitors(&self.cib, &nodes);
            if !t.actions.is_empty() {
                info!(
                    actions = t.actions.len(),
                    "restoring recurring monitors found running by probes"
                );
                let why = format!("resources found running by probes on {}", nodes.join(" "));
                self.start(t, Meta::direct(why, "restore their recurring monitors"))
                    .await;
                return;
            }
        }
        if !self.want_schedule || self.backoff.waiting(Instant::now()) {
            return;
        }
        if let Some(h) = self.hold_until {
            if Instant::now() < h {
                return;
            }
            self.hold_until = None;
        }
        let waiting: Vec<String> = self
            .waiting_since
            .iter()
            .filter(|(n, since)| {
                self.online.contains(*n) && since.elapsed() < self.cfg.sync_timeout
            })
            .map(|(n, _)| n.clone())
            .collect();
        if !waiting.is_empty() {
            return;
        }
        if self.start_probes().await {
            return;
        }
        let Some(sched) = self.sched.as_mut() else {
            return;
        };
        let now_s = (now_ms() / 1000) as i64;
        let live = LiveFacts {
            have_watchdog: watchdog::have_watchdog(&self.cib),
            migrate: self.io.records_migrations(),
        };
        if let Some(claim) = watchdog::claimed_watchdog(&self.cib, live.have_watchdog) {
            if self.warned_watchdog != Some(self.cib.epoch) {
                self.warned_watchdog = Some(self.cib.epoch);
                warn!(node = %self.cfg.node, property = claim, armed_everywhere = live.have_watchdog,
                    "the have-watchdog property is ignored: the cluster has a watchdog only \
                     where every daemon armed one (settings.watchdog in cluster.toml)");
            }
        }
        let Some(id) = sched.submit(self.cib.clone(), now_s, live) else {
            self.sched = None;
            return;
        };
        self.want_schedule = false;
        self.last_schedule = Instant::now();
        // This run plans on this configuration, which our own proposals may have
        // brought before the watch did: the watch's delivery of it is no change to
        // react to. Taking it for one aborted the transition planned on it, and a
        // second transition ran what the first had left (e.g. only a monitor).
        self.last_epoch = self.cib.epoch;
        self.pending = Some(PendingRun {
            id,
            deadline: Instant::now() + self.cfg.schedule_deadline,
            epoch: self.cib.epoch,
            overdue: false,
            triggers: self.triggers.take(),
        });
    }

    /// The run is past its deadline: say so once; its transition will be
    /// discarded when it comes.
    fn on_overdue(&mut self) {
        if let Some(p) = self.pending.as_mut() {
            p.overdue = true;
            warn!(node = %self.cfg.node, deadline_ms = self.cfg.schedule_deadline.as_millis() as u64,
                "policy engine run past its deadline: its transition will be discarded; \
                 the DC keeps running the current graph");
        }
    }

    async fn on_scheduled(&mut self, done: Scheduled) {
        let Some(p) = self.pending.take_if(|p| p.id == done.id) else {
            return;
        };
        let took = done.took;
        let outcome = self.use_run(p, done).await;
        self.io.scheduled(&ScheduleRun { took, outcome });
    }

    async fn use_run(&mut self, p: PendingRun, done: Scheduled) -> RunOutcome {
        let took_ms = done.took.as_millis() as u64;
        if p.overdue || done.took > self.cfg.schedule_deadline {
            warn!(node = %self.cfg.node, took_ms,
                deadline_ms = self.cfg.schedule_deadline.as_millis() as u64,
                "policy engine run overran its deadline: transition discarded");
            return RunOutcome::Overran;
        }
        if self.cib.epoch != p.epoch {
            debug!(
                took_ms,
                "configuration changed while scheduling: computing again"
            );
            self.want_schedule = true;
            self.triggers.extend(p.triggers.lines());
            return RunOutcome::Stale;
        }
        let t = match done.result {
            Ok(t) => t,
            Err(e) => {
                warn!(error = %e, "policy engine refused the CIB");
                return RunOutcome::Refused;
            }
        };
        for w in &t.warnings {
            warn!(node = %self.cfg.node, warning = %w, "policy engine");
        }
        if let Some(change) = forget_orphans(&self.cib, &t) {
            info!(change = ?change, "forgetting deleted resources stopped everywhere");
            match self.io.propose(change).await {
                Ok(()) => self.cib = self.io.cib(),
                Err(e) => warn!(error = %e, "could not forget deleted resources"),
            }
        }
        if !t.actions.iter().any(|a| a.runnable && !a.pseudo) {
            if !t.actions.is_empty() {
                debug!(actions = t.actions.len(), "nothing runnable to do");
            }
            return RunOutcome::Idle;
        }
        info!(actions = t.actions.len(), took_ms, summary = ?t.summary, "new transition");
        let actions = t.actions.len();
        let meta = Meta {
            trigger: p.triggers.lines(),
            planned: t.summary.clone(),
            scheduler_ms: took_ms,
        };
        self.start(t, meta).await;
        RunOutcome::Started { actions }
    }

    async fn start(&mut self, t: Transition, meta: Meta) {
        match self.engine.start(&t, &self.cib, now_ms()) {
            Ok(cmds) => {
                self.cfg
                    .next_transition
                    .fetch_max(self.engine.next_transition(), Ordering::SeqCst);
                self.meta = Some(meta);
                self.run_cmds(cmds).await;
            }
            Err(e) => warn!(error = %e, "transition not started"),
        }
    }

    async fn finish_reprobe(&mut self) {
        let done = std::mem::take(&mut self.reprobing);
        let mut changes = Vec::new();
        for (n, boot) in &done {
            match boot {
                Some(boot) => changes.push(Change::SetTransientAttribute {
                    node: n.clone(),
                    name: PROBED_ATTR.into(),
                    value: Some(boot.to_string()),
                }),
                // Its boot comes with its `Synced`, which is checked against the
                // attribute then.
                None => {
                    self.probed_unsynced.insert(n.clone());
                }
            }
        }
        // The next `maybe_schedule` reads the probed boots from `self.cib`: without
        // the record there it would probe the same nodes again.
        if !changes.is_empty() {
            match self.io.propose(Change::Batch { changes }).await {
                Ok(()) => self.cib = self.io.cib(),
                Err(e) => warn!(error = %e, "could not record the reprobe"),
            }
        }
        self.followup = done.into_iter().map(|(n, _)| n).collect();
        self.want_schedule = true;
        self.triggers
            .add(format!("nodes probed: {}", self.followup.join(" ")));
    }
}

impl Meta {
    /// A transition the DC builds itself (probes, restored monitors).
    fn direct(why: String, plan: &str) -> Meta {
        Meta {
            trigger: vec![why],
            planned: vec![plan.to_string()],
            scheduler_ms: 0,
        }
    }
}

/// What a node's report means to the engine.
fn report_event(r: &Report) -> Event {
    match (r.transition, r.action) {
        (Some(t), Some(a)) => Event::ActionResult {
            transition: t,
            action: a,
            node: r.node.clone(),
            details: r.details.clone(),
            outcome: r.outcome.clone(),
        },
        _ if r.details.interval_ms > 0 => Event::MonitorChanged {
            node: r.node.clone(),
            details: r.details.clone(),
            outcome: r.outcome.clone(),
        },
        // A result no graph asked for (a stop under no-quorum-policy): judged as a
        // late result.
        _ => Event::ActionResult {
            transition: 0,
            action: usize::MAX,
            node: r.node.clone(),
            details: r.details.clone(),
            outcome: r.outcome.clone(),
        },
    }
}

/// A new DC's hold: any other node may be lost without the CIB showing it yet.
fn initial_hold(cfg: &DcConfig, cib: &Cib) -> Duration {
    cib.config
        .nodes
        .iter()
        .filter(|n| n.name != cfg.node)
        .map(|n| split_brain::hold_for(&cfg.liveness, cib, &n.name, []))
        .max()
        .unwrap_or_default()
}

/// The status entries of deleted resources (orphans) that `t` shows stopped
/// everywhere: their history on online nodes and their fail counts. Forgetting them,
/// as Pacemaker does with an orphan's history and fail counts, leaves nothing behind
/// and lets a new resource with the same id start from scratch. History on a node
/// that is not online stays until the node is back and probed. Also what `t`
/// plans to clean up (see [`planned_cleanups`]).
pub fn forget_orphans(cib: &Cib, t: &Transition) -> Option<Change> {
    let configured: BTreeSet<&str> = cib
        .config
        .resources
        .iter()
        .flat_map(|r| r.primitives())
        .map(|p| p.id.as_str())
        .collect();
    let active: BTreeSet<&str> = t
        .placements
        .iter()
        .filter(|p| !p.current.is_empty())
        .map(|p| p.resource.as_str())
        .collect();
    // A configured clone's instance history (`db:3` for `db`) may be read as any
    // of its instances: which one is active is not known by that name.
    let clone_prims: BTreeSet<&str> = cib
        .config
        .resources
        .iter()
        .filter(|r| matches!(r, Resource::Clone(_)))
        .flat_map(|r| r.primitives())
        .map(|p| p.id.as_str())
        .collect();
    let cloned = |rsc: &str| {
        rsc.rsplit_once(':')
            .is_some_and(|(base, _)| clone_prims.contains(base))
    };
    let gone = |rsc: &str| !configured.contains(rsc) && !active.contains(rsc) && !cloned(rsc);
    let online: BTreeSet<&str> = t
        .nodes
        .iter()
        .filter(|n| n.online && !n.unclean)
        .map(|n| n.name.as_str())
        .collect();
    let mut changes = Vec::new();
    for (node, st) in &cib.status.nodes {
        if online.contains(node.as_str()) {
            for rsc in st.resources.keys().filter(|r| gone(r)) {
                changes.push(Change::ForgetHistory {
                    node: Some(node.clone()),
                    rsc: rsc.clone(),
                });
            }
        }
        let mut cleared: Vec<&str> = st
            .failcounts
            .iter()
            .map(|f| f.rsc.as_str())
            .filter(|r| gone(r))
            .collect();
        cleared.dedup();
        for rsc in cleared {
            changes.push(Change::ClearFailCount {
                node: node.clone(),
                rsc: rsc.to_string(),
                op: None,
                interval_ms: None,
            });
        }
    }
    changes.extend(planned_cleanups(t));
    (!changes.is_empty()).then_some(Change::Batch { changes })
}

/// The status changes of the transition's clean-up actions, which run no agent:
/// `clear_failcount` clears the fail count (an anonymous clone instance's under
/// its clone's primitive too, the name fail counts are kept under), `delete`
/// forgets the history where the resource no longer runs (where it still runs,
/// the next transition forgets it once its stop is recorded).
fn planned_cleanups(t: &Transition) -> Vec<Change> {
    let running = |rsc: &str, node: &str| {
        t.placements
            .iter()
            .any(|p| p.resource == rsc && p.current.iter().any(|n| n == node))
    };
    let mut changes = Vec::new();
    for a in t.actions.iter().filter(|a| a.runnable && !a.pseudo) {
        let (Some(rsc), Some(node)) = (a.resource.as_deref(), a.node.as_deref()) else {
            continue;
        };
        match a.kind {
            ActionKind::ClearFailcount => {
                let base = rsc.rsplit_once(':').map_or(rsc, |(b, _)| b);
                for name in BTreeSet::from([rsc, base]) {
                    changes.push(Change::ClearFailCount {
                        node: node.to_string(),
                        rsc: name.to_string(),
                        op: None,
                        interval_ms: None,
                    });
                }
            }
            ActionKind::Delete if !running(rsc, node) => changes.push(Change::ForgetHistory {
                node: Some(node.to_string()),
                rsc: a.history_name.as_deref().unwrap_or(rsc).to_string(),
            }),
            _ => {}
        }
    }
    changes
}

fn node_states(cib: &Cib) -> Vec<NodeState> {
    let online = online_nodes(cib);
    cib.config
        .nodes
        .iter()
        .map(|n| NodeState {
            name: n.name.clone(),
            online: online.contains(&n.name),
            unclean: false,
            standby: n.standby,
            maintenance: n.maintenance,
            pending: false,
            shutdown: false,
            fence_reason: None,
        })
        .collect()
}

fn graph_of(cib: &Cib, actions: Vec<Action>, edges: Vec<OrderingEdge>) -> Transition {
    Transition {
        actions,
        edges,
        placements: Vec::new(),
        nodes: node_states(cib),
        summary: Vec::new(),
        scores: Vec::new(),
        warnings: Vec::new(),
        assign_scores: Vec::new(),
        promotion_scores: Vec::new(),
    }
}

/// A probe of every configured primitive (and every resource in the node's
/// history) on each node.
pub fn reprobe(cib: &Cib, nodes: &[String]) -> Transition {
    let mut actions = Vec::new();
    for n in nodes {
        let mut rscs: BTreeSet<String> = cib
            .config
            .resources
            .iter()
            .flat_map(|r| r.primitives())
            .filter(|p| p.agent.class != "stonith")
            .map(|p| p.id.clone())
            .collect();
        if let Some(st) = cib.status.nodes.get(n) {
            rscs.extend(st.resources.keys().cloned());
        }
        for r in rscs {
            actions.push(Action {
                id: actions.len(),
                kind: ActionKind::Probe,
                resource: Some(r.into()),
                node: Some(n.as_str().into()),
                reason: Some("executor restarted: learn what runs here".into()),
                runnable: true,
                pseudo: false,
                history_name: None,
            });
        }
    }
    graph_of(cib, actions, Vec::new())
}

/// Recurring monitors for resources whose newest record on the node is a probe that
/// found them running (the executor that ran the old monitors is gone).
pub fn followup_monitors(cib: &Cib, nodes: &[String]) -> Transition {
    let mut actions = Vec::new();
    for n in nodes {
        let Some(st) = cib.status.nodes.get(n) else {
            continue;
        };
        for (rsc, h) in &st.resources {
            let Some(newest) = h.ops.iter().max_by_key(|o| o.call_id) else {
                continue;
            };
            let probed =
                newest.operation == "monitor" && newest.interval_ms == 0 && newest.op_status == 0;
            if !probed || !matches!(newest.rc, rc::OK | rc::RUNNING_PROMOTED) {
                continue;
            }
            // A clone instance's history (`db:1`) runs its clone's primitive.
            let Some(p) = cib
                .config
                .find_primitive(rsc)
                .or_else(|| cib.config.clone_instance(rsc).map(|(_, p, _)| p))
            else {
                continue;
            };
            // The monitors of the role the probe found (8: promoted).
            let promoted = newest.rc == rc::RUNNING_PROMOTED;
            for op in &p.ops {
                let role_fits = (op.role == Some(hactl_model::Role::Promoted)) == promoted;
                if op.name == "monitor"
                    && op.interval_ms > 0
                    && op.enabled != Some(false)
                    && role_fits
                {
                    actions.push(Action {
                        id: actions.len(),
                        kind: ActionKind::Monitor {
                            interval_ms: op.interval_ms,
                        },
                        resource: Some(rsc.as_str().into()),
                        node: Some(n.as_str().into()),
                        reason: Some("found running by a probe".into()),
                        runnable: true,
                        pseudo: false,
                        history_name: None,
                    });
                }
            }
        }
    }
    graph_of(cib, actions, Vec::new())
}

#[cfg(test)]
#[path = "dc_batch_tests.rs"]
mod batch_tests;

#[cfg(test)]
#[path = "dc_rejoin_tests.rs"]
mod rejoin_tests;
