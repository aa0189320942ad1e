//! Promotable clones on small hand-built CIBs: promotion follows the agents'
//! promotion scores (`master-<rsc>` node attributes), at most `promoted-max`,
//! role-limited constraints decide with them, and a promoted instance that must
//! leave its node is replaced by one promoted elsewhere.

use hactl_model::{
    CloneSet, LocationConstraint, OpRecord, OpSpec, OrderAction, OrderConstraint, ResourceHistory,
};
use hactl_model::{Role, Score};

use super::*;
use crate::format_status;

const NODES: [&str; 3] = ["n1", "n2", "n3"];

/// Whether action `to` waits, through ordering edges, for action `from`.
pub(crate) fn reaches(t: &crate::Transition, from: usize, to: usize) -> bool {
    let mut stack = vec![from];
    let mut seen = vec![false; t.actions.len()];
    while let Some(a) = stack.pop() {
        if a == to {
            return true;
        }
        for e in t.edges.iter().filter(|e| e.before == a) {
            if !std::mem::replace(&mut seen[e.after], true) {
                stack.push(e.after);
            }
        }
    }
    false
}

/// `db` (Stateful-like) cloned and promotable over three nodes, with a monitor
/// per role; the nodes' promotion scores for it as given.
pub(super) fn promotable(scores: &[(&str, &str)]) -> Cib {
    let mut cib = base(&NODES);
    let mut prim = dummy("db");
    for (role, iv) in [(Role::Promoted, 10_000), (Role::Unpromoted, 11_000)] {
        prim.ops.push(OpSpec {
            name: "monitor".into(),
            interval_ms: iv,
            role: Some(role),
            ..Default::default()
        });
    }
    cib.config.resources.push(Resource::Clone(CloneSet {
        id: "db-clone".into(),
        meta: [("promotable".to_string(), "true".to_string())].into(),
        child: Box::new(Resource::Primitive(prim)),
    }));
    for (node, score) in scores {
        let st = cib.status.nodes.get_mut(*node).unwrap();
        st.attributes.insert("master-db".into(), score.to_string());
    }
    cib
}

/// `db` running on every node, promoted on `promoted` (its last op a promote).
fn running_promoted_on(cib: &mut Cib, promoted: &str) {
    for (i, n) in NODES.iter().enumerate() {
        let mut h = running(i as i64 + 1);
        if *n == promoted {
            h.ops.push(OpRecord {
                operation: "promote".into(),
                call_id: 10,
                rc: 0,
                ..Default::default()
            });
        }
        let st = cib.status.nodes.get_mut(*n).unwrap();
        st.resources.insert("db".into(), h);
    }
}

fn vip_with_promoted(cib: &mut Cib) {
    cib.config.resources.push(Resource::Primitive(dummy("vip")));
    cib.config
        .constraints
        .colocation
        .push(ColocationConstraint {
            id: "vip-with-promoted".into(),
            rsc: "vip".into(),
            with_rsc: "db-clone".into(),
            score: Score::INFINITY,
            with_rsc_role: Some(Role::Promoted),
            ..Default::default()
        });
    cib.config.constraints.order.push(OrderConstraint {
        id: "promote-then-vip".into(),
        first: "db-clone".into(),
        then: "vip".into(),
        first_action: OrderAction::Promote,
        then_action: OrderAction::Start,
        ..Default::default()
    });
}

#[test]
fn the_instance_on_the_node_with_the_highest_promotion_score_is_promoted() {
    let cib = promotable(&[("n1", "5"), ("n2", "10"), ("n3", "5")]);
    let s = summary(&cib);
    assert_eq!(
        s.iter().filter(|l| l.starts_with("Promote")).count(),
        1,
        "{s:?}"
    );
    assert!(
        s.iter()
            .any(|l| l.starts_with("Promote") && l.ends_with("( Stopped -> Promoted n2 )")),
        "{s:?}"
    );
    assert_eq!(s.iter().filter(|l| l.starts_with("Start")).count(), 2);
    // The promoted instance runs the Promoted monitor, the others theirs.
    let t = schedule(&cib, 1_000_000).unwrap();
    let monitors: Vec<(u64, &str)> = t
        .actions
        .iter()
        .filter_map(|a| match a.kind {
            crate::ActionKind::Monitor { interval_ms } => Some((interval_ms, a.node.as_deref()?)),
            _ => None,
        })
        .collect();
    assert!(monitors.contains(&(10_000, "n2")), "{monitors:?}");
    assert!(monitors.contains(&(11_000, "n1")), "{monitors:?}");
    assert!(!monitors.contains(&(11_000, "n2")), "{monitors:?}");
}

