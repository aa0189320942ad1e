//! Live migration: a standalone `allow-migrate` resource that moves is handed over
//! with migrate_to/migrate_from, not stopped and started.

use hactl_model::{LocationConstraint, OpRecord};

use super::*;
use crate::{ActionKind, Transition};

/// `vm` runs on n1 and is moved to n2 by a location constraint.
fn vm_moving(allow_migrate: Option<&str>) -> Cib {
    let mut cib = base(&["n1", "n2"]);
    let mut vm = dummy("vm");
    if let Some(v) = allow_migrate {
        vm.meta.insert("allow-migrate".into(), v.into());
    }
    cib.config.resources.push(Resource::Primitive(vm));
    cib.config.constraints.location.push(LocationConstraint {
        id: "vm-on-n2".into(),
        rsc: "vm".into(),
        node: Some("n2".into()),
        score: Some(Score::INFINITY),
        ..Default::default()
    });
    if let Some(n1) = cib.status.nodes.get_mut("n1") {
        n1.resources.insert("vm".into(), running(10));
    }
    cib
}

fn find(t: &Transition, pred: impl Fn(&ActionKind) -> bool, node: &str) -> usize {
    t.actions
        .iter()
        .find(|a| pred(&a.kind) && a.node.as_deref() == Some(node))
        .unwrap_or_else(|| panic!("no such action on {node}: {:#?}", t.actions))
        .id
}

/// `vm`'s history on `node` (made if missing).
fn history<'c>(cib: &'c mut Cib, node: &str) -> &'c mut hactl_model::ResourceHistory {
    let st = cib.status.nodes.entry(node.into()).or_default();
    st.resources
        .entry("vm".into())
        .or_insert_with(|| running(5))
}

/// A successful operation at `call_id`, recorded at time `t`.
fn op(operation: &str, call_id: i64, t: i64) -> OpRecord {
    OpRecord {
        operation: operation.into(),
        call_id,
        rc: 0,
        expected_rc: Some(0),
        last_rc_change: Some(t),
        ..Default::default()
    }
}

#[test]
fn a_migratable_resource_migrates_instead_of_restarting() {
    let cib = vm_moving(Some("true"));
    assert_eq!(summary(&cib), ["Migrate vm ( n1 -> n2 )"]);
    let t = schedule(&cib, 1_000_000).unwrap();
    let to = find(&t, |k| matches!(k, ActionKind::MigrateTo { .. }), "n1");
    let from = find(&t, |k| matches!(k, ActionKind::MigrateFrom { .. }), "n2");
    let stop = find(&t, |k| *k == ActionKind::Stop, "n1");
    let start = find(&t, |k| *k == ActionKind::Start, "n2");
    let both = ActionKind::MigrateTo {
        source: "n1".into(),
        target: "n2".into(),
    };
    assert_eq!(t.actions[to].kind, both);
    // The target's start only marks the resource running there: nothing runs it.
    assert!(t.actions[start].pseudo && !t.actions[to].pseudo && !t.actions[from].pseudo);
    assert!(super::promotable_tests::reaches(&t, to, from));
    assert!(super::promotable_tests::reaches(&t, from, stop));
    assert!(super::promotable_tests::reaches(&t, stop, start));
    let graph = crate::graph_xml(&cib, &t);
    assert!(graph.contains(r#"operation="migrate_to""#), "{graph}");
}

#[test]
fn without_allow_migrate_or_when_failed_it_moves() {
    assert_eq!(summary(&vm_moving(None)), ["Move vm ( n1 -> n2 )"]);
    assert_eq!(summary(&vm_moving(Some("false"))), ["Move vm ( n1 -> n2 )"]);
    // A failed resource is recovered, never migrated (Pacemaker's rule).
    let mut failed = vm_moving(Some("true"));
    history(&mut failed, "n1").ops.push(OpRecord {
        operation: "monitor".into(),
        interval_ms: 10_000,
        call_id: 11,
        rc: 1,
        expected_rc: Some(0),
        ..Default::default()
    });
    assert_eq!(summary(&failed), ["Recover vm ( n1 -> n2 )"]);
}

/// `vm`'s history on n1: started, migrated away (migrate_to at t=100), stopped.
fn migrated_away_from_n1() -> Cib {
    let mut cib = vm_moving(Some("true"));
    history(&mut cib, "n1").ops = vec![
        op("start", 10, 50),
        op("migrate_to", 11, 100),
        op("stop", 12, 110),
    ];
    cib
}

#[test]
fn a_target_whose_history_is_gone_is_probed_not_refused() {
    // n2's history was cleaned up (or n2 rebooted): nothing says where vm runs.
    let t = schedule(&migrated_away_from_n1(), 1_000_000).expect("scheduled");
    assert!(
        t.actions
            .iter()
            .any(|a| a.kind == ActionKind::Probe && a.node.as_deref() == Some("n2")),
        "{:#?}",
        t.actions
    );
}

#[test]
fn an_unfinished_migration_in_the_history_is_refused() {
    // A migrate_to as n1's newest operation: the migration may be under way.
    let mut under_way = vm_moving(Some("true"));
    history(&mut under_way, "n1")
        .ops
        .push(op("migrate_to", 11, 100));
    // n2 last stopped vm before the migrate_to: Pacemaker counts vm as running
    // there (the migrate_from result is lost); hactl cannot tell, so it refuses.
    let mut older_target = migrated_away_from_n1();
    history(&mut older_target, "n2").ops = vec![op("stop", 5, 20)];
    for (cib, what) in [
        (under_way, "live migration"),
        (older_target, "migrate_from"),
    ] {
        let e = schedule(&cib, 1_000_000).unwrap_err().to_string();
        assert!(e.contains("\"vm\"") && e.contains(what), "{e}");
    }
}
