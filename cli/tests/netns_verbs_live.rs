//! The configuration verbs against a real one-node cluster (a real `hactl daemon` in
//! network namespace hx-dw1): changes are committed through Raft, `--wait` returns
//! once the daemon has applied the change and the policy engine has nothing left to
//! do, `--dry-run` and refused changes leave the CIB's epoch alone, and `status`
//! reads the daemon's view. No resources are started here (that needs the
//! controller; see netns_demo), so every transition is empty and settles at once.

use hactl_lab::Lab;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Cluster {
    dir: PathBuf,
    sock: String,
    lab: Option<Lab>,
    daemon: std::process::Child,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Kill the daemon (with its namespace) before removing its files.
        drop(self.lab.take());
        let _ = self.daemon.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

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

fn start() -> Option<Cluster> {
    if !hactl_lab::is_root() {
        if std::env::var("HACTL_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
            return None;
        }
        panic!("this test needs root (network namespaces); set HACTL_SKIP_ROOT_TESTS=1 to skip");
    }
    let lab = Lab::create("hx-dw", 1, "10.98.5", false).unwrap();
    let dir = std::env::temp_dir().join(format!("hactl-verbs-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let etc = dir.join("etc");
    let o = Lab::command(&lab.node_ns(1), env!("CARGO_BIN_EXE_hactl"))
        .args([
            "cluster", "setup", "--name", "live", "--local", "n1", "--dir",
        ])
        .arg(&etc)
        .arg(format!("n1={}", lab.node_addr(1)))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sock = dir.join("n1.sock");
    let log = std::fs::File::create(dir.join("daemon.log")).unwrap();
    let daemon = Lab::command(&lab.node_ns(1), env!("CARGO_BIN_EXE_hactl"))
        .arg("daemon")
        .arg("--config-dir")
        .arg(&etc)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--socket")
        .arg(&sock)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let c = Cluster {
        sock: sock.to_str().unwrap().to_string(),
        dir,
        lab: Some(lab),
        daemon,
    };
    wait_for_dc(&c.sock, &c.dir);
    Some(c)
}

fn wait_for_dc(sock: &str, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(s) = hactl_client::Client::connect(Path::new(sock)).and_then(|mut c| c.status()) {
            if !s.dc.is_empty() && s.has_quorum {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the daemon never became DC; log:\n{}",
            std::fs::read_to_string(dir.join("daemon.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn epoch(sock: &str) -> u64 {
    let (ok, out, err) = hactl(&["status", "--socket", sock, "--output", "json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["epoch"].as_u64().unwrap()
}

#[test]
fn netns_verbs_commit_wait_dry_run_and_refuse_against_a_real_daemon() {
    let Some(c) = start() else { return };
    let s = c.sock.as_str();

    // Waiting is the default: the command returns once the daemon has applied the
    // change and nothing is left to do.
    let (ok, out, err) = hactl(&["property", "set", "stonith-enabled=false", "--socket", s]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("the cluster has settled"), "{out}");
    let e0 = epoch(s);
    let (ok, out, err) = hactl(&["node", "standby", "--socket", s]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("standby n1: done"),
        "the local node is meant: {out}"
    );
    let (ok, json, _) = hactl(&["status", "--socket", s, "--output", "json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["nodes"][0]["standby"], true, "{json}");
    assert_eq!(v["settled"], true, "{json}");
    assert_eq!(v["daemon"]["local_node"], "n1", "{json}");
    assert_eq!(epoch(s), e0 + 1);
    let (ok, out, _) = hactl(&["node", "unstandby", "n1", "--socket", s, "--no-wait"]);
    assert!(ok && out.contains("committed at index"), "{out}");

    // A dry run against the live cluster changes nothing.
    let before = epoch(s);
    let (ok, out, err) = hactl(&[
        "resource",
        "create",
        "d",
        "ocf:heartbeat:Dummy",
        "--dry-run",
        "--socket",
        s,
    ]);
    assert!(ok, "{err}");
    assert!(
        out.lines()
            .any(|l| l.contains("Start") && l.contains(" d ") && l.contains("n1")),
        "{out}"
    );
    assert_eq!(epoch(s), before);

    // Refused before anything is sent.
    let (ok, _, err) = hactl(&["constraint", "order", "a", "then", "b", "--socket", s]);
    assert!(!ok && err.contains("refused"), "{err}");
    let (ok, _, err) = hactl(&["property", "set", "no-quorum-policy=dance", "--socket", s]);
    assert!(!ok && err.contains("dance"), "{err}");
    assert_eq!(epoch(s), before);

    // Reads answer from the daemon.
    let (ok, out, _) = hactl(&["property", "list", "--socket", s]);
    assert!(ok && out.contains("stonith-enabled: false"), "{out}");
    let (ok, out, _) = hactl(&["status", "--socket", s]);
    assert!(
        ok && out.contains("Current DC: n1 (partition with quorum)"),
        "{out}"
    );
}

#[test]
fn verbs_without_a_daemon_say_so() {
    let (ok, _, err) = hactl(&[
        "node",
        "standby",
        "n1",
        "--socket",
        "/nonexistent/hactl.sock",
    ]);
    assert!(!ok);
    assert!(err.contains("cannot reach the hactl daemon"), "{err}");
}
