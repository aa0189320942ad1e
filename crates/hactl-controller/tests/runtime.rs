//! The DC runtime and the nodes' executor services together, in one process, running
//! the real `ocf:heartbeat:Dummy` agent (each simulated node has its own `HA_RSCTMP`,
//! where the agent keeps its state file). What stands in for the daemon: the CIB
//! lives in a mutex and a proposal applies the change directly (no Raft), and
//! messages between the DC and the nodes travel over in-process channels. The same
//! runtime over real daemons, Raft and QUIC is tested by `tests/tests/netns_controller.rs`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use hactl_controller::dc::{self, ClusterIo, DcConfig, PROBED_ATTR};
use hactl_controller::messages::ControllerMsg;
use hactl_controller::node_service::NodeService;
use hactl_controller::quorum::{self, QuorumView};
use hactl_controller::shutdown::{wait_drained, SHUTDOWN_ATTR};
use hactl_controller::watchdog::{SelfFence, Watchdog, WatchdogError};
use hactl_exec::{ExecConfig, Executor};
use hactl_model::change::Change;
use hactl_model::{AgentSpec, Cib, Group, NoQuorumPolicy, OpSpec, Primitive, Resource};
use tokio::sync::{mpsc, watch};

const NODES: [&str; 3] = ["n1", "n2", "n3"];
/// Stop timeout of the test resources.
const STOP_TIMEOUT_MS: u64 = 1_500;

struct Io {
    cib: Mutex<Arc<Cib>>,
    cib_tx: Arc<watch::Sender<Arc<Cib>>>,
    /// Each applied CIB reaches the watch this much later (the daemon feeds the
    /// DC's watch on its liveness tick: what it delivers may be older than what a
    /// proposal returned).
    watch_lag: Mutex<Option<Duration>>,
    /// Late CIBs not delivered yet.
    late: Arc<std::sync::atomic::AtomicUsize>,
    /// Every operation the DC dispatched: when, to which node, resource, operation.
    dispatched: Mutex<Vec<(Instant, String, String, String)>>,
    nodes: Mutex<HashMap<String, NodeService>>,
    /// Proposals recording this (resource, operation) wait for the gate to open (a
    /// slow Raft round, held as long as the test wants).
    gate: Mutex<Option<Gate>>,
    /// How messages between the DC and the nodes travel.
    links: Arc<Mutex<Links>>,
}

/// The lab's network between the DC and the nodes.
#[derive(Default)]
struct Links {
    /// Nodes cut off from the DC: nothing reaches them, nothing they send arrives.
    cut: HashSet<String>,
    /// A node whose `Synced` answers arrive this much later (a slow link or node).
    late_synced: HashMap<String, Duration>,
    /// Nodes the next `Resync` to which is lost (the transport retries nothing).
    lost_resync: HashSet<String>,
}

struct Gate {
    rsc: String,
    op: String,
    open: Arc<tokio::sync::Semaphore>,
    /// Set once a proposal is held at the gate.
    held: Arc<std::sync::atomic::AtomicBool>,
}

/// Whether `change` records `op` of `rsc` (on its own or in a batch).
fn records(change: &Change, rsc: &str, op: &str) -> bool {
    match change {
        Change::RecordOp { rsc: r, op: o, .. } => r == rsc && o.operation == op,
        Change::Batch { changes } => changes.iter().any(|c| records(c, rsc, op)),
        _ => false,
    }
}

impl Io {
    fn apply(&self, change: Change) -> Result<(), hactl_controller::ProposeError> {
        let mut g = self.cib.lock().unwrap();
        let mut c = (**g).clone();
        change.apply(&mut c)?;
        *g = Arc::new(c);
        match *self.watch_lag.lock().unwrap() {
            None => {
                self.cib_tx.send_replace(g.clone());
            }
            Some(lag) => {
                let (tx, cib, late) = (self.cib_tx.clone(), g.clone(), self.late.clone());
                late.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    tokio::time::sleep(lag).await;
                    tx.send_replace(cib);
                    late.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                });
            }
        }
        Ok(())
    }
}

impl ClusterIo for Io {
    fn send(&self, node: &str, msg: ControllerMsg) {
        if let ControllerMsg::Execute(d) = &msg {
            let (rsc, op) = (d.details.rsc.clone(), d.details.op.clone());
            let sent = (Instant::now(), node.to_string(), rsc, op);
            self.dispatched.lock().unwrap().push(sent);
        }
        {
            let mut links = self.links.lock().unwrap();
            let resync = matches!(msg, ControllerMsg::Resync);
            if links.cut.contains(node) || (resync && links.lost_resync.remove(node)) {
                return;
            }
        }
        let svc = self.nodes.lock().unwrap().get(node).cloned();
        if let Some(s) = svc {
            s.handle(msg);
        }
    }

    fn propose(&self, change: Change) -> hactl_controller::Proposal<'_> {
        let gated = self
            .gate
            .lock()
            .unwrap()
            .as_ref()
            .filter(|g| records(&change, &g.rsc, &g.op))
            .map(|g| (g.open.clone(), g.held.clone()));
        let Some((open, held)) = gated else {
            let r = self.apply(change);
            return Box::pin(async move { r });
        };
        Box::pin(async move {
            held.store(true, std::sync::atomic::Ordering::SeqCst);
            let _permit = open.acquire().await;
            self.apply(change)
        })
    }

    fn cib(&self) -> Arc<Cib> {
        self.cib.lock().unwrap().clone()
    }
}

type ToDc = mpsc::UnboundedSender<(String, ControllerMsg)>;

