//! The executor against real agents that need no network namespace: the Debian
//! ClusterLabs agents (ocf:pacemaker:Dummy, ocf:heartbeat:IPaddr2 meta-data), the
//! project's Dummy in-process, small agent scripts for timeouts, and an LSB script.

use hactl_exec::{params, AgentSpec, ExecConfig, ExecEvent, ExecStatus, Executor, MonitorSpec};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

fn config(dir: &Path) -> ExecConfig {
    let rsctmp = dir.join("rsctmp");
    let varrun = dir.join("varrun");
    std::fs::create_dir_all(&rsctmp).unwrap();
    std::fs::create_dir_all(&varrun).unwrap();
    ExecConfig {
        rsctmp,
        varrun: Some(varrun),
        initd_dir: dir.join("init.d"),
        ..ExecConfig::default()
    }
}

fn script(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A recurring monitor on the in-process Dummy whose resource then fails: the change
/// is reported exactly once, not on every interval, and the fail count rises once.
#[tokio::test(flavor = "current_thread")]
async fn monitor_that_starts_failing_is_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let (exec, mut events) = Executor::new(config(dir.path()));
    let agent = AgentSpec::parse("ocf:hactl:Dummy").unwrap();
    let flag = dir.path().join("fail-now");
    let p = params([("fail_monitor_file", flag.display().to_string())]);
    assert!(exec
        .execute("d1", &agent, &p, "start", T)
        .await
        .is_success());
    let interval = Duration::from_millis(50);
    exec.start_monitor(
        "d1",
        &agent,
        &p,
        MonitorSpec {
            interval,
            timeout: T,
            check_level: None,
        },
    );

    let first = tokio::time::timeout(T, events.recv())
        .await
        .unwrap()
        .unwrap();
    let ExecEvent::MonitorChanged {
        previous, result, ..
    } = first;
    assert_eq!(previous, None);
    assert_eq!(result.rc, 0);

    std::fs::write(&flag, b"").unwrap();
    let change = tokio::time::timeout(T, events.recv())
        .await
        .unwrap()
        .unwrap();
    let ExecEvent::MonitorChanged {
        rsc,
        previous,
        result,
        ..
    } = change;
    assert_eq!(rsc, "d1");
    assert_eq!(previous, Some((0, ExecStatus::Done)));
    assert_eq!(result.rc, 1);
    assert!(result.exit_reason.is_some());

    // Let the monitor run many more intervals with the same failure: no more events.
    let runs_before = exec.history("d1").len();
    let deadline = Instant::now() + Duration::from_millis(600);
    let mut extra = Vec::new();
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline.into(), events.recv()).await {
        extra.push(ev);
    }
    assert!(
        extra.is_empty(),
        "unchanged results were reported again: {extra:?}"
    );
    assert_eq!(
        exec.history("d1").len(),
        runs_before,
        "unchanged results recorded again"
    );
    assert_eq!(exec.fail_count("d1", "monitor", interval), 1);
    let fc = exec.fail_counts();
    assert_eq!(fc.len(), 1);
    assert_eq!(fc[0].op.as_deref(), Some("monitor"));

    // Recovery is a change too; a stop cancels the monitor.
    std::fs::remove_file(&flag).unwrap();
    let back = tokio::time::timeout(T, events.recv())
        .await
        .unwrap()
        .unwrap();
    let ExecEvent::MonitorChanged { result, .. } = back;
    assert_eq!(result.rc, 0);
    assert!(exec.execute("d1", &agent, &p, "stop", T).await.is_success());
    assert!(exec.monitors().is_empty());
}

