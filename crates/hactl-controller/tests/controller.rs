//! `Controller` — what the daemon runs — on three simulated hosts in one process:
//! peer messages travel as the encoded bytes the daemon would send over QUIC, the
//! leader and quorum are set by the test, the CIB is shared and a proposal applies
//! directly (no Raft). The agents are the real `ocf:heartbeat:Dummy`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hactl_controller::split_brain::Liveness;
use hactl_controller::{Controller, ControllerConfig, Host};
use hactl_exec::ExecConfig;
use hactl_model::change::Change;
use hactl_model::{AgentSpec, Cib, NoQuorumPolicy, OpSpec, Primitive, Resource};

mod common;

const NODES: [&str; 3] = ["n1", "n2", "n3"];

#[derive(Default)]
struct World {
    cib: Mutex<Arc<Cib>>,
    leader: Mutex<Option<String>>,
    ctls: Mutex<HashMap<String, Arc<Controller>>>,
    /// Links that are cut (from, to).
    cut: Mutex<Vec<(String, String)>>,
}

struct FakeHost {
    me: String,
    world: Arc<World>,
}

impl Host for FakeHost {
    fn me(&self) -> String {
        self.me.clone()
    }

    fn send_peer(&self, node: &str, payload: Vec<u8>) {
        let cut = self
            .world
            .cut
            .lock()
            .unwrap()
            .contains(&(self.me.clone(), node.to_string()));
        if cut {
            return;
        }
        let ctl = self.world.ctls.lock().unwrap().get(node).cloned();
        if let Some(c) = ctl {
            let from = self.me.clone();
            // Asynchronous delivery, like the transport.
            tokio::spawn(async move { c.on_peer(&from, &payload) });
        }
    }

    fn leader(&self) -> Option<String> {
        self.world.leader.lock().unwrap().clone()
    }

    fn propose(
        &self,
        change: Change,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        let r = {
            let mut g = self.world.cib.lock().unwrap();
            let mut c = (**g).clone();
            change
                .apply(&mut c)
                .map(|()| *g = Arc::new(c))
                .map_err(|e| e.to_string())
        };
        Box::pin(async move { r })
    }

    fn cib(&self) -> Arc<Cib> {
        self.world.cib.lock().unwrap().clone()
    }
}

fn base_cib() -> Cib {
    common::online_cib(&NODES)
}

fn dummy(id: &str) -> Resource {
    Resource::Primitive(Primitive {
        id: id.into(),
        agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
        ops: vec![OpSpec {
            name: "monitor".into(),
            interval_ms: 500,
            timeout_ms: Some(10_000),
            ..Default::default()
        }],
        ..Default::default()
    })
}

struct Lab {
    world: Arc<World>,
    dir: tempfile::TempDir,
    term: u64,
}

impl Lab {
    fn new() -> Lab {
        let world = Arc::new(World::default());
        *world.cib.lock().unwrap() = Arc::new(base_cib());
        let dir = tempfile::tempdir().unwrap();
        for n in NODES {
            let d = dir.path().join(n);
            std::fs::create_dir_all(&d).unwrap();
            let cfg = ControllerConfig {
                exec: ExecConfig {
                    rsctmp: d.clone(),
                    varrun: Some(d),
                    node_name: Some(n.into()),
                    ..Default::default()
                },
                liveness: Liveness::new(
                    Duration::from_millis(50),
                    Duration::from_millis(250),
                    Duration::from_millis(20),
                ),
                fencer: None,
                device_monitor: None,
            };
            let host = Arc::new(FakeHost {
                me: n.into(),
                world: world.clone(),
            });
            let c = Controller::start(host, cfg);
            world.ctls.lock().unwrap().insert(n.into(), c);
        }
        Lab {
            world,
            dir,
            term: 1,
        }
    }

    fn ctl(&self, n: &str) -> Arc<Controller> {
        self.world.ctls.lock().unwrap()[n].clone()
    }

    /// One liveness round on every node, as the daemon's monitor loop does.
    fn tick(&self, quorum: &HashMap<&str, bool>) {
        let leader = self.world.leader.lock().unwrap().clone();
        for n in NODES {
            let have = quorum.get(n).copied().unwrap_or(true);
            let leads = (leader.as_deref() == Some(n) && have).then_some(self.term);
            self.ctl(n).update(leads, have, NoQuorumPolicy::Stop);
        }
    }

    fn running_on(&self, rsc: &str) -> Vec<String> {
        NODES
            .iter()
            .filter(|n| {
                self.dir
                    .path()
                    .join(n)
                    .join(format!("Dummy-{rsc}.state"))
                    .exists()
            })
            .map(|n| n.to_string())
            .collect()
    }

