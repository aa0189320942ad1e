//! `hactl demo`: a local 3-node cluster in network namespaces, with a web group (a
//! VIP and a web server), left running to play with; `hactl demo down` removes it.
//!
//! Layout: namespaces `hx-dsw` (switch), `hx-d1..3` (nodes n1..n3 at 10.99.0.1-3),
//! `hx-dcl` (a client at 10.99.0.254); files under `/run/hactl-demo` (each node's
//! config and state dir, its control socket `nI.sock`, its log `nI.log`, its pid
//! `nI.pid`). Each node is a separate host (`hactl_lab::host`): its daemon and agents
//! run in its network namespace and its own mount namespace, with private `/run`,
//! `/tmp` and agent state directories, so the nodes' agent state files do not mix.
//! `hactl demo node nI stop|start|kill` stops, starts or kills one node's daemon; a
//! started daemon enters the same host (what its agents left running is still there).
//!
//! The cluster itself is made by the product's own commands (`hactl cluster setup`,
//! `cluster join`, `hactl daemon`, `hactl resource create ...`), run as the user
//! would, and printed.

use anyhow::{bail, Context, Result};
use hactl_lab::Lab;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

pub const PREFIX: &str = "hx-d";
pub const SUBNET: &str = "10.99.0";
pub const VIP: &str = "10.99.0.100";
pub const DIR: &str = "/run/hactl-demo";
const NODES: usize = 3;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<DemoCommand>,
    /// How long to wait for the cluster and the resources.
    #[arg(long, default_value = "90s")]
    pub timeout: String,
}