#[test]
fn without_a_promotion_score_nothing_is_promoted() {
    let cib = promotable(&[]);
    let s = summary(&cib);
    assert_eq!(s.len(), 3, "{s:?}");
    assert!(s.iter().all(|l| l.starts_with("Start")), "{s:?}");
}

#[test]
fn promoted_max_bounds_the_promoted_instances() {
    let mut cib = promotable(&[("n1", "5"), ("n2", "10"), ("n3", "7")]);
    if let Resource::Clone(c) = &mut cib.config.resources[0] {
        c.meta.insert("promoted-max".into(), "2".into());
    }
    let s = summary(&cib);
    let promoted: Vec<&String> = s.iter().filter(|l| l.starts_with("Promote")).collect();
    assert_eq!(promoted.len(), 2, "{s:?}");
    assert!(promoted.iter().all(|l| !l.contains("n1")), "{s:?}");
}

#[test]
fn standby_of_the_promoted_node_promotes_another_instance() {
    let mut cib = promotable(&[("n1", "10"), ("n2", "5"), ("n3", "8")]);
    running_promoted_on(&mut cib, "n1");
    let status = format_status(
        &cib,
        &schedule(&cib, 1_000_000).unwrap(),
        StatusView::Current,
    );
    assert!(status.contains("* Promoted: [ n1 ]"), "{status}");
    assert!(status.contains("* Unpromoted: [ n2 n3 ]"), "{status}");
    // Settled: nothing to do.
    assert!(summary(&cib).is_empty(), "{:?}", summary(&cib));
    cib.config.nodes[0].standby = true;
    let s = summary(&cib);
    assert!(
        s.iter()
            .any(|l| l.starts_with("Stop") && l.contains("( Promoted n1 )")),
        "{s:?}"
    );
    assert!(
        s.iter()
            .any(|l| l.starts_with("Promote") && l.ends_with("( Unpromoted -> Promoted n3 )")),
        "{s:?}"
    );
    // The demote and stop on n1 come before the promote on n3.
    let t = schedule(&cib, 1_000_000).unwrap();
    let find = |kind: crate::ActionKind, node: &str| {
        t.actions
            .iter()
            .find(|a| a.kind == kind && a.node.as_deref() == Some(node))
            .map(|a| a.id)
    };
    let demote = find(crate::ActionKind::Demote, "n1").expect("a demote on n1");
    let promote = find(crate::ActionKind::Promote, "n3").expect("a promote on n3");
    assert!(reaches(&t, demote, promote), "demote before promote");
    let stop = find(crate::ActionKind::Stop, "n1").expect("a stop on n1");
    assert!(reaches(&t, demote, stop), "demote before stop");
}

#[test]
fn a_vip_colocated_with_the_promoted_role_follows_it() {
    let mut cib = promotable(&[("n1", "10"), ("n2", "5"), ("n3", "8")]);
    running_promoted_on(&mut cib, "n1");
    vip_with_promoted(&mut cib);
    let s = summary(&cib);
    assert_eq!(s, vec!["Start vip ( n1 )".to_string()]);
    cib.config.nodes[0].standby = true;
    let s = summary(&cib);
    assert!(s.contains(&"Start vip ( n3 )".to_string()), "{s:?}");
    // The vip starts only once the clone has promoted.
    let t = schedule(&cib, 1_000_000).unwrap();
    let promote = t
        .actions
        .iter()
        .find(|a| a.kind == crate::ActionKind::Promote)
        .map(|a| a.id)
        .expect("a promote");
    let vip = t
        .actions
        .iter()
        .find(|a| a.kind == crate::ActionKind::Start && a.resource.as_deref() == Some("vip"))
        .map(|a| a.id)
        .expect("a vip start");
    assert!(reaches(&t, promote, vip), "promote before vip");
}

