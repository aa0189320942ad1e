//! Controller scenarios on a real cluster: the seed's resources (a VIP with
//! `ocf:heartbeat:IPaddr2` or the native `ocf:hactl:VIP`, and haproxy run by
//! `ocf:heartbeat:anything`), a client namespace that polls the VIP every 10 ms and
//! notes which MAC answered, node kills (every process of the node's namespace plus
//! link down), and where the CIB says resources run. Used by
//! `tests/netns_controller.rs` and the failover benchmark (`scripts/bench-failover`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;

use crate::cluster::Cluster;
use crate::netns::run;

/// A client's poller, as a small Python program run inside the client namespace:
/// every 10 ms it starts a TCP connection to VIP:PORT (100 ms timeout), each in a
/// thread of its own, so a connection whose SYN went to a node that no longer holds
/// the VIP does not delay the next attempt (a 10 ms resolution on when the VIP
/// answers again, not one bounded by the timeout). Connected, or refused (the VIP's
/// kernel answered with a reset), means the VIP is up; the MAC is then read from the
/// namespace's ARP table. One line per attempt, when it ends: `unix_time_s up|down
/// mac`, the time being when the attempt started. With a fourth argument `http`, up
/// means an HTTP GET answered 200 within 500 ms (the service answered, not just the
/// address).
const POLLER: &str = r#"
import socket, sys, threading, time
vip, port, period = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
http = len(sys.argv) > 4 and sys.argv[4] == 'http'
out = threading.Lock()
def mac():
    try:
        with open('/proc/net/arp') as f:
            for line in f.readlines()[1:]:
                p = line.split()
                if p[0] == vip and p[2] != '0x0':
                    return p[3]
    except OSError:
        pass
    return '-'
def attempt(t):
    up = False
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(0.5 if http else 0.1)
    try:
        s.connect((vip, port))
        if http:
            s.sendall(b'GET / HTTP/1.0\r\nHost: vip\r\n\r\n')
            up = s.recv(64).split(b' ')[1:2] == [b'200']
        else:
            up = True
    except ConnectionRefusedError:
        up = not http
    except OSError:
        up = False
    finally:
        s.close()
    with out:
        print('%.4f %s %s' % (t, 'up' if up else 'down', mac() if up else '-'), flush=True)
while True:
    t = time.time()
    threading.Thread(target=attempt, args=(t,), daemon=True).start()
    d = period - (time.time() - t)
    if d > 0:
        time.sleep(d)
"#;

/// One poll result.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Unix time in seconds.
    pub t: f64,
    pub up: bool,
    pub mac: Option<String>,
}

/// A client polling the VIP from its namespace; stopped on drop.
pub struct Poller {
    child: Child,
    samples: Arc<Mutex<Vec<Sample>>>,
}

impl Poller {
    pub fn start(ns: &str, vip: &str, port: u16) -> Result<Poller> {
        Self::spawn(ns, vip, port, "tcp")
    }

    /// Polls with HTTP GETs: a sample is up only when the web server answered 200.
    pub fn start_http(ns: &str, vip: &str, port: u16) -> Result<Poller> {
        Self::spawn(ns, vip, port, "http")
    }

    fn spawn(ns: &str, vip: &str, port: u16, mode: &str) -> Result<Poller> {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "python3", "-u", "-c", POLLER, vip])
            .arg(port.to_string())
            .arg("0.01")
            .arg(mode)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .context("starting the client poller")?;
        let out = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("poller has no stdout"))?;
        let samples = Arc::new(Mutex::new(Vec::new()));
        let s2 = samples.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(|l| l.ok()) {
                let p: Vec<&str> = line.split_whitespace().collect();
                if let [t, state, mac] = p.as_slice() {
                    if let Ok(t) = t.parse::<f64>() {
                        let s = Sample {
                            t,
                            up: *state == "up",
                            mac: (*mac != "-").then(|| mac.to_string()),
                        };
                        if let Ok(mut v) = s2.lock() {
                            v.push(s);
                        }
                    }
                }
            }
        });
        Ok(Poller { child, samples })
    }

    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// The sample of the newest attempt that has ended.
    pub fn last(&self) -> Option<Sample> {
        self.samples
            .lock()
            .ok()
            .and_then(|v| v.iter().max_by(|a, b| a.t.total_cmp(&b.t)).cloned())
    }

    /// Start time of the first attempt, at or after `since`, that the VIP answered
    /// from a MAC `which` accepts (attempts end out of order: the earliest start).
    pub fn first_up_after(&self, since: f64, mut which: impl FnMut(&str) -> bool) -> Option<f64> {
        self.samples()
            .into_iter()
            .filter(|s| s.t >= since && s.up && s.mac.as_deref().is_some_and(&mut which))
            .map(|s| s.t)
            .min_by(f64::total_cmp)
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The time of day in UTC with microseconds, as the daemons' logs print it: lab
/// timelines are read against those logs.
pub fn utc_now() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let s = d.as_secs();
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        d.subsec_micros()
    )
}

