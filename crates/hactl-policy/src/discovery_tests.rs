//! `resource-discovery` of location constraints (`discovery.rs`; wave2 cases
//! one-or-more-unrunnable-instances, remote-recover-all): three nodes, nothing
//! known anywhere yet, so every allowed node gets a probe unless a constraint's
//! discovery mode says otherwise.

use crate::{schedule, ActionKind, Transition};

fn cib(resources: &str, constraints: &str) -> hactl_model::Cib {
    let node = |id: u32| {
        format!(
            r#"<node_state id="{id}" uname="n{id}" in_ccm="true" crmd="online" join="member" expected="member"/>"#
        )
    };
    let xml = format!(
        r#"<cib have-quorum="true"><configuration><crm_config><cluster_property_set id="o">
<nvpair id="o-st" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
<nodes><node id="1" uname="n1"/><node id="2" uname="n2"/><node id="3" uname="n3"/></nodes>
<resources>{resources}</resources><constraints>{constraints}</constraints>
</configuration><status>{}{}{}</status></cib>"#,
        node(1),
        node(2),
        node(3)
    );
    hactl_cib_xml::import(&xml).expect("imports")
}

const APP: &str = r#"<primitive id="app" class="ocf" provider="pacemaker" type="Dummy"/>"#;

/// `app` prefers n2 (100) through a plain constraint; `discovery` is the mode of
/// a second constraint giving it 10 on n1.
fn app_cib(discovery: &str) -> hactl_model::Cib {
    let constraints = format!(
        r#"<rsc_location id="pref" rsc="app" node="n2" score="100"/>
<rsc_location id="disc" rsc="app" node="n1" score="10" resource-discovery="{discovery}"/>"#
    );
    cib(APP, &constraints)
}

fn probed_on(t: &Transition, rsc: &str) -> Vec<String> {
    let mut nodes: Vec<String> = t
        .actions
        .iter()
        .filter(|a| a.kind == ActionKind::Probe)
        .filter(|a| a.resource.as_deref().is_some_and(|r| r.starts_with(rsc)))
        .filter_map(|a| a.node.as_deref().map(str::to_string))
        .collect();
    nodes.sort();
    nodes.dedup();
    nodes
}

fn summary(t: &Transition) -> Vec<String> {
    t.summary
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// The default probes everywhere and places by score alone.
#[test]
fn always_probes_every_node() {
    let t = schedule(&app_cib("always"), 0).expect("schedules");
    assert_eq!(probed_on(&t, "app"), ["n1", "n2", "n3"]);
    assert_eq!(summary(&t), ["Start app ( n2 )"]);
}

/// `never`: no probe on the constraint's node, but its score still counts.
#[test]
fn never_skips_the_probe_but_keeps_the_score() {
    let constraints =
        r#"<rsc_location id="disc" rsc="app" node="n1" score="10" resource-discovery="never"/>"#;
    let t = schedule(&cib(APP, constraints), 0).expect("schedules");
    assert_eq!(probed_on(&t, "app"), ["n2", "n3"]);
    assert_eq!(summary(&t), ["Start app ( n1 )"]);
}

/// `exclusive`: probed only on the nodes it names, and banned from the others
/// whatever their score (n2 scores higher).
#[test]
fn exclusive_probes_and_places_only_where_named() {
    let t = schedule(&app_cib("exclusive"), 0).expect("schedules");
    assert_eq!(probed_on(&t, "app"), ["n1"]);
    assert_eq!(summary(&t), ["Start app ( n1 )"]);
}

/// With its only exclusive node unavailable, the resource cannot run at all.
#[test]
fn exclusive_without_its_node_stays_stopped() {
    let constraints = r#"<rsc_location id="pref" rsc="app" node="n2" score="100"/>
<rsc_location id="disc" rsc="app" node="n1" score="10" resource-discovery="exclusive"/>
<rsc_location id="ban" rsc="app" node="n1" score="-INFINITY"/>"#;
    let t = schedule(&cib(APP, constraints), 0).expect("schedules");
    assert!(summary(&t).is_empty(), "{:?}", summary(&t));
}

/// An exclusive constraint on a clone (a rule naming n1 and n2): its instances
/// are probed and started on those nodes only.
#[test]
fn exclusive_on_a_clone_limits_its_instances() {
    let resources = r#"<clone id="web-clone"><primitive id="web" class="ocf" provider="pacemaker" type="Dummy"/></clone>"#;
    let constraints = r##"<rsc_location id="web-where" rsc="web-clone" resource-discovery="exclusive">
<rule id="web-where-r" score="0" boolean-op="or">
<expression id="e1" attribute="#uname" operation="eq" value="n1"/>
<expression id="e2" attribute="#uname" operation="eq" value="n2"/>
</rule></rsc_location>"##;
    let t = schedule(&cib(resources, constraints), 0).expect("schedules");
    assert_eq!(probed_on(&t, "web"), ["n1", "n2"]);
    let got = summary(&t);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|l| !l.contains("n3")), "{got:?}");
}

/// An exclusive constraint on a group covers its members.
#[test]
fn exclusive_on_a_group_covers_its_members() {
    let resources = r#"<group id="g"><primitive id="ga" class="ocf" provider="pacemaker" type="Dummy"/>
<primitive id="gb" class="ocf" provider="pacemaker" type="Dummy"/></group>"#;
    let constraints = r#"<rsc_location id="pref" rsc="g" node="n2" score="100"/>
<rsc_location id="g-where" rsc="g" node="n3" score="0" resource-discovery="exclusive"/>"#;
    let t = schedule(&cib(resources, constraints), 0).expect("schedules");
    assert_eq!(probed_on(&t, "ga"), ["n3"]);
    assert_eq!(probed_on(&t, "gb"), ["n3"]);
    assert_eq!(summary(&t), ["Start ga ( n3 )", "Start gb ( n3 )"]);
}

