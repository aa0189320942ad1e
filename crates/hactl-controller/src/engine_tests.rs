//! The engine on hand-made graphs.

use super::*;
use hactl_model::{AgentSpec, Cib, FailCount, Node, NodeStatus, OpSpec, Primitive, Resource};
use hactl_policy::{Action, EdgeKind, NodeState, OrderingEdge};

const NOW: u64 = 1_700_000_000_000;

fn cib() -> Cib {
    let mut c = Cib::default();
    for n in ["n1", "n2", "n3"] {
        c.config.nodes.push(Node {
            id: n.into(),
            name: n.into(),
            ..Default::default()
        });
        c.status.nodes.insert(n.into(), NodeStatus::default());
    }
    for r in ["a", "b"] {
        c.config.resources.push(Resource::Primitive(Primitive {
            id: r.into(),
            agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
            ops: vec![OpSpec {
                name: "monitor".into(),
                interval_ms: 10_000,
                timeout_ms: Some(7_000),
                ..Default::default()
            }],
            ..Default::default()
        }));
    }
    c
}

fn act(id: usize, kind: ActionKind, rsc: Option<&str>, node: &str) -> Action {
    Action {
        id,
        kind,
        resource: rsc.map(Into::into),
        node: Some(node.into()),
        reason: None,
        runnable: true,
        pseudo: false,
        history_name: None,
    }
}

fn pseudo(id: usize, kind: ActionKind) -> Action {
    Action {
        id,
        kind,
        resource: Some("g".into()),
        node: None,
        reason: None,
        runnable: true,
        pseudo: true,
        history_name: None,
    }
}

fn graph(actions: Vec<Action>, edges: &[(usize, usize)]) -> Transition {
    let typed: Vec<_> = edges
        .iter()
        .map(|&(b, a)| (b, a, EdgeKind::Mandatory))
        .collect();
    typed_graph(actions, &typed)
}

fn typed_graph(actions: Vec<Action>, edges: &[(usize, usize, EdgeKind)]) -> Transition {
    Transition {
        actions,
        edges: edges
            .iter()
            .map(|&(before, after, kind)| OrderingEdge {
                before,
                after,
                kind,
            })
            .collect(),
        placements: vec![],
        nodes: ["n1", "n2", "n3"]
            .iter()
            .map(|n| NodeState {
                name: n.to_string(),
                online: true,
                unclean: false,
                standby: false,
                maintenance: false,
                pending: false,
                shutdown: false,
                fence_reason: None,
            })
            .collect(),
        summary: vec![],
        scores: vec![],
        warnings: vec![],
        assign_scores: vec![],
        promotion_scores: vec![],
    }
}

fn engine() -> Engine {
    Engine::new(EngineConfig::new("n1"))
}

fn result(d: &Dispatch, rc: i32) -> Event {
    Event::ActionResult {
        transition: d.transition,
        action: d.action,
        node: d.node.clone(),
        details: d.details.clone(),
        outcome: done(rc, (NOW / 1000) as i64),
    }
}

fn only_dispatch(cmds: &[Command]) -> Dispatch {
    let d = dispatches(cmds);
    assert_eq!(d.len(), 1, "{cmds:#?}");
    d[0].clone()
}

fn proposals(cmds: &[Command]) -> Vec<&Change> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Propose(ch) => Some(ch),
            _ => None,
        })
        .collect()
}

fn flatten(ch: &Change) -> Vec<&Change> {
    match ch {
        Change::Batch { changes } => changes.iter().collect(),
        c => vec![c],
    }
}

fn failcount_in(cmds: &[Command]) -> Option<FailCount> {
    proposals(cmds)
        .into_iter()
        .flat_map(flatten)
        .find_map(|c| match c {
            Change::SetFailCount { failcount, .. } => Some(failcount.clone()),
            _ => None,
        })
}

fn recompute(cmds: &[Command]) -> bool {
    cmds.iter().any(|c| matches!(c, Command::Recompute { .. }))
}

fn complete(cmds: &[Command]) -> Option<usize> {
    cmds.iter().find_map(|c| match c {
        Command::Complete { incomplete, .. } => Some(*incomplete),
        _ => None,
    })
}

