//! Pacemaker Remote nodes (`remote.rs`; wave2 cases remote-startup,
//! remote-recover, remote-fence-before-reconnect): two cluster nodes with a
//! fence device, a remote node `r1` named by its connection, and `app`.

use crate::{schedule, ActionKind, Transition};

/// `conn` is the connection's history on n1 (`<lrm_resource>` content), `on_r1`
/// the remote node's own `<node_state>` (empty: never seen), `params` the
/// connection's instance attributes.
fn remote_cib(params: &str, conn: &str, on_r1: &str) -> hactl_model::Cib {
    let xml = format!(
        r##"<cib have-quorum="true"><configuration><crm_config/>
<nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes>
<resources><primitive id="fence" class="stonith" type="fence_dummy"/>
<primitive id="r1" class="ocf" provider="pacemaker" type="remote">
<instance_attributes id="r1-ia">{params}</instance_attributes>
<operations><op id="r1-mon" name="monitor" interval="60s"/></operations></primitive>
<primitive id="app" class="ocf" provider="pacemaker" type="Dummy">
<operations><op id="app-mon" name="monitor" interval="10s"/></operations></primitive></resources>
<constraints><rsc_location id="app-on-r1" rsc="app" node="r1" score="100"/></constraints>
</configuration><status>
<node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member">
<lrm id="1"><lrm_resources>
<lrm_resource id="fence" class="stonith" type="fence_dummy">
<lrm_rsc_op id="fence_last_0" operation_key="fence_start_0" operation="start" call-id="1" rc-code="0" op-status="0" interval="0"/>
</lrm_resource>
<lrm_resource id="r1" class="ocf" provider="pacemaker" type="remote">{conn}</lrm_resource>
</lrm_resources></lrm></node_state>
<node_state id="2" uname="n2" in_ccm="true" crmd="online" join="member" expected="member"/>
{on_r1}</status></cib>"##
    );
    hactl_cib_xml::import(&xml).expect("imports")
}

fn op(id: &str, key: &str, call: u32, rc: u32, interval: u32) -> String {
    // rsc_OPERATION_interval
    let operation = key.split('_').rev().nth(1).unwrap_or(key);
    format!(
        r##"<lrm_rsc_op id="{id}" operation_key="{key}" operation="{operation}" call-id="{call}" rc-code="{rc}" op-status="0" interval="{interval}"/>"##
    )
}

/// `app` started on the remote node r1 (its monitor too).
fn app_on_r1() -> String {
    format!(
        r##"<node_state id="r1" uname="r1" remote_node="true"><lrm id="r1"><lrm_resources>
<lrm_resource id="app" class="ocf" provider="pacemaker" type="Dummy">{}{}</lrm_resource>
</lrm_resources></lrm></node_state>"##,
        op("app_last_0", "app_start_0", 2, 0, 0),
        op("app_monitor_10000", "app_monitor_10000", 3, 0, 10000)
    )
}

fn summary(t: &Transition) -> Vec<String> {
    t.summary
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn find(t: &Transition, rsc: &str, kind: &str, node: &str) -> usize {
    t.actions
        .iter()
        .find(|a| {
            a.resource.as_deref() == Some(rsc)
                && a.node.as_deref() == Some(node)
                && format!("{:?}", a.kind).starts_with(kind)
        })
        .unwrap_or_else(|| panic!("{rsc} {kind} on {node}: {:#?}", t.actions))
        .id
}

fn ordered(t: &Transition, before: usize, after: usize) -> bool {
    t.edges
        .iter()
        .any(|e| e.before == before && e.after == after)
}

/// A remote node never seen is unclean but not fenced: its connection is
/// placed first, the node is then available, and what goes there is probed
/// and started once the connection is up. The fence device is never probed there.
#[test]
fn a_remote_node_comes_up_with_its_connection() {
    let t = schedule(&remote_cib("", "", ""), 0).expect("schedules");
    let got = summary(&t);
    assert!(got.contains(&"Start r1 ( n1 )".to_string()), "{got:?}");
    assert!(got.contains(&"Start app ( r1 )".to_string()), "{got:?}");
    assert!(!got.iter().any(|l| l.starts_with("Fence")), "{got:?}");
    let conn = find(&t, "r1", "Start", "n1");
    let probe = find(&t, "app", "Probe", "r1");
    let start = find(&t, "app", "Start", "r1");
    assert!(
        ordered(&t, conn, probe),
        "the probe waits for the connection"
    );
    assert!(
        ordered(&t, conn, start),
        "the start waits for the connection"
    );
    assert!(
        !t.actions
            .iter()
            .any(|a| a.resource.as_deref() == Some("fence") && a.node.as_deref() == Some("r1")),
        "no fence device action on a remote node"
    );
}

/// Resources recorded on a remote node whose connection is down do not get it
/// fenced when the connection can start again: they stay, and their monitor is
/// scheduled again once the connection is up.
#[test]
fn a_returning_connection_keeps_what_ran_on_its_node() {
    let t = schedule(&remote_cib("", "", &app_on_r1()), 0).expect("schedules");
    let got = summary(&t);
    assert!(got.contains(&"Start r1 ( n1 )".to_string()), "{got:?}");
    assert!(
        !got.iter()
            .any(|l| l.contains("app") || l.starts_with("Fence")),
        "{got:?}"
    );
    let conn = find(&t, "r1", "Start", "n1");
    let mon = find(&t, "app", "Monitor", "r1");
    assert!(ordered(&t, conn, mon));
}

/// A connection whose monitor failed cannot be trusted: the remote node is
/// fenced, and with `reconnect_interval` the connection stays stopped while
/// what ran there moves (its stop implied by the fencing).
#[test]
fn a_failed_connection_fences_its_node() {
    let conn = [
        op("r1_last_0", "r1_start_0", 1, 0, 0),
        op("r1_last_failure_0", "r1_monitor_60000", 2, 1, 60000),
    ]
    .concat();
    let params = r#"<nvpair id="r1-ri" name="reconnect_interval" value="1m"/>"#;
    let t = schedule(&remote_cib(params, &conn, &app_on_r1()), 0).expect("schedules");
    let got = summary(&t);
    assert!(
        got.contains(&"Fence (reboot) r1 'remote connection is unrecoverable'".to_string()),
        "{got:?}"
    );
    assert!(
        got.contains(&"Stop r1 ( n1 ) due to node availability".to_string()),
        "{got:?}"
    );
    assert!(
        got.iter().any(|l| l.starts_with("Move app ( r1 ->")),
        "{got:?}"
    );
    let fence = t
        .actions
        .iter()
        .find(|a| matches!(a.kind, ActionKind::Fence { .. }))
        .expect("fencing")
        .id;
    let stop = find(&t, "app", "Stop", "r1");
    assert!(t.actions[stop].pseudo, "the stop is implied by the fencing");
    assert!(ordered(&t, fence, stop));
}
