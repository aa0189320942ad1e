//! The transition engine driven by the real policy engine (`hactl_policy::schedule`)
//! on small CIBs, with a simulated cluster standing in for the nodes' executors (the
//! real executors are exercised by `tests/tests/netns_controller.rs`). Every proposed
//! change is applied to the CIB with the real `Change::apply`, in order, as the
//! runtime does through Raft.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

mod common;

use hactl_controller::engine::{done, Command, Engine, EngineConfig, Event};
use hactl_model::change::{Change, NodeStateUpdate};
use hactl_model::{AgentSpec, Cib, Group, OpSpec, Primitive, Resource};
use hactl_policy::schedule;

struct Sim {
    cib: Cib,
    engine: Engine,
    /// What really runs where.
    running: BTreeMap<String, BTreeSet<String>>,
    /// (rsc, node) whose start fails.
    fail_start: BTreeSet<(String, String)>,
    now_ms: u64,
    /// Every op dispatched, as (node, rsc, op, interval).
    log: Vec<(String, String, String, u64)>,
}

fn prim(id: &str) -> Primitive {
    Primitive {
        id: id.into(),
        agent: AgentSpec::parse("ocf:pacemaker:Dummy").unwrap(),
        ops: vec![OpSpec {
            name: "monitor".into(),
            interval_ms: 1_000,
            ..Default::default()
        }],
        ..Default::default()
    }
}

impl Sim {
    /// Three online nodes, stonith disabled, the seed's group (two members).
    fn new() -> Sim {
        let mut cib = common::online_cib(&["n1", "n2", "n3"]);
        cib.config
            .rsc_defaults
            .insert("resource-stickiness".into(), "100".into());
        cib.status.dc = Some("n1".into());
        let running: BTreeMap<String, BTreeSet<String>> = ["n1", "n2", "n3"]
            .iter()
            .map(|n| (n.to_string(), BTreeSet::new()))
            .collect();
        cib.config.resources.push(Resource::Group(Group {
            id: "hagroup".into(),
            children: vec![prim("vip"), prim("web")],
            ..Default::default()
        }));
        Sim {
            cib,
            engine: Engine::new(EngineConfig::new("n1")),
            running,
            fail_start: BTreeSet::new(),
            now_ms: 1_700_000_000_000,
            log: Vec::new(),
        }
    }

    fn propose(&mut self, c: Change) {
        c.apply(&mut self.cib).expect("change applies");
    }

    fn exec(&mut self, node: &str, rsc: &str, op: &str, interval: u64) -> i32 {
        self.log
            .push((node.into(), rsc.into(), op.into(), interval));
        let set = self.running.get_mut(node).expect("known node");
        match op {
            "start"
                if self
                    .fail_start
                    .contains(&(rsc.to_string(), node.to_string())) =>
            {
                1
            }
            "start" => {
                set.insert(rsc.into());
                0
            }
            "stop" => {
                set.remove(rsc);
                0
            }
            _ => {
                if set.contains(rsc) {
                    0
                } else {
                    7
                }
            }
        }
    }

    /// Carries out commands in order, like the runtime; returns whether a recompute
    /// was asked for.
    fn run(&mut self, mut cmds: Vec<Command>) -> bool {
        let mut queue: VecDeque<Event> = VecDeque::new();
        let mut recompute = false;
        loop {
            for c in cmds.drain(..) {
                match c {
                    Command::Execute(d) => {
                        let rc = self.exec(
                            &d.node,
                            &d.details.rsc,
                            &d.details.op,
                            d.details.interval_ms,
                        );
                        queue.push_back(Event::ActionResult {
                            transition: d.transition,
                            action: d.action,
                            node: d.node.clone(),
                            details: d.details.clone(),
                            outcome: done(rc, (self.now_ms / 1000) as i64),
                        });
                    }
                    Command::Propose(ch) => self.propose(ch),
                    Command::Recompute { .. } => recompute = true,
                    Command::Fence(f) => panic!("no fencing expected: {f:?}"),
                    Command::RecordFencing { change, .. } => {
                        panic!("no fencing expected: {change:?}")
                    }
                    Command::Complete { .. } => {}
                }
            }
            let Some(ev) = queue.pop_front() else {
                return recompute;
            };
            self.now_ms += 10;
            cmds = self.engine.handle(ev, &self.cib, self.now_ms);
        }
    }

    /// Schedules and runs transitions until the policy has nothing left to do.
    /// Returns how many transitions ran.
    fn settle(&mut self) -> usize {
        for n in 0..20 {
            let t = schedule(&self.cib, (self.now_ms / 1000) as i64).expect("schedules");
            if t.actions.is_empty() {
                return n;
            }
            let cmds = self.engine.start(&t, &self.cib, self.now_ms).expect("idle");
            self.run(cmds);
            assert!(!self.engine.busy());
        }
        panic!("did not settle in 20 transitions");
    }

    fn event(&mut self, ev: Event) -> bool {
        let cmds = self.engine.handle(ev, &self.cib, self.now_ms);
        self.run(cmds)
    }

    /// Where each resource really runs.
    fn where_(&self, rsc: &str) -> Vec<String> {
        self.running
            .iter()
            .filter(|(_, s)| s.contains(rsc))
            .map(|(n, _)| n.clone())
            .collect()
    }

