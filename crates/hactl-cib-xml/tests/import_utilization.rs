//! Node capacities and resource utilization survive import and export.

use hactl_cib_xml::{export, import};

#[test]
fn utilization_imports_and_round_trips() {
    let xml = r#"<cib><configuration><crm_config/><nodes>
      <node id="1" uname="n1"><utilization id="n1-u"><nvpair id="n1-cpu" name="cpu" value="4"/></utilization></node>
      </nodes><resources>
      <primitive id="a" class="ocf" provider="pacemaker" type="Dummy"><utilization id="a-u"><nvpair id="a-cpu" name="cpu" value="2"/></utilization></primitive>
      </resources><constraints/></configuration><status/></cib>"#;
    let cib = import(xml).expect("imports");
    assert_eq!(cib.config.nodes[0].utilization["cpu"], "4");
    assert_eq!(
        cib.config.find_primitive("a").unwrap().utilization["cpu"],
        "2"
    );
    assert_eq!(import(&export(&cib)).expect("re-imports"), cib);
}
