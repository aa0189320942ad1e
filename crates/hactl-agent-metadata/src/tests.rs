//! The parser, the parameter checks and the help text on one OCF agent's meta-data.

use crate::*;
use std::collections::BTreeMap;
use std::time::Duration;

const XML: &str = r#"<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="Thing" version="1.0">
<version>1.0</version>
<longdesc lang="en">Long &amp; winding.</longdesc>
<shortdesc lang="en">A thing</shortdesc>
<parameters>
<parameter name="ip" unique="1" required="1">
<longdesc lang="en">The address.</longdesc>
<shortdesc lang="en">IP</shortdesc>
<content type="string" default="" />
</parameter>
<parameter name="count">
<shortdesc lang="en">How many</shortdesc>
<content type="integer" default="5"/>
</parameter>
<parameter name="flag"><content type="boolean" default="false"/></parameter>
<parameter name="mode"><content type="select" default="a"><option value="a"/><option value="b"/></content></parameter>
</parameters>
<actions>
<action name="start" timeout="20s" />
<action name="monitor" timeout="30" interval="10s" depth="0"/>
</actions>
</resource-agent>"#;

fn p(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn parses_parameters_and_actions() {
    let md = AgentMetadata::parse(XML).unwrap();
    assert_eq!(md.name, "Thing");
    assert_eq!(md.shortdesc, "A thing");
    assert_eq!(md.longdesc, "Long & winding.");
    assert_eq!(md.parameters.len(), 4);
    let ip = md.parameter("ip").unwrap();
    assert!(ip.required && ip.unique);
    assert_eq!(ip.shortdesc, "IP");
    assert_eq!(md.parameter("count").unwrap().default.as_deref(), Some("5"));
    assert_eq!(md.parameter("mode").unwrap().options, vec!["a", "b"]);
    assert_eq!(md.default_timeout("start"), Some(Duration::from_secs(20)));
    assert_eq!(md.default_timeout("monitor"), Some(Duration::from_secs(30)));
    assert_eq!(
        md.action("monitor").unwrap().interval,
        Some(Duration::from_secs(10))
    );
}

#[test]
fn validation_names_the_parameter() {
    let md = AgentMetadata::parse(XML).unwrap();
    assert!(md.validate("T", &p(&[("ip", "1.2.3.4")])).is_ok());
    let e = md.validate("T", &p(&[])).unwrap_err();
    assert!(
        matches!(&e, ParamError::Missing { name, .. } if name == "ip"),
        "{e}"
    );
    let e = md
        .validate("T", &p(&[("ip", "x"), ("count", "many")]))
        .unwrap_err();
    assert!(e.to_string().contains("'count'"), "{e}");
    let e = md
        .validate("T", &p(&[("ip", "x"), ("flag", "maybe")]))
        .unwrap_err();
    assert!(e.to_string().contains("'flag'"), "{e}");
    let e = md
        .validate("T", &p(&[("ip", "x"), ("mode", "c")]))
        .unwrap_err();
    assert!(e.to_string().contains("one of: a, b"), "{e}");
    let e = md
        .validate("T", &p(&[("ip", "x"), ("colour", "red")]))
        .unwrap_err();
    assert!(e.to_string().contains("unknown parameter 'colour'"), "{e}");
}

#[test]
fn rejects_non_metadata() {
    assert!(AgentMetadata::parse("hello").is_err());
    assert!(AgentMetadata::parse("<a><b></a>").is_err());
}

#[test]
fn renders_help() {
    let md = AgentMetadata::parse(XML).unwrap();
    let h = md.render("ocf:x:Thing");
    assert!(h.starts_with("ocf:x:Thing - A thing"));
    assert!(h.contains("  ip (required, unique, string)"));
    assert!(h.contains("  monitor timeout=30s interval=10s"));
}

#[test]
fn fence_agent_fields_and_translations() {
    let md = parse(
        r#"<resource-agent name="fence_x" shortdesc="Fence X">
        <vendor-url>https://x.example</vendor-url>
        <parameters>
        <parameter name="plug" required="1" obsoletes="port">
          <getopt mixed="-n, --plug=[id]"/>
          <content type="string"/>
          <shortdesc lang="en">Plug</shortdesc><shortdesc lang="de">Stecker</shortdesc>
        </parameter>
        </parameters>
        <actions><action name="on" on_target="1" automatic="0"/><action name="list"/></actions>
        </resource-agent>"#,
    )
    .unwrap();
    assert_eq!(md.shortdesc, "Fence X");
    assert_eq!(md.vendor_url.as_deref(), Some("https://x.example"));
    let plug = md.parameter("plug").unwrap();
    assert_eq!(plug.shortdesc, "Plug");
    assert_eq!(plug.obsoletes.as_deref(), Some("port"));
    assert_eq!(plug.getopt.as_deref(), Some("-n, --plug=[id]"));
    assert!(md.action("on").unwrap().on_target);
    assert!(md.supports("list") && !md.supports("reboot"));
}

#[test]
fn malformed_xml_says_where() {
    let e = parse("<resource-agent name='x'><parameters></resource-agent>").unwrap_err();
    assert!(matches!(e, MetadataError::Xml { .. }), "{e}");
    assert!(matches!(parse("<foo/>"), Err(MetadataError::NoAgent)));
}

/// What a reload cannot apply, as Pacemaker reads it: OCF 1.1 `reloadable`
/// parameters with `reload-agent`, or (older agents with `reload`) the non-unique
/// ones; nothing for an agent that cannot reload.
#[test]
fn non_reloadable_parameters_follow_the_ocf_version() {
    let md = |version: &str, action: &str| {
        AgentMetadata::parse(&format!(
            r#"<resource-agent name="x" version="2.0"><version>{version}</version>
            <parameters>
              <parameter name="state" unique="1"/>
              <parameter name="fake" reloadable="1"/>
            </parameters>
            <actions><action name="start"/><action name="{action}"/></actions>
            </resource-agent>"#
        ))
        .unwrap()
    };
    assert_eq!(
        md("1.1", "reload-agent").non_reloadable(),
        Some(vec!["state"])
    );
    assert_eq!(md("1.1", "reload-agent").version.as_deref(), Some("2.0"));
    assert_eq!(md("1.0", "reload").non_reloadable(), Some(vec!["state"]));
    assert_eq!(md("1.0", "reload-agent").non_reloadable(), None);
    assert_eq!(md("1.1", "monitor").non_reloadable(), None);
}
