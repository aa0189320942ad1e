//! The status section: operation histories as Pacemaker records them.

use hactl_cib_xml::{export, import};

fn entry(op: &str, rc: i32) -> String {
    format!(
        r#"<lrm_resource id="d" class="ocf" provider="heartbeat" type="Dummy">
        <lrm_rsc_op id="d_{op}_0" operation="{op}" interval="0" call-id="1" rc-code="{rc}" op-status="0"/>
        </lrm_resource>"#
    )
}

/// Two `<lrm_resource>` entries with one id on one node (CTS case inc6): both are
/// kept, in the order recorded, and written back. Keeping only the last one read
/// a running resource as stopped (its probe came after its start) and planned a
/// second copy of it.
#[test]
fn repeated_lrm_resource_entries_of_one_id_are_all_kept() {
    let xml = format!(
        r#"<cib><configuration><crm_config/><nodes><node id="1" uname="n1"/></nodes>
        <resources><primitive id="d" class="ocf" provider="heartbeat" type="Dummy"/></resources>
        <constraints/></configuration><status>
        <node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member">
        <lrm id="1"><lrm_resources>{}{}</lrm_resources></lrm></node_state></status></cib>"#,
        entry("start", 0),
        entry("monitor", 7)
    );
    let cib = import(&xml).expect("imports");
    let st = &cib.status.nodes["n1"];
    assert_eq!(st.resources["d"].ops[0].operation, "start");
    let [(id, repeated)] = st.repeated_histories.as_slice() else {
        panic!("one repeated history: {:?}", st.repeated_histories);
    };
    assert_eq!(id, "d");
    assert_eq!(repeated.ops[0].operation, "monitor");
    assert!(repeated.position > st.resources["d"].position);
    let again = import(&export(&cib)).expect("re-imports");
    assert_eq!(again.status.nodes["n1"], *st);
}
