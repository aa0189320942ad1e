//! A clean stop stops resources first, end to end: three real `hactl daemon`s in
//! network namespaces, a real process as the resource (`ocf:heartbeat:anything`
//! running `/bin/sleep 98765`), and the ways a node goes — `hactl cluster stop`,
//! SIGTERM (what `systemctl stop` sends), `hactl cluster node remove` and `hactl
//! cluster stop --all`. Each time the process is gone from the node when its daemon
//! has exited (for `node remove`: when the removal is done), then runs exactly once
//! elsewhere (after `--all`: nowhere), and with fencing on (a real fence_virtd)
//! nothing is fenced. A stop that fails (a real process that ignores SIGTERM under
//! `ocf:heartbeat:anything`, whose stop outlasts its timeout) keeps the daemon up and
//! names the resource; `--force` leaves, but not as a clean leave: the peers see the
//! node unclean, and without fencing the process that may still run there is never
//! started a second time elsewhere.
//!
//! Nothing is mocked. Needs root; fails without it unless `HACTL_SKIP_ROOT_TESTS=1`.

use std::process::Output;
use std::time::Duration;

use anyhow::{bail, Result};
use hactl_proto::client::NodeState;
use hactl_tests::cluster::Cluster;
use hactl_tests::controller_lab::{
    active_on, cli, cluster_cmd, ensure, idx, settled, start_node, NsReaper,
};
use hactl_tests::fence_virtd::{fencing_lab, FenceVirtd, GROUP};
use hactl_tests::netns::{require_root, run};

const T: Duration = Duration::from_secs(60);

