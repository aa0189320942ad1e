//! The two-node lab of `tests/netns_two_node.rs` and `examples/bench_two_node.rs`: two
//! real daemons set up by `hactl cluster setup` with two nodes (so `two_node = true`),
//! a real fence_virtd (libvirt test driver, domains n1 and n2) in a third namespace, a
//! native `fence_hactl_xvm` device with `pcmk_host_map`, the seed's group (an IPaddr2
//! VIP and haproxy), and a client namespace.
//!
//! fence_virtd's test driver only flips a domain's state; it cannot power a namespace
//! off. A "power" watcher ([`watched`]) does that part (the one thing mocked, because
//! no VM exists here): when fence_virtd reports a node's domain off, every process in
//! its namespace gets SIGKILL, its link goes down and its VIP goes away, as a power cut
//! would do. [`power_on`] is the domain on again (`hactl stonith fence NODE --on`), the
//! link up and the daemon started again with its old state. An address watcher records
//! how many nodes had the VIP up at once (every 10 ms).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{bail, Result};
use serde_json::json;

use crate::cluster::Cluster;
use crate::controller_lab::{
    agent_env, cli, haproxy_primitive, vip_primitive, wait_group_on, write_haproxy_cfg,
};
use crate::fence_virtd::{fencing_lab_of, FenceVirtd, GROUP};
use crate::netns::run;

pub const T: Duration = Duration::from_secs(60);
pub const GROUP_RSCS: [&str; 2] = ["vip", "haproxy"];

pub struct Lab {
    pub c: Cluster,
    pub fv: FenceVirtd,
    pub vip: String,
}

pub fn lab(prefix: &str, subnet: &str) -> Result<Lab> {
    let (c, fv) = fencing_lab_of(prefix, subnet, 2, 1, T)?;
    let vip = format!("{subnet}.100");
    Ok(Lab { c, fv, vip })
}

impl Lab {
    pub fn client(&self) -> String {
        self.c.net.ns(4)
    }

    pub fn start(&mut self, i: usize) -> Result<()> {
        for (k, v) in agent_env(&self.c, i)? {
            std::env::set_var(k, v);
        }
        self.c.start(i)
    }

    /// Fencing on (action off), the native xvm device, the group (priority 10,
    /// sticky); `extra` properties too. Returns where the group runs.
    pub fn configure(&self, fencing: bool, extra: &[&str]) -> Result<String> {
        let c = &self.c;
        let mut props = vec![
            "property",
            "set",
            "--no-wait",
            "stonith-action=off",
            "stonith-timeout=20s",
            "no-quorum-policy=stop",
        ];
        props.push(if fencing {
            "stonith-enabled=true"
        } else {
            "stonith-enabled=false"
        });
        props.extend_from_slice(extra);
        cli(c, 1, &props)?;
        if fencing {
            let key = format!("key_file={}", self.fv.key_path.display());
            let mcast = format!("multicast_address={GROUP}");
            cli(
                c,
                1,
                &[
                    "stonith",
                    "create",
                    "--no-wait",
                    "xvm",
                    "fence_hactl_xvm",
                    "pcmk_host_map=n1:n1;n2:n2",
                    &key,
                    &mcast,
                    "hash=sha256",
                    "timeout=3",
                ],
            )?;
        }
        let cfg = write_haproxy_cfg(&c.root, &self.vip)?;
        c.propose(
            1,
            &json!({"change": "add_resource", "resource": {
                "kind": "group", "id": "g",
                "meta": {"resource-stickiness": "100", "priority": "10"},
                "children": [
                    vip_primitive("ocf:heartbeat:IPaddr2", &self.vip, "2s"),
                    haproxy_primitive(&cfg),
                ],
            }}),
        )?;
        wait_group_on(c, 1, &GROUP_RSCS, T, |_| true)
    }

    pub fn domain_on(&self, node: &str) -> Result<Option<bool>> {
        self.fv.status_from(&self.client(), node)
    }
}

