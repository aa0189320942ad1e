//! `on-fail=demote`: a failed monitor of the Promoted role (or a failed promote)
//! demotes the instance where it is instead of stopping it; elsewhere the setting
//! means the default, restart.

use hactl_model::OnFail;

use super::*;

/// `db` promoted on n1, its monitor of `role` (with on-fail=demote) failed on
/// `node` (rc 7: not running), and promotion forbidden on n1.
fn failed_monitor(role: Role, node: &str) -> Cib {
    let mut cib = promotable(&[("n1", "10"), ("n2", "5"), ("n3", "5")]);
    if let Resource::Clone(c) = &mut cib.config.resources[0] {
        if let Resource::Primitive(p) = &mut *c.child {
            for op in &mut p.ops {
                op.on_fail = Some(OnFail::Demote);
            }
        }
    }
    running_promoted_on(&mut cib, "n1");
    let interval_ms = if role == Role::Promoted {
        10_000
    } else {
        11_000
    };
    let st = cib.status.nodes.get_mut(node).unwrap();
    st.resources.get_mut("db").unwrap().ops.push(OpRecord {
        operation: "monitor".into(),
        interval_ms,
        call_id: 20,
        rc: 7,
        expected_rc: Some(if role == Role::Promoted { 8 } else { 0 }),
        ..Default::default()
    });
    cib.config.constraints.location.push(LocationConstraint {
        id: "no-promote-n1".into(),
        rsc: "db-clone".into(),
        node: Some("n1".into()),
        score: Some(Score::NEG_INFINITY),
        role: Some(Role::Promoted),
        ..Default::default()
    });
    cib
}

#[test]
fn a_failed_promoted_monitor_demotes_in_place() {
    let cib = failed_monitor(Role::Promoted, "n1");
    let s = summary(&cib);
    assert!(
        s.iter()
            .any(|l| l.starts_with("Demote") && l.contains("Promoted -> Unpromoted n1")),
        "{s:?}"
    );
    assert!(
        !s.iter()
            .any(|l| l.starts_with("Stop") || l.starts_with("Recover")),
        "{s:?}"
    );
    // The failed monitor is cancelled before the demote.
    let t = schedule(&cib, 1_000_000).unwrap();
    let on_n1 = |kind: crate::ActionKind| {
        t.actions
            .iter()
            .position(|a| a.kind == kind && a.node.as_deref() == Some("n1"))
    };
    let cancel = on_n1(crate::ActionKind::Cancel {
        interval_ms: 10_000,
    });
    let (Some(cancel), Some(demote)) = (cancel, on_n1(crate::ActionKind::Demote)) else {
        panic!("cancel and demote expected: {:?}", t.actions)
    };
    assert!(reaches(&t, cancel, demote));
}

#[test]
fn on_fail_demote_elsewhere_restarts() {
    // The Unpromoted role's monitor cannot be recovered by a demote.
    let s = summary(&failed_monitor(Role::Unpromoted, "n2"));
    assert!(
        s.iter()
            .any(|l| l.starts_with("Recover") && l.contains("n2")),
        "{s:?}"
    );
}
