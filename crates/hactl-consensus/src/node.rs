//! The Raft node: a thread that owns the raft-rs `RawNode`, ticks it, feeds it commands
//! and peer messages, and runs the Ready loop (persist, flush, send, apply, answer).

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use protobuf::Message as _;
use raft::eraftpb::{
    ConfChange, ConfChangeType, ConfState, Entry, EntryType, Message, MessageType, Snapshot,
};
use raft::{RawNode, StateRole};
use tokio::sync::{oneshot, watch};

use crate::alone::{self, AloneError, AloneProof, LogEnd};
use crate::format::{self, LEGACY_FORMAT};
use crate::known_formats::KnownFormats;
use crate::membership::{self, Action};
use crate::rejoin::{self, RejoinPhase, Reports};
use crate::storage::Storage;
use crate::{
    Change, Cib, Config, Error, NodeId, PeerReport, ProposeError, Role, Status, Transport,
};

/// How many queued commands the node takes per loop turn before it looks at Ready
/// again; bounds the latency a burst of peer messages can add.
const MAX_BATCH: usize = 512;
/// Queue depth for peer messages; beyond it messages are dropped (raft retransmits).
const QUEUE: usize = 4096;

type Reply = oneshot::Sender<Result<u64, ProposeError>>;

enum Cmd {
    Propose {
        change: Box<Change>,
        reply: Reply,
    },
    Voter {
        add: bool,
        id: NodeId,
        reply: Reply,
    },
    Step {
        from: NodeId,
        bytes: Vec<u8>,
    },
    Report {
        from: NodeId,
        report: PeerReport,
    },
    Unreachable(NodeId),
    Campaign,
    TransferLeader(NodeId),
    /// The nodes to seal against; the reply, if any, gets the log end then.
    Seal(Vec<NodeId>, Option<oneshot::Sender<LogEnd>>),
    Alone {
        proof: AloneProof,
        reply: oneshot::Sender<Result<(), AloneError>>,
    },
    Stop,
}

/// A handle on a running node. Cheap to clone.
#[derive(Clone)]
pub struct Handle {
    id: NodeId,
    tx: mpsc::SyncSender<Cmd>,
    status: watch::Receiver<Arc<Status>>,
    thread: Arc<std::sync::Mutex<Option<JoinHandle<()>>>>,
}

impl Handle {
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Proposes a CIB change; resolves with the log index once the change is applied
    /// on this node (so the local CIB includes it). Callers bound the wait with a
    /// timeout: a proposal lost in a leader change never resolves on its own.
    pub async fn propose(&self, change: Change) -> Result<u64, ProposeError> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Propose {
            change: Box::new(change),
            reply,
        })?;
        rx.await.map_err(|_| ProposeError::Stopped)?
    }

    /// Adds a member (Raft membership change); resolves when applied here. It joins as
    /// a learner and the leader makes it a voter once it holds everything committed,
    /// so a node that has not caught up never counts toward a quorum.
    pub async fn add_voter(&self, id: NodeId) -> Result<u64, ProposeError> {
        self.voter(true, id).await
    }

    /// Removes a voter; resolves when applied here.
    pub async fn remove_voter(&self, id: NodeId) -> Result<u64, ProposeError> {
        self.voter(false, id).await
    }

    async fn voter(&self, add: bool, id: NodeId) -> Result<u64, ProposeError> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Voter { add, id, reply })?;
        rx.await.map_err(|_| ProposeError::Stopped)?
    }

    /// Hands a message received from peer `from` (as authenticated by the transport)
    /// to the node. Never blocks: when the queue is full the message is dropped, which
    /// raft tolerates (it retransmits).
    pub fn step(&self, from: NodeId, bytes: Vec<u8>) {
        if self.tx.try_send(Cmd::Step { from, bytes }).is_err() {
            tracing::debug!(
                node = self.id,
                from,
                "consensus queue full or stopped; peer message dropped"
            );
        }
    }

    /// What peer `from` says about itself (from its heartbeat): its highest entry
    /// format, whether it is rejoining, where its log ends.
    pub fn peer_report(&self, from: NodeId, report: PeerReport) {
        let _ = self.tx.try_send(Cmd::Report { from, report });
    }

    /// Tells raft that a peer could not be reached, so it probes instead of streaming.
    pub fn report_unreachable(&self, peer: NodeId) {
        let _ = self.tx.try_send(Cmd::Unreachable(peer));
    }

    /// Starts an election now (used to hand leadership over quickly on clean leave).
    pub fn campaign(&self) {
        let _ = self.tx.try_send(Cmd::Campaign);
    }

    /// Hands leadership to voter `to` if this node leads (raft-rs waits until `to` has
    /// caught up, then tells it to campaign at once). Used before this node demotes
    /// itself: a leader that is no longer a voter would keep leading.
    pub fn transfer_leader(&self, to: NodeId) {
        let _ = self.tx.try_send(Cmd::TransferLeader(to));
    }

    /// Makes voter `id` a learner (a replicated membership change); resolves when
    /// applied here. The leader promotes it again once the CIB no longer records it as
    /// away ([`crate::membership::away`]).
    pub async fn demote(&self, id: NodeId) -> Result<u64, ProposeError> {
        // AddLearnerNode of a voter demotes it.
        self.voter(true, id).await
    }

    /// Two-node mode and the witness: stops exchanging Raft messages with the nodes of
    /// `out` (none sent, none taken), so this node acknowledges nothing of theirs and
    /// grants them no vote; an empty `out` lifts the seal. The step before
    /// [`Handle::force_alone`] ([`crate::alone`]).
    pub fn seal(&self, out: &[NodeId]) {
        if self.tx.send(Cmd::Seal(out.to_vec(), None)).is_err() {
            tracing::debug!(node = self.id, "consensus stopped; seal not applied");
        }
    }

    /// [`Handle::seal`], answering with this node's log end as of the moment the seal
    /// took effect: every entry the sealed nodes can still have committed with this
    /// node's acknowledgement is in the log up to there (the witness picks the half's
    /// node to continue first by it: [`crate::alone`]). None if the node stopped.
    pub async fn seal_and_report(&self, out: &[NodeId]) -> Option<LogEnd> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Cmd::Seal(out.to_vec(), Some(reply))).ok()?;
        rx.await.ok()
    }

    /// Two-node mode and the witness: makes this node's half the voters, given a proof
    /// that the sealed other half is out ([`crate::alone`] says what is checked).
    /// Resolves once the change is made here (at once if the other half is already out
    /// of this node's configuration); the node then campaigns in the new one.
    pub async fn force_alone(&self, proof: AloneProof) -> Result<(), AloneError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .try_send(Cmd::Alone { proof, reply })
            .map_err(|_| AloneError::Stopped)?;
        rx.await.map_err(|_| AloneError::Stopped)?
    }

    /// The latest status (role, leader, indexes, CIB).
    pub fn status(&self) -> Arc<Status> {
        self.status.borrow().clone()
    }

    /// A receiver that sees every new status.
    pub fn watch(&self) -> watch::Receiver<Arc<Status>> {
        self.status.clone()
    }

    /// Stops the node and waits for its thread; state on disk stays as it is.
    pub fn stop(&self) {
        let _ = self.tx.send(Cmd::Stop);
        let t = self.thread.lock().ok().and_then(|mut g| g.take());
        if let Some(t) = t {
            let _ = t.join();
        }
    }

    /// Queues a command without blocking the caller's (async) thread.
    fn send(&self, cmd: Cmd) -> Result<(), ProposeError> {
        self.tx.try_send(cmd).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => {
                ProposeError::Dropped("consensus node is overloaded; retry".into())
            }
            mpsc::TrySendError::Disconnected(_) => ProposeError::Stopped,
        })
    }
}