#[test]
fn a_location_for_the_promoted_role_keeps_promotion_off_a_node() {
    let mut cib = promotable(&[("n1", "5"), ("n2", "10"), ("n3", "5")]);
    cib.config.constraints.location.push(LocationConstraint {
        id: "not-promoted-on-n2".into(),
        rsc: "db-clone".into(),
        node: Some("n2".into()),
        score: Some(Score::NEG_INFINITY),
        role: Some(Role::Promoted),
        ..Default::default()
    });
    let s = summary(&cib);
    let promoted: Vec<&String> = s.iter().filter(|l| l.starts_with("Promote")).collect();
    assert_eq!(promoted.len(), 1, "{s:?}");
    assert!(!promoted[0].contains("n2"), "{s:?}");
    // It still runs there, unpromoted.
    assert!(
        s.iter().any(|l| l.starts_with("Start") && l.contains("n2")),
        "{s:?}"
    );
}

#[test]
fn an_unpromoted_monitor_seeing_it_promoted_counts_it_promoted() {
    // A probe answering 8 (OCF_RUNNING_PROMOTED): the instance is promoted there.
    let mut cib = promotable(&[("n1", "5"), ("n2", "10"), ("n3", "5")]);
    let st = cib.status.nodes.get_mut("n2").unwrap();
    let mut h = running(1);
    h.ops = vec![OpRecord {
        operation: "monitor".into(),
        call_id: 1,
        rc: 8,
        ..Default::default()
    }];
    st.resources.insert("db".into(), h);
    let s = summary(&cib);
    assert!(!s.iter().any(|l| l.contains("n2")), "{s:?}");
}

/// Histories whose names are not the instance numbers the scheduler gives them: n1
/// stopped (its `db:0` a probe that found nothing), n2 running as `db:1`, n3 as
/// `db:2`. n2's and n3's histories become instances `db:0` and `db:1`; every
/// operation on a node carries the name its history there is under, so that the
/// agent (which knows the instance by that name) is asked about itself, and the
/// node keeps one history.
#[test]
fn operations_on_an_instance_carry_the_name_of_the_nodes_history() {
    let mut cib = promotable(&[("n2", "10"), ("n3", "5")]);
    cib.config.nodes[0].standby = true;
    let probe = ResourceHistory {
        ops: vec![OpRecord {
            operation: "monitor".into(),
            call_id: 1,
            rc: 7,
            ..Default::default()
        }],
        ..running(1)
    };
    let entries = [
        ("n1", "db:0", probe),
        ("n2", "db:1", running(2)),
        ("n3", "db:2", running(3)),
    ];
    for (node, name, h) in entries {
        let st = cib.status.nodes.get_mut(node).unwrap();
        st.resources.insert(name.into(), h);
    }
    let t = schedule(&cib, 1_000_000).unwrap();
    let mut seen = 0;
    for a in t.actions.iter().filter(|a| !a.pseudo && a.node.is_some()) {
        let node = a.node.as_deref().unwrap_or_default();
        let name = a.history_name.as_deref().or(a.resource.as_deref());
        let want = cib.status.nodes[node]
            .resources
            .keys()
            .next()
            .map(String::as_str);
        assert_eq!(name, want, "{a:?}");
        seen += 1;
    }
    let promote = t
        .actions
        .iter()
        .find(|a| a.kind == crate::ActionKind::Promote);
    assert_eq!(
        promote.and_then(|a| Some((a.node.as_deref()?, a.history_name.as_deref()?))),
        Some(("n2", "db:1")),
        "{:?}",
        t.actions
    );
    assert!(seen >= 3, "a promote and the monitors: {:?}", t.actions);
}

