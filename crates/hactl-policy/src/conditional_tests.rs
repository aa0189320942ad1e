//! Rules inside attribute sets and date expressions, from Pacemaker XML through the
//! import to the plan: each test schedules the same CIB at two times (or on two
//! nodes) and asserts that the plan follows the rule.

use crate::{graph_xml_at, schedule};
use hactl_model::Cib;

/// 2005-01-20T12:30:00Z, a Thursday.
const THU_NOON: i64 = 1_106_224_200;
/// 2005-01-20T20:30:00Z.
const THU_EVENING: i64 = THU_NOON + 8 * 3600;

/// Two online nodes without fencing; `config` goes inside `<configuration>` after
/// the nodes (which `nodes` replaces when given).
fn cib(props: &str, nodes: &str, rest: &str) -> Cib {
    let nodes = if nodes.is_empty() {
        r##"<node id="1" uname="n1"/><node id="2" uname="n2"/>"##
    } else {
        nodes
    };
    let xml = format!(
        r##"<cib have-quorum="true" dc-uuid="1"><configuration><crm_config>
<cluster_property_set id="opts"><nvpair id="o1" name="stonith-enabled" value="false"/>
<nvpair id="o2" name="cluster-name" value="east"/></cluster_property_set>{props}</crm_config>
<nodes>{nodes}</nodes>{rest}</configuration><status>
<node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member"/>
<node_state id="2" uname="n2" in_ccm="true" crmd="online" join="member" expected="member"/>
</status></cib>"##
    );
    hactl_cib_xml::import(&xml).expect("imports")
}

fn summary(cib: &Cib, now: i64) -> Vec<String> {
    schedule(cib, now)
        .expect("schedules")
        .summary
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// The `<attributes>` line of the action with this operation key on this node.
fn attributes_of<'x>(xml: &'x str, key: &str, node: &str) -> &'x str {
    let head = format!(r#"operation_key="{key}" on_node="{node}""#);
    let at = xml.find(&head).unwrap_or_else(|| panic!("{head} in {xml}"));
    let rest = &xml[at..];
    let attrs = rest.find("<attributes").expect("attributes");
    let line = &rest[attrs..];
    &line[..line.find('\n').unwrap_or(line.len())]
}

const DUMMY: &str = r##"<primitive id="d" class="ocf" provider="pacemaker" type="Dummy"/>"##;

/// `d`, preferring n2 while `when` (conditions of the location rule) passes.
fn n2_when(when: &str) -> Cib {
    let rest = format!(
        r##"<resources>{DUMMY}</resources><constraints><rsc_location id="l" rsc="d">
<rule id="r" score="100"><expression id="e" attribute="#uname" operation="eq" value="n2"/>
{when}</rule></rsc_location></constraints>"##
    );
    cib("", "", &rest)
}

