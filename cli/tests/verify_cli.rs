//! `hactl cluster verify` end to end: a table of CIBs (tests/data/verify/*.xml), each
//! with the exit code and message hactl must give, run side by side through
//! Pacemaker's own `crm_verify -x` (Debian pacemaker-cli-utils): where crm_verify
//! finds an error, hactl finds one too, in crm_verify's words where it has them.

use std::path::PathBuf;
use std::process::{Command, Output};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../tests/data/verify/{name}.xml"))
}

fn verify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hactl"))
        .args(["cluster", "verify"])
        .args(args)
        .output()
        .expect("run hactl")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// One case: the file, hactl's exit code, the check and words hactl prints, and
/// what crm_verify says (its exit code: 0 clean or warnings, 78 configuration
/// errors; and words when it reports the same problem). Problems it finds in the
/// status section (a failed stop, a resource active twice) it prints as errors
/// but exits 0.
struct Case {
    file: &'static str,
    code: i32,
    check: Option<&'static str>,
    says: &'static str,
    crm_code: i32,
    crm_says: Option<&'static str>,
}

const CASES: &[Case] = &[
    Case {
        file: "clean",
        code: 0,
        check: None,
        says: "configuration valid",
        crm_code: 0,
        crm_says: None,
    },
    Case {
        file: "no-stonith-resources",
        code: 2,
        check: Some("no-stonith-resources"),
        says: "error: stonith-enabled: Resource start-up disabled since no STONITH resources have been defined",
        crm_code: 78,
        crm_says: Some("Resource start-up disabled since no STONITH resources have been defined"),
    },
    Case {
        file: "suicide-without-fencing",
        code: 2,
        check: Some("suicide-without-fencing"),
        says: "error: no-quorum-policy: Resetting no-quorum-policy to 'stop' because fencing is disabled",
        crm_code: 78,
        crm_says: Some("Resetting no-quorum-policy to 'stop' because fencing is disabled"),
    },
    Case {
        file: "duplicate-op",
        code: 2,
        check: Some("invalid"),
        says: "two monitor operations with interval 30s",
        crm_code: 78,
        crm_says: Some("is duplicate of d-monitor-30s"),
    },
    Case {
        file: "unknown-resource",
        code: 2,
        check: Some("invalid"),
        says: "error: ghost-prefers-n1: location constraint \"ghost-prefers-n1\" refers to unknown resource \"ghost\"",
        crm_code: 78,
        crm_says: Some("references an unknown ID \"ghost\""),
    },
    Case {
        file: "fencing-off-quorum-ignore",
        code: 1,
        check: Some("fencing-off-quorum-policy"),
        says: "warning: no-quorum-policy: fencing is disabled and no-quorum-policy=ignore",
        crm_code: 0,
        crm_says: None,
    },
    Case {
        file: "monitor-below-timeout",
        code: 1,
        check: Some("monitor-interval-below-timeout"),
        says: "warning: d-monitor-5s: d: monitor interval 5s is below its timeout 30s",
        crm_code: 0,
        crm_says: None,
    },
    Case {
        file: "stop-timeout-exceeds-hold",
        code: 1,
        check: Some("stop-timeout-exceeds-hold"),
        says: "warning: d: stop timeout 90s exceeds the split-brain hold",
        crm_code: 0,
        crm_says: None,
    },
    Case {
        file: "on-fail-stop-on-stop",
        code: 2,
        check: Some("on-fail-not-allowed"),
        says: "error: d-stop-0: Resetting 'on-fail' for d stop action to default value because 'stop' is not allowed for stop",
        crm_code: 78,
        crm_says: Some("Resetting 'on-fail' for d stop action to default value because 'stop' is not allowed for stop"),
    },
    Case {
        file: "template-colocation",
        code: 2,
        check: Some("colocation-of-templates"),
        says: "error: t1-with-t2: Ignoring constraint 't1-with-t2' because two templates or tags cannot be colocated",
        crm_code: 78,
        crm_says: Some("Ignoring constraint 't1-with-t2' because two templates or tags cannot be colocated"),
    },
    Case {
        file: "failed-stop",
        code: 2,
        check: Some("failed-stop"),
        says: "error: d: No further recovery can be attempted for d because stop on n2 failed",
        crm_code: 0,
        crm_says: Some("error: No further recovery can be attempted for d because stop on n2 failed"),
    },
    Case {
        file: "multiply-active",
        code: 2,
        check: Some("multiply-active"),
        says: "error: d: ocf resource d might be active on 2 nodes (n1, n2)",
        crm_code: 0,
        crm_says: Some("error: ocf resource d might be active on 2 nodes"),
    },
    Case {
        file: "vip",
        code: 0,
        check: None,
        says: "note: VIPs were not checked against local subnets",
        crm_code: 0,
        crm_says: None,
    },
];

