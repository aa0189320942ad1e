//! The controller end to end: real `hactl daemon`s in network namespaces (Raft, QUIC,
//! the DC's transition engine, the nodes' executors), the real
//! `ocf:heartbeat:IPaddr2` and haproxy (run by `ocf:heartbeat:anything`), and a client
//! namespace that polls the VIP every 10 ms and notes which MAC answered.
//!
//! Nothing is mocked. Needs root (network namespaces); fails without it unless
//! `HACTL_SKIP_ROOT_TESTS=1`.

use std::time::Duration;

use anyhow::Result;
use hactl_tests::cluster::Cluster;
use hactl_tests::controller_lab::{
    active_on, cli, create_group, haproxy_pid, idx, kill_node, mac_of, settled, start_nodes,
    unix_now, vip_primitive, wait_group_on, with_stop_timeout, write_haproxy_cfg, NsReaper, Poller,
};
use hactl_tests::netns::require_root;

const VIP: &str = "10.83.0.100";
const T: Duration = Duration::from_secs(30);

/// Waits for the client to see the VIP answer from `mac`, after `since`.
fn wait_client(c: &Cluster, p: &Poller, since: f64, mac: &str) -> Result<f64> {
    c.wait_until(&format!("client reaching the VIP at {mac}"), T, || {
        Ok(p.first_up_after(since, |m| m == mac))
    })
}

#[test]
fn netns_controller_seed_scenario() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    // n1..n3 are the cluster, n4 is the client.
    let mut c = Cluster::setup_with_spares("hx-t", 3, 1, "10.83.0", None)?;
    let _reaper = NsReaper::new(&c);
    start_nodes(&mut c, 3)?;
    c.wait_dc(&[1, 2, 3], T)?;
    let cfg = write_haproxy_cfg(&c.root, VIP)?;
    // The seed's commands, through the CLI.
    cli(
        &c,
        1,
        &[
            "property",
            "set",
            "--no-wait",
            "stonith-enabled=false",
            "no-quorum-policy=stop",
        ],
    )?;
    cli(
        &c,
        1,
        &[
            "resource",
            "create",
            "--no-wait",
            "vip",
            "ocf:heartbeat:IPaddr2",
            &format!("ip={VIP}"),
            "cidr_netmask=24",
            "op",
            "monitor",
            "interval=1s",
            // Without fencing, a lost node's resources are held for its stop
            // timeouts (docs/architecture.md, "Split brain"): keep them short.
            "op",
            "stop",
            "timeout=2s",
            "meta",
            "resource-stickiness=100",
        ],
    )?;
    cli(
        &c,
        1,
        &[
            "resource",
            "create",
            "--no-wait",
            "haproxy",
            "ocf:heartbeat:anything",
            "binfile=/usr/sbin/haproxy",
            &format!("cmdline_options=-db -f {}", cfg.display()),
            "op",
            "monitor",
            "interval=1s",
            // The anything agent allows two thirds of it for SIGTERM, then SIGKILLs.
            "op",
            "stop",
            "timeout=5s",
            "meta",
            "migration-threshold=2",
            "resource-stickiness=100",
        ],
    )?;
    cli(
        &c,
        1,
        &[
            "resource",
            "group",
            "add",
            "--no-wait",
            "hagroup",
            "vip",
            "haproxy",
        ],
    )?;
    let macs: Vec<String> = (1..=3).map(|i| mac_of(&c, i)).collect::<Result<_>>()?;
    let mac = |node: &str| -> String { macs[idx(node).unwrap_or(1) - 1].clone() };
    let client = Poller::start(&c.net.ns(4), VIP, 80)?;

    // Started: the group on one node, the client reaches haproxy there.
    let first = wait_group_on(&c, 1, &["vip", "haproxy"], T, |_| true)?;
    wait_client(&c, &client, 0.0, &mac(&first))?;

    // Standby of its node: the group moves, the client follows.
    let t = unix_now();
    cli(&c, 1, &["node", "standby", "--no-wait", &first])?;
    let second = wait_group_on(&c, 1, &["vip", "haproxy"], T, |n| n != first)?;
    wait_client(&c, &client, t, &mac(&second))?;

    // Unstandby: stickiness keeps it where it is.
    cli(&c, 1, &["node", "unstandby", "--no-wait", &first])?;
    c.wait_until("cluster settled after unstandby", T, || {
        let cib = c.cib(1)?;
        Ok((settled(&cib) && cib.config.node(&first).is_some_and(|n| !n.standby)).then_some(()))
    })?;
    let cib = c.cib(1)?;
    assert_eq!(
        active_on(&cib, "vip"),
        vec![second.clone()],
        "stayed (stickiness)"
    );
    assert_eq!(active_on(&cib, "haproxy"), vec![second.clone()]);

    // haproxy killed: recovered in place (fail count 1, below migration-threshold 2).
    let s = idx(&second)?;
    let pid = haproxy_pid(&c, s)?;
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()?;
    c.wait_until("haproxy restarted in place", T, || {
        let cib = c.cib(1)?;
        let fc: i64 = cib.status.nodes[&second]
            .failcounts
            .iter()
            .filter(|f| f.rsc == "haproxy")
            .map(|f| f.count.value())
            .sum();
        let new_pid = haproxy_pid(&c, s).ok();
        Ok((fc == 1
            && active_on(&cib, "haproxy") == vec![second.clone()]
            && new_pid.is_some_and(|p| p != pid)
            && settled(&cib))
        .then_some(()))
    })?;
    let t = unix_now();
    wait_client(&c, &client, t, &mac(&second))?;

    // Killed again: the fail count reaches migration-threshold, the group moves.
    let pid = haproxy_pid(&c, s)?;
    let t = unix_now();
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()?;
    let third = wait_group_on(&c, 1, &["vip", "haproxy"], T, |n| n != second)?;
    wait_client(&c, &client, t, &mac(&third))?;

    // The node running it dies (every process, link down), stonith disabled.
    let k = idx(&third)?;
    let survivor = (1..=3).find(|i| *i != k).unwrap_or(1);
    let t = unix_now();
    kill_node(&mut c, k)?;
    let fourth = wait_group_on(&c, survivor, &["vip", "haproxy"], T, |n| n != third)?;
    let back = wait_client(&c, &client, t, &mac(&fourth))?;
    eprintln!(
        "node death → VIP answering from {fourth}: {:.0} ms",
        (back - t) * 1000.0
    );
    Ok(())
}

