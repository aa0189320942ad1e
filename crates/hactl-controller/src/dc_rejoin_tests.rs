//! A node that rejoins is resynced and probed before anything is planned on its
//! history, even when the DC first sees the join in the CIB one of its own
//! proposals returned (the daemon feeds the DC's CIB watch on its tick, so the
//! watch can come later). What stands in for the daemon and the nodes: the CIB in
//! a mutex, a proposal applied with the model's own `Change::apply` (no Raft), and
//! the test answering the DC's messages as the nodes' services would (the real
//! services and agents are in `tests/runtime.rs`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hactl_model::change::{Change, NodeStateUpdate};
use hactl_model::{AgentSpec, Cib, Node, NodeStatus, OpRecord, OpSpec, Primitive, Resource};
use tokio::sync::{mpsc, watch};

use super::{run, ClusterIo, DcConfig, PROBED_ATTR};
use crate::engine::Dispatch;
use crate::messages::{ControllerMsg, Report};
use crate::ops::Outcome;
use crate::Proposal;

struct Io {
    cib: Mutex<Arc<Cib>>,
    sent: mpsc::UnboundedSender<(String, ControllerMsg)>,
}

impl ClusterIo for Io {
    fn send(&self, node: &str, msg: ControllerMsg) {
        self.sent.send((node.into(), msg)).expect("test receiver");
    }

    fn propose(&self, change: Change) -> Proposal<'_> {
        let mut g = self.cib.lock().expect("test CIB lock");
        let mut c = (**g).clone();
        let r = change
            .apply(&mut c)
            .map(|()| *g = Arc::new(c))
            .map_err(Into::into);
        Box::pin(async move { r })
    }

    fn cib(&self) -> Arc<Cib> {
        self.cib.lock().expect("test CIB lock").clone()
    }
}

fn started() -> OpRecord {
    OpRecord {
        operation: "start".into(),
        call_id: 1,
        ..Default::default()
    }
}

/// n1 (the DC) and n2 online, r running on n2; n3 lost, its history still saying
/// r was started there before it went (it has rebooted since).
fn cib() -> Cib {
    let mut cib = Cib::default();
    cib.config
        .properties
        .insert("stonith-enabled".into(), "false".into());
    cib.status.have_quorum = true;
    cib.config.resources.push(Resource::Primitive(Primitive {
        id: "r".into(),
        agent: AgentSpec::parse("ocf:heartbeat:Dummy").expect("agent spec"),
        // Bounds the new DC's split-brain hold (fencing is off).
        ops: vec![
            OpSpec {
                name: "stop".into(),
                timeout_ms: Some(100),
                ..Default::default()
            },
            OpSpec {
                name: "monitor".into(),
                interval_ms: 10_000,
                ..Default::default()
            },
        ],
        ..Default::default()
    }));
    for (i, n) in ["n1", "n2", "n3"].into_iter().enumerate() {
        cib.config.nodes.push(Node {
            id: n.into(),
            name: n.into(),
            ..Default::default()
        });
        let online = n != "n3";
        let mut st = NodeStatus {
            member: Some(online),
            controller_online: Some(online),
            join: Some(if online { "member" } else { "down" }.into()),
            ..Default::default()
        };
        st.attributes
            .insert(PROBED_ATTR.into(), (i + 1).to_string());
        cib.status.nodes.insert(n.into(), st);
    }
    for n in ["n2", "n3"] {
        Change::RecordOp {
            node: n.into(),
            rsc: "r".into(),
            agent: AgentSpec::parse("ocf:heartbeat:Dummy").expect("agent spec"),
            op: started(),
        }
        .apply(&mut cib)
        .expect("history");
    }
    cib
}

fn ok(rc: i32) -> Outcome {
    Outcome {
        rc,
        op_status: 0,
        exit_reason: None,
        exec_ms: 0,
        queue_ms: 0,
        started_at: 0,
        digest: None,
        restart: None,
    }
}

/// The nodes' side: boots, report seqs, and what they were asked to run.
struct Nodes {
    boots: HashMap<String, u64>,
    seq: u64,
    ran: Vec<Dispatch>,
    dc: mpsc::UnboundedSender<(String, ControllerMsg)>,
}

impl Nodes {
    fn synced(&self, node: &str, reports: Vec<Report>) {
        let msg = ControllerMsg::Synced {
            node: node.into(),
            boot: self.boots[node],
            reports,
        };
        self.dc.send((node.into(), msg)).expect("DC inbox");
    }

    fn report(&mut self, node: &str, d: &Dispatch, rc: i32) -> Report {
        self.seq += 1;
        Report {
            seq: self.seq,
            node: node.into(),
            boot: self.boots[node],
            transition: Some(d.transition),
            action: Some(d.action),
            details: d.details.clone(),
            outcome: ok(rc),
        }
    }

