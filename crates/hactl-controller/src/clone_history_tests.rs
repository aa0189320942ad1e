//! The policy engine and the transition engine together on a promotable anonymous
//! clone whose agent keeps its state under the name it is run with, as
//! `ocf:pacemaker:Stateful` does with `OCF_RESOURCE_INSTANCE`. Here the agent is a
//! map (node, name) → role, because what is under test is which name each
//! operation runs and is recorded under, over many transitions cut short at every
//! possible point; the real agent runs in `tests/tests/netns_promotable.rs`.
//!
//! A transition cut short (a configuration change aborts it, as in a running
//! cluster) leaves partial histories, and the next run may give a node's history
//! to another instance number than the one it was recorded under. Operations then
//! ran under the instance's own id: a second history on the node, which the next
//! run read as one more (orphan) instance the agent did not know, planned a demote
//! of it (rc 7), and so on without end.

use std::collections::{BTreeMap, VecDeque};

use hactl_model::change::Change;
use hactl_model::{
    AgentSpec, Cib, CloneSet, Node, NodeStatus, OpRecord, OpSpec, Primitive, Resource,
    ResourceHistory, Role,
};

use crate::engine::done;
use crate::{Command, Dispatch, Engine, EngineConfig, Event};

const NOW_S: i64 = 1_700_000_000;
const NODES: [&str; 3] = ["n1", "n2", "n3"];
/// Transitions allowed to settle: a few suffice; a runaway never settles.
const MAX_TRANSITIONS: usize = 12;

fn online() -> NodeStatus {
    NodeStatus {
        member: Some(true),
        controller_online: Some(true),
        join: Some("member".into()),
        expected: Some("member".into()),
        ..Default::default()
    }
}

/// `db` cloned and promotable on three nodes, a monitor per role, no fencing.
fn stateful_cib() -> Cib {
    let mut c = Cib::default();
    c.config
        .properties
        .insert("stonith-enabled".into(), "false".into());
    c.status.have_quorum = true;
    for n in NODES {
        c.config.nodes.push(Node {
            id: n.into(),
            name: n.into(),
            ..Default::default()
        });
        c.status.nodes.insert(n.into(), online());
    }
    let monitor = |interval_ms, role| OpSpec {
        name: "monitor".into(),
        interval_ms,
        role: Some(role),
        ..Default::default()
    };
    let db = Primitive {
        id: "db".into(),
        agent: AgentSpec::parse("ocf:pacemaker:Stateful").unwrap(),
        ops: vec![
            monitor(3_000, Role::Promoted),
            monitor(4_000, Role::Unpromoted),
        ],
        ..Default::default()
    };
    c.config.resources.push(Resource::Clone(CloneSet {
        id: "db-clone".into(),
        meta: [("promotable".to_string(), "true".to_string())].into(),
        child: Box::new(Resource::Primitive(db)),
    }));
    c
}

/// The CIB, the simulated agent's state files and the transition engine.
struct Lab {
    cib: Cib,
    agent: BTreeMap<(String, String), Role>,
    engine: Engine,
    /// Operations that failed: (node, name, op, rc).
    failures: Vec<(String, String, String, i32)>,
}

impl Lab {
    fn new(cib: Cib) -> Lab {
        Lab {
            cib,
            agent: BTreeMap::new(),
            engine: Engine::new(EngineConfig::new("n1")),
            failures: Vec::new(),
        }
    }

    /// Stateful's answer to `d`, with its state file and promotion score updated.
    fn run(&mut self, d: &Dispatch) -> i32 {
        let key = (d.node.clone(), d.details.rsc.clone());
        let state = self.agent.get(&key).copied();
        let (rc, after, score) = match (d.details.op.as_str(), state) {
            ("monitor", None) => (7, None, None),
            ("monitor", Some(Role::Promoted)) => (8, state, None),
            ("monitor", Some(_)) => (0, state, None),
            ("start", Some(Role::Promoted)) => (8, state, None),
            ("start", _) => (0, Some(Role::Unpromoted), Some("5")),
            ("promote", None) | ("demote", None) => (7, None, None),
            ("promote", Some(_)) => (0, Some(Role::Promoted), Some("10")),
            ("demote", Some(_)) => (0, Some(Role::Unpromoted), Some("5")),
            ("stop", Some(Role::Promoted)) => (8, state, None),
            ("stop", _) => (0, None, None),
            _ => (0, state, None),
        };
        match after {
            Some(r) => self.agent.insert(key, r),
            None => self.agent.remove(&key),
        };
        if d.details.op == "stop" || score.is_some() {
            // As crm_attribute --promotion: under the primitive's name.
            let base = d.details.rsc.split(':').next().unwrap_or_default();
            Change::SetTransientAttribute {
                node: d.node.clone(),
                name: format!("master-{base}"),
                value: score.map(String::from),
            }
            .apply(&mut self.cib)
            .unwrap();
        }
        if rc != d.expected_rc {
            let (node, name) = (d.node.clone(), d.details.rsc.clone());
            self.failures.push((node, name, d.details.op.clone(), rc));
        }
        rc
    }

