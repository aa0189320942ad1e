//! The order resources are assigned in under a placement strategy
//! (`utilization.rs`, `sort_for_capacity`).

/// A Dummy's successful start as `<lrm_resource>` history.
fn run(id: &str, call: u32) -> String {
    format!(
        r#"<lrm_resource id="{id}" class="ocf" provider="pacemaker" type="Dummy">
<lrm_rsc_op id="{id}_last_0" operation="start" call-id="{call}" rc-code="0" op-status="0" interval="0"/>
</lrm_resource>"#
    )
}

fn cpu(id: &str, v: u32) -> String {
    format!(
        r#"<utilization id="{id}-u"><nvpair id="{id}-cpu" name="cpu" value="{v}"/></utilization>"#
    )
}

/// n1, n2 up; n3, n4 in standby; all with cpu=32. `vma` (on n3) and `vmb` (on
/// n4, preferred there at INFINITY) must run with `lib-clone`; `f` runs on n2.
fn standby_cib() -> hactl_model::Cib {
    let node = |n: u32, standby: bool| {
        let attrs = if standby {
            format!(
                r#"<instance_attributes id="n{n}-a"><nvpair id="n{n}-sb" name="standby" value="on"/></instance_attributes>"#
            )
        } else {
            String::new()
        };
        format!(
            r#"<node id="{n}" uname="n{n}">{attrs}{}</node>"#,
            cpu(&format!("n{n}"), 32)
        )
    };
    let prim = |id: &str, u: String| {
        format!(
            r#"<primitive id="{id}" class="ocf" provider="pacemaker" type="Dummy">{u}</primitive>"#
        )
    };
    let state = |n: u32, lrm: String| {
        format!(
            r#"<node_state id="{n}" uname="n{n}" in_ccm="true" crmd="online" join="member" expected="member">
<lrm id="{n}"><lrm_resources>{lrm}</lrm_resources></lrm></node_state>"#
        )
    };
    let xml = format!(
        r#"<cib have-quorum="true" dc-uuid="1"><configuration><crm_config><cluster_property_set id="o">
<nvpair id="o1" name="stonith-enabled" value="false"/><nvpair id="o2" name="placement-strategy" value="balanced"/>
</cluster_property_set></crm_config><nodes>{}{}{}{}</nodes>
<resources>{}<clone id="lib-clone">{}</clone>{}{}</resources><constraints>
<rsc_location id="l1" rsc="f" node="n1" score="-INFINITY"/>
<rsc_colocation id="c1" rsc="vma" with-rsc="lib-clone" score="INFINITY"/>
<rsc_colocation id="c2" rsc="vmb" with-rsc="lib-clone" score="INFINITY"/>
<rsc_location id="cli-prefer-vmb" rsc="vmb" node="n4" score="INFINITY"/>
</constraints></configuration><status>{}{}{}{}</status></cib>"#,
        node(1, false),
        node(2, false),
        node(3, true),
        node(4, true),
        prim("f", String::new()),
        prim("lib", String::new()),
        prim("vma", cpu("vma", 2)),
        prim("vmb", cpu("vmb", 2)),
        state(1, run("lib", 2)),
        state(2, run("lib", 2) + &run("f", 3)),
        state(3, run("lib", 2) + &run("vma", 4)),
        state(4, run("lib", 2) + &run("vmb", 5)),
    );
    hactl_cib_xml::import(&xml).expect("imports")
}

/// A resource that must run with a clone counts -INFINITY on a standby node
/// when the assignment order is decided (Pacemaker adds its colocations'
/// scores, and a primary has none on a node that cannot run it): `vmb`, whose
/// own score on its standby node is INFINITY, is assigned after `f` and the
/// clone, not first, and goes to n2 as crm_simulate says; first, it took n1 and
/// pushed `vma` onto n2 (CTS case migrate-both-vms).
#[test]
fn a_resource_colocated_with_a_clone_is_assigned_late_when_its_node_is_in_standby() {
    let got = crate::stop_reason_tests::summary(&standby_cib());
    assert!(
        got.contains(&"Move vma ( n3 -> n1 )".to_string()),
        "{got:?}"
    );
    assert!(
        got.contains(&"Move vmb ( n4 -> n2 )".to_string()),
        "{got:?}"
    );
}
