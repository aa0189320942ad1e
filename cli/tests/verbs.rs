//! The configuration verbs against CIB files (`--cib FILE`), no daemon needed:
//! `--dry-run` prints the transition the real policy engine computes and leaves the
//! file alone; without `--dry-run` the file is rewritten; bad input gets a clear
//! error before anything changes. Agent checks use the real ClusterLabs agents
//! installed on this machine (resource-agents).

use hactl_model::change::{Change, NodeStateUpdate};
use hactl_model::{AgentSpec, Cib, Node, OpRecord, OrderAction, Resource, Role};
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{failed, refused_unchanged_by, succeeded, temp_dir as tmp};

/// Three online nodes with quorum, fencing off (nothing here can fence).
fn three_nodes() -> Cib {
    let mut cib = Cib::default();
    for n in ["n1", "n2", "n3"] {
        Change::AddNode {
            node: Node {
                name: n.into(),
                ..Default::default()
            },
        }
        .apply(&mut cib)
        .unwrap();
        Change::SetNodeState {
            node: n.into(),
            state: NodeStateUpdate {
                member: Some(true),
                controller_online: Some(true),
                join: Some("member".into()),
                expected: Some("member".into()),
            },
        }
        .apply(&mut cib)
        .unwrap();
    }
    Change::SetProperty {
        name: "stonith-enabled".into(),
        value: "false".into(),
    }
    .apply(&mut cib)
    .unwrap();
    Change::SetQuorum {
        have_quorum: true,
        dc: Some("n1".into()),
    }
    .apply(&mut cib)
    .unwrap();
    cib.execution_date = Some(1_700_000_000);
    cib
}

/// Records `rsc` as started on `on` and probed (not running) elsewhere.
fn mark_running(cib: &mut Cib, rsc: &str, on: &str) {
    let agent = cib.config.find_primitive(rsc).unwrap().agent.clone();
    for n in ["n1", "n2", "n3"] {
        let (op, rc) = if n == on {
            ("start", 0)
        } else {
            ("monitor", 7)
        };
        Change::RecordOp {
            node: n.into(),
            rsc: rsc.into(),
            agent: agent.clone(),
            op: OpRecord {
                operation: op.into(),
                call_id: 1,
                rc,
                ..Default::default()
            },
        }
        .apply(cib)
        .unwrap();
    }
}

/// [`three_nodes`] with an `ocf:heartbeat:Dummy` named `d`, running on `on`.
fn with_dummy_on(on: Option<&str>) -> Cib {
    let mut cib = three_nodes();
    Change::AddResource {
        resource: hactl_model::Resource::Primitive(hactl_model::Primitive {
            id: "d".into(),
            agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
            ..Default::default()
        }),
    }
    .apply(&mut cib)
    .unwrap();
    if let Some(n) = on {
        mark_running(&mut cib, "d", n);
    }
    cib
}

fn write(dir: &tempfile::TempDir, cib: &Cib) -> PathBuf {
    let p = dir.path().join("cib.json");
    std::fs::write(&p, serde_json::to_string_pretty(cib).unwrap()).unwrap();
    p
}

fn read(p: &Path) -> Cib {
    common::read_cib(p)
}

/// `hactl ARGS`; never reaching a daemon by accident (every test here works on files).
fn hactl(args: &[&str]) -> Output {
    common::command(args)
        .env("HACTL_SOCKET", "/nonexistent/hactl-verbs-test.sock")
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    succeeded(args, &hactl(args))
}

fn err(args: &[&str]) -> String {
    failed(args, &hactl(args))
}

#[test]
fn create_dry_run_prints_transition_and_changes_nothing() {
    let d = tmp("create");
    let f = write(&d, &three_nodes());
    let before = std::fs::read(&f).unwrap();
    let fs = f.to_str().unwrap();
    let out = ok(&[
        "resource",
        "create",
        "vip",
        "ocf:heartbeat:IPaddr2",
        "ip=10.0.0.100",
        "cidr_netmask=24",
        "op",
        "monitor",
        "interval=10s",
        "--group",
        "web",
        "--dry-run",
        "--cib",
        fs,
    ]);
    assert!(
        out.contains("Dry run: create resource vip in group web"),
        "{out}"
    );
    assert!(out.contains("Transition Summary:"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("Start") && l.contains("vip")),
        "{out}"
    );
    assert_eq!(std::fs::read(&f).unwrap(), before, "dry run wrote the file");
    // JSON output carries the change and the summary.
    let j: serde_json::Value = serde_json::from_str(&ok(&[
        "resource",
        "create",
        "vip",
        "ocf:heartbeat:IPaddr2",
        "ip=10.0.0.100",
        "--dry-run",
        "--output",
        "json",
        "--cib",
        fs,
    ]))
    .unwrap();
    assert_eq!(j["change"]["change"], "add_resource");
    assert!(j["summary"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s.as_str().unwrap().contains("vip")));
}