    /// Answers one message as the node's service would: r runs on n2 only.
    fn answer(&mut self, node: &str, msg: ControllerMsg) {
        match msg {
            ControllerMsg::Resync => self.synced(node, Vec::new()),
            ControllerMsg::Execute(d) => {
                let probe = d.details.op == "monitor" && d.details.interval_ms == 0;
                let rc = if probe && node != "n2" { 7 } else { 0 };
                let r = self.report(node, &d, rc);
                self.ran.push(d);
                self.dc
                    .send((node.into(), ControllerMsg::Report(r)))
                    .expect("DC inbox");
            }
            _ => {}
        }
    }
}

/// Answers the DC's messages until `done` holds for what the nodes ran, and the DC
/// has nothing under way.
async fn serve(
    nodes: &mut Nodes,
    sent: &mut mpsc::UnboundedReceiver<(String, ControllerMsg)>,
    idle: &AtomicBool,
    done: impl Fn(&[Dispatch]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if done(&nodes.ran) && idle.load(Ordering::SeqCst) {
            return;
        }
        let next = tokio::time::timeout_at(deadline, async {
            tokio::select! {
                m = sent.recv() => m,
                _ = tokio::time::sleep(Duration::from_millis(20)) => None,
            }
        });
        match next.await {
            Ok(Some((node, msg))) => nodes.answer(&node, msg),
            Ok(None) => {}
            Err(_) => panic!("timed out; the nodes ran {:#?}", nodes.ran),
        }
    }
}

fn probed_on(ran: &[Dispatch], node: &str) -> bool {
    ran.iter()
        .any(|d| d.node == node && d.details.op == "monitor" && d.details.interval_ms == 0)
}

/// The DC's watch never delivers the rejoin here; the DC learns of it from the
/// CIB its proposal of n2's monitor result returned. Planned on n3's old history,
/// r looked active on n2 and n3, and the DC restarted it (stopping the copy on n2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejoin_seen_first_through_a_proposal_is_resynced_and_probed_first() {
    let (sent_tx, mut sent) = mpsc::unbounded_channel();
    let io = Arc::new(Io {
        cib: Mutex::new(Arc::new(cib())),
        sent: sent_tx,
    });
    let (_cib_tx, cib_rx) = watch::channel(io.cib());
    let (dc_tx, dc_rx) = mpsc::unbounded_channel();
    let mut cfg = DcConfig::new("n1", 1);
    cfg.tick = Duration::from_millis(20);
    let idle = cfg.idle.clone();
    let dc = tokio::spawn(run(cfg, io.clone(), cib_rx, dc_rx));
    let boots = [("n1", 1), ("n2", 2), ("n3", 3)].map(|(n, b)| (n.to_string(), b));
    let mut nodes = Nodes {
        boots: boots.into(),
        seq: 0,
        ran: Vec::new(),
        dc: dc_tx,
    };
    // r is probed where nothing says whether it runs (n1).
    serve(&mut nodes, &mut sent, &idle, |ran| probed_on(ran, "n1")).await;
    nodes.ran.clear();

    // n3 rejoins with a new boot: the CIB says so, the watch does not (yet).
    io.propose(Change::SetNodeState {
        node: "n3".into(),
        state: NodeStateUpdate {
            member: Some(true),
            controller_online: Some(true),
            join: Some("member".into()),
            expected: None,
        },
    })
    .await
    .expect("rejoin");
    nodes.boots.insert("n3".into(), 99);
    nodes.synced("n3", Vec::new());
    // A result the DC records (its proposal returns the CIB with n3 back).
    let mut monitor =
        crate::ops::op_details(&io.cib(), "r", "n2", "monitor", 10_000).expect("op details");
    monitor.timeout_ms = 20_000;
    let d = Dispatch {
        transition: 0,
        action: 0,
        node: "n2".into(),
        details: monitor,
        expected_rc: 0,
    };
    let mut r = nodes.report("n2", &d, 0);
    (r.transition, r.action) = (None, None);
    nodes
        .dc
        .send(("n2".into(), ControllerMsg::Report(r)))
        .expect("DC inbox");

    let stops = |ran: &[Dispatch]| -> Vec<Dispatch> {
        ran.iter()
            .filter(|d| d.details.op == "stop")
            .cloned()
            .collect()
    };
    serve(&mut nodes, &mut sent, &idle, |ran| {
        probed_on(ran, "n3") || !stops(ran).is_empty()
    })
    .await;
    let stops = stops(&nodes.ran);
    assert!(stops.is_empty(), "planned on n3's old history: {stops:#?}");
    dc.abort();
}
