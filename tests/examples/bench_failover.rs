//! Failover benchmark (run by `scripts/bench-failover`): a 3-node cluster in network
//! namespaces with a VIP, a client namespace polling it every 10 ms.
//!
//! - node death: every process of the VIP holder's namespace killed and its link
//!   down → the first poll answered from another node's MAC; TRIALS trials, then
//!   median and max. The killed node is restarted between trials.
//! - `node standby` of the holder → first answer from another MAC.
//! - `resource create` of a second VIP → first answer from it.
//!
//! Usage: bench_failover PROFILE AGENT [TRIALS]   (PROFILE default|fast, AGENT e.g.
//! ocf:hactl:VIP or ocf:heartbeat:IPaddr2). Needs root.

use std::time::Duration;

use anyhow::{bail, Result};
use hactl_tests::cluster::Cluster;
use hactl_tests::controller_lab::{
    active_on, agent_env, create_group, idx, kill_node, mac_of, settled, unix_now, vip_primitive,
    wait_group_on, with_stop_timeout, NsReaper, Poller,
};
use hactl_tests::netns::{require_root, run};
use serde_json::json;

const VIP: &str = "10.84.0.100";
const VIP2: &str = "10.84.0.101";
const T: Duration = Duration::from_secs(30);

fn start_node(c: &mut Cluster, i: usize) -> Result<()> {
    for (k, v) in agent_env(c, i)? {
        std::env::set_var(k, v);
    }
    c.start(i)
}

fn stats(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (median, v[n - 1])
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let profile = args.get(1).cloned().unwrap_or_else(|| "default".into());
    let agent = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| "ocf:hactl:VIP".into());
    let trials: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    if !require_root() {
        bail!("needs root");
    }
    let mut c = Cluster::setup_with_spares("hx-tb", 3, 1, "10.84.0", Some(&profile))?;
    let _reaper = NsReaper::new(&c);
    for i in 1..=3 {
        start_node(&mut c, i)?;
    }
    c.wait_dc(&[1, 2, 3], T)?;
    // Without fencing the DC holds a lost node's resources for their stop timeouts
    // (docs/architecture.md, "Split brain"): the VIP's is part of what this measures.
    let stop_ms = std::env::var("VIP_STOP_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    create_group(
        &c,
        1,
        vec![with_stop_timeout(vip_primitive(&agent, VIP, "1s"), stop_ms)],
    )?;
    let macs: Vec<String> = (1..=3).map(|i| mac_of(&c, i)).collect::<Result<_>>()?;
    let client = Poller::start(&c.net.ns(4), VIP, 9)?;

    let mut deaths = Vec::new();
    for trial in 1..=trials {
        let holder = wait_group_on(&c, 1, &["vip"], T, |_| true)
            .or_else(|_| wait_group_on(&c, 2, &["vip"], T, |_| true))?;
        let h = idx(&holder)?;
        let via = (1..=3).find(|i| *i != h).unwrap_or(1);
        // Steady state: the client reaches the holder, the cluster is settled.
        c.wait_until("steady", T, || {
            let cib = c.cib(via)?;
            let seen = client
                .last()
                .is_some_and(|s| s.up && s.mac.as_deref() == Some(&macs[h - 1]));
            Ok((seen && settled(&cib)).then_some(()))
        })?;
        let t0 = unix_now();
        kill_node(&mut c, h)?;
        let back = c.wait_until("VIP answering from another node", T, || {
            Ok(client.first_up_after(t0, |m| m != macs[h - 1]))
        })?;
        let ms = (back - t0) * 1000.0;
        println!("trial {trial}: node death of n{h} -> VIP elsewhere in {ms:.0} ms");
        deaths.push(ms);
        // Power the node back on (a rebooted machine has no VIP address any more)
        // and let it rejoin before the next trial.
        let _ = run(
            "ip",
            &[
                "-n",
                &c.net.ns(h),
                "addr",
                "del",
                &format!("{VIP}/24"),
                "dev",
                "eth0",
            ],
        );
        run("ip", &["-n", &c.net.ns(h), "link", "set", "eth0", "up"])?;
        start_node(&mut c, h)?;
        c.wait_dc(&[1, 2, 3], T)?;
    }
    let (med, max) = stats(&mut deaths);
    println!("RESULT node-death profile={profile} agent={agent} trials={trials} median_ms={med:.0} max_ms={max:.0}");

    // Standby of the holder → the VIP answers from elsewhere.
    let holder = wait_group_on(&c, 1, &["vip"], T, |_| true)?;
    let h = idx(&holder)?;
    c.wait_until("steady", T, || {
        let cib = c.cib(1)?;
        let seen = client
            .last()
            .is_some_and(|s| s.up && s.mac.as_deref() == Some(&macs[h - 1]));
        Ok((seen && settled(&cib)).then_some(()))
    })?;
    let t0 = unix_now();
    c.propose(
        1,
        &json!({"change": "set_standby", "node": holder, "standby": true}),
    )?;
    let back = c.wait_until("VIP elsewhere after standby", T, || {
        Ok(client.first_up_after(t0, |m| m != macs[h - 1]))
    })?;
    let standby_ms = (back - t0) * 1000.0;
    println!("RESULT standby profile={profile} agent={agent} ms={standby_ms:.0}");
    if standby_ms > 3000.0 || std::env::var_os("BENCH_LOGS").is_some() {
        for i in 1..=3 {
            let log = c.log(i);
            let lines: Vec<&str> = log.lines().collect();
            eprintln!(
                "---- n{i} ----\n{}",
                lines[lines.len().saturating_sub(30)..].join("\n")
            );
        }
    }

    // resource create → started (answering).
    let client2 = Poller::start(&c.net.ns(4), VIP2, 9)?;
    let mut p = vip_primitive(&agent, VIP2, "1s");
    p["id"] = json!("vip2");
    if let Some(ops) = p["ops"].as_array_mut() {
        for o in ops {
            o["id"] = json!("vip2-monitor");
        }
    }
    let t0 = unix_now();
    c.propose(1, &json!({"change": "add_resource", "resource": {"kind": "primitive", "id": "vip2", "agent": p["agent"], "params": p["params"], "ops": p["ops"]}}))?;
    let up = c.wait_until("new VIP answering", T, || {
        Ok(client2.first_up_after(t0, |_| true))
    })?;
    let cib = c.cib(1)?;
    println!(
        "RESULT create profile={profile} agent={agent} ms={:.0} (on {:?})",
        (up - t0) * 1000.0,
        active_on(&cib, "vip2")
    );
    Ok(())
}
