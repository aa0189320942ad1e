//! Cluster-core benchmarks (run by `scripts/bench-cluster`): commit latency, DC
//! re-election after kill -9, time to declare a killed node dead, time for an isolated
//! node to know it has no quorum, idle RSS with 100 resources. Real daemons in network namespaces, as in the netns tests; times are
//! measured from the test process by polling control sockets every millisecond.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use hactl_proto::client::NodeState;
use serde_json::json;

use crate::cluster::Cluster;

const UP: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(1);

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

/// Prints n, p50, p99 (from 100 samples on: fewer say nothing about it), min and max
/// of `v` (milliseconds).
pub fn summary(name: &str, v: &mut [f64]) {
    let n = v.len();
    let (p50, min, max) = (pct(v, 0.5), pct(v, 0.0), pct(v, 1.0));
    let p99 = if n >= 100 {
        format!(" p99={:.2} ms", pct(v, 0.99))
    } else {
        String::new()
    };
    println!("{name}: n={n} p50={p50:.2} ms{p99} min={min:.2} ms max={max:.2} ms");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Commit latency of a configuration change through the DC and through a follower.
pub fn commit_latency(c: &Cluster, n: usize) -> Result<()> {
    let dc = c.wait_dc(&[1, 2, 3], UP)?;
    let follower = if dc == 1 { 2 } else { 1 };
    for (label, node) in [("via DC", dc), ("via follower", follower)] {
        let mut v = Vec::with_capacity(n);
        for i in 0..n {
            let change = json!({"change": "set_property", "name": format!("bench-{label}-{i}"), "value": "1"});
            let t = Instant::now();
            c.propose(node, &change)?;
            v.push(ms(t.elapsed()));
        }
        summary(
            &format!("commit latency {label} (config change, 3 nodes)"),
            &mut v,
        );
    }
    Ok(())
}

/// Time from kill -9 of the DC until the survivors agree on a new DC.
pub fn reelection(c: &mut Cluster, rounds: usize) -> Result<Vec<f64>> {
    let all: Vec<usize> = (1..=c.net.len()).collect();
    let mut v = Vec::new();
    for _ in 0..rounds {
        let dc = c.wait_dc(&all, UP)?;
        // Let membership settle so the next kill starts from a steady cluster.
        wait_all_online(c, dc, &all)?;
        let rest: Vec<usize> = all.iter().copied().filter(|&i| i != dc).collect();
        let t = Instant::now();
        c.kill(dc);
        loop {
            let mut agreed = None;
            let mut ok = true;
            for &i in &rest {
                match c.status(i) {
                    Ok(s) if !s.dc.is_empty() && s.dc != format!("n{dc}") => {
                        if *agreed.get_or_insert(s.dc.clone()) != s.dc {
                            ok = false;
                        }
                    }
                    _ => ok = false,
                }
            }
            if ok {
                break;
            }
            if t.elapsed() > UP {
                return Err(anyhow!("no new DC within {UP:?}"));
            }
            std::thread::sleep(POLL);
        }
        v.push(ms(t.elapsed()));
        c.start(dc)?;
    }
    Ok(v)
}

/// Time from kill -9 of a non-DC node until the DC reports it not online.
pub fn declare_dead(c: &mut Cluster, rounds: usize) -> Result<Vec<f64>> {
    let all: Vec<usize> = (1..=c.net.len()).collect();
    let mut v = Vec::new();
    for r in 0..rounds {
        let dc = c.wait_dc(&all, UP)?;
        wait_all_online(c, dc, &all)?;
        let victims: Vec<usize> = all.iter().copied().filter(|&i| i != dc).collect();
        let victim = victims[r % victims.len()];
        let t = Instant::now();
        c.kill(victim);
        loop {
            if matches!(c.node_state(dc, victim), Ok(s) if s != NodeState::Online) {
                break;
            }
            if t.elapsed() > UP {
                return Err(anyhow!("n{victim} not declared dead within {UP:?}"));
            }
            std::thread::sleep(POLL);
        }
        v.push(ms(t.elapsed()));
        c.start(victim)?;
    }
    Ok(v)
}

/// Time from cutting one node off (nftables drop in the switch) until that node
/// reports it has no quorum.
pub fn quorum_loss(c: &mut Cluster, rounds: usize) -> Result<Vec<f64>> {
    let all: Vec<usize> = (1..=c.net.len()).collect();
    let mut v = Vec::new();
    for r in 0..rounds {
        let dc = c.wait_dc(&all, UP)?;
        wait_all_online(c, dc, &all)?;
        let cut = all[r % all.len()];
        let rest: Vec<usize> = all.iter().copied().filter(|&i| i != cut).collect();
        // The clock starts once the drop rules are in place (the nft commands take a
        // few ms each; counting them would measure nft, not hactl).
        c.net.partition(&[cut], &rest)?;
        let t = Instant::now();
        loop {
            if matches!(c.status(cut), Ok(s) if !s.has_quorum) {
                break;
            }
            if t.elapsed() > UP {
                return Err(anyhow!("n{cut} still claims quorum after {UP:?}"));
            }
            std::thread::sleep(POLL);
        }
        v.push(ms(t.elapsed()));
        c.net.heal()?;
    }
    Ok(v)
}

fn wait_all_online(c: &Cluster, by: usize, all: &[usize]) -> Result<()> {
    c.wait_until("every node online", UP, || {
        Ok(all
            .iter()
            .all(|&i| c.node_state(by, i).ok() == Some(NodeState::Online))
            .then_some(()))
    })
}

/// Adds `n` primitives, waits for the cluster to be idle, and returns each daemon's
/// RSS in MiB.
pub fn idle_rss(c: &Cluster, n: usize, idle: Duration) -> Result<Vec<f64>> {
    let dc = c.wait_dc(&[1, 2, 3], UP)?;
    for i in 0..n {
        let change = json!({"change": "add_resource", "resource": {
            "kind": "primitive", "id": format!("rsc{i}"),
            "agent": {"class": "ocf", "provider": "heartbeat", "type": "Dummy"},
            "params": {"state": format!("/run/rsc{i}.state")},
            "ops": [{"name": "monitor", "interval_ms": 10000, "timeout_ms": 20000}]
        }});
        c.propose(dc, &change)?;
    }
    // Idle: no client traffic, only heartbeats. Not a synchronization stand-in: the
    // point of the measurement is the footprint after a quiet period.
    std::thread::sleep(idle);
    let mut out = Vec::new();
    for i in 1..=c.net.len() {
        let pid = c.pid(i).ok_or_else(|| anyhow!("n{i} not running"))?;
        let st = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kb: f64 = st
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow!("no VmRSS for pid {pid}"))?;
        out.push(kb / 1024.0);
    }
    Ok(out)
}