pub(crate) fn start(config: Config, transport: Transport) -> Result<Handle, Error> {
    if config.id == 0 {
        return Err(Error::Config("node id 0 is reserved by raft".into()));
    }
    let t = config.timing;
    if t.heartbeat_ticks == 0 || t.election_ticks <= t.heartbeat_ticks || t.tick.is_zero() {
        return Err(Error::Config(format!(
            "timing {t:?}: need tick > 0 and election_ticks > heartbeat_ticks > 0"
        )));
    }
    // The founding snapshot is in the legacy format: founders of any build agree on it.
    let initial = format::encode_cib(&Cib::default(), LEGACY_FORMAT)?;
    let founders: &[NodeId] = if config.may_found {
        &config.initial_voters
    } else {
        &[]
    };
    let store = Storage::open(&config.data_dir, founders, &initial)?;
    let rejoin = rejoin_phase(&config, &store)?;
    let alone_peers = alone::load(&config.data_dir)?;
    // A member's first report normally comes within a heartbeat; twelve election
    // timeouts leave room for a slow start and stay under the daemon's proposal
    // timeout (known_formats.rs says why proposals wait at all).
    let format_wait = config
        .format_wait
        .unwrap_or(t.tick * (12 * t.election_ticks) as u32);
    let known_formats = KnownFormats::load(&config.data_dir, format_wait)?;
    let snapshot_index = store.snapshot_index();
    let cib = match store.snapshot_data()? {
        Some(data) => format::decode_cib(&data, config.max_format)?,
        None => Cib::default(),
    };
    let rcfg = raft::Config {
        id: config.id,
        election_tick: t.election_ticks,
        heartbeat_tick: t.heartbeat_ticks,
        applied: snapshot_index,
        check_quorum: true,
        pre_vote: true,
        max_size_per_msg: 1024 * 1024,
        max_inflight_msgs: 256,
        ..Default::default()
    };
    rcfg.validate().map_err(|e| Error::Config(e.to_string()))?;
    let logger = crate::slog_bridge::logger(config.id);
    let raw = RawNode::new(&rcfg, store, &logger).map_err(|e| Error::Raft(e.to_string()))?;
    let (tx, rx) = mpsc::sync_channel(QUEUE);
    let mut node = Node {
        id: config.id,
        raw,
        cib: Arc::new(cib),
        applied: snapshot_index,
        transport,
        waiters: HashMap::new(),
        incarnation: rand::random(),
        seq: 0,
        compact_after: config.compact_after.max(1),
        tick: t.tick,
        answers: Vec::new(),
        data_dir: config.data_dir.clone(),
        members: config.initial_voters.iter().copied().collect(),
        max_format: config.max_format,
        reports: Reports::default(),
        known_formats,
        held: Vec::new(),
        held_since: None,
        // A peer's report counts for a vote while it is younger than two election
        // timeouts (heartbeats come far more often).
        report_ttl: t.tick * (2 * t.election_ticks) as u32,
        rejoin,
        stalled: None,
        last_transfer: None,
        deferred_voter: Default::default(),
        progress_reset: Default::default(),
        snapshot_sent: HashMap::new(),
        sealed: Vec::new(),
        alone_peers,
    };
    let (status_tx, status_rx) = watch::channel(Arc::new(node.status(None, true)));
    let id = config.id;
    let thread = std::thread::Builder::new()
        .name(format!("raft-{id}"))
        .spawn(move || {
            let guard = FatalOnPanic {
                id,
                status: status_tx,
            };
            let fatal = node.run(rx, &guard.status).err().map(|e| e.to_string());
            if let Some(f) = &fatal {
                tracing::error!(node = id, error = %f, "consensus node stopped on error");
            }
            let _ = guard.status.send(Arc::new(node.status(fatal, false)));
        })
        .map_err(|e| Error::Raft(format!("spawning raft thread: {e}")))?;
    Ok(Handle {
        id,
        tx,
        status: status_rx,
        thread: Arc::new(std::sync::Mutex::new(Some(thread))),
    })
}

