//! A real hactl cluster for tests: the built `hactl` binary, one daemon per network
//! namespace, set up with `hactl cluster setup` / `join`, each node with its own
//! config dir, state dir, control socket and log file under a temporary directory.
//!
//! Each node is a separate host (network and mount namespaces, see
//! `hactl_lab::host`); daemons run there in their own process group; a crash is
//! SIGKILL to that group, a clean stop SIGTERM. The test talks to each node's
//! control socket (a Unix socket: a file path, reachable from outside the namespace).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use hactl_proto::client::{
    client_request::Request, client_response::Response, ClientRequest, ClientResponse,
    ClusterStatus, GetCibRequest, NodeState, ProposeChange, StatusRequest,
};

use crate::netns::Net;

/// QUIC port every node listens on (inside its own namespace).
pub const PORT: u16 = 7420;

/// The `hactl` binary under test: `HACTL_BIN`, or `target/<profile>/hactl` next to the
/// test executable's `deps/` directory.
pub fn hactl_bin() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("HACTL_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(|d| {
            if d.ends_with("deps") || d.ends_with("examples") {
                d.parent()
            } else {
                Some(d)
            }
        })
        .ok_or_else(|| anyhow!("cannot locate the target directory from {}", exe.display()))?;
    let bin = dir.join("hactl");
    if !bin.exists() {
        bail!(
            "{} not found: build it first (cargo build -p hactl) or set HACTL_BIN",
            bin.display()
        );
    }
    Ok(bin)
}

/// One node's files.
pub struct NodeFiles {
    pub config_dir: PathBuf,
    pub state_dir: PathBuf,
    pub socket: PathBuf,
    pub log: PathBuf,
}

pub struct Cluster {
    pub net: Net,
    pub root: PathBuf,
    pub bin: PathBuf,
    pub name: String,
    pub profile: Option<String>,
    procs: Vec<Option<Child>>,
    /// Nodes made by `setup` (the rest of the namespaces are spares).
    members: usize,
    /// A wait timed out: the test is failing (by an error, not a panic).
    failed: AtomicBool,
}

impl Cluster {
    /// Builds the network and the cluster identity for `n` nodes named n1..nN; no
    /// daemon runs yet.
    pub fn setup(prefix: &str, n: usize, subnet: &str, profile: Option<&str>) -> Result<Cluster> {
        Self::setup_with_spares(prefix, n, 0, subnet, profile)
    }

    /// Like [`Cluster::setup`], plus `spares` more node namespaces (n{n+1}…) that are
    /// not in the cluster yet (for `hactl cluster node add`).
    pub fn setup_with_spares(
        prefix: &str,
        n: usize,
        spares: usize,
        subnet: &str,
        profile: Option<&str>,
    ) -> Result<Cluster> {
        Self::setup_on(Net::new(prefix, n + spares, subnet)?, prefix, n, profile)
    }

    /// Like [`Cluster::setup`], with every node on one more network per entry of
    /// `more_subnets`: its addresses there are its redundant heartbeat links 1, 2, ...
    pub fn setup_with_links(
        prefix: &str,
        n: usize,
        subnet: &str,
        more_subnets: &[&str],
        profile: Option<&str>,
    ) -> Result<Cluster> {
        let mut net = Net::new(prefix, n, subnet)?;
        for s in more_subnets {
            net.add_link(s)?;
        }
        Self::setup_on(net, prefix, n, profile)
    }

