//! `fence_hactl_xvm` driven like Pacemaker drives fence agents (name=value lines on
//! stdin) against the real fence_virtd, side by side with the C `fence_xvm` from
//! Debian's fence-virt on the same daemon: same exit codes, same output.

#[path = "../../../crates/hactl-fence/tests/testbed/mod.rs"]
mod testbed;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use testbed::{FenceVirtd, Setup};

const OURS: &str = env!("CARGO_BIN_EXE_fence_hactl_xvm");
const C_AGENT: &str = "fence_xvm";

/// Runs an agent in client namespace 0 with `lines` on stdin, bounded by 60 s.
fn agent(fv: &FenceVirtd, program: &str, lines: &[&str]) -> Output {
    let mut cmd = fv.client_command(0, program);
    spawn_with_stdin(&mut cmd, lines, Duration::from_secs(60))
}

fn spawn_with_stdin(cmd: &mut Command, lines: &[&str], limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn agent");
    {
        let mut stdin = child.stdin.take().unwrap();
        for l in lines {
            writeln!(stdin, "{l}").unwrap();
        }
    }
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "agent did not exit within {limit:?}; stdout: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn params<'a>(fv: &'a FenceVirtd, key: &'a str, extra: &[&'a str]) -> Vec<String> {
    let _ = fv;
    let mut v = vec![
        format!("key_file={key}"),
        "timeout=5".to_string(),
        "nodename=node9".to_string(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn both(fv: &FenceVirtd, key: &str, extra: &[&str]) -> (Output, Output) {
    let p = params(fv, key, extra);
    let lines: Vec<&str> = p.iter().map(String::as_str).collect();
    (agent(fv, OURS, &lines), agent(fv, C_AGENT, &lines))
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn assert_same(what: &str, ours: &Output, c: &Output) {
    assert_eq!(
        ours.status.code(),
        c.status.code(),
        "{what}: exit codes differ; ours stdout {:?} stderr {:?}, fence_xvm stdout {:?}",
        out(ours),
        String::from_utf8_lossy(&ours.stderr),
        out(c)
    );
    assert_eq!(out(ours), out(c), "{what}: stdout differs");
}

#[test]
fn netns_agent_matches_c_fence_xvm() {
    let Some(fv) = FenceVirtd::start(Setup::default()) else {
        return;
    };
    let key = fv.key_path.display().to_string();

    let (o, c) = both(&fv, &key, &["action=status", "plug=node1"]);
    assert_same("status node1", &o, &c);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(out(&o), "Status: ON\n");

    let (o, c) = both(&fv, &key, &["action=list"]);
    assert_same("list", &o, &c);
    assert!(out(&o).contains("node3") && out(&o).lines().count() == 3);

    // Ours fences, the C agent sees the result, and the other way round.
    let o = agent(
        &fv,
        OURS,
        &[&format!("key_file={key}"), "action=off", "port=node1"],
    );
    assert_eq!(o.status.code(), Some(0), "off: {}", out(&o));
    assert_eq!(out(&o), "");
    let (o, c) = both(&fv, &key, &["action=status", "port=node1"]);
    assert_same("status after off", &o, &c);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(out(&o), "Status: OFF\n");

    let c = agent(
        &fv,
        C_AGENT,
        &[&format!("key_file={key}"), "action=on", "port=node1"],
    );
    assert_eq!(c.status.code(), Some(0));
    let (o, c) = both(&fv, &key, &["action=status", "plug=node1"]);
    assert_same("status after on", &o, &c);
    assert_eq!(o.status.code(), Some(0));

    let o = agent(
        &fv,
        OURS,
        &[&format!("key_file={key}"), "action=reboot", "plug=node2"],
    );
    assert_eq!(o.status.code(), Some(0), "reboot: {}", out(&o));
    let (o, c) = both(&fv, &key, &["action=status", "plug=node2"]);
    assert_same("status after reboot", &o, &c);
    assert_eq!(o.status.code(), Some(0));

    // Unknown domain: both report OFF (fence_virtd cannot tell them apart).
    let (o, c) = both(&fv, &key, &["action=status", "plug=nosuch"]);
    assert_same("status unknown", &o, &c);
    assert_eq!(o.status.code(), Some(2));

    // Missing domain: both refuse with exit 1.
    let (o, c) = both(&fv, &key, &["action=off"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(c.status.code(), Some(1));
    assert!(out(&o).starts_with("No domain specified!"));

    // Command-line mode.
    let o = fv
        .client_command(0, OURS)
        .args(["-o", "status", "-H", "node3", "-k", &key, "-t", "5"])
        .output()
        .unwrap();
    let c = fv
        .client_command(0, C_AGENT)
        .args(["-o", "status", "-H", "node3", "-k", &key, "-t", "5"])
        .output()
        .unwrap();
    assert_same("-o status -H node3", &o, &c);
    assert_eq!(o.status.code(), Some(2));

    // metadata needs no daemon.
    let o = agent(&fv, OURS, &["action=metadata"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(out(&o).contains("<resource-agent name=\"fence_hactl_xvm\""));
}

#[test]
fn netns_agent_monitor_is_a_real_health_check() {
    let Some(fv) = FenceVirtd::start(Setup::default()) else {
        return;
    };
    let key = fv.key_path.display().to_string();
    let kf = format!("key_file={key}");
    let o = agent(&fv, OURS, &[&kf, "action=monitor"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o = agent(&fv, OURS, &[&kf, "action=monitor", "plug=node1,node3"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o = agent(&fv, OURS, &[&kf, "action=monitor", "plug=node1,ghost"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("\"ghost\" is not known"));

    // Wrong key: monitor fails (after the timeout) with the reason on stderr.
    let bad = fv.dir.path().join("bad.key");
    let mut k = std::fs::read(&fv.key_path).unwrap();
    k[0] ^= 0xff;
    std::fs::write(&bad, k).unwrap();
    let bk = format!("key_file={}", bad.display());
    let o = agent(
        &fv,
        OURS,
        &[&bk, "action=monitor", "timeout=2", "retrans=5"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(out(&o), "Operation failed\n");
    assert!(String::from_utf8_lossy(&o.stderr).contains("no answer from fence_virtd"));
}

/// fence_xvm with `-t 1` and the default retrans never gives up; ours must.
#[test]
fn netns_agent_timeout_is_bounded() {
    let Some(fv) = FenceVirtd::start(Setup::default()) else {
        return;
    };
    let bad = fv.dir.path().join("bad.key");
    std::fs::write(&bad, b"not the key").unwrap();
    let mut cmd = fv.client_command(0, OURS);
    cmd.args(["-o", "off", "-H", "node1", "-t", "1", "-k"])
        .arg(&bad);
    let o = spawn_with_stdin(&mut cmd, &[], Duration::from_secs(20));
    assert_eq!(o.status.code(), Some(1));
    // And nothing was fenced.
    let key = fv.key_path.display().to_string();
    let o = agent(
        &fv,
        OURS,
        &[&format!("key_file={key}"), "action=status", "plug=node1"],
    );
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn netns_agent_matches_c_fence_xvm_over_ipv6_and_permissions() {
    let Some(fv) = FenceVirtd::start(Setup {
        ipv6: true,
        extra_conf: r#"groups { group { name = "g1"; ip = "fd5a:e233:0:1::11"; uuid = "node1"; uuid = "node2"; } }"#
            .into(),
        ..Setup::default()
    }) else {
        return;
    };
    let key = fv.key_path.display().to_string();
    let (o, c) = both(
        &fv,
        &key,
        &["action=status", "plug=node1", "ip_family=ipv6"],
    );
    assert_same("ipv6 status", &o, &c);
    assert_eq!(o.status.code(), Some(0));
    let (o, c) = both(&fv, &key, &["action=list", "multicast_address=ff05::3:1"]);
    assert_same("ipv6 list", &o, &c);
    assert_eq!(out(&o).lines().count(), 2, "only the permitted domains");
    // Not permitted: exit 3 from both.
    let (o, c) = both(&fv, &key, &["action=off", "plug=node3", "ip_family=ipv6"]);
    assert_same("ipv6 off not permitted", &o, &c);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(out(&o), "Permission denied\n");
}
