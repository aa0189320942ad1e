//! Stopped-role monitors (`role=Stopped`) on small hand-built CIBs: they run where
//! the resource is not to run, after its stop there, and not again where they
//! already run; where the resource is to start, a running one is cancelled first.

use hactl_model::{OpRecord, OpSpec, Role};

use super::*;
use crate::{Action, ActionKind, Transition};

const STOPPED_MS: u64 = 20_000;

/// `r` with a 20 s monitor for the Stopped role, on n1..n3.
fn cib() -> Cib {
    let mut cib = base(&["n1", "n2", "n3"]);
    let mut r = dummy("r");
    r.ops.push(OpSpec {
        name: "monitor".into(),
        interval_ms: STOPPED_MS,
        role: Some(Role::Stopped),
        ..Default::default()
    });
    cib.config.resources.push(Resource::Primitive(r));
    cib
}

/// A history of `r` on `node`: probed (not running), then the Stopped-role
/// monitor running.
fn watched(cib: &mut Cib, node: &str) {
    let op = |operation: &str, interval_ms, call_id| OpRecord {
        operation: String::from(operation),
        interval_ms,
        call_id,
        rc: 7,
        expected_rc: Some(7),
        ..Default::default()
    };
    let h = ResourceHistory {
        ops: vec![op("monitor", 0, 1), op("monitor", STOPPED_MS, 2)],
        ..running(1)
    };
    let st = cib.status.nodes.get_mut(node).unwrap();
    st.resources.insert("r".into(), h);
}

fn nodes_of(t: &Transition, kind: &ActionKind) -> Vec<String> {
    let mut v: Vec<String> = t
        .actions
        .iter()
        .filter(|a| &a.kind == kind && a.resource.as_deref() == Some("r"))
        .map(|a| a.node.as_deref().unwrap_or("").to_string())
        .collect();
    v.sort();
    v
}

fn find<'t>(t: &'t Transition, kind: &ActionKind, node: &str) -> &'t Action {
    t.actions
        .iter()
        .find(|a| &a.kind == kind && a.node.as_deref() == Some(node))
        .unwrap_or_else(|| panic!("no {kind:?} on {node}"))
}

#[test]
fn a_stopped_resource_is_watched_where_it_is_not_watched_yet() {
    let mut cib = cib();
    if let Resource::Primitive(r) = &mut cib.config.resources[0] {
        r.meta.insert("target-role".into(), "Stopped".into());
    }
    cib.status
        .nodes
        .get_mut("n1")
        .unwrap()
        .resources
        .insert("r".into(), running(3));
    watched(&mut cib, "n2");
    let t = schedule(&cib, 1_000_000).unwrap();
    let monitor = ActionKind::Monitor {
        interval_ms: STOPPED_MS,
    };
    assert_eq!(nodes_of(&t, &monitor), ["n1", "n3"], "n2 watches already");
    let stop = find(&t, &ActionKind::Stop, "n1");
    let watch = find(&t, &monitor, "n1");
    let ordered = t
        .edges
        .iter()
        .any(|e| e.before == stop.id && e.after == watch.id);
    assert!(ordered, "the watch on n1 begins once it stopped there");
}

#[test]
fn where_it_starts_the_watch_is_cancelled_first() {
    let mut cib = cib();
    for n in ["n1", "n2", "n3"] {
        watched(&mut cib, n);
    }
    let t = schedule(&cib, 1_000_000).unwrap();
    let start = t
        .actions
        .iter()
        .find(|a| a.kind == ActionKind::Start)
        .expect("r starts");
    let at = start.node.as_deref().unwrap();
    let cancel = find(
        &t,
        &ActionKind::Cancel {
            interval_ms: STOPPED_MS,
        },
        at,
    );
    assert!(t
        .edges
        .iter()
        .any(|e| e.before == cancel.id && e.after == start.id));
    let monitor = ActionKind::Monitor {
        interval_ms: STOPPED_MS,
    };
    assert!(
        nodes_of(&t, &monitor).is_empty(),
        "the others watch already"
    );
}