/// The rejoin phase a node starts in: a store that is still empty although the node may
/// not found means it lost its state (or is new) and must rejoin; otherwise whatever a
/// rejoin interrupted by a crash had reached.
fn rejoin_phase(config: &Config, store: &Storage) -> Result<Option<RejoinPhase>, Error> {
    let empty = store.last_index() == 0 && store.snapshot_index() == 0;
    if empty && !config.may_found {
        tracing::warn!(
            node = config.id,
            dir = %config.data_dir.display(),
            "no consensus state and not a founder: rejoining the cluster as a non-voter"
        );
        rejoin::store_phase(&config.data_dir, Some(RejoinPhase::NoState))?;
        return Ok(Some(RejoinPhase::NoState));
    }
    let phase = rejoin::load_phase(&config.data_dir)?;
    if let Some(p) = phase {
        tracing::warn!(node = config.id, phase = ?p, "resuming an interrupted rejoin");
    }
    Ok(phase)
}

/// Publishes a stopped status with the reason when the node's thread unwinds from a
/// panic (raft-rs panics on a broken invariant). Without it the status channel would
/// just close and watchers would not learn why.
struct FatalOnPanic {
    id: NodeId,
    status: watch::Sender<Arc<Status>>,
}

impl Drop for FatalOnPanic {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let reason = "raft panicked on a broken invariant (see the panic message above); \
                      the node stopped";
        tracing::error!(node = self.id, "{reason}");
        let mut s = (**self.status.borrow()).clone();
        s.fatal = Some(reason.to_string());
        s.running = false;
        self.status.send_replace(Arc::new(s));
    }
}

struct Node {
    id: NodeId,
    raw: RawNode<Storage>,
    cib: Arc<Cib>,
    applied: u64,
    transport: Transport,
    /// Pending proposals of this node, by sequence number.
    waiters: HashMap<u64, Reply>,
    /// Random per start, in every proposal's context, so entries proposed by an earlier
    /// run of this node (replayed after a restart) never match a current waiter.
    incarnation: u64,
    seq: u64,
    compact_after: u64,
    tick: Duration,
    /// Answers to send once the status that reflects them is published, so a caller
    /// that reads the status after its proposal resolved sees its change.
    answers: Vec<(Reply, Result<u64, ProposeError>)>,
    data_dir: PathBuf,
    /// The configured members (besides raft's configuration, which a node without
    /// state does not have).
    members: BTreeSet<NodeId>,
    max_format: u32,
    reports: Reports,
    report_ttl: Duration,
    rejoin: Option<RejoinPhase>,
    /// Why this node stopped applying committed entries.
    stalled: Option<String>,
    /// When a stalled leader last handed leadership over.
    last_transfer: Option<Instant>,
    /// Peers whose lost log this leader has already accounted for (see
    /// `forget_lost_progress`).
    progress_reset: std::collections::HashSet<NodeId>,
    /// Peers this leader has a snapshot outstanding to, and since when (see
    /// `retry_lost_snapshot`).
    snapshot_sent: HashMap<NodeId, Instant>,
    /// Membership changes asked for while another was pending.
    deferred_voter: std::collections::VecDeque<(bool, NodeId, Reply)>,
    /// Two-node mode and the witness: the nodes whose messages are dropped both ways.
    sealed: Vec<NodeId>,
    /// Two-node mode and the witness: the nodes this node went on without, still to be
    /// added back as learners (kept on disk until those changes are applied).
    alone_peers: Vec<NodeId>,
    /// Each member's last announced format, also from before this start.
    known_formats: KnownFormats,
    /// Proposals that need a newer format than is written while a member that never
    /// announced one may still do so (known_formats.rs): decided at its report.
    held: Vec<(Change, Reply)>,
    /// Since when proposals have been held (for one log line per wait).
    held_since: Option<Instant>,
}

