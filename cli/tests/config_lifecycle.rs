//! The configuration lifecycle verbs against CIB files (`--cib FILE`), no daemon
//! needed: `cib push` (epoch check, `--diff`, `--dry-run`, Pacemaker XML). The same
//! verbs against a running 3-node cluster: `tests/tests/netns_config.rs`.

use std::path::{Path, PathBuf};

mod common;
use common::{hactl, mode, ok, read_cib as read, refused_unchanged, HACTL};
use std::process::Command;

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
    refused_unchanged(
        &["cib", "push", p, "--cib", l],
        &["taken at epoch 3", "at epoch 4"],
        &live,
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
    refused_unchanged(
        &["cib", "push", bad.to_str().unwrap(), "--cib", l],
        &["\"nope\"", "nothing was changed"],
        &live,
    );
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

/// A configuration with every construct `config export --format commands` writes:
/// properties (one unknown), both defaults, node attributes, standby and
/// maintenance, primitives with parameters (spaces, quotes, `;`), operations with
/// every attribute, meta attributes, a group with meta attributes, a fence device,
/// location constraints (node and rule), colocation with a role, order with options,
/// a fencing level.
fn every_construct(dir: &Path) -> PathBuf {
    let dummy = |id: &str| {
        serde_json::json!({"kind": "primitive", "id": id,
            "agent": {"class": "ocf", "provider": "heartbeat", "type": "Dummy"}})
    };
    let mut web = dummy("web");
    web["params"] = serde_json::json!({"state": "/run/it's here;$x", "fake": "a b"});
    web["meta"] = serde_json::json!({"resource-stickiness": "100", "target-role": "Stopped"});
    web["ops"] = serde_json::json!([
        {"id": "web-monitor-interval-10s", "name": "monitor", "interval_ms": 10000,
         "timeout_ms": 20000, "on_fail": "restart", "role": "Started",
         "extra": {"OCF_CHECK_LEVEL": "10"}},
        {"id": "web-mon-slow", "name": "monitor", "interval_ms": 60000, "enabled": false},
        {"id": "web-start-interval-0s", "name": "start", "interval_ms": 0, "timeout_ms": 90000},
    ]);
    let cib = serde_json::json!({
        "epoch": 12,
        "config": {
            "properties": {"stonith-enabled": "true", "no-quorum-policy": "stop", "my-note": "x y"},
            "rsc_defaults": {"resource-stickiness": "50", "migration-threshold": "3"},
            "op_defaults": {"timeout": "45s"},
            "nodes": [
                {"id": "n1", "name": "n1", "attributes": {"rack": "r 1", "ssd": "yes"}},
                {"id": "n2", "name": "n2", "standby": true},
                {"id": "n3", "name": "n3", "maintenance": true}
            ],
            "resources": [
                {"kind": "primitive", "id": "xvm", "agent": {"class": "stonith", "type": "fence_xvm"},
                 "params": {"pcmk_host_map": "n1:d1;n2:d2;n3:d3", "key_file": "/etc/k"}},
                web,
                {"kind": "group", "id": "g", "meta": {"priority": "10"},
                 "children": [dummy("g1"), dummy("g2")]},
                {"kind": "clone", "id": "db-set", "meta": {"promotable": "true", "promoted-max": "1"},
                 "child": {"kind": "primitive", "id": "db",
                    "agent": {"class": "ocf", "provider": "pacemaker", "type": "Stateful"},
                    "ops": [{"id": "db-monitor-promoted", "name": "monitor", "interval_ms": 11000,
                             "role": "Promoted"}]}},
            ],
            "constraints": {
                "location": [
                    {"id": "web-on-n1", "rsc": "web", "node": "n1", "score": "-INFINITY",
                     "resource_discovery": "never"},
                    {"id": "g-rack", "rsc": "g", "resource_discovery": "exclusive",
                     "rules": [{"id": "g-rack-rule", "score": 200,
                      "boolean_op": "or", "role": "Started", "expressions": [
                        {"id": "g-rack-rule-expr", "attribute": "rack", "operation": "eq", "value": "r 1"},
                        {"id": "g-rack-rule-expr-1", "attribute": "cores", "operation": "gte",
                         "value_type": "integer", "value": "8"},
                        {"id": "g-rack-rule-expr-2", "attribute": "ssd", "operation": "defined"}]}]},
                    {"id": "web-attr", "rsc": "web", "rules": [{"id": "web-attr-rule",
                      "score_attribute": "weight", "expressions": [
                        {"id": "web-attr-rule-expr", "attribute": "#uname", "operation": "ne", "value": "n3"}]}]}
                ],
                "colocation": [{"id": "web-with-g", "rsc": "web", "with_rsc": "g",
                                "score": "-INFINITY", "with_rsc_role": "Started"},
                               {"id": "g-with-db", "rsc": "g", "with_rsc": "db-set",
                                "score": "500", "with_rsc_role": "Promoted"}],
                "order": [{"id": "g-then-web", "first": "g", "then": "web", "first_action": "stop",
                           "then_action": "start", "kind": "Optional", "symmetrical": false},
                          {"id": "db-then-g", "first": "db-set", "then": "g", "first_action": "promote",
                           "then_action": "start"}]
            },
            "fencing_levels": [{"id": "fl-n1-1", "target": "n1", "index": 1, "devices": ["xvm"]}]
        }
    });
    let p = dir.join("every.json");
    std::fs::write(&p, cib.to_string()).unwrap();
    p
}

/// An empty CIB with the same nodes.
fn empty_like(dir: &Path) -> PathBuf {
    let p = dir.join("empty.json");
    let cib = serde_json::json!({"config": {"nodes": [
        {"id": "n1", "name": "n1"}, {"id": "n2", "name": "n2"}, {"id": "n3", "name": "n3"}]}});
    std::fs::write(&p, cib.to_string()).unwrap();
    p
}

/// Runs the exported script with `sh`, each command against the CIB file `cib`
/// (a `hactl` in PATH that adds `--cib`).
fn run_script(script: &str, dir: &Path, cib: &Path) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let wrapper = bin.join("hactl");
    std::fs::write(
        &wrapper,
        // `--cib FILE` goes before the first option (every exported command has one
        // after its verb; after a `--` it would be a word).
        format!(
            "#!/bin/sh\nfor a; do shift\n  if [ -z \"$done\" ] && [ \"${{a#--}}\" != \"$a\" ]; then set -- \"$@\" --cib {}; done=1; fi\n  set -- \"$@\" \"$a\"\ndone\nexec {HACTL} \"$@\"\n",
            cib.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "the exported script failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn exported_commands_recreate_every_construct() {
    let t = tempfile::tempdir().unwrap();
    let every = every_construct(t.path());
    let o = hactl(&[
        "config",
        "export",
        "--format",
        "commands",
        "--cib",
        every.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let script = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        !script.contains("NOTE"),
        "everything here can be said:\n{script}"
    );
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let target = empty_like(t.path());
    run_script(&script, t.path(), &target);
    let want = ok(&[
        "config",
        "--output",
        "json",
        "--cib",
        every.to_str().unwrap(),
    ]);
    let got = ok(&[
        "config",
        "--output",
        "json",
        "--cib",
        target.to_str().unwrap(),
    ]);
    assert_eq!(got, want, "script:\n{script}");
}

#[test]
fn what_commands_cannot_say_is_noted_not_dropped_silently() {
    let t = tempfile::tempdir().unwrap();
    let every = every_construct(t.path());
    let mut cib = read(&every);
    cib.config.constraints.colocation[0].influence = Some(false);
    cib.config.constraints.location[0].expires = Some(2_000_000_000);
    std::fs::write(&every, serde_json::to_string(&cib).unwrap()).unwrap();
    let o = hactl(&[
        "config",
        "export",
        "--format",
        "commands",
        "--cib",
        every.to_str().unwrap(),
    ]);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{err}");
    for id in ["web-with-g: influence", "web-on-n1: its expiry"] {
        assert!(out.contains("# NOTE: ") && out.contains(id), "{out}");
        assert!(err.contains(id), "{err}");
    }
}

#[test]
fn xml_export_reads_back_as_the_same_configuration() {
    let t = tempfile::tempdir().unwrap();
    let every = every_construct(t.path());
    // The XML importer keeps standby/maintenance as node attributes as well: leave
    // them out of this comparison (the commands test covers them).
    let mut cib = read(&every);
    for n in &mut cib.config.nodes {
        (n.standby, n.maintenance) = (false, false);
    }
    std::fs::write(&every, serde_json::to_string(&cib).unwrap()).unwrap();
    let xml = ok(&[
        "config",
        "export",
        "--format",
        "xml",
        "--cib",
        every.to_str().unwrap(),
    ]);
    let x = t.path().join("every.xml");
    std::fs::write(&x, xml).unwrap();
    let want = ok(&[
        "config",
        "--output",
        "json",
        "--cib",
        every.to_str().unwrap(),
    ]);
    let got = ok(&["config", "--output", "json", "--cib", x.to_str().unwrap()]);
    assert_eq!(got, want);
}

/// A cluster identity (cluster.toml, CA) named `name` in `dir`, made by `cluster setup`.
fn identity(dir: &Path, name: &str) {
    ok(&[
        "cluster",
        "--dir",
        dir.to_str().unwrap(),
        "setup",
        "--name",
        name,
        "--no-local",
        "n1=127.0.0.1:7420",
        "n2=127.0.0.2:7420",
        "n3=127.0.0.3:7420",
    ]);
}

#[test]
fn backup_then_restore_gives_the_same_configuration_and_keys_only_on_request() {
    let t = tempfile::tempdir().unwrap();
    let etc = t.path().join("etc");
    identity(&etc, "lab");
    let every = every_construct(t.path());
    let (e, d) = (every.to_str().unwrap(), etc.to_str().unwrap());
    let want = ok(&["config", "--output", "json", "--cib", e]);
    let b = t.path().join("b.json");
    let o = hactl(&[
        "config",
        "backup",
        b.to_str().unwrap(),
        "--dir",
        d,
        "--cib",
        e,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(mode(&b), 0o600);
    let text = std::fs::read_to_string(&b).unwrap();
    let key = std::fs::read_to_string(etc.join("ca.key")).unwrap();
    assert!(!text.contains(key.trim()) && !text.contains("PRIVATE KEY"));
    assert!(text.contains(
        std::fs::read_to_string(etc.join("ca.pem"))
            .unwrap()
            .trim()
            .lines()
            .nth(1)
            .unwrap()
    ));

    // Change everything: another configuration altogether.
    let target = empty_like(t.path());
    let tg = target.to_str().unwrap();
    ok(&["property", "set", "--cib", tg, "no-quorum-policy=ignore"]);
    ok(&[
        "resource",
        "create",
        "--force",
        "--cib",
        tg,
        "other",
        "ocf:heartbeat:Dummy",
    ]);
    ok(&[
        "config",
        "restore",
        b.to_str().unwrap(),
        "--dir",
        d,
        "--cib",
        tg,
    ]);
    assert_eq!(ok(&["config", "--output", "json", "--cib", tg]), want);

    // --with-keys: the keys are in, with a warning that never shows them.
    let o = hactl(&[
        "config",
        "backup",
        b.to_str().unwrap(),
        "--dir",
        d,
        "--cib",
        e,
        "--with-keys",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && err.contains("warning") && err.contains("ca.key"),
        "{err}"
    );
    assert!(!err.contains(key.trim()) && !String::from_utf8_lossy(&o.stdout).contains("PRIVATE"));
    assert!(std::fs::read_to_string(&b).unwrap().contains("PRIVATE KEY"));
    assert_eq!(mode(&b), 0o600);

    // --files into an empty config dir: the files back, keys 0600.
    let fresh = t.path().join("fresh");
    ok(&[
        "config",
        "restore",
        b.to_str().unwrap(),
        "--dir",
        fresh.to_str().unwrap(),
        "--cib",
        tg,
        "--files",
        "--force",
    ]);
    for f in ["cluster.toml", "ca.pem", "ca.key"] {
        assert_eq!(
            std::fs::read_to_string(fresh.join(f)).unwrap(),
            std::fs::read_to_string(etc.join(f)).unwrap()
        );
    }
    assert_eq!(mode(&fresh.join("ca.key")), 0o600);
}

#[test]
fn restore_of_another_clusters_backup_is_refused_without_force() {
    let t = tempfile::tempdir().unwrap();
    let (lab, other) = (t.path().join("lab"), t.path().join("other"));
    identity(&lab, "lab");
    identity(&other, "other");
    let every = every_construct(t.path());
    let b = t.path().join("b.json");
    ok(&[
        "config",
        "backup",
        b.to_str().unwrap(),
        "--dir",
        lab.to_str().unwrap(),
        "--cib",
        every.to_str().unwrap(),
    ]);
    let target = empty_like(t.path());
    refused_unchanged(
        &[
            "config",
            "restore",
            b.to_str().unwrap(),
            "--dir",
            other.to_str().unwrap(),
            "--cib",
            target.to_str().unwrap(),
        ],
        &["\"lab\"", "\"other\""],
        &target,
    );
    ok(&[
        "config",
        "restore",
        b.to_str().unwrap(),
        "--dir",
        other.to_str().unwrap(),
        "--cib",
        target.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(
        read(&target).config.resources.len(),
        read(&every).config.resources.len()
    );
}
