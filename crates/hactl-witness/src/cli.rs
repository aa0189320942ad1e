//! The witness's commands, shared by `hactl witness ...` and the small `hactl-witness`
//! binary (the same commands without the rest of hactl, for the third host): run the
//! witness (corosync's qnetd), install a cluster's witness identity, list them. The
//! cluster side (`hactl cluster witness add`) is in the hactl CLI.
//! docs/cluster-setup.md, "Witness".

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::io::Write;

use anyhow::{bail, Context, Result};
use hactl_net::NodeIdentity;

use crate::server::{cluster_dir, load_identities, Server};

/// Defaults on the witness host.
pub const DEFAULT_DIR: &str = "/etc/hactl-witness";
pub const DEFAULT_STATE_DIR: &str = "/var/lib/hactl-witness";

#[derive(clap::Subcommand, Debug)]
pub enum WitnessCommand {
    /// Run the witness in the foreground (one UDP port for every cluster it serves).
    Run {
        #[command(flatten)]
        dirs: Dirs,
        /// Address to listen on (UDP).
        #[arg(long, default_value = "0.0.0.0:7421")]
        listen: SocketAddr,
        /// Where the grants are kept (a few bytes per cluster, fsynced).
        #[arg(long, env = "HACTL_WITNESS_STATE_DIR", default_value = DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
    },
    /// Install a cluster's witness identity: the directory `hactl cluster witness add`
    /// (or `cluster setup --witness`) wrote as bundles/witness/CLUSTER on the node
    /// holding the cluster CA's key. A running witness serves it once restarted.
    AddCluster {
        #[command(flatten)]
        dirs: Dirs,
        /// The directory holding the cluster's witness `ca.pem`, `node.pem`, `node.key`.
        identity: PathBuf,
    },
    /// The clusters this witness serves.
    List {
        #[command(flatten)]
        dirs: Dirs,
    },
}

#[derive(clap::Args, Debug)]
pub struct Dirs {
    /// The witness's configuration: one identity per cluster under `clusters/`.
    #[arg(long, env = "HACTL_WITNESS_DIR", default_value = DEFAULT_DIR)]
    dir: PathBuf,
}

pub fn run(c: WitnessCommand) -> Result<ExitCode> {
    match c {
        WitnessCommand::Run {
            dirs,
            listen,
            state_dir,
        } => serve(&dirs.dir, &state_dir, listen),
        WitnessCommand::AddCluster { dirs, identity } => add_cluster(&dirs.dir, &identity),
        WitnessCommand::List { dirs } => list(&dirs.dir),
    }
}

fn serve(dir: &Path, state_dir: &Path, listen: SocketAddr) -> Result<ExitCode> {
    // One thread: the witness answers a few small requests a second per cluster.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        let server = Server::bind(dir, state_dir, listen)?;
        tokio::select! {
            _ = server.run() => {}
            r = tokio::signal::ctrl_c() => r.context("waiting for a signal")?,
            _ = sigterm() => {}
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn sigterm() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot watch SIGTERM");
            std::future::pending::<()>().await;
        }
    }
}

fn add_cluster(dir: &Path, from: &Path) -> Result<ExitCode> {
    let id = NodeIdentity::load(from)
        .with_context(|| format!("the witness identity in {}", from.display()))?;
    let want = hactl_net::tls::witness_name(&id.cluster)?;
    if id.node != want {
        bail!(
            "{} holds node {} of cluster {}, not its witness ({want}): write the witness \
             identity with `hactl cluster witness add IP` where the CA key is",
            from.display(),
            id.node,
            id.cluster
        );
    }
    let target = cluster_dir(dir, &id.cluster);
    std::fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
    id.save(&target)?;
    say(format_args!(
        "cluster {} installed in {}; (re)start the witness to serve it",
        id.cluster,
        target.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn list(dir: &Path) -> Result<ExitCode> {
    let mut names: Vec<String> = load_identities(dir)?
        .into_values()
        .map(|id| id.cluster)
        .collect();
    names.sort_unstable();
    for n in names {
        say(format_args!("{n}"))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One line on stdout (a closed pipe is an error, not a panic).
fn say(line: std::fmt::Arguments<'_>) -> Result<()> {
    writeln!(std::io::stdout(), "{line}").context("writing to stdout")
}