impl Node {
    fn run(
        &mut self,
        rx: mpsc::Receiver<Cmd>,
        status: &watch::Sender<Arc<Status>>,
    ) -> Result<(), Error> {
        let mut next_tick = Instant::now() + self.tick;
        let mut last = self.status(None, true);
        loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(cmd) => {
                    if !self.handle(cmd) {
                        return Ok(());
                    }
                    for _ in 0..MAX_BATCH {
                        match rx.try_recv() {
                            Ok(cmd) => {
                                if !self.handle(cmd) {
                                    return Ok(());
                                }
                            }
                            Err(_) => break,
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            }
            let now = Instant::now();
            if now >= next_tick {
                self.raw.tick();
                next_tick += self.tick;
                if next_tick < now {
                    // We fell behind (machine busy): don't burst ticks, which would
                    // fire elections early.
                    next_tick = now + self.tick;
                }
                self.waiters.retain(|_, w| !w.is_closed());
                // A wait that is over (the silent member is taken as down).
                self.release_held();
                self.manage_members();
                self.hand_over_if_stalled();
            }
            self.on_ready()?;
            let s = self.status(None, true);
            if !same(&s, &last) {
                if s.leader != last.leader || s.role != last.role {
                    tracing::info!(node = self.id, term = s.term, role = ?s.role, leader = ?s.leader, "raft role changed");
                }
                let _ = status.send(Arc::new(s.clone()));
                last = s;
            }
            for (w, r) in self.answers.drain(..) {
                let _ = w.send(r);
            }
        }
    }

    /// Returns false on Stop.
    fn handle(&mut self, cmd: Cmd) -> bool {
        match cmd {
            Cmd::Propose { change, reply } => self.propose(*change, reply),
            Cmd::Voter { add, id, reply } => {
                // raft-rs turns a membership change proposed while another is pending
                // into an empty entry (the caller would never hear back): the leader
                // holds it until the pending one is applied.
                if self.raw.raft.state == StateRole::Leader && self.raw.raft.has_pending_conf() {
                    self.deferred_voter.push_back((add, id, reply));
                    return true;
                }
                let cc = ConfChange {
                    node_id: id,
                    change_type: if add {
                        ConfChangeType::AddLearnerNode
                    } else {
                        ConfChangeType::RemoveNode
                    },
                    ..Default::default()
                };
                let ctx = self.next_context(reply);
                let seq = self.seq;
                if let Err(e) = self.raw.propose_conf_change(ctx, cc) {
                    self.fail(seq, propose_error(e));
                }
            }
            Cmd::Step { from, bytes } => self.step(from, &bytes),
            Cmd::Report { from, report } => {
                self.forget_lost_progress(from, &report);
                self.retry_lost_snapshot(from, &report);
                self.reach_peer_behind_snapshot(from, &report);
                if let Err(e) = self.known_formats.note(from, report.max_format) {
                    // Still known in memory until the next start.
                    tracing::error!(node = self.id, peer = from, error = %e, "member format not kept on disk");
                }
                self.reports.insert(from, report, Instant::now());
                self.release_held();
            }
            Cmd::Unreachable(peer) => self.raw.report_unreachable(peer),
            Cmd::Campaign => {
                if let Err(e) = self.raw.campaign() {
                    tracing::debug!(node = self.id, error = %e, "campaign refused");
                }
            }
            Cmd::TransferLeader(to) => {
                if self.raw.raft.state == StateRole::Leader && to != self.id {
                    tracing::info!(node = self.id, to, "handing leadership over");
                    self.raw.transfer_leader(to);
                }
            }
            Cmd::Seal(out, reply) => {
                tracing::warn!(node = self.id, out = ?out, "two-node: seal against the other half set");
                self.sealed = out;
                if let Some(reply) = reply {
                    let log = &self.raw.raft.raft_log;
                    let end = LogEnd {
                        term: log.last_term(),
                        index: log.last_index(),
                    };
                    let _ = reply.send(end);
                }
            }
            Cmd::Alone { proof, reply } => {
                let r = self.force_alone(&proof);
                let _ = reply.send(r);
            }
            Cmd::Stop => return false,
        }
        true
    }

    /// Makes this node's half the voters ([`crate::alone`]): the guard, then the
    /// other half's ids on disk (to add them back as learners), then the
    /// configuration, then an election (this half's votes only).
    fn force_alone(&mut self, proof: &AloneProof) -> Result<(), AloneError> {
        let cs = self.raw.store().conf_state().clone();
        let out = proof.out();
        if cs.voters.contains(&self.id) && out.iter().all(|o| cs.learners.contains(o)) {
            // The half that forced first already replicated the other half's demotion
            // (their learner entries) here: nothing left to force.
            tracing::info!(node = self.id, out = ?out, "witness: the other half is already out");
            self.sealed.clear();
            return Ok(());
        }
        let r = &self.raw.raft;
        let facts = alone::Facts {
            me: self.id,
            voters: &cs.voters,
            learners: &cs.learners,
            sealed: &self.sealed,
            pending_conf: r.pending_conf_index > r.raft_log.applied
                || r.raft_log.committed > r.raft_log.applied
                || self.conf_change_in_tail(),
            committed: r.raft_log.committed,
            applied: r.raft_log.applied,
            rejoin: self.rejoin,
            stalled: self.stalled.as_deref(),
        };
        alone::check(&facts, proof)?;
        let storage = |e: Error| AloneError::Storage(e.to_string());
        alone::store(&self.data_dir, &out).map_err(storage)?;
        let mut cs = cs;
        for &o in &out {
            let cc = ConfChange {
                node_id: o,
                change_type: ConfChangeType::RemoveNode,
                ..Default::default()
            };
            cs = self
                .raw
                .apply_conf_change(&cc)
                .map_err(|e| AloneError::Storage(e.to_string()))?;
        }
        // Every membership change in the log is already in `cs` (the guard refused a
        // pending one): a replay after a restart must not apply them again.
        let upto = self.raw.raft.raft_log.last_index();
        self.raw
            .mut_store()
            .set_conf_state(&cs, upto)
            .map_err(storage)?;
        self.alone_peers = out;
        // The other half is out of the configuration now: its messages can no longer
        // count, and it must hear from us to rejoin.
        self.sealed.clear();
        tracing::warn!(node = self.id, out = ?self.alone_peers, proof = ?proof, voters = ?cs.voters,
            "two-node: continuing without the other half");
        if self.raw.raft.state != StateRole::Leader {
            if let Err(e) = self.raw.campaign() {
                tracing::warn!(node = self.id, error = %e, "two-node: campaign refused");
            }
        }
        Ok(())
    }

    fn propose(&mut self, change: Change, reply: Reply) {
        if let Some(why) = &self.stalled {
            let _ = reply.send(Err(ProposeError::Dropped(format!(
                "this node stopped applying the log: {why}"
            ))));
            return;
        }
        // Check against the local CIB first: a change that is invalid here is almost
        // surely invalid at commit too, and refusing it now keeps it out of the log.
        // The answer that counts is still the one at apply time.
        let mut probe = (*self.cib).clone();
        if let Err(e) = change.apply(&mut probe) {
            let _ = reply.send(Err(ProposeError::Rejected(e)));
            return;
        }
        let write = self.write_format();
        let needs = format::required_format(&change);
        if needs > write {
            self.hold_or_refuse(change, reply, needs, write);
            return;
        }
        let data = match format::encode_change(&change, write) {
            Ok(d) => d,
            Err(e) => {
                let _ = reply.send(Err(ProposeError::Dropped(e.to_string())));
                return;
            }
        };
        let ctx = self.next_context(reply);
        let seq = self.seq;
        if let Err(e) = self.raw.propose(ctx, data) {
            self.fail(seq, propose_error(e));
        }
    }

    /// A change that needs a newer format than is written: held while only members
    /// that may still announce their format keep it out (known_formats.rs), refused
    /// otherwise (a member announced an older format, or stayed silent too long).
    fn hold_or_refuse(&mut self, change: Change, reply: Reply, needs: u32, writes: u32) {
        let now = Instant::now();
        let awaited = self.awaited_members(now);
        if awaited.is_empty() || self.announced_format() < needs {
            let _ = reply.send(Err(ProposeError::TooNew { needs, writes }));
            return;
        }
        if self.held_since.is_none() {
            tracing::info!(node = self.id, members = ?awaited, needs,
                "proposal held until these members announce the entry format they read");
            self.held_since = Some(now);
        }
        self.held.push((change, reply));
    }

    /// Proposes the held changes again (a member reported, or a wait may be over):
    /// each is written, refused or held again. A caller that gave up (its timeout)
    /// has closed its reply: its change is dropped, not written behind its back.
    fn release_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        for (change, reply) in std::mem::take(&mut self.held) {
            if !reply.is_closed() {
                self.propose(change, reply);
            }
        }
        if self.held.is_empty() {
            if let Some(since) = self.held_since.take() {
                tracing::info!(
                    node = self.id,
                    waited_ms = since.elapsed().as_millis() as u64,
                    entry_format = self.write_format(),
                    "held proposals decided"
                );
            }
        }
    }

