//! `hactl resource history` (each resource's recorded operations with rc, times and
//! durations, from the CIB status) and `hactl cluster history` (the DC's last
//! transitions: why, what was planned, what ran, how long; kept in the replicated
//! status, bounded by the property `transition-history-limit`). The rendering is
//! `hactl-view`'s (`hactl_view::history`).

use anyhow::Result;
use hactl_view::history;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::verbs::{OutputFormat, Session};

#[derive(clap::Args, Debug)]
pub struct ResourceHistoryArgs {
    /// Only this resource (a group or clone: its members).
    resource: Option<String>,
    /// Only this node.
    #[arg(long, value_name = "NODE")]
    node: Option<String>,
    /// Read this CIB file (JSON, or Pacemaker XML) instead of asking the cluster.
    #[arg(long, value_name = "FILE")]
    cib: Option<PathBuf>,
    /// The local daemon's control socket.
    #[arg(long, env = "HACTL_SOCKET", value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

#[derive(clap::Args, Debug)]
pub struct ClusterHistoryArgs {
    /// Only the last N transitions (default: every one kept).
    #[arg(short = 'n', long = "last", value_name = "N")]
    last: Option<usize>,
    /// Read this CIB file (hactl JSON) instead of asking the cluster.
    #[arg(long, value_name = "FILE")]
    cib: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

pub fn resource(a: ResourceHistoryArgs) -> Result<ExitCode> {
    let cib = Session::open(a.socket.as_deref(), a.cib.as_deref())?.cib()?;
    let ops = history::resource_history(&cib, a.resource.as_deref(), a.node.as_deref())?;
    match a.output {
        OutputFormat::Json => outln!("{}", history::json("operations", &ops)?),
        OutputFormat::Text => out!("{}", history::resource_history_text(&ops)),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn cluster(socket: &Path, a: ClusterHistoryArgs) -> Result<ExitCode> {
    let socket = a.cib.is_none().then_some(socket);
    let cib = Session::open(socket, a.cib.as_deref())?.cib()?;
    let records = history::last_transitions(&cib, a.last);
    match a.output {
        OutputFormat::Json => outln!("{}", history::json("transitions", &records)?),
        OutputFormat::Text => out!("{}", history::transitions_text(records)),
    }
    Ok(ExitCode::SUCCESS)
}