#[derive(clap::Subcommand, Debug)]
pub enum DemoCommand {
    /// Start the demo cluster (the default).
    Up,
    /// Stop the demo's daemons and remove its namespaces and files.
    Down,
    /// Stop (SIGTERM), start, or kill (SIGKILL, as a crash) one node's daemon.
    Node {
        /// n1, n2 or n3.
        node: String,
        /// What to do with the node's daemon.
        #[arg(value_enum)]
        action: NodeAction,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeAction {
    Stop,
    Start,
    Kill,
}

pub fn socket(i: usize) -> PathBuf {
    Path::new(DIR).join(format!("n{i}.sock"))
}

pub fn run(a: Args) -> Result<ExitCode> {
    let timeout = hactl_model::values::parse_interval_ms(&a.timeout)
        .map(Duration::from_millis)
        .with_context(|| format!("--timeout {:?}: expected a duration", a.timeout))?;
    match a.command.unwrap_or(DemoCommand::Up) {
        DemoCommand::Up => up(timeout),
        DemoCommand::Down => down(),
        DemoCommand::Node { node, action } => node_action(&node, action, timeout),
    }
}

fn need_root(what: &str, why: &str) -> Result<()> {
    if !hactl_lab::is_root() {
        bail!("{what} needs root: {why}. Run it as root (sudo {what}).");
    }
    Ok(())
}

fn preflight() -> Result<()> {
    for (path, pkg) in [
        (
            "/usr/lib/ocf/resource.d/heartbeat/IPaddr2",
            "resource-agents",
        ),
        (
            "/usr/lib/ocf/resource.d/heartbeat/anything",
            "resource-agents",
        ),
        ("/usr/bin/python3", "python3"),
    ] {
        if !Path::new(path).exists() {
            bail!("{path} is missing: install the {pkg} package");
        }
    }
    Ok(())
}

fn hactl_exe() -> Result<PathBuf> {
    std::env::current_exe().context("finding the hactl executable")
}

/// Runs `hactl ARGS` (optionally inside a namespace), showing the command line.
fn step(ns: Option<&str>, args: &[&str]) -> Result<String> {
    let exe = hactl_exe()?;
    outln!(
        "$ {}hactl {}",
        ns.map(|n| format!("[{n}] ")).unwrap_or_default(),
        shell_words(args)
    );
    let mut c = match ns {
        Some(ns) => {
            let mut c = Lab::command(ns, &exe);
            c.args(args);
            c
        }
        None => {
            let mut c = Command::new(&exe);
            c.args(args);
            c
        }
    };
    // stderr passes through: waits print their progress there as they go.
    let out = c
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running hactl {}", args.join(" ")))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    out!("{}", indent(&stdout));
    if !out.status.success() {
        bail!("`hactl {}` failed", args.join(" "));
    }
    Ok(stdout)
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}\n")).collect()
}

fn shell_words(args: &[&str]) -> String {
    args.iter()
        .map(|a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                a.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn up(timeout: Duration) -> Result<ExitCode> {
    need_root(
        "hactl demo",
        &format!(
            "it creates network namespaces ({PREFIX}sw, {PREFIX}1..{PREFIX}3, {PREFIX}cl), veth links \
             and a bridge, and runs three hactl daemons and resource agents (IPaddr2 adds a VIP). \
             It also needs iproute2, python3 and the resource-agents package \
             (ocf:heartbeat:IPaddr2, ocf:heartbeat:anything)"
        ),
    )?;
    preflight()?;
    if Path::new(DIR).exists() || hactl_lab::netns_exists(&format!("{PREFIX}sw")) {
        bail!("a demo is already running (or was not removed): `hactl demo down` first");
    }
    outln!(
        "Creating namespaces {PREFIX}sw, {PREFIX}1..{PREFIX}{NODES}, {PREFIX}cl on {SUBNET}.0/24"
    );
    let mut lab = Lab::create(PREFIX, NODES, SUBNET, true)?;
    // If anything below fails, the lab and files go away (Drop); on success they stay.
    let mut guard = Cleanup(true);
    std::fs::create_dir_all(DIR).with_context(|| format!("creating {DIR}"))?;
    let dir = |i: usize, what: &str| format!("{DIR}/n{i}/{what}");
    let mut nodes: Vec<String> = Vec::new();
    for i in 1..=NODES {
        nodes.push(format!("n{i}={}", lab.node_addr(i)));
    }
    // Setup runs "on" n1 (inside its namespace, so the other addresses are routable).
    let mut setup = vec![
        "cluster",
        "setup",
        "--name",
        "hactl-demo",
        "--local",
        "n1",
        "--dir",
    ];
    let d1 = dir(1, "etc");
    setup.push(&d1);
    let node_refs: Vec<&str> = nodes.iter().map(String::as_str).collect();
    setup.extend(node_refs.iter());
    step(Some(&lab.node_ns(1)), &setup)?;
    for i in 2..=NODES {
        let bundle = format!("{d1}/bundles/n{i}.bundle");
        let di = dir(i, "etc");
        step(
            Some(&lab.node_ns(i)),
            &["cluster", "join", &bundle, "--dir", &di],
        )?;
    }
    for i in 1..=NODES {
        start_daemon(i)?;
    }
    let sock1 = socket(1);
    let s1 = sock1.to_str().context("socket path")?;
    wait_online(&sock1, timeout)?;
    step(
        None,
        &[
            "property",
            "set",
            "stonith-enabled=false",
            "--socket",
            s1,
            "--no-wait",
        ],
    )?;
    let www = format!("{DIR}/www");
    std::fs::create_dir_all(&www)?;
    std::fs::write(
        format!("{www}/index.html"),
        "<h1>Hello from the hactl demo</h1>\n",
    )?;
    let wait = format!("--wait={}s", timeout.as_secs());
    step(
        None,
        &[
            "resource",
            "create",
            "vip",
            "ocf:heartbeat:IPaddr2",
            &format!("ip={VIP}"),
            "cidr_netmask=24",
            "op",
            "monitor",
            "interval=10s",
            // Without fencing a lost node's resources are recovered only after the
            // sum of their stop timeouts (the split-brain hold): keep it short here.
            "op",
            "stop",
            "timeout=5s",
            "--group",
            "web",
            "--socket",
            s1,
            "--no-wait",
        ],
    )?;
    step(
        None,
        &[
            "resource",
            "create",
            "www",
            "ocf:heartbeat:anything",
            "binfile=/usr/bin/python3",
            "cmdline_options=-m http.server 80",
            &format!("workdir={www}"),
            // /run is per node (each node is its own host).
            "pidfile=/run/resource-agents/www.pid",
            "op",
            "monitor",
            "interval=10s",
            // Without fencing a lost node's resources are recovered only after the
            // sum of their stop timeouts (the split-brain hold): keep it short here.
            "op",
            "stop",
            "timeout=5s",
            "--group",
            "web",
            "--socket",
            s1,
            &wait,
        ],
    )?;
    step(None, &["status", "--socket", s1])?;
    lab.destroy_on_drop = false;
    guard.0 = false;
    let h = prog();
    outln!(
        "\nThe demo cluster is running. Try (as root):\n\
         \x20 export HACTL_SOCKET={s1}   # node n1's daemon (n2, n3: {}, {})\n\
         \x20 {h} status\n\
         \x20 ip netns exec {PREFIX}cl curl -s http://{VIP}/   # the client reaches the VIP\n\
         \x20 {h} node standby n1        # the group moves; then unstandby\n\
         \x20 {h} resource move web n3\n\
         \x20 {h} constraint list\n\
         \x20 {h} demo node n1 kill      # a crash of n1's daemon; then: start\n\
         Logs: {DIR}/nI.log\n\
         Remove everything with: {h} demo down",
        socket(2).display(),
        socket(3).display()
    );
    Ok(ExitCode::SUCCESS)
}

/// How the hints call this hactl: `hactl` when that name on PATH is this very
/// executable, else its full path (after `cargo build` it is in target/release,
/// not on PATH, and a bare `hactl` in the hints did not work).
fn prog() -> String {
    let Ok(me) = std::env::current_exe().and_then(std::fs::canonicalize) else {
        return "hactl".into();
    };
    let on_path = std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p)
            .filter_map(|d| std::fs::canonicalize(d.join("hactl")).ok())
            .next()
            .is_some_and(|first| first == me)
    });
    if on_path {
        "hactl".into()
    } else {
        me.display().to_string()
    }
}

/// Removes the demo's files if `up` fails half-way (the lab removes itself).
struct Cleanup(bool);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if self.0 {
            let _ = std::fs::remove_dir_all(DIR);
        }
    }
}