/// Hands a message of `from`'s service instance to the current DC, as the daemon
/// routes it: not if that instance has ended (`alive` false), nowhere if no DC runs
/// (the report is lost, as on the wire).
fn deliver(
    route: &Mutex<Option<ToDc>>,
    alive: &std::sync::atomic::AtomicBool,
    from: &str,
    m: ControllerMsg,
) {
    // Under the route's lock: `Lab::retire` takes it to end the instance.
    let route = route.lock().unwrap();
    if !alive.load(std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    if let Some(tx) = route.as_ref() {
        let _ = tx.send((from.to_string(), m));
    }
}

struct Lab {
    io: Arc<Io>,
    dir: tempfile::TempDir,
    /// Where node → DC messages go: the current DC, or nowhere (no leader), as the
    /// daemon routes them.
    route: Arc<Mutex<Option<ToDc>>>,
    dc: Option<tokio::task::JoinHandle<()>>,
    term: u64,
    /// Shared by the DC runs, as the daemon's controller shares it.
    next_transition: Arc<std::sync::atomic::AtomicU64>,
    /// The DC's "nothing under way" flag.
    dc_idle: Arc<std::sync::atomic::AtomicBool>,
    /// Per node, whether its current service instance is alive: the route drops the
    /// reports of an instance that is not (a dead process sends nothing).
    alive: Mutex<HashMap<String, Arc<std::sync::atomic::AtomicBool>>>,
}

fn dummy(id: &str) -> Primitive {
    Primitive {
        id: id.into(),
        agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
        ops: vec![
            OpSpec {
                name: "monitor".into(),
                interval_ms: 500,
                timeout_ms: Some(10_000),
                ..Default::default()
            },
            // Bounds the split-brain hold when a node running it is lost.
            OpSpec {
                name: "stop".into(),
                timeout_ms: Some(STOP_TIMEOUT_MS),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

fn base_cib() -> Cib {
    let mut cib = common::online_cib(&NODES);
    cib.config
        .rsc_defaults
        .insert("resource-stickiness".into(), "100".into());
    cib.status.dc = Some("n1".into());
    cib
}

/// The membership change that records `node` as a member (back) or lost.
fn member(node: &str, member: bool) -> Change {
    Change::SetNodeState {
        node: node.into(),
        state: hactl_model::change::NodeStateUpdate {
            member: Some(member),
            controller_online: Some(member),
            join: Some(if member { "member" } else { "down" }.into()),
            expected: None,
        },
    }
}

impl Lab {
    fn new() -> Lab {
        let cib = Arc::new(base_cib());
        let (cib_tx, _) = watch::channel(cib.clone());
        let io = Arc::new(Io {
            cib: Mutex::new(cib),
            cib_tx: Arc::new(cib_tx),
            watch_lag: Mutex::new(None),
            late: Default::default(),
            dispatched: Mutex::new(Vec::new()),
            nodes: Mutex::new(HashMap::new()),
            gate: Mutex::new(None),
            links: Arc::default(),
        });
        let lab = Lab {
            io,
            dir: tempfile::tempdir().unwrap(),
            route: Arc::new(Mutex::new(None)),
            dc: None,
            term: 0,
            next_transition: Default::default(),
            dc_idle: Default::default(),
            alive: Mutex::new(HashMap::new()),
        };
        for n in NODES {
            lab.start_node(n);
        }
        lab
    }

    fn rsctmp(&self, node: &str) -> PathBuf {
        self.dir.path().join(node)
    }

    /// The node dies: nothing reaches it any more, nothing it still had under way
    /// reaches the DC, and then its executor's state is gone (as after a reboot).
    /// Removing the state while the old instance still ran let its monitors report
    /// the resources failed, and the DC recover them there.
    fn kill_node(&self, node: &str) {
        self.retire(node);
        std::fs::remove_dir_all(self.rsctmp(node)).unwrap();
    }

    /// The node's service instance (its process) ends: it is cut off both ways and
    /// its recurring monitors stop. The resources it started keep running.
    fn retire(&self, node: &str) {
        if let Some(alive) = self.alive.lock().unwrap().remove(node) {
            // Under the route's lock: a report already past the check has been
            // handed over, none follows.
            let _route = self.route.lock().unwrap();
            alive.store(false, std::sync::atomic::Ordering::SeqCst);
        }
        let Some(old) = self.io.nodes.lock().unwrap().remove(node) else {
            return;
        };
        let exec = old.executor();
        for (rsc, _) in exec.monitors() {
            exec.cancel_all_monitors(&rsc);
        }
    }

    /// Starts `node`'s service, ending the instance it replaces (a daemon restart).
    fn start_node(&self, node: &str) -> NodeService {
        self.retire(node);
        let dir = self.rsctmp(node);
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = ExecConfig {
            rsctmp: dir.clone(),
            varrun: Some(dir),
            node_name: Some(node.into()),
            ..Default::default()
        };
        let (exec, events) = Executor::new(cfg);
        let (route, links) = (self.route.clone(), self.io.links.clone());
        let name = node.to_string();
        let alive = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let me = alive.clone();
        let svc = NodeService::start(
            node,
            exec,
            events,
            Arc::new(move |m| {
                let late = {
                    let l = links.lock().unwrap();
                    if l.cut.contains(&name) {
                        return;
                    }
                    let synced = matches!(m, ControllerMsg::Synced { .. });
                    l.late_synced.get(&name).filter(|_| synced).copied()
                };
                match late {
                    None => deliver(&route, &me, &name, m),
                    Some(lag) => {
                        let (route, me, name) = (route.clone(), me.clone(), name.clone());
                        tokio::spawn(async move {
                            tokio::time::sleep(lag).await;
                            deliver(&route, &me, &name, m);
                        });
                    }
                }
            }),
            None,
        );
        self.alive.lock().unwrap().insert(node.into(), alive);
        self.io
            .nodes
            .lock()
            .unwrap()
            .insert(node.into(), svc.clone());
        svc
    }

    /// Starts the DC runtime on n1, in the next term.
    fn start_dc(&mut self) {
        self.term += 1;
        self.restart_dc();
    }

    /// Starts the DC runtime on n1 in the current term (as two-node mode does after
    /// it stepped aside to fence its peer while it kept leading).
    fn restart_dc(&mut self) {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.route.lock().unwrap() = Some(tx);
        let mut cfg = DcConfig::new("n1", self.term);
        cfg.tick = Duration::from_millis(50);
        cfg.next_transition = self.next_transition.clone();
        cfg.idle = self.dc_idle.clone();
        let io: Arc<dyn ClusterIo> = self.io.clone();
        let cib_rx = self.io.cib_tx.subscribe();
        self.dc = Some(tokio::spawn(dc::run(cfg, io, cib_rx, rx)));
    }

    /// The DC dies: its task ends, nodes have no one to report to.
    async fn kill_dc(&mut self) {
        *self.route.lock().unwrap() = None;
        if let Some(dc) = self.dc.take() {
            dc.abort();
            let _ = dc.await;
        }
    }

    fn cib(&self) -> Arc<Cib> {
        self.io.cib()
    }

    async fn propose(&self, c: Change) {
        self.io.propose(c).await.unwrap();
    }

    /// Nodes where the Dummy agent's state file for `rsc` exists (where it really runs).
    fn running_on(&self, rsc: &str) -> Vec<String> {
        NODES
            .iter()
            .filter(|n| state_file(&self.rsctmp(n), rsc).exists())
            .map(|n| n.to_string())
            .collect()
    }

    async fn wait_for(&self, what: &str, mut cond: impl FnMut(&Lab) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if cond(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "timed out waiting for: {what}\nCIB status: {:#?}",
            self.cib().status
        );
    }

    fn recorded_active_on(&self, rsc: &str) -> Vec<String> {
        // What the CIB says, through the policy engine's eyes (nothing while it
        // cannot be scheduled: a live migration half recorded).
        let Ok(t) = hactl_policy::schedule(&self.cib(), 2_000_000_000) else {
            return Vec::new();
        };
        t.placements
            .iter()
            .find(|p| p.resource == rsc)
            .map(|p| p.current.clone())
            .unwrap_or_default()
    }
}

fn state_file(dir: &Path, rsc: &str) -> PathBuf {
    dir.join(format!("Dummy-{rsc}.state"))
}

fn add_group(lab: &Lab) -> impl std::future::Future<Output = ()> + '_ {
    lab.propose(Change::AddResource {
        resource: Resource::Group(Group {
            id: "hagroup".into(),
            children: vec![dummy("vip"), dummy("web")],
            ..Default::default()
        }),
    })
}

/// A lab whose DC runs the group, settled on the node returned.
async fn settled_group() -> (Lab, String) {
    let mut lab = Lab::new();
    lab.start_dc();
    add_group(&lab).await;
    let at = group_settled(&lab).await;
    (lab, at)
}

/// As `settled_group`, with the DC's own node (n1) in standby: the node cut off or
/// killed later is another one, so the DC survives it.
async fn settled_group_off_the_dc() -> (Lab, String) {
    let mut lab = Lab::new();
    lab.start_dc();
    lab.propose(Change::SetStandby {
        node: "n1".into(),
        standby: true,
    })
    .await;
    add_group(&lab).await;
    let at = group_settled(&lab).await;
    (lab, at)
}

async fn group_settled(lab: &Lab) -> String {
    lab.wait_for("group running on one node, recorded so", |l| {
        let v = l.running_on("vip");
        v.len() == 1
            && l.running_on("web") == v
            && l.recorded_active_on("vip") == v
            && l.recorded_active_on("web") == v
    })
    .await;
    lab.running_on("vip")[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_starts_moves_and_recovers_a_group_with_real_agents() {
    let (lab, first) = settled_group().await;
    // Every node was probed under its current boot.
    lab.wait_for("probed attributes", |l| {
        NODES.iter().all(|n| {
            l.cib().status.nodes[*n]
                .attributes
                .contains_key(PROBED_ATTR)
        })
    })
    .await;

    // Standby moves it; the old node no longer runs anything.
    lab.propose(Change::SetStandby {
        node: first.clone(),
        standby: true,
    })
    .await;
    lab.wait_for("group moved off the standby node", |l| {
        let v = l.running_on("vip");
        v.len() == 1 && v[0] != first && l.running_on("web") == v
    })
    .await;
    let second = group_settled(&lab).await;

    // The process "dies": its recurring monitor notices, the DC restarts it in place.
    std::fs::remove_file(state_file(&lab.rsctmp(&second), "web")).unwrap();
    lab.wait_for("web failcount recorded and web back", |l| {
        let fc = l.cib().status.nodes[&second]
            .failcounts
            .iter()
            .any(|f| f.rsc == "web" && f.count.value() == 1);
        fc && l.running_on("web") == vec![second.clone()]
    })
    .await;
    assert_eq!(group_settled(&lab).await, second, "recovered in place");
}

/// A move does not wait a Raft round between the stop and the start elsewhere: the
/// start is dispatched once the old node has reported its stop, while the stop's
/// record is still being committed (held here until the start has run); the group
/// never runs on two nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_starts_elsewhere_once_the_stop_is_reported_not_recorded() {
    let (lab, from) = settled_group().await;
    let open = Arc::new(tokio::sync::Semaphore::new(0));
    let held = Arc::new(std::sync::atomic::AtomicBool::new(false));
    *lab.io.gate.lock().unwrap() = Some(Gate {
        rsc: "vip".into(),
        op: "stop".into(),
        open: open.clone(),
        held: held.clone(),
    });
    lab.propose(Change::SetStandby {
        node: from.clone(),
        standby: true,
    })
    .await;
    lab.wait_for(
        "vip running elsewhere while its stop's record is held",
        |l| {
            let on = l.running_on("vip");
            assert!(on.len() <= 1, "vip runs on {on:?} at once");
            held.load(std::sync::atomic::Ordering::SeqCst) && on.len() == 1 && on[0] != from
        },
    )
    .await;
    assert!(
        lab.cib().status.nodes[&from].resources["vip"]
            .ops
            .iter()
            .all(|o| o.operation != "stop"),
        "the stop's record is still held"
    );
    *lab.io.gate.lock().unwrap() = None;
    open.add_permits(1);
    let to = group_settled(&lab).await;
    assert_ne!(to, from);
}

/// Whether any node's status still holds history or a fail count of `rsc`.
fn remembered(cib: &Cib, rsc: &str) -> bool {
    cib.status
        .nodes
        .values()
        .any(|s| s.resources.contains_key(rsc) || s.failcounts.iter().any(|f| f.rsc == rsc))
}

/// `resource delete` of a resource that failed once: it is stopped, then its history
/// and fail counts go (nothing is left behind), and a new resource with the same id
/// starts with a clean slate, without a manual cleanup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_resource_leaves_nothing_behind_and_can_be_created_again() {
    let mut lab = Lab::new();
    lab.start_dc();
    let add = || Change::AddResource {
        resource: Resource::Primitive(dummy("foo")),
    };
    lab.propose(add()).await;
    lab.wait_for("foo running", |l| {
        let v = l.running_on("foo");
        v.len() == 1 && l.recorded_active_on("foo") == v
    })
    .await;
    let on = lab.running_on("foo")[0].clone();
    // A real failure: the agent's state goes away, its monitor notices, the DC
    // recovers it in place.
    std::fs::remove_file(state_file(&lab.rsctmp(&on), "foo")).unwrap();
    lab.wait_for("foo failed and recovered", |l| {
        let fc = l.cib().status.nodes[&on]
            .failcounts
            .iter()
            .any(|f| f.rsc == "foo" && f.count.value() == 1);
        fc && l.running_on("foo") == vec![on.clone()]
            && l.recorded_active_on("foo") == vec![on.clone()]
    })
    .await;
    // The failure stays on record (what `hactl status` lists under Failed Resource
    // Actions) though the monitor succeeds again; no probe's answer is a failure.
    let cib = lab.cib();
    let failures: Vec<_> = cib
        .status
        .nodes
        .values()
        .flat_map(|s| s.resources.values())
        .flat_map(|h| h.last_failures.iter())
        .map(|o| (o.operation.as_str(), o.interval_ms, o.rc))
        .collect();
    assert_eq!(failures, vec![("monitor", 500, 7)], "{:#?}", cib.status);

    lab.propose(Change::DeleteResource { id: "foo".into() })
        .await;
    lab.wait_for("foo stopped and forgotten everywhere", |l| {
        l.running_on("foo").is_empty() && !remembered(&l.cib(), "foo")
    })
    .await;

    lab.propose(add()).await;
    lab.wait_for("the new foo running", |l| {
        let v = l.running_on("foo");
        v.len() == 1 && l.recorded_active_on("foo") == v
    })
    .await;
    let cib = lab.cib();
    assert!(
        cib.status.nodes.values().all(|s| s.failcounts.is_empty()),
        "{:#?}",
        cib.status
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_executor_is_reprobed_and_its_running_resources_keep_monitors() {
    let (lab, at) = settled_group().await;
    let boot_before = lab.cib().status.nodes[&at].attributes[PROBED_ATTR].clone();

    // The executor service restarts (daemon restart): the resources stay up (their
    // state files remain), the new service remembers nothing.
    let svc = lab.start_node(&at);
    assert_eq!(svc.executor().monitors().len(), 0);
    lab.wait_for("reprobe recorded under the new boot", |l| {
        l.cib().status.nodes[&at].attributes.get(PROBED_ATTR) != Some(&boot_before)
    })
    .await;
    // The probes found both running: no restart, and their monitors are back.
    lab.wait_for("monitors restored on the restarted executor", |_| {
        svc.executor().monitors().len() == 2
    })
    .await;
    assert_eq!(group_settled(&lab).await, at);
    let hist = &lab.cib().status.nodes[&at].resources["web"];
    let starts = hist.ops.iter().filter(|o| o.operation == "start").count();
    assert_eq!(starts, 1, "not restarted");
}

/// A node that reboots (its executor's state gone) and rejoins is probed before
/// anything is planned on its old history: the group, moved meanwhile, stays where
/// it runs and is not stopped there. (It once failed 1 run in ~40 under load: the
/// DC planned on a CIB its own proposal returned, with the rejoin in it before the
/// watch brought it — `dc::rejoin_tests` shows that race deterministically.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebooted_node_does_not_keep_its_old_history() {
    let (lab, at) = settled_group().await;
    // The node dies (state gone, as after a reboot) and is recorded as lost.
    lab.kill_node(&at);
    lab.propose(member(&at, false)).await;
    let moved = group_settled(&lab).await;
    assert_ne!(moved, at);
    // It comes back with a fresh executor: its old "started" history must not make
    // the cluster think the group runs twice.
    lab.start_node(&at);
    lab.propose(member(&at, true)).await;
    lab.wait_for("rejoined node probed", |l| {
        l.cib().status.nodes[&at]
            .resources
            .get("vip")
            .is_some_and(|h| {
                let newest = h.ops.iter().max_by_key(|o| o.call_id).unwrap();
                newest.operation == "monitor" && newest.interval_ms == 0 && newest.rc == 7
            })
    })
    .await;
    assert_eq!(group_settled(&lab).await, moved, "the group stayed put");
    let hist = &lab.cib().status.nodes[&moved].resources["vip"];
    assert_eq!(
        hist.ops.iter().filter(|o| o.operation == "stop").count(),
        0,
        "no spurious stop of the running copy"
    );
}

/// Without fencing, a lost node's resources start elsewhere only after the hold the
/// DC derives from the CIB: the lost node may take each stop's timeout, one after
/// the other, to stop them (a fixed budget of a few hundred ms would not wait).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_nodes_group_starts_elsewhere_only_after_its_stop_timeouts() {
    let (lab, at) = settled_group().await;
    // The node dies: nothing runs there any more, nothing reaches it.
    lab.kill_node(&at);
    let lost = Instant::now();
    lab.propose(member(&at, false)).await;
    lab.wait_for("vip running on another node", |l| {
        !l.running_on("vip").is_empty()
    })
    .await;
    let waited = lost.elapsed();
    // vip and web: two stops, each bounded by its timeout.
    let chain = Duration::from_millis(2 * STOP_TIMEOUT_MS);
    assert!(
        waited >= chain,
        "vip started elsewhere {waited:?} after the loss, before the lost node's stop chain ({chain:?})"
    );
    assert_ne!(group_settled(&lab).await, at);
}

/// A DC stopped and started again in the same term (two-node mode steps aside while
/// it fences its peer) gives its transitions new ids: the nodes take a repeated
/// (transition, action) for a request they already ran, and the transition history
/// would show two transitions under one id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dc_restarted_in_the_same_term_does_not_reuse_transition_ids() {
    let mut lab = Lab::new();
    lab.start_dc();
    for rsc in ["first", "second"] {
        if rsc == "second" {
            lab.kill_dc().await;
            lab.restart_dc();
        }
        lab.propose(Change::AddResource {
            resource: Resource::Primitive(dummy(rsc)),
        })
        .await;
        lab.wait_for("started, and its transition recorded", |l| {
            let planned = l
                .cib()
                .status
                .transitions
                .iter()
                .any(|t| t.planned.iter().any(|p| p.contains(rsc)));
            planned && l.running_on(rsc).len() == 1 && l.recorded_active_on(rsc).len() == 1
        })
        .await;
    }
    let ids: Vec<u64> = lab.cib().status.transitions.iter().map(|t| t.id).collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "transition ids repeat: {ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dc_failover_mid_transition_records_the_in_flight_result() {
    let mut lab = Lab::new();
    lab.start_dc();
    lab.wait_for("initial probes recorded", |l| {
        NODES.iter().all(|n| {
            l.cib().status.nodes[*n]
                .attributes
                .contains_key(PROBED_ATTR)
        })
    })
    .await;
    // Every op of this agent takes 2 s: the DC dies while the start runs.
    let mut slow = dummy("slow");
    slow.agent = AgentSpec::parse("ocf:pacemaker:Dummy").unwrap();
    slow.params.insert("op_sleep".into(), "2".into());
    slow.ops.clear();
    lab.propose(Change::AddResource {
        resource: Resource::Primitive(slow),
    })
    .await;
    let starting = |l: &Lab| {
        NODES.iter().find(|n| {
            l.io.nodes.lock().unwrap()[**n]
                .executor()
                .history("slow")
                .iter()
                .any(|o| o.operation == "monitor")
                && l.cib().status.nodes[**n]
                    .resources
                    .get("slow")
                    .is_some_and(|h| h.ops.iter().all(|o| o.operation != "start"))
        })
    };
    // Probes (2 s each, in parallel) then the start is dispatched.
    lab.wait_for("probes of slow recorded on every node", |l| {
        NODES
            .iter()
            .all(|n| l.cib().status.nodes[*n].resources.contains_key("slow"))
    })
    .await;
    assert!(starting(&lab).is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    lab.kill_dc().await;
    // The start finishes on its node with nobody to tell: the node keeps the result.
    lab.wait_for("start finished on its node", |l| {
        l.running_on("slow").len() == 1
    })
    .await;
    let node = lab.running_on("slow")[0].clone();
    lab.wait_for("result kept in the outbox", |l| {
        l.io.nodes.lock().unwrap()[&node].unacked() >= 1
    })
    .await;
    assert!(
        lab.cib().status.nodes[&node].resources["slow"]
            .ops
            .iter()
            .all(|o| o.operation != "start"),
        "no DC recorded the start"
    );
    // The next DC asks every node for unacknowledged results before planning.
    lab.start_dc();
    lab.wait_for("start recorded by the new DC", |l| {
        l.recorded_active_on("slow") == vec![node.clone()]
    })
    .await;
    lab.wait_for("outbox drained", |l| {
        l.io.nodes.lock().unwrap()[&node].unacked() == 0
    })
    .await;
    // It did not start a second copy anywhere.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(lab.running_on("slow"), vec![node]);
}

/// No watchdog, quorum held under `policy`.
fn view(have: bool, policy: NoQuorumPolicy) -> QuorumView {
    QuorumView {
        have,
        policy,
        stonith_watchdog: None,
    }
}

/// The node running the settled group, with the DC gone and its own no-quorum
/// enforcement running; quorum views go to `qtx`.
struct Enforcing {
    at: String,
    svc: NodeService,
    qtx: watch::Sender<QuorumView>,
    task: tokio::task::JoinHandle<()>,
}

async fn enforcing(lab: &mut Lab, policy: NoQuorumPolicy) -> Enforcing {
    lab.start_dc();
    add_group(lab).await;
    let at = group_settled(lab).await;
    lab.kill_dc().await;
    let svc = lab.io.nodes.lock().unwrap()[&at].clone();
    let (qtx, qrx) = watch::channel(view(true, policy));
    let task = tokio::spawn(quorum::enforce(svc.clone(), qrx, true, Arc::default()));
    Enforcing { at, svc, qtx, task }
}

/// The node's executor ran a successful stop of `r`.
fn stopped(svc: &NodeService, r: &str) -> bool {
    svc.executor()
        .history(r)
        .iter()
        .any(|o| o.operation == "stop" && o.rc == 0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_quorum_with_policy_stop_stops_local_resources_without_a_dc() {
    let mut lab = Lab::new();
    let Enforcing { svc, qtx, task, .. } = enforcing(&mut lab, NoQuorumPolicy::Stop).await;
    qtx.send_replace(view(false, NoQuorumPolicy::Stop));
    lab.wait_for("both stops recorded by the local executor", |_| {
        stopped(&svc, "vip") && stopped(&svc, "web")
    })
    .await;
    assert!(lab.running_on("vip").is_empty() && lab.running_on("web").is_empty());
    // In reverse start order: web (started second) stopped first.
    let last_stop = |r: &str| {
        svc.executor()
            .history(r)
            .iter()
            .filter(|o| o.operation == "stop")
            .map(|o| o.call_id)
            .max()
            .unwrap()
    };
    assert!(last_stop("web") < last_stop("vip"));
    // The stops wait in the outbox for a DC.
    assert!(svc.unacked() >= 2);
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_quorum_with_policy_freeze_keeps_local_resources() {
    let mut lab = Lab::new();
    let Enforcing { at, svc, qtx, task } = enforcing(&mut lab, NoQuorumPolicy::Freeze).await;
    qtx.send_replace(view(false, NoQuorumPolicy::Freeze));
    // Nothing to wait for: give a stop (tens of ms for Dummy) ample time to happen.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(lab.running_on("vip"), vec![at.clone()]);
    assert_eq!(lab.running_on("web"), vec![at]);
    for r in ["vip", "web"] {
        assert!(
            svc.executor()
                .history(r)
                .iter()
                .all(|o| o.operation != "stop"),
            "{r} was not stopped"
        );
    }
    task.abort();
}

/// A node that regains quorum while it stops its resources for the loss stops no
/// more: what is left runs on, for the DC to decide (a node its witness granted went
/// on to stop what its own new DC had just started). The check before each stop is
/// driven here by a counter standing in for the quorum watch (`quorum::on_lost`
/// passes "quorum still lost").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stops_for_a_lost_quorum_end_when_quorum_is_back() {
    let mut lab = Lab::new();
    let Enforcing { at, svc, task, .. } = enforcing(&mut lab, NoQuorumPolicy::Stop).await;
    task.abort();
    let asked = std::sync::atomic::AtomicUsize::new(0);
    let out = svc
        .stop_all_local_while(|| asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0)
        .await;
    let names: Vec<&str> = out.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(names, ["web"], "stopped {names:?}");
    assert_eq!(lab.running_on("vip"), vec![at]);
    assert!(lab.running_on("web").is_empty());
}

/// Two-node mode defers `no-quorum-policy` (freeze) while it fences its peer or asks
/// its witness; a node refused must then stop what it runs, although it lost quorum
/// before, under the deferral.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_policy_that_becomes_stop_stops_local_resources() {
    let mut lab = Lab::new();
    let Enforcing { at, svc, qtx, task } = enforcing(&mut lab, NoQuorumPolicy::Stop).await;
    qtx.send_replace(view(false, NoQuorumPolicy::Freeze));
    // Let the freeze be applied (it keeps everything) before it is lifted.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(lab.running_on("vip"), vec![at.clone()]);
    qtx.send_replace(view(false, NoQuorumPolicy::Stop));
    lab.wait_for("both stops once the deferral ended", |_| {
        stopped(&svc, "vip") && stopped(&svc, "web")
    })
    .await;
    assert!(lab.running_on("vip").is_empty() && lab.running_on("web").is_empty());
    task.abort();
}

/// A watchdog the test can watch: every keepalive is noted, and it has expired —
/// a real one would have reset the machine — once the last keepalive is older than
/// its timeout. (No watchdog device exists on the machines these tests run on, and
/// the kernel's softdog would reset the machine running them.)
struct ObservedWatchdog {
    timeout: Duration,
    fed: Arc<Mutex<Vec<Instant>>>,
}

impl Watchdog for ObservedWatchdog {
    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn keepalive(&mut self) -> Result<(), WatchdogError> {
        self.fed.lock().unwrap().push(Instant::now());
        Ok(())
    }

    fn disarm(self: Box<Self>) -> Result<(), WatchdogError> {
        Ok(())
    }
}

const WATCHDOG: Duration = Duration::from_millis(400);
const STONITH_WATCHDOG: Duration = Duration::from_millis(1_200);

/// A node that lost quorum with an observed watchdog armed.
struct WithoutQuorum {
    /// The watchdog's keepalives.
    fed: Arc<Mutex<Vec<Instant>>>,
    fence: Arc<SelfFence>,
    /// When quorum went.
    lost: Instant,
    task: tokio::task::JoinHandle<()>,
}

/// The DC goes; node `at` arms an observed watchdog and loses quorum with
/// `stonith-watchdog-timeout` set.
async fn lose_quorum_with_watchdog(lab: &mut Lab, at: &str) -> (NodeService, WithoutQuorum) {
    lab.kill_dc().await;
    let svc = lab.io.nodes.lock().unwrap()[at].clone();
    let fed = Arc::new(Mutex::new(Vec::new()));
    let fence = Arc::new(SelfFence::default());
    fence.arm(
        Box::new(ObservedWatchdog {
            timeout: WATCHDOG,
            fed: fed.clone(),
        }),
        svc.node(),
    );
    let view = |have| QuorumView {
        have,
        policy: NoQuorumPolicy::Stop,
        stonith_watchdog: Some(STONITH_WATCHDOG),
    };
    let (qtx, qrx) = watch::channel(view(true));
    let task = tokio::spawn(quorum::enforce(svc.clone(), qrx, true, fence.clone()));
    let lost = Instant::now();
    qtx.send_replace(view(false));
    // The enforce task ends when the sender is dropped: keep it.
    let task = tokio::spawn(async move {
        let _keep = qtx;
        let _ = task.await;
    });
    let w = WithoutQuorum {
        fed,
        fence,
        lost,
        task,
    };
    (svc, w)
}

/// When the DC first dispatched `op` of `rsc` to a node other than `not_on`.
fn first_dispatch(lab: &Lab, rsc: &str, op: &str, not_on: &str) -> Option<Instant> {
    let sent = lab.io.dispatched.lock().unwrap();
    sent.iter()
        .find(|(_, n, r, o)| n != not_on && r == rsc && o == op)
        .map(|(at, ..)| *at)
}

/// A node without quorum whose stop outlasts `stonith-watchdog-timeout` minus the
/// watchdog's timeout stops feeding its watchdog: it is reset before the majority —
/// which holds a lost node's resources for `stonith-watchdog-timeout` — starts the
/// resource elsewhere. The order of the two is asserted; the times are printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_stop_overruns_self_fences_through_its_watchdog() {
    let mut lab = Lab::new();
    lab.propose(Change::SetProperty {
        name: "stonith-watchdog-timeout".into(),
        value: format!("{}ms", STONITH_WATCHDOG.as_millis()),
    })
    .await;
    lab.start_dc();
    // Every operation of this agent takes 2 s; its stop may take 10.
    let mut slow = dummy("slow");
    slow.agent = AgentSpec::parse("ocf:pacemaker:Dummy").unwrap();
    slow.params.insert("op_sleep".into(), "2".into());
    slow.ops = vec![OpSpec {
        name: "stop".into(),
        timeout_ms: Some(10_000),
        ..Default::default()
    }];
    lab.propose(Change::AddResource {
        resource: Resource::Primitive(slow),
    })
    .await;
    lab.wait_for("slow running and recorded", |l| {
        l.running_on("slow").len() == 1 && l.recorded_active_on("slow") == l.running_on("slow")
    })
    .await;
    let at = lab.running_on("slow")[0].clone();
    let (svc, w) = lose_quorum_with_watchdog(&mut lab, &at).await;
    // The majority's side: `at` is cut off, a new DC learns it is lost.
    lab.io.links.lock().unwrap().cut.insert(at.clone());
    lab.start_dc();
    lab.propose(member(&at, false)).await;
    lab.wait_for("slow's start dispatched elsewhere", |l| {
        first_dispatch(l, "slow", "start", &at).is_some()
    })
    .await;
    let started = first_dispatch(&lab, "slow", "start", &at).unwrap();
    // Self-fenced: it feeds its watchdog no more, which expires its timeout after the
    // last keepalive (a real one resets the machine then).
    assert!(w.fence.fenced(), "{at} had not self-fenced");
    let expired = *w.fed.lock().unwrap().last().unwrap() + WATCHDOG;
    println!(
        "watchdog expired {:?} after losing quorum; slow's start dispatched elsewhere {:?} after \
         (stonith-watchdog-timeout {STONITH_WATCHDOG:?})",
        expired - w.lost,
        started - w.lost
    );
    assert!(
        expired <= started,
        "slow started elsewhere {:?} before {at}'s watchdog expired",
        expired - started
    );
    assert!(
        svc.executor()
            .history("slow")
            .iter()
            .all(|o| o.operation != "stop"),
        "the stop was still running when the watchdog expired"
    );
    w.task.abort();
}

/// A node without quorum that stops everything in time keeps feeding its watchdog.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stops_in_time_keeps_feeding_its_watchdog() {
    let (mut lab, at) = settled_group().await;
    let (_, w) = lose_quorum_with_watchdog(&mut lab, &at).await;
    lab.wait_for("both stopped", |l| {
        l.running_on("vip").is_empty() && l.running_on("web").is_empty()
    })
    .await;
    // Past the point where it would have self-fenced and been reset.
    let past = w.lost + STONITH_WATCHDOG + WATCHDOG;
    lab.wait_for("keepalives past stonith-watchdog-timeout", |_| {
        w.fed.lock().unwrap().last().is_some_and(|t| *t > past)
    })
    .await;
    assert!(!w.fence.fenced());
    let fed = w.fed.lock().unwrap().clone();
    let longest = fed.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(longest < WATCHDOG, "a keepalive gap of {longest:?}");
    w.task.abort();
}

fn mark_shutdown(node: &str) -> Change {
    Change::SetTransientAttribute {
        node: node.into(),
        name: SHUTDOWN_ATTR.into(),
        value: Some("1700000000".into()),
    }
}

fn quorate() -> watch::Receiver<QuorumView> {
    watch::channel(QuorumView {
        have: true,
        policy: NoQuorumPolicy::Stop,
        stonith_watchdog: None,
    })
    .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_marked_shutting_down_is_drained_before_it_may_leave() {
    let (lab, at) = settled_group().await;
    let svc = lab.io.nodes.lock().unwrap()[&at].clone();

    lab.propose(mark_shutdown(&at)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    wait_drained(
        &at,
        Some(&svc),
        lab.io.cib_tx.subscribe(),
        quorate(),
        deadline,
    )
    .await
    .unwrap();
    // When the wait ends, the agents' state files are gone here (the processes are
    // stopped), the CIB says so, and the executor runs nothing.
    assert!(
        !lab.running_on("vip").contains(&at),
        "vip still runs on {at}"
    );
    assert!(
        !lab.running_on("web").contains(&at),
        "web still runs on {at}"
    );
    assert!(!lab.recorded_active_on("vip").contains(&at));
    assert!(svc.active().is_empty());
    // And the group then runs exactly once, elsewhere.
    let moved = group_settled(&lab).await;
    assert_ne!(moved, at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_that_fails_ends_the_drain_naming_the_resource() {
    let mut lab = Lab::new();
    lab.start_dc();
    // The real Delay agent: its stop sleeps 30 s, its stop timeout is 1 s.
    let mut slow = dummy("slow");
    slow.agent = AgentSpec::parse("ocf:heartbeat:Delay").unwrap();
    for (k, v) in [("startdelay", "0"), ("stopdelay", "30"), ("mondelay", "0")] {
        slow.params.insert(k.into(), v.into());
    }
    slow.ops.retain(|o| o.name != "stop");
    slow.ops.push(OpSpec {
        name: "stop".into(),
        timeout_ms: Some(1_000),
        ..Default::default()
    });
    lab.propose(Change::AddResource {
        resource: Resource::Primitive(slow),
    })
    .await;
    lab.wait_for("slow started", |l| l.recorded_active_on("slow").len() == 1)
        .await;
    let at = lab.recorded_active_on("slow")[0].clone();
    let svc = lab.io.nodes.lock().unwrap()[&at].clone();

    lab.propose(mark_shutdown(&at)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let err = wait_drained(
        &at,
        Some(&svc),
        lab.io.cib_tx.subscribe(),
        quorate(),
        deadline,
    )
    .await
    .unwrap_err();
    assert_eq!(err.resources(), vec!["slow".to_string()], "{err}");
    assert!(err.to_string().contains("stop of slow failed"), "{err}");
    // Well before the deadline: a failed stop is final.
    assert!(Instant::now() < deadline - Duration::from_secs(10));
}

/// How many transitions probed every resource on `node`.
fn reprobes_of(cib: &Cib, node: &str) -> usize {
    cib.status
        .transitions
        .iter()
        .filter(|t| {
            t.planned
                .iter()
                .any(|p| p.starts_with("probe every resource"))
                && t.actions
                    .iter()
                    .any(|a| a.task == "probe" && a.node == node)
        })
        .count()
}

/// A node is probed once per executor boot: at the DC's start and again after its
/// executor restarted (the probes' record is what says it was probed; a DC that
/// did not see its own record probed every node twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_is_probed_once_per_executor_boot() {
    let (lab, at) = settled_group().await;
    for n in NODES {
        assert_eq!(
            reprobes_of(&lab.cib(), n),
            1,
            "{n} probed once at the start"
        );
    }
    let boot_before = lab.cib().status.nodes[&at].attributes[PROBED_ATTR].clone();
    lab.start_node(&at);
    lab.wait_for("reprobe recorded under the new boot", |l| {
        l.cib().status.nodes[&at].attributes.get(PROBED_ATTR) != Some(&boot_before)
    })
    .await;
    assert_eq!(group_settled(&lab).await, at);
    // A second reprobe would follow the first before the DC has nothing under way.
    lab.wait_for("the DC idle", |l| {
        l.dc_idle.load(std::sync::atomic::Ordering::SeqCst)
    })
    .await;
    assert_eq!(
        reprobes_of(&lab.cib(), &at),
        2,
        "{at} probed again once, after its restart"
    );
}

/// Transitions that ran nothing but recurring monitors of `rsc`.
fn monitor_only_runs(cib: &Cib, rsc: &str) -> usize {
    cib.status
        .transitions
        .iter()
        .filter(|t| {
            !t.actions.is_empty()
                && t.actions.iter().all(|a| {
                    a.task == "monitor" && a.interval_ms > 0 && a.rsc.as_deref() == Some(rsc)
                })
        })
        .count()
}

/// A resource that starts gets its recurring monitor once, even when the CIB watch
/// that wakes the DC delivers a CIB older than the DC's own last proposal (the
/// daemon feeds it on its tick): the DC plans on the newest CIB, which holds the
/// monitor's record. Planning on the stale one started the monitor a second time
/// after every start. Nor does the late delivery of a configuration the DC has
/// already planned on abort that transition: the abort left the group's last
/// monitor to a transition of its own (about 1 run in 4 with 8 runs in parallel).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_cib_watch_does_not_start_a_monitor_twice() {
    let mut lab = Lab::new();
    *lab.io.watch_lag.lock().unwrap() = Some(Duration::from_millis(400));
    lab.start_dc();
    add_group(&lab).await;
    let from = group_settled(&lab).await;
    lab.propose(Change::SetStandby {
        node: from.clone(),
        standby: true,
    })
    .await;
    lab.wait_for("group moved", |l| {
        let v = l.running_on("vip");
        v.len() == 1 && v[0] != from
    })
    .await;
    group_settled(&lab).await;
    // Every late CIB has arrived and been looked at.
    lab.wait_for("every late CIB delivered, the DC idle", |l| {
        l.io.late.load(std::sync::atomic::Ordering::SeqCst) == 0
            && l.dc_idle.load(std::sync::atomic::Ordering::SeqCst)
    })
    .await;
    let cib = lab.cib();
    for rsc in ["vip", "web"] {
        assert_eq!(
            monitor_only_runs(&cib, rsc),
            0,
            "{rsc}'s monitor started again on its own: {:#?}",
            cib.status.transitions
        );
    }
}

/// The operations the CIB records for `rsc` on `node`.
fn recorded_ops(cib: &Cib, node: &str, rsc: &str) -> Vec<String> {
    cib.status.nodes[node]
        .resources
        .get(rsc)
        .map(|h| h.ops.iter().map(|o| o.operation.clone()).collect())
        .unwrap_or_default()
}

/// A resource with allow-migrate=true moves by the agent's migrate_to on the old
/// node and migrate_from on the new one (the real Dummy agent moves its state
/// file), not by stop and start; the history then shows it running on the new
/// node and the DC plans nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migratable_resource_moves_by_live_migration_with_real_agents() {
    let mut lab = Lab::new();
    lab.start_dc();
    let mut vm = dummy("vm");
    vm.meta.insert("allow-migrate".into(), "true".into());
    lab.propose(Change::AddResource {
        resource: Resource::Primitive(vm),
    })
    .await;
    lab.wait_for("vm running and recorded", |l| {
        let v = l.running_on("vm");
        v.len() == 1 && l.recorded_active_on("vm") == v
    })
    .await;
    let source = lab.running_on("vm")[0].clone();
    lab.propose(Change::SetStandby {
        node: source.clone(),
        standby: true,
    })
    .await;
    lab.wait_for("vm migrated off the standby node", |l| {
        let v = l.running_on("vm");
        v.len() == 1 && v[0] != source && l.recorded_active_on("vm") == v
    })
    .await;
    let target = lab.running_on("vm")[0].clone();
    let cib = lab.cib();
    let on_target = recorded_ops(&cib, &target, "vm");
    assert!(
        on_target.contains(&"migrate_from".to_string())
            && !on_target.contains(&"start".to_string()),
        "{on_target:?}"
    );
    let on_source = recorded_ops(&cib, &source, "vm");
    assert!(
        on_source.contains(&"migrate_to".to_string()) && on_source.contains(&"stop".to_string()),
        "{on_source:?}"
    );
    let t = hactl_policy::schedule(&cib, 2_000_000_000).unwrap();
    assert!(t.summary.is_empty(), "{:?}", t.summary);
}

/// How late a returning node's `Synced` arrives: past the DC's `sync_timeout` (2 s).
const LATE_SYNC: Duration = Duration::from_secs(3);

/// A node back from a partition answers the DC's `Resync` after `sync_timeout`. Its
/// recorded history is stale: it still shows the group started there, as the node
/// stopped it alone when it lost quorum and that stop waits in its outbox. The DC
/// must not plan on that history (it saw the group active on two nodes and restarted
/// it): it probes the node first. The group stays where it moved, is not stopped
/// there, and never runs on two nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_nodes_late_resync_does_not_restart_the_moved_group() {
    let (lab, at) = settled_group_off_the_dc().await;
    // Partition: `at` loses the DC and quorum; under no-quorum-policy=stop it stops
    // the group itself, and the stops wait in its outbox.
    lab.io.links.lock().unwrap().cut.insert(at.clone());
    let svc = lab.io.nodes.lock().unwrap()[&at].clone();
    let (qtx, qrx) = watch::channel(view(true, NoQuorumPolicy::Stop));
    let enforce = tokio::spawn(quorum::enforce(svc.clone(), qrx, true, Arc::default()));
    qtx.send_replace(view(false, NoQuorumPolicy::Stop));
    lab.propose(member(&at, false)).await;
    let moved = group_settled(&lab).await;
    assert_ne!(moved, at);
    assert!(stopped(&svc, "vip") && stopped(&svc, "web"));
    assert!(
        !recorded_ops(&lab.cib(), &at, "vip").contains(&"stop".to_string()),
        "the CIB has not learned the stop yet"
    );

    // `at` is back; its answer to the DC's `Resync` comes after sync_timeout.
    {
        let mut links = lab.io.links.lock().unwrap();
        links.late_synced.insert(at.clone(), LATE_SYNC);
        links.cut.remove(&at);
    }
    qtx.send_replace(view(true, NoQuorumPolicy::Stop));
    lab.propose(member(&at, true)).await;
    stays_where_it_moved(&lab, &moved, "the late Synced recorded", |_| {
        svc.unacked() == 0
    })
    .await;
    enforce.abort();
}

/// The same after a reboot: the node running the group dies (its executor's state
/// gone), the group moves, and the node comes back with a new executor whose
/// answers (`Synced` when it starts, and to `Resync`) come after `sync_timeout`. Its
/// recorded history still shows the group started there: the DC probes it rather
/// than restart the group where it moved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebooted_nodes_late_resync_does_not_restart_the_moved_group() {
    let (lab, at) = settled_group_off_the_dc().await;
    lab.kill_node(&at);
    lab.propose(member(&at, false)).await;
    let moved = group_settled(&lab).await;
    assert_ne!(moved, at);
    lab.io
        .links
        .lock()
        .unwrap()
        .late_synced
        .insert(at.clone(), LATE_SYNC);
    let svc = lab.start_node(&at);
    lab.propose(member(&at, true)).await;
    let boot = svc.boot().to_string();
    stays_where_it_moved(&lab, &moved, "probed under its new boot", |l| {
        l.cib().status.nodes[&at].attributes.get(PROBED_ATTR) == Some(&boot)
    })
    .await;
}

/// Waits for `done` and the DC idle while the group never runs on two nodes; then
/// it has not been stopped on `moved`, where it still runs.
async fn stays_where_it_moved(
    lab: &Lab,
    moved: &str,
    what: &str,
    mut done: impl FnMut(&Lab) -> bool,
) {
    let moved_svc = lab.io.nodes.lock().unwrap()[moved].clone();
    lab.wait_for(&format!("{what}, the DC idle"), |l| {
        for r in ["vip", "web"] {
            let on = l.running_on(r);
            assert!(on.len() <= 1, "{r} runs on {on:?} at once");
        }
        done(l) && l.dc_idle.load(std::sync::atomic::Ordering::SeqCst)
    })
    .await;
    for r in ["vip", "web"] {
        assert!(
            !stopped(&moved_svc, r),
            "{r} was restarted: stopped on {moved}"
        );
    }
    assert_eq!(group_settled(lab).await, moved);
}

/// How many times `svc`'s executor ran `op` on `rsc`.
fn ran(svc: &NodeService, rsc: &str, op: &str) -> usize {
    svc.executor()
        .history(rsc)
        .iter()
        .filter(|o| o.operation == op)
        .count()
}

/// The DC dies after a node reported a stop and before the stop's record committed
/// (the start elsewhere goes out on the report, not the record). The stop waits in
/// the node's outbox; the next DC learns it from the node's `Synced`: it neither
/// stops the group there again nor starts it anywhere else, and the group ends on
/// exactly one node, never on two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_reported_to_a_dc_that_died_before_recording_it_reaches_the_next_dc() {
    stop_reported_to_a_dying_dc(Answer::OnTime).await;
}

/// The same, with the stopping node's `Synced` reaching the next DC after
/// `sync_timeout`: the DC probes that node rather than take the group as still
/// running there (it saw it active on two nodes and stopped it again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_reported_to_a_dc_that_died_is_not_redone_when_the_next_dc_hears_late() {
    stop_reported_to_a_dying_dc(Answer::Late).await;
}

/// The same, with the next DC's first `Resync` to the stopping node lost: the DC
/// asks again, and the stop the node kept reaches the CIB (its outbox drains).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_reported_to_a_dc_that_died_reaches_the_next_dc_whose_resync_was_lost() {
    stop_reported_to_a_dying_dc(Answer::AskedTwice).await;
}