    fn apply(&mut self, cmds: Vec<Command>, queue: &mut VecDeque<Dispatch>) {
        for c in cmds {
            match c {
                Command::Execute(d) => queue.push_back(d),
                Command::Propose(ch) => ch.apply(&mut self.cib).unwrap(),
                _ => {}
            }
        }
    }

    /// Runs one transition; a configuration change aborts it after `cut` results.
    /// Of the operations in flight the oldest answers first, or the newest when
    /// `newest_first` (nodes answer in any order). False when there was nothing to
    /// do.
    fn transition(&mut self, cut: Option<usize>, newest_first: bool) -> bool {
        let t = hactl_policy::schedule(&self.cib, NOW_S).unwrap();
        if !t.actions.iter().any(|a| a.runnable && !a.pseudo) {
            return false;
        }
        // As the DC does before it starts a transition.
        if let Some(forget) = crate::dc::forget_orphans(&self.cib, &t) {
            forget.apply(&mut self.cib).unwrap();
        }
        let mut queue = VecDeque::new();
        let cmds = self
            .engine
            .start(&t, &self.cib, NOW_S as u64 * 1000)
            .unwrap();
        self.apply(cmds, &mut queue);
        let mut results = 0;
        let next = |q: &mut VecDeque<Dispatch>| match newest_first {
            true => q.pop_back(),
            false => q.pop_front(),
        };
        while let Some(d) = next(&mut queue) {
            let rc = self.run(&d);
            let ev = Event::ActionResult {
                transition: d.transition,
                action: d.action,
                node: d.node.clone(),
                details: d.details.clone(),
                outcome: done(rc, NOW_S),
            };
            let cmds = self.engine.handle(ev, &self.cib, NOW_S as u64 * 1000);
            self.apply(cmds, &mut queue);
            results += 1;
            if Some(results) == cut {
                let cmds = self
                    .engine
                    .handle(Event::ConfigChanged, &self.cib, NOW_S as u64 * 1000);
                self.apply(cmds, &mut queue);
            }
        }
        assert!(!self.engine.busy(), "the transition ended");
        true
    }

    /// Runs transitions until there is nothing left to do.
    fn settle(&mut self, what: &str) {
        for _ in 0..MAX_TRANSITIONS {
            if !self.transition(None, false) {
                return;
            }
        }
        panic!(
            "{what}: not settled after {MAX_TRANSITIONS} transitions (failures {:?}); \
             histories {:?}",
            self.failures,
            self.history_names()
        );
    }

    /// Per node, the names the clone's histories are recorded under.
    fn history_names(&self) -> BTreeMap<&str, Vec<&str>> {
        self.cib
            .status
            .nodes
            .iter()
            .map(|(n, st)| {
                let names = st.resources.keys().map(String::as_str);
                (n.as_str(), names.filter(|r| r.starts_with("db")).collect())
            })
            .collect()
    }

    /// The nodes where the agent runs promoted.
    fn promoted(&self) -> Vec<&str> {
        self.agent
            .iter()
            .filter(|(_, r)| **r == Role::Promoted)
            .map(|((n, _), _)| n.as_str())
            .collect()
    }

    /// One history per node, one agent state per node, no failed operation, one
    /// promoted node (not `not_on`), running on every other node that may run it.
    fn check(&self, what: &str, not_on: Option<&str>) {
        let names = self.history_names();
        for (node, hist) in &names {
            assert!(hist.len() <= 1, "{what}: {node} has {hist:?}: {names:?}");
        }
        assert!(self.failures.is_empty(), "{what}: {:?}", self.failures);
        let mut running: Vec<&str> = self.agent.keys().map(|(n, _)| n.as_str()).collect();
        running.dedup();
        assert_eq!(running.len(), self.agent.len(), "{what}: {:?}", self.agent);
        let want: Vec<&str> = NODES.into_iter().filter(|n| Some(*n) != not_on).collect();
        assert_eq!(running, want, "{what}: {:?}", self.agent);
        let promoted = self.promoted();
        assert_eq!(promoted.len(), 1, "{what}: {:?}", self.agent);
        assert_ne!(Some(promoted[0]), not_on, "{what}");
    }
}

/// From nothing, the first transition cut short after every possible number of
/// results, then settled; then the promoted node in standby, that transition cut
/// short too. Each time one history per node, every operation under the name the
/// agent knows, one promoted instance.
#[test]
fn clone_histories_stay_one_per_node_whatever_transition_is_cut_short() {
    for (cut, newest_first) in (1..=16).flat_map(|c| [(c, false), (c, true)]) {
        let what = format!("first transition cut after {cut} (newest first: {newest_first})");
        let mut lab = Lab::new(stateful_cib());
        lab.transition(Some(cut), newest_first);
        lab.settle(&what);
        lab.check(&what, None);
        let first = lab.promoted()[0].to_string();
        for standby_cut in 1..=8 {
            let what = format!("{what}, {first} in standby, cut after {standby_cut}");
            let mut lab = Lab {
                cib: lab.cib.clone(),
                agent: lab.agent.clone(),
                engine: Engine::new(EngineConfig::new("n1")),
                failures: Vec::new(),
            };
            Change::SetStandby {
                node: first.clone(),
                standby: true,
            }
            .apply(&mut lab.cib)
            .unwrap();
            lab.transition(Some(standby_cut), newest_first);
            lab.settle(&what);
            lab.check(&what, Some(&first));
        }
    }
}

