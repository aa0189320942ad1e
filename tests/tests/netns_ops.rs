//! Operator actions on a running cluster, end to end: real `hactl daemon`s in
//! network namespaces, the real `ocf:heartbeat:IPaddr2` and haproxy (run by
//! `ocf:heartbeat:anything`), the `hactl` CLI, and a client namespace that sends an
//! HTTP request to the VIP every 10 ms.
//!
//! Nothing is mocked. Needs root (network namespaces); fails without it unless
//! `HACTL_SKIP_ROOT_TESTS=1`.

use std::time::Duration;

use anyhow::Result;
use hactl_model::Cib;
use hactl_tests::cluster::Cluster;
use hactl_tests::controller_lab::{
    active_on, cli, create_group, ensure, haproxy_pid, haproxy_primitive, idx, settled,
    start_nodes, unix_now, vip_primitive, wait_group_on, write_haproxy_cfg, NsReaper, Poller,
};
use hactl_tests::netns::require_root;

const VIP: &str = "10.86.0.100";
const T: Duration = Duration::from_secs(30);

/// A 3-node cluster (n4 is the client) running the group vip + haproxy; returns the
/// cluster and the index of the node that runs the group.
fn web_cluster(prefix: &str, subnet: &str) -> Result<(Cluster, usize)> {
    let mut c = Cluster::setup_with_spares(prefix, 3, 1, subnet, None)?;
    start_nodes(&mut c, 3)?;
    c.wait_dc(&[1, 2, 3], T)?;
    let cfg = write_haproxy_cfg(&c.root, VIP)?;
    create_group(
        &c,
        1,
        vec![
            vip_primitive("ocf:heartbeat:IPaddr2", VIP, "10s"),
            haproxy_primitive(&cfg),
        ],
    )?;
    let on = wait_group_on(&c, 1, &["vip", "haproxy"], T, |_| true)?;
    c.wait_until("cluster settled", T, || {
        Ok(settled(&c.cib(1)?).then_some(()))
    })?;
    let i = idx(&on)?;
    Ok((c, i))
}

/// Whether every node has a record of `rsc` (its probe answered everywhere).
fn known_everywhere(cib: &Cib, rsc: &str) -> bool {
    cib.config.nodes.iter().all(|n| {
        cib.status
            .nodes
            .get(&n.name)
            .is_some_and(|s| s.resources.contains_key(rsc))
    })
}

/// `hactl resource cleanup` of each member of a running group: the cleanup forgets
/// the member's history, the cluster re-probes it and finds it running where it
/// was. No request to the VIP may fail meanwhile, and haproxy is not restarted
/// (before the probes were ordered ahead of the dependants' stops, a cleanup of
/// `vip` restarted haproxy: "Restart haproxy due to required vip start").
#[test]
fn netns_cleanup_of_each_group_member_drops_no_request() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let (c, on) = web_cluster("hx-o", "10.86.0")?;
    let _reaper = NsReaper::new(&c);
    let pid = haproxy_pid(&c, on)?;
    let client = Poller::start_http(&c.net.ns(4), VIP, 80)?;
    let since = unix_now();
    c.wait_until("the client's first answer", T, || {
        Ok(client.first_up_after(since, |_| true).map(|_| ()))
    })?;
    let start = unix_now();
    for member in ["vip", "haproxy"] {
        cli(&c, 1, &["resource", "cleanup", "--no-wait", member])?;
        c.wait_until(
            &format!("{member} re-probed everywhere, settled"),
            T,
            || {
                let cib = c.cib(1)?;
                Ok((known_everywhere(&cib, member) && settled(&cib)).then_some(()))
            },
        )?;
        // Requests keep going a little after the cluster settled.
        let t = unix_now() + 0.3;
        c.wait_until("client samples after settling", T, || {
            Ok(client
                .samples()
                .last()
                .is_some_and(|s| s.t > t)
                .then_some(()))
        })?;
    }
    let samples: Vec<_> = client
        .samples()
        .into_iter()
        .filter(|s| s.t >= start)
        .collect();
    let failed = samples.iter().filter(|s| !s.up).count();
    eprintln!(
        "{} requests during the cleanups, {failed} failed",
        samples.len()
    );
    ensure(
        failed == 0,
        &format!(
            "{failed} of {} requests failed during the cleanups",
            samples.len()
        ),
    )?;
    ensure(
        haproxy_pid(&c, on)? == pid,
        "haproxy was restarted by a cleanup",
    )?;
    Ok(())
}

/// `ocf:pacemaker:Dummy` keeps its state file in `/run` (`HA_VARRUN`). Lab nodes are
/// separate hosts, so after a cleanup the re-probes find it running on its node only
/// and nothing is stopped. (When the nodes shared `/run`, all three probes found it
/// running and the cluster ran a multi-active recovery: stop everywhere, start.)
#[test]
fn netns_dummy_state_in_run_is_per_node() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut c = Cluster::setup("hx-o", 3, "10.86.1", None)?;
    let _reaper = NsReaper::new(&c);
    // No per-node HA_VARRUN/HA_RSCTMP here: the agents' defaults, as in production.
    for i in 1..=3 {
        c.start(i)?;
    }
    c.wait_dc(&[1, 2, 3], T)?;
    cli(
        &c,
        1,
        &["property", "set", "--no-wait", "stonith-enabled=false"],
    )?;
    cli(
        &c,
        1,
        &[
            "resource",
            "create",
            "--no-wait",
            "d",
            "ocf:pacemaker:Dummy",
            "op",
            "monitor",
            "interval=1s",
        ],
    )?;
    let on = c.wait_until("d running, settled", T, || {
        let cib = c.cib(1)?;
        let on = active_on(&cib, "d");
        Ok((on.len() == 1 && settled(&cib)).then(|| on[0].clone()))
    })?;
    cli(&c, 1, &["resource", "cleanup", "--no-wait", "d"])?;
    let cib = c.wait_until("d re-probed everywhere, settled", T, || {
        let cib = c.cib(1)?;
        Ok((known_everywhere(&cib, "d") && settled(&cib)).then_some(cib))
    })?;
    ensure(
        active_on(&cib, "d") == vec![on.clone()],
        &format!("d should run on {on} only: {:?}", active_on(&cib, "d")),
    )?;
    for (node, st) in &cib.status.nodes {
        let stops = st.resources["d"]
            .ops
            .iter()
            .filter(|o| o.operation == "stop")
            .count();
        ensure(
            stops == 0,
            &format!("d was stopped on {node} (multi-active recovery)"),
        )?;
    }
    Ok(())
}