/// How the stopping node answers the next DC's `Resync`.
enum Answer {
    OnTime,
    /// After `sync_timeout`.
    Late,
    /// The first `Resync` is lost.
    AskedTwice,
}

async fn stop_reported_to_a_dying_dc(answer: Answer) {
    let mut lab = Lab::new();
    lab.start_dc();
    add_group(&lab).await;
    let from = group_settled(&lab).await;
    let open = Arc::new(tokio::sync::Semaphore::new(0));
    let held = Arc::new(std::sync::atomic::AtomicBool::new(false));
    *lab.io.gate.lock().unwrap() = Some(Gate {
        rsc: "vip".into(),
        op: "stop".into(),
        open,
        held: held.clone(),
    });
    lab.propose(Change::SetStandby {
        node: from.clone(),
        standby: true,
    })
    .await;
    lab.wait_for("vip's stop reported, its record held", |_| {
        held.load(std::sync::atomic::Ordering::SeqCst)
    })
    .await;
    // The DC dies with the record in flight: it never commits.
    lab.kill_dc().await;
    *lab.io.gate.lock().unwrap() = None;
    let svcs: Vec<NodeService> = NODES
        .iter()
        .map(|n| lab.io.nodes.lock().unwrap()[*n].clone())
        .collect();
    let from_svc = lab.io.nodes.lock().unwrap()[&from].clone();
    assert!(!recorded_ops(&lab.cib(), &from, "vip").contains(&"stop".to_string()));
    assert!(from_svc.unacked() >= 1, "the stop waits in the outbox");
    {
        let mut links = lab.io.links.lock().unwrap();
        match answer {
            Answer::OnTime => {}
            Answer::Late => {
                links.late_synced.insert(from.clone(), LATE_SYNC);
            }
            Answer::AskedTwice => {
                links.lost_resync.insert(from.clone());
            }
        }
    }
    lab.start_dc();
    lab.wait_for("the group settled, every result recorded", |l| {
        for r in ["vip", "web"] {
            let on = l.running_on(r);
            assert!(on.len() <= 1, "{r} runs on {on:?} at once");
            assert!(
                ran(&from_svc, r, "stop") <= 1,
                "{r} stopped again on {from}"
            );
            let starts: usize = svcs.iter().map(|s| ran(s, r, "start")).sum();
            assert!(starts <= 2, "{r} started a third time");
        }
        let on = l.running_on("vip");
        on.len() == 1
            && l.running_on("web") == on
            && l.recorded_active_on("vip") == on
            && l.recorded_active_on("web") == on
            && l.dc_idle.load(std::sync::atomic::Ordering::SeqCst)
            && from_svc.unacked() == 0
    })
    .await;
    let to = lab.running_on("vip")[0].clone();
    assert_ne!(to, from);
    for r in ["vip", "web"] {
        assert_eq!(ran(&from_svc, r, "stop"), 1, "{r} stopped once on {from}");
        let starts: usize = svcs.iter().map(|s| ran(s, r, "start")).sum();
        assert_eq!(starts, 2, "{r} started on {from}, then once on {to}");
    }
    assert!(
        svcs.iter().all(|s| s.unacked() == 0),
        "every result recorded"
    );
}

