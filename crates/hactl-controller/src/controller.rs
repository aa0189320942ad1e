//! What the daemon runs: the executor service on every node, the DC runtime while
//! this node leads with quorum, and no-quorum-policy enforcement. The daemon gives a
//! [`Host`] (peer transport, Raft, leader) and calls [`Controller::on_peer`] for
//! controller messages and [`Controller::update`] on every liveness check.

use std::sync::{Arc, Mutex};

use hactl_exec::{ExecConfig, Executor};
use hactl_model::change::Change;
use hactl_model::{Cib, NoQuorumPolicy};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::dc::{self, ClusterIo, DcConfig};
use crate::messages::{ControllerMsg, Envelope};
use crate::node_service::{DeviceMonitor, Fencer, NodeService};
use crate::orders::{KnownDc, OrderCheck};
use crate::quorum::{self, QuorumView};
use crate::shutdown;
use crate::split_brain;
use crate::watchdog::{SelfFence, Watchdog};

/// The daemon, as the controller sees it.
pub trait Host: Send + Sync + 'static {
    /// This node's name.
    fn me(&self) -> String;
    /// Sends an encoded [`ControllerMsg`] to a peer (must not block).
    fn send_peer(&self, node: &str, payload: Vec<u8>);
    /// The current DC (Raft leader), if known.
    fn leader(&self) -> Option<String>;
    /// The newest Raft term this node knows (its current term).
    fn term(&self) -> u64;
    /// Proposes a CIB change through Raft; resolves once applied locally.
    fn propose(&self, change: Change) -> crate::Proposal<'_>;
    /// The CIB as applied locally.
    fn cib(&self) -> Arc<Cib>;
    /// Whether the cluster writes the entry format that carries a migration step's
    /// source and target (every member reads it); see [`ClusterIo::records_migrations`].
    fn records_migrations(&self) -> bool {
        true
    }
    /// Told after each policy engine run while this node is DC (metrics).
    fn scheduled(&self, _run: &dc::ScheduleRun) {}
}

/// Settings the daemon derives from its heartbeat profile.
#[derive(Clone)]
pub struct ControllerConfig {
    pub exec: ExecConfig,
    /// The liveness layer's timing (the split-brain hold derives from it and the CIB).
    pub liveness: crate::split_brain::Liveness,
    pub fencer: Option<Fencer>,
    /// Health check of stonith devices (their start and monitor).
    pub device_monitor: Option<DeviceMonitor>,
}

type Inbox = mpsc::UnboundedSender<(String, ControllerMsg)>;

struct DcTask {
    term: u64,
    inbox: Inbox,
    task: JoinHandle<()>,
}

/// The controller of one node.
pub struct Controller {
    host: Arc<dyn Host>,
    me: String,
    svc: NodeService,
    cfg: ControllerConfig,
    dc: Arc<Mutex<Option<DcTask>>>,
    cib_tx: watch::Sender<Arc<Cib>>,
    quorum_tx: watch::Sender<QuorumView>,
    last_leader: Mutex<Option<String>>,
    fence: Arc<SelfFence>,
    /// Shared by every DC run of this process ([`DcConfig::next_transition`]).
    next_transition: Arc<std::sync::atomic::AtomicU64>,
    /// Whether the running DC has nothing under way ([`DcConfig::idle`]).
    dc_idle: Arc<std::sync::atomic::AtomicBool>,
    /// Which DC's orders this node runs.
    orders: Arc<OrderCheck>,
}

/// What this node's Raft knows of the DC.
fn known_dc(host: &dyn Host) -> KnownDc {
    KnownDc {
        leader: host.leader(),
        term: host.term(),
    }
}

/// The DC runtime's side of one DC run, in Raft term `term`.
struct DcIo {
    host: Arc<dyn Host>,
    me: String,
    svc: NodeService,
    term: u64,
    orders: Arc<OrderCheck>,
}

impl ClusterIo for DcIo {
    fn send(&self, node: &str, msg: ControllerMsg) {
        if node != self.me {
            let env = Envelope {
                msg,
                dc_term: Some(self.term),
            };
            self.host.send_peer(node, env.to_json());
        } else if self
            .orders
            .admit(&self.me, Some(self.term), &known_dc(&*self.host), &msg)
        {
            // Checked as a peer's order is: this DC may have been deposed since this
            // node's last liveness check.
            self.svc.handle(msg);
        }
    }

