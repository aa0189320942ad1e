//! `hactl daemon`: runs the node daemon in the foreground (systemd starts it).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory with cluster.toml and this node's certificate and key.
    #[arg(long, env = "HACTL_CONFIG_DIR", default_value = hactl_daemon::DEFAULT_CONFIG_DIR)]
    config_dir: PathBuf,
    /// Directory for the daemon's persistent state (the Raft log and CIB snapshots).
    #[arg(long, env = "HACTL_STATE_DIR", default_value = hactl_daemon::DEFAULT_STATE_DIR)]
    state_dir: PathBuf,
    /// The local control socket.
    #[arg(long, env = "HACTL_SOCKET", default_value = hactl_daemon::DEFAULT_SOCKET)]
    socket: PathBuf,
    /// Heartbeat profile (default, fast); overrides cluster.toml's settings.
    #[arg(long)]
    profile: Option<String>,
}

/// Exit status of a daemon that refuses to start from a damaged Raft store (sysexits'
/// EX_CONFIG): hactl.service lists it in `RestartPreventExitStatus`, since restarting
/// cannot repair the store.
pub const EXIT_STORE_DAMAGED: u8 = 78;

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let r = hactl_daemon::run(hactl_daemon::DaemonConfig {
        config_dir: a.config_dir,
        state_dir: a.state_dir,
        socket: a.socket,
        profile: a.profile,
        // Agents call this binary as `crm_attribute` (see cmd::crm_attribute).
        agent_tool: std::env::current_exe().ok(),
    });
    match r {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e @ hactl_daemon::DaemonError::StoreDamaged(_)) => {
            eprintln!("error: hactl daemon: {e}");
            Ok(ExitCode::from(EXIT_STORE_DAMAGED))
        }
        Err(e) => Err(e).context("hactl daemon"),
    }
}
