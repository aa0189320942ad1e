//! `hactl daemon`: the per-node daemon.
//!
//! It loads the node's identity and the cluster config (written by `hactl cluster
//! setup`), opens the QUIC peer plane, runs the consensus node (Raft over the CIB), sends
//! and watches heartbeats, tracks quorum, and serves the local control socket. The Raft
//! leader is the DC: it records membership (who is up, who left cleanly, who was lost)
//! in the CIB through Raft.
//!
//! Node states follow Pacemaker: `online` (heard from within the profile's bound),
//! `offline` (left cleanly: it recorded `expected=down` before going, or was fenced), and
//! `unclean` (lost while it was expected up).
//!
//! Quorum: a node has quorum while a majority of the voters (itself included) hear it
//! and it hears them: each peer that counts has echoed one of this node's heartbeats
//! sent within `lost_after` ([`echo`]: hearing alone would keep a node that nobody
//! hears in quorum). A node that loses it knows within `lost_after` plus one check,
//! logs a `lost_quorum` event with the configured `no-quorum-policy`, and reports it in
//! its status; the controller applies the policy to the resources it runs.
//!
//! Two-node clusters: with two voters the majority is two, so a node that loses its
//! peer has no quorum. In two-node mode (`two_node = true` in `cluster.toml`) the
//! survivor continues only after fencing its peer ([`two_node`]); without it (or
//! without a fence device) `no-quorum-policy` applies on both sides.

mod alerts;
mod clock;
mod control;
mod echo;
mod fencing;
mod links;
mod members;
mod membership;
mod metrics;
mod pending_adds;
pub mod profile;
mod statedir;
mod stop;
mod subscribe;
mod two_node;
pub mod watchdog;
mod witness;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hactl_consensus::{Change, NodeId, ProposeError};
use hactl_model::change::NodeStateUpdate;
use hactl_model::NoQuorumPolicy;
use hactl_net::{ClusterConfig, NodeIdentity, Transport};
use hactl_proto::peer::{peer_message::Body, Heartbeat, PeerMessage};
use tokio::sync::{mpsc, watch, Notify};
use tracing::{debug, error, info, warn};

pub use members::Members;
pub use profile::Profile;

/// Default locations.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/hactl";
pub const DEFAULT_STATE_DIR: &str = "/var/lib/hactl";
pub const DEFAULT_SOCKET: &str = "/run/hactl/hactl.sock";

/// How long a control-socket proposal may wait to be applied.
pub(crate) const PROPOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// What `hactl daemon` needs.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Holds `cluster.toml`, `ca.pem`, `node.pem`, `node.key`.
    pub config_dir: PathBuf,
    /// The daemon's persistent state (the Raft store lives in `raft/` below it).
    pub state_dir: PathBuf,
    /// The control socket.
    pub socket: PathBuf,
    /// Heartbeat profile; overrides `settings.heartbeat_profile` in `cluster.toml`.
    pub profile: Option<String>,
    /// The `hactl` binary, offered to resource agents as `crm_attribute` (in
    /// `HA_SBIN_DIR`): agents such as `ocf:pacemaker:Stateful` set their promotion
    /// score with it. None: agents get no `HA_SBIN_DIR` from hactl.
    pub agent_tool: Option<PathBuf>,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            config_dir: DEFAULT_CONFIG_DIR.into(),
            state_dir: DEFAULT_STATE_DIR.into(),
            socket: DEFAULT_SOCKET.into(),
            profile: None,
            agent_tool: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("peer transport: {0}")]
    Net(String),
    #[error("consensus: {0}")]
    Consensus(String),
    /// The Raft store is damaged: starting again cannot help (systemd must not
    /// restart the daemon in a loop); the operator has to act.
    #[error("consensus: {0}")]
    StoreDamaged(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// Why a message to a member was not queued.
#[derive(Debug, thiserror::Error)]
enum SendToError {
    #[error("unknown node")]
    Unknown,
    #[error(transparent)]
    Send(#[from] hactl_net::SendError),
}

/// Quorum as this node sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct QuorumState {
    pub have: bool,
    /// The policy to apply to local resources while `have` is false.
    pub policy: NoQuorumPolicy,
}

/// Runs the daemon until SIGTERM/SIGINT or a `Shutdown` request; both leave the cluster
/// cleanly.
pub fn run(config: DaemonConfig) -> Result<(), DaemonError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("hactl-daemon")
        .enable_all()
        .build()
        .map_err(|source| DaemonError::Io {
            what: "starting the async runtime".into(),
            source,
        })?;
    rt.block_on(run_async(config))
}

pub(crate) struct Daemon {
    pub(crate) cluster: ClusterConfig,
    pub(crate) me: NodeId,
    pub(crate) me_name: String,
    pub(crate) members: Members,
    pub(crate) profile: Profile,
    state_dir: PathBuf,
    pub(crate) consensus: hactl_consensus::Handle,
    /// This node's alert agents (counters read by the metrics endpoint).
    pub(crate) alerts: alerts::Alerts,
    /// Policy engine run times while this node is DC (read by the metrics endpoint).
    pub(crate) scheduler_seconds: metrics::SchedulerTimes,
    pub(crate) transport: Transport,
    /// Each peer's heartbeat links: which are up, which carries its traffic.
    pub(crate) links: links::Links,
    /// Last heartbeat received per peer (on any link).
    last_seen: Mutex<HashMap<NodeId, Instant>>,
    /// Which peers acknowledge this node's recent heartbeats (quorum counts those).
    echoes: echo::Echoes,
    /// When we last warned about each peer's dropped messages (one line per 10 s, not
    /// one per heartbeat).
    warned: Mutex<HashMap<String, Instant>>,
    /// Latest clock-offset estimate per peer, from its heartbeats.
    pub(crate) clocks: Mutex<clock::ClockTracker>,
    /// Each peer's rejoin phase, from its latest heartbeat (for `cluster status`).
    pub(crate) rejoining: Mutex<HashMap<NodeId, Option<hactl_consensus::RejoinPhase>>>,
    pub(crate) quorum: watch::Sender<QuorumState>,
    /// Bumped whenever a peer is lost or seen again (subscribers wait on it).
    pub(crate) membership: watch::Sender<u64>,
    /// Set when the node is leaving: stop beaconing, stop acting as DC.
    leaving: AtomicBool,
    /// A clean stop of this node is under way (or done: it is leaving).
    stopping: AtomicBool,
    /// Resources a forced stop left without a confirmed stop: the leave is then not
    /// a clean one (see `leave`).
    left_running: Mutex<Vec<String>>,
    pub(crate) shutdown: Notify,
    hb_seq: AtomicU64,
    reconcile_busy: AtomicBool,
    /// Members this DC proposed to add whose entry may still commit.
    pending_adds: Mutex<pending_adds::PendingAdds>,
    /// The controller (executor service, DC runtime, no-quorum-policy).
    controller: std::sync::OnceLock<Arc<hactl_controller::Controller>>,
    /// This run has recorded its own return in the CIB (so a later `expected=down` for
    /// this node is a stop request, not a leftover of an earlier run).
    joined: AtomicBool,
    two_node: two_node::TwoNode,
    /// The cluster's witness, if `cluster.toml` names one.
    witness: witness::Witness,
}