/// An agent that hangs is killed at its timeout: the result is "timed out" and the
/// whole process group (the agent and a child it started) is gone.
#[tokio::test(flavor = "current_thread")]
async fn hung_agent_is_killed_at_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let provider = dir.path().join("provider");
    let pidfile = dir.path().join("pid");
    script(
        &provider.join("Hang"),
        &format!(
            "#!/bin/sh\n[ \"$1\" = meta-data ] && exit 0\necho $$ > {}\nsleep 300 &\nsleep 300\n",
            pidfile.display()
        ),
    );
    let mut cfg = config(dir.path());
    cfg.provider_dirs.insert("test".into(), provider);
    let (exec, _ev) = Executor::new(cfg);
    let agent = AgentSpec::parse("ocf:test:Hang").unwrap();
    let t0 = Instant::now();
    let r = exec
        .execute(
            "h",
            &agent,
            &params::<_, String, String>([]),
            "start",
            Duration::from_millis(500),
        )
        .await;
    let took = t0.elapsed();
    assert_eq!(r.status, ExecStatus::Timeout, "{r}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let pgid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Poll briefly: SIGKILL delivery to the backgrounded sleep is asynchronous.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // SAFETY: signal 0 only checks whether any process of the group exists.
        let alive = unsafe { libc::kill(-pgid, 0) } == 0;
        if !alive {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "process group {pgid} still alive"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(exec.fail_count("h", "start", Duration::ZERO), 1);
    assert_eq!(exec.history("h")[0].op_status, 2);
}

/// ocf:pacemaker:Dummy with op_sleep fails with "alternate universe collision" when two
/// monitors overlap. Through one executor they are queued; two executors (no shared
/// queue) show the agent really detects overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_operation_at_a_time_per_resource() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let (exec, _ev) = Executor::new(cfg.clone());
    let agent = AgentSpec::parse("ocf:pacemaker:Dummy").unwrap();
    let p = params([("op_sleep", "1")]);
    let r = exec.execute("pd", &agent, &p, "start", T).await;
    assert!(r.is_success(), "{r}");
    let (a, b) = tokio::join!(
        exec.execute("pd", &agent, &p, "monitor", T),
        exec.execute("pd", &agent, &p, "monitor", T)
    );
    assert!(a.is_success(), "{a}");
    assert!(b.is_success(), "{b}");
    // One waited for the other.
    let queued: Vec<u64> = exec
        .history("pd")
        .iter()
        .filter_map(|h| h.queue_time_ms)
        .collect();
    assert!(queued.iter().any(|q| *q >= 500), "no op waited: {queued:?}");

    // Control: two executors do not share a queue, and the agent notices.
    let (other, _ev2) = Executor::new(cfg);
    let (a, b) = tokio::join!(exec.execute("pd", &agent, &p, "monitor", T), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        other.execute("pd", &agent, &p, "monitor", T).await
    });
    let collided = [&a, &b]
        .iter()
        .any(|r| r.exit_reason.as_deref() == Some("alternate universe collision"));
    assert!(collided, "overlap not detected: {a} / {b}");
    assert!(exec.execute("pd", &agent, &p, "stop", T).await.is_success());
}

/// Unknown agents are "not installed" with their name; a missing required parameter
/// of the real IPaddr2 is refused before anything runs, naming `ip`.
#[tokio::test(flavor = "current_thread")]
async fn bad_input_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let (exec, _ev) = Executor::new(config(dir.path()));
    let nope = AgentSpec::parse("ocf:heartbeat:NoSuchAgent").unwrap();
    let r = exec
        .execute("x", &nope, &params::<_, String, String>([]), "start", T)
        .await;
    assert_eq!(r.status, ExecStatus::NotInstalled);
    assert_eq!(r.rc, 5);
    assert!(r.exit_reason.unwrap().contains("ocf:heartbeat:NoSuchAgent"));
    let e = exec
        .validate(&nope, &params::<_, String, String>([]))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("ocf:heartbeat:NoSuchAgent")
            && e.to_string().contains("not installed"),
        "{e}"
    );

    let ipaddr2 = AgentSpec::parse("ocf:heartbeat:IPaddr2").unwrap();
    let e = exec
        .validate(&ipaddr2, &params([("cidr_netmask", "24")]))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("required parameter 'ip' is missing"),
        "{e}"
    );
    let e = exec
        .validate(
            &ipaddr2,
            &params([("ip", "10.0.0.1"), ("arp_count", "lots")]),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("'arp_count'"), "{e}");
    let e = exec
        .validate(&ipaddr2, &params([("ip", "10.0.0.1"), ("colour", "red")]))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("unknown parameter 'colour'"), "{e}");
    let md = exec
        .validate(&ipaddr2, &params([("ip", "10.0.0.1")]))
        .await
        .unwrap();
    assert!(md.default_timeout("start").is_some());
    assert!(
        exec.history("x").len() == 1,
        "validation must not run any op"
    );

    let bad = exec
        .execute("x", &ipaddr2, &params([("bad-name", "1")]), "monitor", T)
        .await;
    assert_eq!(bad.status, ExecStatus::Invalid);
    // ...but a stop never fails because of parameters (a failed stop is fenced).
    let dummy = AgentSpec::parse("ocf:hactl:Dummy").unwrap();
    let stop = exec
        .execute("x", &dummy, &params([("bad-name", "1")]), "stop", T)
        .await;
    assert!(stop.is_success(), "{stop}");
}