    fn propose(&self, change: Change) -> crate::Proposal<'_> {
        self.host.propose(change)
    }

    fn cib(&self) -> Arc<Cib> {
        self.host.cib()
    }

    fn records_migrations(&self) -> bool {
        self.host.records_migrations()
    }

    fn scheduled(&self, run: &dc::ScheduleRun) {
        self.host.scheduled(run);
    }
}

impl Controller {
    /// Starts the executor service (and the no-quorum-policy watch). Must run inside
    /// a tokio runtime.
    pub fn start(host: Arc<dyn Host>, cfg: ControllerConfig) -> Arc<Controller> {
        let me = host.me();
        let (exec, events) = Executor::new(cfg.exec.clone());
        tokio::spawn(crate::ipvs_status::publish(
            host.clone(),
            exec.ipvs_status(),
        ));
        let dc: Arc<Mutex<Option<DcTask>>> = Arc::new(Mutex::new(None));
        let (h, d, name) = (host.clone(), dc.clone(), me.clone());
        let to_dc = Arc::new(move |msg: ControllerMsg| {
            // The local DC, if this node is it; else the leader over the network.
            let local = d
                .lock()
                .ok()
                .and_then(|g| g.as_ref().map(|t| t.inbox.clone()));
            match (local, h.leader()) {
                (Some(inbox), _) => {
                    let _ = inbox.send((name.clone(), msg));
                }
                (None, Some(l)) if l != name => h.send_peer(&l, msg.to_json()),
                _ => debug!(node = %name, "no DC to report to; kept in the outbox"),
            }
        });
        let svc = NodeService::start(me.clone(), exec, events, to_dc, cfg.fencer.clone());
        if let Some(m) = cfg.device_monitor.clone() {
            svc.set_device_monitor(m);
        }
        let (cib_tx, _) = watch::channel(host.cib());
        let (quorum_tx, quorum_rx) = watch::channel(QuorumView {
            have: false,
            policy: NoQuorumPolicy::Stop,
            stonith_watchdog: None,
        });
        let fence = Arc::new(SelfFence::default());
        tokio::spawn(quorum::enforce(
            svc.clone(),
            quorum_rx,
            false,
            fence.clone(),
        ));
        Arc::new(Controller {
            orders: Arc::new(OrderCheck::new(me.clone())),
            host,
            me,
            svc,
            cfg,
            dc,
            cib_tx,
            quorum_tx,
            last_leader: Mutex::new(None),
            fence,
            next_transition: Default::default(),
            dc_idle: Default::default(),
        })
    }

    /// Arms this node's watchdog: fed while the node is healthy, left to reset the
    /// machine when it must self-fence ([`crate::watchdog`]).
    pub fn arm_watchdog(&self, wd: Box<dyn Watchdog>) {
        self.fence.arm(wd, &self.me);
    }

    /// Clean shutdown: stops the watchdog (unless the node self-fenced).
    pub fn disarm_watchdog(&self) {
        self.fence.disarm(&self.me);
    }

    /// This node's watchdog and self-fence state.
    pub fn self_fence(&self) -> &Arc<SelfFence> {
        &self.fence
    }

    pub fn service(&self) -> &NodeService {
        &self.svc
    }

    /// Waits until nothing runs on `node` any more (it has been marked shutting down,
    /// see [`shutdown`]), a stop there fails, or `deadline` passes. For this node the
    /// local executor counts too.
    pub async fn drain(
        &self,
        node: &str,
        deadline: std::time::Instant,
    ) -> Result<(), shutdown::DrainError> {
        let local = (node == self.me).then_some(&self.svc);
        shutdown::wait_drained(
            node,
            local,
            self.cib_tx.subscribe(),
            self.quorum_tx.subscribe(),
            deadline,
        )
        .await
    }

    /// The default wait for `node`'s resources to stop: the longest stop timeout of
    /// what runs there, plus a margin.
    pub fn stop_timeout(&self, node: &str) -> std::time::Duration {
        let local = if node == self.me {
            shutdown::LocalState::of(&self.svc)
        } else {
            shutdown::LocalState::default()
        };
        shutdown::default_timeout(&self.host.cib(), node, &local, shutdown::unix_now())
    }

    /// Whether the DC runtime runs here.
    pub fn is_dc(&self) -> bool {
        self.dc.lock().map(|g| g.is_some()).unwrap_or(false)
    }

