//! Clean-up actions on small hand-built CIBs: an expired fail count is cleared,
//! a removed resource's history is deleted after its stop, and a changed agent
//! deletes the old history and lets a start retry where the old one failed.

use hactl_model::{OnFail, OpRecord, OpSpec};

use super::*;
use crate::{Action, ActionKind, Transition};

const NOW: i64 = 1_000_000;

fn failcount(rsc: &str, count: Score, last_failure: i64) -> FailCount {
    FailCount {
        rsc: rsc.into(),
        op: Some("monitor".into()),
        interval_ms: Some(10_000),
        count,
        last_failure: Some(last_failure),
    }
}

/// `r` runs on n1, its 10 s monitor failed there once at `failed_at`; failures
/// expire after 60 s; the monitor's on-fail as given.
fn failed_monitor(failed_at: i64, on_fail: Option<OnFail>) -> Cib {
    let mut cib = base(&["n1", "n2"]);
    let mut r = dummy("r");
    r.meta.insert("failure-timeout".into(), "60s".into());
    r.ops.push(OpSpec {
        name: "monitor".into(),
        interval_ms: 10_000,
        on_fail,
        ..Default::default()
    });
    cib.config.resources.push(Resource::Primitive(r));
    let st = cib.status.nodes.get_mut("n1").unwrap();
    let mut h = running(1);
    h.ops[0].last_rc_change = Some(failed_at - 10);
    let monitor = OpRecord {
        operation: "monitor".into(),
        interval_ms: 10_000,
        call_id: 2,
        rc: 1,
        expected_rc: Some(0),
        last_rc_change: Some(failed_at),
        ..Default::default()
    };
    h.note_failure(&monitor);
    h.ops.push(monitor);
    st.resources.insert("r".into(), h);
    st.failcounts.push(failcount("r", Score::new(1), failed_at));
    cib
}

fn of_kind<'t>(t: &'t Transition, kind: &ActionKind) -> Vec<&'t Action> {
    t.actions.iter().filter(|a| &a.kind == kind).collect()
}

fn on(a: &Action) -> (&str, &str) {
    (
        a.resource.as_deref().unwrap_or(""),
        a.node.as_deref().unwrap_or(""),
    )
}

#[test]
fn an_expired_fail_count_is_cleared_and_a_recent_one_is_not() {
    let t = schedule(&failed_monitor(NOW - 120, None), NOW).unwrap();
    let clears: Vec<_> = of_kind(&t, &ActionKind::ClearFailcount)
        .into_iter()
        .map(on)
        .collect();
    assert_eq!(clears, [("r", "n1")]);
    let t = schedule(&failed_monitor(NOW - 30, None), NOW).unwrap();
    assert!(of_kind(&t, &ActionKind::ClearFailcount).is_empty());
}

#[test]
fn a_failure_of_an_operation_with_on_fail_block_does_not_expire() {
    let t = schedule(&failed_monitor(NOW - 120, Some(OnFail::Block)), NOW).unwrap();
    assert!(of_kind(&t, &ActionKind::ClearFailcount).is_empty());
}

#[test]
fn a_removed_resource_is_deleted_after_its_stop_and_its_fail_count_cleared() {
    let mut cib = base(&["n1", "n2"]);
    let st = cib.status.nodes.get_mut("n1").unwrap();
    st.resources.insert("gone".into(), running(1));
    st.failcounts
        .push(failcount("gone", Score::new(1), NOW - 5));
    let t = schedule(&cib, NOW).unwrap();
    let stop = of_kind(&t, &ActionKind::Stop);
    let delete = of_kind(&t, &ActionKind::Delete);
    let clear = of_kind(&t, &ActionKind::ClearFailcount);
    assert_eq!(
        stop.iter().map(|a| on(a)).collect::<Vec<_>>(),
        [("gone", "n1")]
    );
    assert_eq!(
        delete.iter().map(|a| on(a)).collect::<Vec<_>>(),
        [("gone", "n1")]
    );
    assert_eq!(
        clear.iter().map(|a| on(a)).collect::<Vec<_>>(),
        [("gone", "n1")]
    );
    let edge = |a: &Action, b: &Action| t.edges.iter().any(|e| e.before == a.id && e.after == b.id);
    assert!(edge(stop[0], delete[0]), "the history goes once it stopped");
    assert!(
        edge(clear[0], stop[0]),
        "the fail count goes before the stop"
    );
}

#[test]
fn a_changed_agent_deletes_the_old_history_and_retries_where_it_failed() {
    // r (now ocf:heartbeat:Dummy) failed to start on n1 as another agent, with
    // an INFINITY fail count, and runs nowhere; n2 is in standby.
    let mut cib = base(&["n1", "n2"]);
    cib.config.nodes[1].standby = true;
    cib.config.resources.push(Resource::Primitive(dummy("r")));
    let st = cib.status.nodes.get_mut("n1").unwrap();
    let start = OpRecord {
        operation: "start".into(),
        call_id: 2,
        rc: 1,
        expected_rc: Some(0),
        op_digest: Some("digest of the old parameters".into()),
        ..Default::default()
    };
    let stop = OpRecord {
        operation: "stop".into(),
        call_id: 3,
        rc: 0,
        ..Default::default()
    };
    let mut h = ResourceHistory {
        agent: hactl_model::AgentSpec::parse("ocf:pacemaker:remote").unwrap(),
        ..Default::default()
    };
    h.note_failure(&start);
    h.ops = vec![start, stop];
    st.resources.insert("r".into(), h);
    let mut fc = failcount("r", Score::INFINITY, NOW - 5);
    fc.op = Some("start".into());
    fc.interval_ms = Some(0);
    st.failcounts.push(fc);
    let t = schedule(&cib, NOW).unwrap();
    let names = |k: ActionKind| -> Vec<(String, String)> {
        of_kind(&t, &k)
            .into_iter()
            .map(|a| (on(a).0.to_string(), on(a).1.to_string()))
            .collect()
    };
    let r_n1 = vec![("r".to_string(), "n1".to_string())];
    assert_eq!(names(ActionKind::Delete), r_n1);
    assert_eq!(names(ActionKind::ClearFailcount), r_n1);
    assert_eq!(names(ActionKind::Start), r_n1, "{:?}", t.summary);
}