    fn group_node(&self) -> String {
        let v = self.where_("vip");
        let w = self.where_("web");
        assert_eq!(v.len(), 1, "vip runs on exactly one node: {v:?}");
        assert_eq!(v, w, "group members run together");
        v[0].clone()
    }

    fn count_ops(&self, op: &str, rsc: &str) -> usize {
        self.log
            .iter()
            .filter(|(_, r, o, i)| r == rsc && o == op && *i == 0)
            .count()
    }

    fn failcount(&self, node: &str, rsc: &str) -> i64 {
        self.cib.status.nodes[node]
            .failcounts
            .iter()
            .filter(|f| f.rsc == rsc)
            .map(|f| f.count.value())
            .sum()
    }

    fn monitor_fails(&mut self, node: &str, rsc: &str) {
        // The process dies; its recurring monitor notices.
        self.running.get_mut(node).unwrap().remove(rsc);
        let details = hactl_controller::ops::op_details(&self.cib, rsc, node, "monitor", 1_000)
            .expect("configured");
        self.event(Event::MonitorChanged {
            node: node.into(),
            details,
            outcome: done(7, (self.now_ms / 1000) as i64),
        });
    }
}

#[test]
fn fresh_cluster_probes_everywhere_then_starts_the_group_once() {
    let mut s = Sim::new();
    let transitions = s.settle();
    assert!(transitions >= 1);
    let at = s.group_node();
    // Probes ran on every node before anything started.
    for n in ["n1", "n2", "n3"] {
        assert!(s
            .log
            .iter()
            .any(|(node, r, o, i)| node == n && r == "vip" && o == "monitor" && *i == 0));
    }
    assert_eq!(s.count_ops("start", "vip"), 1);
    assert_eq!(s.count_ops("start", "web"), 1);
    // Recurring monitors were started where the group runs.
    assert!(s
        .log
        .iter()
        .any(|(n, r, o, i)| n == &at && r == "web" && o == "monitor" && *i == 1_000));
    // Settled: the policy has nothing more to do.
    assert_eq!(s.settle(), 0);
}

#[test]
fn standby_moves_the_group_and_unstandby_leaves_it_there() {
    let mut s = Sim::new();
    s.settle();
    let first = s.group_node();
    s.propose(Change::SetStandby {
        node: first.clone(),
        standby: true,
    });
    s.event(Event::ConfigChanged);
    s.settle();
    let second = s.group_node();
    assert_ne!(first, second);
    assert!(s.running[&first].is_empty());
    s.propose(Change::SetStandby {
        node: first.clone(),
        standby: false,
    });
    s.settle();
    assert_eq!(s.group_node(), second, "stickiness keeps it where it is");
}

#[test]
fn a_failed_monitor_restarts_in_place_and_past_the_threshold_moves() {
    let mut s = Sim::new();
    s.cib
        .config
        .rsc_defaults
        .insert("migration-threshold".into(), "2".into());
    s.settle();
    let at = s.group_node();
    s.monitor_fails(&at, "web");
    assert_eq!(s.failcount(&at, "web"), 1);
    s.settle();
    assert_eq!(s.group_node(), at, "recovered in place");
    assert_eq!(s.count_ops("start", "web"), 2);
    s.monitor_fails(&at, "web");
    assert_eq!(s.failcount(&at, "web"), 2);
    s.settle();
    let now = s.group_node();
    assert_ne!(now, at, "two failures reach migration-threshold=2: moved");
}

#[test]
fn a_lost_node_without_fencing_gives_its_resources_to_another() {
    let mut s = Sim::new();
    s.settle();
    let at = s.group_node();
    // The node dies: everything on it is gone, membership records it as down.
    s.running.get_mut(&at).unwrap().clear();
    s.propose(Change::SetNodeState {
        node: at.clone(),
        state: NodeStateUpdate {
            member: Some(false),
            controller_online: Some(false),
            join: Some("down".into()),
            expected: None,
        },
    });
    assert!(s.event(Event::NodeLost(at.clone())));
    s.settle();
    let now = s.group_node();
    assert_ne!(now, at);
}

#[test]
fn a_start_failure_moves_the_group_elsewhere() {
    let mut s = Sim::new();
    // The first choice is deterministic; make web fail to start on every node but one.
    s.fail_start.insert(("web".into(), "n1".into()));
    s.fail_start.insert(("web".into(), "n2".into()));
    s.settle();
    assert_eq!(s.group_node(), "n3");
    let failed_somewhere = ["n1", "n2"]
        .iter()
        .any(|n| s.failcount(n, "web") >= hactl_model::Score::INFINITY.value());
    assert!(failed_somewhere, "start failure is fatal by default");
}

#[test]
fn a_probe_that_finds_a_resource_already_running_keeps_a_single_copy() {
    let mut s = Sim::new();
    // vip was left running on n3 (from before the cluster knew about it).
    s.running.get_mut("n3").unwrap().insert("vip".into());
    s.settle();
    assert_eq!(s.group_node(), "n3", "the group follows the running member");
    assert_eq!(s.count_ops("start", "vip"), 0, "no second copy was started");
}