#[test]
fn a_date_expression_in_a_location_rule_applies_from_its_start() {
    let c = n2_when(r##"<date_expression id="de" operation="gt" start="2005-01-20T12:00:00Z"/>"##);
    assert_eq!(summary(&c, THU_NOON - 3600), ["Start d ( n1 )"]);
    assert_eq!(summary(&c, THU_NOON), ["Start d ( n2 )"]);
}

#[test]
fn nested_rules_and_in_range_with_a_duration() {
    // n2 is preferred in office hours of one week, or always on weekends.
    let c = n2_when(
        r##"<rule id="when" score="0" boolean-op="or"><rule id="week" score="0">
<date_expression id="w" operation="in_range" start="2005-01-17"><duration id="wd" weeks="1"/></date_expression>
<date_expression id="h" operation="date_spec"><date_spec id="hs" hours="9-17"/></date_expression></rule>
<date_expression id="we" operation="date_spec"><date_spec id="ws" weekdays="6-7"/></date_expression>
</rule>"##,
    );
    assert_eq!(summary(&c, THU_NOON), ["Start d ( n2 )"]);
    assert_eq!(summary(&c, THU_EVENING), ["Start d ( n1 )"]);
    // Two weeks later: outside the range, but Saturday noon.
    assert_eq!(summary(&c, THU_NOON + 16 * 86_400), ["Start d ( n2 )"]);
    assert_eq!(summary(&c, THU_NOON + 14 * 86_400), ["Start d ( n1 )"]);
}

#[test]
fn a_cluster_property_set_with_a_rule_applies_while_it_passes() {
    // Resources stop in office hours only.
    let props = r##"<cluster_property_set id="office" score="10"><rule id="r" score="0">
<date_expression id="de" operation="date_spec"><date_spec id="ds" hours="9-17"/></date_expression>
</rule><nvpair id="s" name="stop-all-resources" value="true"/></cluster_property_set>"##;
    let c = cib(props, "", &format!("<resources>{DUMMY}</resources>"));
    assert_eq!(summary(&c, THU_NOON), Vec::<String>::new());
    assert_eq!(summary(&c, THU_EVENING), ["Start d ( n1 )"]);
}

#[test]
fn node_attributes_with_a_rule_feed_location_rules() {
    let nodes = r##"<node id="1" uname="n1"/><node id="2" uname="n2">
<instance_attributes id="a1" score="1"><rule id="r1" score="0">
<date_expression id="d1" operation="lt" end="2005-01-20T18:00:00Z"/></rule>
<nvpair id="g1" name="group" value="day"/></instance_attributes>
<instance_attributes id="a2"><nvpair id="g2" name="group" value="night"/></instance_attributes>
</node>"##;
    let rest = format!(
        r##"<resources>{DUMMY}</resources><constraints><rsc_location id="l" rsc="d">
<rule id="r" score="100"><expression id="e" attribute="group" operation="eq" value="day"/>
</rule></rsc_location></constraints>"##
    );
    let c = cib("", nodes, &rest);
    assert_eq!(summary(&c, THU_NOON), ["Start d ( n2 )"]);
    assert_eq!(summary(&c, THU_EVENING), ["Start d ( n1 )"]);
}

#[test]
fn parameters_with_a_rule_differ_per_node() {
    let rest = r##"<resources><primitive id="ip" class="ocf" provider="heartbeat" type="IPaddr2">
<instance_attributes id="i1"><nvpair id="n1i" name="nic" value="eth1"/>
<rule id="r1" score="0"><expression id="e1" attribute="#uname" operation="eq" value="n1"/></rule>
</instance_attributes>
<instance_attributes id="i2"><nvpair id="n2i" name="nic" value="eth2"/>
<rule id="r2" score="0"><expression id="e2" attribute="#cluster-name" operation="eq" value="east"/></rule>
</instance_attributes>
<instance_attributes id="i3"><nvpair id="ipv" name="ip" value="10.0.0.9"/></instance_attributes>
</primitive></resources>
<constraints><rsc_location id="l" rsc="ip" node="n1" score="10"/></constraints>"##;
    let c = cib("", "", rest);
    let t = schedule(&c, THU_NOON).unwrap();
    let xml = graph_xml_at(&c, &t, THU_NOON);
    let start = attributes_of(&xml, "ip_start_0", "n1");
    assert!(
        start.contains(r##"nic="eth1""##) && start.contains(r##"ip="10.0.0.9""##),
        "{start}"
    );
    // On n2 the first set's rule fails and the second's passes.
    let moved = cib("", "", &rest.replace(r##"node="n1""##, r##"node="n2""##));
    let t = schedule(&moved, THU_NOON).unwrap();
    let xml = graph_xml_at(&moved, &t, THU_NOON);
    let start = attributes_of(&xml, "ip_start_0", "n2");
    assert!(start.contains(r##"nic="eth2""##), "{start}");
    // The probe on n1 runs with n1's parameters.
    assert!(attributes_of(&xml, "ip_monitor_0", "n1").contains(r##"nic="eth1""##));
}

#[test]
fn resource_defaults_with_a_resource_expression_pick_agents() {
    // ocf:heartbeat resources are stopped by default, except where a parent says
    // otherwise (the parent's meta wins over defaults for its members).
    let rest = r##"<rsc_defaults><meta_attributes id="hb" score="1"><rule id="r" score="0">
<rsc_expression id="x" class="ocf" provider="heartbeat"/></rule>
<nvpair id="t" name="target-role" value="Stopped"/></meta_attributes></rsc_defaults>
<resources><primitive id="a" class="ocf" provider="pacemaker" type="Dummy"/>
<primitive id="b" class="ocf" provider="heartbeat" type="Dummy"/>
<group id="g"><meta_attributes id="gm"><nvpair id="gt" name="target-role" value="Started"/>
</meta_attributes><primitive id="c" class="ocf" provider="heartbeat" type="Dummy"/></group>
</resources>"##;
    let c = cib("", "", rest);
    let s = summary(&c, THU_NOON);
    assert!(s.iter().any(|l| l.starts_with("Start a ")), "{s:?}");
    assert!(s.iter().any(|l| l.starts_with("Start c ")), "{s:?}");
    assert!(!s.iter().any(|l| l.contains(" b ")), "{s:?}");
}

#[test]
fn operation_defaults_with_rules_set_timeouts() {
    let rest = r##"<op_defaults>
<meta_attributes id="mon" score="2"><rule id="r1" score="0"><op_expression id="o1" name="monitor" interval="10s"/></rule>
<nvpair id="t1" name="timeout" value="8s"/></meta_attributes>
<meta_attributes id="dum" score="1"><rule id="r2" score="0"><rsc_expression id="x2" type="Dummy"/></rule>
<nvpair id="t2" name="timeout" value="6s"/></meta_attributes>
<meta_attributes id="all"><nvpair id="t3" name="timeout" value="5s"/></meta_attributes>
</op_defaults>
<resources><primitive id="d" class="ocf" provider="pacemaker" type="Dummy">
<operations><op id="m" name="monitor" interval="10s"/></operations></primitive>
<primitive id="s" class="ocf" provider="pacemaker" type="Stateful"/></resources>"##;
    let c = cib("", "", rest);
    let t = schedule(&c, THU_NOON).unwrap();
    let xml = graph_xml_at(&c, &t, THU_NOON);
    let timeout_of = |key: &str| {
        let node = &t
            .actions
            .iter()
            .find(|a| crate::operation_key(a) == key)
            .expect(key)
            .node;
        let attrs = attributes_of(&xml, key, node.as_deref().expect("a node"));
        let t = attrs.find("CRM_meta_timeout=\"").expect("timeout") + 18;
        attrs[t..t + attrs[t..].find('"').expect("quote")].to_string()
    };
    assert_eq!(timeout_of("d_monitor_10000"), "8000");
    assert_eq!(timeout_of("d_start_0"), "6000");
    assert_eq!(timeout_of("s_start_0"), "5000");
}

#[test]
fn a_cluster_refuses_conditional_sets_by_name() {
    let props = r##"<cluster_property_set id="office" score="10"><rule id="r" score="0">
<date_expression id="de" operation="date_spec"><date_spec id="ds" hours="9-17"/></date_expression>
</rule><nvpair id="s" name="stop-all-resources" value="true"/></cluster_property_set>"##;
    let c = cib(props, "", "");
    let errs = c.config.validate().unwrap_err();
    let text = errs
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains("\"office\"") && text.contains("not yet run by a cluster"),
        "{text}"
    );
    // A date expression in a location rule is evaluated by the DC at its own time.
    let loc = n2_when(r##"<date_expression id="de" operation="gt" start="2005-01-20"/>"##);
    assert_eq!(loc.config.validate(), Ok(()));
}

#[test]
fn a_resource_running_with_its_nodes_parameters_is_not_restarted() {
    use hactl_model::digest::op_digest;
    use hactl_model::{OpRecord, ResourceHistory};
    let rest = r##"<resources><primitive id="ip" class="ocf" provider="heartbeat" type="IPaddr2">
<instance_attributes id="i1"><nvpair id="n1i" name="nic" value="eth1"/>
<rule id="r1" score="0"><expression id="e1" attribute="#uname" operation="eq" value="n1"/></rule>
</instance_attributes>
<instance_attributes id="i3"><nvpair id="nic" name="nic" value="eth0"/></instance_attributes>
</primitive></resources>"##;
    let ran_with = |nic: &str| {
        let mut c = cib("", "", rest);
        let start = OpRecord {
            operation: "start".into(),
            call_id: 1,
            op_digest: Some(op_digest([("nic", nic)], 0, 20_000)),
            ..Default::default()
        };
        let history = ResourceHistory {
            agent: c.config.find_primitive("ip").unwrap().agent.clone(),
            ops: vec![start],
            ..Default::default()
        };
        let n1 = c.status.nodes.get_mut("n1").unwrap();
        n1.resources.insert("ip".into(), history);
        summary(&c, THU_NOON)
    };
    // n1's own value: nothing to do.
    assert_eq!(ran_with("eth1"), Vec::<String>::new());
    // Started with the value every other node gets: a definition change there.
    let s = ran_with("eth0");
    assert!(s.iter().any(|l| l.starts_with("Restart ip")), "{s:?}");
}

/// Not a rule, but the same path from XML: an unmanaged resource is pinned where it
/// runs (Pacemaker's `not_managed_default`, INFINITY in its scores), and an op
/// timeout that does not read runs with the default timeout, as in Pacemaker.
#[test]
fn unmanaged_resources_score_infinity_where_they_run_and_bad_timeouts_default() {
    let rest = r##"<op_defaults><meta_attributes id="od"><nvpair id="t" name="timeout" value="90s"/></meta_attributes></op_defaults>
<resources><primitive id="d" class="ocf" provider="pacemaker" type="Dummy">
<meta_attributes id="m"><nvpair id="im" name="is-managed" value="false"/></meta_attributes>
<operations><op id="mon" name="monitor" interval="10s" timeout="bad"/></operations></primitive></resources>"##;
    let mut c = cib("", "", rest);
    let d = c.config.find_primitive("d").unwrap();
    assert_eq!(
        d.ops[0].timeout_ms,
        Some(hactl_model::DEFAULT_OP_TIMEOUT_MS)
    );
    let agent = d.agent.clone();
    let start = hactl_model::OpRecord {
        operation: "start".into(),
        call_id: 1,
        ..Default::default()
    };
    let history = hactl_model::ResourceHistory {
        agent,
        ops: vec![start],
        ..Default::default()
    };
    let n2 = c.status.nodes.get_mut("n2").unwrap();
    n2.resources.insert("d".into(), history);
    let scores = schedule(&c, THU_NOON).unwrap().raw_scores();
    assert!(
        scores.contains("pcmk__primitive_assign: d allocation score on n2: INFINITY"),
        "{scores}"
    );
}
