//! `hactl cluster ...`: create the cluster identity (`setup`), install a node's bundle
//! (`join`), and drive the daemons (`start`, `stop`, `status`, `destroy`, `node`).
//!
//! Files (config dir, default `/etc/hactl`): `cluster.toml`, `ca.pem`, `ca.key` (only
//! where setup ran), `node.pem`, `node.key`, and `bundles/NODE.bundle` (one per node,
//! 0600, to be copied to that node). See docs/cluster-setup.md.

use crate::cmd::cluster_remote::{self as remote, Outcome, SshArgs, ALREADY_RUNNING, UNIT};
use crate::verbs::session::wait_for_leader;
use anyhow::{anyhow, bail, Context, Result};
use hactl_client::{Client, ClientError, StopOptions};
use hactl_net::config::{
    parse_peer_addresses, ClusterConfig, NodeEntry, CLUSTER_CONFIG_FILE, DEFAULT_CONFIG_DIR,
    FOUNDER_FILE,
};
use hactl_net::pki::{CA_CERT_FILE, CA_KEY_FILE, NODE_CERT_FILE, NODE_KEY_FILE};
use hactl_net::{Bundle, Ca, NodeIdentity, NodeName};
use hactl_proto::client::{ClusterStatus, NodeState};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const BUNDLE_DIR: &str = "bundles";

#[derive(clap::Args, Debug)]
pub struct ClusterArgs {
    /// The local daemon's control socket.
    #[arg(long, global = true, env = "HACTL_SOCKET", default_value = hactl_client::DEFAULT_SOCKET)]
    socket: PathBuf,
    /// Config dir holding cluster.toml, the certificates and the bundles.
    #[arg(long, global = true, env = "HACTL_CONFIG_DIR", default_value = DEFAULT_CONFIG_DIR)]
    dir: PathBuf,
    /// The daemon's state dir (Raft log, CIB): passed to a daemon that `start` spawns,
    /// removed by `destroy`.
    #[arg(
        long,
        global = true,
        env = "HACTL_STATE_DIR",
        default_value = "/var/lib/hactl"
    )]
    state_dir: PathBuf,
    #[command(subcommand)]
    command: ClusterCommand,
}

#[derive(clap::Subcommand, Debug)]
enum ClusterCommand {
    /// Create a cluster: its CA, a certificate per node, cluster.toml, and one bundle
    /// file per node (bundles/NODE.bundle) to copy to that node.
    Setup(SetupArgs),
    /// Install a bundle made by `setup` on this node (config, CA, this node's key).
    Join(JoinArgs),
    /// Show nodes, DC, quorum, Raft term and commit index.
    Status(StatusArgs),
    /// Start the daemon on this node (`--all`: on every node, the others over ssh, then
    /// wait until the cluster can take commands).
    Start(StartArgs),
    /// Stop the daemon on this node (`--all`: stop the whole cluster).
    Stop(StopArgs),
    /// Remove this node's cluster files and state (the daemon must be stopped).
    Destroy(DestroyArgs),
    /// Start the daemon at boot: `systemctl enable hactl.service` (`--all`: on every
    /// node, the others over ssh). Exit 6: systemd is not PID 1; 5: the unit is not
    /// installed.
    Enable(BootArgs),
    /// Do not start the daemon at boot: `systemctl disable hactl.service` (`--all`: on
    /// every node). Exit codes as for `enable`.
    Disable(BootArgs),
    /// Add or remove a node (Raft membership change).
    #[command(subcommand)]
    Node(NodeCommand),
    /// Check the live CIB or a file for errors and warnings (crm_verify -L / -x):
    /// exit 0 clean, 1 warnings only, 2 errors.
    Verify(crate::cmd::verify::VerifyArgs),
    /// The last transitions the DC ran: why, what was planned, what ran (each action
    /// with its result and duration), how long (`-n N`: the last N).
    History(crate::cmd::history::ClusterHistoryArgs),
    /// The witness of a two-node cluster (pcs quorum device add/remove).
    #[command(subcommand)]
    Witness(crate::cmd::cluster_witness::ClusterWitnessCommand),
}

#[derive(clap::Args, Debug)]
struct SetupArgs {
    /// Cluster name.
    #[arg(long)]
    name: String,
    /// Members as NODE=ADDR[,ADDR...], ADDR an IP with optional port (default
    /// 7420/udp); up to 4 addresses per node are redundant heartbeat links (link 0
    /// first; link k of every node should be one network).
    #[arg(required = true, value_name = "NODE=ADDR[,ADDR...]")]
    nodes: Vec<String>,
    /// Replace an existing cluster identity in the config dir (new CA: every node needs
    /// its new bundle).
    #[arg(long)]
    force: bool,
    /// The node this machine is (default: the one node whose address is local, if any).
    #[arg(long, value_name = "NODE", conflicts_with = "no_local")]
    local: Option<String>,
    /// Do not install any node's files here (setup on an admin machine).
    #[arg(long)]
    no_local: bool,
    /// Two nodes only: the `hactl witness` (IP[:PORT], port 7421 by default) that
    /// decides which node continues when they lose each other; its identity is written
    /// to bundles/witness/NAME/.
    #[arg(long, value_name = "IP[:PORT]", value_parser = crate::cmd::cluster_witness::parse_witness)]
    witness: Option<SocketAddr>,
}

#[derive(clap::Args, Debug)]
struct JoinArgs {
    /// The bundle file made by `hactl cluster setup` for this node.
    bundle: PathBuf,
    /// Replace an existing, different cluster identity; install even if the node's
    /// address is not on this machine.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args, Debug)]
struct StatusArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    Text,
    Json,
}

#[derive(clap::Args, Debug)]
struct BootArgs {
    /// Every node of the cluster: this one here, the others over ssh.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    ssh: SshArgs,
}

#[derive(clap::Args, Debug)]
struct StartArgs {
    /// Start here, start the other nodes over ssh (those this node does not already
    /// see online), then wait until the cluster can take commands.
    #[arg(long, conflicts_with = "node")]
    all: bool,
    /// With --all: start no other node, only wait for them to come online.
    #[arg(long, requires = "all")]
    no_ssh: bool,
    #[command(flatten)]
    ssh: SshArgs,
    /// Only this node (must be the local one: a daemon is started on its own machine).
    node: Option<String>,
    /// Seconds to wait for the daemon (and with --all for every node).
    #[arg(long, default_value_t = 15)]
    wait: u64,
    /// Log file of a daemon started without systemd.
    #[arg(
        long,
        env = "HACTL_LOG_FILE",
        default_value = "/var/log/hactl/daemon.log"
    )]
    log_file: PathBuf,
    /// Two-node mode: the peer is known to be off; fence it (if it is not seen) and
    /// continue alone, without waiting to see it first (wait_for_all).
    #[arg(long, conflicts_with = "all")]
    force_alone: bool,
}

