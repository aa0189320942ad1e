//! The reason a stop is attributed to in the transition summary, where it
//! follows from the order in which Pacemaker spreads "required" and
//! "unrunnable" along orderings (wave2 case complex_enforce_colo).

use crate::schedule;
use hactl_model::Cib;

/// Two online nodes without fencing; `rsc` and `cons` go in the configuration,
/// `n1`/`n2` are the nodes' `<lrm_resource>` entries.
pub(crate) fn cib(rsc: &str, cons: &str, n1: &str, n2: &str) -> Cib {
    let xml = format!(
        r##"<cib have-quorum="true" dc-uuid="1"><configuration><crm_config>
<cluster_property_set id="opts"><nvpair id="o1" name="stonith-enabled" value="false"/>
</cluster_property_set></crm_config>
<nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes>
<resources>{rsc}</resources><constraints>{cons}</constraints></configuration><status>
<node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member">
<lrm id="1"><lrm_resources>{n1}</lrm_resources></lrm></node_state>
<node_state id="2" uname="n2" in_ccm="true" crmd="online" join="member" expected="member">
<lrm id="2"><lrm_resources>{n2}</lrm_resources></lrm></node_state>
</status></cib>"##
    );
    hactl_cib_xml::import(&xml).expect("imports")
}

/// The history of a Dummy `id` started successfully (call id `call`).
pub(crate) fn running(id: &str, call: u32) -> String {
    format!(
        r##"<lrm_resource id="{id}" class="ocf" provider="pacemaker" type="Dummy">
<lrm_rsc_op id="{id}_last_0" operation_key="{id}_start_0" operation="start" call-id="{call}" rc-code="0" op-status="0" interval="0"/>
</lrm_resource>"##
    )
}

pub(crate) fn dummy(id: &str, meta: &str) -> String {
    format!(
        r##"<primitive id="{id}" class="ocf" provider="pacemaker" type="Dummy">{meta}</primitive>"##
    )
}

pub(crate) const STOPPED: &str = r##"<meta_attributes id="k-meta"><nvpair id="k-tr" name="target-role" value="Stopped"/></meta_attributes>"##;

pub(crate) fn summary(cib: &Cib) -> Vec<String> {
    schedule(cib, 0)
        .expect("schedules")
        .summary
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// An interleaved clone whose ordering partner stops everywhere keeps no
/// placement, but Pacemaker takes it back while ordering, after the stop was
/// made: the stop names no reason (not "node availability").
#[test]
fn an_instance_left_without_its_interleave_partner_stops_without_a_reason() {
    let rsc = format!(
        r##"<clone id="k-clone">{}</clone><clone id="w-clone">{}<meta_attributes id="w-cm">
<nvpair id="w-il" name="interleave" value="true"/></meta_attributes></clone>"##,
        dummy("k", STOPPED),
        dummy("w", ""),
    );
    let cons = r##"<rsc_order id="o" first="k-clone" then="w-clone"/>"##;
    let n1 = format!("{}{}", running("k", 2), running("w", 3));
    let n2 = format!("{}{}", running("k", 2), running("w", 3));
    let got = summary(&cib(&rsc, cons, &n1, &n2));
    assert!(got.contains(&"Stop w:0 ( n1 )".to_string()), "{got:?}");
    assert!(got.contains(&"Stop w:1 ( n2 )".to_string()), "{got:?}");
}

/// A start that an ordering makes both required and unrunnable makes the next
/// resource's start required first: its stop is "due to required api start"
/// (Pacemaker checks first-implies-then before unrunnable-first-blocks).
#[test]
fn a_dependant_of_a_blocked_restart_stops_due_to_its_required_start() {
    let rsc = format!(
        "<clone id=\"k-clone\">{}</clone>{}{}",
        dummy("k", STOPPED),
        dummy("api", ""),
        dummy("sched", ""),
    );
    let cons = r##"<rsc_order id="o1" first="k-clone" then="api"/>
<rsc_order id="o2" first="api" then="sched"/>
<rsc_colocation id="c" rsc="sched" with-rsc="api" score="INFINITY"/>"##;
    let n1 = format!(
        "{}{}{}",
        running("k", 2),
        running("api", 3),
        running("sched", 4)
    );
    let got = summary(&cib(&rsc, cons, &n1, &running("k", 2)));
    assert!(
        got.contains(&"Stop api ( n1 ) due to unrunnable k-clone running".to_string()),
        "{got:?}"
    );
    assert!(
        got.contains(&"Stop sched ( n1 ) due to required api start".to_string()),
        "{got:?}"
    );
}

/// An ordering onto a group reaches its members one by one: the first member
/// made unrunnable restarts before the next member is reached, so the next one
/// stops "due to required b1 start", not for the group ordering itself
/// (Pacemaker's group update method; wave2 case bug-1718).
#[test]
fn the_second_member_of_a_blocked_group_stops_due_to_the_first_members_start() {
    let rsc = format!(
        r##"<group id="A">{}{}{}</group><group id="B">{}{}</group>"##,
        dummy("a1", ""),
        dummy("a2", STOPPED),
        dummy("a3", ""),
        dummy("b1", ""),
        dummy("b2", ""),
    );
    let cons = r##"<rsc_order id="o" first="A" then="B"/>"##;
    let n1 = format!("{}{}", running("b1", 3), running("b2", 4));
    let got = summary(&cib(&rsc, cons, &n1, &running("a1", 2)));
    assert!(
        got.contains(&"Stop b1 ( n1 ) due to unrunnable A running".to_string()),
        "{got:?}"
    );
    assert!(
        got.contains(&"Stop b2 ( n1 ) due to required b1 start".to_string()),
        "{got:?}"
    );
}

/// An ordering onto a cloned group makes every member's start required before
/// any unrunnable: the first member's restart reaches the next members first,
/// so the third stops "due to required g2:0 start" (wave2 case
/// cloned-group-stop).
#[test]
fn the_members_of_a_blocked_cloned_group_stop_due_to_the_previous_members() {
    let rsc = format!(
        r##"<clone id="q-clone">{}</clone><clone id="k-clone">{}</clone>
<clone id="g-clone"><group id="g">{}{}{}</group></clone>"##,
        dummy("q", STOPPED),
        dummy("k", ""),
        dummy("g1", ""),
        dummy("g2", ""),
        dummy("g3", ""),
    );
    let cons = r##"<rsc_order id="o1" first="q-clone" then="k-clone"/>
<rsc_order id="o2" first="k-clone" then="g-clone"/>"##;
    let on_node = format!(
        "{}{}{}{}{}",
        running("q", 2),
        running("k", 3),
        running("g1", 4),
        running("g2", 5),
        running("g3", 6)
    );
    let got = summary(&cib(&rsc, cons, &on_node, &on_node));
    for want in [
        "Stop k:0 ( n1 ) due to unrunnable q-clone running",
        "Stop g1:0 ( n1 ) due to required k-clone running",
        "Stop g2:0 ( n1 ) due to required g1:0 stop",
        "Stop g3:0 ( n1 ) due to required g2:0 start",
    ] {
        assert!(got.contains(&want.to_string()), "{want}: {got:?}");
    }
}