/// The real heartbeat Dummy through the OCF path, with the executor's HA_RSCTMP.
#[tokio::test(flavor = "current_thread")]
async fn heartbeat_dummy_lifecycle_and_probe() {
    let dir = tempfile::tempdir().unwrap();
    let (exec, _ev) = Executor::new(config(dir.path()));
    let agent = AgentSpec::parse("ocf:heartbeat:Dummy").unwrap();
    let p = params::<_, String, String>([]);
    let probe = exec.probe("hd", &agent, &p, T).await;
    assert_eq!(probe.rc, 7, "{probe}");
    assert!(exec
        .execute("hd", &agent, &p, "start", T)
        .await
        .is_success());
    assert!(dir.path().join("rsctmp/Dummy-hd.state").exists());
    assert_eq!(exec.probe("hd", &agent, &p, T).await.rc, 0);
    assert!(exec.execute("hd", &agent, &p, "stop", T).await.is_success());
    assert_eq!(exec.execute("hd", &agent, &p, "monitor", T).await.rc, 7);
    assert_eq!(
        exec.fail_counts().len(),
        0,
        "probe/stop results are not failures"
    );
    let h = exec.history("hd");
    assert_eq!(h.len(), 5);
    assert!(h.windows(2).all(|w| w[0].call_id < w[1].call_id));
}

/// lsb: an init script in a temp init.d: start/status/stop with LSB codes.
#[tokio::test(flavor = "current_thread")]
async fn lsb_script_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let state = dir.path().join("svc.running");
    script(
        &cfg.initd_dir.join("svc"),
        &format!(
            "#!/bin/sh\nS={}\ncase \"$1\" in\n start) touch $S ;;\n stop) rm -f $S ;;\n status) [ -f $S ] && exit 0; exit 3 ;;\n *) echo \"usage\" >&2; exit 2 ;;\nesac\n",
            state.display()
        ),
    );
    let cfg = ExecConfig {
        systemd_bus: format!("unix:path={}", dir.path().join("no-bus").display()),
        ..cfg
    };
    let (exec, _ev) = Executor::new(cfg);
    let agent = AgentSpec::parse("lsb:svc").unwrap();
    let p = params::<_, String, String>([]);
    assert_eq!(exec.execute("s", &agent, &p, "monitor", T).await.rc, 7);
    assert!(exec.execute("s", &agent, &p, "start", T).await.is_success());
    assert!(state.exists());
    assert_eq!(exec.execute("s", &agent, &p, "monitor", T).await.rc, 0);
    assert!(exec.execute("s", &agent, &p, "stop", T).await.is_success());
    assert_eq!(exec.execute("s", &agent, &p, "monitor", T).await.rc, 7);
    // service: falls back to the init script when no systemd bus answers (the
    // configured bus address does not exist here).
    let svc = AgentSpec::parse("service:svc").unwrap();
    assert!(exec.execute("s", &svc, &p, "start", T).await.is_success());
    assert_eq!(exec.execute("s", &svc, &p, "monitor", T).await.rc, 0);
    assert!(exec.execute("s", &svc, &p, "stop", T).await.is_success());
    assert!(!state.exists());
    let missing = exec
        .execute(
            "s",
            &AgentSpec::parse("lsb:nothere").unwrap(),
            &p,
            "start",
            T,
        )
        .await;
    assert_eq!(missing.status, ExecStatus::NotInstalled);
    let agents = exec
        .agents(Some(hactl_exec::Class::Lsb), None)
        .await
        .unwrap();
    assert_eq!(agents, vec!["lsb:svc".to_string()]);
}

