//! IPVS state in `hactl status`, in a real IPVS kernel: this test binary and `hactl`
//! are copied into the ipvs-vm guest (Debian's kernel under qemu, `tests/ipvs-vm`),
//! where `tests/guest/status.sh` starts a one-node cluster whose daemon directs an
//! LVS-NAT service to three busybox httpd real servers, and runs `guest_ipvs_status`.
//! `ipvsadm -Ln` (weights, ActiveConn, InActConn) and `ipvsadm -Ln --stats` (Conns)
//! inside the guest are the oracle for what `hactl status --output json` shows.

use serde_json::Value;
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[test]
fn netns_ipvs_status_in_a_real_lvs_kernel() {
    let hactl = hactl_tests::cluster::hactl_bin().expect("the hactl binary");
    hactl_tests::ipvs_guest::run_guest_half("status.sh", &hactl, &[], &[]);
}

const VIP: &str = "10.0.0.100:80";

fn hactl(args: &[&str]) -> String {
    let out = Command::new("hactl")
        .args(args)
        .output()
        .expect("run hactl");
    assert!(
        out.status.success(),
        "hactl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Per real server, what `hactl status --output json` says: the server's JSON.
fn status_servers() -> BTreeMap<String, Value> {
    let out = Command::new("hactl")
        .args(["status", "--output", "json"])
        .output()
        .expect("run hactl status");
    let Ok(v) = serde_json::from_slice::<Value>(&out.stdout) else {
        return BTreeMap::new();
    };
    v["ipvs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["resource"] == "web")
        .flat_map(|s| s["real_servers"].as_array().cloned().unwrap_or_default())
        .map(|r| (r["address"].as_str().unwrap_or("").to_string(), r))
        .collect()
}

/// The oracle: per real server in the kernel, (weight, active, inactive, conns).
fn kernel() -> BTreeMap<String, (u64, u64, u64, u64)> {
    let run = |extra: &[&str]| {
        let out = Command::new("ipvsadm")
            .args(["-Ln", "-t", VIP])
            .args(extra)
            .output()
            .expect("run ipvsadm");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let rows = |text: String| -> Vec<Vec<String>> {
        text.lines()
            .filter(|l| l.trim_start().starts_with("->") && !l.contains("RemoteAddress"))
            .map(|l| l.split_whitespace().skip(1).map(str::to_string).collect())
            .collect()
    };
    let n = |s: &str| s.parse::<u64>().expect("a number from ipvsadm");
    let conns: BTreeMap<String, u64> = rows(run(&["--stats", "--exact"]))
        .into_iter()
        .map(|f| (f[0].clone(), n(&f[1])))
        .collect();
    rows(run(&[]))
        .into_iter()
        .map(|f| {
            let c = conns.get(&f[0]).copied().unwrap_or(0);
            (f[0].clone(), (n(&f[2]), n(&f[3]), n(&f[4]), c))
        })
        .collect()
}

/// The same four numbers as the status shows them, for the servers in the table.
fn shown() -> BTreeMap<String, (u64, u64, u64, u64)> {
    status_servers()
        .into_iter()
        .filter_map(|(a, r)| {
            let w = r["weight"].as_u64()?;
            let g = |k: &str| r[k].as_u64().unwrap_or(u64::MAX);
            Some((a, (w, g("active_conns"), g("inactive_conns"), g("conns"))))
        })
        .collect()
}

fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < limit, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
    t0.elapsed()
}

fn httpd(i: u32) -> Child {
    Command::new("ip")
        .args([
            "netns",
            "exec",
            &format!("rs{i}"),
            "httpd",
            "-f",
            "-p",
            "80",
        ])
        .args(["-h", &format!("/tmp/www{i}")])
        .spawn()
        .expect("start httpd")
}

fn curl_ok() -> bool {
    Command::new("ip")
        .args(["netns", "exec", "client", "curl", "-sf", "-m", "3"])
        .arg("http://10.0.0.100/")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn health(addr: &str) -> (String, Option<u64>, Option<i64>) {
    let s = status_servers();
    let r = s.get(addr).cloned().unwrap_or(Value::Null);
    (
        r["health"].as_str().unwrap_or("").to_string(),
        r["weight"].as_u64(),
        r["since"].as_i64(),
    )
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// Runs inside the guest only (`tests/guest/status.sh` sets HACTL_IN_GUEST).
#[test]
#[ignore = "runs inside the ipvs-vm guest"]
fn guest_ipvs_status() {
    assert_eq!(std::env::var("HACTL_IN_GUEST").as_deref(), Ok("1"));
    let mut rs: Vec<Child> = (1..=3).map(httpd).collect();
    wait_for("the daemon answers", Duration::from_secs(60), || {
        Command::new("hactl")
            .arg("status")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    hactl(&["property", "set", "stonith-enabled=false"]);
    hactl(&[
        "resource",
        "create",
        "--wait=60s",
        "web",
        "ocf:hactl:ipvs",
        "vip=10.0.0.100",
        "port=80",
        "forward=nat",
        "scheduler=rr",
        "real_servers=10.0.1.11:80 10.0.1.12:80,weight=2 10.0.1.13:80",
        "check=tcp",
        "check_interval=1",
        "connect_timeout=1",
        "retry=1",
        "delay_before_retry=0.5",
        "status_interval=2",
    ]);
    let t = Duration::from_secs(30);
    wait_for("three servers up in the status", t, || {
        let s = status_servers();
        s.len() == 3 && s.values().all(|r| r["health"] == "up")
    });

    // Traffic: finished requests (inactive, counted) and idle open connections
    // (active) through the director.
    for _ in 0..6 {
        assert!(curl_ok(), "a client request failed");
    }
    let idle: Vec<Child> = (0..3)
        .map(|_| {
            Command::new("ip")
                .args(["netns", "exec", "client", "nc", "10.0.0.100", "80"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .expect("nc")
        })
        .collect();
    // The kernel's estimator folds the per-CPU counters into Conns every 2 s.
    wait_for("3 active of 9 connections in the kernel", t, || {
        let k = kernel();
        k.values().map(|k| k.1).sum::<u64>() == 3 && k.values().map(|k| k.3).sum::<u64>() == 9
    });
    println!("kernel (weight, active, inactive, conns): {:?}", kernel());
    let took = wait_for("the status shows the kernel's counts", t, || {
        shown() == kernel()
    });
    println!("status matched ipvsadm after {took:?}: {:?}", shown());

    // A real server dies: down, out of the table; then back with its weight.
    let killed_at = now();
    rs[1].kill().expect("kill httpd");
    rs[1].wait().expect("reap httpd");
    let took = wait_for("rs2 down in the status", t, || {
        let (h, w, since) = health("10.0.1.12:80");
        h == "down" && w.is_none() && since.is_some_and(|s| s >= killed_at)
    });
    println!("rs2 shown down after {took:?}");
    assert!(
        !kernel().contains_key("10.0.1.12:80"),
        "the oracle still lists rs2"
    );
    let text = hactl(&["status"]);
    println!("{text}");
    assert!(
        text.contains("IPVS Services:") && text.contains("10.0.1.12:80 down since"),
        "hactl status text does not show the down server"
    );
    rs[1] = httpd(2);
    let took = wait_for("rs2 back up at weight 2", t, || {
        health("10.0.1.12:80").0 == "up" && kernel().get("10.0.1.12:80").map(|k| k.0) == Some(2)
    });
    println!("rs2 back after {took:?}");
    wait_for("the status shows weight 2 again", t, || shown() == kernel());

    // Stopping the service withdraws its state.
    hactl(&["resource", "disable", "--wait=60s", "web"]);
    wait_for("no ipvs state after stop", t, || {
        status_servers().is_empty()
    });
    drop(idle);
    for mut c in rs {
        c.kill().ok();
        c.wait().ok();
    }
}
