//! The two-node lab of `tests/netns_two_node.rs` and `examples/bench_two_node.rs`: two
//! real daemons set up by `hactl cluster setup` with two nodes (so `two_node = true`),
//! a real fence_virtd (libvirt test driver, domains n1 and n2) in a third namespace, a
//! native `fence_hactl_xvm` device with `pcmk_host_map`, the seed's group (an IPaddr2
//! VIP and haproxy), and a client namespace.
//!
//! fence_virtd's test driver only flips a domain's state; it cannot power a namespace
//! off. While [`watched`] runs, the lab's power gate ([`crate::power_gate`]) does that
//! part (the one thing mocked, because no VM exists here): when fence_virtd turns a
//! node's domain off (or destroys it in a reboot), every process in its namespace gets SIGKILL, its link goes down
//! and its VIP goes away, as a power cut would do — before fence_virtd's answer reaches
//! the fencing node, as on real hardware. [`power_on`] is the domain on again (`hactl
//! stonith fence NODE --on`), the link up and the daemon started again with its old
//! state. An address watcher records how many nodes had the VIP up at once (every
//! 10 ms).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{bail, Result};
use serde_json::json;

use crate::cluster::Cluster;
use crate::controller_lab::{
    agent_env, cli, haproxy_primitive, idx, set_properties, utc_now, vip_primitive, wait_group_on,
    write_haproxy_cfg, NsReaper,
};
use crate::fence_virtd::{fencing_lab_of, FenceVirtd, GROUP};
use crate::netns::run;
use crate::power_gate::{Cuts, Machine, PowerGate};

pub const T: Duration = Duration::from_secs(60);
pub const GROUP_RSCS: [&str; 2] = ["vip", "haproxy"];

pub struct Lab {
    /// First: fields drop in order, and the processes left in the namespaces (haproxy)
    /// must be killed before the cluster goes.
    _reaper: NsReaper,
    /// Before the cluster: its relay lives in the lab's fence_virtd namespace.
    gate: PowerGate,
    pub c: Cluster,
    pub fv: FenceVirtd,
    pub vip: String,
}

/// The lab, nothing started.
pub fn lab(prefix: &str, subnet: &str) -> Result<Lab> {
    let (c, fv) = fencing_lab_of(prefix, subnet, 2, 1, T)?;
    let vip = format!("{subnet}.100");
    let machines = (1..=2)
        .map(|i| machine(&c, &vip, i))
        .collect::<Result<Vec<_>>>()?;
    let ips: Vec<String> = (1..=2).map(|i| c.net.ip(i)).collect();
    let gate = PowerGate::start(&fv.ns, fv.log_path.clone(), &ips, machines)?;
    Ok(Lab {
        _reaper: NsReaper::new(&c),
        gate,
        c,
        fv,
        vip,
    })
}