#[test]
fn create_adds_the_agents_monitor_and_writes_the_file() {
    let d = tmp("write");
    let f = write(&d, &three_nodes());
    let fs = f.to_str().unwrap();
    ok(&[
        "resource",
        "create",
        "d",
        "ocf:heartbeat:Dummy",
        "--cib",
        fs,
    ]);
    let cib = read(&f);
    let p = cib.config.find_primitive("d").unwrap();
    assert_eq!(p.agent, AgentSpec::parse("ocf:heartbeat:Dummy").unwrap());
    // Dummy's meta-data advertises a 10s monitor; pcs adds it when none is given.
    assert!(
        p.ops
            .iter()
            .any(|o| o.name == "monitor" && o.interval_ms > 0),
        "{:?}",
        p.ops
    );
    ok(&["resource", "disable", "d", "--cib", fs]);
    assert_eq!(
        read(&f).config.find_primitive("d").unwrap().meta["target-role"],
        "Stopped"
    );
    ok(&["resource", "enable", "d", "--cib", fs]);
    ok(&[
        "constraint",
        "location",
        "d",
        "prefers",
        "n2=50",
        "--cib",
        fs,
    ]);
    let list = ok(&["constraint", "list", "--cib", fs]);
    assert!(list.contains("d prefers n2 (score: 50)"), "{list}");
    ok(&["property", "set", "no-quorum-policy=freeze", "--cib", fs]);
    let props = ok(&["property", "list", "--cib", fs]);
    assert!(props.contains("no-quorum-policy: freeze"), "{props}");
    ok(&["resource", "delete", "d", "--cib", fs]);
    let cib = read(&f);
    assert!(cib.config.resources.is_empty());
    assert!(
        cib.config.constraints.location.is_empty(),
        "delete removes constraints naming it"
    );
}

#[test]
fn unknown_agent_and_missing_required_parameter_are_refused() {
    let d = tmp("agent");
    let f = write(&d, &three_nodes());
    refused_all(
        &f,
        &[
            (
                &["resource", "create", "x", "ocf:heartbeat:NoSuchAgent"],
                "not installed",
            ),
            (
                &[
                    "resource",
                    "create",
                    "vip",
                    "ocf:heartbeat:IPaddr2",
                    "cidr_netmask=24",
                ],
                "required parameter 'ip'",
            ),
            (
                &[
                    "resource",
                    "create",
                    "vip",
                    "ocf:heartbeat:IPaddr2",
                    "ip=10.0.0.1",
                    "colour=red",
                ],
                "unknown parameter 'colour'",
            ),
            (&["resource", "create", "vip", "ocf:IPaddr2"], "provider"),
        ],
    );
}

#[test]
fn bad_constraints_are_refused_with_the_reason() {
    let d = tmp("constraints");
    let cib = with_dummy_on(None);
    let f = write(&d, &cib);
    refused_all(
        &f,
        &[
            (
                &["constraint", "location", "d", "prefers", "n1=lots"],
                "invalid score \"lots\"",
            ),
            (
                &["constraint", "colocation", "add", "ghost", "with", "d"],
                "ghost",
            ),
            (
                &["constraint", "order", "d", "then", "ghost", "--dry-run"],
                "ghost",
            ),
            (&["constraint", "order", "d", "ghost"], "missing `then`"),
            (&["constraint", "location", "d", "prefers", "n9"], "n9"),
            (&["property", "set", "no-quorum-policy=dance"], "dance"),
            (&["node", "standby"], "name the node"),
        ],
    );
}

#[test]
fn move_standby_and_ban_dry_runs_show_the_move() {
    let d = tmp("move");
    let cib = with_dummy_on(Some("n1"));
    let f = write(&d, &cib);
    let fs = f.to_str().unwrap();
    let status = ok(&["status", "--cib", fs]);
    assert!(status.contains("Started n1"), "{status}");
    let moved = |out: &str, to: &str| {
        out.lines()
            .any(|l| l.contains("Move") && l.contains('d') && l.contains(to))
    };
    let out = ok(&["resource", "move", "d", "n2", "--dry-run", "--cib", fs]);
    assert!(moved(&out, "n2"), "{out}");
    let out = ok(&["node", "standby", "n1", "--dry-run", "--cib", fs]);
    assert!(moved(&out, "n"), "{out}");
    let out = ok(&["resource", "ban", "d", "--dry-run", "--cib", fs]);
    assert!(out.contains("ban d from n1"), "{out}");
    // Without --dry-run on a file: the move constraint is written and shown in status.
    ok(&["resource", "move", "d", "n3", "--cib", fs]);
    let status = ok(&["status", "--cib", fs]);
    assert!(status.contains("cli-move-d"), "{status}");
    assert!(status.contains("Pending actions"), "{status}");
    let j: serde_json::Value =
        serde_json::from_str(&ok(&["status", "--cib", fs, "--output", "json"])).unwrap();
    assert_eq!(j["settled"], false);
    assert_eq!(j["move_constraints"][0]["id"], "cli-move-d");
    ok(&["resource", "clear", "d", "--cib", fs]);
    assert!(read(&f).config.constraints.location.is_empty());
    let e = err(&["resource", "clear", "d", "--cib", fs]);
    assert!(e.contains("no move or ban"), "{e}");
}

