//! The report and text view on CIBs built the way the controller records them.

use hactl_model::change::Change;
use hactl_model::{AgentSpec, Cib, FenceEvent, Node, OpRecord, Primitive, Resource};
use hactl_view::{failed_actions, Sections, Snapshot, View};

fn view(cib: &Cib) -> View {
    View::new(Snapshot {
        cib: cib.clone(),
        daemon: None,
        now: 0,
    })
    .unwrap()
}

fn text(cib: &Cib) -> String {
    hactl_view::text::render(&view(cib), &Sections::STATUS)
}

/// Fencing off and a partition that keeps its resources: `hactl status` says so.
#[test]
fn split_brain_risk_is_warned() {
    let render = |props: &[(&str, &str)]| {
        let mut cib = Cib::default();
        for (k, v) in props {
            cib.config.properties.insert(k.to_string(), v.to_string());
        }
        text(&cib)
    };
    for nqp in ["freeze", "ignore"] {
        let out = render(&[("stonith-enabled", "false"), ("no-quorum-policy", nqp)]);
        assert!(
            out.contains(&format!(
                "WARNING: fencing is disabled and no-quorum-policy is {nqp}"
            )),
            "{out}"
        );
    }
    for props in [
        &[("stonith-enabled", "false"), ("no-quorum-policy", "stop")][..],
        &[("stonith-enabled", "true"), ("no-quorum-policy", "freeze")][..],
        &[("stonith-enabled", "false")][..],
    ] {
        let out = render(props);
        assert!(!out.contains("WARNING"), "{props:?}: {out}");
    }
}

fn record(cib: &mut Cib, op: &str, iv: u64, rc: i32, expected: i32, id: i64) {
    Change::RecordOp {
        node: "n1".into(),
        rsc: "d".into(),
        agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
        op: OpRecord {
            operation: op.into(),
            interval_ms: iv,
            rc,
            expected_rc: Some(expected),
            call_id: id,
            last_rc_change: Some(1_700_000_000 + id),
            exit_reason: (rc == 1).then(|| "boom".to_string()),
            exec_time_ms: Some(1500),
            ..Default::default()
        },
    }
    .apply(cib)
    .unwrap();
}

/// What the controller records: probes (one finding the resource running, after
/// a cleanup), a start, a monitor failure recovered in place (stop, start, the
/// monitor succeeding again). The table lists the failure once, with its time
/// and exit reason, never a probe's answer, and is empty after a cleanup.
#[test]
fn failed_actions_list_the_last_real_failure_with_time_and_duration() {
    let mut cib = Cib::default();
    cib.config.nodes.push(Node {
        id: "n1".into(),
        name: "n1".into(),
        ..Default::default()
    });
    cib.config.resources.push(Resource::Primitive(Primitive {
        id: "d".into(),
        agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
        ..Default::default()
    }));
    record(&mut cib, "monitor", 0, 7, 7, 1);
    record(&mut cib, "start", 0, 0, 0, 2);
    record(&mut cib, "monitor", 10_000, 0, 0, 3);
    record(&mut cib, "monitor", 0, 0, 7, 4);
    assert!(
        failed_actions(&cib).is_empty(),
        "a probe's answer is no failure"
    );
    record(&mut cib, "monitor", 10_000, 1, 0, 5);
    record(&mut cib, "stop", 0, 0, 0, 6);
    record(&mut cib, "start", 0, 0, 0, 7);
    record(&mut cib, "monitor", 10_000, 0, 0, 8);
    let f = failed_actions(&cib);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].operation.as_str(), f[0].interval_ms),
        ("monitor", 10_000)
    );
    assert_eq!((f[0].rc_text.as_str(), f[0].call_id), ("error", 5));
    let text = text(&cib);
    assert!(text.contains("Failed Resource Actions:"), "{text}");
    assert!(
        text.contains(
            "d monitor 10s on n1 returned 'error' (1) at 2023-11-14 22:13:25 after 1500ms, \
             call=5, exit-reason='boom'"
        ),
        "{text}"
    );
    assert_eq!(text.matches("returned").count(), 1, "{text}");
    assert!(!text.contains("'ok'"), "{text}");
}

/// n1 ran vip and is lost without a clean shutdown (its daemon was killed) while
/// fencing is disabled: status warns that vip may still run there. A clean leave,
/// or fencing enabled (the scheduler then shows it UNCLEAN), gives no warning.
#[test]
fn a_lost_node_with_fencing_disabled_is_shown_unconfirmed() {
    let mut cib = Cib::default();
    cib.config
        .properties
        .insert("stonith-enabled".into(), "false".into());
    for n in ["n1", "n2"] {
        cib.config.nodes.push(Node {
            id: n.into(),
            name: n.into(),
            ..Default::default()
        });
        let up = hactl_model::change::NodeStateUpdate {
            member: Some(true),
            controller_online: Some(true),
            join: Some("member".into()),
            expected: Some("member".into()),
        };
        Change::SetNodeState {
            node: n.into(),
            state: up,
        }
        .apply(&mut cib)
        .unwrap();
    }
    cib.config.resources.push(Resource::Primitive(Primitive {
        id: "d".into(),
        agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
        ..Default::default()
    }));
    record(&mut cib, "start", 0, 0, 0, 1);
    let lost = hactl_model::change::NodeStateUpdate {
        member: Some(false),
        controller_online: Some(false),
        join: Some("down".into()),
        expected: None,
    };
    Change::SetNodeState {
        node: "n1".into(),
        state: lost,
    }
    .apply(&mut cib)
    .unwrap();
    let warning = "WARNING: n1 is unclean, fencing disabled: its resources may still be active (d)";
    assert!(text(&cib).contains(warning), "{}", text(&cib));
    let mut fenced = cib.clone();
    fenced.config.properties.remove("stonith-enabled");
    assert!(!text(&fenced).contains(warning), "{}", text(&fenced));
    let mut clean = cib.clone();
    clean.status.nodes.get_mut("n1").unwrap().expected = Some("down".into());
    assert!(!text(&clean).contains(warning), "{}", text(&clean));
}

