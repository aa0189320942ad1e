//! `hactl status --output xml` against Pacemaker's own crm_mon on the same CIB:
//! the document validates against Pacemaker's API schema (xmllint, the schema from
//! pacemaker-common), and its nodes, resources, failures and operation history
//! carry the same values as `crm_mon -1 --output-as=xml` (pacemaker-cli-utils).
//! Both tools come from scripts/test-packages.txt; a missing one fails the test.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use hactl_view::{Snapshot, View};
use quick_xml::events::Event;
use quick_xml::Reader;

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/web-cluster.xml"
);
const SCHEMA: &str = "/usr/share/pacemaker/api/api-result.rng";

fn ours() -> String {
    let xml = std::fs::read_to_string(EXAMPLE).unwrap();
    let cib = hactl_cib_xml::import(&xml).unwrap();
    let now = cib.execution_date.unwrap_or(0);
    let v = View::new(Snapshot {
        cib,
        daemon: None,
        now,
    })
    .unwrap();
    hactl_view::xml::render(&v).unwrap()
}

fn crm_mon() -> String {
    let out = Command::new("crm_mon")
        .args(["-1", "--output-as=xml"])
        .env("CIB_file", EXAMPLE)
        .output()
        .expect("crm_mon (Debian pacemaker-cli-utils) must be installed");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The `(element, compared attributes)` rows of a crm_mon document for `names`.
fn rows(xml: &str, names: &[(&str, &[&str])]) -> BTreeSet<String> {
    let mut r = Reader::from_str(xml);
    let mut out = BTreeSet::new();
    let mut path: Vec<String> = Vec::new();
    loop {
        let ev = r.read_event().unwrap();
        let (e, is_start) = match &ev {
            Event::Start(e) => (e, true),
            Event::Empty(e) => (e, false),
            Event::End(_) => {
                path.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
        let here = format!("{}/{name}", path.join("/"));
        for (want, keys) in names {
            if here.ends_with(want) {
                let mut row = here.clone();
                for k in *keys {
                    let v = e
                        .try_get_attribute(*k)
                        .unwrap()
                        .map(|a| a.unescape_value().unwrap().to_string());
                    row.push_str(&format!(" {k}={v:?}"));
                }
                out.insert(row);
            }
        }
        if is_start {
            path.push(name);
        }
    }
    out
}

#[test]
fn status_xml_validates_against_pacemakers_api_schema() {
    let mut child = Command::new("xmllint")
        .args(["--noout", "--relaxng", SCHEMA, "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xmllint (Debian libxml2-utils) must be installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(ours().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        ours()
    );
}

#[test]
fn status_xml_says_what_crm_mon_says_on_the_same_cib() {
    let compared: &[(&str, &[&str])] = &[
        (
            "nodes/node",
            &[
                "name",
                "id",
                "online",
                "standby",
                "maintenance",
                "pending",
                "unclean",
                "shutdown",
                "expected_up",
                "is_dc",
                "resources_running",
                "type",
            ],
        ),
        (
            "resources/group",
            &["id", "number_resources", "managed", "disabled"],
        ),
        (
            "/resource",
            &[
                "id",
                "resource_agent",
                "role",
                "active",
                "orphaned",
                "blocked",
                "managed",
                "failed",
                "failure_ignored",
                "nodes_running_on",
            ],
        ),
        ("resource/node", &["name", "id"]),
        (
            "failures/failure",
            &[
                "op_key",
                "node",
                "exitstatus",
                "exitreason",
                "exitcode",
                "call",
                "status",
                "last-rc-change",
                "queued",
                "exec",
                "interval",
                "task",
            ],
        ),
        (
            "operation_history",
            &[
                "call",
                "task",
                "interval",
                "rc",
                "rc_text",
                "exec-time",
                "queue-time",
            ],
        ),
        ("node_attributes/node/attribute", &["name", "value"]),
    ];
    let theirs = rows(&crm_mon(), compared);
    let ours = rows(&ours(), compared);
    assert!(theirs.len() > 10, "{theirs:#?}");
    let missing: Vec<_> = theirs.difference(&ours).collect();
    let extra: Vec<_> = ours.difference(&theirs).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "crm_mon has, hactl lacks: {missing:#?}\nhactl has, crm_mon lacks: {extra:#?}"
    );
}
