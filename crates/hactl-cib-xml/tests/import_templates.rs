//! Resource templates and tags are resolved on import: primitives take their
//! template's definition, constraints naming a template or tag apply to each member.

use hactl_cib_xml::{ignored_colocations, import, ImportError};
use hactl_model::{Cib, Score};

fn cib(resources: &str, constraints: &str, tags: &str) -> Result<Cib, ImportError> {
    import(&format!(
        r#"<cib><configuration><crm_config/><nodes><node id="1" uname="n1"/></nodes>
        <resources>{resources}</resources><constraints>{constraints}</constraints>
        <tags>{tags}</tags></configuration><status/></cib>"#
    ))
}

const TEMPLATE: &str = r#"<template id="T" class="ocf" provider="heartbeat" type="IPaddr2">
    <instance_attributes id="T-ia"><nvpair id="T-ip" name="ip" value="10.0.0.1"/>
      <nvpair id="T-nm" name="cidr_netmask" value="24"/></instance_attributes>
    <operations><op id="T-mon" name="monitor" interval="10s" timeout="20s"/>
      <op id="T-start" name="start" interval="0" timeout="20s"/></operations>
  </template>
  <primitive id="a" template="T">
    <instance_attributes id="a-ia"><nvpair id="a-ip" name="ip" value="10.0.0.2"/></instance_attributes>
    <operations><op id="a-mon" name="monitor" interval="10s" timeout="40s"/></operations>
  </primitive>
  <primitive id="b" template="T"/>
  <primitive id="c" class="ocf" provider="pacemaker" type="Dummy"/>"#;

#[test]
fn a_primitive_takes_its_templates_definition_and_overrides_it() {
    let c = cib(TEMPLATE, "", "").expect("imports");
    assert_eq!(c.config.resources.len(), 3, "the template is no resource");
    let a = c.config.find_primitive("a").unwrap();
    assert_eq!(a.agent.to_string(), "ocf:heartbeat:IPaddr2");
    assert_eq!(a.params["ip"], "10.0.0.2", "own value wins");
    assert_eq!(a.params["cidr_netmask"], "24", "inherited");
    let mon = a.op("monitor", 10_000).unwrap();
    assert_eq!(
        mon.timeout_ms,
        Some(40_000),
        "own op replaces the template's"
    );
    assert_eq!(a.ops.len(), 2);
    let b = c.config.find_primitive("b").unwrap();
    assert_eq!(b.params["ip"], "10.0.0.1");
}

/// Pacemaker keys a template's operations by name and role, not interval: a
/// primitive's own monitor replaces the template's monitor at any interval, a
/// monitor for another role is kept.
#[test]
fn a_primitives_operation_replaces_the_templates_of_the_same_name_and_role() {
    let resources = r#"<template id="T" class="ocf" provider="pacemaker" type="Stateful">
        <operations><op id="T-mon" name="monitor" interval="10s"/>
          <op id="T-mon-p" name="monitor" interval="5s" role="Promoted"/></operations>
      </template>
      <primitive id="a" template="T">
        <operations><op id="a-mon" name="monitor" interval="20s" role="Started"/></operations>
      </primitive>"#;
    let c = cib(resources, "", "").expect("imports");
    let a = c.config.find_primitive("a").unwrap();
    assert!(a.op("monitor", 20_000).is_some(), "its own monitor");
    assert!(
        a.op("monitor", 10_000).is_none(),
        "the template's monitor of the same role is replaced"
    );
    assert!(a.op("monitor", 5_000).is_some(), "another role's is kept");
}

#[test]
fn constraints_naming_a_template_or_tag_apply_to_each_member() {
    let tags = r#"<tag id="G"><obj_ref id="a"/><obj_ref id="c"/></tag>"#;
    let cons = r#"<rsc_colocation id="with-T" rsc="c" with-rsc="T" score="INFINITY"/>
        <rsc_location id="loc-G" rsc="G" node="n1" score="50"/>
        <rsc_order id="o" kind="Mandatory"><resource_set id="s"><resource_ref id="G"/><resource_ref id="b"/></resource_set></rsc_order>"#;
    let c = cib(TEMPLATE, cons, tags).expect("imports");
    let coloc: Vec<_> = c
        .config
        .constraints
        .colocation
        .iter()
        .map(|x| (x.rsc.as_str(), x.with_rsc.as_str(), x.score))
        .collect();
    assert_eq!(
        coloc,
        vec![("c", "a", Score::INFINITY), ("c", "b", Score::INFINITY)]
    );
    let loc: Vec<_> = c
        .config
        .constraints
        .location
        .iter()
        .map(|x| x.rsc.as_str())
        .collect();
    assert_eq!(loc, vec!["a", "c"]);
    let order: Vec<_> = c
        .config
        .constraints
        .order
        .iter()
        .map(|x| (x.first.as_str(), x.then.as_str()))
        .collect();
    assert_eq!(
        order,
        vec![("a", "c"), ("c", "b")],
        "the tag's members, in place"
    );
}

#[test]
fn colocating_two_templates_or_tags_is_ignored_as_pacemaker_does() {
    let tags = r#"<tag id="G"><obj_ref id="c"/></tag>"#;
    let colocations = |k: &str| {
        cib(TEMPLATE, k, tags)
            .expect("imports")
            .config
            .constraints
            .colocation
            .len()
    };
    assert_eq!(
        colocations(r#"<rsc_colocation id="x" rsc="G" with-rsc="T" score="1"/>"#),
        0
    );
    // One side a tag: expanded to its members.
    assert_eq!(
        colocations(r#"<rsc_colocation id="x" rsc="G" with-rsc="a" score="1"/>"#),
        1
    );
    // What was dropped is named, for `cluster verify` (a tag with a template, two
    // tags); a tag with a resource is not.
    let xml = |k: &str| {
        format!(
            r#"<cib><configuration><resources>{TEMPLATE}</resources><constraints>{k}</constraints>
            <tags>{tags}<tag id="H"><obj_ref id="a"/></tag></tags></configuration><status/></cib>"#
        )
    };
    let k = r#"<rsc_colocation id="x" rsc="G" with-rsc="T" score="1"/>
        <rsc_colocation id="y" rsc="G" with-rsc="H" score="1"/>
        <rsc_colocation id="z" rsc="G" with-rsc="a" score="1"/>"#;
    assert_eq!(ignored_colocations(&xml(k)).expect("parses"), ["x", "y"]);
}

#[test]
fn a_primitive_naming_no_template_is_refused() {
    let e = cib(r#"<primitive id="d" template="nope"/>"#, "", "")
        .unwrap_err()
        .to_string();
    assert!(e.contains("no template \"nope\""), "{e}");
}