/// When the VIP answered around a partition that cuts its holder off.
struct Split {
    /// The partition.
    t0: f64,
    /// The minority's client: last answer (the minority stopped it).
    minority_down: f64,
    /// The majority's client: first answer from the new holder.
    majority_up: f64,
}

impl Split {
    fn overlap_ms(&self) -> f64 {
        ((self.minority_down - self.majority_up) * 1000.0).max(0.0)
    }

    fn print(&self, what: &str) {
        eprintln!(
            "split brain ({what}): minority last answered {:.0} ms after the partition, majority first answered at {:.0} ms; overlap {:.0} ms",
            (self.minority_down - self.t0) * 1000.0,
            (self.majority_up - self.t0) * 1000.0,
            self.overlap_ms()
        );
    }
}

/// A 3-node cluster (n1..n3) runs `members` as a group; n4 is a client on the
/// majority side, n5 one on the minority side. Cuts the group's holder off (with n5),
/// and returns when the VIP answered on each side, and the holder's index.
fn split_holder(
    c: &mut Cluster,
    members: Vec<serde_json::Value>,
    rscs: &[&str],
) -> Result<(Split, usize)> {
    start_nodes(c, 3)?;
    c.wait_dc(&[1, 2, 3], T)?;
    create_group(c, 1, members)?;
    let holder = wait_group_on(c, 1, rscs, T, |_| true)?;
    let h = idx(&holder)?;
    let others: Vec<usize> = (1..=3).filter(|i| *i != h).collect();
    let holder_mac = mac_of(c, h)?;
    // The client polls port 9 (nothing listens: a reset proves the VIP is there).
    let minority_client = Poller::start(&c.net.ns(5), VIP, 9)?;
    let majority_client = Poller::start(&c.net.ns(4), VIP, 9)?;
    wait_client(c, &minority_client, 0.0, &holder_mac)?;
    wait_client(c, &majority_client, 0.0, &holder_mac)?;

    let t0 = unix_now();
    let mut majority = others.clone();
    majority.push(4);
    c.net.partition(&[h, 5], &majority)?;

    // The majority starts the VIP on one of its nodes.
    let new_holder = wait_group_on(c, others[0], rscs, T, |n| n != holder)?;
    let new_mac = mac_of(c, idx(&new_holder)?)?;
    let majority_up = wait_client(c, &majority_client, t0, &new_mac)?;
    // The minority stopped it: its client sees it go down and stay down.
    let minority_down = c.wait_until("VIP gone on the minority side", T, || {
        let s = minority_client.samples();
        let last_up = s
            .iter()
            .filter(|x| x.t >= t0 && x.up)
            .map(|x| x.t)
            .fold(t0, f64::max);
        let down_after = s.iter().filter(|x| x.t > last_up && !x.up).count();
        // Half a second of silence after the last answer.
        Ok((down_after >= 50).then_some(last_up))
    })?;
    let split = Split {
        t0,
        minority_down,
        majority_up,
    };
    Ok((split, h))
}

