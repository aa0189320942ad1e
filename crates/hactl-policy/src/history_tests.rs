//! How a resource's recorded operations are read: which recurring monitors
//! still run after a restart.

use hactl_model::{OpRecord, OpSpec};

use super::*;
use crate::ActionKind;

const MONITOR_MS: u64 = 10_000;

fn op(operation: &str, interval_ms: u64, call_id: i64) -> OpRecord {
    OpRecord {
        operation: operation.into(),
        interval_ms,
        call_id,
        rc: 0,
        ..Default::default()
    }
}

/// `r` with a 10 s monitor, running on n1 with `ops` as its history there.
fn schedule_with(ops: Vec<OpRecord>) -> crate::Transition {
    let mut cib = base(&["n1", "n2"]);
    let mut r = dummy("r");
    r.ops.push(OpSpec {
        name: "monitor".into(),
        interval_ms: MONITOR_MS,
        ..Default::default()
    });
    cib.config.resources.push(Resource::Primitive(r));
    let h = ResourceHistory { ops, ..running(1) };
    let st = cib.status.nodes.get_mut("n1").unwrap();
    st.resources.insert("r".into(), h);
    schedule(&cib, 1_000_000).unwrap()
}

fn has(t: &crate::Transition, kind: ActionKind) -> bool {
    t.actions
        .iter()
        .any(|a| a.kind == kind && a.node.as_deref() == Some("n1"))
}

/// A monitor recorded before the last start ran on the resource before it
/// was restarted: it does not run now, so it is scheduled again (Pacemaker
/// skips recurring ops older than the last start).
#[test]
fn a_monitor_from_before_the_last_start_is_started_again() {
    let t = schedule_with(vec![op("monitor", MONITOR_MS, 2), op("start", 0, 5)]);
    assert!(
        has(
            &t,
            ActionKind::Monitor {
                interval_ms: MONITOR_MS
            }
        ),
        "{:?}",
        t.actions
    );
    let t = schedule_with(vec![op("start", 0, 2), op("monitor", MONITOR_MS, 5)]);
    assert!(
        !has(
            &t,
            ActionKind::Monitor {
                interval_ms: MONITOR_MS
            }
        ),
        "a monitor after the start still runs: {:?}",
        t.actions
    );
}

/// Two histories of one anonymous clone running on the same node, recorded
/// `r:1` first: the instance that stays takes the first recorded one, and the
/// extra one stopped is the later (as Pacemaker reads `<lrm_resource>`s in the
/// status section's order), whatever their ids' order.
#[test]
fn clone_histories_are_paired_with_instances_in_the_order_they_were_recorded() {
    let stopped_history = |first: &str, second: &str| {
        let mut cib = base(&["n1", "n2"]);
        cib.config
            .resources
            .push(Resource::Clone(hactl_model::CloneSet {
                id: "c".into(),
                meta: [("clone-max".to_string(), "1".to_string())].into(),
                child: Box::new(Resource::Primitive(dummy("r"))),
            }));
        let st = cib.status.nodes.get_mut("n1").unwrap();
        for (position, id) in [first, second].into_iter().enumerate() {
            let h = ResourceHistory {
                position: u32::try_from(position).ok(),
                ..running(1 + position as i64)
            };
            st.resources.insert(id.into(), h);
        }
        let t = schedule(&cib, 1_000_000).unwrap();
        let stops: Vec<_> = t
            .actions
            .iter()
            .filter(|a| a.kind == ActionKind::Stop && !a.pseudo)
            .map(|a| a.history_name.clone().or(a.resource.clone()))
            .collect();
        assert_eq!(stops.len(), 1, "{:?}", t.actions);
        stops[0].as_deref().unwrap_or_default().to_string()
    };
    assert_eq!(stopped_history("r:1", "r:0"), "r:0");
    assert_eq!(stopped_history("r:0", "r:1"), "r:1");
}

/// A start still in progress (a pending record, execution status -1, call id -1)
/// where the resource stays: no new start in the summary, but the transition
/// holds that start as a real action and the recurring monitor waits for it, as
/// Pacemaker's create_pending_start (CTS case 726). Without it the monitor
/// could run before the agent finished starting.
#[test]
fn a_pending_start_stays_in_the_transition_and_its_monitor_waits_for_it() {
    let pending = OpRecord {
        op_status: -1,
        rc: 1,
        ..op("start", 0, -1)
    };
    let t = schedule_with(vec![pending]);
    assert_eq!(t.summary, Vec::<String>::new());
    let find = |kind: ActionKind| {
        t.actions
            .iter()
            .find(|a| a.kind == kind && a.node.as_deref() == Some("n1"))
            .unwrap_or_else(|| panic!("no {kind:?} on n1: {:?}", t.actions))
    };
    let start = find(ActionKind::Start);
    assert!(!start.pseudo, "{start:?}");
    let monitor = find(ActionKind::Monitor {
        interval_ms: MONITOR_MS,
    });
    assert!(super::promotable_tests::reaches(&t, start.id, monitor.id));
}
