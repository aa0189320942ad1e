//! Guest nodes (`guest.rs`): a primitive with `remote-node` gets a connection
//! inside it, the guest node runs resources once the connection runs, and a
//! guest is "fenced" by recovering its container.

use hactl_model::Cib;

use crate::{schedule, ActionKind, Transition};

/// Two cluster nodes (fencing off), a VM `vm` making guest node `g1`, and
/// `rsc`; `n1` is n1's history, `g1` the guest's (no state entry when empty).
fn cib(rsc: &str, n1: &str, g1: &str) -> Cib {
    hactl_cib_xml::import(&xml(rsc, n1, g1)).expect("imports")
}

fn xml(rsc: &str, n1: &str, g1: &str) -> String {
    let guest_state = if g1.is_empty() {
        String::new()
    } else {
        format!(
            r##"<node_state id="g1" uname="g1"><lrm id="g1"><lrm_resources>{g1}</lrm_resources></lrm></node_state>"##
        )
    };
    format!(
        r##"<cib have-quorum="true" dc-uuid="1"><configuration><crm_config>
<cluster_property_set id="opts"><nvpair id="o1" name="stonith-enabled" value="false"/>
</cluster_property_set></crm_config>
<nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes>
<resources><primitive id="vm" class="ocf" provider="heartbeat" type="VirtualDomain">
<meta_attributes id="vm-m"><nvpair id="vm-g" name="remote-node" value="g1"/></meta_attributes>
</primitive>{rsc}</resources><constraints>
<rsc_location id="vm-n1" rsc="vm" node="n1" score="100"/></constraints></configuration><status>
<node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member">
<lrm id="1"><lrm_resources>{n1}</lrm_resources></lrm></node_state>
<node_state id="2" uname="n2" in_ccm="true" crmd="online" join="member" expected="member">
<lrm id="2"><lrm_resources/></lrm></node_state>{guest_state}
</status></cib>"##
    )
}

/// The history of `id` (agent `class:provider:kind`) started, with `extra`
/// operations after the start.
fn history(id: &str, agent: (&str, &str), extra: &str) -> String {
    format!(
        r##"<lrm_resource id="{id}" class="ocf" provider="{}" type="{}">
<lrm_rsc_op id="{id}_last_0" operation_key="{id}_start_0" operation="start" call-id="2" rc-code="0" op-status="0" interval="0"/>{extra}
</lrm_resource>"##,
        agent.0, agent.1
    )
}

fn app(meta: &str) -> String {
    format!(
        r##"<primitive id="app" class="ocf" provider="pacemaker" type="Dummy">{meta}</primitive>"##
    )
}

const IN_VM: &str = r##"<meta_attributes id="app-m"><nvpair id="app-c" name="container" value="vm"/></meta_attributes>"##;

fn lines(t: &Transition) -> Vec<String> {
    t.summary
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn action<'t>(t: &'t Transition, rsc: &str, kind: &ActionKind) -> Option<&'t crate::Action> {
    t.actions.iter().find(|a| {
        a.resource.as_deref() == Some(rsc)
            && std::mem::discriminant(&a.kind) == std::mem::discriminant(kind)
    })
}

fn before(t: &Transition, a: &crate::Action, b: &crate::Action) -> bool {
    t.edges.iter().any(|e| e.before == a.id && e.after == b.id)
}

/// A stopped VM with `remote-node` starts, then its implicit connection (an
/// `ocf:pacemaker:remote` named after the guest, next to the VM), then what
/// must run inside the VM starts on the guest node; nothing is probed on a
/// guest whose VM is stopped.
#[test]
fn a_guest_node_comes_up_inside_its_vm() {
    let t = schedule(&cib(&app(IN_VM), "", ""), 0).expect("schedules");
    let got = lines(&t);
    for want in ["Start vm ( n1 )", "Start g1 ( n1 )", "Start app ( g1 )"] {
        assert!(got.iter().any(|l| l == want), "{want} in {got:?}");
    }
    let vm = action(&t, "vm", &ActionKind::Start).expect("vm starts");
    let conn = action(&t, "g1", &ActionKind::Start).expect("g1 starts");
    let app = action(&t, "app", &ActionKind::Start).expect("app starts");
    assert!(
        before(&t, vm, conn) && before(&t, conn, app),
        "{:?}",
        t.edges
    );
    let on_guest = |a: &crate::Action| a.node.as_deref() == Some("g1");
    assert!(!t
        .actions
        .iter()
        .any(|a| a.kind == ActionKind::Probe && on_guest(a)));
}