/// A Pacemaker CIB holds a failure twice (`_last_0` and `_last_failure_0`): one row.
#[test]
fn an_imported_failure_is_listed_once() {
    let xml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/web-cluster.xml"
    ))
    .unwrap();
    let cib = hactl_cib_xml::import(&xml).unwrap();
    let f = failed_actions(&cib);
    let mut keys: Vec<_> = f
        .iter()
        .map(|a| (&a.node, &a.resource, &a.operation, a.interval_ms))
        .collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert!(n > 0, "the example has a failure");
    assert_eq!(keys.len(), n, "{f:?}");
}

#[test]
fn fencing_failures_and_pending_fencing_are_shown() {
    let mut cib = Cib::default();
    for n in ["n1", "n2", "n3"] {
        cib.config.nodes.push(Node {
            id: n.into(),
            name: n.into(),
            ..Default::default()
        });
    }
    cib.config.resources.push(Resource::Primitive(Primitive {
        id: "fd".into(),
        agent: AgentSpec::parse("stonith:fence_hactl_xvm").unwrap(),
        ..Default::default()
    }));
    cib.status.have_quorum = true;
    for n in ["n1", "n3"] {
        let st = cib.status.nodes.entry(n.into()).or_default();
        st.member = Some(true);
        st.controller_online = Some(true);
        st.join = Some("member".into());
        st.expected = Some("member".into());
    }
    let ev = |target: &str, ok: bool, reason: &str, at: i64| Change::RecordFenceEvent {
        event: FenceEvent {
            target: target.into(),
            action: "off".into(),
            ok,
            reason: Some(reason.into()),
            executor: "n1".into(),
            origin: Some("controller".into()),
            devices: vec!["fd".into()],
            at,
        },
    };
    for c in [
        ev("n2", false, "first try", 1_700_000_000),
        ev("n3", false, "n3 failed once", 1_700_000_010),
        ev("n2", false, "fd: no answer from fence_virtd", 1_700_000_020),
        ev("n3", true, "done", 1_700_000_030),
    ] {
        c.apply(&mut cib).unwrap();
    }
    let v = view(&cib);
    let r = &v.report;
    assert_eq!(r.fencing.failed.len(), 1, "{:?}", r.fencing);
    assert_eq!(r.fencing.failed[0].target, "n2");
    assert_eq!(r.fencing.pending.len(), 1, "{:?}", r.fencing);
    let p = &r.fencing.pending[0];
    assert_eq!(p.node, "n2");
    assert!(p.runnable && p.action.is_some(), "{p:?}");
    let text = hactl_view::text::render(&v, &Sections::STATUS);
    assert!(text.contains("Failed Fencing Actions:"), "{text}");
    assert!(
        text.contains(
            "off of n2 failed: executed by n1 with fd, asked by controller, \
             last-failed='2023-11-14 22:13:40', reason='fd: no answer from fence_virtd'"
        ),
        "{text}"
    );
    assert!(!text.contains("first try"), "{text}");
    assert!(!text.contains("of n3 failed"), "{text}");
    assert!(text.contains("Pending Fencing Actions:"), "{text}");
    assert!(text.contains(" of n2 pending ("), "{text}");
    let json: serde_json::Value = serde_json::from_str(&v.json().unwrap()).unwrap();
    assert_eq!(json["schema_version"], hactl_view::SCHEMA_VERSION);
    assert_eq!(json["fencing"]["failed"][0]["target"], "n2");
    assert_eq!(json["fencing"]["pending"][0]["node"], "n2");
}

/// A clone notification reads as what it tells, not as its list of values.
#[test]
fn a_notify_action_is_described_in_a_few_words() {
    let a = hactl_policy::Action {
        id: 0,
        kind: hactl_policy::ActionKind::Notify {
            phase: hactl_policy::NotifyPhase::Post,
            of: hactl_policy::NotifyOf::Start,
            env: vec![("notify_start_uname".into(), "n1 n2".into())],
        },
        resource: Some("web:0".into()),
        node: Some("n1".into()),
        reason: None,
        runnable: true,
        pseudo: false,
        history_name: None,
    };
    assert_eq!(
        hactl_view::report::describe_action(&a),
        "notify (post start) web:0 on n1"
    );
}
