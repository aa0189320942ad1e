//! Real-server health checks of the in-process `ocf:hactl:ipvs`, in a real IPVS
//! kernel: this test binary copies itself into the ipvs-vm guest (Debian's kernel
//! under qemu, `tests/ipvs-vm`) and runs `guest_health_checks` there, against busybox
//! httpd real servers, with `ipvsadm -Ln` as the oracle.

#[path = "../../../agents/ipvs/tests/support/guest.rs"]
mod guest;

use hactl_exec::{params, AgentSpec, ExecConfig, Executor, Params};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

#[test]
fn netns_ipvs_health_checks_in_a_real_lvs_kernel() {
    if !guest::require_root() {
        return;
    }
    let me = std::env::current_exe().expect("own path");
    let me = me.to_str().expect("utf-8 path");
    let (ok, out) = guest::run_guest(
        "health.sh",
        &[(me, "/t"), ("/usr/bin/openssl", "/usr/bin/openssl")],
    );
    assert!(
        ok && out.contains("test result: ok. 1 passed"),
        "the guest run failed"
    );
    // Each transition is logged with the resource and the server (the guest half
    // sends the daemon's log to its stdout).
    for (message, server) in [
        ("failed its health check: out of rotation", "10.0.0.11:80"),
        ("passed its health check: back in rotation", "10.0.0.11:80"),
        ("failed its health check: out of rotation", "10.0.0.12:80"),
    ] {
        let field = format!("real_server={server}");
        assert!(
            out.lines()
                .any(|l| l.contains(message) && l.contains("resource=web") && l.contains(&field)),
            "no log line '{message}' for {server}"
        );
    }
}

/// The pids the hanging misc check recorded that are still running (a zombie counts
/// as gone: it has been killed and only waits to be reaped).
fn hanging_sleeps_alive() -> Vec<String> {
    let pids = std::fs::read_to_string("/tmp/hang-pids").unwrap_or_default();
    pids.lines()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|st| st.rsplit(") ").next().is_some_and(|f| !f.starts_with('Z')))
        })
        .map(str::to_string)
        .collect()
}