#[test]
fn status_json_reports_failures_and_failcounts() {
    let d = tmp("status");
    let mut cib = with_dummy_on(Some("n1"));
    Change::RecordOp {
        node: "n1".into(),
        rsc: "d".into(),
        agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
        op: OpRecord {
            operation: "monitor".into(),
            interval_ms: 10_000,
            call_id: 5,
            rc: 7,
            exit_reason: Some("gone".into()),
            ..Default::default()
        },
    }
    .apply(&mut cib)
    .unwrap();
    Change::SetFailCount {
        node: "n1".into(),
        failcount: hactl_model::FailCount {
            rsc: "d".into(),
            op: Some("monitor".into()),
            interval_ms: Some(10_000),
            count: hactl_model::Score::new(1),
            last_failure: Some(1_699_999_990),
        },
    }
    .apply(&mut cib)
    .unwrap();
    let f = write(&d, &cib);
    let fs = f.to_str().unwrap();
    let j: serde_json::Value =
        serde_json::from_str(&ok(&["status", "--cib", fs, "--output", "json"])).unwrap();
    assert_eq!(j["dc"], "n1");
    assert_eq!(j["have_quorum"], true);
    assert_eq!(j["failed_actions"][0]["resource"], "d");
    assert_eq!(j["failed_actions"][0]["rc_text"], "not running");
    assert_eq!(j["failcounts"][0]["count"], 1);
    let text = ok(&["status", "--cib", fs]);
    assert!(text.contains("Failed Resource Actions:"), "{text}");
    assert!(text.contains("d on n1: fail-count=1"), "{text}");
    let fc = ok(&["resource", "failcount", "show", "d", "--cib", fs]);
    assert!(fc.contains("d on n1 monitor 10s: 1"), "{fc}");
    ok(&["resource", "cleanup", "d", "--cib", fs]);
    assert!(read(&f).status.nodes["n1"].failcounts.is_empty());
}

/// Issue: invalid agent parameters were accepted at create and only failed at run
/// time (where a failing stop gets nodes fenced). Every value the native VIP cannot
/// use, and an address the real IPaddr2's validate-all calls invalid, is refused
/// before anything is written, naming the parameter; `IPaddr2` alone resolves like
/// `resource describe IPaddr2` does, and an ambiguous short name is an error.
#[test]
fn create_refuses_invalid_agent_parameters_before_anything_is_written() {
    let d = tmp("invalid-params");
    let f = write(&d, &three_nodes());
    let before = std::fs::read(&f).unwrap();
    let fs = f.to_str().unwrap();
    for (k, v) in [
        ("ip", "999.1.1.1"),
        ("ip", "224.0.0.1"),
        ("cidr_netmask", "33"),
        ("nic", "a/b"),
        ("arp_count", "-1"),
    ] {
        let mut args = vec!["resource", "create", "vipbad", "ocf:hactl:VIP"];
        let kv = format!("{k}={v}");
        if k != "ip" {
            args.push("ip=10.231.0.10");
        }
        args.extend([kv.as_str(), "--cib", fs]);
        let e = err(&args);
        assert!(e.contains(&format!("parameter '{k}'")), "{kv}: {e}");
    }
    let e = err(&[
        "resource",
        "create",
        "foo",
        "IPaddr2",
        "ip=10.99.0.300",
        "--cib",
        fs,
    ]);
    assert!(
        e.contains("ocf:heartbeat:IPaddr2 refused the parameters") && e.contains("10.99.0.300"),
        "{e}"
    );
    assert_eq!(
        std::fs::read(&f).unwrap(),
        before,
        "a refused create wrote the file"
    );
    let out = ok(&[
        "resource",
        "create",
        "foo",
        "IPaddr2",
        "ip=10.231.0.10",
        "--dry-run",
        "--cib",
        fs,
    ]);
    assert!(out.contains("Start") && out.contains("foo"), "{out}");
    let e = err(&["resource", "create", "d", "Dummy", "--cib", fs]);
    assert!(
        e.contains("ambiguous") && e.contains("ocf:heartbeat:Dummy"),
        "{e}"
    );
}