async fn run_async(config: DaemonConfig) -> Result<(), DaemonError> {
    let cfg_path = config
        .config_dir
        .join(hactl_net::config::CLUSTER_CONFIG_FILE);
    let cluster = ClusterConfig::load(&cfg_path).map_err(|e| DaemonError::Config(e.to_string()))?;
    let identity = NodeIdentity::load(&config.config_dir).map_err(|e| {
        DaemonError::Config(format!(
            "node identity in {}: {e}",
            config.config_dir.display()
        ))
    })?;
    if identity.cluster != cluster.name {
        return Err(DaemonError::Config(format!(
            "identity is for cluster {:?}, {} is for {:?}",
            identity.cluster,
            cfg_path.display(),
            cluster.name
        )));
    }
    let me_entry = cluster.node(&identity.node).cloned().ok_or_else(|| {
        DaemonError::Config(format!(
            "this node ({}) is not listed in {}",
            identity.node,
            cfg_path.display()
        ))
    })?;
    let members = Members::from_config(&cluster, me_entry.id);
    let from_cib = profile::read_cib_profile(&config.state_dir);
    let profile = profile::choose(
        config.profile.as_deref(),
        &cluster.settings,
        from_cib.as_deref(),
    )
    .map_err(|e| DaemonError::Config(e.to_string()))?;

    let listen = SocketAddr::new(
        if me_entry.address.is_ipv6() {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        } else {
            std::net::Ipv4Addr::UNSPECIFIED.into()
        },
        me_entry.address.port(),
    );
    let witness = witness::Witness::new(cfg_path.clone(), identity.clone());
    let (transport, mut incoming) = Transport::bind(identity.clone(), listen)
        .await
        .map_err(|e| DaemonError::Net(e.to_string()))?;

    // Raft runs on its own thread; its messages come here to be sent from the runtime.
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<(NodeId, Vec<u8>)>();
    let configured: Vec<NodeId> = cluster.nodes.iter().map(|n| n.id).collect();
    let founder_marker = config.config_dir.join(hactl_net::config::FOUNDER_FILE);
    statedir::make_private(&config.state_dir)?;
    let ccfg = hactl_consensus::Config {
        timing: profile.raft,
        may_found: founder_marker.exists(),
        ..hactl_consensus::Config::new(me_entry.id, configured, config.state_dir.join("raft"))
    };
    let consensus = hactl_consensus::start(
        ccfg,
        Arc::new(move |to, bytes| {
            let _ = out_tx.send((to, bytes));
        }),
    )
    .map_err(|e| match e {
        hactl_consensus::Error::Damaged { .. } => DaemonError::StoreDamaged(e.to_string()),
        e => DaemonError::Consensus(e.to_string()),
    })?;
    // The store now exists (founded, or being filled by a rejoin): founding is never
    // repeated, even if the state dir is lost later.
    consume_founder_marker(&founder_marker)?;

    let (quorum, _) = watch::channel(QuorumState {
        have: false,
        policy: NoQuorumPolicy::Stop,
    });
    let two_node = two_node::TwoNode::from_settings(&cluster.settings)?;
    let alerts = alerts::Alerts::spawn(identity.node.as_str().to_string(), consensus.watch());
    let d = Arc::new(Daemon {
        me: me_entry.id,
        me_name: identity.node.as_str().to_string(),
        cluster,
        members,
        profile,
        state_dir: config.state_dir.clone(),
        consensus,
        alerts,
        scheduler_seconds: metrics::SchedulerTimes::default(),
        transport,
        links: links::Links::new(&profile),
        last_seen: Mutex::new(HashMap::new()),
        echoes: echo::Echoes::new(profile.lost_after * 2),
        warned: Mutex::new(HashMap::new()),
        clocks: Mutex::new(clock::ClockTracker::default()),
        rejoining: Mutex::new(HashMap::new()),
        quorum,
        membership: watch::channel(0).0,
        leaving: AtomicBool::new(false),
        stopping: AtomicBool::new(false),
        left_running: Mutex::new(Vec::new()),
        shutdown: Notify::new(),
        hb_seq: AtomicU64::new(echo::first_seq(unix_micros())),
        reconcile_busy: AtomicBool::new(false),
        pending_adds: Mutex::default(),
        controller: std::sync::OnceLock::new(),
        joined: AtomicBool::new(false),
        two_node,
        witness,
    });
    info!(node = %d.me_name, id = d.me, cluster = %d.cluster.name, profile = profile.name,
        addrs = ?me_entry.addresses(), "daemon started");
    let mut ctl_config = controller_config(&d.me_name, &profile);
    ctl_config.exec.client_socket = Some(config.socket.clone());
    ctl_config.exec.sbin_dir = config
        .agent_tool
        .as_deref()
        .and_then(|tool| agent_tools_dir(&config.state_dir, tool));
    ctl_config.fencer = Some(fencing::controller_fencer(Arc::downgrade(&d)));
    ctl_config.device_monitor = Some(fencing::device_monitor(Arc::downgrade(&d)));
    let ctl =
        hactl_controller::Controller::start(Arc::new(CtlHost(Arc::downgrade(&d))), ctl_config);
    if let Some((path, timeout)) = watchdog::from_settings(&d.cluster.settings)? {
        let wd = watchdog::DevWatchdog::open(&path, timeout)
            .map_err(|e| DaemonError::Config(e.to_string()))?;
        ctl.arm_watchdog(Box::new(wd));
    }
    let _ = d.controller.set(ctl);

    let control = control::serve(d.clone(), &config.socket).await?;
    metrics::start(&d)?;

    // Outgoing raft messages.
    let d2 = d.clone();
    let sender = tokio::spawn(async move {
        while let Some((to, bytes)) = out_rx.recv().await {
            let msg = PeerMessage::raft(d2.cluster.name.clone(), bytes);
            if let Err(e) = d2.send_to(to, &msg) {
                debug!(to, error = %e, "raft message not queued");
                d2.consensus.report_unreachable(to);
            }
        }
    });

    // Incoming peer messages.
    let d2 = d.clone();
    let receiver = tokio::spawn(async move {
        while let Some((from, msg)) = incoming.recv().await {
            d2.on_peer_message(from.as_str(), msg);
        }
    });

    let beacon = tokio::spawn(heartbeat_loop(d.clone()));
    let monitor = tokio::spawn(monitor_loop(d.clone()));
    let cib_follower = tokio::spawn(follow_cib(d.clone()));
    let join = tokio::spawn(self_join_loop(d.clone()));
    let two_node = tokio::spawn(two_node::run(d.clone()));
    let witness = tokio::spawn(witness::run(d.clone()));
    let halves = tokio::spawn(witness::watch_halves(d.clone()));

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|source| DaemonError::Io {
            what: "installing the SIGTERM handler".into(),
            source,
        })?;
    let fatal = wait_for_stop(&d, &mut term).await;

    match &fatal {
        None => d.leave().await,
        Some(reason) => {
            d.leaving.store(true, Ordering::SeqCst);
            d.stop_local_resources(reason).await;
        }
    }
    beacon.abort();
    monitor.abort();
    cib_follower.abort();
    join.abort();
    two_node.abort();
    witness.abort();
    halves.abort();
    control.abort();
    let _ = std::fs::remove_file(&config.socket);
    let c = d.consensus.clone();
    let _ = tokio::task::spawn_blocking(move || c.stop()).await;
    sender.abort();
    receiver.abort();
    d.transport.clone().shutdown().await;
    match fatal {
        // The watchdog, if any, stays armed: a daemon that died resets the machine.
        Some(f) => Err(DaemonError::Consensus(f)),
        None => {
            if let Some(c) = d.controller.get() {
                c.disarm_watchdog();
            }
            info!(node = %d.me_name, "daemon stopped");
            Ok(())
        }
    }
}

