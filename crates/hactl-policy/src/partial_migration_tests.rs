//! A plain primitive left partially migrated (`migrate_to` done, no
//! `migrate_from`): finished when its target is chosen again, recovered
//! otherwise. The expectations are crm_simulate 2.1.5's on the same CIB.

use super::promotable_tests::reaches;
use super::*;
use crate::{ActionKind, Transition};

/// Digests of `vm`'s parameters (none) and of its 10s monitor, as
/// crm_simulate records them: with them the history holds no definition
/// change.
const DIGEST: &str = "f2317cad3d54cec5d7d7aa7d0bf35cf8";
const MON_DIGEST: &str = "4811cef7f7f94e3a35a70be7916cb2fd";

/// A successful operation of `vm` on `node`, with the attributes after
/// `last-rc-change`.
fn vm_op(id: &str, op: &str, call: u32, rc: u32, node: &str, rest: &str) -> String {
    format!(
        r#"<lrm_rsc_op id="{id}" operation_key="vm_{op}_0" operation="{op}" crm_feature_set="3.16.1" transition-key="{call}:1:0:aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa" transition-magic="0:{rc};{call}:1:0:aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa" call-id="{call}" rc-code="{rc}" op-status="0" interval="0" last-rc-change="{call}0" exec-time="0" queue-time="0" on_node="{node}" {rest}/>"#
    )
}

/// `node`'s state with `vm`'s history `ops`.
fn node_state(id: u32, node: &str, ops: &str) -> String {
    format!(
        r#"<node_state id="{id}" uname="{node}" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="{id}"><lrm_resources><lrm_resource id="vm" class="ocf" provider="heartbeat" type="Dummy">{ops}</lrm_resource></lrm_resources></lrm></node_state>"#
    )
}

/// Three nodes; `vm` (allow-migrate) ran on n1 (its 10s monitor there) and
/// migrated to n2: migrate_to on n1 done, no migrate_from on n2, where (as on
/// n3) it was only probed. A location constraint prefers `pref` (100).
fn partially_migrated(pref: &str) -> Cib {
    partially_migrated_with(pref, "")
}

