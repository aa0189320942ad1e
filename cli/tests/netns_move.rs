//! `hactl resource move` end to end against two real daemons (hx-dv1, hx-dv2): the
//! CLI adds `cli-move-d`, waits until the cluster has settled with `d` on the target,
//! then removes the constraint.
//!
//! The daemon does not run the controller yet, so this test plays the controller's
//! part: it runs the policy engine on the daemon's CIB and records a successful result
//! for every pending action through the daemon's control socket (what the DC does
//! after an executor reports back), without running agents. Everything the CLI does —
//! proposing, waiting for the daemon to apply, polling until the policy engine has
//! nothing left, removing the move constraint — is real. Once the controller runs in
//! the daemon, `netns_demo` covers moves with real agents and this stand-in should go.

use hactl_lab::Lab;
use hactl_model::change::Change;
use hactl_model::{Cib, OpRecord};
use hactl_policy::{schedule, ActionKind};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
    let mut daemons = Vec::new();
    for i in 1..=2 {
        let log = std::fs::File::create(dir.join(format!("n{i}.log"))).unwrap();
        daemons.push(
            Lab::command(&lab.node_ns(i), env!("CARGO_BIN_EXE_hactl"))
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

fn cib(sock: &Path) -> Option<Cib> {
    let mut c = hactl_client::Client::connect(sock).ok()?;
    serde_json::from_slice(&c.get_cib().ok()?).ok()
}

/// The controller's part (see the module docs): record success for every pending
/// action, until told to stop.
fn stand_in_controller(sock: PathBuf, stop: Arc<AtomicBool>) {
    let mut call_id: BTreeMap<String, i64> = BTreeMap::new();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        let Some(cib) = cib(&sock) else { continue };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let Ok(t) = schedule(&cib, now) else { continue };
        let mut changes = Vec::new();
        for a in t.actions.iter().filter(|a| a.runnable && !a.pseudo) {
            let (Some(rsc), Some(node)) = (&a.resource, &a.node) else {
                continue;
            };
            let Some(p) = cib.config.find_primitive(rsc) else {
                continue;
            };
            let (operation, interval_ms, rc) = match a.kind {
                ActionKind::Start => ("start", 0, 0),
                ActionKind::Stop => ("stop", 0, 0),
                ActionKind::Probe => ("monitor", 0, 7),
                ActionKind::Monitor { interval_ms } => ("monitor", interval_ms, 0),
                _ => continue,
            };
            let id = call_id.entry(node.clone()).or_insert(100);
            *id += 1;
            changes.push(Change::RecordOp {
                node: node.clone(),
                rsc: rsc.clone(),
                agent: p.agent.clone(),
                op: OpRecord {
                    operation: operation.into(),
                    interval_ms,
                    call_id: *id,
                    rc,
                    last_run: Some(now),
                    last_rc_change: Some(now),
                    ..Default::default()
                },
            });
        }
        if changes.is_empty() {
            continue;
        }
        if let Ok(mut c) = hactl_client::Client::connect(&sock) {
            let _ = c.propose_change(serde_json::to_vec(&Change::Batch { changes }).unwrap());
        }
    }
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
    let stop = Arc::new(AtomicBool::new(false));
    let ctl = {
        let (sock, stop) = (sock1.clone(), stop.clone());
        std::thread::spawn(move || stand_in_controller(sock, stop))
    };
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
    stop.store(true, Ordering::Relaxed);
    let _ = ctl.join();
}