fn crm_verify(file: &PathBuf) -> Output {
    Command::new("crm_verify")
        .arg("-V")
        .arg("-x")
        .arg(file)
        .output()
        .expect("crm_verify not found: install pacemaker-cli-utils (scripts/test-packages.txt)")
}

#[test]
fn bad_cibs_give_the_expected_code_and_message_side_by_side_with_crm_verify() {
    let mut table = vec![format!(
        "{:<28} {:>5} {:>10}",
        "case", "hactl", "crm_verify"
    )];
    let mut wrong = Vec::new();
    for c in CASES {
        let f = data(c.file);
        let o = verify(&["--cib", f.to_str().expect("utf-8")]);
        let out = text(&o);
        let crm = crm_verify(&f);
        let crm_out = text(&crm);
        table.push(format!(
            "{:<28} {:>5} {:>10}",
            c.file,
            o.status.code().unwrap_or(-1),
            crm.status.code().unwrap_or(-1)
        ));
        if o.status.code() != Some(c.code) || !out.contains(c.says) {
            wrong.push(format!(
                "{}: hactl exit {:?}:\n{out}",
                c.file,
                o.status.code()
            ));
        }
        if let Some(check) = c.check {
            if !out.contains(&format!("[{check}]")) {
                wrong.push(format!("{}: no [{check}] in\n{out}", c.file));
            }
        }
        if crm.status.code() != Some(c.crm_code) || c.crm_says.is_some_and(|s| !crm_out.contains(s))
        {
            wrong.push(format!(
                "{}: crm_verify exit {:?}:\n{crm_out}",
                c.file,
                crm.status.code()
            ));
        }
        // Errors exactly where Pacemaker finds errors (in the configuration, or
        // printed while unpacking the status).
        let crm_error = c.crm_code == 78 || crm_out.contains("\terror: ");
        if (c.code == 2) != crm_error {
            wrong.push(format!(
                "{}: hactl and crm_verify disagree on errors",
                c.file
            ));
        }
    }
    println!("{}", table.join("\n"));
    assert!(wrong.is_empty(), "{}", wrong.join("\n---\n"));
}

#[test]
fn strict_turns_warnings_into_errors() {
    let f = data("monitor-below-timeout");
    let o = verify(&["--strict", "--cib", f.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("error: d-monitor-5s:"), "{}", text(&o));
    // Strict leaves a clean file clean.
    let o = verify(&["--strict", "--cib", data("clean").to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn json_output_lists_findings_with_id_and_hint() {
    let f = data("no-stonith-resources");
    let o = verify(&["--output", "json", "--cib", f.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(j["valid"], false);
    assert_eq!(j["exit_code"], 2);
    assert_eq!(j["errors"], 1);
    let f = &j["findings"][0];
    assert_eq!(f["severity"], "error");
    assert_eq!(f["check"], "no-stonith-resources");
    assert_eq!(f["id"], "stonith-enabled");
    assert!(
        f["hint"]
            .as_str()
            .is_some_and(|h| h.contains("stonith create")),
        "{j}"
    );
}

/// `--local`: the file is for this machine, so its VIPs are checked against this
/// machine's real interfaces: 127.0.0.55 lies in lo's 127.0.0.0/8, 198.51.100.77
/// (TEST-NET-2) in no local subnet.
#[test]
fn local_checks_vips_against_this_machines_subnets() {
    let f = data("vip");
    let o = verify(&["--local", "--cib", f.to_str().expect("utf-8")]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("warning: vip: VIP 198.51.100.77 lies outside every subnet of this node"),
        "{out}"
    );
    assert!(
        out.contains("127.0.0.0/8") || out.contains("127.0.0.1/8"),
        "{out}"
    );
    assert!(!out.contains("vip-lo:"), "{out}");
}

#[test]
fn an_unreadable_cib_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("broken.xml");
    std::fs::write(&f, "<cib><configuration>").expect("write");
    let o = verify(&["--cib", f.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("broken.xml"), "{}", text(&o));
}