    async fn run_until(
        &self,
        what: &str,
        quorum: &HashMap<&str, bool>,
        mut cond: impl FnMut(&Lab) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            self.tick(quorum);
            if cond(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("timed out: {what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_runs_the_dc_and_remote_nodes_execute_over_peer_messages() {
    let lab = Lab::new();
    *lab.world.leader.lock().unwrap() = Some("n1".into());
    let all = HashMap::new();
    lab.run_until("n1 is DC", &all, |l| l.ctl("n1").is_dc())
        .await;
    assert!(!lab.ctl("n2").is_dc() && !lab.ctl("n3").is_dc());
    // Keep n1 from running it, so the work goes over peer messages.
    let host = FakeHost {
        me: "n1".into(),
        world: lab.world.clone(),
    };
    host.propose(Change::AddResource {
        resource: dummy("r"),
    })
    .await
    .unwrap();
    host.propose(Change::SetStandby {
        node: "n1".into(),
        standby: true,
    })
    .await
    .unwrap();
    lab.run_until("r running on n2 or n3 and recorded", &all, |l| {
        let on = l.running_on("r");
        on.len() == 1
            && on[0] != "n1"
            && l.world.cib.lock().unwrap().status.nodes[&on[0]]
                .resources
                .get("r")
                .is_some_and(|h| h.ops.iter().any(|o| o.operation == "start" && o.rc == 0))
    })
    .await;
    let at = lab.running_on("r")[0].clone();

    // Leadership moves to another node: the old DC stops, the new one takes over and
    // keeps the resource where it is.
    let other = NODES
        .iter()
        .find(|n| **n != "n1" && **n != at)
        .unwrap()
        .to_string();
    *lab.world.leader.lock().unwrap() = Some(other.clone());
    let mut l2 = lab;
    l2.term = 2;
    l2.run_until("new DC", &all, |l| {
        l.ctl(&other).is_dc() && !l.ctl("n1").is_dc()
    })
    .await;
    // The holder is cut off and loses quorum: no-quorum-policy=stop, with no DC
    // involved (its report cannot reach one).
    for n in NODES {
        if n != at {
            l2.world
                .cut
                .lock()
                .unwrap()
                .push((n.to_string(), at.clone()));
            l2.world
                .cut
                .lock()
                .unwrap()
                .push((at.clone(), n.to_string()));
        }
    }
    let mut q = HashMap::new();
    q.insert(at.as_str(), false);
    // The agent removes its state file before the stop's result is reported: wait
    // for both, the report staying in the outbox (no DC can acknowledge it).
    l2.run_until(
        "r stopped on the node without quorum, the stop waiting for a DC",
        &q,
        |l| l.running_on("r").is_empty() && l.ctl(&at).service().unacked() >= 1,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_from_a_node_that_is_not_the_dc_are_refused() {
    let lab = Lab::new();
    *lab.world.leader.lock().unwrap() = Some("n1".into());
    let all = HashMap::new();
    lab.run_until("n1 is DC", &all, |l| l.ctl("n1").is_dc())
        .await;
    let d = hactl_controller::Dispatch {
        transition: 1,
        action: 0,
        node: "n3".into(),
        details: hactl_controller::ops::op_details(
            &{
                let mut c = base_cib();
                c.config.resources.push(dummy("x"));
                c
            },
            "x",
            "n3",
            "start",
            0,
        )
        .unwrap(),
        expected_rc: 0,
    };
    let msg = hactl_controller::messages::ControllerMsg::Execute(d).to_json();
    let started = |l: &Lab| {
        l.ctl("n3")
            .service()
            .executor()
            .history("x")
            .iter()
            .any(|o| o.operation == "start")
    };
    lab.ctl("n3").on_peer("n2", &msg);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!started(&lab), "n2 is not the DC: ignored");
    lab.ctl("n3").on_peer("n1", &msg);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !started(&lab) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // (The DC then stops it again: x is not configured, an orphan.)
    assert!(started(&lab), "the DC's order was carried out");
    // Garbage is dropped, not a panic.
    lab.ctl("n3").on_peer("n1", b"{not json");
}

/// A node put in maintenance keeps its resources running but stops monitoring
/// them: the scheduler plans a cancel of the recurring monitor, the node's executor
/// stops it and its history entry says it was cancelled (as in Pacemaker, where a
/// monitor left running would report failures nobody may act on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_cancels_the_recurring_monitor_where_it_runs() {
    let lab = Lab::new();
    *lab.world.leader.lock().unwrap() = Some("n1".into());
    let all = HashMap::new();
    let host = FakeHost {
        me: "n1".into(),
        world: lab.world.clone(),
    };
    host.propose(Change::AddResource {
        resource: dummy("r"),
    })
    .await
    .unwrap();
    let monitored = |l: &Lab, node: &str| {
        let in_history = l.world.cib.lock().unwrap().status.nodes[node]
            .resources
            .get("r")
            .is_some_and(|h| {
                // A cancelled monitor's record says so (op_status 1, cancelled).
                h.ops
                    .iter()
                    .any(|o| o.interval_ms == 500 && o.op_status != 1)
            });
        let in_executor = l
            .ctl(node)
            .service()
            .executor()
            .monitors()
            .iter()
            .any(|(rsc, iv)| rsc == "r" && *iv == Duration::from_millis(500));
        (in_history, in_executor)
    };
    lab.run_until("r running and monitored", &all, |l| {
        let on = l.running_on("r");
        on.len() == 1 && monitored(l, &on[0]) == (true, true)
    })
    .await;
    let at = lab.running_on("r")[0].clone();
    host.propose(Change::SetMaintenance {
        node: at.clone(),
        maintenance: true,
    })
    .await
    .unwrap();
    lab.run_until("the monitor cancelled and recorded so", &all, |l| {
        monitored(l, &at) == (false, false)
    })
    .await;
    // Maintenance leaves the resource itself alone.
    assert_eq!(lab.running_on("r"), vec![at]);
}
