//! Fencing a remote node whose connection cannot come back (`remote_fencing.rs`;
//! wave2 cases remote-recover-all, remote-recover-unknown): the connection `r1`
//! ran on n1, which left the cluster, and may not run on n2, so nothing on r1 can
//! be stopped or probed except by fencing it.

use crate::{schedule, ActionKind, Transition};

fn op(id: &str, rsc: &str, operation: &str, call: u32) -> String {
    format!(
        r#"<lrm_rsc_op id="{id}" operation_key="{rsc}_{operation}_0" operation="{operation}" call-id="{call}" rc-code="0" op-status="0" interval="0"/>"#
    )
}

/// `on_r1`: the `<lrm_resources>` content of the remote node's own status.
fn cib(on_r1: &str) -> hactl_model::Cib {
    hactl_cib_xml::import(&cib_xml("", on_r1)).expect("imports")
}

/// The CIB's text, with `props` as cluster properties.
fn cib_xml(props: &str, on_r1: &str) -> String {
    format!(
        r#"<cib have-quorum="true"><configuration><crm_config><cluster_property_set id="o">{props}</cluster_property_set></crm_config>
<nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes>
<resources><primitive id="fence" class="stonith" type="fence_dummy"/>
<primitive id="r1" class="ocf" provider="pacemaker" type="remote"/>
<primitive id="app" class="ocf" provider="pacemaker" type="Dummy"/></resources>
<constraints><rsc_location id="r1-not-n2" rsc="r1" node="n2" score="-INFINITY"/>
<rsc_location id="app-on-r1" rsc="app" node="r1" score="100"/></constraints>
</configuration><status>
<node_state id="1" uname="n1" in_ccm="false" crmd="offline" join="member" expected="member">
<lrm id="1"><lrm_resources><lrm_resource id="r1" class="ocf" provider="pacemaker" type="remote">{}</lrm_resource>
</lrm_resources></lrm></node_state>
<node_state id="2" uname="n2" in_ccm="true" crmd="online" join="member" expected="member">
<lrm id="2"><lrm_resources><lrm_resource id="fence" class="stonith" type="fence_dummy">{}</lrm_resource>
</lrm_resources></lrm></node_state>
<node_state id="r1" uname="r1" remote_node="true"><lrm id="r1"><lrm_resources>{on_r1}</lrm_resources></lrm></node_state>
</status></cib>"#,
        op("r1_last_0", "r1", "start", 1),
        op("fence_last_0", "fence", "start", 1),
    )
}