#[test]
fn chain_runs_in_order_and_records_each_result() {
    let c = cib();
    let t = graph(
        vec![
            act(0, ActionKind::Probe, Some("a"), "n2"),
            act(1, ActionKind::Start, Some("a"), "n2"),
            act(
                2,
                ActionKind::Monitor {
                    interval_ms: 10_000,
                },
                Some("a"),
                "n2",
            ),
        ],
        &[(0, 1), (1, 2)],
    );
    let mut e = engine();
    let cmds = e.start(&t, &c, NOW).unwrap();
    let probe = only_dispatch(&cmds);
    assert_eq!(
        (probe.details.op.as_str(), probe.details.interval_ms),
        ("monitor", 0)
    );
    assert_eq!(probe.expected_rc, 7);
    // A probe takes the shortest monitor's timeout.
    assert_eq!(probe.details.timeout_ms, 7_000);

    let cmds = e.handle(result(&probe, 7), &c, NOW);
    assert!(failcount_in(&cmds).is_none());
    let start = only_dispatch(&cmds);
    assert_eq!(start.details.op, "start");
    assert_eq!(start.expected_rc, 0);
    assert_eq!(start.details.timeout_ms, DEFAULT_TIMEOUT);

    let cmds = e.handle(result(&start, 0), &c, NOW);
    let mon = only_dispatch(&cmds);
    assert_eq!(mon.details.interval_ms, 10_000);
    let cmds = e.handle(result(&mon, 0), &c, NOW);
    assert_eq!(complete(&cmds), Some(0));
    assert!(!e.busy());
}

const DEFAULT_TIMEOUT: u64 = crate::ops::DEFAULT_OP_TIMEOUT_MS;

#[test]
fn call_ids_increase_per_node_across_results() {
    let mut c = cib();
    // The CIB already has call id 41 on n2.
    Change::RecordOp {
        node: "n2".into(),
        rsc: "b".into(),
        agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
        op: hactl_model::OpRecord {
            operation: "start".into(),
            call_id: 41,
            ..Default::default()
        },
    }
    .apply(&mut c)
    .unwrap();
    let t = graph(
        vec![
            act(0, ActionKind::Start, Some("a"), "n2"),
            act(1, ActionKind::Start, Some("b"), "n3"),
        ],
        &[],
    );
    let mut e = engine();
    let cmds = e.start(&t, &c, NOW).unwrap();
    let ds: Vec<Dispatch> = dispatches(&cmds).into_iter().cloned().collect();
    assert_eq!(ds.len(), 2, "independent actions go out together");
    let mut ids = Vec::new();
    for d in &ds {
        // The CIB is not updated between results: the engine must still not reuse ids.
        for _ in 0..2 {
            let cmds = e.handle(result(d, 0), &c, NOW);
            for ch in proposals(&cmds).into_iter().flat_map(flatten) {
                if let Change::RecordOp { node, op, .. } = ch {
                    ids.push((node.clone(), op.call_id));
                }
            }
        }
    }
    assert_eq!(
        ids,
        vec![
            ("n2".to_string(), 42),
            ("n2".to_string(), 43),
            ("n3".to_string(), 1),
            ("n3".to_string(), 2)
        ]
    );
}

#[test]
fn pseudo_actions_complete_when_their_inputs_are_done() {
    let c = cib();
    // gstart → start a → start b → grunning
    let t = graph(
        vec![
            pseudo(0, ActionKind::GroupStart),
            act(1, ActionKind::Start, Some("a"), "n1"),
            act(2, ActionKind::Start, Some("b"), "n1"),
            pseudo(3, ActionKind::GroupRunning),
        ],
        &[(0, 1), (1, 2), (2, 3), (0, 2)],
    );
    let mut e = engine();
    let cmds = e.start(&t, &c, NOW).unwrap();
    let a = only_dispatch(&cmds);
    assert_eq!(a.details.rsc, "a");
    let cmds = e.handle(result(&a, 0), &c, NOW);
    let b = only_dispatch(&cmds);
    assert_eq!(b.details.rsc, "b");
    let p = e.progress();
    assert_eq!((p.done, p.in_flight), (2, 1));
    let cmds = e.handle(result(&b, 0), &c, NOW);
    assert_eq!(complete(&cmds), Some(0));
}