/// Node indices whose namespace runs `/bin/sleep 98765`, once per process.
fn sleepers(c: &Cluster, nodes: &[usize]) -> Vec<usize> {
    let mut out = Vec::new();
    for &i in nodes {
        let pids = run("ip", &["netns", "pids", &c.net.ns(i)]).unwrap_or_default();
        for p in pids.split_whitespace() {
            let cmdline = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            if args.starts_with(&[b"/bin/sleep".as_slice(), b"98765".as_slice()]) {
                out.push(i);
            }
        }
    }
    out
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Waits until `sl` is recorded active on exactly one of `among`, the cluster has
/// nothing left to do, and that node alone runs the process; returns it.
fn wait_sl_once(c: &Cluster, via: usize, among: &[usize]) -> Result<usize> {
    c.wait_until("sl running exactly once", T, || {
        let cib = c.cib(via)?;
        let on = active_on(&cib, "sl");
        let procs = sleepers(c, &[1, 2, 3]);
        match on.as_slice() {
            [n] if settled(&cib) => {
                let n = idx(n)?;
                if among.contains(&n) && procs == vec![n] {
                    return Ok(Some(n));
                }
            }
            _ => {}
        }
        bail!(
            "recorded active on {on:?}, process on {procs:?}, settled: {}",
            settled(&cib)
        )
    })
}

/// Nothing was fenced, nor tried: the fencing history is empty, `gone`'s domain is
/// still on in fence_virtd, and `gone` is offline (it left cleanly), not unclean.
fn nothing_fenced(c: &Cluster, fv: &FenceVirtd, via: usize, gone: usize) -> Result<()> {
    // The daemon has exited, but its peers see it go only when its heartbeats stop
    // (dead_after): wait for that event, then judge how it went.
    let state = c.wait_until(&format!("n{via} to see n{gone} leave"), T, || {
        let s = c.node_state(via, gone)?;
        Ok((s != NodeState::Online).then_some(s))
    })?;
    ensure(
        state == NodeState::Offline,
        &format!("n{gone} is {state:?}, not offline"),
    )?;
    let cib = c.cib(via)?;
    ensure(
        cib.status.fencing_history.is_empty(),
        &format!("fencing attempted: {:?}", cib.status.fencing_history),
    )?;
    ensure(
        fv.status_from(&c.net.ns(via), &format!("n{gone}"))? == Some(true),
        &format!("n{gone}'s domain is not on"),
    )
}

fn others(of: usize) -> Vec<usize> {
    [1, 2, 3].into_iter().filter(|i| *i != of).collect()
}

#[test]
fn netns_clean_stop_stops_resources_first() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let (mut c, fv) = fencing_lab("hx-s", "10.89.1", T)?;
    let _reaper = NsReaper::new(&c);
    for i in 1..=3 {
        start_node(&mut c, i)?;
    }
    c.wait_dc(&[1, 2, 3], T)?;
    // Fencing on, with a real device: a node that left with sl running would be
    // powered off (stonith-action=off keeps its domain off, for the check).
    cli(
        &c,
        1,
        &[
            "property",
            "set",
            "--no-wait",
            "stonith-enabled=true",
            "stonith-action=off",
            "stonith-timeout=20s",
            "no-quorum-policy=stop",
        ],
    )?;
    cli(
        &c,
        1,
        &[
            "stonith",
            "create",
            "--no-wait",
            "xvm",
            "fence_hactl_xvm",
            "pcmk_host_map=n1:n1;n2:n2;n3:n3",
            &format!("key_file={}", fv.key_path.display()),
            &format!("multicast_address={GROUP}"),
            "hash=sha256",
            "timeout=3",
        ],
    )?;
    cli(
        &c,
        1,
        &[
            "resource",
            "create",
            "--no-wait",
            "sl",
            "ocf:heartbeat:anything",
            "binfile=/bin/sleep",
            "cmdline_options=98765",
            "op",
            "monitor",
            "interval=2s",
            "meta",
            "resource-stickiness=100",
        ],
    )?;
    let at = wait_sl_once(&c, 1, &[1, 2, 3])?;
    // The DC holds it: the node that stops is the one whose DC runtime must move it.
    let dc = c.wait_dc(&[1, 2, 3], T)?;
    if at != dc {
        cli(&c, 1, &["resource", "move", "sl", &format!("n{dc}")])?;
    }
    let first = wait_sl_once(&c, 1, &[dc])?;

    // `hactl cluster stop` on the holder: it answers once sl is stopped there, then
    // the daemon exits; the process must be gone by then.
    let out = cluster_cmd(&c, first, &["stop"])?;
    ensure(
        out.status.success(),
        &format!("cluster stop: {}", text(&out)),
    )?;
    let st = c.wait_exit(first, Duration::from_secs(5))?;
    ensure(st.success(), &format!("n{first} exit status {st}"))?;
    ensure(
        sleepers(&c, &[first]).is_empty(),
        &format!("sleep still runs on n{first} after its daemon exited"),
    )?;
    let via = others(first)[0];
    let second = wait_sl_once(&c, via, &others(first))?;
    nothing_fenced(&c, &fv, via, first)?;

    // It comes back as an ordinary member (no longer shutting down), sl stays.
    start_node(&mut c, first)?;
    c.wait_dc(&[1, 2, 3], T)?;
    c.wait_until("the shutdown mark cleared on rejoin", T, || {
        let cib = c.cib(via)?;
        Ok((!cib.status.nodes[&format!("n{first}")]
            .attributes
            .contains_key("shutdown"))
        .then_some(()))
    })?;

    // SIGTERM (systemctl stop) on the new holder: the same.
    let st = c.stop(second, T)?;
    ensure(st.success(), &format!("n{second} exit status {st}"))?;
    ensure(
        sleepers(&c, &[second]).is_empty(),
        &format!("sleep still runs on n{second} after SIGTERM"),
    )?;
    let via = others(second)[0];
    let third = wait_sl_once(&c, via, &others(second))?;
    nothing_fenced(&c, &fv, via, second)?;

    // Node removal of the holder, from another node: sl moves first, then it goes
    // (its daemon leaves by itself).
    start_node(&mut c, second)?;
    c.wait_dc(&[1, 2, 3], T)?;
    let via = others(third)[0];
    let admin = c.root.join("admin").display().to_string();
    let sock = c.files(via).socket.display().to_string();
    c.hactl(&[
        "cluster".into(),
        "--dir".into(),
        admin,
        "--socket".into(),
        sock,
        "node".into(),
        "remove".into(),
        format!("n{third}"),
    ])?;
    // Removed only once sl was stopped there.
    ensure(
        sleepers(&c, &[third]).is_empty(),
        &format!("sleep still runs on the removed n{third}"),
    )?;
    let st = c.wait_exit(third, T)?;
    ensure(st.success(), &format!("n{third} exit status {st}"))?;
    let last = wait_sl_once(&c, via, &others(third))?;
    ensure(last != third, "sl on the removed node")?;
    let cib = c.cib(via)?;
    ensure(
        cib.config.node(&format!("n{third}")).is_none() && cib.status.fencing_history.is_empty(),
        "removed node still configured, or something was fenced",
    )?;

    // The whole cluster, from one node (`cluster stop --all`): both nodes are marked
    // at once, so sl stops rather than moves, and each daemon exits once nothing runs
    // on its node.
    let out = cluster_cmd(&c, last, &["stop", "--all"])?;
    ensure(
        out.status.success(),
        &format!("cluster stop --all: {}", text(&out)),
    )?;
    for i in others(third) {
        let st = c.wait_exit(i, T)?;
        ensure(st.success(), &format!("n{i} exit status {st}"))?;
    }
    ensure(
        sleepers(&c, &[1, 2, 3]).is_empty(),
        "sleep still runs after cluster stop --all",
    )?;
    for n in 1..=3 {
        ensure(
            fv.status_from(&c.net.ns(1), &format!("n{n}"))? == Some(true),
            &format!("n{n}'s domain is not on"),
        )?;
    }
    Ok(())
}