    /// The cluster's identity for the first `n` nodes of `net` (the rest are spares).
    fn setup_on(net: Net, prefix: &str, n: usize, profile: Option<&str>) -> Result<Cluster> {
        let bin = hactl_bin()?;
        let spares = net.len() - n;
        let root = std::env::temp_dir().join(format!("hactl-{prefix}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root)?;
        let c = Cluster {
            net,
            root,
            bin,
            name: "test".into(),
            profile: profile.map(str::to_string),
            procs: (0..n + spares).map(|_| None).collect(),
            members: n,
            failed: AtomicBool::new(false),
        };
        c.make_identity("admin")?;
        for i in 1..=n {
            let f = c.files(i);
            std::fs::create_dir_all(f.state_dir.parent().unwrap_or(&c.root))?;
            c.install_bundle(i, "admin")?;
        }
        Ok(c)
    }

    /// Runs `hactl cluster setup` into `root/<dir>` (a new CA each time).
    pub fn make_identity(&self, dir: &str) -> Result<()> {
        let mut args: Vec<String> = vec![
            "cluster".into(),
            "--dir".into(),
            self.root.join(dir).display().to_string(),
            "setup".into(),
            "--name".into(),
            self.name.clone(),
            "--no-local".into(),
        ];
        for i in 1..=self.members {
            let addrs: Vec<String> = self
                .net
                .ips(i)
                .iter()
                .map(|ip| format!("{ip}:{PORT}"))
                .collect();
            args.push(format!("n{i}={}", addrs.join(",")));
        }
        self.hactl(&args)?;
        Ok(())
    }

    /// Names the cluster `name` instead of "test": a new identity (a new CA) in
    /// `root/admin`, installed on every member. Clusters that meet at one witness need
    /// names of their own (it tells them apart by name). Only before any daemon ran:
    /// their state would belong to the old cluster.
    pub fn rename(&mut self, name: &str) -> Result<()> {
        if self.procs.iter().any(Option::is_some) {
            bail!("renaming cluster {} while a daemon runs", self.name);
        }
        self.name = name.to_string();
        let admin = self.root.join("admin");
        std::fs::remove_dir_all(&admin).with_context(|| format!("removing {}", admin.display()))?;
        self.make_identity("admin")?;
        for i in 1..=self.members {
            self.install_bundle(i, "admin")?;
        }
        Ok(())
    }

    /// Adds `lines` (TOML `key = value` lines) under `[settings]` in every member's
    /// cluster.toml, where the daemons read e.g. `heartbeat_interval` and `dead_after`;
    /// call it before the daemons start. The files stay identical on every node.
    pub fn add_settings(&self, lines: &str) -> Result<()> {
        for i in 1..=self.members {
            let path = self.files(i).config_dir.join("cluster.toml");
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let text = match text.find("\n[settings]\n") {
                Some(at) => {
                    let end = at + "\n[settings]\n".len();
                    format!("{}{lines}\n{}", &text[..end], &text[end..])
                }
                None => format!("{text}\n[settings]\n{lines}\n"),
            };
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }

    /// Installs node `i`'s bundle made under `root/<from>` into its config dir.
    pub fn install_bundle(&self, i: usize, from: &str) -> Result<()> {
        let bundle = self
            .root
            .join(from)
            .join("bundles")
            .join(format!("n{i}.bundle"));
        let f = self.files(i);
        self.hactl(&[
            "cluster".into(),
            "--dir".into(),
            f.config_dir.display().to_string(),
            "join".into(),
            bundle.display().to_string(),
            "--force".into(),
        ])?;
        Ok(())
    }

    /// Runs `hactl` with `args` on the host; Ok(stdout) if it succeeds.
    pub fn hactl(&self, args: &[String]) -> Result<String> {
        let out = Command::new(&self.bin)
            .args(args)
            .output()
            .context("running hactl")?;
        if !out.status.success() {
            bail!(
                "hactl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn files(&self, i: usize) -> NodeFiles {
        let d = self.root.join(format!("n{i}"));
        NodeFiles {
            config_dir: d.join("etc"),
            state_dir: d.join("lib"),
            socket: d.join("run").join("hactl.sock"),
            log: d.join("daemon.log"),
        }
    }

    /// Starts node `i`'s daemon in its namespace.
    pub fn start(&mut self, i: usize) -> Result<()> {
        if self.procs[i - 1].is_some() {
            bail!("n{i} is already running");
        }
        let f = self.files(i);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&f.log)?;
        // The node is a separate host (its own /run, /tmp, … : see hactl_lab::host),
        // the same one across restarts of its daemon; the cluster's files stay visible.
        let ns = self.net.ns(i);
        hactl_lab::host::boot(&ns, std::slice::from_ref(&self.root))?;
        let mut cmd = hactl_lab::host::command(&ns, &self.bin)?;
        // HACTL_LAB_LOG: the daemons' log filter when diagnosing a lab run.
        let filter = std::env::var("HACTL_LAB_LOG")
            .unwrap_or_else(|_| "info,hactl_consensus::raft=warn".into());
        cmd.args(["--log", &filter, "daemon"])
            .arg("--config-dir")
            .arg(&f.config_dir)
            .arg("--state-dir")
            .arg(&f.state_dir)
            .arg("--socket")
            .arg(&f.socket);
        if let Some(p) = &self.profile {
            cmd.args(["--profile", p]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .context("spawning the daemon")?;
        self.procs[i - 1] = Some(child);
        Ok(())
    }

    /// Starts the daemons of the nodes made by `setup` (not the spares).
    pub fn start_all(&mut self) -> Result<()> {
        for i in 1..=self.members {
            self.start(i)?;
        }
        Ok(())
    }

    /// Pid of node `i`'s daemon (the child itself).
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.procs[i - 1].as_ref().map(|c| c.id())
    }

    pub fn is_running(&self, i: usize) -> bool {
        self.procs[i - 1].is_some()
    }

    /// kill -9 of node `i`'s daemon (its whole process group), and reap it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.procs[i - 1].take() {
            signal_group(c.id(), 9);
            let _ = c.wait();
        }
    }

    /// SIGTERM (clean leave); waits up to `timeout` for the exit, then SIGKILL.
    pub fn stop(&mut self, i: usize, timeout: Duration) -> Result<std::process::ExitStatus> {
        let mut c = self.procs[i - 1]
            .take()
            .ok_or_else(|| anyhow!("n{i} is not running"))?;
        signal_group(c.id(), 15);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = c.try_wait()? {
                return Ok(st);
            }
            if Instant::now() >= deadline {
                signal_group(c.id(), 9);
                let _ = c.wait();
                bail!("n{i} did not exit within {timeout:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for node `i`'s daemon to exit on its own.
    pub fn wait_exit(&mut self, i: usize, timeout: Duration) -> Result<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let c = self.procs[i - 1]
                .as_mut()
                .ok_or_else(|| anyhow!("n{i} is not running"))?;
            if let Some(st) = c.try_wait()? {
                self.procs[i - 1] = None;
                return Ok(st);
            }
            if Instant::now() >= deadline {
                bail!("n{i} did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The daemon's log so far.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.files(i).log).unwrap_or_default()
    }

    fn request(&self, i: usize, req: Request, timeout: Duration) -> Result<Response> {
        let sock = self.files(i).socket;
        request(&sock, req, timeout)
    }

    pub fn status(&self, i: usize) -> Result<ClusterStatus> {
        match self.request(i, Request::Status(StatusRequest {}), Duration::from_secs(2))? {
            Response::Status(s) => Ok(s),
            other => bail!("unexpected answer {other:?}"),
        }
    }

    /// Proposes a CIB change (JSON of `hactl_model::change::Change`) through node
    /// `i`; Ok(index) once applied there.
    pub fn propose(&self, i: usize, change: &serde_json::Value) -> Result<u64> {
        let req = Request::ProposeChange(ProposeChange {
            change_json: serde_json::to_vec(change)?,
        });
        match self.request(i, req, Duration::from_secs(8))? {
            Response::Ok(a) => Ok(a.index),
            Response::Error(e) => bail!("{}", e.message),
            other => bail!("unexpected answer {other:?}"),
        }
    }

    pub fn cib(&self, i: usize) -> Result<hactl_model::Cib> {
        match self.request(i, Request::GetCib(GetCibRequest {}), Duration::from_secs(2))? {
            Response::Cib(c) => Ok(serde_json::from_slice(&c.cib_json)?),
            Response::Error(e) => bail!("{}", e.message),
            other => bail!("unexpected answer {other:?}"),
        }
    }

    /// Polls `cond` every 20 ms until it yields a value or `timeout` passes; the error
    /// names `what` and what the last poll reported (its error, or "condition not met").
    pub fn wait_until<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut cond: impl FnMut() -> Result<Option<T>>,
    ) -> Result<T> {
        self.wait_seeing(what, timeout, || {
            Ok(cond()?.ok_or_else(|| "condition not met".to_string()))
        })
    }

    /// Like [`Cluster::wait_until`], but `cond` says what it saw when the condition
    /// is not met (`Err(seen)`): a timeout then reports the last state seen, so a
    /// failure on a slow machine says what happened rather than only that it did.
    pub fn wait_seeing<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut cond: impl FnMut() -> Result<std::result::Result<T, String>>,
    ) -> Result<T> {
        let start = Instant::now();
        loop {
            let last = match cond() {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(seen)) => seen,
                Err(e) => format!("{e:#}"),
            };
            if start.elapsed() >= timeout {
                // The test fails by returning this error, not by a panic: have Drop
                // show the daemons' logs all the same.
                self.failed.store(true, AtomicOrdering::SeqCst);
                bail!("timed out after {timeout:?} waiting for {what}: {last}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The test is failing by a check of its own (not a wait that timed out): have
    /// Drop show the daemons' logs all the same.
    pub fn mark_failed(&self) {
        self.failed.store(true, AtomicOrdering::SeqCst);
    }

    /// Waits until every node in `nodes` reports the same DC, which is one of them,
    /// and has quorum; returns the DC's index.
    pub fn wait_dc(&self, nodes: &[usize], timeout: Duration) -> Result<usize> {
        self.wait_seeing("one DC agreed by all", timeout, || {
            let mut seen = Vec::new();
            let mut dcs = std::collections::BTreeSet::new();
            let mut quorate = true;
            for &i in nodes {
                let s = self.status(i)?;
                seen.push(format!("n{i}: dc={:?} quorum={}", s.dc, s.has_quorum));
                quorate &= s.has_quorum;
                dcs.insert(s.dc);
            }
            let agreed = match (quorate, dcs.len()) {
                (true, 1) => dcs.pop_first().unwrap_or_default(),
                _ => String::new(),
            };
            let idx = agreed.trim_start_matches('n').parse::<usize>().ok();
            Ok(idx
                .filter(|i| nodes.contains(i))
                .ok_or_else(|| seen.join(", ")))
        })
    }

    /// Waits until node `by`'s CIB records every node in `nodes` as a joined member
    /// (`member=true`, `expected=member`): from then on each is lost (unclean), not
    /// offline, if it vanishes. A DC and quorum alone do not say so: they come from
    /// heartbeats, before the joins commit.
    pub fn wait_joined(&self, by: usize, nodes: &[usize], timeout: Duration) -> Result<()> {
        let what = format!("n{by}'s CIB to record every node joined");
        self.wait_seeing(&what, timeout, || {
            let cib = self.cib(by)?;
            let joined = nodes.iter().all(|i| {
                cib.status.nodes.get(&format!("n{i}")).is_some_and(|st| {
                    st.member == Some(true) && st.expected.as_deref() == Some("member")
                })
            });
            Ok(if joined {
                Ok(())
            } else {
                Err(self.describe(&[by], nodes))
            })
        })
    }

    /// What the nodes `by` report about the nodes `of`: each one's DC and quorum, its
    /// view of every node in `of` (state, and the CIB's member/expected/join record);
    /// for the message of a wait that timed out.
    pub fn describe(&self, by: &[usize], of: &[usize]) -> String {
        let one = |i: usize| -> Result<String> {
            let s = self.status(i)?;
            let cib = self.cib(i)?;
            let mut out = format!("n{i} (dc={:?} quorum={})", s.dc, s.has_quorum);
            for &o in of {
                let name = format!("n{o}");
                let state = s
                    .nodes
                    .iter()
                    .find(|n| n.name == name)
                    .map(|n| NodeState::try_from(n.state).unwrap_or(NodeState::Unspecified));
                let rec = cib.status.nodes.get(&name).map(|st| {
                    format!(
                        "member={:?} expected={:?} join={:?} fenced_at={:?}",
                        st.member, st.expected, st.join, st.fenced_at
                    )
                });
                out += &format!(
                    " {name}={state:?} [cib: {}]",
                    rec.as_deref().unwrap_or("none")
                );
            }
            Ok(out)
        };
        by.iter()
            .map(|&i| one(i).unwrap_or_else(|e| format!("n{i}: {e:#}")))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// State of node `of` as node `by` reports it.
    pub fn node_state(&self, by: usize, of: usize) -> Result<NodeState> {
        let s = self.status(by)?;
        let n = s
            .nodes
            .iter()
            .find(|n| n.name == format!("n{of}"))
            .ok_or_else(|| anyhow!("n{by} does not list n{of}"))?;
        Ok(NodeState::try_from(n.state).unwrap_or(NodeState::Unspecified))
    }
}

/// One request on a control socket, with a deadline for connect, send and answer.
pub fn request(sock: &Path, req: Request, timeout: Duration) -> Result<Response> {
    let mut s = std::os::unix::net::UnixStream::connect(sock)
        .with_context(|| format!("connecting to {}", sock.display()))?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    hactl_proto::frame::write(&mut s, &ClientRequest::new(req), hactl_proto::MAX_FRAME_LEN)?;
    let resp: ClientResponse = hactl_proto::frame::read(&mut s, hactl_proto::MAX_FRAME_LEN)?
        .ok_or_else(|| anyhow!("daemon closed the connection"))?;
    resp.response.ok_or_else(|| anyhow!("empty response"))
}

fn signal_group(pid: u32, sig: i32) {
    // The daemon leads its own process group (process_group(0)).
    let _ = Command::new("kill")
        .args([format!("-{sig}"), "--".into(), format!("-{pid}")])
        .status();
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 1..=self.procs.len() {
            self.kill(i);
        }
        let failing = std::thread::panicking() || self.failed.load(AtomicOrdering::SeqCst);
        if failing {
            // Keep the logs of a failed test where the message says.
            for i in 1..=self.procs.len() {
                eprintln!("---- n{i} log ----\n{}", tail(&self.log(i), 60));
            }
        }
        // HACTL_LAB_KEEP: keep the lab's directory (whole logs) after a failure;
        // HACTL_LAB_KEEP=always: after any run (a benchmark's logs, to trace it).
        let keep = std::env::var("HACTL_LAB_KEEP").ok();
        if keep.as_deref() == Some("always") || (failing && keep.is_some()) {
            eprintln!("lab kept in {}", self.root.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}