#[test]
fn netns_controller_split_brain() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut c = Cluster::setup_with_spares("hx-t", 3, 2, "10.83.0", None)?;
    let _reaper = NsReaper::new(&c);
    let members = vec![with_stop_timeout(
        vip_primitive("ocf:heartbeat:IPaddr2", VIP, "1s"),
        2_000,
    )];
    let (split, h) = split_holder(&mut c, members, &["vip"])?;
    split.print("IPaddr2");
    // The split-brain rule (docs/architecture.md): the minority stops before the
    // majority starts, so the VIP never answers from two nodes at once.
    anyhow::ensure!(
        split.minority_down <= split.majority_up,
        "split brain: the VIP answered on both sides for {:.0} ms",
        split.overlap_ms()
    );
    // Heal: the old holder rejoins; the VIP stays single.
    let survivor = (1..=3).find(|i| *i != h).unwrap_or(1);
    c.net.heal()?;
    c.wait_until("settled after heal", T, || {
        let cib = c.cib(survivor)?;
        Ok((settled(&cib) && active_on(&cib, "vip").len() == 1).then_some(()))
    })?;
    Ok(())
}

/// A resource whose stop outlasts the old fixed budget (240 ms of stop time): a
/// `ocf:pacemaker:Dummy` with `op_sleep=1` (every operation takes 1 s) after the VIP
/// in a group, so the minority stops it first and the VIP only a second later. The
/// majority's hold is derived from the stop timeouts in the CIB (3 s + 2 s): the VIP
/// still never answers from two nodes.
#[test]
fn netns_controller_split_brain_slow_stop() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut c = Cluster::setup_with_spares("hx-t", 3, 2, "10.83.0", None)?;
    let _reaper = NsReaper::new(&c);
    let members = vec![
        with_stop_timeout(vip_primitive("ocf:heartbeat:IPaddr2", VIP, "1s"), 2_000),
        with_stop_timeout(
            serde_json::json!({
                "id": "slow",
                "agent": {"class": "ocf", "provider": "pacemaker", "type": "Dummy"},
                "params": {"op_sleep": "1"},
            }),
            3_000,
        ),
    ];
    let (split, _) = split_holder(&mut c, members, &["vip", "slow"])?;
    split.print("IPaddr2 + 1 s stop");
    anyhow::ensure!(
        split.minority_down - split.t0 > 0.5,
        "the minority's stop took less than the slow resource's 1 s: the test proves nothing"
    );
    anyhow::ensure!(
        split.minority_down <= split.majority_up,
        "split brain: the VIP answered on both sides for {:.0} ms",
        split.overlap_ms()
    );
    Ok(())
}