/// Histories recorded as Pacemaker records anonymous instances (`db`, no number),
/// e.g. an imported CIB: promotion and later operations run under `db`, the name
/// the agent knows, and no second history appears.
#[test]
fn instances_recorded_under_the_clone_name_keep_that_name() {
    let mut lab = Lab::new(stateful_cib());
    for (i, n) in NODES.iter().enumerate() {
        let h = ResourceHistory {
            agent: AgentSpec::parse("ocf:pacemaker:Stateful").unwrap(),
            ops: vec![OpRecord {
                operation: "start".into(),
                call_id: i as i64 + 1,
                rc: 0,
                ..Default::default()
            }],
            ..Default::default()
        };
        let st = lab.cib.status.nodes.get_mut(*n).unwrap();
        st.resources.insert("db".into(), h);
        st.attributes.insert("master-db".into(), "5".into());
        lab.agent
            .insert((n.to_string(), "db".into()), Role::Unpromoted);
    }
    lab.settle("from Pacemaker-named histories");
    lab.check("from Pacemaker-named histories", None);
    assert!(lab.history_names().values().all(|h| h == &["db"]));
}

/// After an executor restart the probes find an instance promoted on n2 (rc 8,
/// recorded as `db:1`) and one unpromoted on n3 (rc 0, as `db:2`): each gets the
/// recurring monitor of the role found, under the name it is recorded under.
#[test]
fn monitors_after_a_reprobe_follow_the_role_found() {
    let mut cib = stateful_cib();
    for (node, name, rc) in [("n2", "db:1", 8), ("n3", "db:2", 0)] {
        let h = ResourceHistory {
            agent: AgentSpec::parse("ocf:pacemaker:Stateful").unwrap(),
            ops: vec![OpRecord {
                operation: "monitor".into(),
                call_id: 1,
                rc,
                ..Default::default()
            }],
            ..Default::default()
        };
        let st = cib.status.nodes.get_mut(node).unwrap();
        st.resources.insert(name.into(), h);
    }
    let nodes: Vec<String> = NODES.iter().map(|n| n.to_string()).collect();
    let t = crate::dc::followup_monitors(&cib, &nodes);
    let monitors: Vec<(&str, &str, u64)> = t
        .actions
        .iter()
        .filter_map(|a| match a.kind {
            hactl_policy::ActionKind::Monitor { interval_ms } => {
                Some((a.resource.as_deref()?, a.node.as_deref()?, interval_ms))
            }
            _ => None,
        })
        .collect();
    assert_eq!(monitors, vec![("db:1", "n2", 3_000), ("db:2", "n3", 4_000)]);
    // The engine runs them as the clone's primitive, each expecting its role's rc.
    let mut e = Engine::new(EngineConfig::new("n1"));
    let cmds = e.start(&t, &cib, NOW_S as u64 * 1000).unwrap();
    let mut sent: Vec<(String, i32)> = crate::engine::dispatches(&cmds)
        .iter()
        .map(|d| (d.details.rsc.clone(), d.expected_rc))
        .collect();
    sent.sort();
    assert_eq!(sent, vec![("db:1".into(), 8), ("db:2".into(), 0)]);
}

/// A promotable clone of a group (`db` then `fs`, both Stateful) run by the
/// engine from nothing: every node runs one whole instance, and exactly one
/// instance is promoted, both its members on the same node, with no operation
/// failing on the way (each member's monitors follow its role).
#[test]
fn a_promotable_cloned_group_settles_with_one_whole_instance_promoted() {
    let mut cib = stateful_cib();
    let Resource::Clone(cl) = &mut cib.config.resources[0] else {
        panic!("stateful_cib holds a clone");
    };
    let Resource::Primitive(db) = (*cl.child).clone() else {
        panic!("of a primitive");
    };
    let fs = Primitive {
        id: "fs".into(),
        ..db.clone()
    };
    *cl.child = Resource::Group(hactl_model::Group {
        id: "grp".into(),
        children: vec![db, fs],
        ..Default::default()
    });
    let mut lab = Lab::new(cib);
    lab.settle("a promotable cloned group from nothing");
    assert!(lab.failures.is_empty(), "{:?}", lab.failures);
    let on = |member: &str, promoted: bool| -> Vec<&str> {
        lab.agent
            .iter()
            .filter(|((_, r), role)| {
                r.split(':').next() == Some(member) && (**role == Role::Promoted) == promoted
            })
            .map(|((n, _), _)| n.as_str())
            .collect()
    };
    assert_eq!(on("db", true).len(), 1, "{:?}", lab.agent);
    assert_eq!(on("db", true), on("fs", true), "{:?}", lab.agent);
    assert_eq!(on("db", false), on("fs", false), "{:?}", lab.agent);
    assert_eq!(lab.agent.len(), 2 * NODES.len(), "{:?}", lab.agent);
}