/// A migratable resource ordered after another one migrates when only it moves:
/// the DC runs migrate_to/migrate_from with the ordering's copies on the steps,
/// and the resource it is ordered after keeps running untouched (Pacemaker does
/// not restart what a migration is ordered against).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordered_migratable_resource_migrates_and_its_neighbour_stays() {
    use hactl_model::change::Constraint;
    use hactl_model::{LocationConstraint, OrderConstraint, Score};
    let mut lab = Lab::new();
    lab.start_dc();
    let mut vm = dummy("vm");
    vm.meta.insert("allow-migrate".into(), "true".into());
    for r in [dummy("db"), vm] {
        lab.propose(Change::AddResource {
            resource: Resource::Primitive(r),
        })
        .await;
    }
    let order = OrderConstraint {
        id: "db-then-vm".into(),
        first: "db".into(),
        then: "vm".into(),
        ..Default::default()
    };
    lab.propose(Change::AddConstraint {
        constraint: Constraint::Order(order),
    })
    .await;
    lab.wait_for("db and vm running and recorded", |l| {
        ["db", "vm"].iter().all(|r| {
            let on = l.running_on(r);
            on.len() == 1 && l.recorded_active_on(r) == on
        })
    })
    .await;
    let source = lab.running_on("vm")[0].clone();
    let db_node = lab.running_on("db")[0].clone();
    lab.propose(Change::AddConstraint {
        constraint: Constraint::Location(LocationConstraint {
            id: "vm-away".into(),
            rsc: "vm".into(),
            node: Some(source.clone()),
            score: Some(Score::NEG_INFINITY),
            ..Default::default()
        }),
    })
    .await;
    lab.wait_for("vm migrated away", |l| {
        let v = l.running_on("vm");
        v.len() == 1 && v[0] != source && l.recorded_active_on("vm") == v
    })
    .await;
    let cib = lab.cib();
    let target = lab.running_on("vm")[0].clone();
    let on_target = recorded_ops(&cib, &target, "vm");
    assert!(
        on_target.contains(&"migrate_from".to_string())
            && !on_target.contains(&"start".to_string()),
        "{on_target:?}"
    );
    assert!(recorded_ops(&cib, &source, "vm").contains(&"migrate_to".to_string()));
    let db_ops = recorded_ops(&cib, &db_node, "db");
    assert!(!db_ops.contains(&"stop".to_string()), "{db_ops:?}");
    assert_eq!(lab.running_on("db"), [db_node]);
}

