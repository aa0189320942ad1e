//! Failover benchmark (run by `scripts/bench-failover`): a 3-node cluster in network
//! namespaces with a VIP (1 s monitor), a client namespace that starts a TCP
//! connection to it every 10 ms (each in its own thread, 100 ms timeout) and notes
//! which MAC answered.
//!
//! - node death: every process of the VIP holder's namespace killed and its link
//!   down → the first connection answered from another node's MAC; TRIALS trials,
//!   then median and max. The killed node is restarted between trials.
//! - `node standby` of the holder → first answer from another MAC (STANDBY trials,
//!   taken off again between them), with where the time went (from the DC's
//!   transition record: propose → transition start, the stop, the start).
//! - `resource create` of a second VIP → first answer from it.
//!
//! Each trial starts from a steady cluster: the DC reports itself idle (no
//! transition running or pending: `ClusterStatus.dc_idle`), every node is a member
//! again, the policy engine has nothing left to do on the DC's CIB, and the client
//! reaches the holder (as the DC sees it). A failure prints the daemons' logs
//! (HACTL_LAB_KEEP keeps them; `always` after any run); BENCH_HISTORY=FILE prints
//! the DC's transition records and saves its CIB.
//!
//! Modes: `hold` (the default: no fencing, the DC holds a lost node's VIP for the
//! split-brain hold, which follows its stop timeout, `VIP_STOP_TIMEOUT_MS`, 500 ms by
//! default) and `fence` (a real fence_virtd and the native `fence_hactl_xvm` device:
//! the DC fences the lost node, then starts the VIP at once).
//!
//! Usage: bench_failover PROFILE AGENT [TRIALS] [hold|fence]   (PROFILE default|fast,
//! AGENT e.g. ocf:hactl:VIP or ocf:heartbeat:IPaddr2). Needs root.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use hactl_tests::cluster::Cluster;
use hactl_tests::controller_lab::{
    active_on, agent_env, cli, create_group, idx, kill_node, mac_of, settled, unix_now,
    vip_primitive, with_stop_timeout, NsReaper, Poller,
};
use hactl_tests::fence_virtd::{enable_fencing, fencing_lab_with, FenceVirtd};
use hactl_tests::netns::{require_root, run};
use serde_json::json;

const VIP: &str = "10.84.0.100";
const VIP2: &str = "10.84.0.101";
const T: Duration = Duration::from_secs(30);

struct Bench {
    c: Cluster,
    /// Fencing mode: fence_virtd (stopped on drop).
    fv: Option<FenceVirtd>,
    client: Poller,
    macs: Vec<String>,
}

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

fn env_ms(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let profile = args.get(1).cloned().unwrap_or_else(|| "default".into());
    let agent = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| "ocf:hactl:VIP".into());
    let trials: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    let fence = match args.get(4).map(String::as_str) {
        None | Some("hold") => false,
        Some("fence") => true,
        Some(m) => bail!("mode {m:?}: hold or fence"),
    };
    if !require_root() {
        bail!("needs root");
    }
    let mode = if fence { "fence" } else { "hold" };
    let mut b = setup(&profile, &agent, fence)?;
    let _reaper = NsReaper::new(&b.c);
    // Panic (not return) on a failure while the lab is alive: its drop then prints the
    // daemons' logs (HACTL_LAB_KEEP keeps them whole).
    let mut deaths = node_deaths(&mut b, trials).unwrap_or_else(|e| panic!("{e:#}"));
    let (med, max) = stats(&mut deaths);
    println!("RESULT node-death profile={profile} agent={agent} mode={mode} trials={trials} median_ms={med:.0} max_ms={max:.0}");
    let mut standby =
        standbys(&b, env_ms("STANDBY_TRIALS", 10) as usize).unwrap_or_else(|e| panic!("{e:#}"));
    let (med, max) = stats(&mut standby);
    println!("RESULT standby profile={profile} agent={agent} mode={mode} trials={} median_ms={med:.0} max_ms={max:.0}", standby.len());
    if let Some(path) = std::env::var_os("BENCH_HISTORY") {
        history(&b, std::path::Path::new(&path))?;
    }
    create(&b, &agent, &profile)?;
    drop(b.fv.take());
    Ok(())
}