/// A remote node `r1` (its connection running on n1) whose status sets
/// `resource-discovery-enabled` to `value`; `props` are cluster properties.
fn remote_cib(props: &str, value: &str) -> hactl_model::Cib {
    let start = |rsc: &str| {
        format!(
            r#"<lrm_rsc_op id="{rsc}_last_0" operation_key="{rsc}_start_0" operation="start" call-id="1" rc-code="0" op-status="0" interval="0"/>"#
        )
    };
    let xml = format!(
        r#"<cib have-quorum="true"><configuration><crm_config><cluster_property_set id="o">{props}</cluster_property_set></crm_config>
<nodes><node id="1" uname="n1"/></nodes>
<resources><primitive id="fence" class="stonith" type="fence_dummy"/>
<primitive id="r1" class="ocf" provider="pacemaker" type="remote"/>{APP}</resources><constraints/>
</configuration><status>
<node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="1"><lrm_resources>
<lrm_resource id="fence" class="stonith" type="fence_dummy">{}</lrm_resource>
<lrm_resource id="r1" class="ocf" provider="pacemaker" type="remote">{}</lrm_resource>
</lrm_resources></lrm></node_state>
<node_state id="r1" uname="r1" remote_node="true"><transient_attributes id="r1"><instance_attributes id="r1-a">
<nvpair id="r1-a-d" name="resource-discovery-enabled" value="{value}"/></instance_attributes></transient_attributes>
</node_state></status></cib>"#,
        start("fence"),
        start("r1"),
    );
    hactl_cib_xml::import(&xml).expect("imports")
}

/// `resource-discovery-enabled=false` on a remote node: nothing is probed there
/// (with fencing enabled; Pacemaker ignores it without).
#[test]
fn a_remote_node_can_turn_discovery_off() {
    let t = schedule(&remote_cib("", "false"), 0).expect("schedules");
    assert_eq!(probed_on(&t, "app"), ["n1"]);
    let t = schedule(&remote_cib("", "true"), 0).expect("schedules");
    assert_eq!(probed_on(&t, "app"), ["n1", "r1"]);
    let no_fencing = r#"<nvpair id="o-st" name="stonith-enabled" value="false"/>"#;
    let t = schedule(&remote_cib(no_fencing, "false"), 0).expect("schedules");
    assert_eq!(probed_on(&t, "app"), ["n1", "r1"]);
}

/// The notifications of a clone with exclusive discovery list as available only
/// the nodes marked for it (Pacemaker drops the others from the clone's allowed
/// nodes as it probes them).
#[test]
fn exclusive_clone_notifications_list_only_its_nodes() {
    let available = |discovery: &str| {
        let resources = r#"<clone id="web-clone"><meta_attributes id="web-clone-m">
<nvpair id="web-clone-n" name="notify" value="true"/></meta_attributes>
<primitive id="web" class="ocf" provider="pacemaker" type="Dummy"/></clone>"#;
        let constraints = format!(
            r#"<rsc_location id="w1" rsc="web-clone" node="n1" score="0" resource-discovery="{discovery}"/>
<rsc_location id="w2" rsc="web-clone" node="n2" score="0" resource-discovery="{discovery}"/>"#
        );
        let t = schedule(&cib(resources, &constraints), 0).expect("schedules");
        let env = t
            .actions
            .iter()
            .find_map(|a| match &a.kind {
                ActionKind::Notify { env, .. } => Some(env.clone()),
                _ => None,
            })
            .expect("a notification");
        env.into_iter()
            .find(|(k, _)| k == "notify_available_uname")
            .map(|(_, v)| v)
            .expect("notify_available_uname")
    };
    assert_eq!(available("exclusive"), "n1 n2");
    assert_eq!(available("always"), "n1 n2 n3");
}

/// On a guest node `resource-discovery-enabled=false` holds even with fencing
/// off (its VM is recovered instead): `app` is not probed on guest g1.
#[test]
fn a_guest_node_can_turn_discovery_off_without_fencing() {
    let started = |id: &str, provider: &str, kind: &str| {
        format!(
            r#"<lrm_resource id="{id}" class="ocf" provider="{provider}" type="{kind}"><lrm_rsc_op id="{id}_last_0" operation_key="{id}_start_0" operation="start" call-id="2" rc-code="0" op-status="0" interval="0"/></lrm_resource>"#
        )
    };
    let probed = |value: &str| {
        let xml = format!(
            r#"<cib have-quorum="true" dc-uuid="1"><configuration><crm_config><cluster_property_set id="o">
<nvpair id="o-st" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
<nodes><node id="1" uname="n1"/></nodes>
<resources><primitive id="vm" class="ocf" provider="heartbeat" type="VirtualDomain">
<meta_attributes id="vm-m"><nvpair id="vm-g" name="remote-node" value="g1"/></meta_attributes></primitive>{APP}</resources>
<constraints/></configuration><status>
<node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="1"><lrm_resources>{}{}</lrm_resources></lrm></node_state>
<node_state id="g1" uname="g1"><transient_attributes id="g1"><instance_attributes id="g1-a">
<nvpair id="g1-a-d" name="resource-discovery-enabled" value="{value}"/></instance_attributes></transient_attributes></node_state>
</status></cib>"#,
            started("vm", "heartbeat", "VirtualDomain"),
            started("g1", "pacemaker", "remote"),
        );
        let t = schedule(&hactl_cib_xml::import(&xml).expect("imports"), 0).expect("schedules");
        probed_on(&t, "app")
    };
    assert_eq!(probed("false"), ["n1"]);
    assert_eq!(probed("true"), ["g1", "n1"]);
}