fn pid_path(i: usize) -> PathBuf {
    Path::new(DIR).join(format!("n{i}.pid"))
}

/// Starts node `i`'s daemon on its host (booted if it is not running: a host that
/// runs is reused, with everything its agents left in its /run and /tmp).
fn start_daemon(i: usize) -> Result<()> {
    let exe = hactl_exe()?;
    let ns = format!("{PREFIX}{i}");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(format!("{DIR}/n{i}.log"))?;
    let etc = format!("{DIR}/n{i}/etc");
    let state = format!("{DIR}/n{i}/state");
    std::fs::create_dir_all(&state)?;
    let sock = socket(i);
    outln!(
        "$ [{ns}] hactl daemon --config-dir {etc} --state-dir {state} --socket {}",
        sock.display()
    );
    hactl_lab::host::boot(&ns, &[PathBuf::from(DIR)])?;
    let mut c = hactl_lab::host::command(&ns, &exe)?;
    c.args([
        "daemon",
        "--config-dir",
        &etc,
        "--state-dir",
        &state,
        "--socket",
    ])
    .arg(&sock)
    .env("HACTL_LOG", "info")
    .stdin(Stdio::null())
    .stdout(log.try_clone()?)
    .stderr(log);
    {
        use std::os::unix::process::CommandExt;
        // Own process group: the daemon outlives this command and ^C of it.
        c.process_group(0);
    }
    let child = c
        .spawn()
        .with_context(|| format!("starting the daemon of n{i}"))?;
    std::fs::write(pid_path(i), format!("{}\n", child.id()))?;
    Ok(())
}

/// The pid of node `i`'s daemon, if it runs (the pid file names a live process
/// whose command line is that node's daemon).
fn daemon_pid(i: usize) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pid_path(i))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let sock = socket(i);
    let want = sock.to_str()?.as_bytes();
    cmdline
        .split(|b| *b == 0)
        .any(|arg| arg == want)
        .then_some(pid)
}

fn node_action(node: &str, action: NodeAction, timeout: Duration) -> Result<ExitCode> {
    need_root(
        "hactl demo node",
        "it signals or starts a daemon in the demo's namespaces",
    )?;
    let i = node
        .strip_prefix('n')
        .and_then(|x| x.parse::<usize>().ok())
        .filter(|i| (1..=NODES).contains(i))
        .with_context(|| format!("node {node:?}: expected n1..n{NODES}"))?;
    if !Path::new(DIR).exists() {
        bail!("no demo is running: start one with `hactl demo`");
    }
    let pid = daemon_pid(i);
    match (action, pid) {
        (NodeAction::Start, Some(p)) => bail!("n{i}'s daemon already runs (pid {p})"),
        (NodeAction::Start, None) => {
            start_daemon(i)?;
            outln!("n{i}'s daemon started; log: {DIR}/n{i}.log");
        }
        (NodeAction::Stop | NodeAction::Kill, None) => {
            bail!("n{i}'s daemon is not running")
        }
        (NodeAction::Stop, Some(p)) => {
            hactl_lab::signal(p, hactl_lab::Signal::Term)?;
            let deadline = Instant::now() + timeout;
            while Path::new(&format!("/proc/{p}")).exists() {
                if Instant::now() >= deadline {
                    bail!("n{i}'s daemon (pid {p}) did not stop within {timeout:?}");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            outln!("n{i}'s daemon stopped");
        }
        (NodeAction::Kill, Some(p)) => {
            hactl_lab::signal(p, hactl_lab::Signal::Kill)?;
            outln!("n{i}'s daemon killed (pid {p}); what its agents started still runs on n{i}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Waits until n1's daemon reports every node online and quorum.
fn wait_online(sock: &Path, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    out!("Waiting for the cluster to form");
    loop {
        let last = match hactl_client::Client::connect(sock).and_then(|mut c| c.status()) {
            Ok(s) => {
                let online = s
                    .nodes
                    .iter()
                    .filter(|n| n.state == hactl_proto::client::NodeState::Online as i32)
                    .count();
                if online == NODES && s.has_quorum && !s.dc.is_empty() {
                    outln!(": {online} nodes online, DC {}", s.dc);
                    return Ok(());
                }
                format!("{online} of {NODES} online, quorum {}", s.has_quorum)
            }
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            outln!();
            bail!("the cluster did not form within {timeout:?} ({last}); see {DIR}/nI.log");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn down() -> Result<ExitCode> {
    need_root(
        "hactl demo down",
        "it stops the demo's daemons and deletes its network namespaces and /run/hactl-demo",
    )?;
    // Daemons first (SIGTERM lets them stop their resources), then the namespaces.
    let removed = hactl_lab::destroy_prefix(PREFIX, Duration::from_secs(10))?;
    let had_dir = Path::new(DIR).exists();
    if had_dir {
        std::fs::remove_dir_all(DIR).with_context(|| format!("removing {DIR}"))?;
    }
    if removed.is_empty() && !had_dir {
        outln!("No demo was running.");
    } else {
        outln!("Removed namespaces: {}", removed.join(" "));
        if had_dir {
            outln!("Removed {DIR}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
