//! Fencing end to end: three real `hactl daemon`s in network namespaces, a real
//! fence_virtd (libvirt test driver, domains n1..n3 named after the nodes) in a fourth
//! namespace on the same switch, a `fence_hactl_xvm` stonith device created with
//! `hactl stonith create`, and a group of real `ocf:heartbeat:Dummy` resources.
//!
//! * A node's link is cut → the DC has another node fence it (its domain is off in
//!   fence_virtd, as the C `fence_xvm -o status` sees it) → the group starts elsewhere.
//! * With the device's key wrong → fencing fails, is recorded as failed in the
//!   history, is retried, and the group does not start elsewhere.
//!
//! Nothing is mocked. Needs root; fails without it unless `HACTL_SKIP_ROOT_TESTS=1`.

use std::time::Duration;

use anyhow::{bail, Result};
use hactl_tests::cluster::Cluster;
use hactl_tests::controller_lab::{
    active_on, agent_env, cli, cli_output, cut_link, ensure, idx, wait_group_on, NsReaper,
};
use hactl_tests::fence_virtd::{configure_fenced_group, fencing_lab, write_key};
use hactl_tests::netns::{require_root, run};

const T: Duration = Duration::from_secs(60);

fn start_nodes(c: &mut Cluster) -> Result<()> {
    for i in 1..=3 {
        for (k, v) in agent_env(c, i)? {
            std::env::set_var(k, v);
        }
        c.start(i)?;
    }
    c.wait_dc(&[1, 2, 3], T)?;
    Ok(())
}

fn other(k: usize) -> usize {
    if k == 1 {
        2
    } else {
        1
    }
}

#[test]
fn netns_fencing_cut_node_is_fenced_then_group_moves() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let (mut c, fv) = fencing_lab("hx-kf", "10.87.0", T)?;
    let _reaper = NsReaper::new(&c);
    start_nodes(&mut c)?;
    let key = fv.key_path.display().to_string();
    let on = configure_fenced_group(&c, &key)?;
    let k = idx(&on)?;
    let o = other(k);
    let pre = c.net.ns(o);
    if fv.status_from(&pre, &on)? != Some(true) {
        bail!("domain {on} should be running before the test");
    }

    let t0 = std::time::Instant::now();
    cut_link(&c, k)?;
    // Fenced: the history says so and fence_virtd has the domain off.
    c.wait_until(&format!("{on} fenced"), T, || {
        let cib = c.cib(o)?;
        Ok(cib
            .status
            .fencing_history
            .iter()
            .find(|e| e.target == on && e.ok)
            .cloned())
    })?;
    if fv.status_from(&pre, &on)? != Some(false) {
        bail!(
            "{on} was reported fenced but its domain is not off; fence_virtd log:\n{}",
            fv.log()
        );
    }
    let fenced = t0.elapsed();
    // Then the group starts on a survivor.
    let now_on = wait_group_on(&c, o, &["d1", "d2"], T, |n| n != on)?;
    eprintln!(
        "link of {on} cut → fenced (recorded) after {:.0} ms → group active on {now_on} after {:.0} ms",
        fenced.as_secs_f64() * 1000.0,
        t0.elapsed().as_secs_f64() * 1000.0
    );
    if now_on == on {
        bail!("group still on the fenced node");
    }
    let h = cli(&c, o, &["stonith", "history", &on])?;
    eprintln!("{h}");
    if !h.contains(&format!("off of {on} succeeded")) {
        bail!("stonith history does not show the fencing: {h}");
    }

    // `hactl stonith fence NODE --on` through a survivor's daemon powers the domain
    // back on, and the history names the operator.
    let out = cli(&c, o, &["stonith", "fence", &on, "--on"])?;
    if !out.contains(&format!("on of {on} succeeded")) {
        bail!("stonith fence --on: {out}");
    }
    let waited = c.wait_until(
        &format!("{on}'s domain on again"),
        Duration::from_secs(10),
        || Ok((fv.status_from(&pre, &on)? == Some(true)).then_some(())),
    );
    if let Err(e) = waited {
        let h = cli(&c, o, &["stonith", "history", &on])?;
        bail!(
            "{e} after `{}`; history:\n{h}\nfence_virtd log:\n{}",
            out.trim(),
            fv.log()
        );
    }
    c.wait_until("the operator's fencing in the history", T, || {
        let h = cli(&c, o, &["stonith", "history", &on])?;
        Ok(h.contains(&format!(
            "on of {on} succeeded: executed by {} with xvm (asked by operator)",
            format_args!("n{o}")
        ))
        .then_some(()))
    })?;
    // Fenced once: a fenced node is down, not unclean, until it rejoins.
    let cib = c.cib(o)?;
    let by_controller = cib
        .status
        .fencing_history
        .iter()
        .filter(|e| e.target == on && e.origin.as_deref() == Some("controller"))
        .count();
    if by_controller != 1 {
        bail!("{on} was fenced {by_controller} times by the controller, expected once");
    }
    // An unknown node: a clear error.
    let e = cli(&c, o, &["stonith", "fence", "n9"])
        .unwrap_err()
        .to_string();
    if !e.contains("no node \"n9\"") {
        bail!("fencing an unknown node: {e}");
    }
    Ok(())
}