/// The lab with both daemons started, a DC, and [`Lab::configure`]d: returns it and
/// the index of the node the group runs on.
pub fn two_node_lab(
    prefix: &str,
    subnet: &str,
    fencing: bool,
    extra: &[&str],
) -> Result<(Lab, usize)> {
    let mut l = lab(prefix, subnet)?;
    let on = l.start_configured(fencing, extra)?;
    Ok((l, on))
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

    /// Starts both daemons, waits for a DC and [`Lab::configure`]s: the index of the
    /// node the group runs on.
    pub fn start_configured(&mut self, fencing: bool, extra: &[&str]) -> Result<usize> {
        self.start(1)?;
        self.start(2)?;
        self.c.wait_dc(&[1, 2], T)?;
        idx(&self.configure(fencing, extra)?)
    }

    /// Fencing on (action off unless `extra` says otherwise), the native xvm device, the group (priority 10,
    /// sticky); `extra` properties too. Returns where the group runs.
    pub fn configure(&self, fencing: bool, extra: &[&str]) -> Result<String> {
        let c = &self.c;
        let enabled = if fencing {
            "stonith-enabled=true"
        } else {
            "stonith-enabled=false"
        };
        let name = |a: &str| {
            a.split_once('=')
                .map_or(a.to_string(), |(k, _)| k.to_string())
        };
        // A property in `extra` replaces the lab's default (one value per name, or the
        // applied check of `set_properties` could never hold).
        let mut props: Vec<&str> = [
            "stonith-action=off",
            "stonith-timeout=20s",
            "no-quorum-policy=stop",
            enabled,
        ]
        .into_iter()
        .filter(|d| !extra.iter().any(|e| name(e) == name(d)))
        .collect();
        props.extend_from_slice(extra);
        set_properties(c, 1, &props, T)?;
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

    /// `hactl cluster verify` as an operator runs it on node `i` (its configuration
    /// directory and control socket): the exit code and what it printed.
    pub fn verify(&self, i: usize) -> Result<(Option<i32>, String)> {
        let f = self.c.files(i);
        let out = std::process::Command::new(&self.c.bin)
            .args(["cluster", "verify"])
            .env("HACTL_CONFIG_DIR", &f.config_dir)
            .env("HACTL_SOCKET", &f.socket)
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        Ok((out.status.code(), text))
    }
}

/// Whether node `i`'s namespace has the VIP on an interface that is up.
pub fn holds_vip(l: &Lab, i: usize) -> bool {
    crate::vip_watch::holds(&l.c.net.ns(i), &l.vip)
}

/// Node `i` as a power cut sees it.
fn machine(c: &Cluster, vip: &str, i: usize) -> Result<Machine> {
    Ok(Machine {
        ns: c.net.ns(i),
        vip_cidr: format!("{vip}/24"),
        // The agents' run-time state (HA_VARRUN, HA_RSCTMP: pid files) lives in tmpfs
        // on a real machine and does not survive a power cut; here it is on disk.
        volatile_dirs: agent_env(c, i)?
            .into_iter()
            .map(|(_, dir)| dir.into())
            .collect(),
    })
}

/// A power cut of node `i` as seen from outside: link down, VIP gone, every process
/// in its namespace killed.
pub fn power_off(l: &Lab, i: usize) {
    match machine(&l.c, &l.vip, i) {
        Ok(m) => m.power_off(),
        Err(e) => eprintln!("power cut of n{i}: {e:#}"),
    }
}

/// What the watchers saw.
pub struct Watch {
    stop: AtomicBool,
    /// Most nodes seen holding the VIP at once.
    pub max_holders: AtomicUsize,
    /// Fewest nodes seen holding the VIP at once (0: it was down at some point).
    pub min_holders: AtomicUsize,
    /// Nodes whose domain went off (and that were powered off), in order.
    powered_off: Cuts,
}

impl Default for Watch {
    fn default() -> Watch {
        Watch {
            stop: AtomicBool::new(false),
            max_holders: AtomicUsize::new(0),
            min_holders: AtomicUsize::new(usize::MAX),
            powered_off: Cuts::default(),
        }
    }
}

impl Watch {
    pub fn fenced(&self) -> Vec<usize> {
        self.powered_off
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }
}

/// Runs `body` with the address watcher running and the power gate armed: a domain
/// fence_virtd turns off is a power cut of its node before the answer leaves the gate.
pub fn watched<R>(l: &Lab, body: impl FnOnce(&Watch) -> Result<R>) -> Result<R> {
    let w = Watch::default();
    l.gate.arm(w.powered_off.clone());
    let r = std::thread::scope(|s| {
        s.spawn(|| {
            let mut last = Vec::new();
            while !w.stop.load(Ordering::SeqCst) {
                let holders: Vec<usize> = (1..=2).filter(|&i| holds_vip(l, i)).collect();
                if holders != last {
                    // The timeline a failure is read against (the daemons log in UTC).
                    eprintln!("lab {} {}: VIP up on {holders:?}", l.c.name, utc_now());
                    last.clone_from(&holders);
                }
                w.max_holders.fetch_max(holders.len(), Ordering::SeqCst);
                w.min_holders.fetch_min(holders.len(), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        // Fencings whose answer goes to no node (a request from the client namespace)
        // pass no relay: the log is read for them too.
        s.spawn(|| {
            while !w.stop.load(Ordering::SeqCst) {
                l.gate.sync();
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let r = body(&w);
        w.stop.store(true, Ordering::SeqCst);
        r
    });
    l.gate.disarm();
    r
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

/// Waits until node `k`, back after a fencing, is a voter again as the survivor `s`
/// sees it (the returning node's own view is its stale configuration until it catches
/// up) and caught up: only then does it take part (wait_for_all).
pub fn wait_rejoined(l: &Lab, s: usize, k: usize) -> Result<()> {
    l.c.wait_until("both voters again, caught up", T, || {
        let m = membership(&l.c, s)?;
        let (back, surv) = (l.c.status(k)?, l.c.status(s)?);
        Ok((m.iter().all(|(_, v)| v == "voter")
            && membership(&l.c, k)? == m
            && back.applied_index >= surv.commit_index)
            .then_some(()))
    })
}

/// Waits until node `via`'s CIB records a successful fencing of `target` (`nK`),
/// done at or after `since` (unix s; the history keeps whole seconds), with `action`
/// when given.
pub fn wait_fencing_recorded(
    l: &Lab,
    what: &str,
    via: usize,
    target: &str,
    action: Option<&str>,
    since: f64,
) -> Result<()> {
    l.c.wait_until(what, T, || {
        let cib = l.c.cib(via)?;
        Ok(cib
            .status
            .fencing_history
            .iter()
            .any(|e| {
                e.target == target
                    && e.ok
                    && action.is_none_or(|a| e.action == a)
                    && e.at as f64 >= since.floor()
            })
            .then_some(()))
    })
}

/// Moves the group to node `to` (`hactl resource move`, which waits until it runs
/// there and then removes its constraint: stickiness keeps it there).
/// Nothing to do if it runs there already.
pub fn move_group(l: &Lab, to: usize) -> Result<()> {
    let node = format!("n{to}");
    if wait_group_on(&l.c, to, &GROUP_RSCS, T, |_| true)? == node {
        return Ok(());
    }
    cli(&l.c, to, &["resource", "move", "g", &node])?;
    wait_group_on(&l.c, to, &GROUP_RSCS, T, |n| n == node)?;
    Ok(())
}

pub fn membership(c: &Cluster, via: usize) -> Result<Vec<(String, String)>> {
    Ok(c.status(via)?
        .nodes
        .iter()
        .map(|n| (n.name.clone(), n.membership.clone()))
        .collect())
}

/// One cut of the link between the two nodes (both still reach fence_virtd) with
/// `priority-fencing-delay` set, and the way back: the outcome and what the client
/// saw. Used by `netns_two_node_cut_link_...` (a few runs in CI) and
/// `bench_two_node cut` (20 runs).
#[derive(Debug)]
pub struct CutRun {
    /// Nodes fenced (powered off), in order.
    pub fenced: Vec<usize>,
    /// Where the group ran before the cut, and after it.
    pub before: String,
    pub after: String,
    /// Most and fewest nodes holding the VIP at once, from the cut until the fencing
    /// was recorded and the group settled.
    pub max_holders: usize,
    pub min_holders: usize,
    /// Client answers from a node other than the group's (none expected).
    pub answered_elsewhere: usize,
    /// Client requests (HTTP through the VIP to haproxy) that failed from the cut
    /// until the fenced node was back (none expected: the group keeps running).
    pub failed_requests: usize,
    /// From the cut until the fencing was recorded on the survivor.
    pub fenced_after_ms: f64,
}

impl CutRun {
    /// Exactly one node fenced, the one without the group; the group stayed, ran
    /// once and kept running (the VIP up on exactly one node throughout).
    pub fn ok(&self) -> bool {
        let holder = self.before.trim_start_matches('n').parse::<usize>().ok();
        self.fenced.len() == 1
            && Some(self.fenced[0]) != holder
            && self.after == self.before
            && self.max_holders <= 1
            && self.min_holders == 1
            && self.answered_elsewhere == 0
            && self.failed_requests == 0
    }
}

/// Waits until the client's poller sees the VIP answered by node `h` (its MAC); returns
/// that MAC.
pub fn client_sees_vip_on(
    l: &Lab,
    poller: &crate::controller_lab::Poller,
    h: usize,
) -> Result<String> {
    let mac = crate::controller_lab::mac_of(&l.c, h)?;
    l.c.wait_until("the client sees the VIP on the holder", T, || {
        Ok(poller
            .last()
            .filter(|x| x.up && x.mac.as_deref() == Some(mac.as_str()))
            .map(|_| ()))
    })?;
    Ok(mac)
}

/// Cuts the link, waits for the fencing to be recorded and the group to be settled,
/// then heals, powers the fenced node on and waits until both are voters again and
/// caught up. The lab must be configured with `priority-fencing-delay`.
pub fn cut_once(l: &mut Lab, poller: &crate::controller_lab::Poller) -> Result<CutRun> {
    let before = wait_group_on(&l.c, 1, &GROUP_RSCS, T, |_| true)
        .or_else(|_| wait_group_on(&l.c, 2, &GROUP_RSCS, T, |_| true))?;
    let h: usize = before.trim_start_matches('n').parse()?;
    let holder_mac = client_sees_vip_on(l, poller, h)?;
    let t0 = crate::controller_lab::unix_now();
    let run = watched(l, |w| {
        l.c.net.partition(&[1], &[2])?;
        let recorded = l.c.wait_until("a fencing recorded", T, || {
            let t = (1..=2).find(|&i| {
                l.c.cib(i).is_ok_and(|cib| {
                    cib.status
                        .fencing_history
                        .iter()
                        .any(|e| e.ok && e.action == "off" && e.at as f64 >= t0.floor())
                })
            });
            Ok(t.map(|_| crate::controller_lab::unix_now()))
        })?;
        let fenced = l.c.wait_until("the fenced node powered off", T, || {
            let f = w.fenced();
            Ok((!f.is_empty()).then_some(f))
        })?;
        let survivor = other(fenced[0]);
        let after = wait_group_on(&l.c, survivor, &GROUP_RSCS, T, |_| true)?;
        Ok(CutRun {
            fenced: w.fenced(),
            before: before.clone(),
            after,
            max_holders: w.max_holders.load(Ordering::SeqCst),
            min_holders: w.min_holders.load(Ordering::SeqCst),
            answered_elsewhere: 0,
            failed_requests: 0,
            fenced_after_ms: (recorded - t0) * 1000.0,
        })
    })?;
    let answered_elsewhere = poller
        .samples()
        .iter()
        .filter(|x| x.t >= t0 && x.up && x.mac.as_deref() != Some(holder_mac.as_str()))
        .count();
    l.c.net.heal()?;
    for &k in &run.fenced {
        power_on(l, k, other(k))?;
    }
    let s = other(*run.fenced.first().unwrap_or(&1));
    wait_rejoined(l, s, other(s))?;
    let failed_requests = poller
        .samples()
        .iter()
        .filter(|x| x.t >= t0 && !x.up)
        .count();
    Ok(CutRun {
        answered_elsewhere,
        failed_requests,
        ..run
    })
}