/// The members of a group whose members have allow-migrate=true migrate one after
/// the other when the group moves (standby), with the real Dummy agent: no member
/// is stopped and started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migratable_group_members_migrate_when_the_group_moves() {
    let mut lab = Lab::new();
    lab.start_dc();
    let members: Vec<Primitive> = ["gm1", "gm2"]
        .iter()
        .map(|id| {
            let mut p = dummy(id);
            p.meta.insert("allow-migrate".into(), "true".into());
            p
        })
        .collect();
    lab.propose(Change::AddResource {
        resource: Resource::Group(Group {
            id: "mg".into(),
            children: members,
            ..Default::default()
        }),
    })
    .await;
    let settled = |l: &Lab| {
        let on = l.running_on("gm1");
        on.len() == 1 && l.running_on("gm2") == on && l.recorded_active_on("gm2") == on
    };
    lab.wait_for("the group running and recorded", settled)
        .await;
    let source = lab.running_on("gm1")[0].clone();
    lab.propose(Change::SetStandby {
        node: source.clone(),
        standby: true,
    })
    .await;
    lab.wait_for("the group migrated off the standby node", |l| {
        settled(l) && l.running_on("gm1")[0] != source
    })
    .await;
    let cib = lab.cib();
    let target = lab.running_on("gm1")[0].clone();
    for m in ["gm1", "gm2"] {
        let ops = recorded_ops(&cib, &target, m);
        assert!(
            ops.contains(&"migrate_from".to_string()) && !ops.contains(&"start".to_string()),
            "{m}: {ops:?}"
        );
    }
}