/// A VM whose monitor failed is recovered, and that "fences" its guest node:
/// a pseudo fencing after the VM's stop that implies the stops of what ran on
/// the guest, which is then started again there.
#[test]
fn a_failed_vm_fences_its_guest_by_recovery() {
    let failed = r##"<lrm_rsc_op id="vm_last_failure_0" operation_key="vm_monitor_10000" operation="monitor" call-id="3" rc-code="1" op-status="0" interval="10000"/>"##;
    let n1 = format!(
        "{}{}",
        history("vm", ("heartbeat", "VirtualDomain"), failed),
        history("g1", ("pacemaker", "remote"), "")
    );
    let g1 = history("app", ("pacemaker", "Dummy"), "");
    let t = schedule(&cib(&app(IN_VM), &n1, &g1), 0).expect("schedules");
    let got = lines(&t);
    for want in [
        "Fence (reboot) g1 (resource: vm) 'guest is unclean'",
        "Recover vm ( n1 )",
        "Recover app ( g1 )",
    ] {
        assert!(got.iter().any(|l| l == want), "{want} in {got:?}");
    }
    let fence = t
        .actions
        .iter()
        .find(|a| matches!(a.kind, ActionKind::Fence { .. }))
        .expect("the guest is fenced");
    assert!(fence.pseudo, "by its container's recovery, not a device");
    let vm_stop = action(&t, "vm", &ActionKind::Stop).expect("vm stops");
    let app_stop = action(&t, "app", &ActionKind::Stop).expect("app stops");
    assert!(app_stop.pseudo, "implied by the guest's fencing");
    assert!(before(&t, vm_stop, fence) && before(&t, fence, app_stop));
}

/// The guest up: `vm` and its connection `g1` running on n1.
fn guest_up(vm_extra: &str) -> String {
    format!(
        "{}{}",
        history("vm", ("heartbeat", "VirtualDomain"), vm_extra),
        history("g1", ("pacemaker", "remote"), "")
    )
}

/// A group whose `container` is a guest's VM runs, member by member, on the
/// guest node (the members inherit the group's container), never next to
/// the VM; and what is inside is not probed.
#[test]
fn a_group_inside_a_guest_vm_runs_on_the_guest() {
    let grp = r##"<group id="grp"><meta_attributes id="grp-m"><nvpair id="grp-c" name="container" value="vm"/></meta_attributes><primitive id="a" class="ocf" provider="pacemaker" type="Dummy"/><primitive id="b" class="ocf" provider="pacemaker" type="Dummy"/></group>"##;
    let t = schedule(&cib(grp, &guest_up(""), ""), 0).expect("schedules");
    let got = lines(&t);
    for want in ["Start a ( g1 )", "Start b ( g1 )"] {
        assert!(got.iter().any(|l| l == want), "{want} in {got:?}");
    }
    let inside = |r: &str| action(&t, r, &ActionKind::Probe).is_none();
    assert!(inside("a") && inside("b"), "{:?}", t.actions);
}

/// A failure of what runs inside a container counts against the container's
/// migration-threshold: the guest's connection failed to start on n1 (and
/// may not run on n2), so its VM is kept away from n1 too, though the
/// connection cannot follow it.
#[test]
fn a_launched_resource_failure_counts_for_its_container() {
    let fc = r##"<transient_attributes id="1"><instance_attributes id="s1"><nvpair id="fc" name="fail-count-g1#start_0" value="INFINITY"/></instance_attributes></transient_attributes>"##;
    let failed = xml("", "", "")
        .replacen("</lrm></node_state>", &format!("</lrm>{fc}</node_state>"), 1)
        .replace(
            "</constraints>",
            r##"<rsc_location id="g1-not-n2" rsc="g1" node="n2" score="-INFINITY"/></constraints>"##,
        );
    let c = hactl_cib_xml::import(&failed).expect("imports");
    let got = lines(&schedule(&c, 0).expect("schedules"));
    assert!(got.iter().any(|l| l == "Start vm ( n2 )"), "{got:?}");
    assert!(!got.iter().any(|l| l.starts_with("Start g1")), "{got:?}");
}