/// Runs everything and prints a report.
pub fn run_all(prefix: &str) -> Result<()> {
    let n_commit = std::env::var("BENCH_COMMITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    {
        let mut c = Cluster::setup(prefix, 3, "10.78.9", None)?;
        c.start_all()?;
        commit_latency(&c, n_commit)?;
        let rss = idle_rss(&c, 100, Duration::from_secs(5))?;
        println!(
            "idle RSS with 100 resources (3 daemons, MiB): {}",
            rss.iter()
                .map(|r| format!("{r:.1}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let mut v = declare_dead(&mut c, rounds)?;
        summary("declare dead after kill -9 (profile default)", &mut v);
        let mut v = reelection(&mut c, rounds)?;
        summary("new DC after kill -9 of the DC (profile default)", &mut v);
        let mut v = quorum_loss(&mut c, rounds)?;
        summary(
            "isolated node knows it has no quorum (profile default)",
            &mut v,
        );
    }
    {
        let mut c = Cluster::setup(prefix, 3, "10.78.9", Some("fast"))?;
        c.start_all()?;
        let mut v = declare_dead(&mut c, rounds)?;
        summary("declare dead after kill -9 (profile fast)", &mut v);
        let mut v = reelection(&mut c, rounds)?;
        summary("new DC after kill -9 of the DC (profile fast)", &mut v);
        let mut v = quorum_loss(&mut c, rounds)?;
        summary(
            "isolated node knows it has no quorum (profile fast)",
            &mut v,
        );
    }
    Ok(())
}