    fn next_context(&mut self, reply: Reply) -> Vec<u8> {
        self.seq += 1;
        self.waiters.insert(self.seq, reply);
        let mut ctx = Vec::with_capacity(16);
        ctx.extend_from_slice(&self.incarnation.to_be_bytes());
        ctx.extend_from_slice(&self.seq.to_be_bytes());
        ctx
    }

    fn fail(&mut self, seq: u64, e: ProposeError) {
        if let Some(w) = self.waiters.remove(&seq) {
            let _ = w.send(Err(e));
        }
    }

    /// Our waiter for an entry's context, if we proposed it in this run.
    fn take_waiter(&mut self, ctx: &[u8]) -> Option<Reply> {
        if ctx.len() != 16 {
            return None;
        }
        let inc = u64::from_be_bytes(ctx[..8].try_into().ok()?);
        let seq = u64::from_be_bytes(ctx[8..].try_into().ok()?);
        if inc != self.incarnation {
            return None;
        }
        self.waiters.remove(&seq)
    }

    fn step(&mut self, from: NodeId, bytes: &[u8]) {
        let msg = match Message::parse_from_bytes(bytes) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(node = self.id, from, error = %e, "malformed raft message dropped");
                return;
            }
        };
        // The transport authenticated `from`; a message claiming another sender, or for
        // another node, is not ours to process.
        if msg.from != from || msg.to != self.id {
            tracing::warn!(
                node = self.id,
                from,
                claimed_from = msg.from,
                to = msg.to,
                "misaddressed raft message dropped"
            );
            return;
        }
        if self.sealed.contains(&from) {
            return;
        }
        let mut msg = msg;
        // A node rejoining without its state is told by a leader that has not yet
        // noticed the loss its old match for us as commit index, past our (empty) log.
        // That is expected here, not a damaged store: commit nothing new (always safe);
        // the leader's next append finds the gap and sends a snapshot.
        let last = self.raw.raft.raft_log.last_index();
        if self.rejoin.is_some()
            && msg.get_msg_type() == MessageType::MsgHeartbeat
            && msg.commit > last
        {
            msg.commit = self.raw.raft.raft_log.committed.min(last);
        }
        if self.rejoin.is_some() && is_vote_request(&msg) && !self.may_vote_for(&msg) {
            tracing::debug!(
                node = self.id,
                candidate = from,
                "rejoining without state: vote request ignored"
            );
            return;
        }
        // raft-rs panics on a message it cannot take without breaking its invariants
        // (a heartbeat committing past our log: this store lost committed entries, or
        // the peer is broken). That panic is not caught: the node's thread ends, its
        // status says why ([`FatalOnPanic`]) and the daemon stops its resources and
        // exits. Carrying on with a RawNode that stopped half-way through a step could
        // acknowledge or apply what Raft never committed.
        if let Err(e) = self.raw.step(msg) {
            tracing::debug!(node = self.id, from, error = %e, "raft refused message");
        }
    }

    fn send(&self, msgs: Vec<Message>) {
        for m in msgs {
            if self.sealed.contains(&m.to) {
                continue;
            }
            // A node without its state, or one that cannot read the log, must not lead.
            if (self.rejoin.is_some() || self.stalled.is_some()) && is_vote_request(&m) {
                continue;
            }
            match m.write_to_bytes() {
                Ok(b) => (self.transport)(m.to, b),
                Err(e) => {
                    tracing::error!(node = self.id, to = m.to, error = %e, "encoding raft message")
                }
            }
        }
    }

    fn on_ready(&mut self) -> Result<(), Error> {
        if !self.raw.has_ready() {
            return Ok(());
        }
        let mut ready = self.raw.ready();
        // 1. Persist: snapshot, entries, hard state; then flush, which makes them
        //    durable together (storage.rs, "Durability"). Nothing leaves this node and
        //    nothing is acknowledged before that; tests/power_loss.rs fails without it.
        let snap_applied = if *ready.snapshot() != Snapshot::default() {
            let snap = ready.snapshot().clone();
            self.raw.mut_store().apply_snapshot(&snap)?;
            Some(snap)
        } else {
            None
        };
        let mut dirty = snap_applied.is_some() || !ready.entries().is_empty();
        self.raw.mut_store().append(ready.entries())?;
        if let Some(hs) = ready.hs() {
            let hs = hs.clone();
            self.raw.mut_store().set_hard_state(&hs)?;
            dirty = true;
        }
        // A Ready with only messages (heartbeats and their answers) has nothing to
        // make durable: skip the fsync.
        if dirty {
            let t = Instant::now();
            self.raw.mut_store().flush()?;
            // The write path's timing probe (docs/benchmarks.md, "Where the time goes").
            tracing::debug!(target: "timing", node = self.id, entries = ready.entries().len(),
                flush_us = t.elapsed().as_micros() as u64, "raft persisted (fsync)");
        }
        // 2. Send and apply.
        if let Some(snap) = snap_applied {
            self.install_snapshot(&snap)?;
        }
        let committed = ready.take_committed_entries();
        let msgs = [ready.take_messages(), ready.take_persisted_messages()].concat();
        self.apply_and_send(committed, msgs)?;
        let mut light = self.raw.advance(ready);
        if let Some(commit) = light.commit_index() {
            self.raw.mut_store().set_commit(commit)?;
        }
        let committed = light.take_committed_entries();
        self.apply_and_send(committed, light.take_messages())?;
        self.raw.advance_apply();
        self.maybe_compact()?;
        Ok(())
    }

    /// Applies committed entries and sends messages. Normally the messages go first
    /// (followers wait for nothing). A membership change is applied and made durable
    /// before anything that may tell a peer it committed leaves this node: a node
    /// that restarted with the membership before it would act on a configuration the
    /// cluster has left (after a forced single voter: elect itself alone next to a
    /// peer that has since become a voter and can do the same).
    fn apply_and_send(&mut self, committed: Vec<Entry>, msgs: Vec<Message>) -> Result<(), Error> {
        let membership = committed
            .iter()
            .any(|e| e.get_entry_type() != EntryType::EntryNormal);
        if !membership {
            self.send(msgs);
            self.apply(committed)?;
            return Ok(());
        }
        self.apply(committed)?;
        self.raw.mut_store().flush()?;
        self.send(msgs);
        Ok(())
    }

    fn install_snapshot(&mut self, snap: &Snapshot) -> Result<(), Error> {
        let index = snap.get_metadata().index;
        match format::decode_cib(snap.get_data(), self.max_format) {
            Ok(cib) if self.stalled.is_none() => {
                self.cib = Arc::new(cib);
                self.applied = index;
                tracing::info!(node = self.id, index, "installed CIB snapshot from leader");
            }
            Ok(_) => {}
            Err(e) => self.stall(index, &e),
        }
        self.rejoin_progress(snap.get_metadata().get_conf_state())
    }

    /// Stops applying: the CIB stays as of the last entry this node could read, and no
    /// later entry is applied (skipping one would make this replica differ from the
    /// others without anyone noticing).
    fn stall(&mut self, index: u64, e: &format::FormatError) {
        let why = format!("committed entry {index}: {e}");
        tracing::error!(node = self.id, index, error = %e,
            "cannot read a committed entry: stopped applying the log");
        self.stalled = Some(why);
    }

    fn apply(&mut self, entries: Vec<Entry>) -> Result<(), Error> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut cib: Option<Cib> = None;
        for e in entries {
            if e.index <= self.applied {
                continue;
            }
            match e.get_entry_type() {
                EntryType::EntryNormal => {
                    if self.stalled.is_some() {
                        continue;
                    }
                    if e.data.is_empty() {
                        self.applied = e.index;
                        continue; // a new leader's empty entry
                    }
                    let result = match format::decode_change(&e.data, self.max_format) {
                        Ok(change) => {
                            self.applied = e.index;
                            let c = cib.get_or_insert_with(|| (*self.cib).clone());
                            change
                                .apply(c)
                                .map(|_| e.index)
                                .map_err(ProposeError::Rejected)
                        }
                        Err(err) => {
                            self.stall(e.index, &err);
                            Err(ProposeError::Dropped(err.to_string()))
                        }
                    };
                    if let Err(ProposeError::Rejected(err)) = &result {
                        tracing::info!(node = self.id, index = e.index, error = %err, "committed change rejected by the CIB model");
                    }
                    if let Some(w) = self.take_waiter(&e.context) {
                        self.answers.push((w, result));
                    }
                }
                EntryType::EntryConfChange => {
                    // Raft's own membership, the same in every format: applied even
                    // while stalled so this node's view of the quorum stays right.
                    if self.stalled.is_none() {
                        self.applied = e.index;
                    }
                    let result = self.apply_conf_change(&e)?;
                    if let Some(w) = self.take_waiter(&e.context) {
                        self.answers.push((w, result));
                    }
                }
                EntryType::EntryConfChangeV2 => {
                    if self.stalled.is_none() {
                        self.applied = e.index;
                    }
                    tracing::error!(
                        node = self.id,
                        index = e.index,
                        "unexpected joint-consensus entry; skipped"
                    );
                }
            }
        }
        if let Some(c) = cib {
            self.cib = Arc::new(c);
            tracing::debug!(target: "timing", node = self.id, applied = self.applied, "raft applied");
        }
        Ok(())
    }

    fn apply_conf_change(&mut self, e: &Entry) -> Result<Result<u64, ProposeError>, Error> {
        if e.index <= self.raw.store().conf_index() {
            // Replayed after a restart: the stored membership includes it already.
            return Ok(Ok(e.index));
        }
        let cc = match ConfChange::parse_from_bytes(&e.data) {
            Ok(cc) => cc,
            Err(err) => {
                return Ok(Err(ProposeError::Dropped(format!(
                    "undecodable conf change: {err}"
                ))))
            }
        };
        let before: BTreeSet<NodeId> = self.other_members().collect();
        match self.raw.apply_conf_change(&cc) {
            Ok(cs) => {
                self.raw.mut_store().set_conf_state(&cs, e.index)?;
                let now = Instant::now();
                for &id in cs.voters.iter().chain(cs.learners.iter()) {
                    if !before.contains(&id) {
                        self.known_formats.joined(id, now);
                    }
                }
                tracing::info!(node = self.id, index = e.index, voters = ?cs.voters,
                    learners = ?cs.learners, "membership changed");
                // A sealed node that is no voter any more (the half that continued
                // made it a learner) cannot count toward a quorum here: talk to it
                // again, so it can catch up from whichever node leads.
                self.sealed.retain(|n| cs.voters.contains(n));
                self.rejoin_progress(&cs)?;
                Ok(Ok(e.index))
            }
            Err(err) => Ok(Err(ProposeError::Dropped(err.to_string()))),
        }
    }

    /// Moves a rejoin along as the configuration changes: made a learner, then a voter
    /// again (which ends it).
    fn rejoin_progress(&mut self, cs: &ConfState) -> Result<(), Error> {
        let next = match self.rejoin {
            Some(RejoinPhase::NoState) if cs.learners.contains(&self.id) => {
                Some(RejoinPhase::Learner)
            }
            Some(RejoinPhase::Learner) if cs.voters.contains(&self.id) => None,
            _ => return Ok(()),
        };
        rejoin::store_phase(&self.data_dir, next)?;
        match next {
            Some(p) => tracing::info!(node = self.id, phase = ?p, "rejoin: now a learner"),
            None => tracing::info!(node = self.id, "rejoin complete: a voter again"),
        }
        self.rejoin = next;
        Ok(())
    }

    /// The format the leader writes: the highest that this node and every other member
    /// reads, as each last announced (also before this start: `known_formats`).
    fn write_format(&self) -> u32 {
        self.other_members()
            // A member never heard from may be the oldest build (known_formats).
            .map(|id| self.known_formats.get(id).unwrap_or(LEGACY_FORMAT))
            .fold(self.max_format, u32::min)
    }

    /// The highest format this node and every member that announced one read (the
    /// members never heard from left out).
    fn announced_format(&self) -> u32 {
        self.other_members()
            .filter_map(|id| self.known_formats.get(id))
            .fold(self.max_format, u32::min)
    }

    /// Members never heard from that may still announce their format.
    fn awaited_members(&self, now: Instant) -> Vec<NodeId> {
        self.other_members()
            .filter(|&id| self.known_formats.awaited(id, now))
            .collect()
    }

    fn other_members(&self) -> impl Iterator<Item = NodeId> + '_ {
        let cs = self.raw.store().conf_state();
        cs.voters
            .iter()
            .chain(cs.learners.iter())
            .copied()
            .filter(move |&id| id != self.id)
    }

    fn may_vote_for(&self, m: &Message) -> bool {
        let cs = self.raw.store().conf_state();
        let mut members = self.members.clone();
        members.extend(cs.voters.iter().chain(cs.learners.iter()));
        self.reports.may_vote_for(
            self.id,
            &members,
            m.from,
            (m.log_term, m.index),
            Instant::now(),
            self.report_ttl,
        )
    }

    /// On the leader: a peer that says it lost its state no longer has what raft
    /// recorded as replicated to it. raft-rs never lowers that mark (it assumes logs
    /// survive), so it would keep probing past the peer's log forever: lower it to what
    /// the peer reports, once per rejoin.
    fn forget_lost_progress(&mut self, peer: NodeId, report: &PeerReport) {
        if report.rejoin != Some(RejoinPhase::NoState) {
            self.progress_reset.remove(&peer);
            return;
        }
        if self.raw.raft.state != StateRole::Leader || self.progress_reset.contains(&peer) {
            return;
        }
        let Some(pr) = self.raw.raft.mut_prs().get_mut(peer) else {
            return;
        };
        if pr.matched > report.last_index {
            tracing::warn!(
                node = self.id,
                peer,
                recorded = pr.matched,
                reported = report.last_index,
                "peer lost its log: replicating to it again from where it is"
            );
            pr.matched = report.last_index;
            pr.pending_snapshot = 0;
            pr.become_probe();
            pr.next_idx = report.last_index + 1;
        }
        self.progress_reset.insert(peer);
    }

    /// On the leader: a snapshot the transport lost (sent while the peer's old
    /// connection was still taken for alive, e.g. to a daemon that restarted without
    /// its state) is never reported back, and raft-rs sends a peer nothing else while
    /// one is outstanding. When the peer still reports a log short of the snapshot two
    /// election timeouts after it went out, report it failed: raft probes and sends a
    /// new one.
    fn retry_lost_snapshot(&mut self, peer: NodeId, report: &PeerReport) {
        let pending = match self.raw.raft.prs().get(peer) {
            Some(pr)
                if self.raw.raft.state == StateRole::Leader
                    && pr.state == raft::ProgressState::Snapshot =>
            {
                pr.pending_snapshot
            }
            _ => {
                self.snapshot_sent.remove(&peer);
                return;
            }
        };
        let since = *self.snapshot_sent.entry(peer).or_insert_with(Instant::now);
        if report.last_index >= pending || since.elapsed() < self.report_ttl {
            return;
        }
        tracing::warn!(
            node = self.id,
            peer,
            snapshot = pending,
            reported = report.last_index,
            "snapshot to peer apparently lost: sending it again"
        );
        self.raw
            .report_snapshot(peer, raft::SnapshotStatus::Failure);
        self.snapshot_sent.remove(&peer);
    }

    /// On the leader: a peer whose report shows it needs a snapshot (its log ends before
    /// the leader's snapshot) is sent one now. raft-rs sends a snapshot only to a peer it
    /// heard raft messages from since its last quorum check, and a peer without state
    /// says nothing in raft until a leader reaches it: where only the leader's messages
    /// are lost (an old connection to a restarted daemon), no snapshot would ever go out.
    /// The report is the proof that the peer is alive.
    fn reach_peer_behind_snapshot(&mut self, peer: NodeId, report: &PeerReport) {
        let snapshot_index = self.raw.store().snapshot_index();
        let r = &mut self.raw.raft;
        if r.state != StateRole::Leader || report.last_index >= snapshot_index {
            return;
        }
        let Some(pr) = r.mut_prs().get_mut(peer) else {
            return;
        };
        if pr.state != raft::ProgressState::Probe {
            return;
        }
        pr.recent_active = true;
        r.send_append(peer);
    }

    /// On the leader: demote members that lost their state, promote learners that
    /// caught up, one membership change at a time.
    fn manage_members(&mut self) {
        let r = &self.raw.raft;
        if r.state != StateRole::Leader
            || self.stalled.is_some()
            || r.pending_conf_index > r.raft_log.applied
        {
            return;
        }
        if let Some((add, id, reply)) = self.deferred_voter.pop_front() {
            self.handle(Cmd::Voter { add, id, reply });
            return;
        }
        if self.add_back_alone_peers() {
            return;
        }
        let r = &self.raw.raft;
        let cs = self.raw.store().conf_state();
        let prs = r.prs();
        let cib = &self.cib;
        let Some(action) = membership::next_action(
            self.id,
            &cs.voters,
            &cs.learners,
            &self.reports,
            |id| prs.get(id).map_or(0, |p| p.matched),
            |id| membership::away(cib, id),
            r.raft_log.committed,
        ) else {
            return;
        };
        let (node_id, change_type) = match action {
            Action::Demote(id) => (id, ConfChangeType::AddLearnerNode),
            Action::Promote(id) => (id, ConfChangeType::AddNode),
        };
        tracing::info!(node = self.id, member = node_id, action = ?action, "membership: proposing");
        let cc = ConfChange {
            node_id,
            change_type,
            ..Default::default()
        };
        if let Err(e) = self.raw.propose_conf_change(Vec::new(), cc) {
            tracing::debug!(node = self.id, error = %e, "membership change not proposed");
        }
    }

    /// Whether the log holds a membership change not applied yet: committed under the
    /// forced configuration it would change it again, so [`Node::force_alone`] waits.
    fn conf_change_in_tail(&self) -> bool {
        let log = &self.raw.raft.raft_log;
        let ctx = raft::GetEntriesContext::empty(false);
        match log.entries(log.applied + 1, None, ctx) {
            Ok(ents) => ents
                .iter()
                .any(|e| e.get_entry_type() != EntryType::EntryNormal),
            Err(_) => true,
        }
    }

    /// After [`Node::force_alone`]: proposes the other half back as learners, one
    /// change at a time, and forgets them once all are applied. True while one is
    /// being added.
    fn add_back_alone_peers(&mut self) -> bool {
        if self.alone_peers.is_empty() {
            return false;
        }
        let cs = self.raw.store().conf_state();
        let Some(peer) = self
            .alone_peers
            .iter()
            .copied()
            .find(|p| !cs.learners.contains(p) && !cs.voters.contains(p))
        else {
            match alone::store(&self.data_dir, &[]) {
                Ok(()) => self.alone_peers.clear(),
                Err(e) => tracing::error!(node = self.id, error = %e, "two-node: peer file"),
            }
            return false;
        };
        tracing::info!(
            node = self.id,
            peer,
            "two-node: adding a node of the other half back as a learner"
        );
        let cc = ConfChange {
            node_id: peer,
            change_type: ConfChangeType::AddLearnerNode,
            ..Default::default()
        };
        if let Err(e) = self.raw.propose_conf_change(Vec::new(), cc) {
            tracing::debug!(node = self.id, error = %e, "learner not proposed");
        }
        true
    }

    /// A leader that cannot read the log must not act as DC: hand leadership to the
    /// most up-to-date voter (at most once a second).
    fn hand_over_if_stalled(&mut self) {
        if self.stalled.is_none() || self.raw.raft.state != StateRole::Leader {
            return;
        }
        if self
            .last_transfer
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        let prs = self.raw.raft.prs();
        let to = self
            .raw
            .store()
            .conf_state()
            .voters
            .iter()
            .filter(|&&v| v != self.id)
            .max_by_key(|&&v| prs.get(v).map_or(0, |p| p.matched))
            .copied();
        if let Some(to) = to {
            tracing::warn!(node = self.id, to, "stalled leader hands leadership over");
            self.last_transfer = Some(Instant::now());
            self.raw.transfer_leader(to);
        }
    }

    fn maybe_compact(&mut self) -> Result<(), Error> {
        // While stalled, keep the log from the last applied entry on: a build that
        // reads it replays it from there.
        if self.stalled.is_some() {
            return Ok(());
        }
        let store = self.raw.store();
        let wanted = store.take_snapshot_wanted() && self.applied > store.snapshot_index();
        let due = self.applied >= store.snapshot_index() + self.compact_after;
        if !(wanted || due) || self.applied > store.last_index() {
            return Ok(());
        }
        let data = format::encode_cib(&self.cib, self.write_format())?;
        let cs = store.conf_state().clone();
        let index = self.applied;
        self.raw.mut_store().compact(index, &cs, data)?;
        tracing::debug!(node = self.id, index, "log compacted into a CIB snapshot");
        Ok(())
    }

    fn status(&self, fatal: Option<String>, running: bool) -> Status {
        let r = &self.raw.raft;
        let store = self.raw.store();
        Status {
            id: self.id,
            role: match r.state {
                StateRole::Follower => Role::Follower,
                StateRole::PreCandidate => Role::PreCandidate,
                StateRole::Candidate => Role::Candidate,
                StateRole::Leader => Role::Leader,
            },
            leader: (r.leader_id != raft::INVALID_ID).then_some(r.leader_id),
            term: r.term,
            commit_index: r.raft_log.committed,
            applied_index: self.applied,
            last_index: store.last_index(),
            snapshot_index: store.snapshot_index(),
            voters: sorted(&store.conf_state().voters),
            learners: sorted(&store.conf_state().learners),
            last_term: r.raft_log.last_term(),
            rejoin: self.rejoin,
            stalled: self.stalled.clone(),
            entry_format: self.write_format(),
            cib: self.cib.clone(),
            fatal,
            running,
        }
    }
}

fn sorted(ids: &[NodeId]) -> Vec<NodeId> {
    let mut v = ids.to_vec();
    v.sort_unstable();
    v
}

fn is_vote_request(m: &Message) -> bool {
    matches!(
        m.get_msg_type(),
        MessageType::MsgRequestVote | MessageType::MsgRequestPreVote
    )
}

fn same(a: &Status, b: &Status) -> bool {
    a.role == b.role
        && a.leader == b.leader
        && a.term == b.term
        && a.commit_index == b.commit_index
        && a.applied_index == b.applied_index
        && a.last_index == b.last_index
        && a.snapshot_index == b.snapshot_index
        && a.voters == b.voters
        && a.learners == b.learners
        && a.rejoin == b.rejoin
        && a.stalled == b.stalled
        && a.entry_format == b.entry_format
        && Arc::ptr_eq(&a.cib, &b.cib)
}

fn propose_error(e: raft::Error) -> ProposeError {
    match e {
        raft::Error::ProposalDropped => ProposeError::NoLeader,
        other => ProposeError::Dropped(other.to_string()),
    }
}
