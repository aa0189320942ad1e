//! Definition changes (`digest.rs`): a running resource whose recorded digests no
//! longer match its definition is restarted, reloaded, or has its monitor
//! scheduled again — and is left alone while they match.

use hactl_model::digest::{force_restart_list, op_digest, restart_digest};
use hactl_model::{AgentSpec, Attrs, Cib, OpRecord, OpSpec, Primitive, Resource, ResourceHistory};

use crate::tests::{base, summary};
use crate::{schedule, ActionKind};

const MONITOR_MS: u64 = 10_000;

fn vip(ip: &str, nic: &str) -> Primitive {
    let params: Attrs = [("ip", ip), ("nic", nic)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Primitive {
        id: "vip".into(),
        agent: AgentSpec::parse("ocf:hactl:VIP").unwrap(),
        params,
        ops: vec![OpSpec {
            id: "vip-monitor".into(),
            name: "monitor".into(),
            interval_ms: MONITOR_MS,
            timeout_ms: Some(20_000),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn pairs(p: &Primitive) -> Vec<(&str, &str)> {
    p.params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// `vip` started and monitored on node1 with the parameters of `ran`, recorded as
/// the executing node records them; `reloadable` names what a reload can apply
/// (None: the agent cannot reload).
fn cib_running(ran: &Primitive, now: Primitive, reloadable: Option<&[&str]>) -> Cib {
    let mut cib = base(&["node1", "node2"]);
    cib.config.resources.push(Resource::Primitive(now));
    let (force_restart, restart) = match reloadable {
        Some(r) => {
            let list = force_restart_list(
                ran.params
                    .keys()
                    .map(String::as_str)
                    .filter(|k| !r.contains(k)),
            );
            let digest = restart_digest(pairs(ran), &list);
            (Some(list), Some(digest))
        }
        None => (None, None),
    };
    let start = OpRecord {
        operation: "start".into(),
        call_id: 1,
        op_digest: Some(op_digest(pairs(ran), 0, 20_000)),
        op_force_restart: force_restart,
        op_restart_digest: restart,
        ..Default::default()
    };
    let monitor = OpRecord {
        operation: "monitor".into(),
        interval_ms: MONITOR_MS,
        call_id: 2,
        op_digest: Some(op_digest(pairs(ran), MONITOR_MS, 20_000)),
        ..Default::default()
    };
    for n in ["node1", "node2"] {
        let st = cib.status.nodes.get_mut(n).unwrap();
        let mut h = ResourceHistory {
            agent: ran.agent.clone(),
            ops: vec![OpRecord {
                operation: "monitor".into(),
                rc: 7,
                expected_rc: Some(7),
                op_digest: Some(op_digest(pairs(ran), 0, 20_000)),
                ..Default::default()
            }],
            ..Default::default()
        };
        if n == "node1" {
            h.ops = vec![start.clone(), monitor.clone()];
        }
        st.resources.insert("vip".into(), h);
    }
    cib
}

/// (kind, node) of every action on vip.
fn actions(cib: &Cib) -> Vec<(ActionKind, String)> {
    let t = schedule(cib, 1_000_000).unwrap();
    t.actions
        .iter()
        .filter(|a| a.resource.as_deref() == Some("vip"))
        .map(|a| (a.kind.clone(), a.node.as_deref().unwrap_or("").to_string()))
        .collect()
}

fn on1(kind: ActionKind) -> (ActionKind, String) {
    (kind, "node1".to_string())
}

#[test]
fn an_unchanged_definition_plans_nothing() {
    let v = vip("10.0.0.10", "eth0");
    let cib = cib_running(&v, v.clone(), Some(&["nic"]));
    assert_eq!(actions(&cib), vec![]);
    assert!(summary(&cib).is_empty());
}

#[test]
fn a_changed_parameter_restarts_where_it_runs() {
    let old = vip("10.0.0.10", "eth0");
    let cib = cib_running(&old, vip("10.0.0.99", "eth0"), None);
    assert_eq!(
        summary(&cib),
        vec!["Restart vip ( node1 ) due to resource definition change"]
    );
    let acts = actions(&cib);
    let monitor = ActionKind::Monitor {
        interval_ms: MONITOR_MS,
    };
    for a in [ActionKind::Stop, ActionKind::Start, monitor] {
        assert!(acts.contains(&on1(a.clone())), "{a:?} on node1 in {acts:?}");
    }
    // Non-reloadable for an agent that can reload (`ip` is not listed): restart.
    let cib = cib_running(&old, vip("10.0.0.99", "eth0"), Some(&["nic"]));
    assert_eq!(
        summary(&cib),
        vec!["Restart vip ( node1 ) due to resource definition change"]
    );
}

#[test]
fn a_changed_agent_restarts_where_it_runs() {
    let old = vip("10.0.0.10", "eth0");
    let mut now = old.clone();
    now.agent = AgentSpec::parse("ocf:heartbeat:IPaddr2").unwrap();
    let cib = cib_running(&old, now, None);
    assert_eq!(summary(&cib), vec!["Restart vip ( node1 )"]);
}

#[test]
fn a_changed_reloadable_parameter_reloads_without_a_stop() {
    let old = vip("10.0.0.10", "eth0");
    let cib = cib_running(&old, vip("10.0.0.10", "eth1"), Some(&["nic"]));
    assert_eq!(summary(&cib), vec!["Reload vip ( node1 )"]);
    let acts = actions(&cib);
    let monitor = ActionKind::Monitor {
        interval_ms: MONITOR_MS,
    };
    assert_eq!(acts.len(), 2, "{acts:?}");
    assert!(acts.contains(&on1(ActionKind::Reload)), "{acts:?}");
    assert!(acts.contains(&on1(monitor.clone())), "{acts:?}");
    // The monitor runs after the reload, with the new parameters.
    let t = schedule(&cib, 1_000_000).unwrap();
    let id = |k: ActionKind| t.actions.iter().find(|a| a.kind == k).unwrap().id;
    let (reload, mon) = (id(ActionKind::Reload), id(monitor));
    assert!(t.edges.iter().any(|e| e.before == reload && e.after == mon));
}

#[test]
fn a_reload_is_dropped_when_the_resource_moves_anyway() {
    let old = vip("10.0.0.10", "eth0");
    let mut cib = cib_running(&old, vip("10.0.0.10", "eth1"), Some(&["nic"]));
    cib.config.nodes[0].standby = true;
    assert_eq!(summary(&cib), vec!["Move vip ( node1 -> node2 )"]);
    assert!(!actions(&cib).iter().any(|(k, _)| *k == ActionKind::Reload));
}

#[test]
fn a_changed_monitor_is_scheduled_again() {
    let old = vip("10.0.0.10", "eth0");
    let mut now = old.clone();
    now.ops[0].timeout_ms = Some(30_000);
    let cib = cib_running(&old, now, Some(&["nic"]));
    let monitor = ActionKind::Monitor {
        interval_ms: MONITOR_MS,
    };
    assert_eq!(actions(&cib), vec![on1(monitor)]);
    assert!(summary(&cib).is_empty());
}