/// The cluster, its fencing (mode `fence`), the VIP group and the client.
fn setup(profile: &str, agent: &str, fence: bool) -> Result<Bench> {
    let (mut c, fv, client_ns) = if fence {
        let (c, fv) = fencing_lab_with("hx-tb", "10.84.0", 3, 1, Some(profile), T)?;
        (c, Some(fv), 5)
    } else {
        let c = Cluster::setup_with_spares("hx-tb", 3, 1, "10.84.0", Some(profile))?;
        (c, None, 4)
    };
    for i in 1..=3 {
        start_node(&mut c, i)?;
    }
    c.wait_dc(&[1, 2, 3], T)?;
    // Without fencing the DC holds a lost node's resources for their stop timeouts
    // (docs/architecture.md, "Split brain"): the VIP's is part of what this measures.
    let stop_ms = env_ms("VIP_STOP_TIMEOUT_MS", 500);
    create_group(
        &c,
        1,
        vec![with_stop_timeout(vip_primitive(agent, VIP, "1s"), stop_ms)],
    )?;
    if let Some(fv) = &fv {
        enable_fencing(&c, &fv.key_path.display().to_string(), 3)?;
    }
    let macs: Vec<String> = (1..=3).map(|i| mac_of(&c, i)).collect::<Result<_>>()?;
    let client = Poller::start(&c.net.ns(client_ns), VIP, 9)?;
    Ok(Bench {
        c,
        fv,
        client,
        macs,
    })
}

/// Waits until the DC is idle, nothing is left to schedule, the VIP is active on
/// one node as the DC sees it (a node that just restarted may still show its own
/// stale view) and the client reaches it there; returns that node.
fn steady(b: &Bench) -> Result<usize> {
    // What was still missing at the last look: the timeout's message says it.
    let missing = std::cell::RefCell::new(String::new());
    let r = b.c.wait_until("steady", T, || {
        let all: Vec<usize> = (1..=3).filter(|i| b.c.status(*i).is_ok()).collect();
        let dc = idx(&b.c.status(all[0])?.dc).unwrap_or(0);
        if dc == 0 || !b.c.status(dc)?.dc_idle {
            *missing.borrow_mut() = format!("DC n{dc} not idle");
            return Ok(None);
        }
        let cib = b.c.cib(dc)?;
        // Every node back as a member (a restarted node's join, sync and reprobe
        // are not part of the next trial).
        let members = cib
            .status
            .nodes
            .values()
            .filter(|s| s.join.as_deref() == Some("member"))
            .count();
        if members < 3 {
            *missing.borrow_mut() = format!("{members} of 3 nodes members");
            return Ok(None);
        }
        let on = active_on(&cib, "vip");
        let [h] = on.as_slice() else {
            *missing.borrow_mut() = format!("VIP active on {on:?}");
            return Ok(None);
        };
        let h = idx(h)?;
        let seen = b
            .client
            .last()
            .is_some_and(|s| s.up && s.mac.as_deref() == Some(&b.macs[h - 1]));
        let settled = settled(&cib);
        *missing.borrow_mut() = format!("client reaches n{h}: {seen}, CIB settled: {settled}");
        Ok((seen && settled).then_some(h))
    });
    r.with_context(|| missing.borrow().clone())
}

fn node_deaths(b: &mut Bench, trials: usize) -> Result<Vec<f64>> {
    let mut deaths = Vec::new();
    for trial in 1..=trials {
        let h = steady(b)?;
        let t0 = unix_now();
        kill_node(&mut b.c, h)?;
        let old = b.macs[h - 1].clone();
        let back = b.c.wait_until("VIP answering from another node", T, || {
            Ok(b.client.first_up_after(t0, |m| m != old))
        })?;
        let ms = (back - t0) * 1000.0;
        println!("trial {trial}: node death of n{h} -> VIP elsewhere in {ms:.0} ms");
        deaths.push(ms);
        power_on(b, h)?;
    }
    Ok(deaths)
}

/// The killed node boots again: its domain on (fencing mode), no VIP address any
/// more, link up, daemon started; returns once every node is back.
fn power_on(b: &mut Bench, h: usize) -> Result<()> {
    if b.fv.is_some() {
        let via = (1..=3).find(|i| *i != h).unwrap_or(1);
        let out = cli(&b.c, via, &["stonith", "fence", &format!("n{h}"), "--on"])?;
        if !out.contains("succeeded") {
            bail!("stonith fence --on: {out}");
        }
    }
    let ns = b.c.net.ns(h);
    // Absent unless the node died holding it.
    let _ = run(
        "ip",
        &[
            "-n",
            &ns,
            "addr",
            "del",
            &format!("{VIP}/24"),
            "dev",
            "eth0",
        ],
    );
    run("ip", &["-n", &ns, "link", "set", "eth0", "up"])?;
    start_node(&mut b.c, h)?;
    b.c.wait_dc(&[1, 2, 3], T)?;
    Ok(())
}