/// MAC of node `i`'s eth0, lower case.
pub fn mac_of(c: &Cluster, i: usize) -> Result<String> {
    let out = run("ip", &["-n", &c.net.ns(i), "-o", "link", "show", "eth0"])?;
    out.split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .map(str::to_lowercase)
        .ok_or_else(|| anyhow!("no MAC for n{i} in {out:?}"))
}

/// Kills node `i` like a power cut: every process in its namespace (the daemon, the
/// agents' daemons such as haproxy) gets SIGKILL, and its link goes down.
pub fn kill_node(c: &mut Cluster, i: usize) -> Result<()> {
    let ns = c.net.ns(i);
    run("ip", &["-n", &ns, "link", "set", "eth0", "down"])?;
    c.kill(i);
    let pids = run("ip", &["netns", "pids", &ns]).unwrap_or_default();
    for p in pids.split_whitespace() {
        let _ = Command::new("kill").args(["-9", p]).status();
    }
    Ok(())
}

/// Where the CIB (through the policy engine's eyes) says `rsc` is active.
pub fn active_on(cib: &hactl_model::Cib, rsc: &str) -> Vec<String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    hactl_policy::schedule(cib, now)
        .ok()
        .and_then(|t| {
            t.placements
                .iter()
                .find(|p| p.resource == rsc)
                .map(|p| p.current.clone())
        })
        .unwrap_or_default()
}

/// Whether the policy engine has nothing left to do on this CIB.
pub fn settled(cib: &hactl_model::Cib) -> bool {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    hactl_policy::schedule(cib, now)
        .map(|t| t.actions.iter().all(|a| !a.runnable || a.pseudo))
        .unwrap_or(false)
}

/// Per-node agent state directories (`HA_RSCTMP`, `HA_VARRUN`): the lab's daemons
/// share the host's filesystem, the agents' pid and state files must not collide.
pub fn agent_env(c: &Cluster, i: usize) -> Result<Vec<(String, String)>> {
    let base = c.root.join(format!("n{i}")).join("agents");
    let rsctmp = base.join("rsctmp");
    let varrun = base.join("varrun");
    std::fs::create_dir_all(&rsctmp)?;
    std::fs::create_dir_all(&varrun)?;
    Ok(vec![
        ("HA_RSCTMP".into(), rsctmp.display().to_string()),
        ("HA_VARRUN".into(), varrun.display().to_string()),
    ])
}

/// Starts node `i`'s daemon with its own agent state directories ([`agent_env`]).
pub fn start_node(c: &mut Cluster, i: usize) -> Result<()> {
    // The daemon inherits these; each node gets its own (the lab's nodes share the
    // host's filesystem).
    for (k, v) in agent_env(c, i)? {
        std::env::set_var(k, v);
    }
    c.start(i)
}

/// Starts the daemons of nodes 1..=n, each with its own agent state directories.
pub fn start_nodes(c: &mut Cluster, n: usize) -> Result<()> {
    for i in 1..=n {
        start_node(c, i)?;
    }
    Ok(())
}

pub fn varrun(c: &Cluster, i: usize) -> PathBuf {
    c.root.join(format!("n{i}")).join("agents").join("varrun")
}