fn summary(t: &Transition) -> Vec<String> {
    t.summary
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn fence_of(t: &Transition, node: &str) -> usize {
    t.actions
        .iter()
        .find(|a| matches!(a.kind, ActionKind::Fence { .. }) && a.node.as_deref() == Some(node))
        .unwrap_or_else(|| panic!("no fencing of {node}: {:#?}", summary(t)))
        .id
}

/// What runs on r1 can only be stopped by fencing r1: the fencing is in the
/// transition, and the stop is implied by it (not waiting for a connection that
/// never starts).
#[test]
fn an_active_resource_fences_the_unreachable_remote_node() {
    let app = format!(
        r#"<lrm_resource id="app" class="ocf" provider="pacemaker" type="Dummy">{}</lrm_resource>"#,
        op("app_last_0", "app", "start", 2)
    );
    let t = schedule(&cib(&app), 0).expect("schedules");
    let got = summary(&t);
    let reason = "Fence (reboot) r1 'resources are active but connection is unrecoverable'";
    assert!(got.contains(&reason.to_string()), "{got:?}");
    assert!(
        got.contains(&"Move app ( r1 -> n2 )".to_string()),
        "{got:?}"
    );
    let fence = fence_of(&t, "r1");
    let stop = t
        .actions
        .iter()
        .find(|a| a.kind == ActionKind::Stop && a.resource.as_deref() == Some("app"))
        .expect("app stops");
    assert!(stop.pseudo, "the stop is implied by the fencing");
    assert!(
        t.edges
            .iter()
            .any(|e| e.before == fence && e.after == stop.id),
        "the implied stop comes after the fencing"
    );
}

/// Nothing known on r1: what may run there cannot be probed, so r1 is fenced
/// for that, and the probe is not scheduled.
#[test]
fn an_unknown_state_fences_the_unreachable_remote_node() {
    let t = schedule(&cib(""), 0).expect("schedules");
    let got = summary(&t);
    let reason =
        "Fence (reboot) r1 'resources are in unknown state and connection is unrecoverable'";
    assert!(got.contains(&reason.to_string()), "{got:?}");
    fence_of(&t, "r1");
    assert!(
        !t.actions
            .iter()
            .any(|a| a.kind == ActionKind::Probe && a.node.as_deref() == Some("r1")),
        "no probe on r1"
    );
    assert!(got.contains(&"Start app ( n2 )".to_string()), "{got:?}");
}

/// Without concurrent fencing, nodes are fenced one after the other in name
/// order, remote nodes among the others: the remote node `m1` (named before n1)
/// first.
#[test]
fn without_concurrent_fencing_a_remote_node_takes_its_place_by_name() {
    let props = r#"<nvpair id="o-cf" name="concurrent-fencing" value="false"/>"#;
    let xml = cib_xml(props, "").replace("r1", "m1");
    let t = schedule(&hactl_cib_xml::import(&xml).expect("imports"), 0).expect("schedules");
    let (m1, n1) = (fence_of(&t, "m1"), fence_of(&t, "n1"));
    assert!(
        t.edges.iter().any(|e| e.before == m1 && e.after == n1),
        "{:?}",
        t.edges
    );
}

/// Name order counts digit runs as numbers: n9 before n10, whatever their
/// order in the configuration.
#[test]
fn without_concurrent_fencing_digits_order_by_number() {
    let lost = |id: u32| {
        format!(
            r#"<node_state id="{id}" uname="n{id}" in_ccm="false" crmd="offline" join="member" expected="member"/>"#
        )
    };
    let xml = format!(
        r#"<cib have-quorum="true" dc-uuid="2"><configuration><crm_config><cluster_property_set id="o">
<nvpair id="o-cf" name="concurrent-fencing" value="false"/></cluster_property_set></crm_config>
<nodes><node id="10" uname="n10"/><node id="9" uname="n9"/><node id="2" uname="n2"/></nodes>
<resources><primitive id="fence" class="stonith" type="fence_dummy"/></resources><constraints/>
</configuration><status>{}{}
<node_state id="2" uname="n2" in_ccm="true" crmd="online" join="member" expected="member"/>
</status></cib>"#,
        lost(10),
        lost(9)
    );
    let t = schedule(&hactl_cib_xml::import(&xml).expect("imports"), 0).expect("schedules");
    let (n9, n10) = (fence_of(&t, "n9"), fence_of(&t, "n10"));
    assert!(
        t.edges.iter().any(|e| e.before == n9 && e.after == n10),
        "{:?}",
        t.edges
    );
}

/// A guest node is not fenced as an unreachable remote node (Pacemaker orders
/// what runs on a guest against its container instead): the connection inside
/// the VM failed and may run nowhere; the guest is fenced by recovering its VM.
#[test]
fn a_guest_node_is_not_fenced_as_a_remote_node() {
    let op = |id: &str, key: &str, call: u32, rc: u32, interval: u32| {
        let operation = if interval > 0 { "monitor" } else { "start" };
        format!(
            r#"<lrm_rsc_op id="{id}" operation_key="{key}" operation="{operation}" call-id="{call}" rc-code="{rc}" op-status="0" interval="{interval}"/>"#
        )
    };
    let rsc = |id: &str, agent: &str, ops: String| {
        format!("<lrm_resource id=\"{id}\" {agent}>{ops}</lrm_resource>")
    };
    let remote = r#"class="ocf" provider="pacemaker" type="remote""#;
    let n1 = [
        rsc(
            "vm",
            r#"class="ocf" provider="heartbeat" type="VirtualDomain""#,
            op("vm_last_0", "vm_start_0", 2, 0, 0),
        ),
        rsc(
            "g1",
            remote,
            op("g1_last_0", "g1_start_0", 3, 0, 0)
                + &op("g1_last_failure_0", "g1_monitor_30000", 4, 1, 30000),
        ),
        rsc(
            "fence",
            r#"class="stonith" type="fence_dummy""#,
            op("fence_last_0", "fence_start_0", 1, 0, 0),
        ),
    ]
    .concat();
    let app = rsc(
        "app",
        r#"class="ocf" provider="pacemaker" type="Dummy""#,
        op("app_last_0", "app_start_0", 2, 0, 0),
    );
    let xml = format!(
        r#"<cib have-quorum="true" dc-uuid="1"><configuration><crm_config/>
<nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes>
<resources><primitive id="fence" class="stonith" type="fence_dummy"/>
<primitive id="vm" class="ocf" provider="heartbeat" type="VirtualDomain">
<meta_attributes id="vm-m"><nvpair id="vm-g" name="remote-node" value="g1"/></meta_attributes></primitive>
<primitive id="app" class="ocf" provider="pacemaker" type="Dummy"/></resources>
<constraints><rsc_location id="g1-not-n1" rsc="g1" node="n1" score="-INFINITY"/>
<rsc_location id="g1-not-n2" rsc="g1" node="n2" score="-INFINITY"/></constraints>
</configuration><status>
<node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="1"><lrm_resources>{n1}</lrm_resources></lrm></node_state>
<node_state id="2" uname="n2" in_ccm="true" crmd="online" join="member" expected="member"/>
<node_state id="g1" uname="g1"><lrm id="g1"><lrm_resources>{app}</lrm_resources></lrm></node_state>
</status></cib>"#
    );
    let t = schedule(&hactl_cib_xml::import(&xml).expect("imports"), 0).expect("schedules");
    let got = summary(&t);
    assert!(
        !got.iter()
            .any(|l| l.contains("connection is unrecoverable")),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|l| l.starts_with("Fence (reboot) g1 (resource: vm)")),
        "{got:?}"
    );
}
