//! `hactl demo` and `hactl demo down` as a user runs them (root): a 3-node cluster in
//! network namespaces hx-d1..3 with the `web` group (a real IPaddr2 VIP and a real
//! `ocf:heartbeat:anything` running python's http.server), reached from the client
//! namespace hx-dcl; then everything is removed.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const DEMO_DIR: &str = "/run/hactl-demo";

fn hactl(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_hactl"))
        .args(args)
        .env_remove("HACTL_SOCKET")
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Root is required; without it the test fails unless HACTL_SKIP_ROOT_TESTS=1.
fn root_or_skip() -> bool {
    if hactl_lab::is_root() {
        return true;
    }
    if std::env::var("HACTL_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
        return false;
    }
    panic!("this test needs root (network namespaces); set HACTL_SKIP_ROOT_TESTS=1 to skip");
}

fn demo_namespaces() -> Vec<String> {
    hactl_lab::list_netns()
        .unwrap()
        .into_iter()
        .filter(|n| hactl_lab::belongs_to("hx-d", n))
        .collect()
}

/// Removes the demo even when an assertion fails.
struct Down;

impl Drop for Down {
    fn drop(&mut self) {
        let _ = hactl(&["demo", "down"]);
    }
}

/// An HTTP GET from the client namespace; the body on success.
fn get_from_client(url: &str) -> Option<String> {
    let code = format!(
        "import urllib.request\nprint(urllib.request.urlopen('{url}', timeout=2).read().decode())"
    );
    let o = Command::new("ip")
        .args(["netns", "exec", "hx-dcl", "python3", "-c", &code])
        .output()
        .ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
}

#[test]
fn netns_demo_up_serves_the_vip_and_down_removes_everything() {
    if !root_or_skip() {
        return;
    }
    let _down = Down;
    let (ok, out, err) = hactl(&["demo", "--timeout", "90s"]);
    assert!(ok, "hactl demo failed:\n{out}\n{err}");
    assert!(out.contains("The demo cluster is running"), "{out}");
    assert!(out.contains("Resource Group: web"), "status shown: {out}");
    // The hints work as printed: hactl is named by a path that runs (it is not on
    // PATH here), and the socket comes from HACTL_SOCKET, as in the README.
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_hactl")).unwrap();
    assert!(
        out.contains(&format!("  {} status\n", exe.display())),
        "{out}"
    );
    assert!(
        out.contains("export HACTL_SOCKET=/run/hactl-demo/n1.sock"),
        "{out}"
    );
    let o = Command::new(&exe)
        .arg("status")
        .env("HACTL_SOCKET", "/run/hactl-demo/n1.sock")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && text.contains("Resource Group: web"),
        "{text}"
    );
    // Without a socket, the error points at the demo's.
    if !Path::new(hactl_client::DEFAULT_SOCKET).exists() {
        let (ok, _, err) = hactl(&["status"]);
        assert!(!ok);
        assert!(
            err.contains("export HACTL_SOCKET=/run/hactl-demo/n1.sock"),
            "{err}"
        );
    }

    // The group runs on one node, as the cluster reports from another node's socket.
    let (ok, json, err) = hactl(&[
        "status",
        "--socket",
        "/run/hactl-demo/n2.sock",
        "--output",
        "json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["settled"], true, "{json}");
    let where_ = |r: &str| {
        v["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["resource"] == r)
            .map(|p| p["current"].clone())
    };
    let vip = where_("vip").unwrap();
    assert_eq!(vip.as_array().map(Vec::len), Some(1), "{json}");
    assert_eq!(
        where_("www").unwrap(),
        vip,
        "group members together: {json}"
    );

    // The client reaches the web server through the VIP.
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        if let Some(b) = get_from_client("http://10.99.0.100/") {
            break b;
        }
        assert!(Instant::now() < deadline, "the VIP never answered");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(body.contains("Hello from the hactl demo"), "{body}");

    // A second demo is refused while one runs.
    let (ok, _, err) = hactl(&["demo"]);
    assert!(!ok && err.contains("already running"), "{err}");

    let (ok, out, err) = hactl(&["demo", "down"]);
    assert!(ok, "{out}{err}");
    assert!(demo_namespaces().is_empty(), "{:?}", demo_namespaces());
    assert!(!Path::new(DEMO_DIR).exists());
    assert!(get_from_client("http://10.99.0.100/").is_none());
}

/// `demo down` with no demo says so and succeeds; a failed `demo` leaves nothing
/// behind (here: run as an unprivileged user, it stops before creating anything and
/// says what it needs).
#[test]
fn netns_demo_down_is_idempotent_and_non_root_is_told_what_is_needed() {
    if !root_or_skip() {
        return;
    }
    let (ok, out, err) = hactl(&["demo", "down"]);
    assert!(ok, "{out}{err}");
    let (ok, out, _) = hactl(&["demo", "down"]);
    assert!(ok && out.contains("No demo was running"), "{out}");
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_hactl"))
        .arg("demo")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("hactl demo needs root"), "{err}");
    assert!(err.contains("network namespaces"), "{err}");
    assert!(demo_namespaces().is_empty());
}

/// `hactl status --output json` through `sock`, parsed.
fn status_json(sock: &str) -> Option<serde_json::Value> {
    let (ok, json, _) = hactl(&["status", "--socket", sock, "--output", "json"]);
    ok.then(|| serde_json::from_str(&json).ok()).flatten()
}

/// The node a resource runs on, as `sock`'s daemon reports it.
fn runs_on(sock: &str, rsc: &str) -> Option<String> {
    let v = status_json(sock)?;
    let p = v["resources"]
        .as_array()?
        .iter()
        .find(|p| p["resource"] == rsc)?;
    match p["current"].as_array()?.as_slice() {
        [one] => one.as_str().map(str::to_string),
        _ => None,
    }
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The demo's nodes are separate hosts, and one node's daemon can be killed and
/// started again:
/// - `ocf:pacemaker:Dummy` keeps its state in /run: after a cleanup only its own
///   node's probe finds it running, and nothing is stopped (with a shared /run all
///   three probes found it and the cluster ran a multi-active recovery);
/// - `demo node nI kill` of the group's node: its agents' processes run on (fencing
///   is off), and status on another node warns that they may still be active;
/// - `demo node nI start`: the daemon enters the same host and the cluster settles.
#[test]
fn netns_demo_nodes_are_hosts_and_a_daemon_can_be_killed_and_started() {
    if !root_or_skip() {
        return;
    }
    let _down = Down;
    let (ok, out, err) = hactl(&["demo", "--timeout", "90s"]);
    assert!(ok, "hactl demo failed:\n{out}\n{err}");
    let s1 = "/run/hactl-demo/n1.sock";
    let (ok, out, err) = hactl(&[
        "resource",
        "create",
        "d",
        "ocf:pacemaker:Dummy",
        "op",
        "monitor",
        "interval=5s",
        "--socket",
        s1,
        "--wait=60s",
    ]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = hactl(&["resource", "cleanup", "d", "--socket", s1, "--wait=60s"]);
    assert!(ok, "{out}{err}");
    let cib = wait_for("d re-probed on every node", || {
        let bytes = hactl_client::Client::connect(Path::new(s1))
            .ok()?
            .get_cib()
            .ok()?;
        let cib: hactl_model::Cib = serde_json::from_slice(&bytes).ok()?;
        let everywhere = cib
            .status
            .nodes
            .values()
            .all(|s| s.resources.contains_key("d"));
        let settled = status_json(s1)?["settled"] == true;
        (everywhere && settled && cib.status.nodes.len() == 3).then_some(cib)
    });
    for (node, st) in &cib.status.nodes {
        let stops = st.resources["d"]
            .ops
            .iter()
            .filter(|o| o.operation == "stop")
            .count();
        assert_eq!(stops, 0, "d stopped on {node}: {:#?}", st.resources["d"]);
    }

    let holder = wait_for("the group placed", || runs_on(s1, "www"));
    let other = if holder == "n1" { "n2" } else { "n1" };
    let other_sock = format!("/run/hactl-demo/{other}.sock");
    let (ok, out, err) = hactl(&["demo", "node", &holder, "kill"]);
    assert!(ok, "{out}{err}");
    let warning = format!("WARNING: {holder} is unclean, fencing disabled");
    wait_for("the unclean-node warning", || {
        let (ok, text, _) = hactl(&["status", "--socket", &other_sock]);
        (ok && text.contains(&warning)).then_some(())
    });
    let (ok, _, err) = hactl(&["demo", "node", &holder, "kill"]);
    assert!(!ok && err.contains("not running"), "{err}");
    let (ok, out, err) = hactl(&["demo", "node", &holder, "start"]);
    assert!(ok, "{out}{err}");
    wait_for("settled with the node back", || {
        let v = status_json(&other_sock)?;
        let (ok, text, _) = hactl(&["status", "--socket", &other_sock]);
        (ok && v["settled"] == true
            && !text.contains(&warning)
            && runs_on(&other_sock, "www").is_some())
        .then_some(())
    });
}