/// haproxy answering every HTTP request on VIP:80 with "ok".
pub fn write_haproxy_cfg(dir: &Path, vip: &str) -> Result<PathBuf> {
    let p = dir.join("haproxy.cfg");
    std::fs::write(
        &p,
        format!(
            "global\n  maxconn 100\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\nfrontend web\n  bind {vip}:80\n  http-request return status 200 content-type text/plain string \"ok\\n\"\n"
        ),
    )?;
    Ok(p)
}

/// The VIP primitive as a `Change` JSON: `agent` is `ocf:heartbeat:IPaddr2` or
/// `ocf:hactl:VIP`.
pub fn vip_primitive(agent: &str, ip: &str, monitor: &str) -> serde_json::Value {
    let (class, provider, kind) = {
        let p: Vec<&str> = agent.split(':').collect();
        (p[0].to_string(), p[1].to_string(), p[2].to_string())
    };
    json!({
        "id": "vip",
        "agent": {"class": class, "provider": provider, "type": kind},
        "params": {"ip": ip, "cidr_netmask": "24", "nic": "eth0"},
        "ops": [{"id": "vip-monitor", "name": "monitor", "interval_ms": parse_ms(monitor), "timeout_ms": 20000}],
    })
}

/// Adds a `stop` operation with this timeout to a primitive's `Change` JSON.
pub fn with_stop_timeout(mut p: serde_json::Value, timeout_ms: u64) -> serde_json::Value {
    let id = format!("{}-stop", p["id"].as_str().unwrap_or("rsc"));
    let stop = json!({"id": id, "name": "stop", "interval_ms": 0, "timeout_ms": timeout_ms});
    match p["ops"].as_array_mut() {
        Some(ops) => ops.push(stop),
        None => p["ops"] = json!([stop]),
    }
    p
}

pub fn haproxy_primitive(cfg: &Path) -> serde_json::Value {
    json!({
        "id": "haproxy",
        "agent": {"class": "ocf", "provider": "heartbeat", "type": "anything"},
        "params": {"binfile": "/usr/sbin/haproxy", "cmdline_options": format!("-db -f {}", cfg.display())},
        "meta": {"migration-threshold": "2"},
        "ops": [{"id": "haproxy-monitor", "name": "monitor", "interval_ms": 1000, "timeout_ms": 20000}],
    })
}

fn parse_ms(s: &str) -> u64 {
    hactl_model::values::parse_interval_ms(s).unwrap_or(1000)
}

/// Cluster-wide settings of these scenarios, and a group of the given primitives.
pub fn create_group(c: &Cluster, via: usize, members: Vec<serde_json::Value>) -> Result<()> {
    c.propose(
        via,
        &json!({"change": "set_property", "name": "stonith-enabled", "value": "false"}),
    )?;
    c.propose(
        via,
        &json!({"change": "set_property", "name": "no-quorum-policy", "value": "stop"}),
    )?;
    c.propose(
        via,
        &json!({"change": "add_resource", "resource": {
            "kind": "group", "id": "hagroup",
            "meta": {"resource-stickiness": "100"},
            "children": members,
        }}),
    )?;
    Ok(())
}

/// Waits until every member of `rscs` is recorded active on exactly one and the same
/// node; returns it.
pub fn wait_group_on(
    c: &Cluster,
    via: usize,
    rscs: &[&str],
    timeout: Duration,
    mut ok: impl FnMut(&str) -> bool,
) -> Result<String> {
    c.wait_until("group active on one node", timeout, || {
        let cib = c.cib(via)?;
        let first = active_on(&cib, rscs[0]);
        if first.len() != 1 || !ok(&first[0]) {
            return Ok(None);
        }
        for r in &rscs[1..] {
            if active_on(&cib, r) != first {
                return Ok(None);
            }
        }
        Ok(Some(first[0].clone()))
    })
}

/// Index of a node name `nK`.
pub fn idx(name: &str) -> Result<usize> {
    name.trim_start_matches('n')
        .parse()
        .map_err(|_| anyhow!("bad node name {name:?}"))
}

