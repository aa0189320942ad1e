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
    // A live cluster that cannot record a migration's steps (a member on an older
    // build) moves it by stop and start.
    let live = |migrate| crate::LiveFacts {
        have_watchdog: false,
        migrate,
    };
    let cib = vm_moving(Some("true"));
    let plan = |migrate| {
        let t = crate::schedule_live(&cib, 1_000_000, live(migrate)).unwrap();
        t.summary
            .join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(plan(false), "Move vm ( n1 -> n2 )");
    assert_eq!(plan(true), "Migrate vm ( n1 -> n2 )");
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

/// A migration step from n1 to n2 (as `op`, with `rc`).
fn step(operation: &str, call_id: i64, t: i64, rc: i32) -> OpRecord {
    OpRecord {
        rc,
        migration: Some(Box::new(hactl_model::MigrationNodes {
            source: "n1".into(),
            target: "n2".into(),
        })),
        ..op(operation, call_id, t)
    }
}

/// n1 started vm, migrated it to n2 (`migrate_to` at t=100, result `rc`) and
/// stopped it since when `stopped`; n2 last stopped vm at t=20; vm prefers `to`.
fn partial(rc: i32, stopped: bool, to: &str) -> Cib {
    let mut cib = vm_moving(Some("true"));
    cib.config.constraints.location[0].node = Some(to.into());
    let n1 = &mut history(&mut cib, "n1").ops;
    *n1 = vec![op("start", 10, 50), step("migrate_to", 11, 100, rc)];
    if stopped {
        n1.push(op("stop", 12, 110));
    }
    history(&mut cib, "n2").ops = vec![op("stop", 5, 20)];
    cib
}

#[test]
fn a_migrate_to_without_migrate_from_counts_vm_on_a_target_with_older_history() {
    // Pacemaker's partial migration: vm may run on n2 (the migrate_from result
    // is lost), so it is stopped there, and it may not migrate from there.
    assert_eq!(summary(&partial(0, true, "n1")), ["Move vm ( n2 -> n1 )"]);
    // Where n2 is chosen again the migration cannot be finished (n1 stopped
    // vm since): Pacemaker recovers vm in place.
    assert_eq!(summary(&partial(0, true, "n2")), ["Restart vm ( n2 )"]);
}

#[test]
fn a_failed_migrate_to_counts_vm_active_on_both_nodes() {
    // Active (failed) on n1, and on n2 which has no newer state: recovered.
    assert_eq!(summary(&partial(1, false, "n2")), ["Recover vm ( n2 )"]);
}

#[test]
fn a_pending_migrate_to_on_an_unclean_source_stops_vm_on_the_target() {
    let mut cib = partial(0, false, "n2");
    cib.config
        .properties
        .insert("have-watchdog".into(), "true".into());
    cib.config
        .properties
        .insert("stonith-enabled".into(), "true".into());
    let n1 = cib.status.nodes.get_mut("n1").expect("n1");
    n1.member = Some(false);
    n1.controller_online = Some(false);
    let h = history(&mut cib, "n1");
    h.ops[1].op_status = -1;
    h.ops[1].call_id = -1;
    let t = schedule(&cib, 1_000_000).expect("scheduled");
    find(&t, |k| *k == ActionKind::Stop, "n2");
}

#[test]
fn a_migration_in_progress_or_dangling_is_refused() {
    // A migrate_to pending on a node that is up: the migration is under way.
    let mut pending = partial(0, false, "n2");
    history(&mut pending, "n1").ops[1].op_status = -1;
    // migrate_to and migrate_from done, n1 not stopped since: dangling.
    let mut dangling = partial(0, false, "n2");
    history(&mut dangling, "n2")
        .ops
        .push(step("migrate_from", 6, 105, 0));
    for (cib, what) in [(pending, "pending"), (dangling, "migrate_from succeeded")] {
        let e = schedule(&cib, 1_000_000).unwrap_err().to_string();
        assert!(e.contains("\"vm\"") && e.contains(what), "{e}");
    }
}
