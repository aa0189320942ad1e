//! The Raft node: a thread that owns the raft-rs `RawNode`, ticks it, feeds it commands
//! and peer messages, and runs the Ready loop (persist, flush, send, apply, answer).

use std::collections::HashMap;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use protobuf::Message as _;
use raft::eraftpb::{ConfChange, ConfChangeType, Entry, EntryType, Message, Snapshot};
use raft::{RawNode, StateRole};
use tokio::sync::{oneshot, watch};

use crate::storage::Storage;
use crate::{Change, Cib, Config, Error, NodeId, ProposeError, Role, Status, Transport};

/// How many queued commands the node takes per loop turn before it looks at Ready
/// again; bounds the latency a burst of peer messages can add.
const MAX_BATCH: usize = 512;
/// Queue depth for peer messages; beyond it messages are dropped (raft retransmits).
const QUEUE: usize = 4096;

type Reply = oneshot::Sender<Result<u64, ProposeError>>;

enum Cmd {
    Propose { change: Box<Change>, reply: Reply },
    Voter { add: bool, id: NodeId, reply: Reply },
    Step { from: NodeId, bytes: Vec<u8> },
    Unreachable(NodeId),
    Campaign,
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

    /// Adds a voter (Raft membership change); resolves when applied here.
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

    /// Tells raft that a peer could not be reached, so it probes instead of streaming.
    pub fn report_unreachable(&self, peer: NodeId) {
        let _ = self.tx.try_send(Cmd::Unreachable(peer));
    }

    /// Starts an election now (used to hand leadership over quickly on clean leave).
    pub fn campaign(&self) {
        let _ = self.tx.try_send(Cmd::Campaign);
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
    let initial = serde_json::to_vec(&Cib::default()).map_err(|e| Error::Storage(e.to_string()))?;
    let store = Storage::open(&config.data_dir, &config.initial_voters, &initial)?;
    let snapshot_index = store.snapshot_index();
    let cib = match store.snapshot_data()? {
        Some(data) => serde_json::from_slice(&data)
            .map_err(|e| Error::Storage(format!("CIB snapshot does not decode: {e}")))?,
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
                let cc = ConfChange {
                    node_id: id,
                    change_type: if add {
                        ConfChangeType::AddNode
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
            Cmd::Unreachable(peer) => self.raw.report_unreachable(peer),
            Cmd::Campaign => {
                if let Err(e) = self.raw.campaign() {
                    tracing::debug!(node = self.id, error = %e, "campaign refused");
                }
            }
            Cmd::Stop => return false,
        }
        true
    }

    fn propose(&mut self, change: Change, reply: Reply) {
        // Check against the local CIB first: a change that is invalid here is almost
        // surely invalid at commit too, and refusing it now keeps it out of the log.
        // The answer that counts is still the one at apply time.
        let mut probe = (*self.cib).clone();
        if let Err(e) = change.apply(&mut probe) {
            let _ = reply.send(Err(ProposeError::Rejected(e)));
            return;
        }
        let data = match serde_json::to_vec(&change) {
            Ok(d) => d,
            Err(e) => {
                let _ = reply.send(Err(ProposeError::Dropped(format!("encoding change: {e}"))));
                return;
            }
        };
        let ctx = self.next_context(reply);
        let seq = self.seq;
        if let Err(e) = self.raw.propose(ctx, data) {
            self.fail(seq, propose_error(e));
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
            self.raw.mut_store().flush()?;
        }
        // 2. Send.
        self.send(ready.take_messages());
        self.send(ready.take_persisted_messages());
        // 3. Apply.
        if let Some(snap) = snap_applied {
            let cib: Cib = serde_json::from_slice(snap.get_data()).map_err(|e| {
                Error::Storage(format!("snapshot from leader does not decode: {e}"))
            })?;
            self.cib = Arc::new(cib);
            self.applied = snap.get_metadata().index;
            tracing::info!(
                node = self.id,
                index = self.applied,
                "installed CIB snapshot from leader"
            );
        }
        let committed = ready.take_committed_entries();
        self.apply(committed)?;
        let mut light = self.raw.advance(ready);
        if let Some(commit) = light.commit_index() {
            self.raw.mut_store().set_commit(commit)?;
        }
        self.send(light.take_messages());
        let committed = light.take_committed_entries();
        self.apply(committed)?;
        self.raw.advance_apply();
        self.maybe_compact()?;
        Ok(())
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
            self.applied = e.index;
            match e.get_entry_type() {
                EntryType::EntryNormal => {
                    if e.data.is_empty() {
                        continue; // a new leader's empty entry
                    }
                    let result = match serde_json::from_slice::<Change>(&e.data) {
                        Ok(change) => {
                            let c = cib.get_or_insert_with(|| (*self.cib).clone());
                            change
                                .apply(c)
                                .map(|_| e.index)
                                .map_err(ProposeError::Rejected)
                        }
                        Err(err) => {
                            // Deterministic on every node: all skip the same entry.
                            tracing::error!(node = self.id, index = e.index, error = %err, "log entry is not a CIB change; skipped");
                            Err(ProposeError::Dropped(format!("undecodable change: {err}")))
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
                    let result = match ConfChange::parse_from_bytes(&e.data) {
                        Ok(cc) => match self.raw.apply_conf_change(&cc) {
                            Ok(cs) => {
                                self.raw.mut_store().set_conf_state(&cs)?;
                                tracing::info!(node = self.id, index = e.index, voters = ?cs.voters, "membership changed");
                                Ok(e.index)
                            }
                            Err(err) => Err(ProposeError::Dropped(err.to_string())),
                        },
                        Err(err) => Err(ProposeError::Dropped(format!(
                            "undecodable conf change: {err}"
                        ))),
                    };
                    if let Some(w) = self.take_waiter(&e.context) {
                        self.answers.push((w, result));
                    }
                }
                EntryType::EntryConfChangeV2 => {
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
        }
        Ok(())
    }

    fn maybe_compact(&mut self) -> Result<(), Error> {
        let store = self.raw.store();
        let wanted = store.take_snapshot_wanted() && self.applied > store.snapshot_index();
        let due = self.applied >= store.snapshot_index() + self.compact_after;
        if !(wanted || due) || self.applied > store.last_index() {
            return Ok(());
        }
        let data = serde_json::to_vec(&*self.cib)
            .map_err(|e| Error::Storage(format!("encoding CIB: {e}")))?;
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
            voters: {
                let mut v = store.conf_state().voters.clone();
                v.sort_unstable();
                v
            },
            cib: self.cib.clone(),
            fatal,
            running,
        }
    }
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
        && Arc::ptr_eq(&a.cib, &b.cib)
}

fn propose_error(e: raft::Error) -> ProposeError {
    match e {
        raft::Error::ProposalDropped => ProposeError::NoLeader,
        other => ProposeError::Dropped(other.to_string()),
    }
}