#[test]
fn probe_that_finds_the_resource_running_aborts_without_failure() {
    let c = cib();
    let t = graph(
        vec![
            act(0, ActionKind::Probe, Some("a"), "n1"),
            act(1, ActionKind::Probe, Some("a"), "n2"),
            act(2, ActionKind::Start, Some("a"), "n3"),
        ],
        &[(0, 2), (1, 2)],
    );
    let mut e = engine();
    let cmds = e.start(&t, &c, NOW).unwrap();
    let probes: Vec<Dispatch> = dispatches(&cmds).into_iter().cloned().collect();
    assert_eq!(probes.len(), 2);
    // n1 says: running here.
    let cmds = e.handle(result(&probes[0], 0), &c, NOW);
    assert!(
        failcount_in(&cmds).is_none(),
        "a probe finding it running is not a failure"
    );
    assert_eq!(proposals(&cmds).len(), 1, "but it is recorded");
    assert!(dispatches(&cmds).is_empty());
    assert!(!recompute(&cmds), "waits for the probe still in flight");
    assert!(e.progress().aborted.is_some());
    // n2's probe comes back: nothing in flight, recompute; the start never ran.
    let cmds = e.handle(result(&probes[1], 7), &c, NOW);
    assert!(dispatches(&cmds).is_empty());
    assert!(recompute(&cmds));
    assert!(!e.busy());
}

#[test]
fn probe_error_is_a_failure() {
    let c = cib();
    let t = graph(vec![act(0, ActionKind::Probe, Some("a"), "n1")], &[]);
    let mut e = engine();
    let d = only_dispatch(&e.start(&t, &c, NOW).unwrap());
    let cmds = e.handle(result(&d, 6), &c, NOW);
    let fc = failcount_in(&cmds).expect("rc 6 on a probe counts");
    assert_eq!(fc.count, Score::new(1));
    assert_eq!(fc.op.as_deref(), Some("monitor"));
    assert!(recompute(&cmds));
}

#[test]
fn failed_start_is_fatal_by_default_and_counts_one_otherwise() {
    let t = graph(vec![act(0, ActionKind::Start, Some("a"), "n2")], &[]);
    let c = cib();
    let mut e = engine();
    let d = only_dispatch(&e.start(&t, &c, NOW).unwrap());
    let cmds = e.handle(result(&d, 1), &c, NOW);
    assert_eq!(failcount_in(&cmds).unwrap().count, Score::INFINITY);
    assert!(recompute(&cmds));

    let mut c = cib();
    c.config
        .properties
        .insert("start-failure-is-fatal".into(), "false".into());
    // Two failures already recorded for this op.
    Change::SetFailCount {
        node: "n2".into(),
        failcount: FailCount {
            rsc: "a".into(),
            op: Some("start".into()),
            interval_ms: Some(0),
            count: Score::new(2),
            last_failure: Some(1),
        },
    }
    .apply(&mut c)
    .unwrap();
    let mut e = engine();
    let d = only_dispatch(&e.start(&t, &c, NOW).unwrap());
    let cmds = e.handle(result(&d, 1), &c, NOW);
    let fc = failcount_in(&cmds).unwrap();
    assert_eq!(fc.count, Score::new(3));
    assert_eq!(fc.last_failure, Some((NOW / 1000) as i64));
}

#[test]
fn failed_stop_sets_infinity() {
    let c = cib();
    let t = graph(vec![act(0, ActionKind::Stop, Some("a"), "n2")], &[]);
    let mut e = engine();
    let d = only_dispatch(&e.start(&t, &c, NOW).unwrap());
    let cmds = e.handle(result(&d, 1), &c, NOW);
    assert_eq!(failcount_in(&cmds).unwrap().count, Score::INFINITY);
}

fn apply_all(cmds: &[Command], c: &mut Cib) {
    for ch in proposals(cmds) {
        ch.apply(c).unwrap();
    }
}

#[test]
fn monitor_failures_count_one_each() {
    let mut c = cib();
    let mut e = engine();
    let d = ops::op_details(&c, "a", "n1", "monitor", 10_000).unwrap();
    let ev = Event::MonitorChanged {
        node: "n1".into(),
        details: d.clone(),
        outcome: done(7, 1),
    };
    let cmds = e.handle(ev.clone(), &c, NOW);
    assert_eq!(failcount_in(&cmds).unwrap().count, Score::new(1));
    assert!(recompute(&cmds), "idle engine recomputes at once");
    apply_all(&cmds, &mut c);
    let cmds = e.handle(ev.clone(), &c, NOW);
    assert_eq!(failcount_in(&cmds).unwrap().count, Score::new(2));
    apply_all(&cmds, &mut c);
    // The monitor recovering is recorded, without a failure or a recompute.
    let cmds = e.handle(
        Event::MonitorChanged {
            node: "n1".into(),
            details: d,
            outcome: done(0, 1),
        },
        &c,
        NOW,
    );
    assert!(failcount_in(&cmds).is_none());
    assert_eq!(proposals(&cmds).len(), 1);
    assert!(!recompute(&cmds));
    // The operator cleans the resource up: the next failure counts from zero.
    Change::ClearFailCount {
        node: "n1".into(),
        rsc: "a".into(),
        op: None,
        interval_ms: None,
    }
    .apply(&mut c)
    .unwrap();
    let cmds = e.handle(ev, &c, NOW);
    assert_eq!(failcount_in(&cmds).unwrap().count, Score::new(1));
}

