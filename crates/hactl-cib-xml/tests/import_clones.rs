//! `<clone>` imports as a clone of its primitive and exports back; what the
//! scheduler cannot do with clones yet is refused by name and id.

use hactl_cib_xml::{export, import};
use hactl_model::Resource;

fn cib(resources: &str) -> String {
    format!(
        r#"<cib><configuration><crm_config/><nodes><node id="1" uname="n1"/></nodes>
        <resources>{resources}</resources><constraints/></configuration><status/></cib>"#
    )
}

const WEB: &str = r#"<primitive id="web" class="ocf" provider="heartbeat" type="apache"/>"#;

fn clone_xml(tag: &str, meta: &[(&str, &str)]) -> String {
    let nv: String = meta
        .iter()
        .map(|(k, v)| format!(r#"<nvpair id="m-{k}" name="{k}" value="{v}"/>"#))
        .collect();
    cib(&format!(
        r#"<{tag} id="web-clone"><meta_attributes id="m">{nv}</meta_attributes>{WEB}</{tag}>"#
    ))
}

#[test]
fn a_clone_of_a_primitive_round_trips() {
    let c = import(&clone_xml(
        "clone",
        &[("clone-max", "2"), ("interleave", "true")],
    ))
    .expect("imports");
    let Resource::Clone(cl) = &c.config.resources[0] else {
        panic!("not a clone: {:?}", c.config.resources[0]);
    };
    assert_eq!(cl.id, "web-clone");
    assert_eq!(cl.child.id(), "web");
    assert_eq!(cl.meta.get("clone-max").map(String::as_str), Some("2"));
    let again = import(&export(&c)).expect("re-imports");
    assert_eq!(again.config.resources, c.config.resources);
}

#[test]
fn clones_of_groups_import_and_what_is_not_scheduled_is_refused_by_name() {
    let xml = cib(&format!(
        r#"<clone id="web-clone"><group id="g">{WEB}</group></clone>"#
    ));
    let c = import(&xml).expect("a plain clone of a group imports");
    let Resource::Clone(cl) = &c.config.resources[0] else {
        panic!("not a clone: {:?}", c.config.resources[0]);
    };
    assert_eq!(cl.child.id(), "g");
    let promotable = cib(&format!(
        r#"<master id="web-clone"><group id="g">{WEB}</group></master>"#
    ));
    import(&promotable).expect("a promotable clone of a group imports");
    for name in ["globally-unique", "notify"] {
        let xml = cib(&format!(
            r#"<clone id="web-clone"><meta_attributes id="m"><nvpair id="m1" name="{name}" value="true"/></meta_attributes><group id="g">{WEB}</group></clone>"#
        ));
        import(&xml).unwrap_or_else(|e| panic!("{name}=true on a clone of a group: {e}"));
    }
    for (name, value) in [("ordered", "true"), ("clone-node-max", "2")] {
        let xml = cib(&format!(
            r#"<clone id="web-clone"><meta_attributes id="m"><nvpair id="m1" name="{name}" value="{value}"/></meta_attributes><group id="g">{WEB}</group></clone>"#
        ));
        let err = import(&xml).expect_err("refused").to_string();
        assert!(err.contains("clones of groups"), "{name}: {err}");
        assert!(err.contains("\"g\""), "{name}: {err}");
    }
}

#[test]
fn notifying_clones_and_clone_min_import() {
    for (kind, key, value) in [
        ("clone", "notify", "true"),
        ("master", "notify", "true"),
        ("clone", "clone-min", "2"),
    ] {
        let c = import(&clone_xml(kind, &[(key, value)])).expect("imports");
        let Resource::Clone(cl) = &c.config.resources[0] else {
            panic!("not a clone: {:?}", c.config.resources[0]);
        };
        assert_eq!(cl.meta.get(key).map(String::as_str), Some(value));
    }
}

#[test]
fn promotable_clones_import_in_both_spellings() {
    // Pacemaker's old <master> element is a clone with promotable=true.
    for xml in [
        clone_xml("master", &[("master-max", "1")]),
        clone_xml("clone", &[("promotable", "true"), ("promoted-max", "1")]),
    ] {
        let c = import(&xml).expect("imports");
        let Resource::Clone(cl) = &c.config.resources[0] else {
            panic!("not a clone: {:?}", c.config.resources[0]);
        };
        assert_eq!(cl.meta.get("promotable").map(String::as_str), Some("true"));
        let again = import(&export(&c)).expect("re-imports");
        assert_eq!(again.config.resources, c.config.resources);
    }
}