/// `have-watchdog=true` written into the CIB (by hand, or by an imported Pacemaker
/// CIB) with no fence device and no watchdog armed anywhere: the DC does not count
/// the claim as a way to fence, so it starts nothing it could never recover by
/// fencing (as with fencing on and no device). Once every node's daemon has said it
/// armed a watchdog (the attribute each records when it joins), the resource starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_watchdog_counts_as_fencing_only_once_every_node_armed_one() {
    use hactl_controller::watchdog::WATCHDOG_ATTR;
    let mut lab = Lab::new();
    for (k, v) in [("stonith-enabled", "true"), ("have-watchdog", "true")] {
        lab.propose(Change::SetProperty {
            name: k.into(),
            value: v.into(),
        })
        .await;
    }
    lab.start_dc();
    lab.propose(Change::AddResource {
        resource: Resource::Primitive(dummy("foo")),
    })
    .await;
    let started = |l: &Lab| {
        let d = l.io.dispatched.lock().unwrap();
        d.iter().any(|(_, _, r, op)| r == "foo" && op == "start")
    };
    lab.wait_for("foo probed on every node, the DC idle", |l| {
        assert!(!started(l), "foo started without a way to fence");
        let cib = l.cib();
        NODES
            .iter()
            .all(|n| cib.status.nodes[*n].resources.contains_key("foo"))
            && l.dc_idle.load(std::sync::atomic::Ordering::SeqCst)
    })
    .await;
    assert!(!started(&lab) && lab.running_on("foo").is_empty());

    for n in NODES {
        lab.propose(Change::SetTransientAttribute {
            node: n.into(),
            name: WATCHDOG_ATTR.into(),
            value: Some("5000".into()),
        })
        .await;
    }
    lab.wait_for("foo running once every node armed a watchdog", |l| {
        let v = l.running_on("foo");
        v.len() == 1 && l.recorded_active_on("foo") == v
    })
    .await;
}

