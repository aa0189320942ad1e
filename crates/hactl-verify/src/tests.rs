use super::*;
use hactl_model::{AgentSpec, OpSpec, Primitive, Resource};
use std::time::Duration;

fn ctx() -> Context {
    Context {
        liveness: Liveness::new(
            Duration::from_millis(50),
            Duration::from_millis(250),
            Duration::from_millis(20),
        ),
        local_networks: Some(vec![Network {
            addr: "10.0.0.1".parse().unwrap(),
            prefix: 24,
        }]),
        two_node: false,
        ignored_colocations: Vec::new(),
    }
}

fn cib_with(p: Primitive, props: &[(&str, &str)]) -> Cib {
    let mut cib = Cib::default();
    for (k, v) in props {
        cib.config.properties.insert(k.to_string(), v.to_string());
    }
    cib.config.resources.push(Resource::Primitive(p));
    cib
}

fn vip(ip: &str) -> Primitive {
    Primitive {
        id: "vip".into(),
        agent: AgentSpec::parse("ocf:heartbeat:IPaddr2").unwrap(),
        params: [("ip".to_string(), ip.to_string())].into(),
        ..Default::default()
    }
}

fn checks(r: &Report) -> Vec<&str> {
    r.findings.iter().map(|f| f.check).collect()
}

#[test]
fn exit_codes_follow_the_worst_finding() {
    let nofence = [("stonith-enabled", "false")];
    let clean = verify(&cib_with(vip("10.0.0.9"), &nofence), &ctx());
    assert_eq!(checks(&clean), Vec::<&str>::new());
    assert_eq!((clean.exit_code(false), clean.exit_code(true)), (0, 0));
    let warned = verify(&cib_with(vip("10.9.0.9"), &nofence), &ctx());
    assert_eq!(checks(&warned), ["vip-outside-local-subnets"]);
    assert_eq!((warned.exit_code(false), warned.exit_code(true)), (1, 2));
    let bad = verify(&cib_with(vip("10.0.0.300"), &nofence), &ctx());
    assert_eq!(checks(&bad), ["vip-not-an-address"]);
    assert_eq!(bad.exit_code(false), 2);
}

/// The hold with a watchdog follows `stonith-watchdog-timeout`: a stop as long as
/// it passes, one a millisecond longer does not.
#[test]
fn stop_timeout_is_checked_against_the_watchdog_hold() {
    let with_stop = |ms: u64| {
        let mut p = vip("10.0.0.9");
        p.ops.push(OpSpec {
            name: "stop".into(),
            timeout_ms: Some(ms),
            ..Default::default()
        });
        let props = [
            ("stonith-enabled", "false"),
            ("stonith-watchdog-timeout", "10s"),
        ];
        checks(&verify(&cib_with(p, &props), &ctx()))
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert!(with_stop(10_000).is_empty());
    assert_eq!(with_stop(10_001), ["stop-timeout-exceeds-hold"]);
}

#[test]
fn two_node_mode_without_a_fence_device_is_an_error() {
    let two = Context {
        two_node: true,
        ..ctx()
    };
    let cib = cib_with(vip("10.0.0.100"), &[("stonith-enabled", "false")]);
    assert!(checks(&verify(&cib, &two)).contains(&"two-node-without-fencing"));
    assert!(!checks(&verify(&cib, &ctx())).contains(&"two-node-without-fencing"));
    // Fencing enabled (explicitly, and by default) but no device: nothing can fence.
    for props in [&[("stonith-enabled", "true")][..], &[]] {
        let r = verify(&cib_with(vip("10.0.0.100"), props), &two);
        let f = r
            .findings
            .iter()
            .find(|f| f.check == "two-node-without-fencing");
        assert!(
            f.is_some_and(|f| f.severity == Severity::Error),
            "{props:?}: {r:?}"
        );
    }
    let mut fenced = cib_with(vip("10.0.0.100"), &[]);
    fenced.config.resources.push(Resource::Primitive(Primitive {
        id: "xvm".into(),
        agent: AgentSpec::parse("stonith:fence_xvm").unwrap(),
        ..Default::default()
    }));
    assert!(!checks(&verify(&fenced, &two)).contains(&"two-node-without-fencing"));
    fenced
        .config
        .properties
        .insert("stonith-enabled".into(), "false".into());
    assert!(checks(&verify(&fenced, &two)).contains(&"two-node-without-fencing"));
}

/// A stop recorded while it still runs (`record-pending`, execution status -1) is no
/// failed stop; the same stop finished with an error is.
#[test]
fn a_pending_stop_is_not_a_failed_stop() {
    let op = |operation: &str, call_id: i64, rc: i32, op_status: i32| hactl_model::OpRecord {
        operation: operation.into(),
        call_id,
        rc,
        op_status,
        ..Default::default()
    };
    let with_stop = |stop: hactl_model::OpRecord| {
        let mut cib = cib_with(vip("10.0.0.9"), &[("stonith-enabled", "false")]);
        let history = hactl_model::ResourceHistory {
            ops: vec![op("start", 1, 0, 0), stop],
            ..Default::default()
        };
        let mut node = hactl_model::NodeStatus::default();
        node.resources.insert("vip".into(), history);
        cib.status.nodes.insert("n1".into(), node);
        checks(&verify(&cib, &ctx()))
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert!(!with_stop(op("stop", 2, 0, -1)).contains(&"failed-stop".to_string()));
    assert!(with_stop(op("stop", 2, 1, 4)).contains(&"failed-stop".to_string()));
}

/// `on-fail=demote` is allowed only where demoting recovers: a promote or a recurring
/// monitor of the Promoted role (Pacemaker resets it elsewhere, a configuration error).
#[test]
fn on_fail_demote_is_refused_on_a_start_and_taken_on_a_promoted_monitor() {
    let with_op = |op: OpSpec| {
        let mut p = vip("10.0.0.9");
        p.ops.push(op);
        let r = verify(&cib_with(p, &[("stonith-enabled", "false")]), &ctx());
        checks(&r).contains(&"on-fail-not-allowed")
    };
    let demote = Some(hactl_model::values::OnFail::Demote);
    assert!(with_op(OpSpec {
        name: "start".into(),
        on_fail: demote,
        ..Default::default()
    }));
    assert!(!with_op(OpSpec {
        name: "monitor".into(),
        interval_ms: 10_000,
        role: Some(hactl_model::Role::Promoted),
        on_fail: demote,
        ..Default::default()
    }));
}