#[test]
fn node_loss_aborts_and_waits_for_other_in_flight_actions() {
    let c = cib();
    let t = graph(
        vec![
            act(0, ActionKind::Stop, Some("a"), "n2"),
            act(1, ActionKind::Stop, Some("b"), "n3"),
            act(2, ActionKind::Start, Some("a"), "n1"),
        ],
        &[(0, 2)],
    );
    let mut e = engine();
    let cmds = e.start(&t, &c, NOW).unwrap();
    let ds: Vec<Dispatch> = dispatches(&cmds).into_iter().cloned().collect();
    assert_eq!(ds.len(), 2);
    let cmds = e.handle(Event::NodeLost("n2".into()), &c, NOW);
    assert!(
        proposals(&cmds).is_empty(),
        "nothing is recorded for the lost node"
    );
    assert!(!recompute(&cmds), "b's stop on n3 is still running");
    let b = ds.iter().find(|d| d.node == "n3").unwrap();
    let cmds = e.handle(result(b, 0), &c, NOW);
    assert!(
        dispatches(&cmds).is_empty(),
        "a's start is not dispatched after the abort"
    );
    assert!(recompute(&cmds));
}

#[test]
fn config_change_aborts_after_in_flight_results() {
    let c = cib();
    let t = graph(
        vec![
            act(0, ActionKind::Start, Some("a"), "n1"),
            act(1, ActionKind::Start, Some("b"), "n1"),
        ],
        &[(0, 1)],
    );
    let mut e = engine();
    let a = only_dispatch(&e.start(&t, &c, NOW).unwrap());
    let cmds = e.handle(Event::ConfigChanged, &c, NOW);
    assert!(cmds.is_empty());
    let cmds = e.handle(result(&a, 0), &c, NOW);
    assert_eq!(proposals(&cmds).len(), 1, "the result is still recorded");
    assert!(dispatches(&cmds).is_empty());
    assert!(recompute(&cmds));
    // Idle: a config change asks for a recompute at once.
    let cmds = e.handle(Event::ConfigChanged, &c, NOW);
    assert!(recompute(&cmds));
}

#[test]
fn quorum_loss_aborts_without_recompute() {
    let c = cib();
    let t = graph(
        vec![
            act(0, ActionKind::Start, Some("a"), "n1"),
            act(1, ActionKind::Start, Some("b"), "n1"),
        ],
        &[(0, 1)],
    );
    let mut e = engine();
    let a = only_dispatch(&e.start(&t, &c, NOW).unwrap());
    assert!(e.handle(Event::QuorumLost, &c, NOW).is_empty());
    let cmds = e.handle(result(&a, 0), &c, NOW);
    assert!(dispatches(&cmds).is_empty());
    assert!(!recompute(&cmds));
    assert!(!e.busy());
}