/// A failure a node could not report (it was cut off) waits in its outbox; when the
/// node is back, its answer to `Resync` (`Synced`, with that failure) arrives after
/// `sync_timeout`, so the DC has probed the node meanwhile and recorded the newer
/// probe results first. The older failure is not recorded as the newest result (the
/// probe's is newer), but its fail count is not lost: it counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_in_a_late_synced_backlog_still_counts() {
    let (lab, at) = settled_group_off_the_dc().await;
    // Nowhere else to go: the group stays on `at` while it is away.
    let third = NODES.iter().find(|n| **n != "n1" && **n != at).unwrap();
    lab.propose(Change::SetStandby {
        node: third.to_string(),
        standby: true,
    })
    .await;
    lab.io.links.lock().unwrap().cut.insert(at.clone());
    lab.propose(member(&at, false)).await;
    let svc = lab.io.nodes.lock().unwrap()[&at].clone();
    // web fails while `at` is cut off: its monitor's report waits in the outbox.
    std::fs::remove_file(state_file(&lab.rsctmp(&at), "web")).unwrap();
    let unacked = svc.unacked();
    lab.wait_for("web's monitor failure waiting in the outbox", |_| {
        let failed = svc
            .executor()
            .history("web")
            .iter()
            .any(|o| o.operation == "monitor" && o.interval_ms == 500 && o.rc == 7);
        failed && svc.unacked() > unacked
    })
    .await;
    // The DC's hold for the lost node is over (a DC still holding plans nothing,
    // probes included, until the late Synced has come).
    lab.wait_for("the DC idle", |l| {
        l.dc_idle.load(std::sync::atomic::Ordering::SeqCst)
    })
    .await;
    {
        let mut links = lab.io.links.lock().unwrap();
        links.late_synced.insert(at.clone(), LATE_SYNC);
        links.cut.remove(&at);
    }
    lab.propose(member(&at, true)).await;
    lab.wait_for("the late Synced recorded, web back, the DC idle", |l| {
        svc.unacked() == 0
            && l.running_on("web") == vec![at.clone()]
            && l.dc_idle.load(std::sync::atomic::Ordering::SeqCst)
    })
    .await;
    let cib = lab.cib();
    let web: Vec<_> = cib.status.nodes[&at]
        .failcounts
        .iter()
        .filter(|f| f.rsc == "web")
        .map(|f| (f.op.as_deref(), f.interval_ms, f.count.value()))
        .collect();
    assert_eq!(
        web,
        [(Some("monitor"), Some(500), 1)],
        "{:#?}",
        cib.status.nodes[&at]
    );
}
