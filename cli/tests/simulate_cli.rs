//! `hactl simulate` and `hactl cib …` end to end: the built binary, real files from
//! Pacemaker's regression suite and examples/, checked the way an operator reads them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cts(case: &str) -> PathBuf {
    repo().join(format!("tests/data/pacemaker-cts/{case}.xml"))
}

fn hactl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hactl"))
        .args(args)
        .output()
        .expect("run hactl")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The lines of the "Transition Summary:" block, whitespace-normalized.
fn summary_block(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| l.trim() != "Transition Summary:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn group1_prints_pacemakers_transition_summary() {
    let o = hactl(&["simulate", "--xml", path(&cts("group1"))]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("Current cluster status:"), "{out}");
    let expected = std::fs::read_to_string(repo().join("tests/data/pacemaker-cts/group1.summary"))
        .expect("group1.summary");
    let want = summary_block(&expected);
    assert_eq!(want.len(), 3, "oracle has three starts");
    assert_eq!(summary_block(&out), want, "{out}");
}

#[test]
fn execution_date_is_announced_like_crm_simulate() {
    let o = hactl(&[
        "simulate",
        "--xml",
        path(&repo().join("examples/web-cluster.xml")),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("Using the original execution date of: 2024-11-25 13:06:45Z\n"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn web_example_recovers_the_failed_group_and_explains_why() {
    let o = hactl(&[
        "simulate",
        "--xml",
        path(&repo().join("examples/web-cluster.xml")),
        "--show-scores",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    // The same decision crm_simulate 2.1.5 takes on this file.
    assert_eq!(
        summary_block(&out),
        [
            "* Move vip ( web1 -> web2 )",
            "* Recover haproxy ( web1 -> web2 )"
        ],
        "{out}"
    );
    assert!(out.contains("migration-threshold"), "{out}");
    assert!(out.contains("location-web-web2"), "{out}");
}

#[test]
fn revised_status_shows_the_target_placement() {
    let o = hactl(&[
        "simulate",
        "--xml",
        path(&repo().join("examples/web-cluster.xml")),
        "--revised",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let revised = out
        .split("Revised Cluster Status:")
        .nth(1)
        .unwrap_or_else(|| panic!("no revised block: {out}"));
    for rsc in ["vip", "haproxy"] {
        let line = revised
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("* {rsc}\t")))
            .unwrap_or_else(|| panic!("{rsc} missing: {revised}"));
        assert!(line.ends_with("Started web2"), "{line}");
    }
}

#[test]
fn node_fail_fences_and_moves() {
    // web3 runs the fence device; losing it uncleanly means fencing it, and the
    // device is restarted elsewhere.
    let o = hactl(&[
        "simulate",
        "--xml",
        path(&repo().join("examples/web-cluster.xml")),
        "--node-fail",
        "web3",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = summary_block(&stdout(&o));
    assert!(
        s.iter().any(|l| l.starts_with("* Fence (reboot) web3")),
        "{s:?}"
    );
    assert!(
        s.iter()
            .any(|l| l.starts_with("* Move fence-xvm ( web3 ->")),
        "{s:?}"
    );
}

#[test]
fn node_up_brings_an_unseen_node_in() {
    // rec-node-2: node1 has never reported (no node_state) and fencing is on, so it
    // is unclean and fenced; once it is up there is nothing to fence and it gets work.
    let file = cts("rec-node-2");
    let before = summary_block(&stdout(&hactl(&["simulate", "--xml", path(&file)])));
    assert!(
        before
            .iter()
            .any(|l| l.starts_with("* Fence (reboot) node1")),
        "{before:?}"
    );
    let o = hactl(&["simulate", "--xml", path(&file), "--node-up", "node1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = summary_block(&stdout(&o));
    assert!(!after.iter().any(|l| l.contains("Fence")), "{after:?}");
    assert!(after.iter().any(|l| l.ends_with("( node1 )")), "{after:?}");
}

#[test]
fn what_if_standby_and_op_fail() {
    let file = cts("group1");
    // Without what-ifs group1 starts on node1; with node1 in standby, on node2.
    let o = hactl(&["simulate", "--xml", path(&file), "--standby", "node1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = summary_block(&stdout(&o));
    assert_eq!(s.len(), 3, "{s:?}");
    assert!(s.iter().all(|l| l.ends_with("( node2 )")), "{s:?}");

    // A probe finding child_rsc1 already running on node2 (rc 0 where 7 was
    // expected): the group gathers around it on node2 instead of starting on node1.
    let o = hactl(&[
        "simulate",
        "--xml",
        path(&file),
        "--op-fail",
        "child_rsc1_monitor_0@node2=0",
        "--output",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let summary: Vec<&str> = t["summary"]
        .as_array()
        .expect("summary list")
        .iter()
        .filter_map(|l| l.as_str())
        .collect();
    assert!(
        !summary
            .iter()
            .any(|l| l.contains("child_rsc1") && l.contains("Start")),
        "child_rsc1 is already running: {summary:?}"
    );
}

#[test]
fn json_output_parses() {
    let o = hactl(&[
        "simulate",
        "--xml",
        path(&cts("group1")),
        "--output",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    let actions = t["actions"].as_array().expect("actions");
    assert!(!actions.is_empty());
    assert!(t["edges"].is_array() && t["placements"].is_array());
}

#[test]
fn bad_input_is_a_clear_error() {
    let o = hactl(&["simulate", "--xml", "/nonexistent/cib.xml"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("cannot read /nonexistent/cib.xml"),
        "{}",
        stderr(&o)
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("broken.xml");
    std::fs::write(&broken, "<cib><configuration><nodes>").unwrap();
    let o = hactl(&["simulate", "--xml", path(&broken)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("malformed XML"), "{}", stderr(&o));

    let clone = dir.path().join("clone.xml");
    std::fs::write(
        &clone,
        r#"<cib><configuration><resources><clone id="web-clone"><meta_attributes id="m"><nvpair id="m1" name="ordered" value="true"/></meta_attributes><group id="web-group"><primitive id="d" class="ocf" provider="pacemaker" type="Dummy"/></group></clone></resources></configuration></cib>"#,
    )
    .unwrap();
    let o = hactl(&["simulate", "--xml", path(&clone)]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("clones of groups") && e.contains("web-group"),
        "{e}"
    );

    for (args, needle) in [
        (
            vec!["--node-down", "nosuchnode"],
            "unknown node \"nosuchnode\"",
        ),
        (vec!["--op-fail", "garbage"], "RSC_OP_INTERVALMS@NODE=RC"),
        (
            vec!["--op-fail", "nosuch_monitor_0@node1=1"],
            "configured resource",
        ),
        (
            vec!["--op-fail", "child_rsc1_monitor_10s@node1=1"],
            "milliseconds",
        ),
        (vec!["--quorum", "maybe"], "expected true or false"),
        (vec!["--now", "tomorrow"], "RFC 3339"),
    ] {
        let group1 = cts("group1");
        let mut a = vec!["simulate", "--xml", path(&group1)];
        a.extend(args.iter().copied());
        let o = hactl(&a);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
    let o = hactl(&["simulate"]);
    assert!(!o.status.success(), "an input file is required");
}

/// Contained resources and remote nodes are scheduled by `hactl simulate` but
/// refused, by name, on the way to a cluster (`cib import`).
#[test]
fn containers_simulate_but_are_refused_for_a_cluster() {
    let xml = repo().join("tests/data/pacemaker-cts/wave2/container-2.xml");
    let o = hactl(&["simulate", "--xml", path(&xml)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(summary_block(&stdout(&o)).contains(&"* Restart container1 ( node1 )".to_string()));
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("c.json");
    let o = hactl(&["cib", "import", path(&xml), "-o", path(&json)]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("\"rsc1\"") && err.contains("container=container1"),
        "{err}"
    );
    assert!(err.contains("scheduled by `hactl simulate` only"), "{err}");
    assert!(!json.exists(), "nothing written");

    // A remote node: simulated (listed as crm_simulate lists it), refused for
    // a cluster.
    let xml = repo().join("tests/data/pacemaker-cts/wave2/remote-startup.xml");
    let o = hactl(&["simulate", "--xml", path(&xml)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("* RemoteNode remote1: UNCLEAN (offline)"));
    let o = hactl(&["cib", "import", path(&xml), "-o", path(&json)]);
    let err = stderr(&o);
    assert!(
        !o.status.success() && err.contains("\"remote1\": ocf:pacemaker:remote"),
        "{err}"
    );
}

/// An `rsc-pattern` location is expanded by `hactl simulate` against the file's
/// resources, as Pacemaker does when it schedules; a cluster would keep only
/// that expansion (a resource added later would not match), so `cib import`
/// (and `cib push`, through the same reader) refuses it by id.
#[test]
fn rsc_patterns_simulate_but_are_refused_for_a_cluster() {
    let prim = |id: &str| {
        format!(r#"<primitive id="{id}" class="ocf" provider="pacemaker" type="Dummy"/>"#)
    };
    let xml = format!(
        r#"<cib admin_epoch="0" epoch="1" num_updates="0" have-quorum="1" validate-with="pacemaker-3.9">
  <configuration>
    <crm_config><cluster_property_set id="options">
      <nvpair id="options-se" name="stonith-enabled" value="false"/>
    </cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>
    <resources>{}{}{}</resources>
    <constraints>
      <rsc_location id="web-on-2" rsc-pattern="^web-" node="node2" score="100"/>
    </constraints>
  </configuration>
  <status>
    <node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/>
    <node_state id="2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member"/>
  </status>
</cib>"#,
        prim("web-a"),
        prim("web-b"),
        prim("db")
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("pattern.xml");
    std::fs::write(&file, xml).expect("write");
    let o = hactl(&["simulate", "--xml", path(&file)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = summary_block(&stdout(&o));
    let starts_on = |rsc: &str, node: &str| {
        summary.iter().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w == ["*", "Start", rsc, "(", node, ")"]
        })
    };
    assert!(
        starts_on("web-a", "node2") && starts_on("web-b", "node2") && starts_on("db", "node1"),
        "{summary:?}"
    );
    let json = dir.path().join("c.json");
    let o = hactl(&["cib", "import", path(&file), "-o", path(&json)]);
    let err = stderr(&o);
    assert!(
        !o.status.success() && err.contains("\"web-on-2\"") && err.contains("rsc-pattern"),
        "{err}"
    );
    assert!(!json.exists(), "nothing written");
}

#[test]
fn cib_import_validate_generate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("group1.json");
    let o = hactl(&["cib", "import", path(&cts("group1")), "-o", path(&json)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cib: hactl_model::Cib =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).expect("model JSON");
    assert_eq!(cib.config.resources[0].id(), "rsc1");

    // Our JSON schedules like the XML it came from.
    let o = hactl(&["simulate", "--cib", path(&json)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(summary_block(&stdout(&o)).len(), 3);

    let o = hactl(&["cib", "validate", path(&json)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("valid (2 nodes, 3 resources"),
        "{}",
        stdout(&o)
    );

    // Two problems, both reported.
    let mut bad = cib.clone();
    bad.config
        .constraints
        .location
        .push(hactl_model::LocationConstraint {
            id: "loc-ghost".into(),
            rsc: "ghost".into(),
            node: Some("node1".into()),
            score: Some(hactl_model::Score::new(5)),
            ..Default::default()
        });
    bad.config
        .properties
        .insert("no-quorum-policy".into(), "panic".into());
    let badf = dir.path().join("bad.json");
    std::fs::write(&badf, serde_json::to_string(&bad).unwrap()).unwrap();
    let o = hactl(&["cib", "validate", path(&badf)]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("ghost") && out.contains("panic"), "{out}");

    let gen = dir.path().join("gen.xml");
    let o = hactl(&[
        "cib",
        "generate",
        "--nodes",
        "4",
        "--resources",
        "40",
        "--seed",
        "3",
        "-o",
        path(&gen),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = hactl(&["cib", "validate", path(&gen)]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("valid (4 nodes, 40 resources"),
        "{}",
        stdout(&o)
    );
    let again = hactl(&[
        "cib",
        "generate",
        "--nodes",
        "4",
        "--resources",
        "40",
        "--seed",
        "3",
    ]);
    assert_eq!(
        again.stdout,
        std::fs::read(&gen).unwrap(),
        "same seed, same file"
    );
}

/// `hactl status | head -1` panicked ("failed printing to stdout: Broken pipe"):
/// output commands stop quietly, with success, when the reader goes away. Both the
/// line printer (simulate's scores) and the bulk writer (cib generate) are covered;
/// each writes far more than a pipe holds, so the writes after the reader closed
/// its end are certain to fail.
#[test]
fn closed_output_pipe_ends_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().expect("tempdir");
    let big = dir.path().join("big.xml");
    let gen = hactl(&[
        "cib",
        "generate",
        "--nodes",
        "16",
        "--resources",
        "2000",
        "-o",
        path(&big),
    ]);
    assert!(gen.status.success(), "{}", stderr(&gen));
    let runs: [&[&str]; 2] = [
        &["simulate", "--xml", path(&big), "--show-scores"],
        &["cib", "generate", "--nodes", "16", "--resources", "2000"],
    ];
    for args in runs {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hactl"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hactl");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("first line");
        // The reader (and with it the pipe's read end) is dropped here, like head's.
        assert!(!first.is_empty(), "{args:?}: no output");
        let o = child.wait_with_output().expect("wait");
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(o.status.success(), "{args:?}: {:?} {err}", o.status);
    }
}

/// Logs written to a file (the daemon's, the demo's nI.log) held ANSI colour codes on
/// every line: colour is for terminals only.
#[test]
fn logs_to_a_file_have_no_colour_codes() {
    let o = Command::new(env!("CARGO_BIN_EXE_hactl"))
        .args(["--log", "info", "simulate", "--xml"])
        .arg(repo().join("examples/web-cluster.xml"))
        .output()
        .expect("run hactl");
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("INFO"), "something was logged: {err}");
    assert!(!err.contains('\x1b'), "{err:?}");
}

/// `operation_key on node` of every real action a transition-graph file names.
fn graph_actions(xml: &str) -> std::collections::BTreeSet<String> {
    xml.split("operation_key=\"")
        .skip(1)
        .filter_map(|rest| {
            let (key, tail) = rest.split_once('"')?;
            let line = tail.lines().next()?;
            let node = line.split("on_node=\"").nth(1)?.split('"').next()?;
            Some(format!("{key} on {node}"))
        })
        .collect()
}

#[test]
fn save_graph_writes_pacemakers_transition_graph() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("group1.graph.xml");
    let o = hactl(&[
        "simulate",
        "--xml",
        path(&cts("group1")),
        "--save-graph",
        path(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ours = std::fs::read_to_string(&out).expect("graph written");
    assert!(ours.starts_with("<transition_graph"), "{ours}");
    let exp = std::fs::read_to_string(repo().join("tests/data/pacemaker-cts/group1.exp"))
        .expect("group1.exp");
    let want = graph_actions(&exp);
    assert!(want.contains("child_rsc1_start_0 on node1"), "{want:?}");
    assert_eq!(graph_actions(&ours), want);
    let o = hactl(&[
        "simulate",
        "--xml",
        path(&cts("group1")),
        "--save-graph",
        path(&dir.path().join("no/such/dir/g.xml")),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("writing the transition graph"),
        "{}",
        stderr(&o)
    );
}

/// `--show-scores --raw` prints exactly what crm_simulate -s printed for the case
/// (Pacemaker's `.scores`, blank lines aside).
#[test]
fn raw_scores_match_crm_simulates() {
    let case = repo().join("tests/data/pacemaker-cts/wave2/params-0");
    let o = hactl(&[
        "simulate",
        "--xml",
        path(&case.with_extension("xml")),
        "--show-scores",
        "--raw",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want = std::fs::read_to_string(case.with_extension("scores")).expect("params-0.scores");
    let want: Vec<&str> = want.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(want.len(), 20, "oracle has 5 resources on 4 nodes");
    assert_eq!(stdout(&o).lines().collect::<Vec<_>>(), want);
    let o = hactl(&[
        "simulate",
        "--xml",
        path(&case.with_extension("xml")),
        "--raw",
    ]);
    assert!(!o.status.success(), "--raw needs --show-scores");
}