#[test]
fn netns_failed_stop_keeps_the_daemon_up_unless_forced() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut c = Cluster::setup("hx-s", 3, "10.89.2", None)?;
    let _reaper = NsReaper::new(&c);
    for i in 1..=3 {
        start_node(&mut c, i)?;
    }
    c.wait_dc(&[1, 2, 3], T)?;
    cli(
        &c,
        1,
        &["property", "set", "--no-wait", "stonith-enabled=false"],
    )?;
    // A real process that ignores SIGTERM (the disposition survives the exec), under
    // the real `anything` agent told to wait 30 s for it: the stop (timeout 2 s)
    // fails, and the process keeps running.
    let stubborn = c.root.join("stubborn.sh");
    std::fs::write(
        &stubborn,
        "#!/bin/sh\ntrap '' TERM\nexec /bin/sleep 98765\n",
    )?;
    std::fs::set_permissions(
        &stubborn,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    cli(
        &c,
        1,
        &[
            "resource",
            "create",
            "--no-wait",
            "sl",
            "ocf:heartbeat:anything",
            &format!("binfile={}", stubborn.display()),
            "stop_timeout=30",
            "op",
            "stop",
            "timeout=2s",
            "op",
            "monitor",
            "interval=2s",
        ],
    )?;
    let holder = c.wait_until("sl started", T, || {
        let on = active_on(&c.cib(1)?, "sl");
        Ok((on.len() == 1 && sleepers(&c, &[1, 2, 3]).len() == 1).then(|| on[0].clone()))
    })?;
    let h = idx(&holder)?;
    ensure(
        sleepers(&c, &[1, 2, 3]) == vec![h],
        "sl's process not on its node",
    )?;

    let out = cluster_cmd(&c, h, &["stop", "--timeout", "20s"])?;
    let said = text(&out);
    if out.status.success() {
        bail!("cluster stop succeeded although sl could not stop: {said}");
    }
    ensure(
        said.contains("stop of sl failed") && said.contains("keeps running"),
        &format!("the error does not name the resource: {said}"),
    )?;
    // Still up, still a member, no longer marked shutting down.
    ensure(
        c.status(h)?.has_quorum && c.node_state(h, h)? == NodeState::Online,
        "the daemon did not stay up",
    )?;
    let mark = c.cib(h)?.status.nodes[&holder]
        .attributes
        .get("shutdown")
        .cloned();
    ensure(
        mark.is_none(),
        &format!("still marked shutting down: {mark:?}"),
    )?;

    let out = cluster_cmd(&c, h, &["stop", "--force", "--timeout", "5s"])?;
    ensure(
        out.status.success(),
        &format!("cluster stop --force: {}", text(&out)),
    )?;
    c.wait_exit(h, Duration::from_secs(5))?;
    ensure(
        sleepers(&c, &[h]) == vec![h],
        "sl's process did not outlive the forced stop (the case this test is about)",
    )?;

    // Not a clean leave: the peers see the node lost (unclean), not offline, and
    // without fencing nothing proves sl stopped, so it must not start elsewhere.
    let via = others(h)[0];
    let state = c.wait_until(&format!("n{via} to see n{h} go"), T, || {
        let s = c.node_state(via, h)?;
        Ok((s != NodeState::Online).then_some(s))
    })?;
    ensure(
        state == NodeState::Unclean,
        &format!("n{h} left by force with sl running and is {state:?}, not unclean"),
    )?;
    c.wait_until("nothing left to do after the forced leave", T, || {
        let cib = c.cib(via)?;
        let procs = sleepers(&c, &[1, 2, 3]);
        ensure(procs == vec![h], &format!("sl's process runs on {procs:?}"))?;
        Ok(settled(&cib).then_some(()))
    })?;
    let cib = c.cib(via)?;
    ensure(
        active_on(&cib, "sl") == vec![holder.clone()],
        &format!("sl recorded active on {:?}", active_on(&cib, "sl")),
    )?;
    Ok(())
}
