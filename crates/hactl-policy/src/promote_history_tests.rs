//! A promoted instance whose history has no start (wave2 case
//! one-or-more-unrunnable-instances): Pacemaker takes the last promote for the
//! start, so a recurring monitor recorded before it is not known to run and is
//! scheduled again.

use crate::{schedule, ActionKind};

/// `db` promoted on n1: probed promoted (call 1), then promoted (call 3), with
/// its promoted-role monitor recorded as call `monitor_call`.
fn promoted_with_monitor_call(monitor_call: u32) -> crate::Transition {
    let op = |id: &str, key: &str, operation: &str, call: u32, rc: u32, interval: u32| {
        format!(
            r#"<lrm_rsc_op id="{id}" operation_key="{key}" operation="{operation}" call-id="{call}" rc-code="{rc}" op-status="0" interval="{interval}" transition-key="1:1:{rc}:0b5e0b5e-0000-0000-0000-000000000000"/>"#
        )
    };
    let history = [
        op("db_last_failure_0", "db_monitor_0", "monitor", 1, 8, 0),
        op("db_last_0", "db_promote_0", "promote", 3, 0, 0),
        op(
            "db_monitor_10000",
            "db_monitor_10000",
            "monitor",
            monitor_call,
            8,
            10000,
        ),
    ]
    .concat();
    let xml = format!(
        r#"<cib have-quorum="true"><configuration><crm_config><cluster_property_set id="o">
<nvpair id="o-st" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
<nodes><node id="1" uname="n1"/></nodes>
<resources><clone id="db-clone"><meta_attributes id="db-clone-m">
<nvpair id="db-clone-p" name="promotable" value="true"/>
<nvpair id="db-clone-mx" name="clone-max" value="1"/></meta_attributes>
<primitive id="db" class="ocf" provider="pacemaker" type="Stateful"><operations>
<op id="db-mon-p" name="monitor" interval="10s" role="Promoted"/>
<op id="db-mon-u" name="monitor" interval="11s" role="Unpromoted"/></operations></primitive></clone></resources>
<constraints/></configuration><status>
<node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member">
<transient_attributes id="1"><instance_attributes id="1-a">
<nvpair id="1-a-m" name="master-db" value="10"/></instance_attributes></transient_attributes>
<lrm id="1"><lrm_resources><lrm_resource id="db" class="ocf" provider="pacemaker" type="Stateful">{history}</lrm_resource>
</lrm_resources></lrm></node_state></status></cib>"#
    );
    let cib = hactl_cib_xml::import(&xml).expect("imports");
    schedule(&cib, 0).expect("schedules")
}

fn monitors(t: &crate::Transition) -> usize {
    t.actions
        .iter()
        .filter(|a| a.kind == ActionKind::Monitor { interval_ms: 10000 })
        .count()
}

#[test]
fn a_monitor_from_before_the_last_promote_is_scheduled_again() {
    let t = promoted_with_monitor_call(2);
    assert!(t.summary.is_empty(), "{:?}", t.summary);
    assert_eq!(monitors(&t), 1, "{:#?}", t.actions);
}

#[test]
fn a_monitor_from_after_the_last_promote_keeps_running() {
    let t = promoted_with_monitor_call(4);
    assert!(t.summary.is_empty(), "{:?}", t.summary);
    assert_eq!(monitors(&t), 0, "{:#?}", t.actions);
}
