//! `on-fail=ignore` and the failures it cannot hide.

use hactl_model::{OnFail, OpRecord, OpSpec};

use super::*;

/// `rsc` runs on n1 (monitor every 10 s, `on-fail=ignore`) and its monitor failed
/// there with `rc` and execution status `op_status`.
fn monitor_failed(rc: i32, op_status: i32) -> Cib {
    let mut cib = base(&["n1", "n2"]);
    let mut rsc = dummy("rsc");
    rsc.ops.push(OpSpec {
        name: "monitor".into(),
        interval_ms: 10_000,
        on_fail: Some(OnFail::Ignore),
        ..Default::default()
    });
    cib.config.resources.push(Resource::Primitive(rsc));
    let mut h = running(10);
    h.ops.push(OpRecord {
        operation: "monitor".into(),
        interval_ms: 10_000,
        call_id: 11,
        rc,
        op_status,
        expected_rc: Some(0),
        ..Default::default()
    });
    if let Some(n1) = cib.status.nodes.get_mut("n1") {
        n1.resources.insert("rsc".into(), h);
    }
    cib
}

#[test]
fn an_agent_that_is_not_installed_is_not_ignored() {
    // (rc, execution status, expected summary)
    let cases: [(i32, i32, &[&str]); 2] = [
        // An ordinary failure is ignored as configured.
        (1, 0, &[]),
        // Execution status 7 (not installed): recovered elsewhere, as Pacemaker
        // does, and n1 is banned.
        (5, 7, &["Recover rsc ( n1 -> n2 )"]),
    ];
    for (rc, status, want) in cases {
        assert_eq!(
            summary(&monitor_failed(rc, status)),
            want,
            "rc {rc} status {status}"
        );
    }
}

/// `rsc` runs on n1 with `is-managed` as given (monitor every 10 s configured,
/// none running yet).
fn unmanaged_running(managed: &str) -> Cib {
    let mut cib = base(&["n1", "n2"]);
    let mut rsc = dummy("rsc");
    rsc.meta.insert("is-managed".into(), managed.into());
    rsc.ops.push(OpSpec {
        name: "monitor".into(),
        interval_ms: 10_000,
        ..Default::default()
    });
    cib.config.resources.push(Resource::Primitive(rsc));
    if let Some(n1) = cib.status.nodes.get_mut("n1") {
        n1.resources.insert("rsc".into(), running(10));
    }
    cib
}

#[test]
fn an_unmanaged_resource_is_still_monitored_where_it_runs() {
    for managed in ["true", "false"] {
        let t = schedule(&unmanaged_running(managed), 1_000_000).unwrap();
        let monitor = t.actions.iter().find(|a| {
            a.kind
                == crate::ActionKind::Monitor {
                    interval_ms: 10_000,
                }
                && a.node.as_deref() == Some("n1")
        });
        assert!(monitor.is_some(), "is-managed={managed}: {:#?}", t.actions);
    }
}
