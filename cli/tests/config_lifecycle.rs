//! The configuration lifecycle verbs against CIB files (`--cib FILE`), no daemon
//! needed: `cib push` (epoch check, `--diff`, `--dry-run`, Pacemaker XML). The same
//! verbs against a running 3-node cluster: `tests/tests/netns_config.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hactl_model::Cib;

const HACTL: &str = env!("CARGO_BIN_EXE_hactl");

fn hactl(args: &[&str]) -> Output {
    Command::new(HACTL)
        .args(args)
        .env_remove("HACTL_SOCKET")
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let o = hactl(args);
    assert!(
        o.status.success(),
        "hactl {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn read(p: &Path) -> Cib {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// A file CIB with nodes n1..n3 and fencing off.
fn live(dir: &Path) -> PathBuf {
    let p = dir.join("live.json");
    let cib = serde_json::json!({
        "epoch": 3,
        "config": {
            "nodes": [{"id": "n1", "name": "n1"}, {"id": "n2", "name": "n2"}, {"id": "n3", "name": "n3"}],
            "properties": {"stonith-enabled": "false"}
        }
    });
    std::fs::write(&p, cib.to_string()).unwrap();
    p
}

/// `tests/data/pacemaker-cts/<case>.xml` without its status section.
fn pacemaker_config(case: &str, to: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/pacemaker-cts")
        .join(format!("{case}.xml"));
    let xml = std::fs::read_to_string(&src).unwrap();
    let (head, rest) = xml.split_once("<status").expect("a status section");
    let tail = rest.split_once("</status>").expect("a closed status").1;
    let p = to.join(format!("{case}.xml"));
    std::fs::write(&p, format!("{head}{tail}")).unwrap();
    p
}

#[test]
fn push_of_a_stale_file_is_refused_and_review_modes_change_nothing() {
    let t = tempfile::tempdir().unwrap();
    let live = live(t.path());
    let l = live.to_str().unwrap();
    let pulled = t.path().join("pulled.json");
    std::fs::copy(&live, &pulled).unwrap();
    // The edit: a resource, and fencing stays off.
    let mut edit = read(&pulled);
    let dummy = serde_json::json!({"kind": "primitive", "id": "d1",
        "agent": {"class": "ocf", "provider": "pacemaker", "type": "Dummy"}});
    edit.config
        .resources
        .push(serde_json::from_value(dummy).unwrap());
    std::fs::write(&pulled, serde_json::to_string(&edit).unwrap()).unwrap();
    let p = pulled.to_str().unwrap();

    // Review first: the diff names the new resource; neither mode writes.
    let before = std::fs::read(&live).unwrap();
    assert_eq!(
        ok(&["cib", "push", p, "--cib", l, "--diff"]),
        "+ resource d1\n"
    );
    let dry = ok(&["cib", "push", p, "--cib", l, "--dry-run"]);
    assert!(dry.contains("Dry run"), "{dry}");
    assert_eq!(
        std::fs::read(&live).unwrap(),
        before,
        "a review changed the CIB"
    );

    // Someone else changes the live configuration: the pulled file is stale now.
    ok(&["property", "set", "no-quorum-policy=ignore", "--cib", l]);
    let before = std::fs::read(&live).unwrap();
    let o = hactl(&["cib", "push", p, "--cib", l]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("taken at epoch 3") && err.contains("at epoch 4"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&live).unwrap(),
        before,
        "a refused push wrote"
    );

    // --force replaces it anyway, as one change (one epoch step).
    ok(&["cib", "push", p, "--cib", l, "--force"]);
    let after = read(&live);
    assert_eq!(after.epoch, 5);
    assert!(after.config.find_primitive("d1").is_some());
    assert!(!after.config.properties.contains_key("no-quorum-policy"));
}

#[test]
fn push_of_an_invalid_file_lists_the_problems_and_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let live = live(t.path());
    let l = live.to_str().unwrap();
    let bad = t.path().join("bad.json");
    let mut cib = read(&live);
    cib.config
        .constraints
        .order
        .push(hactl_model::OrderConstraint {
            id: "o1".into(),
            first: "nope".into(),
            then: "nada".into(),
            ..Default::default()
        });
    std::fs::write(&bad, serde_json::to_string(&cib).unwrap()).unwrap();
    let before = std::fs::read(&live).unwrap();
    let o = hactl(&["cib", "push", bad.to_str().unwrap(), "--cib", l]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("\"nope\"") && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(std::fs::read(&live).unwrap(), before);
}

/// The migration path: a Pacemaker CIB (one of the CTS inputs, status stripped)
/// pushed into a cluster whose nodes have other names.
#[test]
fn push_of_a_pacemaker_cib_gives_its_resources_and_keeps_the_nodes() {
    let t = tempfile::tempdir().unwrap();
    let live = live(t.path());
    let l = live.to_str().unwrap();
    let xml = pacemaker_config("anti-colocation-order", t.path());
    let o = hactl(&["cib", "push", xml.to_str().unwrap(), "--cib", l, "--force"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("node1, node2 are not in this cluster"));
    let cib = read(&live);
    let c = &cib.config;
    let ids: Vec<&str> = c.resources.iter().map(|r| r.id()).collect();
    assert_eq!(ids, ["group1", "group2"]);
    let prims: Vec<&str> = c
        .resources
        .iter()
        .flat_map(|r| r.primitives())
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(prims, ["rsc1", "rsc2", "rsc3", "rsc4"]);
    assert_eq!(c.constraints.colocation[0].id, "colo-1");
    let nodes: Vec<&str> = c.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(nodes, ["n1", "n2", "n3"]);
    assert_eq!(c.properties["no-quorum-policy"], "ignore");
}