/// `node standby` of the holder → the VIP answers from elsewhere; standby taken off
/// again after each trial (the VIP stays where it went: stickiness).
fn standbys(b: &Bench, trials: usize) -> Result<Vec<f64>> {
    let mut v = Vec::new();
    for trial in 1..=trials {
        let h = steady(b)?;
        let node = format!("n{h}");
        let t0 = unix_now();
        b.c.propose(
            1,
            &json!({"change": "set_standby", "node": node, "standby": true}),
        )?;
        let old = b.macs[h - 1].clone();
        let back = b.c.wait_until("VIP elsewhere after standby", T, || {
            Ok(b.client.first_up_after(t0, |m| m != old))
        })?;
        let ms = (back - t0) * 1000.0;
        // The record is written when the transition ends, after the VIP answers.
        let path =
            b.c.wait_until("transition record", Duration::from_secs(5), || {
                Ok(standby_path(b, t0, &node))
            })
            .unwrap_or_else(|_| "no transition record".into());
        println!("standby {trial}: n{h} -> VIP elsewhere in {ms:.0} ms ({path})");
        v.push(ms);
        b.c.propose(
            1,
            &json!({"change": "set_standby", "node": node, "standby": false}),
        )?;
    }
    Ok(v)
}

/// Where a standby's time went, from the DC's record of the transition that moved
/// the VIP: propose → transition start, the stop and the start (as the agents ran
/// them), and the transition's end (the start recorded).
fn standby_path(b: &Bench, t0: f64, from: &str) -> Option<String> {
    let dc = idx(&b.c.status(1).ok()?.dc).ok()?;
    let cib = b.c.cib(dc).ok()?;
    let t0_ms = (t0 * 1000.0) as u64;
    let r = cib.status.transitions.iter().find(|r| {
        r.started_ms >= t0_ms && r.actions.iter().any(|a| a.task == "stop" && a.node == from)
    })?;
    let ms_of = |task: &str| {
        r.actions
            .iter()
            .find(|a| a.task == task && a.rsc.as_deref() == Some("vip"))
            .and_then(|a| a.ms)
            .unwrap_or(0)
    };
    Some(format!(
        "transition started after {} ms, stop ran {} ms, start ran {} ms, transition done after {} ms",
        r.started_ms.saturating_sub(t0_ms),
        ms_of("stop"),
        ms_of("start"),
        (r.started_ms + r.duration_ms).saturating_sub(t0_ms)
    ))
}

/// `resource create` of a second VIP → it answers.
fn create(b: &Bench, agent: &str, profile: &str) -> Result<()> {
    let client_ns = if b.fv.is_some() { 5 } else { 4 };
    let client2 = Poller::start(&b.c.net.ns(client_ns), VIP2, 9)?;
    let mut p = vip_primitive(agent, VIP2, "1s");
    p["id"] = json!("vip2");
    if let Some(ops) = p["ops"].as_array_mut() {
        for o in ops {
            o["id"] = json!("vip2-monitor");
        }
    }
    let t0 = unix_now();
    b.c.propose(1, &json!({"change": "add_resource", "resource": {"kind": "primitive", "id": "vip2", "agent": p["agent"], "params": p["params"], "ops": p["ops"]}}))?;
    let up = b.c.wait_until("new VIP answering", T, || {
        Ok(client2.first_up_after(t0, |_| true))
    })?;
    let cib = b.c.cib(1)?;
    println!(
        "RESULT create profile={profile} agent={agent} ms={:.0} (on {:?})",
        (up - t0) * 1000.0,
        active_on(&cib, "vip2")
    );
    Ok(())
}

/// BENCH_HISTORY=FILE: the DC's transition records (why each ran, what ran), to
/// see what a trial did besides the move; its CIB is written to FILE.
fn history(b: &Bench, file: &std::path::Path) -> Result<()> {
    let dc = idx(&b.c.status(1)?.dc)?;
    let cib = b.c.cib(dc)?;
    std::fs::write(file, serde_json::to_vec_pretty(&cib)?)?;
    for t in &cib.status.transitions {
        println!(
            "transition {} at {} trigger={:?} planned={:?}",
            t.id, t.started_ms, t.trigger, t.planned
        );
        for a in &t.actions {
            println!(
                "    {} {:?} on {} interval {} rc {:?}",
                a.task, a.rsc, a.node, a.interval_ms, a.rc
            );
        }
    }
    Ok(())
}
