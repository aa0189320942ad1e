//! Moves, standby and restart end to end against two real daemons (hx-dv1, hx-dv2)
//! running the real `ocf:heartbeat:Dummy`: `resource move` adds `cli-move-d`, waits
//! until the cluster has settled with `d` on the target, then removes the constraint;
//! `node standby` and `resource restart` return once the cluster has settled. Each
//! daemon has a private `/run/resource-agents` (the agents' HA_RSCTMP), so the nodes'
//! Dummy state files do not mix.

use hactl_lab::Lab;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Cluster {
    dir: PathBuf,
    lab: Option<Lab>,
    daemons: Vec<Child>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        drop(self.lab.take());
        for d in &mut self.daemons {
            let _ = d.wait();
        }
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

fn in_ns(lab: &Lab, i: usize, args: &[&str]) {
    let o = Lab::command(&lab.node_ns(i), env!("CARGO_BIN_EXE_hactl"))
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn start() -> Option<Cluster> {
    if !hactl_lab::is_root() {
        if std::env::var("HACTL_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
            return None;
        }
        panic!("this test needs root (network namespaces); set HACTL_SKIP_ROOT_TESTS=1 to skip");
    }
    let lab = Lab::create("hx-dv", 2, "10.98.6", false).unwrap();
    let dir = std::env::temp_dir().join(format!("hactl-move-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let d = |i: usize, w: &str| dir.join(format!("n{i}/{w}")).to_str().unwrap().to_string();
    let n1 = format!("n1={}", lab.node_addr(1));
    let n2 = format!("n2={}", lab.node_addr(2));
    in_ns(
        &lab,
        1,
        &[
            "cluster",
            "setup",
            "--name",
            "mv",
            "--local",
            "n1",
            "--dir",
            &d(1, "etc"),
            &n1,
            &n2,
        ],
    );
    let bundle = format!("{}/bundles/n2.bundle", d(1, "etc"));
    in_ns(
        &lab,
        2,
        &["cluster", "join", &bundle, "--dir", &d(2, "etc")],
    );
    std::fs::create_dir_all("/run/resource-agents").unwrap();
    let mut daemons = Vec::new();
    for i in 1..=2 {
        let log = std::fs::File::create(dir.join(format!("n{i}.log"))).unwrap();
        // A private mount namespace with its own tmpfs on /run/resource-agents.
        let script = "mount -t tmpfs hx-dv /run/resource-agents && exec \"$0\" \"$@\"";
        daemons.push(
            Lab::command(&lab.node_ns(i), "unshare")
                .args(["-m", "--propagation", "private", "sh", "-c", script])
                .arg(env!("CARGO_BIN_EXE_hactl"))
                .args([
                    "daemon",
                    "--config-dir",
                    &d(i, "etc"),
                    "--state-dir",
                    &d(i, "state"),
                ])
                .arg("--socket")
                .arg(dir.join(format!("n{i}.sock")))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
    }
    Some(Cluster {
        dir,
        lab: Some(lab),
        daemons,
    })
}

fn where_is(sock: &str, rsc: &str) -> (bool, Vec<String>) {
    let (ok, out, err) = hactl(&["status", "--socket", sock, "--output", "json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let cur = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["resource"] == rsc)
        .map(|p| {
            p["current"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    (v["settled"] == true, cur)
}

#[test]
fn netns_move_waits_for_the_move_then_removes_its_constraint() {
    let Some(c) = start() else { return };
    let sock1 = c.dir.join("n1.sock");
    let s = sock1.to_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = hactl_client::Client::connect(&sock1)
            .and_then(|mut cl| cl.status())
            .map(|st| st.has_quorum && !st.dc.is_empty() && st.nodes.iter().all(|n| n.state == 1))
            .unwrap_or(false);
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "cluster did not form");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (ok, out, err) = hactl(&["property", "set", "stonith-enabled=false", "--socket", &s]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = hactl(&[
        "resource",
        "create",
        "d",
        "ocf:heartbeat:Dummy",
        "--socket",
        &s,
        "--wait=30s",
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("the cluster has settled"), "{out}");
    let (settled, cur) = where_is(&s, "d");
    assert!(settled);
    assert_eq!(cur.len(), 1, "{cur:?}");
    let target = if cur[0] == "n1" { "n2" } else { "n1" };

    let (ok, out, err) = hactl(&[
        "resource",
        "move",
        "d",
        target,
        "--socket",
        &s,
        "--wait=30s",
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.contains(&format!("move d to {target}: done")), "{out}");
    assert!(
        out.contains("remove cli-move-d (the move is done)"),
        "the move constraint is removed: {out}"
    );
    let (_, cur) = where_is(&s, "d");
    assert_eq!(cur, vec![target.to_string()]);
    let (ok, json, _) = hactl(&["constraint", "list", "--socket", &s, "--output", "json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["location"], serde_json::json!([]), "{json}");

    // Standby of its node moves it away and the command returns once it has moved.
    let (ok, out, err) = hactl(&["node", "standby", target, "--socket", &s, "--wait=30s"]);
    assert!(ok, "{out}{err}");
    let (settled, cur) = where_is(&s, "d");
    assert!(settled);
    assert!(
        !cur.is_empty() && !cur.contains(&target.to_string()),
        "{cur:?}"
    );
    let (ok, out, err) = hactl(&["node", "unstandby", target, "--socket", &s, "--wait=30s"]);
    assert!(ok, "{out}{err}");

    // Restart: stopped, then started again, both waited for.
    let (ok, out, err) = hactl(&["resource", "restart", "d", "--socket", &s, "--wait=30s"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("disable d: done"), "{out}");
    assert!(out.contains("enable d: done"), "{out}");
    let (settled, cur) = where_is(&s, "d");
    assert!(settled && cur.len() == 1, "{cur:?}");
}
