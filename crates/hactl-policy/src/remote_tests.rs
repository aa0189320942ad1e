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

/// The transition's fencing action, if any.
fn fence_id(t: &Transition) -> Option<usize> {
    t.actions
        .iter()
        .find(|a| matches!(a.kind, ActionKind::Fence { .. }))
        .map(|a| a.id)
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
    let fence = fence_id(&t).expect("fencing");
    let stop = find(&t, "app", "Stop", "r1");
    assert!(t.actions[stop].pseudo, "the stop is implied by the fencing");
    assert!(ordered(&t, fence, stop));
}

/// Three cluster nodes (n3 lost, to be fenced) with a fence device, the
/// connection `r0` running on n1 (placed first, n1 then runs more), the
/// connection `r1` (`r1_meta`: its meta attributes) and `app` on r1; `n1`, `n2`
/// are those nodes' `<lrm_resources>` content, `cons` the constraints.
fn three_node_cib(r1_meta: &str, cons: &str, n1: &str, n2: &str) -> hactl_model::Cib {
    let xml = format!(
        r##"<cib have-quorum="true"><configuration><crm_config/>
<nodes><node id="1" uname="n1"/><node id="2" uname="n2"/><node id="3" uname="n3"/></nodes>
<resources><primitive id="fence" class="stonith" type="fence_dummy"/>
<primitive id="r0" class="ocf" provider="pacemaker" type="remote"/>
<primitive id="r1" class="ocf" provider="pacemaker" type="remote">{r1_meta}
<operations><op id="r1-mon" name="monitor" interval="60s"/></operations></primitive>
<primitive id="app" class="ocf" provider="pacemaker" type="Dummy">
<operations><op id="app-mon" name="monitor" interval="10s"/></operations></primitive></resources>
<constraints><rsc_location id="app-on-r1" rsc="app" node="r1" score="100"/>{cons}</constraints>
</configuration><status>
<node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member">
<lrm id="1"><lrm_resources>
<lrm_resource id="fence" class="stonith" type="fence_dummy">
<lrm_rsc_op id="fence_last_0" operation_key="fence_start_0" operation="start" call-id="1" rc-code="0" op-status="0" interval="0"/>
</lrm_resource>
<lrm_resource id="r0" class="ocf" provider="pacemaker" type="remote">{r0}</lrm_resource>
<lrm_resource id="r1" class="ocf" provider="pacemaker" type="remote">{n1}</lrm_resource>
</lrm_resources></lrm></node_state>
<node_state id="2" uname="n2" in_ccm="true" crmd="online" join="member" expected="member">
<lrm id="2"><lrm_resources>
<lrm_resource id="r1" class="ocf" provider="pacemaker" type="remote">{n2}</lrm_resource>
</lrm_resources></lrm></node_state>
<node_state id="3" uname="n3" in_ccm="false" crmd="offline" join="down" expected="member"/>
{}</status></cib>"##,
        app_on_r1(),
        r0 = op("r0_last_0", "r0_start_0", 3, 0, 0),
    );
    hactl_cib_xml::import(&xml).expect("imports")
}

/// A connection left partially migrated (migrate_to n2 -> n1 done, no
/// migrate_from) goes back to its migration's target on a tie (n1, where r0
/// runs) and finishes the migration there: migrate_from on n1, no migrate_to,
/// the stop on n2 after it; what runs on r1 waits for the connection (Pacemaker's
/// allocate_resources and pcmk__create_migration_actions; wave2 case
/// remote-partial-migrate2).
#[test]
fn a_partially_migrated_connection_finishes_its_migration() {
    let to = r##"<lrm_rsc_op id="r1_last_0" operation_key="r1_migrate_to_0" operation="migrate_to" call-id="5" rc-code="0" op-status="0" interval="0" migrate_source="n2" migrate_target="n1"/>"##;
    let probe = op("r1_last_0", "r1_monitor_0", 2, 7, 0);
    let away = r##"<rsc_location id="app-away" rsc="app" node="r1" score="-INFINITY"/>"##;
    let t = schedule(&three_node_cib("", away, &probe, to), 0).expect("schedules");
    let got = summary(&t);
    assert!(
        got.contains(&"Migrate r1 ( n2 -> n1 )".to_string()),
        "{got:?}"
    );
    let from = find(&t, "r1", "MigrateFrom", "n1");
    let stop = find(&t, "r1", "Stop", "n2");
    assert!(ordered(&t, from, stop));
    // What leaves r1 stops once the connection is up on n1, not before its
    // stop on n2.
    let start = find(&t, "r1", "Start", "n1");
    let app_stop = find(&t, "app", "Stop", "r1");
    assert!(ordered(&t, start, app_stop), "{:#?}", t.edges);
    assert!(!ordered(&t, app_stop, stop), "{:#?}", t.edges);
    assert!(
        !t.actions
            .iter()
            .any(|a| format!("{:?}", a.kind).starts_with("MigrateTo")),
        "{:#?}",
        t.actions
    );
    let p = t
        .placements
        .iter()
        .find(|p| p.resource == "r1")
        .expect("r1");
    assert_eq!(p.current, vec!["n1".to_string(), "n2".to_string()]);
}

/// A connection requires quorum only (Pacemaker's default for it): moving
/// while a node is fenced, its migrate_to does not wait for the fencing (its
/// start does, the connection's state on the lost node being unknown).
#[test]
fn a_migrating_connection_does_not_wait_for_fencing() {
    let started = op("r1_last_0", "r1_start_0", 5, 0, 0);
    let probe = op("r1_last_0", "r1_monitor_0", 2, 7, 0);
    let cons = r##"<rsc_location id="r1-n2" rsc="r1" node="n2" score="100"/>"##;
    let t = schedule(&three_node_cib("", cons, &started, &probe), 0).expect("schedules");
    let got = summary(&t);
    assert!(
        got.contains(&"Migrate r1 ( n1 -> n2 )".to_string()),
        "{got:?}"
    );
    let fence = fence_id(&t).expect("n3 is fenced");
    let to = find(&t, "r1", "MigrateTo", "n1");
    assert!(!ordered(&t, fence, to), "{:#?}", t.edges);
}
