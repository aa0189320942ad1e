//! Unit tests on small hand-built CIBs.

use hactl_model::{
    AgentSpec, Cib, ColocationConstraint, FailCount, Group, LocationConstraint, Node, NodeStatus,
    OpRecord, Primitive, Resource, ResourceHistory, Score,
};

use crate::{schedule, StatusView};

pub(crate) fn node(name: &str) -> Node {
    Node {
        id: name.into(),
        name: name.into(),
        ..Default::default()
    }
}

pub(crate) fn online() -> NodeStatus {
    NodeStatus {
        member: Some(true),
        controller_online: Some(true),
        join: Some("member".into()),
        expected: Some("member".into()),
        ..Default::default()
    }
}

pub(crate) fn dummy(id: &str) -> Primitive {
    Primitive {
        id: id.into(),
        agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
        ..Default::default()
    }
}

pub(crate) fn running(call_id: i64) -> ResourceHistory {
    ResourceHistory {
        agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
        ops: vec![OpRecord {
            operation: "start".into(),
            call_id,
            rc: 0,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Two online nodes, no fencing, quorum.
pub(crate) fn base(nodes: &[&str]) -> Cib {
    let mut cib = Cib::default();
    cib.config
        .properties
        .insert("stonith-enabled".into(), "false".into());
    cib.status.have_quorum = true;
    for n in nodes {
        cib.config.nodes.push(node(n));
        cib.status.nodes.insert(n.to_string(), online());
    }
    cib
}

pub(crate) fn summary(cib: &Cib) -> Vec<String> {
    schedule(cib, 1_000_000)
        .unwrap()
        .summary
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// A 65,536-character id (accepted once, refused by validation now, but still
/// readable from an imported file) panicked the summary's `format!` with "Formatting
/// argument out of range", three times a second on the DC.
#[test]
fn a_huge_id_does_not_panic_the_summary() {
    let mut cib = base(&["node1"]);
    let id = "r".repeat(70_000);
    cib.config.resources.push(Resource::Primitive(dummy(&id)));
    assert_eq!(summary(&cib), vec![format!("Start {id} ( node1 )")]);
}

#[test]
fn group_starts_together_on_first_node() {
    let mut cib = base(&["node1", "node2"]);
    cib.config.resources.push(Resource::Group(Group {
        id: "g".into(),
        children: vec![dummy("a"), dummy("b")],
        ..Default::default()
    }));
    assert_eq!(
        summary(&cib),
        vec!["Start a ( node1 )", "Start b ( node1 )"]
    );
}

#[test]
fn equal_scores_spread_by_resource_count() {
    let mut cib = base(&["node1", "node2"]);
    cib.config.resources.push(Resource::Primitive(dummy("r1")));
    cib.config.resources.push(Resource::Primitive(dummy("r2")));
    assert_eq!(
        summary(&cib),
        vec!["Start r1 ( node1 )", "Start r2 ( node2 )"]
    );
}

#[test]
fn location_and_stickiness() {
    let mut cib = base(&["node1", "node2"]);
    let mut r = dummy("r");
    r.meta.insert("resource-stickiness".into(), "200".into());
    cib.config.resources.push(Resource::Primitive(r));
    cib.config.constraints.location.push(LocationConstraint {
        id: "prefer2".into(),
        rsc: "r".into(),
        node: Some("node2".into()),
        score: Some(Score::new(100)),
        ..Default::default()
    });
    // Stopped: goes to the preferred node.
    assert_eq!(summary(&cib), vec!["Start r ( node2 )"]);
    // Running on node1: stickiness 200 beats the preference of 100.
    cib.status
        .nodes
        .get_mut("node1")
        .unwrap()
        .resources
        .insert("r".into(), running(1));
    assert!(summary(&cib).is_empty());
    // A preference of 300 wins.
    cib.config.constraints.location[0].score = Some(Score::new(300));
    assert_eq!(summary(&cib), vec!["Move r ( node1 -> node2 )"]);
}

#[test]
fn migration_threshold_bans_node() {
    let mut cib = base(&["node1", "node2"]);
    let mut r = dummy("r");
    r.meta.insert("migration-threshold".into(), "2".into());
    cib.config.resources.push(Resource::Primitive(r));
    let st = cib.status.nodes.get_mut("node1").unwrap();
    st.resources.insert("r".into(), running(1));
    st.failcounts.push(FailCount {
        rsc: "r".into(),
        op: Some("monitor".into()),
        interval_ms: Some(10_000),
        count: Score::new(1),
        last_failure: Some(999_000),
    });
    assert!(
        summary(&cib).is_empty(),
        "one failure is below the threshold"
    );
    cib.status.nodes.get_mut("node1").unwrap().failcounts[0].count = Score::new(2);
    assert_eq!(summary(&cib), vec!["Move r ( node1 -> node2 )"]);
    // failure-timeout expires the fail count.
    if let Resource::Primitive(p) = &mut cib.config.resources[0] {
        p.meta.insert("failure-timeout".into(), "60s".into());
    }
    assert!(summary(&cib).is_empty());
}

#[test]
fn anti_colocation_keeps_apart() {
    let mut cib = base(&["node1", "node2"]);
    cib.config.resources.push(Resource::Primitive(dummy("a")));
    cib.config.resources.push(Resource::Primitive(dummy("b")));
    cib.config
        .constraints
        .colocation
        .push(ColocationConstraint {
            id: "apart".into(),
            rsc: "b".into(),
            with_rsc: "a".into(),
            score: Score::NEG_INFINITY,
            ..Default::default()
        });
    cib.config.constraints.location.push(LocationConstraint {
        id: "b-likes-1".into(),
        rsc: "b".into(),
        node: Some("node1".into()),
        score: Some(Score::new(50)),
        ..Default::default()
    });
    // a is assigned first, but b's preference for node1 (negated through the
    // anti-colocation, as Pacemaker does) pushes a to node2, leaving node1 to b.
    assert_eq!(
        summary(&cib),
        vec!["Start a ( node2 )", "Start b ( node1 )"]
    );
    // With one node, b cannot run.
    cib.config.nodes.pop();
    cib.status.nodes.remove("node2");
    assert_eq!(summary(&cib), vec!["Start a ( node1 )"]);
}

#[test]
fn standby_and_offline_nodes_run_nothing() {
    let mut cib = base(&["node1", "node2"]);
    cib.config.nodes[0].standby = true;
    cib.config.resources.push(Resource::Primitive(dummy("r")));
    assert_eq!(summary(&cib), vec!["Start r ( node2 )"]);
    cib.status.nodes.get_mut("node2").unwrap().member = Some(false);
    assert!(summary(&cib).is_empty());
    let t = schedule(&cib, 0).unwrap();
    let status = crate::format_status(&cib, &t, StatusView::Current);
    assert!(status.contains("Node node1: standby"), "{status}");
    assert!(status.contains("OFFLINE: [ node2 ]"), "{status}");
}

#[test]
fn unclean_node_is_fenced_before_recovery() {
    let mut cib = base(&["node1", "node2"]);
    cib.config
        .properties
        .insert("stonith-enabled".into(), "true".into());
    let mut fence = dummy("fence");
    fence.agent = AgentSpec::parse("stonith:fence_xvm").unwrap();
    cib.config.resources.push(Resource::Primitive(fence));
    cib.config.resources.push(Resource::Primitive(dummy("r")));
    {
        let n1 = cib.status.nodes.get_mut("node1").unwrap();
        n1.resources.insert("r".into(), running(1));
        n1.member = Some(false);
        n1.controller_online = Some(false);
    }
    let t = schedule(&cib, 0).unwrap();
    let lines: Vec<String> = t
        .summary
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        lines,
        vec![
            "Fence (reboot) node1 'peer is no longer part of the cluster'",
            "Start fence ( node2 )",
            "Move r ( node1 -> node2 )",
        ]
    );
    // The fencing comes before the start of r on node2.
    let fence_id = t
        .actions
        .iter()
        .find(|a| matches!(a.kind, crate::ActionKind::Fence { .. }))
        .unwrap()
        .id;
    let start_id = t
        .actions
        .iter()
        .find(|a| a.kind == crate::ActionKind::Start && a.resource.as_deref() == Some("r"))
        .unwrap()
        .id;
    assert!(t
        .edges
        .iter()
        .any(|e| e.before == fence_id && e.after == start_id));
}

#[test]
fn same_input_same_output() {
    let mut cib = base(&["n1", "n2", "n3"]);
    for i in 0..20 {
        cib.config
            .resources
            .push(Resource::Primitive(dummy(&format!("r{i}"))));
    }
    let a = serde_json::to_string(&schedule(&cib, 5).unwrap()).unwrap();
    let b = serde_json::to_string(&schedule(&cib, 5).unwrap()).unwrap();
    assert_eq!(a, b);
}

/// Shared names (`Arc<str>`) still serialize as plain strings, so `--output json`
/// keeps its shape.
#[test]
fn json_names_are_plain_strings() {
    let mut cib = base(&["n1"]);
    cib.config.resources.push(Resource::Primitive(dummy("r1")));
    cib.config.constraints.location.push(LocationConstraint {
        id: "prefer1".into(),
        rsc: "r1".into(),
        node: Some("n1".into()),
        score: Some(Score::new(100)),
        ..Default::default()
    });
    let v = serde_json::to_value(schedule(&cib, 5).unwrap()).unwrap();
    let start = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"]["type"] == "start")
        .unwrap();
    assert_eq!(start["resource"], "r1");
    assert_eq!(start["node"], "n1");
    let what = &v["scores"][0]["contributions"][0]["what"];
    assert!(
        what.as_str().is_some_and(|w| w.contains("prefer1")),
        "{what}"
    );
}

fn op(operation: &str, interval_ms: u64, call_id: i64, rc: i32, expected_rc: i32) -> OpRecord {
    OpRecord {
        operation: operation.into(),
        interval_ms,
        call_id,
        rc,
        expected_rc: Some(expected_rc),
        ..Default::default()
    }
}

fn history(ops: Vec<OpRecord>) -> ResourceHistory {
    ResourceHistory {
        agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
        ops,
        ..Default::default()
    }
}

fn placement<'t>(t: &'t crate::Transition, id: &str) -> &'t crate::Placement {
    t.placements.iter().find(|p| p.resource == id).unwrap()
}

#[test]
fn history_decides_current_state() {
    let mut cib = base(&["node1", "node2"]);
    // Without stickiness, equal scores would let resources spread to node2.
    cib.config
        .rsc_defaults
        .insert("resource-stickiness".into(), "1".into());
    for id in ["probed", "started", "stopped", "failed", "multi"] {
        cib.config.resources.push(Resource::Primitive(dummy(id)));
    }
    let n1 = cib.status.nodes.get_mut("node1").unwrap();
    // A probe that found nothing: stopped, known.
    n1.resources
        .insert("probed".into(), history(vec![op("monitor", 0, 1, 7, 7)]));
    // Ops are replayed by call id, not by position.
    n1.resources.insert(
        "started".into(),
        history(vec![
            op("monitor", 10_000, 5, 0, 0),
            op("start", 0, 4, 0, 0),
        ]),
    );
    n1.resources.insert(
        "stopped".into(),
        history(vec![op("start", 0, 6, 0, 0), op("stop", 0, 7, 0, 0)]),
    );
    // A recurring monitor that failed: running, failed, must be recovered.
    n1.resources.insert(
        "failed".into(),
        history(vec![
            op("start", 0, 8, 0, 0),
            op("monitor", 10_000, 9, 1, 0),
        ]),
    );
    n1.resources
        .insert("multi".into(), history(vec![op("start", 0, 10, 0, 0)]));
    cib.config.constraints.location.push(LocationConstraint {
        id: "multi-on-1".into(),
        rsc: "multi".into(),
        node: Some("node1".into()),
        score: Some(Score::new(10)),
        ..Default::default()
    });
    cib.status
        .nodes
        .get_mut("node2")
        .unwrap()
        .resources
        .insert("multi".into(), history(vec![op("start", 0, 3, 0, 0)]));
    let t = schedule(&cib, 0).unwrap();
    assert!(placement(&t, "probed").current.is_empty());
    assert_eq!(placement(&t, "started").current, vec!["node1"]);
    assert!(placement(&t, "stopped").current.is_empty());
    let failed = placement(&t, "failed");
    assert!(failed.failed && failed.failed_on == vec!["node1"]);
    assert_eq!(placement(&t, "multi").current, vec!["node1", "node2"]);
    let lines: Vec<String> = t
        .summary
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(
        lines.contains(&"Recover failed ( node1 )".to_string()),
        "{lines:?}"
    );
    // Multiply active: stopped everywhere and started on one node.
    assert!(
        lines.contains(&"Restart multi ( node1 )".to_string()),
        "{lines:?}"
    );
    // No probe for what node1 already knows, probes on node2 for the rest.
    let probes: Vec<(String, String)> = t
        .actions
        .iter()
        .filter(|a| a.kind == crate::ActionKind::Probe)
        .map(|a| {
            (
                a.resource.as_deref().unwrap().to_string(),
                a.node.as_deref().unwrap().to_string(),
            )
        })
        .collect();
    assert!(!probes.iter().any(|(_, n)| n == "node1"), "{probes:?}");
    assert!(probes.contains(&("probed".into(), "node2".into())));
}

#[test]
fn failed_stop_blocks_without_fencing_and_fences_with_it() {
    let mut cib = base(&["node1", "node2"]);
    cib.config.resources.push(Resource::Primitive(dummy("r")));
    cib.status.nodes.get_mut("node1").unwrap().resources.insert(
        "r".into(),
        history(vec![op("start", 0, 1, 0, 0), op("stop", 0, 2, 1, 0)]),
    );
    // Without fencing the default on-fail for stop is block: leave it alone.
    let t = schedule(&cib, 0).unwrap();
    let p = placement(&t, "r");
    assert!(p.blocked && p.unmanaged, "{p:?}");
    assert!(t.summary.is_empty(), "{:?}", t.summary);
    // With fencing (and a device), the node is fenced and r recovered elsewhere.
    cib.config
        .properties
        .insert("stonith-enabled".into(), "true".into());
    let mut fence = dummy("fence");
    fence.agent = AgentSpec::parse("stonith:fence_xvm").unwrap();
    cib.config.resources.insert(0, Resource::Primitive(fence));
    let t = schedule(&cib, 0).unwrap();
    let lines: Vec<String> = t
        .summary
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(
        lines.contains(&"Fence (reboot) node1 'r failed there'".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"Recover r ( node1 -> node2 )".to_string()),
        "{lines:?}"
    );
}

#[test]
fn node_states_from_membership() {
    let mut cib = base(&["up", "left", "lost", "pending", "unseen"]);
    cib.config
        .properties
        .insert("stonith-enabled".into(), "true".into());
    {
        let left = cib.status.nodes.get_mut("left").unwrap();
        left.member = Some(false);
        left.controller_online = Some(false);
        left.expected = Some("down".into());
    }
    {
        let lost = cib.status.nodes.get_mut("lost").unwrap();
        lost.member = Some(false);
        lost.controller_online = Some(false);
    }
    cib.status.nodes.get_mut("pending").unwrap().join = Some("pending".into());
    cib.status.nodes.remove("unseen");
    let t = schedule(&cib, 0).unwrap();
    let st = |n: &str| t.nodes.iter().find(|s| s.name == n).unwrap().clone();
    assert!(st("up").online && !st("up").unclean);
    assert!(
        !st("left").online && !st("left").unclean,
        "clean shutdown is offline"
    );
    assert!(st("lost").unclean);
    assert_eq!(
        st("lost").fence_reason.as_deref(),
        Some("peer is no longer part of the cluster")
    );
    assert!(st("pending").pending);
    assert!(
        st("unseen").unclean,
        "startup fencing: never seen means unclean"
    );
    // No fence device configured: nothing can be fenced, so no fencing actions.
    assert!(t.summary.iter().all(|l| !l.starts_with("Fence")));
}

#[test]
fn group_stickiness_is_the_sum_of_active_members() {
    // Each member has stickiness 60; a location preference of 150 for node2 beats
    // one member's stickiness but not the group's (2 × 60 = 120 < 150 < 180).
    let mut cib = base(&["node1", "node2"]);
    cib.config
        .rsc_defaults
        .insert("resource-stickiness".into(), "60".into());
    cib.config.resources.push(Resource::Group(Group {
        id: "g".into(),
        children: vec![dummy("a"), dummy("b"), dummy("c")],
        ..Default::default()
    }));
    cib.config.constraints.location.push(LocationConstraint {
        id: "g-prefers-2".into(),
        rsc: "g".into(),
        node: Some("node2".into()),
        score: Some(Score::new(150)),
        ..Default::default()
    });
    for (i, m) in ["a", "b", "c"].iter().enumerate() {
        cib.status
            .nodes
            .get_mut("node1")
            .unwrap()
            .resources
            .insert(m.to_string(), running(i as i64 + 1));
    }
    assert!(summary(&cib).is_empty(), "{:?}", summary(&cib));
    // With only two members running, 120 < 150: the group moves.
    cib.status
        .nodes
        .get_mut("node1")
        .unwrap()
        .resources
        .remove("c");
    assert_eq!(
        summary(&cib),
        vec![
            "Move a ( node1 -> node2 )",
            "Move b ( node1 -> node2 )",
            "Start c ( node2 )"
        ]
    );
    let t = schedule(&cib, 0).unwrap();
    assert!(
        t.explain_text().contains("g-prefers-2"),
        "{}",
        t.explain_text()
    );
}

#[test]
fn long_colocation_chain_does_not_exhaust_the_stack() {
    // r1 with r0, r2 with r1, …: assignment recurses along the chain, so the
    // depth must stay bounded for long chains.
    let mut cib = base(&["node1", "node2"]);
    let n = 5000;
    for i in 0..n {
        cib.config
            .resources
            .push(Resource::Primitive(dummy(&format!("r{i}"))));
        if i > 0 {
            cib.config
                .constraints
                .colocation
                .push(ColocationConstraint {
                    id: format!("c{i}"),
                    rsc: format!("r{}", i),
                    with_rsc: format!("r{}", i - 1),
                    score: Score::INFINITY,
                    ..Default::default()
                });
        }
    }
    let t = schedule(&cib, 0).unwrap();
    // Everything follows r0.
    let first = t.placements[0].target.clone();
    assert!(first.is_some());
    assert!(t.placements.iter().all(|p| p.target == first));
}

#[test]
fn long_chains_in_assignment_order_do_not_exhaust_the_stack() {
    // r0 with r1, r1 with r2, …: r0 is assigned first and needs the whole chain
    // placed before it. Also a long chain of mandatory orderings.
    let mut cib = base(&["node1", "node2"]);
    let n = 5000;
    for i in 0..n {
        cib.config
            .resources
            .push(Resource::Primitive(dummy(&format!("r{i}"))));
        if i + 1 < n {
            cib.config
                .constraints
                .colocation
                .push(ColocationConstraint {
                    id: format!("c{i}"),
                    rsc: format!("r{i}"),
                    with_rsc: format!("r{}", i + 1),
                    score: Score::INFINITY,
                    ..Default::default()
                });
            cib.config
                .constraints
                .order
                .push(hactl_model::OrderConstraint {
                    id: format!("o{i}"),
                    first: format!("r{}", i + 1),
                    then: format!("r{i}"),
                    ..Default::default()
                });
        }
    }
    let t = schedule(&cib, 0).unwrap();
    let first = t.placements[0].target.clone();
    assert!(first.is_some());
    assert!(t.placements.iter().all(|p| p.target == first));
    assert_eq!(t.summary.len(), n);
}

fn all_pairs_colocated(n: usize, score: Score) -> Cib {
    hactl_cib_xml::generate::dense_colocations_model(3, n, score)
}

#[test]
fn dense_colocations_are_scheduled_in_bounded_time() {
    // Merging colocated resources' preferences walks every simple path of the
    // colocation graph (Pacemaker does the same): with 12 resources all colocated
    // with each other that is about 12! paths per merge. The walk is bounded, so
    // this schedules in well under a second instead of minutes.
    for score in [Score::INFINITY, Score::new(100)] {
        let cib = all_pairs_colocated(12, score);
        let started = std::time::Instant::now();
        let t = schedule(&cib, 0).unwrap();
        let took = started.elapsed();
        assert!(
            took < std::time::Duration::from_secs(10),
            "12 resources with all pairwise colocations (score {score}) took {took:?}"
        );
        // The cut is reported, not silent.
        assert!(
            t.warnings.iter().any(|w| w.contains("colocation search")),
            "{:?}",
            t.warnings
        );
        if score.is_infinite() {
            // Mandatory colocations still hold: everything on one node.
            let first = t.placements[0].target.clone();
            assert!(first.is_some());
            assert!(t.placements.iter().all(|p| p.target == first));
        }
    }
}

#[test]
fn small_colocation_sets_are_searched_in_full() {
    // Below the budget nothing is cut: 5 resources all colocated with each other
    // is 4! = 24 paths per merge.
    let t = schedule(&all_pairs_colocated(5, Score::new(100)), 0).unwrap();
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
}

#[test]
fn ordering_edges_are_typed_mandatory_or_optional() {
    // a runs on node1 and must move to node2: its stop must happen before its
    // start (mandatory); the probe on node2 only sequences the start (optional).
    let mut cib = base(&["node1", "node2"]);
    cib.config.resources.push(Resource::Primitive(dummy("a")));
    cib.status
        .nodes
        .get_mut("node1")
        .unwrap()
        .resources
        .insert("a".into(), running(1));
    cib.config.constraints.location.push(LocationConstraint {
        id: "a-on-2".into(),
        rsc: "a".into(),
        node: Some("node2".into()),
        score: Some(Score::INFINITY),
        ..Default::default()
    });
    let t = schedule(&cib, 0).unwrap();
    let find = |kind: crate::ActionKind, node: &str| {
        t.actions
            .iter()
            .find(|x| x.kind == kind && x.node.as_deref() == Some(node))
            .unwrap_or_else(|| panic!("{kind:?} on {node} in {:?}", t.actions))
            .id
    };
    let stop = find(crate::ActionKind::Stop, "node1");
    let start = find(crate::ActionKind::Start, "node2");
    let probe = find(crate::ActionKind::Probe, "node2");
    let kind_of = |before: usize, after: usize| {
        t.edges
            .iter()
            .find(|e| e.before == before && e.after == after)
            .map(|e| e.kind)
    };
    assert_eq!(kind_of(stop, start), Some(crate::EdgeKind::Mandatory));
    assert_eq!(kind_of(probe, start), Some(crate::EdgeKind::Optional));
}

#[path = "clone_tests.rs"]
mod clone_tests;

#[path = "promotable_tests.rs"]
pub(crate) mod promotable_tests;

#[path = "promotion_scores_tests.rs"]
mod promotion_scores_tests;

#[path = "notify_tests.rs"]
mod notify_tests;

#[path = "clone_min_tests.rs"]
mod clone_min_tests;

#[path = "clone_numbering_tests.rs"]
mod clone_numbering_tests;

#[path = "cleanup_tests.rs"]
mod cleanup_tests;

#[path = "load_order_tests.rs"]
mod load_order_tests;

#[path = "migration_tests.rs"]
mod migration_tests;

#[path = "migration_orders_tests.rs"]
mod migration_orders_tests;

#[path = "partial_migration_tests.rs"]
mod partial_migration_tests;

#[path = "one_or_more_tests.rs"]
mod one_or_more_tests;

#[path = "on_fail_tests.rs"]
mod on_fail_tests;

#[path = "group_order_tests.rs"]
mod group_order_tests;

#[path = "clone_group_tests.rs"]
mod clone_group_tests;

#[path = "stopped_monitors_tests.rs"]
mod stopped_monitors_tests;

#[path = "history_tests.rs"]
mod history_tests;

#[path = "requires_tests.rs"]
mod requires_tests;

#[path = "shutdown_lock_tests.rs"]
mod shutdown_lock_tests;

#[path = "unfence_tests.rs"]
mod unfence_tests;

#[test]
fn a_watchdog_counts_as_fencing() {
    // stonith-enabled without a fence device leaves resources alone, but SBD's
    // watchdog (`have-watchdog=true`) fences: Pacemaker starts them.
    let mut cib = base(&["node1"]);
    cib.config
        .properties
        .insert("stonith-enabled".into(), "true".into());
    cib.config.resources.push(Resource::Primitive(dummy("r")));
    assert!(summary(&cib).is_empty());
    cib.config
        .properties
        .insert("have-watchdog".into(), "true".into());
    assert_eq!(summary(&cib), ["Start r ( node1 )"]);
}
