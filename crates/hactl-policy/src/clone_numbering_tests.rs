//! Anonymous clone instance numbers on small hand-built CIBs: which node's
//! history is given which instance (`web:0`, `web:1`) follows the order the
//! status lists the nodes in, and the name a history knows an instance by
//! decides which promotion score is its own.

use hactl_model::{CloneSet, OpRecord, ResourceHistory};

use super::*;
use crate::Transition;

/// `web` cloned over n1 and n2, running on both, each node's history naming its
/// instance `web:0` (both nodes started their instance as the first one).
fn both_recorded_as_zero() -> Cib {
    let mut cib = base(&["n1", "n2"]);
    cib.config.resources.push(Resource::Clone(CloneSet {
        id: "web-clone".into(),
        meta: Default::default(),
        child: Box::new(Resource::Primitive(dummy("web"))),
    }));
    for n in ["n1", "n2"] {
        let st = cib.status.nodes.get_mut(n).unwrap();
        st.resources.insert("web:0".into(), running(2));
    }
    cib
}

/// The instance placed on `node`.
fn instance_on<'t>(t: &'t Transition, node: &str) -> &'t str {
    t.placements
        .iter()
        .find(|p| p.clone.is_some() && p.current.iter().any(|n| n == node))
        .map(|p| p.resource.as_str())
        .unwrap_or_else(|| panic!("no instance on {node}: {:?}", t.placements))
}

#[test]
fn the_node_the_status_lists_first_gets_instance_zero() {
    let mut cib = both_recorded_as_zero();
    let t = schedule(&cib, 1_000_000).unwrap();
    assert_eq!(
        instance_on(&t, "n1"),
        "web:0",
        "name order without a status order"
    );
    assert_eq!(instance_on(&t, "n2"), "web:1");
    cib.status.history_order = vec!["n2".into(), "n1".into()];
    let t = schedule(&cib, 1_000_000).unwrap();
    assert_eq!(instance_on(&t, "n2"), "web:0", "n2's history is read first");
    assert_eq!(instance_on(&t, "n1"), "web:1");
}

fn record(operation: &str, call_id: i64, rc: i32) -> OpRecord {
    OpRecord {
        operation: operation.into(),
        call_id,
        rc,
        expected_rc: Some(rc),
        ..Default::default()
    }
}

#[test]
fn an_instance_is_promoted_by_the_score_set_under_its_history_name() {
    // n1 runs the instance its history calls db:1 (it is given db:0 here, as
    // the first node read), n2 the one called db:0. Each agent set its promotion
    // score under the name it runs as: n1's is the higher one.
    let mut cib = base(&["n1", "n2"]);
    cib.config.resources.push(Resource::Clone(CloneSet {
        id: "db-clone".into(),
        meta: [("promotable".to_string(), "true".to_string())].into(),
        child: Box::new(Resource::Primitive(dummy("db"))),
    }));
    for (n, name, score) in [("n1", "db:1", "10"), ("n2", "db:0", "5")] {
        let st = cib.status.nodes.get_mut(n).unwrap();
        let h = ResourceHistory {
            ops: vec![record("start", 2, 0)],
            ..running(2)
        };
        st.resources.insert(name.into(), h);
        st.attributes.insert(format!("master-{name}"), score.into());
    }
    let t = schedule(&cib, 1_000_000).unwrap();
    let promote: Vec<_> = t
        .actions
        .iter()
        .filter(|a| a.kind == crate::ActionKind::Promote)
        .map(|a| a.node.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(promote, ["n1"], "{:?}", t.summary);
}

#[test]
fn a_numbered_name_of_a_stopped_record_is_not_kept() {
    // n2's history has a probe of "web:0" (not running) before "web:1", which
    // runs. The instance it is given keeps its own name (web:1), not the name
    // of the stopped record, so the graph and the agent agree on it.
    let mut cib = base(&["n1", "n2"]);
    cib.config.resources.push(Resource::Clone(CloneSet {
        id: "web-clone".into(),
        meta: Default::default(),
        child: Box::new(Resource::Primitive(dummy("web"))),
    }));
    let st = cib.status.nodes.get_mut("n1").unwrap();
    st.resources.insert("web:0".into(), running(2));
    let st = cib.status.nodes.get_mut("n2").unwrap();
    let probe = ResourceHistory {
        ops: vec![record("monitor", 1, 7)],
        ..running(1)
    };
    st.resources.insert("web:0".into(), probe);
    st.resources.insert("web:1".into(), running(2));
    let t = schedule(&cib, 1_000_000).unwrap();
    let on_n2 = t
        .placements
        .iter()
        .find(|p| p.current.iter().any(|n| n == "n2"))
        .unwrap();
    assert_eq!(on_n2.resource, "web:1");
    assert_eq!(on_n2.history_name, None, "{on_n2:?}");
}

/// A second history of an anonymous clone on a node where an instance already
/// runs makes an orphan instance (as Pacemaker's find_anonymous_clone does);
/// like Pacemaker, the scores do not list it (CTS cases inc6, inc9,
/// interleave-restart).
#[test]
fn the_scores_leave_out_an_orphan_instance_made_for_an_extra_history() {
    let mut cib = both_recorded_as_zero();
    let st = cib.status.nodes.get_mut("n1").unwrap();
    let probe = ResourceHistory {
        ops: vec![record("monitor", 1, 7)],
        ..running(1)
    };
    st.resources.insert("web:1".into(), probe);
    let t = schedule(&cib, 1_000_000).unwrap();
    let orphans: Vec<&str> = t
        .placements
        .iter()
        .filter(|p| p.orphan)
        .map(|p| p.resource.as_str())
        .collect();
    assert_eq!(orphans, ["web:2"]);
    let scores = t.raw_scores();
    assert!(scores.contains("pcmk__clone_assign: web:1 allocation score on n1"));
    assert!(!scores.contains("web:2"), "{scores}");
}