#[test]
fn netns_fencing_broken_device_keeps_group_stopped() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let (mut c, fv) = fencing_lab("hx-kb", "10.88.0", T)?;
    let _reaper = NsReaper::new(&c);
    start_nodes(&mut c)?;
    // A key fence_virtd does not have: every request goes unanswered.
    let wrong = c.root.join("wrong.key");
    write_key(&wrong)?;
    let on = configure_fenced_group(&c, &wrong.display().to_string())?;
    let k = idx(&on)?;
    let o = other(k);

    cut_link(&c, k)?;
    // Two failed attempts (a first one and its retry); after each, the group must
    // still be where it was (not started elsewhere).
    for attempt in 1..=2 {
        c.wait_until(
            &format!("failed fencing attempt {attempt} of {on}"),
            T,
            || {
                let cib = c.cib(o)?;
                let failed = cib
                    .status
                    .fencing_history
                    .iter()
                    .filter(|e| e.target == on && !e.ok)
                    .count();
                Ok((failed >= attempt).then_some(()))
            },
        )?;
        let cib = c.cib(o)?;
        if cib
            .status
            .fencing_history
            .iter()
            .any(|e| e.target == on && e.ok)
        {
            bail!("fencing with a wrong key succeeded");
        }
        for r in ["d1", "d2"] {
            let where_ = active_on(&cib, r);
            if where_.iter().any(|n| n != &on) {
                bail!("{r} started on {where_:?} although {on} was never fenced");
            }
        }
    }
    if fv.status_from(&c.net.ns(o), &on)? != Some(true) {
        bail!("the domain of {on} changed although the key was wrong");
    }
    let h = cli(&c, o, &["stonith", "history", &on])?;
    eprintln!("{h}");
    if !h.contains(&format!("off of {on} FAILED")) {
        bail!("stonith history does not say fencing failed: {h}");
    }
    let st = cli(&c, o, &["status"])?;
    eprintln!("{st}");
    if !st.contains("Failed Fencing Actions:") || !st.contains(&format!("off of {on} failed")) {
        bail!("hactl status does not say fencing of {on} failed: {st}");
    }
    Ok(())
}

/// Values neither `ocf:hactl:VIP` nor any node can use (issue: each fenced nodes).
const TYPOS: [(&str, &str); 5] = [
    ("ip", "999.1.1.1"),
    ("ip", "224.0.0.1"),
    ("cidr_netmask", "33"),
    ("nic", "a/b"),
    ("arp_count", "-1"),
];

/// `hactl resource create NAME AGENT ARGS...` via n1: (exit code, stdout + stderr).
fn create(c: &Cluster, name: &str, agent: &str, args: &[&str]) -> Result<(i32, String)> {
    let mut all = vec!["resource", "create", name, agent];
    all.extend_from_slice(args);
    let o = cli_output(c, 1, &all)?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    Ok((o.status.code().unwrap_or(-1), text))
}

