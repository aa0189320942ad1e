//! The DC applies the clean-up actions the policy engine plans (they run no
//! agent): an expired fail count is cleared and a removed resource's history is
//! forgotten, so the next transition does not plan them again.

mod common;

use hactl_model::{AgentSpec, FailCount, OpRecord, Primitive, Resource, ResourceHistory, Score};
use hactl_policy::ActionKind;

const NOW: i64 = 1_700_000_000;

fn record(operation: &str, interval_ms: u64, call_id: i64, rc: i32, at: i64) -> OpRecord {
    OpRecord {
        operation: operation.into(),
        interval_ms,
        call_id,
        rc,
        expected_rc: Some(0),
        last_rc_change: Some(at),
        ..Default::default()
    }
}

fn history(ops: Vec<OpRecord>) -> ResourceHistory {
    let mut h = ResourceHistory {
        agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
        ..Default::default()
    };
    for op in ops {
        h.note_failure(&op);
        h.ops.push(op);
    }
    h
}

/// `r` runs on n1, where its monitor failed two minutes ago (failures expire
/// after a minute); `gone` is no longer configured and stopped on n2.
fn cib() -> hactl_model::Cib {
    let mut cib = common::online_cib(&["n1", "n2"]);
    let mut r = Primitive {
        id: "r".into(),
        agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
        ..Default::default()
    };
    r.meta.insert("failure-timeout".into(), "60s".into());
    cib.config.resources.push(Resource::Primitive(r));
    let n1 = cib.status.nodes.get_mut("n1").unwrap();
    n1.resources.insert(
        "r".into(),
        history(vec![
            record("start", 0, 1, 0, NOW - 300),
            record("monitor", 10_000, 2, 1, NOW - 120),
        ]),
    );
    n1.failcounts.push(FailCount {
        rsc: "r".into(),
        op: Some("monitor".into()),
        interval_ms: Some(10_000),
        count: Score::new(1),
        last_failure: Some(NOW - 120),
    });
    let n2 = cib.status.nodes.get_mut("n2").unwrap();
    n2.resources.insert(
        "gone".into(),
        history(vec![
            record("start", 0, 1, 0, NOW - 300),
            record("stop", 0, 2, 0, NOW - 200),
        ]),
    );
    cib
}

fn planned(t: &hactl_policy::Transition, kind: ActionKind) -> Vec<(String, String)> {
    t.actions
        .iter()
        .filter(|a| a.kind == kind && a.runnable)
        .map(|a| {
            let r = a.resource.as_deref().unwrap_or("").to_string();
            (r, a.node.as_deref().unwrap_or("").to_string())
        })
        .collect()
}

#[test]
fn the_dc_applies_planned_cleanups_once() {
    let mut cib = cib();
    let t = hactl_policy::schedule(&cib, NOW).unwrap();
    let pair = |r: &str, n: &str| vec![(r.to_string(), n.to_string())];
    assert_eq!(planned(&t, ActionKind::ClearFailcount), pair("r", "n1"));
    assert_eq!(planned(&t, ActionKind::Delete), pair("gone", "n2"));
    let change = hactl_controller::dc::forget_orphans(&cib, &t).expect("changes");
    change.apply(&mut cib).unwrap();
    assert!(cib.status.nodes["n1"].failcounts.is_empty());
    assert!(!cib.status.nodes["n2"].resources.contains_key("gone"));
    assert!(cib.status.nodes["n1"].resources.contains_key("r"));
    let again = hactl_policy::schedule(&cib, NOW).unwrap();
    assert!(planned(&again, ActionKind::ClearFailcount).is_empty());
    assert!(planned(&again, ActionKind::Delete).is_empty());
}