/// PID of haproxy on node `i` (from the anything agent's pid file).
pub fn haproxy_pid(c: &Cluster, i: usize) -> Result<u32> {
    let p = varrun(c, i).join("anything_haproxy.pid");
    let s = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    s.trim()
        .parse()
        .map_err(|_| anyhow!("bad pid in {}", p.display()))
}

pub fn ensure(cond: bool, what: &str) -> Result<()> {
    if !cond {
        bail!("{what}");
    }
    Ok(())
}

/// Kills every process left in the lab's node namespaces (agents' daemons such as
/// haproxy outlive the daemon that started them) when dropped; declare it after the
/// `Cluster` so it runs first.
pub struct NsReaper {
    namespaces: Vec<String>,
}

impl NsReaper {
    pub fn new(c: &Cluster) -> NsReaper {
        NsReaper {
            namespaces: (1..=c.net.len()).map(|i| c.net.ns(i)).collect(),
        }
    }
}

impl Drop for NsReaper {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            let pids = run("ip", &["netns", "pids", ns]).unwrap_or_default();
            for p in pids.split_whitespace() {
                let _ = Command::new("kill").args(["-9", p]).status();
            }
        }
    }
}

/// Runs the `hactl` CLI against node `via`'s daemon (its control socket), whatever
/// its exit code.
pub fn cli_output(c: &Cluster, via: usize, args: &[&str]) -> Result<std::process::Output> {
    Command::new(&c.bin)
        .args(args)
        .env("HACTL_SOCKET", &c.files(via).socket)
        .output()
        .context("running hactl")
}

/// Runs the `hactl` CLI against node `via`'s daemon (its control socket).
pub fn cli(c: &Cluster, via: usize, args: &[&str]) -> Result<String> {
    let out = cli_output(c, via, args)?;
    if !out.status.success() {
        bail!(
            "hactl {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `hactl property set --no-wait ASSIGNMENTS` via node `via`, robust to a loaded
/// machine: the daemon answers "outcome unknown" when it has not seen the change
/// applied within its 5 s, and under heavy load (CI) the first change after the DC
/// appears can take longer to commit. Setting a property is idempotent, so that answer
/// is checked against the CIB and the set repeated until every value is applied or
/// `within` is over. Any other error fails at once. The labs using this are not about
/// this step; `hactl` itself still reports the unknown outcome to a user.
pub fn set_properties(
    c: &Cluster,
    via: usize,
    assignments: &[&str],
    within: Duration,
) -> Result<()> {
    let deadline = std::time::Instant::now() + within;
    let mut args = vec!["property", "set", "--no-wait"];
    args.extend_from_slice(assignments);
    loop {
        let e = match cli(c, via, &args) {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        if !e.to_string().contains("outcome unknown") || std::time::Instant::now() > deadline {
            return Err(e);
        }
        if properties_applied(c, via, assignments)? {
            return Ok(());
        }
        eprintln!("property set: outcome unknown and not applied yet, setting again: {e:#}");
    }
}

/// Whether every `NAME=VALUE` in `assignments` is what node `via`'s CIB holds.
fn properties_applied(c: &Cluster, via: usize, assignments: &[&str]) -> Result<bool> {
    let props = c.cib(via)?.config.properties;
    Ok(assignments.iter().all(|a| {
        let (k, val) = a.split_once('=').unwrap_or((a, ""));
        props.get(k).map(String::as_str) == Some(val)
    }))
}

/// Runs `hactl cluster ARGS` for node `i` (its configuration directory and control
/// socket), whatever its exit code.
pub fn cluster_cmd(c: &Cluster, i: usize, args: &[&str]) -> Result<std::process::Output> {
    let f = c.files(i);
    Command::new(&c.bin)
        .arg("cluster")
        .arg("--dir")
        .arg(&f.config_dir)
        .arg("--socket")
        .arg(&f.socket)
        .args(args)
        .output()
        .context("running hactl cluster")
}

/// Cuts node `k`'s link (the node keeps running, isolated).
pub fn cut_link(c: &Cluster, k: usize) -> Result<()> {
    run("ip", &["-n", &c.net.ns(k), "link", "set", "eth0", "down"])?;
    Ok(())
}