/// Issue 9.2 (a typo must not fence the cluster) and 10.2 ("done" must mean done),
/// with fencing on and a real fence device:
/// * every invalid VIP value, and an IPaddr2 address that is not one, is refused by
///   `resource create` before anything is committed;
/// * the same values forced past the CLI (`--force`: what a CIB written by other
///   means holds) fail at start on one node, are stopped, and `create` exits 3 (not
///   done) with the agent's exit reason — and no node is fenced;
/// * a `nic` that exists on n3 only: the start fails with "invalid parameter" (2) on
///   the nodes without it, which bans it from them, and it runs on n3.
#[test]
fn netns_fencing_typo_in_agent_parameters_fences_nothing() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let (mut c, fv) = fencing_lab("hx-kv", "10.89.0", T)?;
    let _reaper = NsReaper::new(&c);
    start_nodes(&mut c)?;
    configure_fenced_group(&c, &fv.key_path.display().to_string())?;

    for (i, (k, v)) in TYPOS.iter().enumerate() {
        let name = format!("vipbad{i}");
        let ip = format!("ip=10.89.0.{}", 200 + i);
        let kv = format!("{k}={v}");
        let mut args: Vec<&str> = [ip.as_str(), "cidr_netmask=24"]
            .into_iter()
            .filter(|a| !a.starts_with(&format!("{k}=")))
            .collect();
        args.push(&kv);
        let (code, out) = create(&c, &name, "ocf:hactl:VIP", &args)?;
        ensure(
            code == 1 && out.contains(&format!("parameter '{k}'")),
            &format!("create with {kv} was not refused: exit {code}: {out}"),
        )?;
        ensure(
            c.cib(1)?.config.find_primitive(&name).is_none(),
            &format!("{name} committed although refused"),
        )?;
        args.push("--force");
        let (code, out) = create(&c, &name, "ocf:hactl:VIP", &args)?;
        eprintln!("forced {kv}: exit {code}\n{out}");
        ensure(
            code == 3 && out.contains("NOT done") && out.contains("not configured (6)"),
            &format!("forced create with {kv}: exit {code}: {out}"),
        )?;
    }
    let (code, out) = create(&c, "foo", "IPaddr2", &["ip=10.89.0.300"])?;
    ensure(
        code == 1 && out.contains("10.89.0.300"),
        &format!("IPaddr2 ip=10.89.0.300 was not refused: exit {code}: {out}"),
    )?;
    let (code, out) = create(&c, "foo", "IPaddr2", &["ip=10.89.0.300", "--force"])?;
    eprintln!("forced IPaddr2 ip=10.89.0.300: exit {code}\n{out}");
    ensure(
        code == 3 && out.contains("not running: foo") && out.contains("not configured (6)"),
        &format!("forced IPaddr2 create: exit {code}: {out}"),
    )?;

    // Valid on n3 only: n3 gets an interface vnic0 (a veth pair inside n3; the
    // kernel here has no dummy interfaces).
    let n3 = c.net.ns(3);
    let veth = [
        "link", "add", "vnic0", "type", "veth", "peer", "name", "vnic0p",
    ];
    run("ip", &[&["-n", n3.as_str()][..], &veth[..]].concat())?;
    run("ip", &["-n", &n3, "link", "set", "vnic0", "up"])?;
    let nic_args = [
        "ip=10.89.0.210",
        "cidr_netmask=24",
        "nic=vnic0",
        "--disabled",
    ];
    let (code, out) = create(&c, "vipnic", "ocf:hactl:VIP", &nic_args)?;
    ensure(code == 0, &format!("create vipnic: exit {code}: {out}"))?;
    cli(
        &c,
        1,
        &["constraint", "location", "vipnic", "prefers", "n1=100"],
    )?;
    let o = cli_output(&c, 1, &["resource", "enable", "vipnic"])?;
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    eprintln!("enable vipnic: {:?}\n{out}", o.status.code());
    ensure(
        o.status.code() == Some(0) && out.contains("invalid parameter (2)"),
        &format!("enable vipnic: {out}"),
    )?;
    let cib = c.cib(1)?;
    ensure(
        active_on(&cib, "vipnic") == ["n3"],
        &format!("vipnic runs on {:?}, not n3", active_on(&cib, "vipnic")),
    )?;

    // Nothing fenced: no attempt in the history, every domain still on, all online.
    let fenced: Vec<_> = cib.status.fencing_history.iter().collect();
    ensure(fenced.is_empty(), &format!("fencing happened: {fenced:?}"))?;
    for n in ["n1", "n2", "n3"] {
        ensure(
            fv.status_from(&c.net.ns(1), n)? == Some(true),
            &format!("domain {n} is not on"),
        )?;
    }
    let st = cli(&c, 1, &["status"])?;
    eprintln!("{st}");
    ensure(
        wait_group_on(&c, 1, &["d1", "d2"], T, |_| true).is_ok(),
        "group g is not running",
    )
}