/// The failure of an operation hactl does not know by name (`asyncmon`) is
/// still a failure: the resource is recovered.
#[test]
fn a_failed_unknown_operation_is_a_failure() {
    let asyncmon = r##"<lrm_rsc_op id="vm_last_failure_0" operation_key="vm_asyncmon_0" operation="asyncmon" call-id="3" rc-code="1" op-status="0" interval="0"/>"##;
    let t = schedule(&cib("", &guest_up(asyncmon), ""), 0).expect("schedules");
    assert!(
        lines(&t).iter().any(|l| l == "Recover vm ( n1 )"),
        "{:?}",
        lines(&t)
    );
}

/// crm_simulate lists a guest node as GuestOnline while its connection and
/// VM run, and leaves it out while it is down (here: its VM failed).
#[test]
fn a_guest_node_is_listed_only_while_up() {
    let nodes = |c: &Cib| {
        let t = schedule(c, 0).expect("schedules");
        crate::format_status(c, &t, crate::StatusView::Current)
    };
    let up = nodes(&cib("", &guest_up(""), ""));
    assert!(up.contains("GuestOnline: [ g1 ]"), "{up}");
    let failed = r##"<lrm_rsc_op id="vm_last_failure_0" operation_key="vm_monitor_10000" operation="monitor" call-id="3" rc-code="1" op-status="0" interval="10000"/>"##;
    let down = nodes(&cib("", &guest_up(failed), ""));
    assert!(!down.contains("g1 ") && !down.contains("Remote"), "{down}");
}

/// Nothing is probed on a guest whose VM will stop; a resource whose state
/// there is unknown starts (elsewhere) only after the VM's stop, in case it
/// was running inside; with the VM stopped and not yet probed, after the VM's
/// probe.
#[test]
fn a_start_waits_for_what_stands_in_for_a_guest_probe() {
    let other = r##"<primitive id="other" class="ocf" provider="pacemaker" type="Dummy"/>"##;
    let failed = r##"<lrm_rsc_op id="vm_last_failure_0" operation_key="vm_monitor_10000" operation="monitor" call-id="3" rc-code="1" op-status="0" interval="10000"/>"##;
    let t = schedule(&cib(other, &guest_up(failed), ""), 0).expect("schedules");
    let on_guest = |a: &&crate::Action| a.node.as_deref() == Some("g1");
    assert!(!t
        .actions
        .iter()
        .filter(on_guest)
        .any(|a| a.kind == ActionKind::Probe));
    let vm_stop = action(&t, "vm", &ActionKind::Stop).expect("vm stops");
    let start = action(&t, "other", &ActionKind::Start).expect("other starts");
    assert!(before(&t, vm_stop, start), "{:?}", t.edges);

    let t = schedule(&cib(other, "", ""), 0).expect("schedules");
    let start = action(&t, "other", &ActionKind::Start).expect("other starts");
    let vm_probe = t.actions.iter().find(|a| {
        a.resource.as_deref() == Some("vm")
            && a.kind == ActionKind::Probe
            && a.node.as_deref() == Some("n1")
    });
    let vm_probe = vm_probe.expect("vm is probed where it is to run");
    assert!(before(&t, vm_probe, start), "{:?}", t.edges);
}

/// A guest whose VM fails while it is to stop is still "fenced" by reboot:
/// the VM's start that cannot run counts (crm_simulate 2.1.5 agrees).
#[test]
fn a_guest_whose_vm_stays_down_is_fenced_by_reboot() {
    let failed = r##"<lrm_rsc_op id="vm_last_failure_0" operation_key="vm_monitor_10000" operation="monitor" call-id="3" rc-code="1" op-status="0" interval="10000"/>"##;
    let g1 = history("app", ("pacemaker", "Dummy"), "");
    let stopping = xml(&app(IN_VM), &guest_up(failed), &g1).replace(
        r##"<nvpair id="vm-g" name="remote-node" value="g1"/>"##,
        r##"<nvpair id="vm-g" name="remote-node" value="g1"/><nvpair id="vm-t" name="target-role" value="Stopped"/>"##,
    );
    let c = hactl_cib_xml::import(&stopping).expect("imports");
    let got = lines(&schedule(&c, 0).expect("schedules"));
    let fence = "Fence (reboot) g1 (resource: vm) 'guest is unclean'";
    assert!(got.iter().any(|l| l == fence), "{got:?}");
    assert!(got.iter().any(|l| l.starts_with("Stop vm")), "{got:?}");
}