/// Discovery lists the real providers and the in-process hactl agents.
#[tokio::test(flavor = "current_thread")]
async fn discovery() {
    let dir = tempfile::tempdir().unwrap();
    let (exec, _ev) = Executor::new(config(dir.path()));
    let prov = exec.providers();
    assert!(
        prov.contains(&"heartbeat".to_string()) && prov.contains(&"hactl".to_string()),
        "{prov:?}"
    );
    let hb = exec
        .agents(Some(hactl_exec::Class::Ocf), Some("heartbeat"))
        .await
        .unwrap();
    assert!(hb.contains(&"ocf:heartbeat:IPaddr2".to_string()));
    let ours = exec
        .agents(Some(hactl_exec::Class::Ocf), Some("hactl"))
        .await
        .unwrap();
    assert_eq!(
        ours,
        vec![
            "ocf:hactl:Dummy",
            "ocf:hactl:VIP",
            "ocf:hactl:ipvs",
            "ocf:hactl:lvs-realserver"
        ]
    );
    let md = exec
        .metadata(&AgentSpec::parse("ocf:hactl:VIP").unwrap())
        .await
        .unwrap();
    assert!(md.parameter("ip").unwrap().required);
}

/// The real ocf:pacemaker:Dummy: OCF_CHECK_LEVEL reaches the agent (depth 30 always
/// fails), and depth 10 (a 30 s monitor) is killed at the op timeout; the resource's
/// queue is free again afterwards.
#[tokio::test(flavor = "current_thread")]
async fn check_level_and_timeout_with_a_real_agent() {
    let dir = tempfile::tempdir().unwrap();
    let (exec, _ev) = Executor::new(config(dir.path()));
    let agent = AgentSpec::parse("ocf:pacemaker:Dummy").unwrap();
    let p = params::<_, String, String>([]);
    assert!(exec
        .execute("cl", &agent, &p, "start", T)
        .await
        .is_success());
    let r = exec
        .execute_with("cl", &agent, &p, "monitor", Duration::ZERO, T, Some(30))
        .await;
    assert_eq!((r.rc, r.status), (1, ExecStatus::Done), "{r}");
    let t0 = Instant::now();
    let r = exec
        .execute_with(
            "cl",
            &agent,
            &p,
            "monitor",
            Duration::ZERO,
            Duration::from_secs(1),
            Some(10),
        )
        .await;
    assert_eq!(r.status, ExecStatus::Timeout, "{r}");
    assert!(t0.elapsed() < Duration::from_secs(20));
    assert_eq!(exec.execute("cl", &agent, &p, "monitor", T).await.rc, 0);
    assert!(exec.execute("cl", &agent, &p, "stop", T).await.is_success());
}

