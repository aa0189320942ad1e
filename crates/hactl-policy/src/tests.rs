//! Unit tests on small hand-built CIBs.

use hactl_model::{
    AgentSpec, Cib, ColocationConstraint, FailCount, Group, LocationConstraint, Node, NodeStatus,
    OpRecord, Primitive, Resource, ResourceHistory, Score,
};

use crate::{schedule, StatusView};

fn node(name: &str) -> Node {
    Node {
        id: name.into(),
        name: name.into(),
        ..Default::default()
    }
}

fn online() -> NodeStatus {
    NodeStatus {
        member: Some(true),
        controller_online: Some(true),
        join: Some("member".into()),
        expected: Some("member".into()),
        ..Default::default()
    }
}

fn dummy(id: &str) -> Primitive {
    Primitive {
        id: id.into(),
        agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
        ..Default::default()
    }
}

fn running(call_id: i64) -> ResourceHistory {
    ResourceHistory {
        agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
        ops: vec![OpRecord {
            operation: "start".into(),
            call_id,
            rc: 0,
            ..Default::default()
        }],
    }
}

/// Two online nodes, no fencing, quorum.
fn base(nodes: &[&str]) -> Cib {
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

fn summary(cib: &Cib) -> Vec<String> {
    schedule(cib, 1_000_000)
        .unwrap()
        .summary
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
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
