//! A small lab of "machines" on one Linux host, built from network namespaces:
//!
//! ```text
//!   PREFIXsw  (switch netns: bridge br0, one veth port vnI per member)
//!     ├── PREFIX1 .. PREFIXn   node netns: eth0 = SUBNET.I/24, lo up
//!     └── PREFIXcl             client netns: eth0 = SUBNET.254/24 (optional)
//! ```
//!
//! Every name starts with the caller's prefix, so labs of different users or tests
//! never collide, and [`destroy_prefix`] can remove a lab it did not create (e.g.
//! `hactl demo down` after `hactl demo` exited). Processes started with
//! [`Lab::command`] run in a node's network namespace only (they share the host's
//! file system and PID namespace); [`host`] makes a node a separate host with its
//! own mount namespace (private `/run`, `/tmp`), as the demo and the tests' daemons use.
//! [`Lab::partition`] drops traffic between nodes in the switch (nftables) while
//! links stay up, [`Lab::cut_one_way`] in one direction only; [`Lab::set_link`] cuts a port instead. [`Lab::add_link`] gives
//! every node a second (third, ...) network: `ethK` on bridge `brK`, ports `vKnI`,
//! for redundant heartbeat links; [`Lab::partition_on`] cuts one of them. [`fence_virtd`] runs a real
//! fence_virtd in a namespace; [`container`] boots a real systemd as a container.
//!
//! Built on iproute2 (`ip netns`, `ip link`): it needs root, and says so.

