//! Definition changes in a running cluster, end to end: real `hactl daemon`s in
//! network namespaces, the real agents (`ocf:hactl:VIP`, Debian's
//! `ocf:pacemaker:Dummy`), the `hactl` CLI, and a client namespace that asks who
//! holds an address (ARP).
//!
//! `hactl resource update vip ip=NEW` must move the address: the new one answers,
//! the old one is gone (the restart's stop runs with the parameters the VIP was
//! started with). A change of a parameter the agent can reload (`fake` of
//! `ocf:pacemaker:Dummy`, OCF 1.1 `reloadable`) reloads it without a stop.
//!
//! Nothing is mocked. Needs root (network namespaces); fails without it unless
//! `HACTL_SKIP_ROOT_TESTS=1`. Run under `flock /tmp/hactl-netns.lock`.

use std::process::Command;
use std::time::Duration;

use anyhow::Result;
use hactl_model::Cib;
use hactl_tests::cluster::Cluster;
use hactl_tests::controller_lab::{
    active_on, cli, ensure, settled, start_nodes, vip_primitive, NsReaper,
};
use hactl_tests::netns::require_root;
use serde_json::json;

const OLD: &str = "10.92.0.100";
const NEW: &str = "10.92.0.101";
const T: Duration = Duration::from_secs(30);

/// Whether some node answers ARP for `ip`, asked from the client namespace (node 3).
fn answers(c: &Cluster, ip: &str) -> bool {
    let ns = c.net.ns(3);
    Command::new("ip")
        .args([
            "netns", "exec", &ns, "arping", "-c1", "-w1", "-I", "eth0", ip,
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether node `i` holds `ip` on one of its interfaces.
fn holds(c: &Cluster, i: usize, ip: &str) -> bool {
    Command::new("ip")
        .args(["-n", &c.net.ns(i), "-o", "addr", "show"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!(" {ip}/")))
}

/// The tasks the DC ran on `rsc` in the transitions recorded after the first `from`.
fn tasks_since(cib: &Cib, from: usize, rsc: &str) -> Vec<String> {
    cib.status
        .transitions
        .iter()
        .skip(from)
        .flat_map(|t| t.actions.iter())
        .filter(|a| a.rsc.as_deref() == Some(rsc))
        .map(|a| a.task.clone())
        .collect()
}

fn wait_settled(c: &Cluster, what: &str) -> Result<Cib> {
    c.wait_until(what, T, || {
        let cib = c.cib(1)?;
        Ok(settled(&cib).then_some(cib))
    })
}

#[test]
fn netns_resource_update_moves_the_vip_and_reloads_what_can_reload() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut c = Cluster::setup_with_spares("hx-d", 2, 1, "10.92.0", None)?;
    let _reaper = NsReaper::new(&c);
    start_nodes(&mut c, 2)?;
    c.wait_dc(&[1, 2], T)?;
    for (name, value) in [("stonith-enabled", "false"), ("no-quorum-policy", "ignore")] {
        c.propose(
            1,
            &json!({"change": "set_property", "name": name, "value": value}),
        )?;
    }
    let mut vip = vip_primitive("ocf:hactl:VIP", OLD, "2s");
    vip["kind"] = json!("primitive");
    c.propose(1, &json!({"change": "add_resource", "resource": vip}))?;
    c.propose(
        1,
        &json!({"change": "add_resource", "resource": {
            "kind": "primitive", "id": "dm",
            "agent": {"class": "ocf", "provider": "pacemaker", "type": "Dummy"},
            "params": {"fake": "one"},
            "ops": [{"id": "dm-monitor", "name": "monitor", "interval_ms": 2000, "timeout_ms": 20000}],
        }}),
    )?;
    let cib = wait_settled(&c, "vip and dm started, settled")?;
    let on = active_on(&cib, "vip");
    ensure(on.len() == 1, &format!("vip active on {on:?}"))?;
    let n: usize = on[0].trim_start_matches('n').parse()?;
    eprintln!("vip on {on:?}, held there: {}", holds(&c, n, OLD));
    c.wait_until("the VIP answers on its address", T, || {
        Ok(answers(&c, OLD).then_some(()))
    })?;

    // A changed address restarts the VIP: the new address answers, the old not.
    let before = cib.status.transitions.len();
    cli(&c, 1, &["resource", "update", "vip", &format!("ip={NEW}")])?;
    let cib = c.wait_until("the new address answers, settled", T, || {
        let cib = c.cib(1)?;
        Ok((answers(&c, NEW) && settled(&cib)).then_some(cib))
    })?;
    let tasks = tasks_since(&cib, before, "vip");
    eprintln!("vip after the update: {tasks:?}");
    ensure(
        tasks.iter().any(|t| t == "stop") && tasks.iter().any(|t| t == "start"),
        &format!("vip was restarted: {tasks:?}"),
    )?;
    ensure(!holds(&c, n, OLD), "the old address is gone from its node")?;
    ensure(!answers(&c, OLD), "the old address no longer answers")?;

    // A reloadable parameter: reload-agent, no stop.
    let before = cib.status.transitions.len();
    cli(&c, 1, &["resource", "update", "dm", "fake=two"])?;
    let cib = c.wait_until("dm reloaded, settled", T, || {
        let cib = c.cib(1)?;
        let reloaded = tasks_since(&cib, before, "dm")
            .iter()
            .any(|t| t == "reload-agent");
        Ok((reloaded && settled(&cib)).then_some(cib))
    })?;
    let tasks = tasks_since(&cib, before, "dm");
    eprintln!("dm after the update: {tasks:?}");
    ensure(
        !tasks.iter().any(|t| t == "stop" || t == "start"),
        &format!("dm was reloaded without a restart: {tasks:?}"),
    )?;
    Ok(())
}
