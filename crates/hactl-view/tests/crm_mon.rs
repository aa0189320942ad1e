//! `hactl status --output xml` against Pacemaker's own crm_mon on the same CIB:
//! the document validates against Pacemaker's API schema (xmllint, the schema from
//! pacemaker-common), and its nodes, resources, failures and operation history
//! carry the same values as `crm_mon -1 --output-as=xml` (pacemaker-cli-utils).
//! Both tools come from scripts/test-packages.txt; a missing one fails the test.

use std::io::Write;
use std::process::{Command, Stdio};

use hactl_view::{Snapshot, View};
use quick_xml::events::Event;
use quick_xml::Reader;

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/web-cluster.xml"
);
/// Two clones (anonymous with a failed instance, promotable) on four nodes.
const CLONES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clones.xml");
const SCHEMA: &str = "/usr/share/pacemaker/api/api-result.rng";

fn view(path: &str) -> View {
    let xml = std::fs::read_to_string(path).unwrap();
    let cib = hactl_cib_xml::import(&xml).unwrap();
    let now = cib.execution_date.unwrap_or(0);
    View::new(Snapshot {
        cib,
        daemon: None,
        now,
    })
    .unwrap()
}

fn ours(path: &str) -> String {
    hactl_view::xml::render(&view(path)).unwrap()
}

/// `crm_mon -1 ARGS` on the CIB file `path`.
fn crm_mon(path: &str, args: &[&str]) -> String {
    let out = Command::new("crm_mon")
        .arg("-1")
        .args(args)
        .env("CIB_file", path)
        .output()
        .expect("crm_mon (Debian pacemaker-cli-utils) must be installed");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The `(element, compared attributes)` rows of a crm_mon document for `names`,
/// sorted, each as often as it occurs (a clone's instances can be alike).
fn rows(xml: &str, names: &[(&str, &[&str])]) -> Vec<String> {
    let mut r = Reader::from_str(xml);
    let mut out = Vec::new();
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
                out.push(row);
            }
        }
        if is_start {
            path.push(name);
        }
    }
    out.sort();
    out
}

#[test]
fn status_xml_validates_against_pacemakers_api_schema() {
    for path in [EXAMPLE, CLONES] {
        validates(path);
    }
}

fn validates(path: &str) {
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
        .write_all(ours(path).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        ours(path)
    );
}

/// The attributes compared, per element.
fn compared() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
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
        (
            "resources/clone",
            &[
                "id",
                "multi_state",
                "unique",
                "managed",
                "disabled",
                "failed",
                "failure_ignored",
                "target_role",
            ],
        ),
    ]
}

/// Rows in one list and not the other (counting repeats).
fn difference(a: &[String], b: &[String]) -> Vec<String> {
    let mut rest = b.to_vec();
    let mut out = Vec::new();
    for x in a {
        match rest.iter().position(|y| y == x) {
            Some(i) => {
                rest.remove(i);
            }
            None => out.push(x.clone()),
        }
    }
    out
}

fn same_rows_as_crm_mon(path: &str) {
    let compared = compared();
    // crm_mon lists a failed operation twice in the history when Pacemaker keeps
    // it both as the last result and as the last failure; hactl lists each call
    // once, so repeats of a history row are not compared.
    let once = |mut v: Vec<String>| {
        v.dedup_by(|a, b| a == b && a.contains("/operation_history "));
        v
    };
    let theirs = once(rows(&crm_mon(path, &["--output-as=xml"]), &compared));
    let ours = once(rows(&ours(path), &compared));
    assert!(theirs.len() > 10, "{theirs:#?}");
    let missing = difference(&theirs, &ours);
    let extra = difference(&ours, &theirs);
    assert!(
        missing.is_empty() && extra.is_empty(),
        "crm_mon has, hactl lacks: {missing:#?}\nhactl has, crm_mon lacks: {extra:#?}"
    );
}

#[test]
fn status_xml_says_what_crm_mon_says_on_the_same_cib() {
    same_rows_as_crm_mon(EXAMPLE);
}

/// Clones: `<clone>` with its flags, one `<resource>` per instance (an anonymous
/// clone's named by its primitive, a promotable one's with its role, the stopped
/// ones too), as crm_mon writes them for the same CIB.
#[test]
fn status_xml_shows_clones_as_crm_mon_does() {
    same_rows_as_crm_mon(CLONES);
    let xml = ours(CLONES);
    assert!(
        xml.contains("<clone id=\"db-clone\" multi_state=\"true\""),
        "{xml}"
    );
}

/// The resource list of a text status: the lines after `header` up to the next
/// blank line, without their bullets and indentation.
fn resource_block(text: &str, header: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| !l.trim_start_matches("* ").starts_with(header))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| {
            l.trim()
                .trim_start_matches("* ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// `hactl status` text lists clones as `crm_mon -1 -r` does: `Clone Set: … [ping]`,
/// a failed instance on a line of its own under the primitive's name, the others
/// folded into `Started:` / `Promoted:` / `Unpromoted:`, `Stopped:` the nodes
/// without one.
#[test]
fn status_text_shows_clones_as_crm_mon_does() {
    let theirs = resource_block(&crm_mon(CLONES, &["-r"]), "Full List of Resources:");
    let text = hactl_view::text::render(&view(CLONES), &hactl_view::Sections::STATUS);
    let ours = resource_block(&text, "Full List of Resources:");
    assert!(theirs.len() >= 8, "{theirs:#?}");
    assert_eq!(ours, theirs, "{text}");
}

/// `-n -r` as `crm_mon -1 -n -r` shows them: each node with its resources, the
/// state without the node's name and an anonymous clone's instance as its
/// primitive; under "Inactive Resources" the block of every resource with an
/// instance that is not running (the clone sets as in the full list, a stopped
/// primitive), never an anonymous instance's internal id (`ping:3`).
#[test]
fn status_text_by_node_and_inactive_as_crm_mon_shows_them() {
    // The clones, plus a primitive that runs nowhere.
    let xml = std::fs::read_to_string(CLONES).unwrap().replace(
        "</resources>",
        r#"<primitive id="vip" class="ocf" provider="pacemaker" type="Dummy"/></resources>"#,
    );
    let path = std::env::temp_dir().join(format!("hactl-view-by-node-{}.xml", std::process::id()));
    std::fs::write(&path, xml).unwrap();
    let path = path.to_str().unwrap();
    let theirs = crm_mon(path, &["-n", "-r"]);
    let sections = hactl_view::Sections {
        by_node: true,
        inactive: true,
        ..hactl_view::Sections::STATUS
    };
    let text = hactl_view::text::render(&view(path), &sections);
    std::fs::remove_file(path).unwrap();
    for header in ["Node List:", "Inactive Resources:"] {
        let want = resource_block(&theirs, header);
        assert!(want.len() >= 5, "{header} {want:#?}");
        assert_eq!(resource_block(&text, header), want, "{header}\n{text}");
    }
}