#[derive(clap::Args, Debug)]
struct StopArgs {
    /// Stop every node's daemon (asks the cluster, through the local daemon).
    #[arg(long, conflicts_with = "node")]
    all: bool,
    /// Only this node (must be the local one).
    node: Option<String>,
    /// Seconds to wait for the local daemon to exit once its resources are stopped.
    #[arg(long, default_value_t = 30)]
    wait: u64,
    /// How long to wait for the resources here to stop (moved or stopped by the DC)
    /// before giving up, e.g. 90s; default: the longest stop timeout of what runs here
    /// plus 30 s.
    #[arg(long, value_parser = parse_timeout)]
    timeout: Option<Duration>,
    /// Leave even if a resource failed to stop or the wait ran out (it may still run
    /// here; with fencing on, the node is then fenced).
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args, Debug)]
struct DestroyArgs {
    /// Stop a running local daemon first instead of refusing.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Subcommand, Debug)]
enum NodeCommand {
    /// Add NODE=ADDR[,ADDR...]: issue its certificate and bundle (needs ca.key, i.e. run where
    /// setup ran) and add it to the Raft membership.
    Add {
        /// The new node and its addresses, e.g. n4=10.0.0.4 or n4=10.0.0.4,192.168.1.4
        /// (port 7420 by default; more than one: redundant heartbeat links).
        #[arg(value_name = "NODE=ADDR[,ADDR...]")]
        node: String,
    },
    /// Remove NODE: its resources are moved or stopped first (its daemon then leaves),
    /// then it leaves the Raft membership and cluster.toml here.
    Remove {
        /// The node to remove.
        node: String,
        /// How long to wait for NODE's resources to stop, e.g. 90s; default: the
        /// longest stop timeout of what runs there plus 30 s.
        #[arg(long, value_parser = parse_timeout)]
        timeout: Option<Duration>,
        /// Remove it even if a resource failed to stop there or the wait ran out.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(a: ClusterArgs) -> Result<ExitCode> {
    match a.command {
        ClusterCommand::Setup(s) => setup(&a.dir, &a.socket, s),
        ClusterCommand::Join(j) => join(&a.dir, &a.socket, j),
        ClusterCommand::Status(s) => status(&a.socket, s),
        ClusterCommand::Start(s) => start(&a.dir, &a.socket, &a.state_dir, s),
        ClusterCommand::Stop(s) => stop(&a.dir, &a.socket, s),
        ClusterCommand::Destroy(d) => destroy(&a.dir, &a.socket, &a.state_dir, d),
        ClusterCommand::Enable(b) => boot(&a.dir, b, true),
        ClusterCommand::Disable(b) => boot(&a.dir, b, false),
        ClusterCommand::Node(NodeCommand::Add { node }) => node_add(&a.dir, &a.socket, &node),
        ClusterCommand::Node(NodeCommand::Remove {
            node,
            timeout,
            force,
        }) => node_remove(&a.dir, &a.socket, &node, StopOptions { timeout, force }),
        ClusterCommand::Verify(v) => crate::cmd::verify::run(&a.socket, &a.dir, v),
        ClusterCommand::History(h) => crate::cmd::history::cluster(&a.socket, h),
        ClusterCommand::Witness(w) => crate::cmd::cluster_witness::run(&a.dir, w),
    }
}

// ---------------------------------------------------------------------------- setup

/// `NODE=ADDR[,ADDR...]`: the node and its addresses, link 0 first (redundant
/// heartbeat links).
fn parse_node_arg(s: &str) -> Result<(NodeName, Vec<SocketAddr>)> {
    let (name, addrs) = s.split_once('=').ok_or_else(|| {
        anyhow!("expected NODE=ADDR[,ADDR...], got {s:?} (example: node1=10.0.0.1,192.168.1.1)")
    })?;
    let name = NodeName::new(name)?;
    let addrs = parse_peer_addresses(addrs).with_context(|| format!("node {name}"))?;
    Ok((name, addrs))
}

/// A node entry with id `id` and its addresses, link 0 first.
fn node_entry(name: NodeName, id: u64, addrs: &[SocketAddr]) -> Result<NodeEntry> {
    let (first, more) = addrs
        .split_first()
        .ok_or_else(|| anyhow!("node {name}: no address"))?;
    Ok(NodeEntry {
        name,
        id,
        address: *first,
        more_addresses: more.to_vec(),
    })
}

/// The IP addresses a node's certificate names (all its links).
fn cert_ips(n: &NodeEntry) -> Vec<IpAddr> {
    n.addresses().iter().map(|a| a.ip()).collect()
}

/// `ADDR[,ADDR...]` as the user wrote it.
fn addresses_text(n: &NodeEntry) -> String {
    n.addresses()
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether `ip` is an address of this machine (binding to it works).
fn is_local_ip(ip: IpAddr) -> bool {
    UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// The node this machine is, from `--local`, `--no-local` or its addresses.
fn pick_local(
    cfg: &ClusterConfig,
    local: Option<&str>,
    no_local: bool,
) -> Result<Option<NodeName>> {
    if no_local {
        return Ok(None);
    }
    if let Some(l) = local {
        let n = NodeName::new(l)?;
        if cfg.node(&n).is_none() {
            bail!("--local {n}: no such node in the list");
        }
        return Ok(Some(n));
    }
    let locals: Vec<&NodeEntry> = cfg
        .nodes
        .iter()
        .filter(|n| n.addresses().iter().any(|a| is_local_ip(a.ip())))
        .collect();
    match locals.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.name.clone())),
        many => bail!(
            "several node addresses are on this machine ({}); say which node this is with --local NODE",
            many.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Preflight for the node that will run here: its address is local and its port free.
fn check_local_port(n: &NodeEntry) -> Result<()> {
    match UdpSocket::bind(n.address) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => bail!(
            "node {}: port {}/udp on {} is already in use (is a hactl daemon or another service running?)",
            n.name,
            n.address.port(),
            n.address.ip()
        ),
        Err(e) => bail!("node {}: cannot use address {}: {e}", n.name, n.address),
    }
}

/// Preflight for other nodes: this machine has a route to each of their addresses.
/// (Whether they answer can only be known once their daemon runs; `hactl cluster
/// start --all` reports it.)
fn check_route(n: &NodeEntry) -> Result<()> {
    for addr in n.addresses() {
        let any: SocketAddr = if addr.is_ipv4() {
            "0.0.0.0:0".parse()?
        } else {
            "[::]:0".parse()?
        };
        let sock = UdpSocket::bind(any).context("preflight socket")?;
        // A UDP connect sends nothing; it only asks the kernel for a route.
        sock.connect(addr)
            .map_err(|e| anyhow!("node {}: no route to {addr} from this machine: {e}", n.name))?;
    }
    Ok(())
}

fn same_members(a: &ClusterConfig, b: &ClusterConfig) -> bool {
    a.name == b.name && a.nodes == b.nodes
}

fn setup(dir: &Path, socket: &Path, a: SetupArgs) -> Result<ExitCode> {
    let mut nodes = Vec::new();
    for s in &a.nodes {
        nodes.push(parse_node_arg(s)?);
    }
    let mut cfg = ClusterConfig::new(
        &a.name,
        nodes
            .iter()
            .map(|(n, addrs)| (n.clone(), addrs[0]))
            .collect(),
    )?;
    for (entry, (_, addrs)) in cfg.nodes.iter_mut().zip(&nodes) {
        entry.more_addresses = addrs[1..].to_vec();
    }
    cfg.validate()?;
    if cfg.nodes.len() == 2 {
        // Two-node mode: the survivor of a split continues after fencing its peer
        // (docs/cluster-setup.md); it needs a fence device to do anything.
        hactl_settings::two_node::set_configured(&mut cfg.settings, true);
    }
    if a.witness.is_some() {
        crate::cmd::cluster_witness::check_size(&cfg)?;
        hactl_settings::witness::set_address(&mut cfg.settings, a.witness);
    }
    let local = pick_local(&cfg, a.local.as_deref(), a.no_local)?;
    let cfg_path = dir.join(CLUSTER_CONFIG_FILE);
    let bundle_dir = dir.join(BUNDLE_DIR);

    if cfg_path.exists() {
        match ClusterConfig::load(&cfg_path) {
            Ok(existing) if same_members(&existing, &cfg) && !a.force => {
                let mut missing: Vec<PathBuf> = [CA_CERT_FILE, CA_KEY_FILE]
                    .iter()
                    .map(|f| dir.join(f))
                    .chain(cfg.nodes.iter().map(|n| bundle_path(&bundle_dir, &n.name)))
                    .filter(|p| !p.exists())
                    .collect();
                if local.is_some() {
                    missing.extend(
                        [NODE_CERT_FILE, NODE_KEY_FILE]
                            .iter()
                            .map(|f| dir.join(f))
                            .filter(|p| !p.exists()),
                    );
                }
                let installed = NodeIdentity::load(dir).ok().map(|id| id.node);
                if !dir.join(CA_KEY_FILE).exists() && installed.is_some() {
                    bail!(
                        "this node joined cluster {} from a bundle: the CA key is not here. \
                         Run setup where the cluster was created (--force here would make a \
                         new, separate CA)",
                        cfg.name
                    );
                }
                if missing.is_empty() && local.is_some() && installed != local {
                    bail!(
                        "cluster {} is set up in {} for node {}, not {}; refusing to change \
                         this machine's identity without --force",
                        cfg.name,
                        dir.display(),
                        installed
                            .map(|n| n.to_string())
                            .unwrap_or_else(|| "none".into()),
                        local.map(|n| n.to_string()).unwrap_or_default()
                    );
                }
                if missing.is_empty() {
                    outln!(
                        "cluster {} is already set up in {} with these nodes; nothing changed",
                        cfg.name,
                        dir.display()
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                bail!(
                    "cluster {} is set up in {} but files are missing ({}); rerun with --force to recreate it",
                    cfg.name,
                    dir.display(),
                    missing.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
                );
            }
            Ok(existing) if !a.force => bail!(
                "{} already holds cluster {} ({}); refusing to overwrite it without --force \
                 (--force creates a new CA: every node then needs its new bundle)",
                cfg_path.display(),
                existing.name,
                existing
                    .nodes
                    .iter()
                    .map(|n| format!("{}={}", n.name, addresses_text(n)))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Err(e) if !a.force => bail!(
                "{} exists but cannot be read ({e}); refusing to overwrite it without --force",
                cfg_path.display()
            ),
            _ => {}
        }
    }

    // Preflight before writing anything.
    if cfg_path.exists() && Client::connect(socket).is_ok() {
        bail!(
            "a hactl daemon is running on this node with the current identity; stop it first \
             (hactl cluster stop), then rerun with --force"
        );
    }
    for n in &cfg.nodes {
        if Some(&n.name) == local.as_ref() {
            check_local_port(n)?;
        } else {
            check_route(n)?;
        }
    }

    let ca = Ca::create(&cfg.name)?;
    let mut bundles = Vec::new();
    for n in &cfg.nodes {
        let id = ca.issue_node_cert(&n.name, &cert_ips(n))?;
        let mut b = Bundle::new(&id, &cfg);
        // Setup's bundles found the cluster; bundles of nodes added later do not.
        b.founder = true;
        bundles.push((n.name.clone(), b));
    }

    create_dir(dir, 0o755)?;
    create_dir(&bundle_dir, 0o700)?;
    ca.save(dir)?;
    cfg.save(&cfg_path)?;
    // Bundles of nodes no longer in the cluster (after --force) must not linger.
    if let Ok(entries) = std::fs::read_dir(&bundle_dir) {
        for e in entries.flatten() {
            let p = e.path();
            let stale = p.extension().is_some_and(|x| x == "bundle")
                && !cfg
                    .nodes
                    .iter()
                    .any(|n| bundle_path(&bundle_dir, &n.name) == p);
            if stale {
                std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
            }
        }
    }
    for (name, b) in &bundles {
        b.save(&bundle_path(&bundle_dir, name))?;
    }
    let witness_bundle = match a.witness {
        Some(_) => Some(crate::cmd::cluster_witness::issue_bundle(dir, &cfg)?),
        None => None,
    };
    match &local {
        Some(l) => {
            let b = bundles
                .iter()
                .find(|(n, _)| n == l)
                .map(|(_, b)| b)
                .ok_or_else(|| anyhow!("internal: no bundle for {l}"))?;
            b.install(dir)?;
        }
        None => {
            for f in [NODE_CERT_FILE, NODE_KEY_FILE] {
                let _ = std::fs::remove_file(dir.join(f));
            }
        }
    }

    outln!("cluster {} created in {}", cfg.name, dir.display());
    if let Some(l) = &local {
        outln!("this machine is node {l}; its files are installed");
    }
    for n in &cfg.nodes {
        if Some(&n.name) != local.as_ref() {
            outln!(
                "  copy {} to {} ({}) and run there: hactl cluster join {}.bundle",
                bundle_path(&bundle_dir, &n.name).display(),
                n.name,
                n.address.ip(),
                n.name
            );
        }
    }
    if let Some(b) = &witness_bundle {
        outln!(
            "  copy the directory {} to the witness host and run there: hactl-witness add-cluster {} (or hactl witness add-cluster)",
            b.display(),
            b.file_name().unwrap_or_default().to_string_lossy()
        );
    }
    outln!("then: hactl cluster start --all");
    Ok(ExitCode::SUCCESS)
}

fn bundle_path(bundle_dir: &Path, node: &NodeName) -> PathBuf {
    bundle_dir.join(format!("{node}.bundle"))
}

fn create_dir(dir: &Path, mode: u32) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting permissions of {}", dir.display()))
}

// ----------------------------------------------------------------------------- join

fn join(dir: &Path, socket: &Path, a: JoinArgs) -> Result<ExitCode> {
    let bundle = Bundle::load(&a.bundle)?;
    let entry = bundle
        .cluster
        .node(&bundle.node)
        .ok_or_else(|| anyhow!("bundle does not list its own node"))?
        .clone();
    let cfg_path = dir.join(CLUSTER_CONFIG_FILE);
    if cfg_path.exists() {
        let existing = ClusterConfig::load(&cfg_path).ok();
        let existing_id = NodeIdentity::load(dir).ok();
        let same = existing
            .as_ref()
            .is_some_and(|c| same_members(c, &bundle.cluster))
            && existing_id
                .as_ref()
                .is_some_and(|id| id.cert_pem == bundle.node_cert);
        if same {
            outln!(
                "node {} of cluster {} is already installed in {}; nothing changed",
                bundle.node,
                bundle.cluster.name,
                dir.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        if !a.force {
            bail!(
                "{} already holds {}; refusing to overwrite it without --force",
                cfg_path.display(),
                match existing {
                    Some(c) => format!("cluster {}", c.name),
                    None => "an unreadable config".to_string(),
                }
            );
        }
        if Client::connect(socket).is_ok() {
            bail!("a hactl daemon is running on this node; stop it first (hactl cluster stop)");
        }
    }
    let local = entry.addresses().iter().all(|a| is_local_ip(a.ip()));
    if !local && !a.force {
        bail!(
            "this bundle is for node {} at {}, which is not (all) addresses of this machine \
             (wrong bundle? --force installs it anyway)",
            entry.name,
            addresses_text(&entry)
        );
    }
    if local {
        check_local_port(&entry)?;
    }
    create_dir(dir, 0o755)?;
    bundle.install(dir)?;
    outln!(
        "node {} of cluster {} installed in {}; next: hactl cluster start",
        bundle.node,
        bundle.cluster.name,
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

// --------------------------------------------------------------------------- status

fn connect(socket: &Path) -> Result<Client> {
    Ok(Client::connect(socket)?)
}

fn status(socket: &Path, a: StatusArgs) -> Result<ExitCode> {
    let s = connect(socket)?.status()?;
    match a.output {
        Output::Json => outln!("{}", serde_json::to_string_pretty(&status_json(&s))?),
        Output::Text => out!("{}", status_text(&s)),
    }
    Ok(ExitCode::SUCCESS)
}

fn state_of(n: &hactl_proto::client::NodeInfo) -> &'static str {
    NodeState::try_from(n.state)
        .unwrap_or(NodeState::Unspecified)
        .as_word()
}

fn status_json(s: &ClusterStatus) -> serde_json::Value {
    serde_json::json!({
        "cluster": s.cluster_name,
        "local_node": s.local_node,
        "dc": if s.dc.is_empty() { serde_json::Value::Null } else { s.dc.clone().into() },
        "quorum": s.has_quorum,
        "term": s.term,
        "commit_index": s.commit_index,
        "applied_index": s.applied_index,
        "entry_format": s.entry_format,
        "stalled": if s.stalled.is_empty() { serde_json::Value::Null } else { s.stalled.clone().into() },
        "witness": crate::cmd::cluster_witness::status_json(s.witness.as_ref()),
        "nodes": s.nodes.iter().map(|n| serde_json::json!({
            "name": n.name,
            "id": n.id,
            "address": n.address,
            "state": state_of(n),
            "last_seen_ms": n.last_seen_ms,
            "clock_offset_ms": n.clock_offset_ms,
            "membership": n.membership,
            "rejoin": if n.rejoin.is_empty() { serde_json::Value::Null } else { n.rejoin.clone().into() },
            // The same shape as `hactl status --output json`'s daemon.members.
            "links": n.links.iter().map(hactl_view::LinkView::from).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn status_text(s: &ClusterStatus) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Cluster: {} (answered by {})",
        s.cluster_name, s.local_node
    );
    let _ = writeln!(
        o,
        "DC: {}   quorum: {}   term: {}   commit index: {}   applied: {}",
        if s.dc.is_empty() { "NONE" } else { &s.dc },
        if s.has_quorum { "yes" } else { "NO" },
        s.term,
        s.commit_index,
        s.applied_index
    );
    let online = s.nodes.iter().filter(|n| state_of(n) == "online").count();
    let _ = writeln!(o, "Nodes: {} configured, {} online", s.nodes.len(), online);
    let w = s.nodes.iter().map(|n| n.name.len()).max().unwrap_or(0);
    for n in &s.nodes {
        let mut line = format!(
            "  {:<w$}  id {:<3} {:<22} {}",
            n.name,
            n.id,
            n.address,
            state_of(n)
        );
        if n.name == s.dc {
            line.push_str(" (DC)");
        }
        if n.membership == "learner" {
            line.push_str(" (learner)");
        }
        if let Some(ms) = n.last_seen_ms {
            let _ = write!(line, "  last heard {:.1} s ago", ms as f64 / 1000.0);
        }
        let _ = writeln!(o, "{line}");
        if n.links.len() > 1 {
            let _ = writeln!(o, "    {}", links_text(&n.links));
        }
    }
    if let Some(w) = &s.witness {
        let _ = writeln!(o, "{}", crate::cmd::cluster_witness::status_line(w));
    }
    for n in s.nodes.iter().filter(|n| !n.rejoin.is_empty()) {
        let _ = writeln!(o, "{}: {}", n.name, n.rejoin);
    }
    if !s.stalled.is_empty() {
        let _ = writeln!(
            o,
            "{} STOPPED APPLYING the cluster log: {}",
            s.local_node, s.stalled
        );
    }
    for n in &s.nodes {
        if let Some(line) = n.clock_offset_ms.and_then(|ms| skew_line(&n.name, ms)) {
            let _ = writeln!(o, "{line}");
        }
    }
    o
}

/// `links: 0 10.0.0.2:7420 up 0.3 ms (active) | 1 192.168.1.2:7420 DOWN`.
fn links_text(links: &[hactl_proto::client::LinkInfo]) -> String {
    let each: Vec<String> = links
        .iter()
        .map(|l| {
            let mut t = format!("{} {} ", l.index, l.address);
            match (l.up, l.rtt_us) {
                (true, Some(us)) => t.push_str(&format!("up {:.1} ms", us as f64 / 1000.0)),
                (true, None) => t.push_str("up"),
                (false, _) => t.push_str("DOWN"),
            }
            if l.active {
                t.push_str(" (active)");
            }
            t
        })
        .collect();
    format!("links: {}", each.join(" | "))
}

/// `clock skew: n2 is +3.2 s ahead` when `offset_ms` (the node's clock minus the
/// answering daemon's) is beyond the skew threshold.
fn skew_line(node: &str, offset_ms: i64) -> Option<String> {
    if offset_ms.unsigned_abs() <= hactl_proto::CLOCK_SKEW_THRESHOLD_MS as u64 {
        return None;
    }
    let dir = if offset_ms > 0 { "ahead" } else { "behind" };
    Some(format!(
        "clock skew: {node} is {:+.1} s {dir} (check NTP on the nodes)",
        offset_ms as f64 / 1000.0
    ))
}

// ----------------------------------------------------------------------- start/stop

fn local_node(dir: &Path) -> Result<NodeName> {
    let id = NodeIdentity::load(dir).map_err(|e| {
        anyhow!(
            "this machine is not a cluster node ({e}); run `hactl cluster setup` or \
             `hactl cluster join BUNDLE` first"
        )
    })?;
    Ok(id.node)
}

fn check_is_local(dir: &Path, node: Option<&str>, verb: &str) -> Result<NodeName> {
    let me = local_node(dir)?;
    if let Some(n) = node {
        let n = NodeName::new(n)?;
        if n != me {
            bail!(
                "this machine is node {me}: hactl cannot {verb} the daemon on {n} from here; \
                 run `hactl cluster {verb}` on {n}"
            );
        }
    }
    Ok(me)
}

fn wait_for_socket(
    socket: &Path,
    deadline: Instant,
    mut child: Option<&mut std::process::Child>,
) -> Result<()> {
    loop {
        match Client::connect(socket) {
            Ok(_) => return Ok(()),
            Err(ClientError::PermissionDenied { path }) => {
                bail!(
                    "the control socket {} is root-only: run as root",
                    path.display()
                )
            }
            Err(_) if Instant::now() < deadline => {}
            Err(e) => bail!("the daemon did not come up: {e}"),
        }
        if let Some(c) = child.as_deref_mut() {
            if let Some(status) = c.try_wait()? {
                bail!("the daemon exited at once ({status})");
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start_local(
    dir: &Path,
    socket: &Path,
    state_dir: &Path,
    a: &StartArgs,
    me: &NodeName,
) -> Result<()> {
    if Client::connect(socket).is_ok() {
        outln!("{me}: {ALREADY_RUNNING}");
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs(a.wait);
    if remote::systemd_is_init() {
        remote::systemctl(&["start", UNIT]).context("see journalctl -u hactl")?;
        wait_for_socket(socket, deadline, None)
            .context("started hactl.service; see journalctl -u hactl")?;
        outln!("{me}: started {UNIT}");
        return Ok(());
    }
    wait_port_free(dir, me, deadline)?;
    if let Some(parent) = a.log_file.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&a.log_file)
        .with_context(|| format!("opening {}", a.log_file.display()))?;
    let exe = std::env::current_exe().context("finding the hactl executable")?;
    let mut child = {
        use std::os::unix::process::CommandExt;
        std::process::Command::new(exe)
            .arg("daemon")
            .env("HACTL_CONFIG_DIR", dir)
            .env("HACTL_SOCKET", socket)
            .env("HACTL_STATE_DIR", state_dir)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Own process group: a Ctrl-C in this terminal must not reach the daemon.
            .process_group(0)
            .spawn()
            .context("starting hactl daemon")?
    };
    wait_for_socket(socket, deadline, Some(&mut child))
        .map_err(|e| died_with_log(e, &a.log_file))?;
    outln!(
        "{me}: started the hactl daemon (pid {}, log {})",
        child.id(),
        a.log_file.display()
    );
    Ok(())
}

/// Waits until this node's peer port is free. A daemon that was just told to stop
/// (`cluster stop --all` from another node) stops answering on its control socket
/// before it has closed its peer endpoint; a daemon started then would fail with
/// "address in use".
fn wait_port_free(dir: &Path, me: &NodeName, deadline: Instant) -> Result<()> {
    let cfg = ClusterConfig::load(&dir.join(CLUSTER_CONFIG_FILE))?;
    let Some(entry) = cfg.node(me) else {
        return Ok(());
    };
    let mut said = false;
    loop {
        match UdpSocket::bind(entry.address) {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {}
            // Free, or a problem the daemon reports itself.
            _ => return Ok(()),
        }
        if Instant::now() >= deadline {
            return check_local_port(entry);
        }
        if !said {
            outln!(
                "{me}: port {}/udp is still in use (a daemon still leaving?): waiting for it",
                entry.address.port()
            );
            said = true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Adds the end of the daemon's log to `e`: why a daemon did not come up (a damaged
/// store, a bad config) is said there, and the operator should not have to go look.
fn died_with_log(e: anyhow::Error, log_file: &Path) -> anyhow::Error {
    let text = std::fs::read_to_string(log_file).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(5)..].join("\n");
    e.context(format!("last lines of {}:\n{tail}", log_file.display()))
}

fn start(dir: &Path, socket: &Path, state_dir: &Path, a: StartArgs) -> Result<ExitCode> {
    let me = check_is_local(dir, a.node.as_deref(), "start")?;
    if a.force_alone {
        force_alone(dir, state_dir, &me)?;
    }
    start_local(dir, socket, state_dir, &a, &me)?;
    if !a.all {
        wait_ready(dir, socket, &a)?;
        return Ok(ExitCode::SUCCESS);
    }
    let deadline = Instant::now() + Duration::from_secs(a.wait);
    let cfg = ClusterConfig::load(&dir.join(CLUSTER_CONFIG_FILE))?;
    let peers = if a.no_ssh {
        Vec::new()
    } else {
        start_peers(socket, &cfg, &me, &a)?
    };
    for (n, o) in &peers {
        outln!("{}", o.line(n));
    }
    let failed: Vec<&str> = peers
        .iter()
        .filter(|(_, o)| !o.is_done())
        .map(|(n, _)| n.as_str())
        .collect();
    let online = wait_online(socket, &failed, deadline, &a)?;
    if !failed.is_empty() {
        eprintln!(
            "error: not started: {} (see above); the others {}",
            failed.join(", "),
            if online {
                "are online and the cluster takes commands"
            } else {
                "did not all come online either"
            }
        );
        return Ok(ExitCode::from(1));
    }
    Ok(if online {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Starts the daemons of the nodes this one does not see online, over ssh, each with
/// `hactl cluster start NODE` there (systemd's unit where systemd runs).
fn start_peers(
    socket: &Path,
    cfg: &ClusterConfig,
    me: &NodeName,
    a: &StartArgs,
) -> Result<Vec<(NodeName, Outcome)>> {
    let s = connect(socket)?.status()?;
    let online = |n: &NodeEntry| {
        s.nodes
            .iter()
            .any(|i| i.name == n.name.as_str() && state_of(i) == "online")
    };
    let mut out = Vec::new();
    let mut todo = Vec::new();
    for n in cfg.nodes.iter().filter(|n| &n.name != me) {
        if online(n) {
            out.push((n.name.clone(), Outcome::Done(ALREADY_RUNNING.into())));
        } else {
            todo.push(n);
        }
    }
    let wait = a.wait;
    let ran = remote::on_nodes(
        &a.ssh,
        &todo,
        |n| format!("cluster start {} --wait {wait}", n.name),
        Duration::from_secs(wait + 5),
    )?;
    out.extend(ran.into_iter().map(|(n, o)| match o {
        Outcome::Done(text) if text.contains(ALREADY_RUNNING) => {
            (n, Outcome::Done(ALREADY_RUNNING.into()))
        }
        Outcome::Done(_) => (n, Outcome::Done("started over ssh".into())),
        other => (n, other),
    }));
    Ok(out)
}

/// Whether every node but `failed` has joined, as this node's copy of the CIB shows:
/// each daemon records its return (`expected=member`) once it reaches the leader, and a node that applied those records takes changes. Before
/// that a change sent here can time out, and a `cluster stop --all` that commits first
/// is undone by the join.
fn all_joined(socket: &Path, failed: &[&str]) -> Result<bool> {
    let cib: hactl_model::Cib = serde_json::from_slice(&connect(socket)?.get_cib()?)?;
    Ok(cib
        .config
        .nodes
        .iter()
        .filter(|n| !failed.contains(&n.name.as_str()))
        .all(|n| {
            cib.status
                .nodes
                .get(&n.name)
                .is_some_and(|st| st.expected.as_deref() == Some("member"))
        }))
}

/// Waits until every node but `failed` is online and has joined, there is quorum and
/// the local daemon knows the leader (a change sent now is taken); prints the status.
/// False when the deadline passed first.
fn wait_online(socket: &Path, failed: &[&str], deadline: Instant, a: &StartArgs) -> Result<bool> {
    loop {
        let s = match connect(socket).and_then(|mut c| Ok(c.status()?)) {
            Ok(s) => s,
            Err(e) => {
                let e = e.context("the local daemon stopped answering after it started");
                return Err(died_with_log(e, &a.log_file));
            }
        };
        let missing: Vec<&str> = s
            .nodes
            .iter()
            .filter(|n| state_of(n) != "online" && !failed.contains(&n.name.as_str()))
            .map(|n| n.name.as_str())
            .collect();
        if missing.is_empty() && s.has_quorum && !s.dc.is_empty() && all_joined(socket, failed)? {
            out!("{}", status_text(&s));
            return Ok(true);
        }
        if Instant::now() >= deadline {
            out!("{}", status_text(&s));
            eprintln!(
                "not online (or not joined) after {} s: {}{}",
                a.wait,
                if missing.is_empty() {
                    "no quorum or no leader".to_string()
                } else {
                    missing.join(", ")
                },
                if a.no_ssh {
                    " — run `hactl cluster start` there"
                } else {
                    " — their daemons run but have not joined; see their logs"
                }
            );
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Leaves the marker the daemon consumes (at start, or within a heartbeat if it runs).
fn force_alone(dir: &Path, state_dir: &Path, me: &NodeName) -> Result<()> {
    let cfg = ClusterConfig::load(&dir.join(CLUSTER_CONFIG_FILE))?;
    if !hactl_settings::two_node::configured(&cfg.settings)? {
        bail!(
            "--force-alone is for two-node mode, and cluster {} is not in it",
            cfg.name
        );
    }
    hactl_settings::force_alone::request(state_dir).with_context(|| {
        format!(
            "writing {}",
            state_dir.join(hactl_settings::force_alone::FILE).display()
        )
    })?;
    outln!("{me}: will fence its peer if it does not see it, then continue alone");
    Ok(())
}

/// `cluster enable` / `disable`: here, or with `--all` on every node (the others over
/// ssh, each running the same verb for itself).
fn boot(dir: &Path, b: BootArgs, enable: bool) -> Result<ExitCode> {
    let me = local_node(dir)?;
    let here = remote::boot_local(enable);
    if !b.all {
        return Ok(remote::report_one(&me, &here));
    }
    let cfg = ClusterConfig::load(&dir.join(CLUSTER_CONFIG_FILE))?;
    let peers: Vec<&NodeEntry> = cfg.nodes.iter().filter(|n| n.name != me).collect();
    let verb = if enable { "enable" } else { "disable" };
    let mut all = vec![(me, here)];
    all.extend(remote::on_nodes(
        &b.ssh,
        &peers,
        |_| format!("cluster {verb}"),
        Duration::from_secs(60),
    )?);
    Ok(remote::report_all(verb, &all))
}

/// `--timeout` of `cluster stop` and `node remove`: a duration such as `90s`, `2min`.
fn parse_timeout(s: &str) -> Result<Duration> {
    hactl_model::values::parse_interval_ms(s)
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
        .ok_or_else(|| anyhow!("expected a duration such as 90s or 2min, got {s:?}"))
}

/// A stop is answered once the node's resources are stopped: wait for the daemon's
/// own deadline (its default is derived from the stop timeouts it knows, not we).
fn stop_client(socket: &Path, opts: &StopOptions) -> Result<Client> {
    let mut c = connect(socket)?;
    set_stop_wait(&mut c, opts)?;
    Ok(c)
}

fn set_stop_wait(c: &mut Client, opts: &StopOptions) -> Result<()> {
    let wait = opts
        .timeout
        .map_or(Duration::from_secs(3600), |t| t + Duration::from_secs(60));
    Ok(c.set_timeout(wait)?)
}

/// Returns once the local daemon can take commands, i.e. knows a Raft leader, when
/// that does not need other nodes (a single-node cluster): a `hactl property set`
/// right after `cluster start` must not meet "no leader". With several nodes the
/// leader needs a quorum of daemons started elsewhere; commands wait for it briefly
/// themselves (`Client::wait_for_leader`).
fn wait_ready(dir: &Path, socket: &Path, a: &StartArgs) -> Result<()> {
    let cfg = ClusterConfig::load(&dir.join(CLUSTER_CONFIG_FILE))?;
    if cfg.nodes.len() != 1 {
        return Ok(());
    }
    let mut c = connect(socket)?;
    c.wait_for_leader(Duration::from_secs(a.wait))
        .map_err(|e| {
            died_with_log(
                anyhow!(e).context("the daemon started but cannot take commands"),
                &a.log_file,
            )
        })?;
    Ok(())
}

fn stop(dir: &Path, socket: &Path, a: StopArgs) -> Result<ExitCode> {
    let opts = StopOptions {
        timeout: a.timeout,
        force: a.force,
    };
    if a.all {
        let mut c = stop_client(socket, &opts)?;
        let pid = c.daemon_pid();
        wait_for_leader(&mut c)?;
        let ack = c.cluster_stop(opts)?;
        outln!("cluster stop: {}", ack.message);
        // The other daemons cannot be watched from here; this one can.
        if !wait_for_exit(socket, pid, Duration::from_secs(a.wait)) {
            bail!("the local daemon is still running after {} s", a.wait);
        }
        outln!("the local daemon has stopped");
        return Ok(ExitCode::SUCCESS);
    }
    let me = check_is_local(dir, a.node.as_deref(), "stop")?;
    let mut c = match Client::connect(socket) {
        Ok(c) => c,
        Err(ClientError::NotRunning { .. }) => {
            outln!("{me}: the hactl daemon is not running");
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => return Err(e.into()),
    };
    let pid = c.daemon_pid();
    set_stop_wait(&mut c, &opts)?;
    let ack = c.shutdown_with(opts)?;
    outln!("{me}: {}", ack.message);
    if !wait_for_exit(socket, pid, Duration::from_secs(a.wait)) {
        bail!(
            "{me}: the daemon stopped its resources but is still running after {} s",
            a.wait
        );
    }
    outln!("{me}: stopped the hactl daemon");
    Ok(ExitCode::SUCCESS)
}

/// Waits until the socket stops answering and the daemon process (if known) is gone.
fn wait_for_exit(socket: &Path, pid: Option<u32>, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let answering = Client::connect(socket).is_ok();
        let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists() && !is_zombie(p));
        if !answering && !alive {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A daemon whose parent does not reap it stays a zombie after exiting; it has exited
/// all the same.
fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

// -------------------------------------------------------------------------- destroy

fn destroy(dir: &Path, socket: &Path, state_dir: &Path, a: DestroyArgs) -> Result<ExitCode> {
    if let Ok(mut c) = Client::connect(socket) {
        if !a.force {
            bail!("the hactl daemon is running on this node; stop it first (hactl cluster stop) or use --force");
        }
        let pid = c.daemon_pid();
        set_stop_wait(&mut c, &StopOptions::default())?;
        c.shutdown()?;
        if !wait_for_exit(socket, pid, Duration::from_secs(30)) {
            bail!("the daemon is still running after 30 s; not destroying");
        }
    }
    let mut removed = Vec::new();
    for f in [
        CLUSTER_CONFIG_FILE,
        FOUNDER_FILE,
        CA_CERT_FILE,
        CA_KEY_FILE,
        NODE_CERT_FILE,
        NODE_KEY_FILE,
    ] {
        let p = dir.join(f);
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
            removed.push(p);
        }
    }
    let bundles = dir.join(BUNDLE_DIR);
    if bundles.is_dir() {
        for e in std::fs::read_dir(&bundles)?.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "bundle") {
                std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
                removed.push(p);
            }
        }
        // Only if empty: never delete files hactl did not write.
        let _ = std::fs::remove_dir(&bundles);
    }
    if state_dir.is_dir() {
        std::fs::remove_dir_all(state_dir)
            .with_context(|| format!("removing {}", state_dir.display()))?;
        removed.push(state_dir.to_path_buf());
    }
    if removed.is_empty() {
        outln!("nothing to remove: no cluster files in {}", dir.display());
    } else {
        for p in removed {
            outln!("removed {}", p.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

// ----------------------------------------------------------------------------- node

fn node_add(dir: &Path, socket: &Path, spec: &str) -> Result<ExitCode> {
    let (name, addrs) = parse_node_arg(spec)?;
    let cfg_path = dir.join(CLUSTER_CONFIG_FILE);
    let mut cfg = ClusterConfig::load(&cfg_path)?;
    let ca = Ca::load(dir).map_err(|e| {
        anyhow!("adding a node needs the cluster CA's key ({e}); run this where `hactl cluster setup` ran")
    })?;
    if ca.cluster_name() != cfg.name {
        bail!(
            "the CA in {} is for cluster {}, not {}",
            dir.display(),
            ca.cluster_name(),
            cfg.name
        );
    }
    let id = cfg.nodes.iter().map(|n| n.id).max().unwrap_or(0) + 1;
    let entry = node_entry(name.clone(), id, &addrs)?;
    cfg.nodes.push(entry.clone());
    // Three voters have a majority without fencing: two-node mode ends.
    hactl_settings::two_node::set_configured(&mut cfg.settings, false);
    hactl_settings::witness::set_address(&mut cfg.settings, None);
    cfg.validate()?;
    check_route(&entry)?;
    // Ask the cluster first: if the membership change is refused, nothing is written.
    let mut c = connect(socket)?;
    wait_for_leader(&mut c)?;
    let ack = c.node_add(name.as_str(), &addresses_text(&entry))?;
    let ident = ca.issue_node_cert(&name, &cert_ips(&entry))?;
    let bundle_dir = dir.join(BUNDLE_DIR);
    create_dir(&bundle_dir, 0o700)?;
    let bp = bundle_path(&bundle_dir, &name);
    Bundle::new(&ident, &cfg).save(&bp)?;
    cfg.save(&cfg_path)?;
    outln!(
        "node {name} (id {id}) added{}; copy {} to it and run there: hactl cluster join {name}.bundle && hactl cluster start",
        if ack.index > 0 { format!(" at raft index {}", ack.index) } else { String::new() },
        bp.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn node_remove(dir: &Path, socket: &Path, node: &str, opts: StopOptions) -> Result<ExitCode> {
    let name = NodeName::new(node)?;
    let cfg_path = dir.join(CLUSTER_CONFIG_FILE);
    let mut cfg = ClusterConfig::load(&cfg_path)?;
    if cfg.node(&name).is_none() {
        bail!("node {name} is not in {}", cfg_path.display());
    }
    let mut c = stop_client(socket, &opts)?;
    wait_for_leader(&mut c)?;
    c.node_remove(name.as_str(), opts)?;
    cfg.nodes.retain(|n| n.name != name);
    if !cfg.nodes.is_empty() {
        cfg.save(&cfg_path)?;
    }
    let _ = std::fs::remove_file(bundle_path(&dir.join(BUNDLE_DIR), &name));
    outln!("node {name} removed from the cluster");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hactl_proto::client::NodeInfo;

    #[test]
    fn skew_line_only_beyond_threshold_with_sign() {
        assert_eq!(skew_line("n2", 2000), None);
        assert_eq!(skew_line("n2", -150), None);
        assert_eq!(
            skew_line("n2", 3200).as_deref(),
            Some("clock skew: n2 is +3.2 s ahead (check NTP on the nodes)")
        );
        assert_eq!(
            skew_line("n3", -2500).as_deref(),
            Some("clock skew: n3 is -2.5 s behind (check NTP on the nodes)")
        );
    }

    #[test]
    fn status_text_warns_about_skewed_nodes() {
        let node = |name: &str, id: u64, offset: Option<i64>| NodeInfo {
            name: name.into(),
            id,
            address: format!("10.0.0.{id}:7946"),
            state: NodeState::Online as i32,
            last_seen_ms: offset.map(|_| 10),
            clock_offset_ms: offset,
            ..Default::default()
        };
        let s = ClusterStatus {
            cluster_name: "c".into(),
            local_node: "n1".into(),
            nodes: vec![
                node("n1", 1, None),
                node("n2", 2, Some(3200)),
                node("n3", 3, Some(5)),
            ],
            dc: "n1".into(),
            has_quorum: true,
            ..Default::default()
        };
        let text = status_text(&s);
        assert!(text.contains("clock skew: n2 is +3.2 s ahead"), "{text}");
        assert!(!text.contains("clock skew: n3"), "{text}");
        assert!(!text.contains("clock skew: n1"), "{text}");
    }

    #[test]
    fn status_text_shows_rejoining_learner_and_stalled_node() {
        let n3 = NodeInfo {
            name: "n3".into(),
            id: 3,
            state: NodeState::Online as i32,
            membership: "learner".into(),
            rejoin: "rejoining: learner, catching up".into(),
            ..Default::default()
        };
        let s = ClusterStatus {
            cluster_name: "c".into(),
            local_node: "n1".into(),
            nodes: vec![n3],
            stalled: "committed entry 9: log entry is in format 3".into(),
            ..Default::default()
        };
        let text = status_text(&s);
        assert!(text.contains("(learner)"), "{text}");
        assert!(text.contains("n3: rejoining"), "{text}");
        assert!(text.contains("n1 STOPPED APPLYING"), "{text}");
    }

    /// Each link of a node with several: its state, RTT while up, the active one; in
    /// JSON too.
    #[test]
    fn status_shows_each_link() {
        use hactl_proto::client::LinkInfo;
        let n2 = NodeInfo {
            name: "n2".into(),
            id: 2,
            state: NodeState::Online as i32,
            links: vec![
                LinkInfo {
                    index: 0,
                    address: "10.0.0.2:7420".into(),
                    up: false,
                    last_heard_ms: Some(900),
                    ..Default::default()
                },
                LinkInfo {
                    index: 1,
                    address: "192.168.1.2:7420".into(),
                    up: true,
                    rtt_us: Some(350),
                    active: true,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let s = ClusterStatus {
            nodes: vec![n2],
            ..Default::default()
        };
        let text = status_text(&s);
        assert!(
            text.contains("links: 0 10.0.0.2:7420 DOWN | 1 192.168.1.2:7420 up 0.3 ms (active)"),
            "{text}"
        );
        let j = status_json(&s);
        assert_eq!(j["nodes"][0]["links"][0]["state"], "down");
        assert_eq!(j["nodes"][0]["links"][1]["state"], "up");
        assert_eq!(j["nodes"][0]["links"][1]["rtt_us"], 350);
        assert_eq!(j["nodes"][0]["links"][1]["active"], true);
    }
}
