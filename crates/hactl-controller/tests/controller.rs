//! `Controller` — what the daemon runs — on three simulated hosts in one process:
//! peer messages travel as the encoded bytes the daemon would send over QUIC, the
//! leader and quorum are set by the test, the CIB is shared and a proposal applies
//! directly (no Raft). The agents are the real `ocf:heartbeat:Dummy`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hactl_controller::messages::{ControllerMsg, Envelope};
use hactl_controller::split_brain::Liveness;
use hactl_controller::{Controller, ControllerConfig, Host};
use hactl_exec::ExecConfig;
use hactl_model::change::Change;
use hactl_model::{AgentSpec, Cib, CloneSet, NoQuorumPolicy, OpSpec, Primitive, Resource};

mod common;

const NODES: [&str; 3] = ["n1", "n2", "n3"];

#[derive(Default)]
struct World {
    cib: Mutex<Arc<Cib>>,
    /// The Raft leader and term, as every node knows them.
    leader: Mutex<Option<String>>,
    term: Mutex<u64>,
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

    fn term(&self) -> u64 {
        *self.world.term.lock().unwrap()
    }

    fn propose(&self, change: Change) -> hactl_controller::Proposal<'_> {
        if self.leader().as_deref() != Some(self.me.as_str()) {
            let e = hactl_controller::ProposeError::NotCommitted("not the leader".into());
            return Box::pin(async move { Err(e) });
        }
        let r = {
            let mut g = self.world.cib.lock().unwrap();
            let mut c = (**g).clone();
            change
                .apply(&mut c)
                .map(|()| *g = Arc::new(c))
                .map_err(hactl_controller::ProposeError::from)
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

/// An OCF agent (`ocf:test:Recorder`) that runs like Dummy (a state file per
/// node) and appends every notification it gets to `notify.log` in its node's
/// directory: type, operation, then the start/stop lists and the active nodes.
/// Every start and stop it runs goes to `ops.log` there, in the order it ran.
const RECORDER: &str = r#"#!/bin/sh
state="$HA_RSCTMP/Recorder-$OCF_RESOURCE_INSTANCE.state"
case "$1" in start|stop) echo "$1 $OCF_RESOURCE_INSTANCE" >> "$HA_RSCTMP/ops.log" ;; esac
case "$1" in
start) touch "$state" ;;
stop) rm -f "$state" ;;
monitor) [ -f "$state" ] || exit 7 ;;
notify)
    echo "$OCF_RESOURCE_INSTANCE $OCF_RESKEY_CRM_meta_notify_type $OCF_RESKEY_CRM_meta_notify_operation start=[$OCF_RESKEY_CRM_meta_notify_start_uname] stop=[$OCF_RESKEY_CRM_meta_notify_stop_uname] stop_rsc=[$OCF_RESKEY_CRM_meta_notify_stop_resource] active=[$OCF_RESKEY_CRM_meta_notify_active_uname]" >> "$HA_RSCTMP/notify.log" ;;
meta-data) echo '<resource-agent name="Recorder"><actions><action name="notify" timeout="20s"/></actions></resource-agent>' ;;
*) exit 3 ;;
esac
exit 0
"#;