/// A recurring monitor on the real ocf:heartbeat:Dummy whose state file disappears
/// (the service "died"): one event with rc 7, then silence.
#[tokio::test(flavor = "current_thread")]
async fn recurring_monitor_on_a_real_agent_reports_the_death_once() {
    let dir = tempfile::tempdir().unwrap();
    let (exec, mut events) = Executor::new(config(dir.path()));
    let agent = AgentSpec::parse("ocf:heartbeat:Dummy").unwrap();
    let p = params::<_, String, String>([]);
    assert!(exec
        .execute("rd", &agent, &p, "start", T)
        .await
        .is_success());
    let interval = Duration::from_millis(100);
    exec.start_monitor(
        "rd",
        &agent,
        &p,
        MonitorSpec {
            interval,
            timeout: T,
            check_level: None,
        },
    );
    let ExecEvent::MonitorChanged { result, .. } = tokio::time::timeout(T, events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result.rc, 0);
    std::fs::remove_file(dir.path().join("rsctmp/Dummy-rd.state")).unwrap();
    let ExecEvent::MonitorChanged {
        previous, result, ..
    } = tokio::time::timeout(T, events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((previous, result.rc), (Some((0, ExecStatus::Done)), 7));
    let quiet = tokio::time::timeout(Duration::from_millis(800), events.recv()).await;
    assert!(quiet.is_err(), "unchanged result reported again: {quiet:?}");
    assert_eq!(exec.fail_count("rd", "monitor", interval), 1);
    assert!(exec.cancel_monitor("rd", interval));
    assert!(!exec.cancel_monitor("rd", interval));
}

/// Issue: a typo in a VIP's parameters fenced the cluster, because stop and monitor
/// of the native agents failed with "not configured" (6) and a failed stop is fenced.
/// Each invalid value is refused by `check` (what `resource create` runs) with the
/// parameter's name, while stop succeeds and a probe says "not running" — in-process
/// here; the executable form is checked in agents/vip's netns test. Nothing here
/// touches an interface: no value below parses to an address that could be on one.
#[tokio::test(flavor = "current_thread")]
async fn native_agents_refuse_typos_at_check_and_never_fail_stop_or_probe() {
    let dir = tempfile::tempdir().unwrap();
    let (exec, _ev) = Executor::new(config(dir.path()));
    let vip = AgentSpec::parse("ocf:hactl:VIP").unwrap();
    let base = [("ip", "10.231.0.10"), ("cidr_netmask", "24")];
    for (k, v) in [
        ("ip", "999.1.1.1"),
        ("ip", "224.0.0.1"),
        ("cidr_netmask", "33"),
        ("nic", "a/b"),
        ("arp_count", "-1"),
    ] {
        let mut p = params(base);
        p.insert(k.into(), v.into());
        let e = exec.check("vipbad", &vip, &p).await.unwrap_err();
        assert!(
            matches!(&e, hactl_exec::ExecError::Invalid { reason, .. } if reason.contains(k)),
            "{k}={v}: {e}"
        );
        let start = exec.execute("vipbad", &vip, &p, "start", T).await;
        assert_eq!(start.rc, 6, "{k}={v}: {start}");
        let probe = exec.probe("vipbad", &vip, &p, T).await;
        assert_eq!(probe.rc, 7, "{k}={v}: {probe}");
        let stop = exec.execute("vipbad", &vip, &p, "stop", T).await;
        assert!(stop.is_success(), "{k}={v}: {stop}");
    }
    let dummy = AgentSpec::parse("ocf:hactl:Dummy").unwrap();
    let p = params([("op_sleep", "soon")]);
    let e = exec.check("d", &dummy, &p).await.unwrap_err();
    assert!(e.to_string().contains("op_sleep"), "{e}");
    assert!(exec.execute("d", &dummy, &p, "stop", T).await.is_success());
}

/// `ocf:hactl:ipvs` in-process: a wrong configuration is refused at `check` naming
/// the parameter; on a kernel without IPVS (this machine's) a right one is a local
/// "not installed" (5) — another node may have ip_vs — and stop and probe succeed
/// and say "not running". The kernel side is tested in the ipvs-vm guest (agents/ipvs).
#[tokio::test(flavor = "current_thread")]
async fn ipvs_in_process_refuses_bad_config_and_reports_a_kernel_without_ipvs() {
    let dir = tempfile::tempdir().unwrap();
    let (exec, _ev) = Executor::new(config(dir.path()));
    let ipvs = AgentSpec::parse("ocf:hactl:ipvs").unwrap();
    let base = [
        ("vip", "10.231.0.100"),
        ("port", "80"),
        ("real_servers", "10.231.0.11:80"),
    ];
    for (k, v) in [
        ("scheduler", "fastest"),
        ("real_servers", "10.231.0.11:80 10.231.0.11:80"),
    ] {
        let mut p = params(base);
        p.insert(k.into(), v.into());
        // The meta-data's option list or the agent's validate-all: either names it.
        let e = exec.check("web", &ipvs, &p).await.unwrap_err();
        assert!(e.to_string().contains(k), "{k}={v}: {e}");
        assert_eq!(exec.execute("web", &ipvs, &p, "start", T).await.rc, 6);
    }
    if Path::new("/proc/net/ip_vs").exists() {
        eprintln!("skipped the rest: this kernel has IPVS");
        return;
    }
    let p = params(base);
    let local = exec.check("web", &ipvs, &p).await.unwrap().local_failure;
    assert_eq!(local.map(|r| r.rc), Some(5));
    assert_eq!(exec.probe("web", &ipvs, &p, T).await.rc, 7);
    assert!(exec.execute("web", &ipvs, &p, "stop", T).await.is_success());
}

/// The real IPaddr2's validate-all runs at `check` with the resource's parameters:
/// an address that is not one is refused before anything is committed, with what
/// the agent logged (its exit reason alone is "[findif] failed"). An address this
/// host has no interface for is only a local failure (another node may have one).
#[tokio::test(flavor = "current_thread")]
async fn ipaddr2_validate_all_runs_at_check() {
    let dir = tempfile::tempdir().unwrap();
    let (exec, _ev) = Executor::new(config(dir.path()));
    let ipaddr2 = AgentSpec::parse("ocf:heartbeat:IPaddr2").unwrap();
    let e = exec
        .check("foo", &ipaddr2, &params([("ip", "10.99.0.300")]))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, hactl_exec::ExecError::Invalid { .. })
            && e.to_string().contains("10.99.0.300"),
        "{e}"
    );
    let c = exec
        .check("foo", &ipaddr2, &params([("ip", "10.231.0.10")]))
        .await
        .unwrap();
    let local = c.local_failure.expect("no interface here for 10.231.0.10");
    assert_eq!(local.rc, 1, "{local}");
    assert!(exec.history("foo").is_empty(), "validation records no op");
}

