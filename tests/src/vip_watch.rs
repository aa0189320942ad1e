//! Which nodes hold a VIP, read from their own namespaces (`ip addr`), and a watcher
//! that reads it every 10 ms while a test runs: the "never up on two nodes at once"
//! check, and the timeline of who held it (printed as it changes, in UTC like the
//! daemons' logs, and kept for measuring how long two nodes held it).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::controller_lab::{unix_now, utc_now};
use crate::netns::run;

/// Whether namespace `ns` has `vip` on an interface that is up.
pub fn holds(ns: &str, vip: &str) -> bool {
    run("ip", &["-n", ns, "-o", "addr", "show", "up"])
        .map(|o| o.contains(&format!("inet {vip}/")))
        .unwrap_or(false)
}

/// From when (unix time, s) the VIP was up on exactly `holders` (node indexes).
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub since: f64,
    pub holders: Vec<usize>,
}

/// Reads every node's addresses every 10 ms on a thread of its own until dropped.
pub struct VipWatch {
    stop: Arc<AtomicBool>,
    timeline: Arc<Mutex<Vec<Held>>>,
    thread: Option<JoinHandle<()>>,
}

impl VipWatch {
    /// Watches `vip` on the nodes `nodes`, each `(index, namespace)`.
    pub fn start(vip: &str, nodes: Vec<(usize, String)>) -> VipWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let timeline = Arc::new(Mutex::new(Vec::new()));
        let (s, tl, vip) = (stop.clone(), timeline.clone(), vip.to_string());
        let thread = std::thread::spawn(move || {
            let mut last: Option<Vec<usize>> = None;
            while !s.load(Ordering::SeqCst) {
                let since = unix_now();
                let holders: Vec<usize> = nodes
                    .iter()
                    .filter(|(_, ns)| holds(ns, &vip))
                    .map(|(i, _)| *i)
                    .collect();
                if last.as_ref() != Some(&holders) {
                    eprintln!("watch {}: VIP up on {holders:?}", utc_now());
                    if let Ok(mut v) = tl.lock() {
                        v.push(Held {
                            since,
                            holders: holders.clone(),
                        });
                    }
                    last = Some(holders);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        VipWatch {
            stop,
            timeline,
            thread: Some(thread),
        }
    }

    /// Every change seen so far, oldest first.
    pub fn timeline(&self) -> Vec<Held> {
        self.timeline.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Most nodes seen holding the VIP at once.
    pub fn max_holders(&self) -> usize {
        self.timeline()
            .iter()
            .map(|h| h.holders.len())
            .max()
            .unwrap_or(0)
    }

    /// How long, in all, two or more nodes held the VIP at once (up to now if they
    /// still do); the resolution is one round of reads (10 ms plus the `ip` runs).
    pub fn doubled(&self) -> Duration {
        let tl = self.timeline();
        let secs: f64 = tl
            .iter()
            .enumerate()
            .filter(|(_, h)| h.holders.len() > 1)
            .map(|(n, h)| tl.get(n + 1).map_or_else(unix_now, |next| next.since) - h.since)
            .sum();
        Duration::from_secs_f64(secs.max(0.0))
    }
}

impl Drop for VipWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// With fencing off (`stonith-enabled=false`, `no-quorum-policy=stop`: the split-brain
/// hold is then the only guard), creates `vip` as the native `ocf:hactl:VIP` on eth0,
/// monitored every second, with a 1 s stop timeout (a hold of about 1.1 s) and some
/// stickiness (nothing pulls it back after a heal), through node `dc`.
pub fn fencing_off_with_a_short_hold_vip(
    c: &crate::cluster::Cluster,
    dc: usize,
    vip: &str,
    within: Duration,
) -> anyhow::Result<()> {
    crate::controller_lab::set_properties(
        c,
        dc,
        &["stonith-enabled=false", "no-quorum-policy=stop"],
        within,
    )?;
    let ip = format!("ip={vip}");
    let args = [
        "resource",
        "create",
        "--no-wait",
        "vip",
        "ocf:hactl:VIP",
        &ip,
        "cidr_netmask=24",
        "nic=eth0",
        "op",
        "monitor",
        "interval=1s",
        "op",
        "stop",
        "timeout=1s",
        "meta",
        "resource-stickiness=100",
    ];
    crate::controller_lab::cli(c, dc, &args)?;
    Ok(())
}

/// Waits until `vip` (the resource `vip`) is recorded active on one node of `among`, as
/// `via`'s CIB says with nothing left to do, and that node alone of `nodes` has the
/// address; returns it.
pub fn wait_vip_once(
    c: &crate::cluster::Cluster,
    vip: &str,
    nodes: &[usize],
    via: usize,
    among: &[usize],
    within: Duration,
) -> anyhow::Result<usize> {
    use crate::controller_lab::{active_on, idx, settled};
    c.wait_seeing("the VIP on exactly one node", within, || {
        let cib = c.cib(via)?;
        let on = active_on(&cib, "vip");
        let held: Vec<usize> = nodes
            .iter()
            .copied()
            .filter(|&i| holds(&c.net.ns(i), vip))
            .collect();
        if let [n] = on.as_slice() {
            let n = idx(n)?;
            if among.contains(&n) && settled(&cib) && held == [n] {
                return Ok(Ok(n));
            }
        }
        Ok(Err(format!(
            "recorded active on {on:?}, address on {held:?}, settled: {}",
            settled(&cib)
        )))
    })
}