/// As `partially_migrated`, with `more` added to n1's history of `vm`.
fn partially_migrated_with(pref: &str, more: &str) -> Cib {
    let mon = format!(
        r#"<lrm_rsc_op id="vm_monitor_10000" operation_key="vm_monitor_10000" operation="monitor" crm_feature_set="3.16.1" transition-key="2:1:0:aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa" transition-magic="0:0;2:1:0:aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa" call-id="10" rc-code="0" op-status="0" interval="10000" last-rc-change="50" exec-time="0" queue-time="0" on_node="n1" op-digest="{MON_DIGEST}"/>"#
    );
    let migrated = format!(r#"migrate_source="n1" migrate_target="n2" op-digest="{DIGEST}""#);
    let n1 = vm_op("vm_migrate_to_0", "migrate_to", 11, 0, "n1", &migrated) + more + &mon;
    let probe = |node| {
        vm_op(
            "vm_last_0",
            "monitor",
            5,
            7,
            node,
            &format!(r#"op-digest="{DIGEST}""#),
        )
    };
    let xml = format!(
        r#"<cib validate-with="pacemaker-3.0" epoch="1" num_updates="0" admin_epoch="0" have-quorum="1" dc-uuid="1">
<configuration><crm_config><cluster_property_set id="opts">
<nvpair id="o1" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
<nodes><node id="1" uname="n1"/><node id="2" uname="n2"/><node id="3" uname="n3"/></nodes>
<resources><primitive id="vm" class="ocf" provider="heartbeat" type="Dummy">
<meta_attributes id="vm-meta"><nvpair id="vm-am" name="allow-migrate" value="true"/></meta_attributes>
<operations><op id="vm-mon" name="monitor" interval="10s"/></operations></primitive></resources>
<constraints><rsc_location id="vm-pref" rsc="vm" node="{pref}" score="100"/></constraints>
</configuration><status>{}{}{}</status></cib>"#,
        node_state(1, "n1", &n1),
        node_state(2, "n2", &probe("n2")),
        node_state(3, "n3", &probe("n3")),
    );
    hactl_cib_xml::import(&xml).expect("imports")
}

/// The action of `vm` that `pred` picks on `node`, if any.
fn on(t: &Transition, pred: impl Fn(&ActionKind) -> bool, node: &str) -> Option<usize> {
    t.actions
        .iter()
        .find(|a| pred(&a.kind) && a.node.as_deref() == Some(node))
        .map(|a| a.id)
}

fn is_migrate_to(k: &ActionKind) -> bool {
    matches!(k, ActionKind::MigrateTo { .. })
}

fn is_migrate_from(k: &ActionKind) -> bool {
    matches!(k, ActionKind::MigrateFrom { .. })
}

/// crm_simulate: "Migrate vm ( n1 -> n2 )"; migrate_from on n2 (no
/// migrate_to: it ran), then the stop on n1, then the pseudo start, then the
/// monitor on n2. Shown started on both nodes, the target first.
#[test]
fn a_partial_migration_whose_target_is_chosen_again_is_finished() {
    let cib = partially_migrated("n2");
    assert_eq!(summary(&cib), ["Migrate vm ( n1 -> n2 )"]);
    let t = schedule(&cib, 1_000_000).expect("schedules");
    let all = |pred: fn(&ActionKind) -> bool| t.actions.iter().filter(|a| pred(&a.kind)).count();
    assert_eq!(all(is_migrate_to), 0, "{:#?}", t.actions);
    assert_eq!(all(is_migrate_from), 1, "{:#?}", t.actions);
    let from = on(&t, is_migrate_from, "n2").expect("migrate_from on n2");
    let stop = on(&t, |k| *k == ActionKind::Stop, "n1").expect("stop on n1");
    let start = on(&t, |k| *k == ActionKind::Start, "n2").expect("start on n2");
    let mon = on(&t, |k| matches!(k, ActionKind::Monitor { .. }), "n2").expect("monitor");
    assert!(
        on(&t, |k| *k == ActionKind::Stop, "n2").is_none(),
        "{:#?}",
        t.actions
    );
    assert!(t.actions[start].pseudo && !t.actions[from].pseudo && !t.actions[stop].pseudo);
    assert!(reaches(&t, from, stop) && reaches(&t, stop, start) && reaches(&t, start, mon));
    let p = t
        .placements
        .iter()
        .find(|p| p.resource == "vm")
        .expect("vm");
    assert_eq!(p.current, ["n2", "n1"]);
    assert_eq!(p.target.as_deref(), Some("n2"));
}

/// crm_simulate: a partial migration whose target is not chosen again is
/// abandoned: "Move vm ( n2 -> X )", stopped on both nodes, then started on X
/// (also back on the source n1), no migration step.
#[test]
fn a_partial_migration_whose_target_is_not_chosen_again_stops_on_both_nodes() {
    for to in ["n3", "n1"] {
        let cib = partially_migrated(to);
        assert_eq!(summary(&cib), [format!("Move vm ( n2 -> {to} )")]);
        let t = schedule(&cib, 1_000_000).expect("schedules");
        let migrates = t
            .actions
            .iter()
            .filter(|a| is_migrate_to(&a.kind) || is_migrate_from(&a.kind));
        assert_eq!(migrates.count(), 0, "{:#?}", t.actions);
        let start = on(&t, |k| *k == ActionKind::Start, to).expect("start");
        assert!(!t.actions[start].pseudo);
        for from in ["n1", "n2"] {
            let stop = on(&t, |k| *k == ActionKind::Stop, from).expect("stop");
            assert!(reaches(&t, stop, start), "{to}: stop on {from}");
        }
    }
}

/// crm_simulate: n1 stopped vm after its migrate_to, so vm is active on the
/// target n2 only; chosen again, the migration cannot be finished and vm is
/// recovered in place: "Restart vm ( n2 )", stop then start on n2.
#[test]
fn a_partial_migration_stopped_on_its_source_is_restarted_on_its_target() {
    let stop = vm_op(
        "vm_last_0",
        "stop",
        12,
        0,
        "n1",
        &format!(r#"op-digest="{DIGEST}""#),
    );
    let cib = partially_migrated_with("n2", &stop);
    assert_eq!(summary(&cib), ["Restart vm ( n2 )"]);
    let t = schedule(&cib, 1_000_000).expect("schedules");
    let stop = on(&t, |k| *k == ActionKind::Stop, "n2").expect("stop on n2");
    let start = on(&t, |k| *k == ActionKind::Start, "n2").expect("start on n2");
    assert!(!t.actions[start].pseudo && reaches(&t, stop, start));
    assert!(
        on(&t, |k| *k == ActionKind::Stop, "n1").is_none(),
        "{:#?}",
        t.actions
    );
}