/// The real ocf:pacemaker:Stateful, promoted with its Promoted-role monitor running:
/// a demote ends that monitor, so it never reports the unpromoted state it finds
/// next (rc 0 where its role says 8) as a failure, as it did between the demote and
/// the stop of a node going to standby. A promote likewise ends the Unpromoted
/// monitor. `crm_attribute` is a stub that accepts the agent's promotion scores:
/// they are not under test and there is no daemon here to take them.
#[tokio::test(flavor = "current_thread")]
async fn demote_and_promote_end_the_recurring_monitors() {
    let dir = tempfile::tempdir().unwrap();
    let sbin = dir.path().join("sbin");
    script(&sbin.join("crm_attribute"), "#!/bin/sh\nexit 0\n");
    let cfg = ExecConfig {
        sbin_dir: Some(sbin),
        ..config(dir.path())
    };
    let (exec, mut events) = Executor::new(cfg);
    let agent = AgentSpec::parse("ocf:pacemaker:Stateful").unwrap();
    let p = params::<_, String, String>([]);
    let spec = MonitorSpec {
        interval: Duration::from_millis(20),
        timeout: T,
        check_level: None,
    };
    for op in ["start", "promote"] {
        assert!(
            exec.execute("db", &agent, &p, op, T).await.is_success(),
            "{op}"
        );
    }
    exec.start_monitor("db", &agent, &p, spec.clone());
    let ExecEvent::MonitorChanged { result, .. } = tokio::time::timeout(T, events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result.rc, 8, "promoted");
    assert!(exec
        .execute("db", &agent, &p, "demote", T)
        .await
        .is_success());
    assert!(exec.monitors().is_empty(), "{:?}", exec.monitors());
    let quiet = tokio::time::timeout(Duration::from_millis(300), events.recv()).await;
    assert!(quiet.is_err(), "a monitor ran after the demote: {quiet:?}");
    exec.start_monitor("db", &agent, &p, spec);
    let ExecEvent::MonitorChanged { result, .. } = tokio::time::timeout(T, events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result.rc, 0, "unpromoted");
    assert!(exec
        .execute("db", &agent, &p, "promote", T)
        .await
        .is_success());
    assert!(exec.monitors().is_empty(), "{:?}", exec.monitors());
    let quiet = tokio::time::timeout(Duration::from_millis(300), events.recv()).await;
    assert!(quiet.is_err(), "a monitor ran after the promote: {quiet:?}");
}