#[test]
fn fencing_runs_on_another_node_and_is_recorded() {
    let c = cib();
    let fence = ActionKind::Fence {
        action: "reboot".into(),
    };
    let t = graph(
        vec![
            act(0, fence.clone(), None, "n3"),
            act(1, ActionKind::Start, Some("a"), "n2"),
        ],
        &[(0, 1)],
    );
    let mut e = engine();
    let cmds = e.start(&t, &c, NOW).unwrap();
    assert!(dispatches(&cmds).is_empty(), "start waits for the fencing");
    let f = match &cmds[..] {
        [Command::Fence(f)] => f.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!((f.target.as_str(), f.executor.as_str()), ("n3", "n1"));
    let cmds = e.handle(fence_result(&f, "n1", "n3", true), &c, NOW);
    // Fenced, but not yet in the CIB: the start waits for the record.
    assert_eq!(recorded_fencing(&cmds), Some("n3".to_string()));
    assert!(
        dispatches(&cmds).is_empty(),
        "start before fencing is recorded"
    );
    // The proposal did not commit (no `FencingRecorded`): asked again, and the
    // start keeps waiting.
    assert!(e.handle(Event::Tick, &c, NOW + 1).is_empty());
    let resend = e.config().resend_ms;
    let cmds = e.handle(Event::Tick, &c, NOW + resend);
    assert_eq!(recorded_fencing(&cmds), Some("n3".to_string()));
    assert!(dispatches(&cmds).is_empty());
    // Committed: now the recovery runs.
    let cmds = e.handle(
        Event::FencingRecorded {
            transition: f.transition,
            action: f.action,
        },
        &c,
        NOW + resend,
    );
    assert_eq!(only_dispatch(&cmds).details.rsc, "a");

    // The DC itself is the victim: another online node fences it.
    let t = graph(vec![act(0, fence, None, "n1")], &[]);
    let mut e = engine();
    let cmds = e.start(&t, &c, NOW).unwrap();
    match &cmds[..] {
        [Command::Fence(f)] => assert_eq!((f.target.as_str(), f.executor.as_str()), ("n1", "n2")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn failed_fencing_aborts() {
    let c = cib();
    let t = graph(
        vec![
            act(
                0,
                ActionKind::Fence {
                    action: "off".into(),
                },
                None,
                "n3",
            ),
            act(1, ActionKind::Start, Some("a"), "n2"),
        ],
        &[(0, 1)],
    );
    let mut e = engine();
    let cmds = e.start(&t, &c, NOW).unwrap();
    let Command::Fence(f) = &cmds[0] else {
        panic!("{cmds:?}")
    };
    assert_eq!(f.fence_action, "off");
    let cmds = e.handle(fence_result(f, "n1", "n3", false), &c, NOW);
    assert!(dispatches(&cmds).is_empty());
    assert!(proposals(&cmds).is_empty());
    assert!(recompute(&cmds));
}

#[test]
fn a_node_that_never_answers_times_out() {
    let c = cib();
    let t = graph(vec![act(0, ActionKind::Start, Some("a"), "n2")], &[]);
    let mut e = engine();
    let d = only_dispatch(&e.start(&t, &c, NOW).unwrap());
    let grace = e.config().result_grace_ms;
    // Before the deadline: the request is only sent again, once per resend period.
    let resend = e.config().resend_ms;
    let cmds = e.handle(Event::Tick, &c, NOW + resend);
    assert_eq!(only_dispatch(&cmds), d, "same action, same transition");
    assert!(e.handle(Event::Tick, &c, NOW + resend + 1).is_empty());
    let before = NOW + d.details.timeout_ms + grace - 1;
    let cmds = e.handle(Event::Tick, &c, before);
    assert!(cmds.iter().all(|c| matches!(c, Command::Execute(_))));
    let cmds = e.handle(Event::Tick, &c, before + 1);
    let rec = proposals(&cmds)
        .into_iter()
        .flat_map(flatten)
        .find_map(|c| match c {
            Change::RecordOp { op, .. } => Some(op.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(rec.op_status, ops::status::TIMEOUT);
    assert!(failcount_in(&cmds).is_some());
    assert!(recompute(&cmds));
}

#[test]
fn unrunnable_actions_are_never_dispatched() {
    let c = cib();
    let mut blocked = act(1, ActionKind::Start, Some("b"), "n1");
    blocked.runnable = false;
    let t = graph(
        vec![act(0, ActionKind::Start, Some("a"), "n1"), blocked],
        &[(1, 0)],
    );
    let mut e = engine();
    let cmds = e.start(&t, &c, NOW).unwrap();
    // a only follows b optionally (the policy left it runnable): it goes.
    let a = only_dispatch(&cmds);
    assert_eq!(a.details.rsc, "a");
    let cmds = e.handle(result(&a, 0), &c, NOW);
    assert_eq!(complete(&cmds), Some(1));
}

#[test]
fn a_new_transition_waits_for_the_old_one() {
    let c = cib();
    let t = graph(vec![act(0, ActionKind::Start, Some("a"), "n1")], &[]);
    let mut e = engine();
    let a = only_dispatch(&e.start(&t, &c, NOW).unwrap());
    assert!(matches!(e.start(&t, &c, NOW), Err(EngineError::Busy(_))));
    let cmds = e.handle(result(&a, 0), &c, NOW);
    assert_eq!(complete(&cmds), Some(0));
    let again = only_dispatch(&e.start(&t, &c, NOW).unwrap());
    assert!(again.transition > a.transition);
}

#[test]
fn late_results_of_old_transitions_are_recorded_and_judged() {
    let c = cib();
    let t = graph(
        vec![
            act(0, ActionKind::Start, Some("a"), "n1"),
            act(1, ActionKind::Start, Some("b"), "n2"),
        ],
        &[],
    );
    let mut e = engine();
    let ds: Vec<Dispatch> = dispatches(&e.start(&t, &c, NOW).unwrap())
        .into_iter()
        .cloned()
        .collect();
    // n2 is lost; its start is abandoned; n1's finishes; recompute.
    e.handle(Event::NodeLost("n2".into()), &c, NOW);
    let cmds = e.handle(result(&ds[0], 0), &c, NOW);
    assert!(recompute(&cmds));
    // The lost node's result arrives after all (it was only slow): recorded; a
    // success it did not expect to hear about needs no recompute...
    let cmds = e.handle(result(&ds[1], 0), &c, NOW);
    assert_eq!(proposals(&cmds).len(), 1);
    assert!(!recompute(&cmds));
    // ...a failure does.
    let cmds = e.handle(result(&ds[1], 1), &c, NOW);
    assert!(recompute(&cmds));
}

#[test]
fn orphans_stop_with_the_agent_from_their_history() {
    let mut c = cib();
    Change::RecordOp {
        node: "n2".into(),
        rsc: "gone".into(),
        agent: AgentSpec::parse("ocf:pacemaker:Dummy").unwrap(),
        op: hactl_model::OpRecord {
            operation: "start".into(),
            call_id: 3,
            ..Default::default()
        },
    }
    .apply(&mut c)
    .unwrap();
    let t = graph(vec![act(0, ActionKind::Stop, Some("gone"), "n2")], &[]);
    let mut e = engine();
    let d = only_dispatch(&e.start(&t, &c, NOW).unwrap());
    assert_eq!(d.details.agent.to_string(), "ocf:pacemaker:Dummy");
    assert!(d.details.params.is_empty());
    // Nothing known about it at all: it cannot be dispatched.
    let t = graph(vec![act(0, ActionKind::Stop, Some("unknown"), "n2")], &[]);
    let mut e = engine();
    let cmds = e.start(&t, &c, NOW).unwrap();
    assert_eq!(complete(&cmds), Some(1));
}

fn fence_result(f: &FenceRequest, from: &str, target: &str, ok: bool) -> Event {
    Event::FenceResult {
        from: from.into(),
        transition: f.transition,
        action: f.action,
        target: target.into(),
        ok,
        reason: (!ok).then(|| "timed out".into()),
    }
}

/// The node a `RecordFencing` command asks to record as fenced.
fn recorded_fencing(cmds: &[Command]) -> Option<String> {
    cmds.iter().find_map(|c| match c {
        Command::RecordFencing {
            change: Change::RecordFencing { node, .. },
            ..
        } => Some(node.clone()),
        _ => None,
    })
}

#[test]
fn fence_results_count_only_from_the_chosen_node_for_its_target() {
    let c = cib();
    let t = graph(
        vec![
            act(
                0,
                ActionKind::Fence {
                    action: "reboot".into(),
                },
                None,
                "n3",
            ),
            act(1, ActionKind::Start, Some("a"), "n2"),
        ],
        &[(0, 1)],
    );
    let mut e = engine();
    let cmds = e.start(&t, &c, NOW).unwrap();
    let Command::Fence(f) = &cmds[0] else {
        panic!("{cmds:?}")
    };
    assert_eq!(f.executor, "n1");
    // Another node claims the fencing succeeded: not the one asked.
    assert!(e
        .handle(fence_result(f, "n2", "n3", true), &c, NOW)
        .is_empty());
    // The right node, but for another target.
    assert!(e
        .handle(fence_result(f, "n1", "n2", true), &c, NOW)
        .is_empty());
    // Nor does a failure from elsewhere abort anything.
    assert!(e
        .handle(fence_result(f, "n2", "n3", false), &c, NOW)
        .is_empty());
    assert_eq!(e.progress().in_flight, 1);
    // The chosen node for its target: recorded, then the start runs.
    let cmds = e.handle(fence_result(f, "n1", "n3", true), &c, NOW);
    assert_eq!(recorded_fencing(&cmds), Some("n3".to_string()));
    let ev = Event::FencingRecorded {
        transition: f.transition,
        action: f.action,
    };
    assert_eq!(only_dispatch(&e.handle(ev, &c, NOW)).details.rsc, "a");
}

#[test]
fn late_fence_success_from_the_chosen_node_is_still_recorded() {
    let c = cib();
    let fence = ActionKind::Fence {
        action: "reboot".into(),
    };
    let t = graph(vec![act(0, fence, None, "n3")], &[]);
    let mut e = engine();
    let cmds = e.start(&t, &c, NOW).unwrap();
    let Command::Fence(f) = &cmds[0] else {
        panic!("{cmds:?}")
    };
    // Timed out: the graph is aborted and gone.
    let after = NOW + e.config().fence_timeout_ms;
    assert!(recompute(&e.handle(Event::Tick, &c, after)));
    assert!(!e.busy());
    // A stranger's late word is ignored; the chosen node's is recorded.
    assert!(proposals(&e.handle(fence_result(f, "n2", "n3", true), &c, after)).is_empty());
    let cmds = e.handle(fence_result(f, "n1", "n3", true), &c, after);
    assert!(proposals(&cmds)
        .iter()
        .any(|c| matches!(c, Change::RecordFencing { node, .. } if node == "n3")));
}

#[test]
fn mandatory_successors_of_an_undispatchable_action_do_not_run() {
    let c = cib();
    // 0: a stop of a resource nothing is known about (runnable per the policy,
    // but the engine has no definition to run it with).
    let t = typed_graph(
        vec![
            act(0, ActionKind::Stop, Some("unknown"), "n2"),
            act(1, ActionKind::Start, Some("a"), "n1"),
            act(2, ActionKind::Start, Some("b"), "n1"),
            pseudo(3, ActionKind::GroupRunning),
            act(
                4,
                ActionKind::Monitor {
                    interval_ms: 10_000,
                },
                Some("a"),
                "n1",
            ),
        ],
        &[
            (0, 1, EdgeKind::Mandatory),
            (0, 2, EdgeKind::Optional),
            (1, 3, EdgeKind::Mandatory),
            (1, 4, EdgeKind::Mandatory),
        ],
    );
    let mut e = engine();
    let cmds = e.start(&t, &c, NOW).unwrap();
    // Only b (ordered after the stop for sequence only) runs; a must not start
    // after a stop that never happened, nor what hangs on a's start: its monitor
    // and the group's "running" marker.
    let b = only_dispatch(&cmds);
    assert_eq!(b.details.rsc, "b");
    let cmds = e.handle(result(&b, 0), &c, NOW);
    assert!(dispatches(&cmds).is_empty(), "{cmds:?}");
    assert_eq!(complete(&cmds), Some(4));
}

/// `a` as a promotable clone's primitive: a Promoted monitor (rc 8 is its success)
/// and an Unpromoted one.
fn promotable_cib() -> Cib {
    let mut c = cib();
    if let Resource::Primitive(p) = &mut c.config.resources[0] {
        p.ops = vec![
            OpSpec {
                name: "monitor".into(),
                interval_ms: 10_000,
                role: Some(hactl_model::Role::Promoted),
                ..Default::default()
            },
            OpSpec {
                name: "monitor".into(),
                interval_ms: 11_000,
                role: Some(hactl_model::Role::Unpromoted),
                ..Default::default()
            },
        ];
    }
    c
}

#[test]
fn promote_demote_and_cancel_run_as_operations_with_their_expected_results() {
    let c = promotable_cib();
    for (kind, op, interval) in [
        (ActionKind::Promote, "promote", 0),
        (ActionKind::Demote, "demote", 0),
        (
            ActionKind::Cancel {
                interval_ms: 11_000,
            },
            "cancel",
            11_000,
        ),
    ] {
        let mut e = engine();
        let t = graph(vec![act(0, kind, Some("a"), "n2")], &[]);
        let d = only_dispatch(&e.start(&t, &c, NOW).unwrap());
        assert_eq!(
            (d.details.op.as_str(), d.details.interval_ms),
            (op, interval)
        );
        let cmds = e.handle(result(&d, 0), &c, NOW);
        assert!(failcount_in(&cmds).is_none(), "{op}: rc 0 is its success");
    }
    // The cancel is recorded on the monitor it stopped: cancelled, not running.
    let mut e = engine();
    let t = graph(
        vec![act(
            0,
            ActionKind::Cancel {
                interval_ms: 11_000,
            },
            Some("a"),
            "n2",
        )],
        &[],
    );
    let d = only_dispatch(&e.start(&t, &c, NOW).unwrap());
    let cmds = e.handle(result(&d, 0), &c, NOW);
    let rec = proposals(&cmds)
        .into_iter()
        .flat_map(flatten)
        .find_map(|ch| match ch {
            Change::RecordOp { op, .. } => Some(op.clone()),
            _ => None,
        })
        .expect("recorded");
    assert_eq!(
        (rec.operation.as_str(), rec.interval_ms, rec.op_status),
        ("monitor", 11_000, ops::status::CANCELLED)
    );
}

#[test]
fn a_promoted_monitor_succeeds_with_rc_8_and_fails_with_rc_0() {
    let c = promotable_cib();
    let mut e = engine();
    let t = graph(
        vec![act(
            0,
            ActionKind::Monitor {
                interval_ms: 10_000,
            },
            Some("a"),
            "n1",
        )],
        &[],
    );
    let d = only_dispatch(&e.start(&t, &c, NOW).unwrap());
    let cmds = e.handle(result(&d, 8), &c, NOW);
    assert!(failcount_in(&cmds).is_none(), "rc 8 is promoted: expected");
    // A later change to rc 0 means it is no longer promoted: a failure.
    let d = ops::op_details(&c, "a", "n1", "monitor", 10_000).unwrap();
    let ev = |rc| Event::MonitorChanged {
        node: "n1".into(),
        details: d.clone(),
        outcome: done(rc, 1),
    };
    assert!(failcount_in(&e.handle(ev(0), &c, NOW)).is_some());
    // The unpromoted monitor is the other way round.
    let d = ops::op_details(&c, "a", "n1", "monitor", 11_000).unwrap();
    let ev = Event::MonitorChanged {
        node: "n1".into(),
        details: d,
        outcome: done(0, 1),
    };
    assert!(failcount_in(&e.handle(ev, &c, NOW)).is_none());
}

/// A live migration runs the agent's migrate_to on the source, then migrate_from
/// on the target, each told both nodes; the target's start is only a marker.
#[test]
fn migration_runs_migrate_to_then_migrate_from_with_both_nodes() {
    let c = cib();
    let ends = || ("n1".to_string(), "n2".to_string());
    let (source, target) = ends();
    let mut start = act(3, ActionKind::Start, Some("a"), "n2");
    start.pseudo = true;
    let t = graph(
        vec![
            act(
                0,
                ActionKind::MigrateTo {
                    source: source.clone(),
                    target: target.clone(),
                },
                Some("a"),
                "n1",
            ),
            act(
                1,
                ActionKind::MigrateFrom { source, target },
                Some("a"),
                "n2",
            ),
            act(2, ActionKind::Stop, Some("a"), "n1"),
            start,
        ],
        &[(0, 1), (1, 2), (1, 3), (2, 3)],
    );
    let mut e = engine();
    let to = only_dispatch(&e.start(&t, &c, NOW).unwrap());
    assert_eq!(
        (to.details.op.as_str(), to.node.as_str()),
        ("migrate_to", "n1")
    );
    for (k, v) in [
        ("CRM_meta_migrate_source", "n1"),
        ("CRM_meta_migrate_target", "n2"),
    ] {
        assert_eq!(to.details.params.get(k).map(String::as_str), Some(v), "{k}");
    }
    let from = only_dispatch(&e.handle(result(&to, 0), &c, NOW));
    assert_eq!(
        (from.details.op.as_str(), from.node.as_str()),
        ("migrate_from", "n2")
    );
    assert_eq!(
        from.details
            .params
            .get("CRM_meta_migrate_source")
            .map(String::as_str),
        Some("n1")
    );
    let stop = only_dispatch(&e.handle(result(&from, 0), &c, NOW));
    assert_eq!(
        (stop.details.op.as_str(), stop.node.as_str()),
        ("stop", "n1")
    );
    let cmds = e.handle(result(&stop, 0), &c, NOW);
    assert!(
        dispatches(&cmds).is_empty(),
        "the start is a marker: {cmds:#?}"
    );
    assert_eq!(complete(&cmds), Some(0));
}