/// `--dry-run` of a change to a resource that cannot run says why: here its start
/// failed with "not configured" on n1 (Pacemaker's rule: stopped everywhere).
#[test]
fn dry_run_says_why_a_resource_would_not_start() {
    let d = tmp("would-not-start");
    let mut cib = three_nodes();
    Change::AddResource {
        resource: hactl_model::Resource::Primitive(hactl_model::Primitive {
            id: "vip".into(),
            agent: AgentSpec::parse("ocf:hactl:VIP").unwrap(),
            params: [("ip".to_string(), "10.231.0.10".to_string())].into(),
            ..Default::default()
        }),
    }
    .apply(&mut cib)
    .unwrap();
    mark_running(&mut cib, "vip", "n1");
    Change::RecordOp {
        node: "n1".into(),
        rsc: "vip".into(),
        agent: AgentSpec::parse("ocf:hactl:VIP").unwrap(),
        op: OpRecord {
            operation: "start".into(),
            call_id: 2,
            rc: 6,
            exit_reason: Some("parameter 'ip': typo".into()),
            ..Default::default()
        },
    }
    .apply(&mut cib)
    .unwrap();
    let f = write(&d, &cib);
    let fs = f.to_str().unwrap();
    let out = ok(&[
        "resource",
        "update",
        "vip",
        "arp_count=3",
        "--dry-run",
        "--cib",
        fs,
    ]);
    assert!(
        out.contains("Note: vip would not start:")
            && out.contains("-INFINITY fatal error (invalid configuration)"),
        "{out}"
    );
    let j: serde_json::Value = serde_json::from_str(&ok(&[
        "resource",
        "update",
        "vip",
        "arp_count=3",
        "--dry-run",
        "--output",
        "json",
        "--cib",
        fs,
    ]))
    .unwrap();
    assert_eq!(j["would_not_start"][0]["resource"], "vip", "{j}");
}

/// A CIB with a fence device, a fencing level and both kinds of defaults (set in the
/// model directly: they are not what these tests exercise).
fn with_fencing_and_defaults() -> Cib {
    let mut cib = three_nodes();
    Change::AddResource {
        resource: hactl_model::Resource::Primitive(hactl_model::Primitive {
            id: "xvm".into(),
            agent: AgentSpec::parse("stonith:fence_xvm").unwrap(),
            params: [("pcmk_host_list".to_string(), "n1 n2 n3".to_string())].into(),
            ..Default::default()
        }),
    }
    .apply(&mut cib)
    .unwrap();
    cib.config.fencing_levels.push(hactl_model::FencingLevel {
        id: "fl-n1-1".into(),
        target: "n1".into(),
        index: 1,
        devices: vec!["xvm".into()],
    });
    cib.config
        .rsc_defaults
        .insert("resource-stickiness".into(), "100".into());
    cib.config
        .op_defaults
        .insert("timeout".into(), "45s".into());
    cib
}

/// `hactl config` shows the whole configuration, grouped like `pcs config`: resources
/// with their operations and meta attributes, groups, fence devices apart, fencing
/// levels, constraints with their ids, defaults and properties; `--output json` has
/// each part under its own key.
#[test]
fn config_shows_the_whole_configuration_grouped_like_pcs() {
    let d = tmp("config");
    let f = write(&d, &with_fencing_and_defaults());
    let fs = f.to_str().unwrap();
    let create = |name: &str, extra: &[&str]| {
        let mut a = vec![
            "resource",
            "create",
            name,
            "ocf:heartbeat:Dummy",
            "--cib",
            fs,
        ];
        a.extend_from_slice(extra);
        ok(&a);
    };
    create(
        "web",
        &[
            "op",
            "monitor",
            "interval=20s",
            "meta",
            "migration-threshold=3",
        ],
    );
    create("db1", &["--group", "g"]);
    create("db2", &["--group", "g"]);
    ok(&[
        "constraint",
        "colocation",
        "add",
        "web",
        "with",
        "g",
        "--cib",
        fs,
    ]);
    ok(&[
        "constraint",
        "location",
        "web",
        "prefers",
        "n2=50",
        "--cib",
        fs,
    ]);

    let text = ok(&["config", "--cib", fs]);
    let section = |title: &str| -> String {
        let start = text
            .find(&format!("{title}:\n"))
            .unwrap_or_else(|| panic!("no {title}:\n{text}"));
        let rest = &text[start + title.len() + 2..];
        let end = rest.find("\n\n").unwrap_or(rest.len());
        rest[..end].to_string()
    };
    let res = section("Resources");
    assert!(res.contains("Resource: web (ocf:heartbeat:Dummy)"), "{res}");
    assert!(
        res.contains("Meta Attributes: migration-threshold=3"),
        "{res}"
    );
    assert!(res.contains("Operation: monitor interval=20s"), "{res}");
    assert!(res.contains("Group: g\n    Resource: db1"), "{res}");
    assert!(
        !res.contains("xvm"),
        "fence devices are listed apart: {res}"
    );
    let st = section("Stonith Devices");
    assert!(st.contains("Resource: xvm (stonith:fence_xvm)"), "{st}");
    assert!(st.contains("Attributes: pcmk_host_list=n1 n2 n3"), "{st}");
    assert!(
        text.contains("Fencing Levels:\n  Target: n1\n    Level 1 - xvm"),
        "{text}"
    );
    assert!(
        text.contains("web prefers n2 (score: 50) (id: location-web-n2-50)"),
        "{text}"
    );
    assert!(
        text.contains("web with g (score: INFINITY) (id: colocation-web-g-INFINITY)"),
        "{text}"
    );
    assert!(
        section("Resources Defaults").contains("resource-stickiness=100"),
        "{text}"
    );
    assert!(
        section("Operations Defaults").contains("timeout=45s"),
        "{text}"
    );
    assert!(
        section("Cluster Properties").contains("stonith-enabled: false"),
        "{text}"
    );

    let v: serde_json::Value =
        serde_json::from_str(&ok(&["config", "--cib", fs, "--output", "json"])).unwrap();
    let ids = |k: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids("resources"), ["web", "g"]);
    assert_eq!(ids("stonith"), ["xvm"]);
    assert_eq!(v["constraints"]["location"][0]["id"], "location-web-n2-50");
    assert_eq!(v["fencing_levels"][0]["devices"][0], "xvm");
    assert_eq!(v["rsc_defaults"]["resource-stickiness"], "100");
    assert_eq!(v["op_defaults"]["timeout"], "45s");
    assert_eq!(v["properties"]["stonith-enabled"], "false");
}