/// The table as `ipvsadm -Ln` lists it: "addr:port weight" per real server.
fn table() -> Vec<String> {
    let out = Command::new("ipvsadm")
        .args(["-Ln", "-t", "10.0.0.100:80"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.trim_start().starts_with("->") && !l.contains("RemoteAddress"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            format!("{} {}", f[1], f[3])
        })
        .collect()
}

fn httpd(last: u8) -> Child {
    Command::new("httpd")
        .args([
            "-f",
            "-p",
            &format!("10.0.0.{last}:80"),
            "-h",
            &format!("/tmp/w{last}"),
        ])
        .spawn()
        .unwrap()
}

/// Polls the kernel table until it equals `want`; the time it took.
fn until(want: &[&str], limit: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        let got = table();
        if got == want {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < limit,
            "table {got:?}, want {want:?} within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// MD5 of `body` in hex, as `md5sum` prints it.
fn md5_hex(body: &str) -> String {
    use md5::Digest;
    md5::Md5::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn base(extra: &[(&str, &str)]) -> Params {
    let mut p = params([
        ("vip", "10.0.0.100"),
        ("port", "80"),
        ("scheduler", "rr"),
        ("real_servers", "10.0.0.11:80 10.0.0.12:80"),
        ("sorry_server", "10.0.0.99:80"),
        ("check_interval", "1"),
        ("connect_timeout", "1"),
        ("retry", "1"),
        ("delay_before_retry", "0.5"),
    ]);
    for (k, v) in extra {
        p.insert(k.to_string(), v.to_string());
    }
    p
}

/// Runs inside the guest only (`tests/guest/health.sh` sets HACTL_IN_GUEST).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs inside the ipvs-vm guest"]
async fn guest_health_checks() {
    assert_eq!(std::env::var("HACTL_IN_GUEST").as_deref(), Ok("1"));
    // The daemon's log, as it would write it, to stdout: the host half reads it.
    tracing_subscriber::fmt()
        .with_writer(std::io::stdout)
        .with_ansi(false)
        .init();
    let dir = tempfile::tempdir().unwrap();
    let (exec, _ev) = Executor::new(ExecConfig {
        rsctmp: dir.path().to_path_buf(),
        ..ExecConfig::default()
    });
    let ipvs = AgentSpec::parse("ocf:hactl:ipvs").unwrap();
    let t = Duration::from_secs(20);
    let mut rs11 = httpd(11);
    let mut rs12 = httpd(12);
    // keepalived's bound for a dead server: (retry+1)·check_interval + connect_timeout.
    let bound = Duration::from_secs(3);
    let slack = 2 * bound; // TCG emulation is slow; the measured time is printed

    let p = base(&[("check", "tcp")]);
    assert_eq!(exec.execute("web", &ipvs, &p, "start", t).await.rc, 0);
    until(&["10.0.0.11:80 1", "10.0.0.12:80 1"], slack);

    rs11.kill().unwrap();
    rs11.wait().unwrap();
    let took = until(&["10.0.0.12:80 1"], slack);
    println!("tcp: dead real server out of rotation after {took:?} (bound {bound:?})");
    rs11 = httpd(11);
    let took = until(&["10.0.0.11:80 1", "10.0.0.12:80 1"], slack);
    println!("tcp: recovered real server back after {took:?}");
    // A monitor with one server down repairs nothing back in: it sees the health.
    rs12.kill().unwrap();
    rs12.wait().unwrap();
    until(&["10.0.0.11:80 1"], slack);
    assert_eq!(exec.execute("web", &ipvs, &p, "monitor", t).await.rc, 0);
    assert_eq!(
        table(),
        ["10.0.0.11:80 1"],
        "monitor put a dead server back"
    );

    // inhibit_on_failure: dead servers stay at weight 0; all dead → the sorry server.
    let p = base(&[("check", "tcp"), ("inhibit_on_failure", "true")]);
    assert_eq!(
        exec.execute("web", &ipvs, &p, "reload-agent", t).await.rc,
        0
    );
    until(&["10.0.0.11:80 1", "10.0.0.12:80 0"], slack);
    rs11.kill().unwrap();
    rs11.wait().unwrap();
    until(
        &["10.0.0.11:80 0", "10.0.0.12:80 0", "10.0.0.99:80 1"],
        slack,
    );
    rs12 = httpd(12);
    until(&["10.0.0.11:80 0", "10.0.0.12:80 1"], slack);
    rs11 = httpd(11);

    // http: the status decides (10.0.0.11 serves /ok, 10.0.0.12 answers 404).
    let p = base(&[("check", "http"), ("http_path", "/ok")]);
    assert_eq!(
        exec.execute("web", &ipvs, &p, "reload-agent", t).await.rc,
        0
    );
    until(&["10.0.0.11:80 1"], slack);

    // https (SSL_GET): only the real TLS server on 443 passes; the plain HTTP server
    // there does not (it answers a ClientHello with garbage).
    let https = |digest: Option<&str>| {
        let mut p = base(&[
            ("check", "https"),
            ("check_port", "443"),
            ("http_path", "/ok"),
        ]);
        if let Some(d) = digest {
            p.insert("http_digest".into(), md5_hex(d));
        }
        p
    };
    let p = https(None);
    assert_eq!(
        exec.execute("web", &ipvs, &p, "reload-agent", t).await.rc,
        0
    );
    until(&["10.0.0.12:80 1"], slack);
    // http_digest: the body decides, over TLS and over plain HTTP.
    let p = https(Some("ok\n"));
    assert_eq!(
        exec.execute("web", &ipvs, &p, "reload-agent", t).await.rc,
        0
    );
    until(&["10.0.0.99:80 1"], slack);
    let p = https(Some("tls\n"));
    assert_eq!(
        exec.execute("web", &ipvs, &p, "reload-agent", t).await.rc,
        0
    );
    until(&["10.0.0.12:80 1"], slack);
    std::fs::write("/tmp/w12/ok", "other\n").unwrap();
    let mut p = base(&[("check", "http"), ("http_path", "/ok")]);
    p.insert("http_digest".into(), md5_hex("ok\n"));
    assert_eq!(
        exec.execute("web", &ipvs, &p, "reload-agent", t).await.rc,
        0
    );
    until(&["10.0.0.11:80 1"], slack);

    // A status other than 200: only the server answering 404 passes.
    std::fs::remove_file("/tmp/w12/ok").unwrap();
    let p = base(&[
        ("check", "http"),
        ("http_path", "/ok"),
        ("http_status", "404"),
    ]);
    assert_eq!(
        exec.execute("web", &ipvs, &p, "reload-agent", t).await.rc,
        0
    );
    until(&["10.0.0.12:80 1"], slack);

    // misc: the command decides, told which server it checks (address and port).
    let p = base(&[
        ("check", "misc"),
        ("misc_path", "test -e /tmp/up-$RS_ADDR:$RS_PORT"),
    ]);
    std::fs::write("/tmp/up-10.0.0.11:80", "").unwrap();
    assert_eq!(
        exec.execute("web", &ipvs, &p, "reload-agent", t).await.rc,
        0
    );
    until(&["10.0.0.11:80 1"], slack);

    // misc_timeout: a command that hangs fails its check at the timeout, and the
    // sleep it started goes with it (its process group is killed).
    let hang = "if test -e /tmp/hang-$RS_ADDR; then sleep 300 & echo $! >> /tmp/hang-pids; \
                wait; fi; test -e /tmp/up-$RS_ADDR:$RS_PORT";
    let p = base(&[
        ("check", "misc"),
        ("misc_path", hang),
        ("misc_timeout", "1"),
    ]);
    std::fs::write("/tmp/up-10.0.0.12:80", "").unwrap();
    assert_eq!(
        exec.execute("web", &ipvs, &p, "reload-agent", t).await.rc,
        0
    );
    until(&["10.0.0.11:80 1", "10.0.0.12:80 1"], slack);
    std::fs::write("/tmp/hang-10.0.0.11", "").unwrap();
    // (retry+1) attempts of at most misc_timeout each, after at most one interval.
    let took = until(&["10.0.0.12:80 1"], slack);
    println!("misc: hanging check out of rotation after {took:?}");
    std::fs::remove_file("/tmp/hang-10.0.0.11").unwrap();
    until(&["10.0.0.11:80 1", "10.0.0.12:80 1"], slack);
    // Back up: every hanging check has ended, so every sleep must be gone.
    let hung = std::fs::read_to_string("/tmp/hang-pids").unwrap_or_default();
    assert!(hung.lines().count() >= 2, "the check never hung: {hung:?}");
    assert_eq!(
        hanging_sleeps_alive(),
        Vec::<String>::new(),
        "a hung check's child survived"
    );
    std::fs::remove_file("/tmp/up-10.0.0.11:80").unwrap();
    until(&["10.0.0.12:80 1"], slack);

    // stop: the checks stop with the service; nothing puts it back.
    assert_eq!(exec.execute("web", &ipvs, &p, "stop", t).await.rc, 0);
    std::fs::write("/tmp/up-10.0.0.11:80", "").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await; // three check intervals: no event to wait for
    assert!(
        table().is_empty(),
        "the service came back after stop: {:?}",
        table()
    );
    for mut c in [rs11, rs12] {
        c.kill().unwrap();
        c.wait().unwrap();
    }
}

/// Benchmark half (`scripts/bench-ipvs-health`, inside the guest): a real server's
/// httpd killed → weight 0 in the kernel (inhibit_on_failure), 20 trials, with
/// check_interval=1 connect_timeout=1 retry=1 delay_before_retry=0.5. Prints the
/// median and the maximum; asserts nothing about them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark run inside the ipvs-vm guest"]
async fn guest_bench_failure_to_weight_zero() {
    assert_eq!(std::env::var("HACTL_IN_GUEST").as_deref(), Ok("1"));
    let dir = tempfile::tempdir().unwrap();
    let (exec, _ev) = Executor::new(ExecConfig {
        rsctmp: dir.path().to_path_buf(),
        ..ExecConfig::default()
    });
    let ipvs = AgentSpec::parse("ocf:hactl:ipvs").unwrap();
    let p = base(&[("check", "tcp"), ("inhibit_on_failure", "true")]);
    let mut rs11 = httpd(11);
    let mut rs12 = httpd(12);
    let t = Duration::from_secs(20);
    assert_eq!(exec.execute("web", &ipvs, &p, "start", t).await.rc, 0);
    failure_trials("ocf:hactl:ipvs", &mut rs11);
    assert_eq!(exec.execute("web", &ipvs, &p, "stop", t).await.rc, 0);
    for c in [&mut rs11, &mut rs12] {
        c.kill().unwrap();
        c.wait().unwrap();
    }
}

/// 20 times: rs11's httpd is killed, and the time until the kernel's table shows it
/// at weight 0 (rs12 untouched) is taken; then it is restarted. Prints median and max.
fn failure_trials(who: &str, rs11: &mut Child) {
    let limit = Duration::from_secs(30);
    let mut took = Vec::new();
    for _ in 0..20 {
        until(&["10.0.0.11:80 1", "10.0.0.12:80 1"], limit);
        rs11.kill().unwrap();
        rs11.wait().unwrap();
        took.push(until(&["10.0.0.11:80 0", "10.0.0.12:80 1"], limit));
        *rs11 = httpd(11);
    }
    took.sort();
    println!(
        "{who}: failure -> weight 0 over {} trials: median {:?}, max {:?} (min {:?})",
        took.len(),
        took[took.len() / 2],
        took[took.len() - 1],
        took[0]
    );
}

/// keepalived's TCP_CHECK with the same service and timings as
/// `guest_bench_failure_to_weight_zero` (`scripts/bench-ipvs-health` copies
/// /usr/sbin/keepalived into the guest): the comparison.
#[test]
#[ignore = "a benchmark run inside the ipvs-vm guest"]
fn guest_bench_keepalived_failure_to_weight_zero() {
    assert_eq!(std::env::var("HACTL_IN_GUEST").as_deref(), Ok("1"));
    let rs = |last: u8| {
        format!(
            "  real_server 10.0.0.{last} 80 {{\n    weight 1\n    inhibit_on_failure\n    \
             TCP_CHECK {{\n      connect_timeout 1\n      retry 1\n      \
             delay_before_retry 0.5\n    }}\n  }}\n"
        )
    };
    let conf = format!(
        "virtual_server 10.0.0.100 80 {{\n  delay_loop 1\n  lb_algo rr\n  lb_kind DR\n  \
         protocol TCP\n{}{}}}\n",
        rs(11),
        rs(12)
    );
    std::fs::write("/tmp/keepalived.conf", conf).unwrap();
    let mut rs11 = httpd(11);
    let mut rs12 = httpd(12);
    // Checker only (-C), in the foreground, logging to the console.
    let mut keepalived = Command::new("keepalived")
        .args(["-C", "-n", "-l", "-f", "/tmp/keepalived.conf"])
        .spawn()
        .unwrap();
    failure_trials("keepalived", &mut rs11);
    for c in [&mut keepalived, &mut rs11, &mut rs12] {
        c.kill().unwrap();
        c.wait().unwrap();
    }
}