fn write_agent(path: &std::path::Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

struct Lab {
    world: Arc<World>,
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        let world = Arc::new(World::default());
        *world.cib.lock().unwrap() = Arc::new(base_cib());
        *world.term.lock().unwrap() = 1;
        let dir = tempfile::tempdir().unwrap();
        let agents = dir.path().join("agents");
        std::fs::create_dir_all(&agents).unwrap();
        write_agent(&agents.join("Recorder"), RECORDER);
        for n in NODES {
            let d = dir.path().join(n);
            std::fs::create_dir_all(&d).unwrap();
            let cfg = ControllerConfig {
                exec: ExecConfig {
                    rsctmp: d.clone(),
                    varrun: Some(d),
                    node_name: Some(n.into()),
                    provider_dirs: [("test".to_string(), agents.clone())].into(),
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
        Lab { world, dir }
    }

    /// A lab in which `leader` is the Raft leader (the DC once a tick has run).
    fn led_by(leader: &str) -> Lab {
        let lab = Lab::new();
        *lab.world.leader.lock().unwrap() = Some(leader.into());
        lab
    }

    /// The daemon's side as `me` sees it: proposals and the CIB.
    fn host(&self, me: &str) -> FakeHost {
        FakeHost {
            me: me.into(),
            world: self.world.clone(),
        }
    }

    fn ctl(&self, n: &str) -> Arc<Controller> {
        self.world.ctls.lock().unwrap()[n].clone()
    }

    /// One liveness round on every node, as the daemon's monitor loop does.
    fn tick(&self, quorum: &HashMap<&str, bool>) {
        let leader = self.world.leader.lock().unwrap().clone();
        let term = *self.world.term.lock().unwrap();
        for n in NODES {
            let have = quorum.get(n).copied().unwrap_or(true);
            let leads = (leader.as_deref() == Some(n) && have).then_some(term);
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
    let lab = Lab::led_by("n1");
    let all = HashMap::new();
    lab.run_until("n1 is DC", &all, |l| l.ctl("n1").is_dc())
        .await;
    assert!(!lab.ctl("n2").is_dc() && !lab.ctl("n3").is_dc());
    // Keep n1 from running it, so the work goes over peer messages.
    let host = lab.host("n1");
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
    *lab.world.term.lock().unwrap() = 2;
    let l2 = lab;
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

/// The DC reacts to a committed change as soon as the host says the CIB changed
/// (`Controller::cib_changed`, which the daemon calls on every applied change),
/// not only at the next liveness check: here no check runs after the change, and
/// the resource still moves off the node put in standby.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_change_reaches_the_dc_without_a_liveness_check() {
    let lab = Lab::led_by("n1");
    let all = HashMap::new();
    let host = lab.host("n1");
    host.propose(Change::AddResource {
        resource: dummy("r"),
    })
    .await
    .unwrap();
    // Nothing under way that could make the DC look at the CIB on its own.
    lab.run_until("r running, the DC idle", &all, |l| {
        l.running_on("r").len() == 1 && l.ctl("n1").dc_idle()
    })
    .await;
    let from = lab.running_on("r")[0].clone();
    host.propose(Change::SetStandby {
        node: from.clone(),
        standby: true,
    })
    .await
    .unwrap();
    lab.ctl("n1").cib_changed();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let on = lab.running_on("r");
        if on.len() == 1 && on[0] != from {
            break;
        }
        assert!(Instant::now() < deadline, "r still on {on:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A node runs an order only from the DC it knows, in a term not older than the
/// newest it knows: n1, re-elected in term 2, may still have orders of its term-1
/// DC run on the wire (planned on what that run knew, a start the new run plans
/// elsewhere); they are refused, as are orders from a node that is not the DC.
/// n3 checks against what Raft tells its node (leader n1, term 2), so no DC runtime
/// is started here: a running one would send n3 its own orders (probes, acks),
/// which n3 refuses too once the term moves on, and `refused_orders` would count
/// them alongside the test's orders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_from_a_node_that_is_not_the_dc_or_of_an_older_term_are_refused() {
    let lab = Lab::led_by("n1");
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
    let order = |dc_term| {
        Envelope {
            msg: ControllerMsg::Execute(d.clone()),
            dc_term,
        }
        .to_json()
    };
    *lab.world.term.lock().unwrap() = 2;
    let n3 = lab.ctl("n3");
    // Refused as it comes in: nothing is started (`in_flight` counts an order
    // taken before its operation runs).
    for (from, dc_term, why) in [
        ("n2", Some(2), "n2 is not the DC"),
        ("n1", Some(1), "n1's DC of term 1 is deposed"),
    ] {
        let before = n3.refused_orders();
        n3.on_peer(from, &order(dc_term));
        assert_eq!(n3.refused_orders(), before + 1, "{why}: not refused");
        assert_eq!(n3.service().in_flight(), 0, "{why}: the start was taken");
    }
    let started = |l: &Lab| {
        l.ctl("n3")
            .service()
            .executor()
            .history("x")
            .iter()
            .any(|o| o.operation == "start")
    };
    n3.on_peer("n1", &order(Some(2)));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !started(&lab) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(started(&lab), "the DC's order was carried out");
    // Garbage is dropped, not a panic.
    n3.on_peer("n1", b"{not json");
}

/// A deposed DC runs on until its node's next liveness check stops it (no check
/// runs in that window here); Raft on its node already knows n2 leads in term 2.
/// The start it plans on the new leader's first change is refused by its own node
/// (the DC's orders to itself are checked as a peer's are), and the resource runs
/// once, where the current DC puts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposed_dc_does_not_run_its_orders_on_its_own_node() {
    let lab = Lab::led_by("n1");
    let all = HashMap::new();
    let host = lab.host("n1");
    for n in NODES {
        let standby = Change::SetStandby {
            node: n.into(),
            standby: true,
        };
        host.propose(standby).await.unwrap();
    }
    host.propose(Change::AddResource {
        resource: dummy("r"),
    })
    .await
    .unwrap();
    let probed = |l: &Lab| {
        let cib = l.world.cib.lock().unwrap().clone();
        NODES
            .iter()
            .all(|n| cib.status.nodes[*n].resources.contains_key("r"))
    };
    lab.run_until("r probed everywhere, the DC idle", &all, |l| {
        probed(l) && l.ctl("n1").dc_idle()
    })
    .await;

    *lab.world.leader.lock().unwrap() = Some("n2".into());
    *lab.world.term.lock().unwrap() = 2;
    lab.host("n2")
        .propose(Change::SetStandby {
            node: "n1".into(),
            standby: false,
        })
        .await
        .unwrap();
    let n1 = lab.ctl("n1");
    n1.cib_changed();
    let deadline = Instant::now() + Duration::from_secs(20);
    while n1.refused_orders() == 0 {
        let on = lab.running_on("r");
        assert!(
            Instant::now() < deadline,
            "the deposed DC's start not refused (r runs on {on:?})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(n1.is_dc(), "the deposed DC still runs");
    assert_eq!(n1.service().in_flight(), 0, "the start was taken");
    assert!(lab.running_on("r").is_empty());

    // The current DC's next change puts r on n3: it runs there, once (the deposed
    // DC's start, had n1 taken it, would have run it on n1 as well).
    let n2 = lab.host("n2");
    for (node, standby) in [("n1", true), ("n3", false)] {
        let node = node.into();
        n2.propose(Change::SetStandby { node, standby })
            .await
            .unwrap();
    }
    lab.run_until("r started on n3 by the current DC", &all, |l| {
        l.ctl("n2").is_dc() && !l.ctl("n1").is_dc() && l.running_on("r") == ["n3"]
    })
    .await;
    let n1_starts = n1.service().executor().history("r");
    assert!(
        n1_starts.iter().all(|o| o.operation != "start"),
        "{n1_starts:?}"
    );
}

/// A node put in maintenance keeps its resources running but stops monitoring
/// them: the scheduler plans a cancel of the recurring monitor, the node's executor
/// stops it and its history entry says it was cancelled (as in Pacemaker, where a
/// monitor left running would report failures nobody may act on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_cancels_the_recurring_monitor_where_it_runs() {
    let lab = Lab::led_by("n1");
    let all = HashMap::new();
    let host = lab.host("n1");
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

/// A clone with `notify=true` of a real OCF script run by the real executor: after
/// the instances start, each is told (post, start) where they started; when one
/// node goes to standby every instance is told before (pre, stop) and the two
/// that stay after (post, stop) which instance stopped where. Notifications are
/// not recorded in the resource history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notifying_clone_tells_its_agents_what_starts_and_stops_where() {
    let lab = Lab::led_by("n1");
    let all = HashMap::new();
    let host = lab.host("n1");
    let mut meta = hactl_model::Attrs::new();
    meta.insert("notify".into(), "true".into());
    let rec = Primitive {
        id: "rec".into(),
        agent: AgentSpec::parse("ocf:test:Recorder").unwrap(),
        ..Default::default()
    };
    host.propose(Change::AddResource {
        resource: Resource::Clone(CloneSet {
            id: "rec-clone".into(),
            meta,
            child: Box::new(Resource::Primitive(rec)),
        }),
    })
    .await
    .unwrap();
    let log = |l: &Lab, n: &str| {
        std::fs::read_to_string(l.dir.path().join(n).join("notify.log")).unwrap_or_default()
    };
    let started = "post start start=[n1 n2 n3] stop=[ ]";
    lab.run_until("every instance told that all three started", &all, |l| {
        NODES.iter().all(|n| log(l, n).contains(started))
    })
    .await;
    host.propose(Change::SetStandby {
        node: "n3".into(),
        standby: true,
    })
    .await
    .unwrap();
    lab.run_until("the staying instances told that n3's stopped", &all, |l| {
        ["n1", "n2"]
            .iter()
            .all(|n| log(l, n).contains("post stop start=[ ] stop=[n3]"))
    })
    .await;
    let n3 = log(&lab, "n3");
    assert!(n3.contains("pre stop start=[ ] stop=[n3]"), "{n3}");
    assert!(
        !n3.contains("post stop"),
        "the stopped instance is not told after: {n3}"
    );
    for n in NODES {
        let l = log(&lab, n);
        let (pre, post) = (l.find("pre stop"), l.find(started));
        assert!(
            post < pre,
            "start notifications before the stop's on {n}: {l}"
        );
        assert!(l.contains("active=[n1 n2 n3]"), "{l}");
    }
    let cib = lab.world.cib.lock().unwrap().clone();
    for (n, st) in &cib.status.nodes {
        for h in st.resources.values() {
            assert!(
                h.ops.iter().all(|o| o.operation != "notify"),
                "a notification in {n}'s history"
            );
        }
    }
}

/// A cloned group (`fs` then `app`, real OCF scripts run by the real executor) on
/// three nodes: each node runs one instance of the whole group, `fs` started
/// before `app`; a node put in standby stops only its own instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloned_group_runs_one_whole_instance_per_node_in_order() {
    let lab = Lab::led_by("n1");
    let all = HashMap::new();
    let host = lab.host("n1");
    let member = |id: &str| Primitive {
        id: id.into(),
        agent: AgentSpec::parse("ocf:test:Recorder").unwrap(),
        ..Default::default()
    };
    host.propose(Change::AddResource {
        resource: Resource::Clone(CloneSet {
            id: "stack-clone".into(),
            meta: Default::default(),
            child: Box::new(Resource::Group(hactl_model::Group {
                id: "stack".into(),
                meta: Default::default(),
                children: vec![member("fs"), member("app")],
            })),
        }),
    })
    .await
    .unwrap();
    // The agent keeps one state file per instance it runs on its node.
    let runs = |l: &Lab, n: &str, rsc: &str| {
        std::fs::read_dir(l.dir.path().join(n))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                name.starts_with(&format!("Recorder-{rsc}")) && name.ends_with(".state")
            })
            .count()
    };
    // The newest recorded start of `base` on node `n` (its call id).
    let start_of = |cib: &Cib, n: &str, base: &str| {
        cib.status.nodes[n]
            .resources
            .iter()
            .filter(|(id, _)| id.split(':').next() == Some(base))
            .flat_map(|(_, h)| h.ops.iter())
            .filter(|o| o.operation == "start" && o.rc == 0)
            .map(|o| o.call_id)
            .max()
    };
    // The agent runs before the DC records its result: wait for both.
    lab.run_until("fs and app running and recorded on every node", &all, |l| {
        let cib = l.world.cib.lock().unwrap().clone();
        NODES.iter().all(|n| {
            runs(l, n, "fs") == 1
                && runs(l, n, "app") == 1
                && start_of(&cib, n, "fs").is_some()
                && start_of(&cib, n, "app").is_some()
        })
    })
    .await;
    // In each instance fs started before app: the node's call ids say so, and
    // the agent never ran app there while fs was not running.
    let cib = lab.world.cib.lock().unwrap().clone();
    for n in NODES {
        assert!(
            start_of(&cib, n, "fs") < start_of(&cib, n, "app"),
            "fs before app on {n}"
        );
        let log = std::fs::read_to_string(lab.dir.path().join(n).join("ops.log")).unwrap();
        let mut fs_up = false;
        for line in log.lines() {
            match line.split_once(' ') {
                Some(("start", "fs")) => fs_up = true,
                Some(("stop", "fs")) => fs_up = false,
                Some(("start", "app")) => assert!(fs_up, "app started without fs on {n}: {log}"),
                _ => {}
            }
        }
    }
    host.propose(Change::SetStandby {
        node: "n3".into(),
        standby: true,
    })
    .await
    .unwrap();
    lab.run_until("n3's instance stopped", &all, |l| {
        runs(l, "n3", "fs") == 0 && runs(l, "n3", "app") == 0
    })
    .await;
    for n in ["n1", "n2"] {
        assert_eq!((runs(&lab, n, "fs"), runs(&lab, n, "app")), (1, 1), "{n}");
    }
}