/// `constraint ref R` lists every constraint that names R, whichever side R is on,
/// and nothing else; an unknown resource is an error.
#[test]
fn constraint_ref_lists_every_constraint_naming_the_resource() {
    let d = tmp("ref");
    let f = write(&d, &three_nodes());
    let fs = f.to_str().unwrap();
    for r in ["a", "b", "c"] {
        ok(&["resource", "create", r, "ocf:heartbeat:Dummy", "--cib", fs]);
    }
    ok(&[
        "constraint",
        "location",
        "a",
        "prefers",
        "n2=50",
        "--cib",
        fs,
    ]);
    ok(&["constraint", "location", "b", "avoids", "n1", "--cib", fs]);
    ok(&[
        "constraint",
        "colocation",
        "add",
        "b",
        "with",
        "a",
        "--cib",
        fs,
    ]);
    ok(&["constraint", "order", "c", "then", "a", "--cib", fs]);
    ok(&["constraint", "order", "b", "then", "c", "--cib", fs]);

    let text = ok(&["constraint", "ref", "a", "--cib", fs]);
    assert_eq!(
        text,
        "Resource: a\n  location-a-n2-50\n  colocation-b-a-INFINITY\n  order-c-a-mandatory\n"
    );
    let v: serde_json::Value = serde_json::from_str(&ok(&[
        "constraint",
        "ref",
        "b",
        "c",
        "--cib",
        fs,
        "--output",
        "json",
    ]))
    .unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "b": ["location-b-n1--INFINITY", "colocation-b-a-INFINITY", "order-b-c-mandatory"],
            "c": ["order-c-a-mandatory", "order-b-c-mandatory"],
        })
    );
    let e = err(&["constraint", "ref", "nosuch", "--cib", fs]);
    assert!(e.contains("no resource \"nosuch\""), "{e}");
}

/// `resource defaults` and `resource op defaults` (pcs's words) list, set (`k=v`, with
/// or without pcs's `update`) and remove (`k=`) rsc_defaults and op_defaults; a bad
/// value or removing what is not set is refused and changes nothing.
#[test]
fn resource_and_op_defaults_are_listed_set_and_removed() {
    let d = tmp("defaults");
    let f = write(&d, &three_nodes());
    let fs = f.to_str().unwrap();
    let out = ok(&["resource", "defaults", "--cib", fs]);
    assert_eq!(out, "Resource Defaults:\n  No defaults set\n");
    ok(&[
        "resource",
        "defaults",
        "update",
        "resource-stickiness=100",
        "--cib",
        fs,
    ]);
    ok(&["resource", "op", "defaults", "timeout=45s", "--cib", fs]);
    let cib = read(&f);
    assert_eq!(cib.config.rsc_defaults["resource-stickiness"], "100");
    assert_eq!(cib.config.op_defaults["timeout"], "45s");
    let out = ok(&["resource", "defaults", "--cib", fs]);
    assert_eq!(out, "Resource Defaults:\n  resource-stickiness=100\n");
    let v: serde_json::Value = serde_json::from_str(&ok(&[
        "resource", "op", "defaults", "--cib", fs, "--output", "json",
    ]))
    .unwrap();
    assert_eq!(v, serde_json::json!({"timeout": "45s"}));

    let e = err(&["resource", "op", "defaults", "timeout=soon", "--cib", fs]);
    assert!(e.contains("refused") && e.contains("soon"), "{e}");
    let e = err(&["resource", "defaults", "migration-threshold=", "--cib", fs]);
    assert!(
        e.contains("resource default \"migration-threshold\""),
        "{e}"
    );
    assert_eq!(
        read(&f).config,
        cib.config,
        "refused changes leave the file alone"
    );

    ok(&["resource", "defaults", "resource-stickiness=", "--cib", fs]);
    ok(&["resource", "op", "defaults", "timeout=", "--cib", fs]);
    let cib = read(&f);
    assert!(cib.config.rsc_defaults.is_empty() && cib.config.op_defaults.is_empty());
}