pub mod container;
pub mod fence_virtd;
pub mod host;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("{what} needs root (it creates network namespaces, veth links and a bridge); run it as root, e.g. with sudo")]
    NotRoot { what: String },
    #[error("`{cmd}` failed: {stderr}")]
    Command { cmd: String, stderr: String },
    #[error("cannot run `{cmd}`: {source} (is iproute2 installed?)")]
    Spawn {
        cmd: String,
        #[source]
        source: std::io::Error,
    },
    #[error("a lab with prefix {prefix:?} already exists (namespace {ns}); remove it first")]
    Exists { prefix: String, ns: String },
    #[error("invalid lab: {0}")]
    Invalid(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    NotInstalled(String),
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Fails with [`LabError::NotRoot`] naming `what` unless root.
pub fn require_root(what: &str) -> Result<(), LabError> {
    if is_root() {
        Ok(())
    } else {
        Err(LabError::NotRoot { what: what.into() })
    }
}

fn run(args: &[&str]) -> Result<String, LabError> {
    let cmd = args.join(" ");
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|source| LabError::Spawn {
            cmd: cmd.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(LabError::Command {
            cmd,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Names of all network namespaces on the host.
pub fn list_netns() -> Result<Vec<String>, LabError> {
    // `ip netns list` prints "name (id: N)" or "name".
    Ok(run(&["ip", "netns", "list"])?
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect())
}

pub fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

/// Runs `f` on a new thread that has joined network namespace `ns` (a network
/// namespace is per thread): sockets `f` opens, netlink and `/proc/sys/net` are that
/// namespace's, and a socket it returns stays there. Errors: the namespace cannot be
/// joined; a panic in `f` is passed on.
pub fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, LabError> {
    use std::os::fd::AsRawFd;
    let path = Path::new("/run/netns").join(ns);
    let file = std::fs::File::open(&path).map_err(|source| LabError::Io {
        what: format!("opening {}", path.display()),
        source,
    })?;
    let joined = std::thread::spawn(move || {
        // SAFETY: setns(2) on a descriptor this thread owns; it moves only this
        // thread, which ends when `f` returns.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(f())
    })
    .join()
    .unwrap_or_else(|p| std::panic::resume_unwind(p));
    joined.map_err(|source| LabError::Io {
        what: format!("joining network namespace {ns}"),
        source,
    })
}

/// PIDs of processes whose network namespace is `ns`.
pub fn netns_pids(ns: &str) -> Vec<i32> {
    run(&["ip", "netns", "pids", ns])
        .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// A signal [`signal`] sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM: a clean stop.
    Term,
    /// SIGKILL: a crash.
    Kill,
}

/// Sends `sig` to process `pid`.
pub fn signal(pid: i32, sig: Signal) -> Result<(), LabError> {
    let n = match sig {
        Signal::Term => libc::SIGTERM,
        Signal::Kill => libc::SIGKILL,
    };
    // SAFETY: kill(2) has no memory preconditions; a wrong pid only fails.
    if unsafe { libc::kill(pid, n) } < 0 {
        return Err(LabError::Io {
            what: format!("signalling pid {pid}"),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// Kills every process in `ns`: SIGTERM, then SIGKILL for what is left after `grace`.
pub fn kill_netns_processes(ns: &str, grace: Duration) {
    let signal = |sig| {
        for pid in netns_pids(ns) {
            // SAFETY: kill(2) with a pid read from the kernel; a stale pid only fails.
            unsafe {
                libc::kill(pid, sig);
            }
        }
    };
    signal(libc::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && !netns_pids(ns).is_empty() {
        std::thread::sleep(Duration::from_millis(50));
    }
    signal(libc::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline && !netns_pids(ns).is_empty() {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether namespace `name` is one a lab with `prefix` creates: `PREFIXsw`,
/// `PREFIXcl` or `PREFIX<number>` (so prefix `hx-d` never matches lab `hx-dt`).
pub fn belongs_to(prefix: &str, name: &str) -> bool {
    match name.strip_prefix(prefix) {
        Some("sw") | Some("cl") => true,
        Some(rest) => !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

/// Kills the processes of, and deletes, every namespace of the lab with `prefix`
/// (see [`belongs_to`]; deleting a namespace removes its veths and bridge). Returns
/// the names.
pub fn destroy_prefix(prefix: &str, grace: Duration) -> Result<Vec<String>, LabError> {
    if prefix.len() < 2 {
        return Err(LabError::Invalid(format!("prefix {prefix:?} is too short")));
    }
    let names: Vec<String> = list_netns()?
        .into_iter()
        .filter(|n| belongs_to(prefix, n))
        .collect();
    for n in &names {
        kill_netns_processes(n, grace);
    }
    for n in &names {
        run(&["ip", "netns", "delete", n])?;
        host::forget(n);
    }
    Ok(names)
}

/// A lab: one switch namespace and member namespaces.
#[derive(Debug)]
pub struct Lab {
    prefix: String,
    subnet: String,
    nodes: usize,
    client: bool,
    /// Subnets of the links added with [`Lab::add_link`] (link 1 first).
    more_links: Vec<String>,
    /// Remove everything on drop (tests); `hactl demo` turns this off to leave it up.
    pub destroy_on_drop: bool,
}

impl Lab {
    /// Creates `PREFIXsw`, nodes `PREFIX1..=PREFIXn` at `SUBNET.I/24` and, with
    /// `client`, `PREFIXcl` at `SUBNET.254/24`. On error, whatever was created is
    /// removed again.
    pub fn create(prefix: &str, nodes: usize, subnet: &str, client: bool) -> Result<Lab, LabError> {
        require_root("creating a namespace lab")?;
        if nodes == 0 || nodes > 200 {
            return Err(LabError::Invalid(format!("{nodes} nodes (1..=200)")));
        }
        check_subnet(subnet)?;
        // Interface names are at most 15 bytes: "vn" + index is ours, the prefix is not
        // part of them, but namespace names are; keep them short anyway.
        if prefix.is_empty() || prefix.len() > 10 {
            return Err(LabError::Invalid(format!(
                "prefix {prefix:?} (1..=10 characters)"
            )));
        }
        if let Some(ns) = list_netns()?.into_iter().find(|n| belongs_to(prefix, n)) {
            return Err(LabError::Exists {
                prefix: prefix.into(),
                ns,
            });
        }
        let lab = Lab {
            prefix: prefix.into(),
            subnet: subnet.into(),
            nodes,
            client,
            more_links: Vec::new(),
            destroy_on_drop: true,
        };
        lab.build()?; // on error, Drop removes the partial lab
        Ok(lab)
    }

    fn build(&self) -> Result<(), LabError> {
        let sw = self.switch_ns();
        run(&["ip", "netns", "add", &sw])?;
        run(&["ip", "-n", &sw, "link", "set", "lo", "up"])?;
        add_bridge(&sw, "br0")?;
        let mut members: Vec<(String, String, u8)> = (1..=self.nodes)
            .map(|i| (self.node_ns(i), port_name(0, i), i as u8))
            .collect();
        if self.client {
            members.push((self.client_ns(), "vncl".into(), 254));
        }
        for (ns, port, host) in members {
            run(&["ip", "netns", "add", &ns])?;
            run(&["ip", "-n", &ns, "link", "set", "lo", "up"])?;
            let mac = format!("02:99:00:00:00:{host:02x}");
            let addr = format!("{}.{host}/24", self.subnet);
            add_port(&sw, "br0", &ns, "eth0", &port, Some(&mac), &addr)?;
        }
        Ok(())
    }

    /// Adds another network: bridge `brK` in the switch, `ethK` = `SUBNET.I/24` in
    /// every node (not the client). Returns K (1 for the first added).
    pub fn add_link(&mut self, subnet: &str) -> Result<usize, LabError> {
        check_subnet(subnet)?;
        let k = self.more_links.len() + 1;
        let (sw, br, eth) = (self.switch_ns(), format!("br{k}"), format!("eth{k}"));
        add_bridge(&sw, &br)?;
        for i in 1..=self.nodes {
            let addr = format!("{subnet}.{i}/24");
            add_port(
                &sw,
                &br,
                &self.node_ns(i),
                &eth,
                &port_name(k, i),
                None,
                &addr,
            )?;
        }
        self.more_links.push(subnet.to_string());
        Ok(k)
    }

    /// Node `i`'s address on `link` (0 = eth0).
    pub fn node_addr_on(&self, link: usize, i: usize) -> Option<String> {
        match link {
            0 => Some(self.node_addr(i)),
            k => self.more_links.get(k - 1).map(|s| format!("{s}.{i}")),
        }
    }

    /// How many links the nodes have (1 + those added).
    pub fn links(&self) -> usize {
        1 + self.more_links.len()
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn switch_ns(&self) -> String {
        format!("{}sw", self.prefix)
    }

    /// Node `i` (1-based).
    pub fn node_ns(&self, i: usize) -> String {
        format!("{}{i}", self.prefix)
    }

    pub fn client_ns(&self) -> String {
        format!("{}cl", self.prefix)
    }

    /// Node `i`'s address.
    pub fn node_addr(&self, i: usize) -> String {
        format!("{}.{i}", self.subnet)
    }

    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// A command that runs `program` in namespace `ns` (`ip netns exec`).
    pub fn command(ns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]).arg(program);
        c
    }

    /// Runs a command to completion in `ns`; its stdout on success.
    pub fn exec(ns: &str, args: &[&str]) -> Result<String, LabError> {
        let mut all = vec!["ip", "netns", "exec", ns];
        all.extend_from_slice(args);
        run(&all)
    }

    /// Cuts (`false`) or restores (`true`) node `i`'s switch port: carrier loss.
    pub fn set_link(&self, i: usize, up: bool) -> Result<(), LabError> {
        run(&[
            "ip",
            "-n",
            &self.switch_ns(),
            "link",
            "set",
            &format!("vn{i}"),
            if up { "up" } else { "down" },
        ])
        .map(|_| ())
    }

    /// Drops every frame between each node of `a` and each node of `b` (1-based) in
    /// the switch, with an nftables bridge filter: links stay up, as when a real switch
    /// misbehaves, so nodes see silence rather than carrier loss. Needs `nft`.
    pub fn partition(&self, a: &[usize], b: &[usize]) -> Result<(), LabError> {
        self.partition_on(0, a, b)
    }

    /// Like [`Lab::partition`], on one link only (0 = eth0; see [`Lab::add_link`]):
    /// the nodes still reach each other on the others.
    pub fn partition_on(&self, link: usize, a: &[usize], b: &[usize]) -> Result<(), LabError> {
        if link >= self.links() {
            return Err(LabError::Invalid(format!(
                "link {link}: the lab has {} links",
                self.links()
            )));
        }
        self.ensure_filter()?;
        for &x in a {
            for &y in b {
                for (i, o) in [(x, y), (y, x)] {
                    let (pi, po) = (port_name(link, i), port_name(link, o));
                    self.nft(&format!(
                        "add rule bridge lab filt iifname \"{pi}\" oifname \"{po}\" drop"
                    ))?;
                }
            }
        }
        Ok(())
    }

    /// Drops the IP packets each node of `from` sends to each node of `to` on link 0,
    /// in the switch; the other direction still flows: an asymmetric cut, as a broken
    /// transmit path or a one-sided firewall makes. ARP passes both ways, so each side
    /// keeps resolving the other's address and the cut stays one-way for as long as it
    /// lasts (dropping n3's ARP replies would, after the neighbour entries expire, stop
    /// its peers sending to it too). [`Lab::heal`] removes it.
    pub fn cut_one_way(&self, from: &[usize], to: &[usize]) -> Result<(), LabError> {
        self.ensure_filter()?;
        for &x in from {
            for &y in to {
                let (pi, po) = (port_name(0, x), port_name(0, y));
                self.nft(&format!(
                    "add rule bridge lab filt iifname \"{pi}\" oifname \"{po}\" ether type ip drop"
                ))?;
            }
        }
        Ok(())
    }

    /// Removes every partition made by [`Lab::partition`] or [`Lab::cut_one_way`].
    pub fn heal(&self) -> Result<(), LabError> {
        self.ensure_filter()?;
        self.nft("flush chain bridge lab filt")
    }

    /// The switch's filter table and chain; `add` is a no-op when they exist.
    fn ensure_filter(&self) -> Result<(), LabError> {
        self.nft("add table bridge lab")?;
        self.nft(
            "add chain bridge lab filt { type filter hook forward priority 0; policy accept; }",
        )
    }

    fn nft(&self, cmd: &str) -> Result<(), LabError> {
        Lab::exec(&self.switch_ns(), &["nft", cmd]).map(|_| ())
    }

    /// Removes the lab now.
    pub fn destroy(mut self) -> Result<(), LabError> {
        self.destroy_on_drop = false;
        destroy_prefix(&self.prefix, Duration::from_secs(3)).map(|_| ())
    }
}

/// A bridge `br` in the switch namespace `sw`: no STP, no forwarding delay, multicast
/// flooded (no snooping state to warm up).
fn add_bridge(sw: &str, br: &str) -> Result<(), LabError> {
    let set = |args: &[&str]| {
        let mut all = vec!["ip", "-n", sw, "link", "set", br, "type", "bridge"];
        all.extend_from_slice(args);
        run(&all)
    };
    run(&["ip", "-n", sw, "link", "add", br, "type", "bridge"])?;
    set(&["stp_state", "0", "forward_delay", "0"])?;
    set(&["mcast_snooping", "0"])?;
    run(&["ip", "-n", sw, "link", "set", br, "up"]).map(|_| ())
}

/// A veth pair: `eth` in namespace `ns` with `addr` (and `mac`), its peer `port` on
/// bridge `br` in the switch `sw`. The pair is made inside the node, then its peer is
/// moved into the switch. Public so that a namespace of one lab can get a leg into
/// another lab's switch (a host on two networks, e.g. a witness serving two clusters).
pub fn add_port(
    sw: &str,
    br: &str,
    ns: &str,
    eth: &str,
    port: &str,
    mac: Option<&str>,
    addr: &str,
) -> Result<(), LabError> {
    run(&[
        "ip", "-n", ns, "link", "add", eth, "type", "veth", "peer", "name", port,
    ])?;
    run(&["ip", "-n", ns, "link", "set", port, "netns", sw])?;
    run(&["ip", "-n", sw, "link", "set", port, "master", br])?;
    run(&["ip", "-n", sw, "link", "set", port, "up"])?;
    if let Some(mac) = mac {
        run(&["ip", "-n", ns, "link", "set", eth, "address", mac])?;
    }
    run(&["ip", "-n", ns, "addr", "add", addr, "dev", eth])?;
    run(&["ip", "-n", ns, "link", "set", eth, "up"]).map(|_| ())
}

/// The switch port of node `i` on `link`: `vnI` for link 0 (as always), `vKnI` after.
fn port_name(link: usize, i: usize) -> String {
    if link == 0 {
        format!("vn{i}")
    } else {
        format!("v{link}n{i}")
    }
}

fn check_subnet(subnet: &str) -> Result<(), LabError> {
    if subnet.split('.').count() != 3 || subnet.split('.').any(|o| o.parse::<u8>().is_err()) {
        return Err(LabError::Invalid(format!(
            "subnet {subnet:?}: expected the first three octets, e.g. 10.99.0"
        )));
    }
    Ok(())
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.destroy_on_drop {
            if let Err(e) = destroy_prefix(&self.prefix, Duration::from_secs(3)) {
                tracing::warn!(prefix = %self.prefix, error = %e, "lab cleanup failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_or_skip() -> bool {
        if is_root() {
            return true;
        }
        if std::env::var("HACTL_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
            return false;
        }
        panic!("this test needs root (network namespaces); set HACTL_SKIP_ROOT_TESTS=1 to skip");
    }

    /// Two nodes and a client reach each other through the switch; cutting a port
    /// cuts the node off; a partition cuts only the pair named; destroy removes every
    /// namespace.
    #[test]
    fn netns_lab_reachability_and_cleanup() {
        if !root_or_skip() {
            return;
        }
        let lab = Lab::create("hx-dt", 2, "10.98.7", true).unwrap();
        // TCP to a closed port: a reachable host answers with a reset at once, an
        // unreachable one lets the connect time out (no ping binary is needed).
        let ping = |ns: &str, to: &str| {
            let code = format!(
                "import socket\ns=socket.socket()\ns.settimeout(1)\ntry:\n s.connect(('{to}',9))\nexcept ConnectionRefusedError:\n pass\n"
            );
            Lab::exec(ns, &["python3", "-c", &code]).is_ok()
        };
        // Reachable again within a bounded time after a change (ARP, port state).
        let reaches = |ns: &str, to: &str| {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                if ping(ns, to) {
                    return true;
                }
                if Instant::now() > deadline {
                    return false;
                }
            }
        };
        assert!(ping(&lab.node_ns(1), &lab.node_addr(2)));
        assert!(ping(&lab.client_ns(), &lab.node_addr(1)));
        assert!(
            Lab::create("hx-dt", 1, "10.98.8", false).is_err(),
            "prefix in use"
        );
        lab.set_link(2, false).unwrap();
        assert!(!ping(&lab.node_ns(1), &lab.node_addr(2)));
        lab.set_link(2, true).unwrap();
        assert!(reaches(&lab.node_ns(1), &lab.node_addr(2)));
        // A partition cuts node 1 from node 2 only; heal restores it.
        lab.partition(&[1], &[2]).unwrap();
        assert!(!ping(&lab.node_ns(1), &lab.node_addr(2)));
        assert!(ping(&lab.client_ns(), &lab.node_addr(2)));
        lab.heal().unwrap();
        assert!(reaches(&lab.node_ns(1), &lab.node_addr(2)));
        // A process started in a node is killed on destroy.
        let mut child = Lab::command(&lab.node_ns(1), "sleep")
            .arg("300")
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while netns_pids(&lab.node_ns(1)).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        lab.destroy().unwrap();
        assert!(child.wait().is_ok());
        assert!(list_netns()
            .unwrap()
            .iter()
            .all(|n| !n.starts_with("hx-dt")));
    }

    /// Each node is a separate host: a file one node writes in /run or /tmp is not
    /// seen by the other node nor by the machine; a kept directory is shared; a second
    /// command on the same node (a restarted daemon) finds what the first left; a
    /// node whose host was powered off boots with empty directories.
    #[test]
    fn netns_lab_nodes_are_separate_hosts() {
        if !root_or_skip() {
            return;
        }
        let lab = Lab::create("hx-dh", 2, "10.98.3", false).unwrap();
        let keep = std::env::temp_dir().join(format!("hx-dh-keep-{}", std::process::id()));
        std::fs::create_dir_all(&keep).unwrap();
        let sh = |i: usize, script: &str| -> bool {
            host::boot(&lab.node_ns(i), std::slice::from_ref(&keep)).unwrap();
            host::command(&lab.node_ns(i), "sh")
                .unwrap()
                .args(["-c", script])
                .env("KEEP", &keep)
                .status()
                .unwrap()
                .success()
        };
        assert!(sh(
            1,
            "echo a > /run/Dummy-x.state && echo b > /tmp/f && echo c > $KEEP/k"
        ));
        assert!(sh(
            1,
            "test -d /run/resource-agents && test -e /sys/class/net/eth0"
        ));
        assert!(sh(
            2,
            "test ! -e /run/Dummy-x.state && test ! -e /tmp/f && grep -q c $KEEP/k"
        ));
        assert!(!Path::new("/run/Dummy-x.state").exists());
        assert!(
            sh(1, "grep -q a /run/Dummy-x.state && grep -q b /tmp/f"),
            "same host"
        );
        host::power_off(&lab.node_ns(1));
        let deadline = Instant::now() + Duration::from_secs(5);
        while host::holder(&lab.node_ns(1)).is_some() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            sh(1, "test ! -e /run/Dummy-x.state && grep -q c $KEEP/k"),
            "rebooted"
        );
        lab.destroy().unwrap();
        assert!(host::holder("hx-dh1").is_none());
        std::fs::remove_dir_all(&keep).unwrap();
    }

    #[test]
    fn lab_namespace_names() {
        assert!(belongs_to("hx-d", "hx-d1"));
        assert!(belongs_to("hx-d", "hx-d12"));
        assert!(belongs_to("hx-d", "hx-dsw"));
        assert!(belongs_to("hx-d", "hx-dcl"));
        assert!(!belongs_to("hx-d", "hx-dt1"));
        assert!(!belongs_to("hx-d", "hx-d"));
        assert!(!belongs_to("hx-d", "ag-n1"));
    }

    #[test]
    fn bad_parameters() {
        if !root_or_skip() {
            return;
        }
        assert!(matches!(
            Lab::create("hx-dt2", 0, "10.98.9", false),
            Err(LabError::Invalid(_))
        ));
        assert!(matches!(
            Lab::create("hx-dt2", 1, "10.98", false),
            Err(LabError::Invalid(_))
        ));
    }
}
