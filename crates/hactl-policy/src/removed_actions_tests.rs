//! Recurring operations removed from the configuration (`cancel-removed-actions`,
//! formerly `stop-orphan-actions`) and removed resources left running
//! (`stop-removed-resources=false`).

use hactl_model::{Cib, OpRecord, Resource};

use crate::tests::{base, dummy, running};
use crate::{schedule, ActionKind};

/// `d` runs on n1 with a 10 s monitor that is no longer configured.
fn removed_monitor(props: &[(&str, &str)]) -> Cib {
    let mut cib = base(&["n1", "n2"]);
    for (k, v) in props {
        cib.config.properties.insert(k.to_string(), v.to_string());
    }
    cib.config.resources.push(Resource::Primitive(dummy("d")));
    let mut h = running(1);
    h.ops.push(OpRecord {
        operation: "monitor".into(),
        interval_ms: 10_000,
        call_id: 2,
        ..Default::default()
    });
    cib.status
        .nodes
        .get_mut("n1")
        .unwrap()
        .resources
        .insert("d".into(), h);
    cib
}

fn cancels(cib: &Cib) -> usize {
    let t = schedule(cib, 1_000_000).unwrap();
    t.actions
        .iter()
        .filter(|a| {
            matches!(
                a.kind,
                ActionKind::Cancel {
                    interval_ms: 10_000
                }
            )
        })
        .count()
}

#[test]
fn a_removed_monitor_is_cancelled_unless_told_otherwise() {
    assert_eq!(cancels(&removed_monitor(&[])), 1);
    assert_eq!(
        cancels(&removed_monitor(&[("cancel-removed-actions", "false")])),
        0
    );
    assert_eq!(
        cancels(&removed_monitor(&[("stop-orphan-actions", "false")])),
        0
    );
}

#[test]
fn a_removed_resource_left_running_keeps_its_history() {
    let mut cib = removed_monitor(&[("stop-removed-resources", "false")]);
    cib.config.resources.clear();
    let t = schedule(&cib, 1_000_000).unwrap();
    assert!(t.actions.is_empty(), "{:?}", t.actions);
    // Stopped when removed resources are: then its history is deleted.
    cib.config.properties.remove("stop-removed-resources");
    let t = schedule(&cib, 1_000_000).unwrap();
    let kinds: Vec<&ActionKind> = t.actions.iter().map(|a| &a.kind).collect();
    assert!(kinds.contains(&&ActionKind::Stop), "{kinds:?}");
    assert!(
        kinds.iter().any(|k| matches!(k, ActionKind::Delete)),
        "{kinds:?}"
    );
}
