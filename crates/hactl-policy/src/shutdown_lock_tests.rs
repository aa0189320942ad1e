//! `shutdown-lock`: resources of a node shut down cleanly stay locked to it.

use super::*;

/// `r` and the fence device `f` run on node1, which is shutting down cleanly.
fn shutting_down(lock: &str) -> Cib {
    let mut cib = base(&["node1", "node2"]);
    cib.config
        .properties
        .insert("shutdown-lock".into(), lock.into());
    let mut f = dummy("f");
    f.agent = AgentSpec::parse("stonith:fence_xvm").unwrap();
    cib.config.resources.push(Resource::Primitive(f));
    cib.config.resources.push(Resource::Primitive(dummy("r")));
    let n1 = cib.status.nodes.get_mut("node1").unwrap();
    n1.shutdown = Some(999_000);
    let mut fh = running(1);
    fh.agent = AgentSpec::parse("stonith:fence_xvm").unwrap();
    n1.resources.insert("f".into(), fh);
    n1.resources.insert("r".into(), running(2));
    cib
}

/// With the lock, `r` only stops with its node (it is not recovered on node2),
/// while the fence device, which is never locked, moves; without it both move.
#[test]
fn a_resource_on_a_node_shutting_down_stops_there_instead_of_moving() {
    assert_eq!(
        summary(&shutting_down("true")),
        [
            "Move f ( node1 -> node2 )",
            "Stop r ( node1 ) due to node availability"
        ]
    );
    assert_eq!(
        summary(&shutting_down("false")),
        ["Move f ( node1 -> node2 )", "Move r ( node1 -> node2 )"]
    );
}

/// `r` was stopped on node2 by its shutdown at time 900,000 (the lock is in its
/// history there); node1 is preferred by a location constraint.
fn locked_to_node2(node2_online: bool, limit: Option<&str>) -> Cib {
    let mut cib = base(&["node1", "node2"]);
    cib.config
        .properties
        .insert("shutdown-lock".into(), "true".into());
    if let Some(l) = limit {
        cib.config
            .properties
            .insert("shutdown-lock-limit".into(), l.into());
    }
    cib.config.resources.push(Resource::Primitive(dummy("r")));
    cib.config.constraints.location.push(LocationConstraint {
        id: "prefer-node1".into(),
        rsc: "r".into(),
        node: Some("node1".into()),
        score: Some(Score::new(100)),
        ..Default::default()
    });
    let n2 = cib.status.nodes.get_mut("node2").unwrap();
    let mut h = running(1);
    h.ops[0].operation = "stop".into();
    h.shutdown_lock = Some(900_000);
    n2.resources.insert("r".into(), h);
    if !node2_online {
        n2.member = Some(false);
        n2.controller_online = Some(false);
        n2.join = Some("down".into());
        n2.expected = Some("down".into());
    }
    cib
}

/// While node2 is away the locked resource stays stopped; when node2 is back it
/// starts there (despite node1's preference); once `shutdown-lock-limit` has
/// passed (`summary` schedules at 1,000,000, 100,000 s after the lock) it is
/// free to start on node1.
#[test]
fn a_locked_resource_waits_for_its_node_until_the_limit() {
    assert!(summary(&locked_to_node2(false, None)).is_empty());
    assert!(summary(&locked_to_node2(false, Some("2d"))).is_empty());
    assert_eq!(summary(&locked_to_node2(true, None)), ["Start r ( node2 )"]);
    assert_eq!(
        summary(&locked_to_node2(false, Some("1d"))),
        ["Start r ( node1 )"]
    );
}

/// An expired lock is forgotten with the history that holds it: the history on
/// node2 (online again) is deleted, as Pacemaker's unpack_shutdown_lock does.
#[test]
fn an_expired_lock_deletes_the_history_that_holds_it() {
    let t = schedule(&locked_to_node2(true, Some("1d")), 1_000_000).unwrap();
    let deletes: Vec<_> = t
        .actions
        .iter()
        .filter(|a| a.kind == crate::ActionKind::Delete)
        .map(|a| (a.resource.as_deref(), a.node.as_deref()))
        .collect();
    assert_eq!(deletes, [(Some("r"), Some("node2"))]);
}