    /// Whether the DC runtime runs here with nothing under way: no transition, no
    /// policy engine run pending or wanted, no hold, no node it waits for.
    pub fn dc_idle(&self) -> bool {
        self.is_dc() && self.dc_idle.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Orders this node refused: not from the DC it knows, or from an older term.
    pub fn refused_orders(&self) -> u64 {
        self.orders.refused()
    }

    /// A controller message from a peer (`from` as the transport verified it).
    pub fn on_peer(&self, from: &str, payload: &[u8]) {
        let Envelope { msg, dc_term } = match Envelope::from_json(payload) {
            Ok(m) => m,
            Err(e) => {
                warn!(peer = from, error = %e, "undecodable controller message dropped");
                return;
            }
        };
        match msg {
            ControllerMsg::Report(_)
            | ControllerMsg::Synced { .. }
            | ControllerMsg::FenceResult { .. } => {
                let inbox = self
                    .dc
                    .lock()
                    .ok()
                    .and_then(|g| g.as_ref().map(|t| t.inbox.clone()));
                match inbox {
                    Some(i) => {
                        let _ = i.send((from.to_string(), msg));
                    }
                    // Not the DC (any more): the node keeps it for the next DC.
                    None => debug!(peer = from, "report for a DC that is not here dropped"),
                }
            }
            other => {
                // Only the current DC gives orders.
                if self
                    .orders
                    .admit(from, dc_term, &known_dc(&*self.host), &other)
                {
                    self.svc.handle(other);
                }
            }
        }
    }

    /// The host's CIB changed (a change was applied): the DC sees it now rather than
    /// at the next liveness check (up to a quarter beat later). Returns that CIB.
    pub fn cib_changed(&self) -> Arc<Cib> {
        let cib = self.host.cib();
        self.cib_tx.send_if_modified(|c| {
            let changed = !Arc::ptr_eq(c, &cib);
            *c = cib.clone();
            changed
        });
        cib
    }

    /// Called on every liveness check: the CIB, whether this node leads (and in which
    /// term), and quorum as this node sees it.
    pub fn update(
        &self,
        leader_with_quorum: Option<u64>,
        have_quorum: bool,
        policy: NoQuorumPolicy,
    ) {
        let cib = self.cib_changed();
        self.quorum_tx.send_if_modified(|q| {
            let new = QuorumView {
                have: have_quorum,
                policy,
                stonith_watchdog: split_brain::watchdog_timeout(&cib),
            };
            let changed = *q != new;
            *q = new;
            changed
        });
        let leader = self.host.leader();
        let leader_changed = self
            .last_leader
            .lock()
            .map(|mut l| {
                let c = *l != leader;
                *l = leader.clone();
                c
            })
            .unwrap_or(false);
        let Ok(mut g) = self.dc.lock() else {
            return;
        };
        match (leader_with_quorum, g.as_ref()) {
            (Some(term), Some(t)) if t.term == term && !t.task.is_finished() => {}
            (Some(term), _) => {
                if let Some(old) = g.take() {
                    old.task.abort();
                }
                let (tx, rx) = mpsc::unbounded_channel();
                let mut dcfg = DcConfig::new(self.me.clone(), term);
                dcfg.liveness = self.cfg.liveness;
                dcfg.next_transition = self.next_transition.clone();
                self.dc_idle
                    .store(false, std::sync::atomic::Ordering::SeqCst);
                dcfg.idle = self.dc_idle.clone();
                let io: Arc<dyn ClusterIo> = Arc::new(DcIo {
                    host: self.host.clone(),
                    me: self.me.clone(),
                    svc: self.svc.clone(),
                    term,
                    orders: self.orders.clone(),
                });
                let task = tokio::spawn(dc::run(dcfg, io, self.cib_tx.subscribe(), rx));
                info!(node = %self.me, term, "acting as DC");
                *g = Some(DcTask {
                    term,
                    inbox: tx,
                    task,
                });
            }
            (None, Some(_)) => {
                if let Some(old) = g.take() {
                    old.task.abort();
                    info!(node = %self.me, "no longer DC (lost leadership or quorum)");
                }
            }
            (None, None) => {}
        }
        drop(g);
        if leader_changed && leader.is_some() {
            // A new DC: make sure it knows this node's boot and unrecorded results.
            self.svc.announce();
        }
    }
}