/// `constraint location R rule ...` (pcs's grammar) adds a rule-based location
/// constraint the scheduler honours; malformed rules are refused.
#[test]
fn location_rule_constraints_are_added_and_honoured() {
    let d = tmp("rule");
    let f = write(&d, &three_nodes());
    let fs = f.to_str().unwrap();
    ok(&[
        "resource",
        "create",
        "a",
        "ocf:heartbeat:Dummy",
        "--cib",
        fs,
    ]);
    let loc = |args: &[&str]| {
        let mut a = vec!["constraint", "location", "a", "rule"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["--cib", fs]);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |args: &[&str]| ok(&loc(args).iter().map(String::as_str).collect::<Vec<_>>());
    // Only n3 is allowed: a dry run starts a there.
    let out = run(&["score=-INFINITY", "#uname", "ne", "n3", "--dry-run"]);
    assert!(
        out.lines()
            .any(|l| l.contains("Start") && l.contains(" a ") && l.contains("n3")),
        "{out}"
    );
    assert!(!out.contains("n1") && !out.contains("n2"), "{out}");
    run(&["score=-INFINITY", "#uname", "ne", "n3"]);
    run(&[
        "score=50", "defined", "pingd", "and", "pingd", "gt", "integer", "0",
    ]);
    let cib = read(&f);
    let [first, second] = cib.config.constraints.location.as_slice() else {
        panic!("{:?}", cib.config.constraints.location)
    };
    assert_eq!(first.id, "location-a");
    assert_eq!(first.rules[0].expressions[0].attribute, "#uname");
    assert_eq!(second.id, "location-a-1");
    let r = &second.rules[0];
    assert_eq!(r.score.unwrap().value(), 50);
    assert_eq!(r.boolean_op.unwrap().as_str(), "and");
    assert_eq!(r.expressions.len(), 2);
    assert_eq!(r.expressions[1].value.as_deref(), Some("0"));
    assert_eq!(r.expressions[1].value_type.unwrap().as_str(), "integer");

    let bad = |args: &[&str]| err(&loc(args).iter().map(String::as_str).collect::<Vec<_>>());
    let e = bad(&[
        "#uname", "eq", "n1", "and", "#uname", "eq", "n2", "or", "defined", "x",
    ]);
    assert!(e.contains("either and or or"), "{e}");
    let e = bad(&["#uname", "like", "n1"]);
    assert!(e.contains("like"), "{e}");
    let e = bad(&["#uname", "eq"]);
    assert!(e.contains("no value"), "{e}");
    assert_eq!(read(&f).config, cib.config, "refused rules change nothing");
}

#[test]
fn ticket_grant_add_revoke_and_standby_drive_the_resource() {
    let d = tmp("ticket");
    let cib = with_dummy_on(Some("n1"));
    let f = write(&d, &cib);
    let fs = f.to_str().unwrap();
    ok(&["ticket", "grant", "T", "--cib", fs]);
    ok(&["ticket", "add", "T", "d", "loss-policy=stop", "--cib", fs]);
    assert!(read(&f).status.tickets["T"].granted);
    let stops = |out: &str| out.lines().any(|l| l.contains("Stop") && l.contains('d'));
    let out = ok(&["ticket", "revoke", "T", "--dry-run", "--cib", fs]);
    assert!(stops(&out), "{out}");
    let out = ok(&["ticket", "standby", "T", "--dry-run", "--cib", fs]);
    assert!(stops(&out), "{out}");
    let list = ok(&["ticket", "list", "--cib", fs]);
    assert!(list.contains("T: granted (needed by: d)"), "{list}");
    // Revoked for real: the file records it, and the resource is to stop.
    ok(&["ticket", "revoke", "T", "--cib", fs]);
    assert!(!read(&f).status.tickets["T"].granted);
    let status = ok(&["status", "--cib", fs]);
    assert!(status.contains("Pending actions"), "{status}");
    let e = err(&["ticket", "standby", "U", "--cib", fs]);
    assert!(e.contains("no ticket \"U\""), "{e}");
}

/// `hactl ARGS --cib FILE` is refused: exit code 1 (refused before anything
/// changed), a message containing `why`, the file untouched.
fn refused_unchanged(args: &[&str], file: &Path, why: &str) {
    let mut all = args.to_vec();
    all.extend(["--cib", file.to_str().unwrap()]);
    refused_unchanged_by(hactl, &all, &[why], file);
}

/// Each `(ARGS, why)` is refused as [`refused_unchanged`] says.
fn refused_all(file: &Path, cases: &[(&[&str], &str)]) {
    for (args, why) in cases {
        refused_unchanged(args, file, why);
    }
}

/// `resource clone`, `unclone` and `promotable` (pcs's words): the clone is
/// `R-clone`, its meta attributes as given, constraints on R follow it into the
/// clone and back out; `resource config` and `config` show it; a dry run shows the
/// instances the policy engine would start.
#[test]
fn clone_unclone_and_promotable_move_the_resource_and_its_constraints() {
    let d = tmp("clone");
    let f = write(&d, &three_nodes());
    let fs = f.to_str().unwrap();
    ok(&[
        "resource",
        "create",
        "web",
        "ocf:heartbeat:Dummy",
        "--cib",
        fs,
    ]);
    ok(&["constraint", "location", "web", "avoids", "n3", "--cib", fs]);
    let out = ok(&["resource", "clone", "web", "--dry-run", "--cib", fs]);
    assert!(out.contains("Start") && out.contains("web:0"), "{out}");
    ok(&[
        "resource",
        "clone",
        "web",
        "meta",
        "interleave=true",
        "--cib",
        fs,
    ]);
    let cib = read(&f);
    let Some(Resource::Clone(c)) = cib.config.find_resource("web-clone") else {
        panic!("no web-clone: {:?}", cib.config.resources);
    };
    assert_eq!(c.child.id(), "web");
    assert_eq!(c.meta.get("interleave").map(String::as_str), Some("true"));
    assert!(
        cib.config.find_resource("web").is_none(),
        "web is in the clone only"
    );
    let rscs: Vec<&str> = cib
        .config
        .constraints
        .location
        .iter()
        .map(|l| l.rsc.as_str())
        .collect();
    assert_eq!(rscs, ["web-clone"]);
    for cmd in [&["resource", "config", "web-clone"][..], &["config"][..]] {
        let mut args = cmd.to_vec();
        args.extend(["--cib", fs]);
        let shown = ok(&args);
        assert!(shown.contains("Clone: web-clone"), "{shown}");
        assert!(shown.contains("interleave=true"), "{shown}");
        assert!(
            shown.contains("Resource: web (ocf:heartbeat:Dummy)"),
            "{shown}"
        );
    }
    ok(&["resource", "unclone", "web-clone", "--cib", fs]);
    let cib = read(&f);
    assert!(matches!(
        cib.config.find_resource("web"),
        Some(Resource::Primitive(_))
    ));
    assert!(cib.config.find_resource("web-clone").is_none());
    assert_eq!(cib.config.constraints.location[0].rsc, "web");
    // `unclone` also takes the cloned resource's name; `promotable` makes R-clone too.
    ok(&[
        "resource",
        "promotable",
        "web",
        "meta",
        "promoted-max=2",
        "--cib",
        fs,
    ]);
    let cib = read(&f);
    let Some(Resource::Clone(c)) = cib.config.find_resource("web-clone") else {
        panic!("no web-clone");
    };
    assert_eq!(c.meta.get("promotable").map(String::as_str), Some("true"));
    assert_eq!(c.meta.get("promoted-max").map(String::as_str), Some("2"));
    ok(&["resource", "unclone", "web", "--cib", fs]);
    assert!(read(&f).config.find_resource("web-clone").is_none());
}

/// `resource create … clone|promotable [CLONE_ID] [meta …]`, with the old
/// option form (`clone k=v`) too.
#[test]
fn create_with_a_clone_or_promotable_tail_makes_the_clone() {
    let d = tmp("create-clone");
    let f = write(&d, &three_nodes());
    let fs = f.to_str().unwrap();
    ok(&[
        "resource",
        "create",
        "web",
        "ocf:heartbeat:Dummy",
        "op",
        "monitor",
        "interval=10s",
        "clone",
        "meta",
        "clone-max=2",
        "--cib",
        fs,
    ]);
    ok(&[
        "resource",
        "create",
        "db",
        "ocf:pacemaker:Stateful",
        "op",
        "monitor",
        "interval=11s",
        "role=Promoted",
        "promotable",
        "db-set",
        "promoted-max=1",
        "--cib",
        fs,
    ]);
    let cib = read(&f);
    let Some(Resource::Clone(web)) = cib.config.find_resource("web-clone") else {
        panic!("no web-clone: {:?}", cib.config.resources);
    };
    assert_eq!(web.meta.get("clone-max").map(String::as_str), Some("2"));
    let Some(Resource::Primitive(p)) = Some(&*web.child) else {
        unreachable!()
    };
    assert_eq!((p.id.as_str(), p.ops.len()), ("web", 1));
    let Some(Resource::Clone(db)) = cib.config.find_resource("db-set") else {
        panic!("no db-set: {:?}", cib.config.resources);
    };
    assert_eq!(db.meta.get("promotable").map(String::as_str), Some("true"));
    assert_eq!(db.meta.get("promoted-max").map(String::as_str), Some("1"));
    let out = ok(&["status", "--cib", fs]);
    assert!(out.contains("web-clone") && out.contains("db-set"), "{out}");
    refused_unchanged(
        &[
            "resource",
            "create",
            "x",
            "ocf:heartbeat:Dummy",
            "clone",
            "--group",
            "g",
        ],
        &f,
        "cannot be cloned alone",
    );
}

/// Role-specific colocation and order with a promotable clone, in pcs's words,
/// the old Master/Slave spellings included; the dry run promotes before it starts
/// the dependant.
#[test]
fn constraints_with_the_promoted_role_of_a_promotable_clone() {
    let d = tmp("promoted-constraints");
    let f = write(&d, &three_nodes());
    let fs = f.to_str().unwrap();
    ok(&[
        "resource",
        "create",
        "db",
        "ocf:pacemaker:Stateful",
        "promotable",
        "--cib",
        fs,
    ]);
    ok(&[
        "resource",
        "create",
        "vip",
        "ocf:heartbeat:Dummy",
        "--cib",
        fs,
    ]);
    ok(&[
        "resource",
        "create",
        "rep",
        "ocf:heartbeat:Dummy",
        "--cib",
        fs,
    ]);
    ok(&[
        "constraint",
        "colocation",
        "add",
        "vip",
        "with",
        "Promoted",
        "db-clone",
        "--cib",
        fs,
    ]);
    ok(&[
        "constraint",
        "colocation",
        "add",
        "rep",
        "with",
        "Slave",
        "db-clone",
        "500",
        "--cib",
        fs,
    ]);
    ok(&[
        "constraint",
        "order",
        "promote",
        "db-clone",
        "then",
        "start",
        "vip",
        "--cib",
        fs,
    ]);
    let cib = read(&f);
    let roles: Vec<_> = cib
        .config
        .constraints
        .colocation
        .iter()
        .map(|c| (c.rsc.as_str(), c.with_rsc_role))
        .collect();
    assert_eq!(
        roles,
        [
            ("vip", Some(Role::Promoted)),
            ("rep", Some(Role::Unpromoted))
        ]
    );
    let o = &cib.config.constraints.order[0];
    assert_eq!(
        (o.first_action, o.then_action),
        (OrderAction::Promote, OrderAction::Start)
    );
    ok(&[
        "constraint",
        "colocation",
        "remove",
        "vip",
        "db-clone",
        "--cib",
        fs,
    ]);
    ok(&[
        "constraint",
        "colocation",
        "add",
        "vip",
        "with",
        "Master",
        "db-clone",
        "--cib",
        fs,
    ]);
    let cib = read(&f);
    assert!(cib
        .config
        .constraints
        .colocation
        .iter()
        .any(|c| c.rsc == "vip" && c.with_rsc_role == Some(Role::Promoted)));
}

/// What cannot be cloned or uncloned is refused with the reason, exit code 1, and
/// the file unchanged.
#[test]
fn bad_clone_requests_are_refused_and_change_nothing() {
    let d = tmp("clone-bad");
    let f = write(&d, &three_nodes());
    let fs = f.to_str().unwrap();
    ok(&[
        "resource",
        "create",
        "a",
        "ocf:heartbeat:Dummy",
        "--group",
        "g",
        "--cib",
        fs,
    ]);
    ok(&[
        "resource",
        "create",
        "b",
        "ocf:heartbeat:Dummy",
        "clone",
        "--cib",
        fs,
    ]);
    ok(&[
        "resource",
        "create",
        "c",
        "ocf:heartbeat:Dummy",
        "--cib",
        fs,
    ]);
    refused_all(
        &f,
        &[
            (
                &["resource", "clone", "b-clone"],
                "a clone cannot be cloned",
            ),
            (&["resource", "clone", "b"], "is cloned already"),
            (
                &["resource", "promotable", "nosuch"],
                "no resource \"nosuch\"",
            ),
            (&["resource", "clone", "a"], "member of group \"g\""),
            (&["resource", "clone", "c", "b-clone"], "already exists"),
            (
                &["resource", "clone", "c", "meta", "oops"],
                "meta attributes only",
            ),
            (&["resource", "unclone", "c"], "is not a clone"),
            (&["resource", "unclone", "g"], "is not a clone"),
            (&["resource", "unclone", "nosuch"], "no resource"),
        ],
    );
}

/// `hactl status -n -r` takes crm_mon's letters: resources listed under their node
/// and the inactive list; plain `status` shows neither (the text itself is checked
/// against crm_mon's in crates/hactl-view/tests/crm_mon.rs).
#[test]
fn status_takes_crm_mons_by_node_and_inactive_letters() {
    let cib = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/web-cluster.xml");
    let by_node = ok(&["status", "-n", "-r", "--cib", cib]);
    assert!(
        by_node.contains("  * Node web1: online:\n    * Resources:\n      * vip\t"),
        "{by_node}"
    );
    assert!(by_node.contains("\nInactive Resources:\n"), "{by_node}");
    let plain = ok(&["status", "--cib", cib]);
    assert!(
        !plain.contains("Resources:\n      * vip") && !plain.contains("Inactive Resources"),
        "{plain}"
    );
}