/// Runs until the daemon should go: `None` once its resources are stopped (a signal,
/// or a stop request that did that already), `Some(why)` when consensus died. A signal
/// whose clean stop fails keeps the daemon running (a second signal tries again).
async fn wait_for_stop(d: &Arc<Daemon>, term: &mut tokio::signal::unix::Signal) -> Option<String> {
    let mut consensus_watch = d.consensus.watch();
    loop {
        let signal = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = d.shutdown.notified() => {
                info!(node = %d.me_name, "resources stopped: leaving the cluster");
                return None;
            }
            f = async {
                loop {
                    if consensus_watch.changed().await.is_err() { return "consensus stopped".to_string(); }
                    let s = consensus_watch.borrow().clone();
                    if !s.running { return s.fatal.clone().unwrap_or_else(|| "consensus stopped".into()); }
                }
            } => return Some(f),
        };
        info!(node = %d.me_name, signal, "stopping the resources here, then leaving the cluster");
        match d.clean_stop(stop::StopOpts::default(), &[]).await {
            Ok(()) => return None,
            // Stopping on another request already: that one ends it.
            Err(stop::StopError::InProgress) => {}
            // Logged, naming the resource; stay up.
            Err(_) => {}
        }
    }
}

/// Removes the founder marker once the consensus store exists (durably: the directory
/// is synced, so a crash cannot bring the marker back).
fn consume_founder_marker(marker: &std::path::Path) -> Result<(), DaemonError> {
    match std::fs::remove_file(marker) {
        Ok(()) => {
            info!(marker = %marker.display(), "cluster state founded; founder marker removed");
            if let Some(dir) = marker.parent() {
                std::fs::File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(|source| DaemonError::Io {
                        what: format!("syncing {}", dir.display()),
                        source,
                    })?;
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(DaemonError::Io {
            what: format!("removing the founder marker {}", marker.display()),
            source,
        }),
    }
}

/// What a peer's heartbeat says about its consensus state.
fn peer_report(hb: &Heartbeat) -> hactl_consensus::PeerReport {
    use hactl_proto::peer::RejoinState;
    hactl_consensus::PeerReport {
        max_format: hb
            .max_entry_format
            .max(hactl_consensus::format::LEGACY_FORMAT),
        rejoin: match RejoinState::try_from(hb.rejoin) {
            Ok(RejoinState::RejoinNoState) => Some(hactl_consensus::RejoinPhase::NoState),
            Ok(RejoinState::RejoinLearner) => Some(hactl_consensus::RejoinPhase::Learner),
            // An unknown value comes from a newer build: it is rejoining somehow, so
            // do not count it as having its state.
            Ok(RejoinState::RejoinNone) => None,
            Err(_) => Some(hactl_consensus::RejoinPhase::NoState),
        },
        last_term: hb.last_log_term,
        last_index: hb.last_log_index,
    }
}

fn rejoin_state(phase: Option<hactl_consensus::RejoinPhase>) -> hactl_proto::peer::RejoinState {
    use hactl_proto::peer::RejoinState;
    match phase {
        None => RejoinState::RejoinNone,
        Some(hactl_consensus::RejoinPhase::NoState) => RejoinState::RejoinNoState,
        Some(hactl_consensus::RejoinPhase::Learner) => RejoinState::RejoinLearner,
    }
}

impl Daemon {
    /// The consensus node stopped (a storage failure, a raft-rs panic): this node can
    /// no longer learn what the cluster decides, and the survivors will recover its
    /// resources elsewhere once it is gone. Nothing it runs may keep running, so the
    /// executor stops every local resource before the daemon exits.
    async fn stop_local_resources(&self, reason: &str) {
        error!(node = %self.me_name, reason, "consensus stopped: stopping every local resource, then exiting");
        let Some(ctl) = self.controller.get() else {
            return;
        };
        for (rsc, o) in ctl.service().stop_all_local().await {
            if o.rc == 0 {
                info!(node = %self.me_name, resource = %rsc, op = "stop", "stopped before exiting");
            } else {
                error!(node = %self.me_name, resource = %rsc, op = "stop", rc = o.rc,
                    reason = ?o.exit_reason, "stop failed before exiting");
            }
        }
    }

    fn on_peer_message(&self, from: &str, msg: PeerMessage) {
        if msg.cluster != self.cluster.name {
            if self.should_warn(from) {
                warn!(peer = from, cluster = %msg.cluster, "message for another cluster dropped");
            }
            return;
        }
        let Some(id) = self.members.id_of(from) else {
            if self.should_warn(from) {
                warn!(
                    peer = from,
                    "message from a node that is not a member dropped"
                );
            }
            return;
        };
        match msg.body {
            Some(Body::Raft(bytes)) => self.consensus.step(id, bytes),
            Some(Body::Heartbeat(hb)) => {
                let now = Instant::now();
                if let Ok(mut m) = self.last_seen.lock() {
                    m.insert(id, now);
                }
                self.links.on_heartbeat(id, hb.link, hb.links_heard, now);
                self.echoes
                    .on_heartbeat(id, hb.seq, hb.echoes, hb.echo, now);
                self.check_clock(id, from, hb.sent_unix_micros);
                self.two_node.heard(id, hb.last_log_index);
                let report = peer_report(&hb);
                if let Ok(mut r) = self.rejoining.lock() {
                    r.insert(id, report.rejoin);
                }
                self.consensus.peer_report(id, report);
            }
            Some(Body::Controller(_))
                if msg.controller_format() > hactl_proto::CONTROLLER_FORMAT =>
            {
                if self.should_warn(from) {
                    warn!(
                        peer = from,
                        format = msg.controller_format(),
                        supported = hactl_proto::CONTROLLER_FORMAT,
                        "controller message in a newer format dropped: upgrade this node"
                    );
                }
            }
            Some(Body::Controller(bytes)) => {
                if let Some(c) = self.controller.get() {
                    c.on_peer(from, &bytes);
                }
            }
            Some(Body::Hello(h)) => debug!(peer = from, version = %h.software_version, "hello"),
            None => debug!(peer = from, "message of an unknown kind ignored"),
        }
    }

    /// Updates `id`'s clock-offset estimate; warns once when it becomes skewed, logs once
    /// when it recovers.
    fn check_clock(&self, id: NodeId, from: &str, sent_unix_micros: u64) {
        let Ok(now) = SystemTime::now().duration_since(UNIX_EPOCH) else {
            return;
        };
        let now = u64::try_from(now.as_micros()).unwrap_or(u64::MAX);
        let Some(offset) = clock::offset_micros(sent_unix_micros, now) else {
            return;
        };
        let Ok(mut c) = self.clocks.lock() else {
            return;
        };
        let offset_ms = offset / 1000;
        match c.observe(id, offset) {
            Some(clock::SkewChange::Skewed) => warn!(
                node = from,
                offset_ms,
                threshold_ms = clock::SKEW_THRESHOLD_MS,
                "clock skew: peer's clock differs from ours beyond the threshold (is NTP running?)"
            ),
            Some(clock::SkewChange::Recovered) => {
                info!(node = from, offset_ms, "clock skew resolved")
            }
            None => {}
        }
    }

    /// Sends `msg` to member `id` on its active link (see `links`).
    fn send_to(&self, id: NodeId, msg: &PeerMessage) -> Result<(), SendToError> {
        let (name, addrs) = self.members.get(id).ok_or(SendToError::Unknown)?;
        let k = self
            .links
            .active(id, name.as_str(), addrs.len(), Instant::now());
        let addr = addrs
            .get(k as usize)
            .or(addrs.first())
            .ok_or(SendToError::Unknown)?;
        self.transport.send_link(&name, k as u8, *addr, msg)?;
        Ok(())
    }

    fn should_warn(&self, peer: &str) -> bool {
        let Ok(mut w) = self.warned.lock() else {
            return true;
        };
        let now = Instant::now();
        match w.get(peer) {
            Some(t) if now.duration_since(*t) < Duration::from_secs(10) => false,
            _ => {
                w.insert(peer.to_string(), now);
                true
            }
        }
    }

    /// A node's rejoin phase: ours from consensus (`s`), a peer's from its heartbeats.
    pub(crate) fn rejoin_of(
        &self,
        s: &hactl_consensus::Status,
        id: NodeId,
    ) -> Option<hactl_consensus::RejoinPhase> {
        if id == self.me {
            return s.rejoin;
        }
        self.rejoining
            .lock()
            .ok()
            .and_then(|r| r.get(&id).copied().flatten())
    }

    /// Whether `id` was heard from within the profile's bound (this node: always).
    pub(crate) fn alive(&self, id: NodeId, now: Instant) -> bool {
        id == self.me
            || self
                .silent_for(id, now)
                .is_some_and(|d| d < self.profile.lost_after)
    }

    /// Whether `id` counts toward this node's quorum: heard within the bound, and it
    /// hears this node (it echoed a heartbeat sent within the bound; see [`echo`]).
    pub(crate) fn counts_for_quorum(&self, id: NodeId, now: Instant) -> bool {
        self.alive(id, now) && self.echoes.acked_within(id, now, self.profile.lost_after)
    }

    /// Time since the last heartbeat from `id`; None if never heard since start.
    pub(crate) fn silent_for(&self, id: NodeId, now: Instant) -> Option<Duration> {
        let m = self.last_seen.lock().ok()?;
        m.get(&id).map(|t| now.saturating_duration_since(*t))
    }

    pub(crate) async fn propose(&self, change: Change) -> Result<u64, ProposeError> {
        match tokio::time::timeout(PROPOSE_TIMEOUT, self.consensus.propose(change)).await {
            Ok(r) => r,
            Err(_) => Err(ProposeError::Unknown(format!(
                "not seen applied within {} s (no quorum, or a leader change?)",
                PROPOSE_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Leave: stop beaconing, record the leave for this node, and go.
    ///
    /// A clean leave (`expected=down`) says nothing runs here any more. After a
    /// forced stop whose resources were not confirmed stopped that would be a lie the
    /// peers act on (an offline node's history means nothing without fencing: they
    /// would start the resources again while they still run here). Such a leave
    /// keeps `expected=member` (the node is lost: fenced where fencing is on), drops
    /// the shutdown mark (which would excuse it), and names what may still run here
    /// (`LEFT_RUNNING_ATTR`: without fencing it stays blocked here).
    async fn leave(&self) {
        let left_running = self
            .left_running
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default();
        let clean = left_running.is_empty();
        // In two-node mode a clean leave keeps beaconing until it has stepped aside
        // (`two_node::step_aside`): its silence would make the peer fence it.
        let step_aside = clean && self.two_node.enabled();
        if !step_aside {
            self.leaving.store(true, Ordering::SeqCst);
        }
        let mut changes = vec![Change::SetNodeState {
            node: self.me_name.clone(),
            state: NodeStateUpdate {
                member: Some(false),
                controller_online: Some(false),
                join: Some("down".into()),
                expected: Some(if clean { "down" } else { "member" }.into()),
            },
        }];
        if !clean {
            warn!(node = %self.me_name, resources = ?left_running,
                "leaving with resources not confirmed stopped: recorded as lost, not as a clean leave");
            changes.push(Change::SetTransientAttribute {
                node: self.me_name.clone(),
                name: hactl_controller::shutdown::SHUTDOWN_ATTR.into(),
                value: None,
            });
            changes.push(Change::SetTransientAttribute {
                node: self.me_name.clone(),
                name: hactl_controller::shutdown::LEFT_RUNNING_ATTR.into(),
                value: Some(left_running.join(",")),
            });
        }
        let change = Change::Batch { changes };
        let r = tokio::time::timeout(Duration::from_secs(2), self.consensus.propose(change)).await;
        match r {
            Ok(Ok(index)) => {
                info!(node = %self.me_name, index, clean, "leave recorded");
                if step_aside {
                    two_node::step_aside(self).await;
                }
            }
            Ok(Err(e)) => warn!(node = %self.me_name, error = %e, "could not record the leave"),
            Err(_) => warn!(node = %self.me_name, "leave not recorded in time (no quorum?)"),
        }
        self.leaving.store(true, Ordering::SeqCst);
    }

    /// Marks every member shutting down in one proposal (so every resource stops,
    /// rather than moving from node to node as they go; each daemon leaves once
    /// nothing runs on it), and stops this one.
    pub(crate) async fn cluster_stop(&self, opts: stop::StopOpts) -> Result<(), stop::StopError> {
        let others: Vec<String> = self
            .members
            .all()
            .into_iter()
            .filter(|(id, _, _)| *id != self.me)
            .map(|(_, name, _)| name.as_str().to_string())
            .collect();
        self.clean_stop(opts, &others).await
    }

    fn leader_name(&self) -> Option<String> {
        let s = self.consensus.status();
        s.leader
            .and_then(|l| self.members.get(l))
            .map(|(n, _)| n.as_str().to_string())
    }
}

/// The wall clock in microseconds since the Unix epoch (0 if it reads before it).
fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|t| u64::try_from(t.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

async fn heartbeat_loop(d: Arc<Daemon>) {
    let mut tick = tokio::time::interval(d.profile.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if d.leaving.load(Ordering::SeqCst) {
            return;
        }
        let s = d.consensus.status();
        let seq = d.hb_seq.fetch_add(1, Ordering::Relaxed);
        let hb = Heartbeat {
            node: d.me_name.clone(),
            term: s.term,
            leader_id: s.leader.unwrap_or(0),
            sent_unix_micros: unix_micros(),
            seq,
            max_entry_format: hactl_consensus::format::ENTRY_FORMAT,
            rejoin: rejoin_state(s.rejoin) as i32,
            last_log_term: s.last_term,
            last_log_index: s.last_index,
            link: 0,
            links_heard: 0,
            echoes: true,
            echo: 0,
        };
        let now = Instant::now();
        d.echoes.sent(seq, now);
        for (id, name, addrs) in d.members.all() {
            if id == d.me {
                continue;
            }
            // One copy per link, each saying which it is: the peer tracks every link.
            let heard = d.links.heard_mask(id, addrs.len(), now);
            let echo = d.echoes.echo_for(id);
            for (k, addr) in addrs.iter().enumerate() {
                let hb = Heartbeat {
                    link: k as u32,
                    links_heard: heard,
                    echo,
                    ..hb.clone()
                };
                let msg = PeerMessage::heartbeat(d.cluster.name.clone(), hb);
                if let Err(e) = d.transport.send_link(&name, k as u8, *addr, &msg) {
                    debug!(node = %name, link = k, error = %e, "heartbeat not queued");
                }
            }
        }
    }
}

/// Keeps the CIB's `heartbeat-profile` for this daemon's next start when it changes
/// (`seen`: the last value looked at, so the file is touched only on a change).
fn note_cib_profile(d: &Daemon, cib: &hactl_model::Cib, seen: &mut Option<String>) {
    let name = cib
        .config
        .properties
        .get("heartbeat-profile")
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| "default".into());
    if seen.as_deref() == Some(name.as_str()) {
        return;
    }
    *seen = Some(name.clone());
    if Profile::by_name(&name).is_none() {
        warn!(node = %d.me_name, profile = %name, "unknown heartbeat-profile in the CIB: ignored");
        return;
    }
    match profile::keep_cib_profile(&d.state_dir, &name) {
        Ok(true) if name != d.profile.name => {
            warn!(node = %d.me_name, profile = %name, running = d.profile.name,
                "heartbeat-profile changed in the CIB: it applies at this daemon's next start \
                 (unless cluster.toml or --profile names one)")
        }
        Ok(_) => {}
        Err(e) => {
            warn!(node = %d.me_name, error = %e, "could not keep the CIB's heartbeat-profile")
        }
    }
}

/// Hands every applied change to the controller at once: the DC reacts to a
/// committed change (`node standby`, a new resource) without waiting for the
/// monitor loop's next check, a quarter beat later.
async fn follow_cib(d: Arc<Daemon>) {
    let mut w = d.consensus.watch();
    while w.changed().await.is_ok() {
        if let Some(ctl) = d.controller.get() {
            ctl.cib_changed();
        }
    }
}

/// Watches liveness and quorum, and acts as DC when this node leads.
async fn monitor_loop(d: Arc<Daemon>) {
    // Check four times per heartbeat interval: loss is noticed within a quarter beat of
    // the bound.
    let mut tick = tokio::time::interval(d.profile.interval / 4);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut alive_before: HashMap<NodeId, bool> = HashMap::new();
    let mut one_way: HashMap<NodeId, bool> = HashMap::new();
    let mut had_quorum = false;
    let mut shutdown_mark: Option<String> = None;
    let mut cib_profile: Option<String> = None;
    loop {
        tick.tick().await;
        if d.leaving.load(Ordering::SeqCst) {
            return;
        }
        let now = Instant::now();
        let status = d.consensus.status();
        note_cib_profile(&d, &status.cib, &mut cib_profile);
        // Learners are members too (raft must reach them to bring them up to date).
        let in_raft: Vec<NodeId> = status
            .voters
            .iter()
            .chain(status.learners.iter())
            .copied()
            .collect();
        d.members.refresh(&status.cib, &in_raft);
        let mark = status
            .cib
            .status
            .nodes
            .get(&d.me_name)
            .and_then(|st| st.attributes.get(hactl_controller::shutdown::SHUTDOWN_ATTR))
            .cloned();
        if mark.is_some()
            && mark != shutdown_mark
            && d.joined.load(Ordering::SeqCst)
            && !d.stopping.load(Ordering::SeqCst)
        {
            info!(node = %d.me_name, "the cluster asked this node to stop");
            tokio::spawn({
                let d = d.clone();
                async move { d.stop_on_request().await }
            });
        }
        shutdown_mark = mark;
        let voters: Vec<NodeId> = if status.voters.contains(&d.me) {
            status.voters.clone()
        } else {
            d.members.all().into_iter().map(|(id, _, _)| id).collect()
        };
        let mut alive_count = 0usize;
        for (id, name, _) in d.members.all() {
            if id == d.me {
                continue;
            }
            let alive = d.alive(id, now);
            let counts = d.counts_for_quorum(id, now);
            if voters.contains(&id) && counts {
                alive_count += 1;
            }
            note_one_way(&mut one_way, id, name.as_str(), alive && !counts);
            let before = alive_before.insert(id, alive);
            if before != Some(alive) {
                d.membership.send_modify(|n| *n += 1);
            }
            match (before, alive) {
                (Some(true), false) => {
                    let silent = d.silent_for(id, now).map(|s| s.as_millis() as u64);
                    warn!(node = %name, silent_ms = ?silent, event = "node_lost", "node lost");
                }
                (Some(false) | None, true) => info!(node = %name, event = "node_seen", "node seen"),
                _ => {}
            }
        }
        let self_votes = usize::from(voters.contains(&d.me));
        let have = (alive_count + self_votes) * 2 > voters.len();
        let policy = if d.two_node.defers_no_quorum(
            d.me,
            &status.voters,
            &status.cib,
            d.witness.client().is_some(),
            alive_count + self_votes,
        ) {
            NoQuorumPolicy::Freeze // two-node mode fencing its peer: nothing stops, nothing starts
        } else {
            status
                .cib
                .config
                .options()
                .map(|o| o.no_quorum_policy)
                .unwrap_or(NoQuorumPolicy::Stop)
        };
        if have != had_quorum {
            if have {
                info!(node = %d.me_name, event = "quorum_acquired", "quorum acquired");
            } else {
                warn!(node = %d.me_name, event = "lost_quorum", policy = ?policy,
                    "lost quorum: applying no-quorum-policy to local resources");
            }
            had_quorum = have;
        }
        d.quorum.send_if_modified(|q| {
            let new = QuorumState { have, policy };
            let changed = *q != new;
            *q = new;
            changed
        });
        // The DC runtime runs on the leader while it has quorum, and never on a node
        // that stopped applying the log (its CIB is stale; it hands leadership over).
        let dc = status.is_leader() && have && status.stalled.is_none() && !d.two_node.busy();
        if let Some(ctl) = d.controller.get() {
            ctl.update(dc.then_some(status.term), have, policy);
        }
        if dc {
            reconcile(&d, &status, now);
        }
    }
}

/// Logs once when a peer is heard but does not hear this node (or stops being so):
/// such a peer does not count toward this node's quorum.
fn note_one_way(seen: &mut HashMap<NodeId, bool>, id: NodeId, name: &str, one_way: bool) {
    let before = seen.insert(id, one_way).unwrap_or(false);
    if one_way && !before {
        warn!(node = %name, event = "one_way",
            "node heard, but it has not acknowledged our recent heartbeats: not counted toward quorum");
    } else if before && !one_way {
        info!(node = %name, event = "one_way_resolved", "node acknowledges our heartbeats again");
    }
}

/// The DC's duty: make the CIB's membership section match what it observes.
fn reconcile(d: &Arc<Daemon>, status: &hactl_consensus::Status, now: Instant) {
    if d.reconcile_busy.load(Ordering::SeqCst) {
        return;
    }
    let cib = &status.cib;
    let mut changes = Vec::new();
    for (id, name, addrs) in d.members.all() {
        if cib.config.node(name.as_str()).is_none() {
            changes.push(Change::AddNode {
                node: hactl_model::Node {
                    id: id.to_string(),
                    name: name.as_str().to_string(),
                    address: Some(members::cib_addresses(&addrs)),
                    ..Default::default()
                },
            });
        }
    }
    for (id, name, _) in d.members.all() {
        let st = cib.status.nodes.get(name.as_str());
        let expected = st.and_then(|s| s.expected.as_deref());
        let want = if d.alive(id, now) {
            let left_running = st.is_some_and(|s| {
                s.attributes
                    .contains_key(hactl_controller::shutdown::LEFT_RUNNING_ATTR)
            });
            if expected == Some("down") || left_running {
                // It left (cleanly, or by force: lost) and is on its way out, or it is
                // back and will record its own return; either way not ours to overwrite.
                continue;
            }
            NodeStateUpdate {
                member: Some(true),
                controller_online: Some(true),
                join: Some("member".into()),
                expected: Some("member".into()),
            }
        } else {
            NodeStateUpdate {
                member: Some(false),
                controller_online: Some(false),
                join: Some("down".into()),
                expected: None,
            }
        };
        let same = st.is_some_and(|s| {
            s.member == want.member
                && s.controller_online == want.controller_online
                && s.join == want.join
                && (want.expected.is_none() || s.expected == want.expected)
        });
        if !same {
            changes.push(Change::SetNodeState {
                node: name.as_str().to_string(),
                state: want,
            });
        }
    }
    if !cib.status.have_quorum || cib.status.dc.as_deref() != Some(d.me_name.as_str()) {
        changes.push(Change::SetQuorum {
            have_quorum: true,
            dc: Some(d.me_name.clone()),
        });
    }
    if changes.is_empty() {
        return;
    }
    let adding: Vec<String> = changes
        .iter()
        .filter_map(|c| match c {
            Change::AddNode { node } => Some(node.name.clone()),
            _ => None,
        })
        .collect();
    let in_flight = d
        .pending_adds
        .lock()
        .is_ok_and(|p| p.in_flight(status.term, &adding));
    if in_flight {
        return; // the rest follows once the pending entry is applied
    }
    d.reconcile_busy.store(true, Ordering::SeqCst);
    let d = d.clone();
    let term = status.term;
    tokio::spawn(async move {
        let n = changes.len();
        let result = d.propose(Change::Batch { changes }).await;
        match &result {
            Ok(index) => debug!(index, changes = n, "membership recorded"),
            Err(e) => debug!(error = %e, "membership update not applied"),
        }
        let unknown = matches!(result, Err(ProposeError::Unknown(_)));
        if let Ok(mut p) = d.pending_adds.lock() {
            p.settle(term, adding, unknown);
        }
        d.reconcile_busy.store(false, Ordering::SeqCst);
    });
}

/// Records this node's own return (`expected=member`) once a leader is known; the DC
/// does not overwrite a clean leave, so a restarted node must say it is back.
async fn self_join_loop(d: Arc<Daemon>) {
    let mut w = d.consensus.watch();
    let started = stop::unix_now();
    // Until a proposal of the conditional clear was dropped (a member on a build that
    // does not read it): then the unconditional one, as such builds do themselves.
    let mut conditional_clear = true;
    loop {
        if d.leaving.load(Ordering::SeqCst) {
            return;
        }
        let s = w.borrow().clone();
        if s.leader.is_some() && s.cib.config.node(&d.me_name).is_some() {
            // Back, so no longer shutting down (the mark of the stop that ended the
            // last run would make this run leave again at once).
            let change = Change::Batch {
                changes: vec![
                    Change::SetNodeState {
                        node: d.me_name.clone(),
                        state: NodeStateUpdate {
                            member: Some(true),
                            controller_online: Some(true),
                            join: Some("member".into()),
                            expected: Some("member".into()),
                        },
                    },
                    clear_old_shutdown_mark(&d.me_name, started, conditional_clear),
                    // This run's probes tell what really runs here.
                    Change::SetTransientAttribute {
                        node: d.me_name.clone(),
                        name: hactl_controller::shutdown::LEFT_RUNNING_ATTR.into(),
                        value: None,
                    },
                    // The timing this run detects losses with: a DC that runs another
                    // holds this node's resources by both (split_brain::hold_for).
                    Change::SetTransientAttribute {
                        node: d.me_name.clone(),
                        name: hactl_controller::split_brain::LIVENESS_ATTR.into(),
                        value: Some(d.profile.liveness().to_attr()),
                    },
                    // Whether this run armed a watchdog: the cluster's have-watchdog
                    // is what every node says here (watchdog::have_watchdog).
                    Change::SetTransientAttribute {
                        node: d.me_name.clone(),
                        name: hactl_controller::watchdog::WATCHDOG_ATTR.into(),
                        value: d
                            .controller
                            .get()
                            .and_then(|c| c.self_fence().armed())
                            .map(|t| t.as_millis().to_string()),
                    },
                ],
            };
            match d.propose(change).await {
                Ok(index) => {
                    info!(node = %d.me_name, index, "joined the cluster");
                    d.joined.store(true, Ordering::SeqCst);
                    return;
                }
                Err(e) => {
                    if matches!(e, ProposeError::TooNew { .. } | ProposeError::Dropped(_)) {
                        conditional_clear = false;
                    }
                    debug!(error = %e, "join not recorded yet");
                }
            }
        }
        // Wait for the next consensus change (leader known, node configured).
        if w.changed().await.is_err() {
            error!("consensus status channel closed");
            return;
        }
    }
}

/// Back, so no longer shutting down: the mark of the stop that ended the last run
/// would make this run leave again at once. A stop asked for since `started` (a
/// `cluster stop --all` that commits before this join) keeps its mark, so the node
/// still stops.
fn clear_old_shutdown_mark(me: &str, started: i64, conditional: bool) -> Change {
    let name = hactl_controller::shutdown::SHUTDOWN_ATTR.to_string();
    if conditional {
        Change::ClearTransientAttributeBefore {
            node: me.to_string(),
            name,
            before: started,
        }
    } else {
        Change::SetTransientAttribute {
            node: me.to_string(),
            name,
            value: None,
        }
    }
}

/// The controller's view of the daemon.
struct CtlHost(std::sync::Weak<Daemon>);

impl hactl_controller::Host for CtlHost {
    fn me(&self) -> String {
        self.0
            .upgrade()
            .map(|d| d.me_name.clone())
            .unwrap_or_default()
    }

    fn send_peer(&self, node: &str, payload: Vec<u8>) {
        let Some(d) = self.0.upgrade() else { return };
        let Some(id) = d.members.id_of(node) else {
            debug!(node, "controller message for an unknown node dropped");
            return;
        };
        let msg = PeerMessage::controller(d.cluster.name.clone(), payload);
        if let Err(e) = d.send_to(id, &msg) {
            debug!(node, error = %e, "controller message not queued");
        }
    }

    fn leader(&self) -> Option<String> {
        self.0.upgrade().and_then(|d| d.leader_name())
    }

    fn term(&self) -> u64 {
        self.0
            .upgrade()
            .map(|d| d.consensus.status().term)
            .unwrap_or(0)
    }

    fn scheduled(&self, run: &hactl_controller::dc::ScheduleRun) {
        if let Some(d) = self.0.upgrade() {
            d.scheduler_seconds.observe(run.took);
        }
    }

    fn propose(&self, change: Change) -> hactl_controller::Proposal<'_> {
        use hactl_controller::ProposeError as Failed;
        let d = self.0.upgrade();
        Box::pin(async move {
            let Some(d) = d else {
                return Err(Failed::Stopped);
            };
            match d.propose(change).await {
                Ok(_) => Ok(()),
                Err(ProposeError::Rejected(e)) => Err(Failed::Rejected(e)),
                Err(ProposeError::Stopped) => Err(Failed::Stopped),
                Err(ProposeError::TooNew { needs, writes }) => {
                    Err(Failed::TooNew { needs, writes })
                }
                Err(e) => Err(Failed::NotCommitted(Box::new(e))),
            }
        })
    }

    fn cib(&self) -> Arc<hactl_model::Cib> {
        self.0
            .upgrade()
            .map(|d| d.consensus.status().cib.clone())
            .unwrap_or_default()
    }

    fn records_migrations(&self) -> bool {
        self.0.upgrade().is_some_and(|d| {
            d.consensus.status().entry_format >= hactl_consensus::format::MIGRATION_FORMAT
        })
    }
}

/// `<state>/sbin` holding `crm_attribute` → the hactl binary (made afresh at each
/// start: the binary may have moved). None, with a warning, if it cannot be made:
/// agents then find no `crm_attribute` and run without promotion scores.
fn agent_tools_dir(state_dir: &std::path::Path, tool: &std::path::Path) -> Option<PathBuf> {
    let dir = state_dir.join("sbin");
    let link = dir.join("crm_attribute");
    let made = std::fs::create_dir_all(&dir).and_then(|()| {
        match std::fs::remove_file(&link) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::os::unix::fs::symlink(tool, &link)
    });
    match made {
        Ok(()) => Some(dir),
        Err(e) => {
            warn!(path = %link.display(), error = %e, "cannot offer crm_attribute to agents");
            None
        }
    }
}

/// Executor settings (agents' state directories from `HA_RSCTMP` / `HA_VARRUN` when
/// set, as the agents themselves read them) and the profile's liveness timing (the
/// split-brain hold derives from it).
fn controller_config(me: &str, profile: &Profile) -> hactl_controller::ControllerConfig {
    let mut exec = hactl_exec::ExecConfig {
        node_name: Some(me.to_string()),
        ..Default::default()
    };
    if let Some(v) = std::env::var_os("HA_RSCTMP") {
        exec.rsctmp = v.into();
    }
    if let Some(v) = std::env::var_os("HA_VARRUN") {
        exec.varrun = Some(v.into());
    }
    hactl_controller::ControllerConfig {
        exec,
        liveness: profile.liveness(),
        fencer: None,
        device_monitor: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hactl_consensus::RejoinPhase;

    /// A heartbeat from a build before versioning has none of the new fields: it reads
    /// format 1 only and has its state. What this build sends comes back as it was.
    #[test]
    fn heartbeat_reports_what_a_peer_reads_and_whether_it_rejoins() {
        let old = Heartbeat {
            node: "n2".into(),
            seq: 1,
            ..Default::default()
        };
        let r = peer_report(&old);
        assert_eq!(r.max_format, hactl_consensus::format::LEGACY_FORMAT);
        assert_eq!(r.rejoin, None);
        for phase in [None, Some(RejoinPhase::NoState), Some(RejoinPhase::Learner)] {
            let hb = Heartbeat {
                max_entry_format: 7,
                rejoin: rejoin_state(phase) as i32,
                last_log_term: 3,
                last_log_index: 40,
                ..Default::default()
            };
            let r = peer_report(&hb);
            assert_eq!((r.max_format, r.rejoin), (7, phase));
            assert_eq!((r.last_term, r.last_index), (3, 40));
        }
        // A rejoin state this build does not know: the peer is not counted as having
        // its state.
        let newer = Heartbeat {
            rejoin: 99,
            ..Default::default()
        };
        assert_eq!(peer_report(&newer).rejoin, Some(RejoinPhase::NoState));
    }
}