/// Whether node `i`'s namespace has the VIP on an interface that is up.
pub fn holds_vip(l: &Lab, i: usize) -> bool {
    run("ip", &["-n", &l.c.net.ns(i), "-o", "addr", "show", "up"])
        .map(|o| o.contains(&format!("inet {}/", l.vip)))
        .unwrap_or(false)
}

/// A power cut of node `i` as seen from outside: link down, VIP gone, every process
/// in its namespace killed.
pub fn power_off(l: &Lab, i: usize) {
    let ns = l.c.net.ns(i);
    let _ = run("ip", &["-n", &ns, "link", "set", "eth0", "down"]);
    let _ = run(
        "ip",
        &[
            "-n",
            &ns,
            "addr",
            "del",
            &format!("{}/24", l.vip),
            "dev",
            "eth0",
        ],
    );
    for p in run("ip", &["netns", "pids", &ns])
        .unwrap_or_default()
        .split_whitespace()
    {
        let _ = std::process::Command::new("kill").args(["-9", p]).status();
    }
    // The agents' run-time state (HA_VARRUN, HA_RSCTMP: pid files) lives in tmpfs on a
    // real machine and does not survive a power cut; here it is on disk.
    for (_, dir) in agent_env(&l.c, i).unwrap_or_default() {
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::create_dir_all(&dir);
    }
}

/// What the watchers saw.
#[derive(Default)]
pub struct Watch {
    stop: AtomicBool,
    /// Most nodes seen holding the VIP at once.
    pub max_holders: AtomicUsize,
    /// Nodes whose domain went off (and that were powered off), in order.
    powered_off: Mutex<Vec<usize>>,
}

impl Watch {
    pub fn fenced(&self) -> Vec<usize> {
        self.powered_off
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }
}

/// Runs `body` with the address watcher and the power watcher running.
pub fn watched<R>(l: &Lab, body: impl FnOnce(&Watch) -> Result<R>) -> Result<R> {
    let w = Watch::default();
    std::thread::scope(|s| {
        s.spawn(|| {
            while !w.stop.load(Ordering::SeqCst) {
                let n = (1..=2).filter(|&i| holds_vip(l, i)).count();
                w.max_holders.fetch_max(n, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        s.spawn(|| {
            while !w.stop.load(Ordering::SeqCst) {
                for i in 1..=2 {
                    let done = w.fenced().contains(&i);
                    if !done && l.domain_on(&format!("n{i}")).ok().flatten() == Some(false) {
                        power_off(l, i);
                        if let Ok(mut v) = w.powered_off.lock() {
                            v.push(i);
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let r = body(&w);
        w.stop.store(true, Ordering::SeqCst);
        r
    })
}

pub fn other(k: usize) -> usize {
    3 - k
}

/// Powers node `k` on again: domain on (through the survivor `via`), link up, daemon
/// started with its old state.
pub fn power_on(l: &mut Lab, k: usize, via: usize) -> Result<()> {
    let name = format!("n{k}");
    let out = cli(&l.c, via, &["stonith", "fence", &name, "--on"])?;
    if !out.contains(&format!("on of {name} succeeded")) {
        bail!("stonith fence --on: {out}");
    }
    boot(l, k)
}

/// Node `k` boots after a power cut ([`power_off`]): link up, daemon started with its
/// old state.
pub fn boot(l: &mut Lab, k: usize) -> Result<()> {
    run("ip", &["-n", &l.c.net.ns(k), "link", "set", "eth0", "up"])?;
    l.c.kill(k); // reap the daemon the power cut killed
    l.start(k)
}

pub fn membership(c: &Cluster, via: usize) -> Result<Vec<(String, String)>> {
    Ok(c.status(via)?
        .nodes
        .iter()
        .map(|n| (n.name.clone(), n.membership.clone()))
        .collect())
}
