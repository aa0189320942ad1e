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