#[path = "on_fail_demote_tests.rs"]
mod on_fail_demote_tests;

/// A failed demote leaves the instance unpromoted (Pacemaker's
/// unpack_rsc_op_failure: staying promoted would loop), so its recovery plans no
/// second demote; with on-fail=block it stays as it was, promoted.
#[test]
fn a_failed_demote_counts_as_unpromoted_unless_on_fail_is_block() {
    let after_failed_demote = |on_fail: Option<hactl_model::OnFail>| {
        let mut cib = promotable(&[("n1", "5"), ("n2", "10"), ("n3", "5")]);
        running_promoted_on(&mut cib, "n1");
        let st = cib.status.nodes.get_mut("n1").unwrap();
        let h = st.resources.get_mut("db").unwrap();
        let failed = OpRecord {
            operation: "demote".into(),
            call_id: 11,
            rc: 1,
            expected_rc: Some(0),
            ..Default::default()
        };
        h.note_failure(&failed);
        h.ops.push(failed);
        if let Resource::Clone(c) = &mut cib.config.resources[0] {
            if let Resource::Primitive(p) = c.child.as_mut() {
                p.ops.push(OpSpec {
                    name: "demote".into(),
                    on_fail,
                    ..Default::default()
                });
            }
        }
        let t = schedule(&cib, 0).unwrap();
        let demotes = t
            .actions
            .iter()
            .filter(|a| a.kind == crate::ActionKind::Demote && a.node.as_deref() == Some("n1"))
            .count();
        let promoted = t
            .placements
            .iter()
            .any(|p| p.current == ["n1"] && p.promoted);
        (demotes, promoted)
    };
    assert_eq!(after_failed_demote(None), (0, false));
    assert_eq!(
        after_failed_demote(Some(hactl_model::OnFail::Block)),
        (0, true)
    );
}

/// `vm` running on `on` (kept there), ordered after the promotion of `db-clone`,
/// which is promoted on n1 and now also on n2 (`promoted-max=2`).
fn vm_after_a_second_promotion(on: &str, migratable: bool) -> Vec<String> {
    let mut cib = promotable(&[("n1", "10"), ("n2", "10")]);
    if let Resource::Clone(c) = &mut cib.config.resources[0] {
        c.meta.insert("promoted-max".into(), "2".into());
    }
    running_promoted_on(&mut cib, "n1");
    let mut vm = dummy("vm");
    if migratable {
        vm.meta.insert("allow-migrate".into(), "true".into());
    }
    cib.config.resources.push(Resource::Primitive(vm));
    let st = cib.status.nodes.get_mut(on).unwrap();
    st.resources.insert("vm".into(), running(20));
    cib.config.constraints.location.push(LocationConstraint {
        id: "vm-here".into(),
        rsc: "vm".into(),
        node: Some(on.into()),
        score: Some(Score::INFINITY),
        ..Default::default()
    });
    cib.config.constraints.order.push(OrderConstraint {
        id: "promote-then-vm".into(),
        first: "db-clone".into(),
        then: "vm".into(),
        first_action: OrderAction::Promote,
        then_action: OrderAction::Start,
        ..Default::default()
    });
    summary(&cib)
}

/// The clone's promotion implies the dependent's start only where an instance
/// is promoted (Pacemaker scopes the clone's action to the node of "then"):
/// `vm` restarts on n2, where db is promoted, not on n1 (bug-lf-2317), whether
/// or not it may migrate.
#[test]
fn a_promotion_restarts_a_dependent_only_on_the_node_it_happens_on() {
    for migratable in [false, true] {
        let s = vm_after_a_second_promotion("n1", migratable);
        assert!(
            s.iter()
                .any(|l| l.ends_with("( Unpromoted -> Promoted n2 )")),
            "{s:?}"
        );
        assert!(!s.iter().any(|l| l.contains("vm")), "{s:?}");
        let s = vm_after_a_second_promotion("n2", migratable);
        assert!(
            s.iter()
                .any(|l| l == "Restart vm ( n2 ) due to required db-clone promoted"),
            "{s:?}"
        );
    }
}
