//! `hactl status`: a crm_mon-like one-shot view — nodes, DC, quorum, where each
//! resource runs, move/ban constraints, failed actions, fail counts, and what the
//! cluster still has to do. The rendering is `hactl-view`'s, shared with `hactl mon`.

use anyhow::Result;
use hactl_view::{DaemonView, Sections, Snapshot, View};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::verbs::Session;

/// `--output` of `hactl status`: crm_mon's text, a documented JSON document
/// (docs/status-json.md), or crm_mon's `--output-as=xml`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StatusOutput {
    #[default]
    Text,
    Json,
    Xml,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The local daemon's control socket.
    #[arg(long, env = "HACTL_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Read this CIB file (JSON, or Pacemaker XML) instead of asking the cluster.
    #[arg(long, value_name = "FILE")]
    pub cib: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = StatusOutput::Text)]
    pub output: StatusOutput,
    /// Group resources by node (crm_mon -n; text output).
    #[arg(short = 'n', long = "group-by-node")]
    pub by_node: bool,
    /// Also list inactive resources on their own (crm_mon -r; text output).
    #[arg(short = 'r', long)]
    pub inactive: bool,
}

/// Reads one snapshot from the daemon (or a CIB file) and reads it through the
/// scheduler.
pub fn view(socket: Option<&Path>, cib: Option<&Path>) -> Result<View> {
    let mut s = Session::open(socket, cib)?;
    let daemon = s.status()?;
    let cib = s.cib()?;
    let now = s.now(&cib);
    Ok(View::new(Snapshot {
        cib,
        daemon: daemon.as_ref().map(DaemonView::from),
        now,
    })?)
}

pub fn run(a: Args) -> Result<ExitCode> {
    let v = view(a.socket.as_deref(), a.cib.as_deref())?;
    match a.output {
        StatusOutput::Json => outln!("{}", v.json()?),
        StatusOutput::Xml => out!("{}", hactl_view::xml::render(&v)?),
        StatusOutput::Text => {
            let s = Sections {
                by_node: a.by_node,
                inactive: a.inactive,
                ..Sections::STATUS
            };
            out!("{}", hactl_view::text::render(&v, &s))
        }
    }
    Ok(ExitCode::SUCCESS)
}
