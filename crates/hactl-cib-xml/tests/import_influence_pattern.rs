//! Values Pacemaker reads leniently: a colocation's invalid `influence` falls
//! back to the default, and a location's `rsc-pattern` names every top-level
//! resource it matches.

use hactl_cib_xml::import;
use hactl_model::Cib;

fn xml(resources: &str, constraints: &str) -> String {
    format!(
        r#"<cib><configuration><crm_config/><nodes><node id="1" uname="n1"/></nodes>
        <resources>{resources}</resources><constraints>{constraints}</constraints>
        </configuration><status/></cib>"#
    )
}

fn prim(id: &str) -> String {
    format!(r#"<primitive id="{id}" class="ocf" provider="pacemaker" type="Dummy"/>"#)
}

fn prims(ids: &[&str]) -> String {
    ids.iter().map(|id| prim(id)).collect()
}

fn cib(resources: &str, constraints: &str) -> Cib {
    import(&xml(resources, constraints)).expect("imports")
}

#[test]
fn invalid_influence_reads_as_unset_so_the_default_applies() {
    let c = cib(
        &prims(&["a", "b"]),
        r#"<rsc_colocation id="c" rsc="a" with-rsc="b" score="INFINITY" influence="invalid"/>
        <rsc_colocation id="d" rsc="a" with-rsc="b" score="INFINITY" influence="false"/>"#,
    );
    let k = &c.config.constraints.colocation;
    assert_eq!(k[0].influence, None);
    assert_eq!(k[1].influence, Some(false));
}

#[test]
fn invalid_influence_on_a_set_colocation_reads_as_unset() {
    let c = cib(
        &prims(&["a", "b"]),
        r#"<rsc_colocation id="c" score="INFINITY" influence="maybe">
        <resource_set id="s"><resource_ref id="a"/><resource_ref id="b"/></resource_set>
        </rsc_colocation>"#,
    );
    let k = &c.config.constraints.colocation;
    assert_eq!(k.len(), 1);
    assert_eq!(k[0].influence, None);
}

/// (resource, id) of every location constraint, in order.
fn locations(c: &Cib) -> Vec<(String, String)> {
    let l = &c.config.constraints.location;
    l.iter().map(|x| (x.rsc.clone(), x.id.clone())).collect()
}

fn loc(rsc: &str, id: &str) -> (String, String) {
    (rsc.to_string(), id.to_string())
}

#[test]
fn rsc_pattern_names_each_matching_top_level_resource() {
    let resources = format!(
        r#"{}<group id="g3">{}</group>"#,
        prims(&["r1", "r3a", "x3"]),
        prim("r3m")
    );
    let c = cib(
        &resources,
        r#"<rsc_location id="l" rsc-pattern="r3.*" node="n1" score="-INFINITY"/>"#,
    );
    // A group member is not matched on its own; the match is anywhere in the id.
    assert_eq!(locations(&c), vec![loc("r3a", "l.r3a")]);
    let c = cib(
        &resources,
        r#"<rsc_location id="l" rsc-pattern="3" node="n1" score="-INFINITY"/>"#,
    );
    assert_eq!(
        locations(&c),
        vec![loc("r3a", "l.r3a"), loc("x3", "l.x3"), loc("g3", "l.g3")]
    );
}

#[test]
fn rsc_pattern_with_a_bang_names_each_resource_it_does_not_match() {
    let c = cib(
        &prims(&["r1", "r3a", "r3b"]),
        r#"<rsc_location id="ban" rsc-pattern="!r3.*" node="n1" score="-INFINITY"/>"#,
    );
    assert_eq!(locations(&c), vec![loc("r1", "ban.r1")]);
    let l = &c.config.constraints.location[0];
    assert_eq!(l.node.as_deref(), Some("n1"));
    assert_eq!(l.score, Some(hactl_model::Score::NEG_INFINITY));
}

#[test]
fn rsc_pattern_with_rules_or_a_bad_expression_is_refused() {
    let rule = r##"<rsc_location id="l" rsc-pattern="r.*"><rule id="l-r" score="5">
        <expression id="l-e" attribute="#uname" operation="eq" value="n1"/></rule>
        </rsc_location>"##;
    let err = import(&xml(&prims(&["r1"]), rule)).expect_err("refused");
    assert!(err.to_string().contains("rsc-pattern with rules"), "{err}");
    let bad = r#"<rsc_location id="l" rsc-pattern="r(" node="n1" score="1"/>"#;
    let err = import(&xml(&prims(&["r1"]), bad)).expect_err("refused");
    assert!(err.to_string().contains("rsc-pattern"), "{err}");
}
