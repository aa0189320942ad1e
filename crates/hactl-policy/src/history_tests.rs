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
