//! `hactl config export` (and, later in this file, backup and restore): the
//! configuration as a file an operator keeps.

use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::cmd::cib_push::config_only;
use crate::cmd::config_export::commands;
use crate::verbs::Session;

/// What `config export` prints.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// The hactl commands that recreate the configuration (a shell script).
    Commands,
    /// Pacemaker CIB XML (configuration only).
    Xml,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Output format.
    #[arg(long, value_enum)]
    format: ExportFormat,
    /// The local daemon's control socket.
    #[arg(long, env = "HACTL_SOCKET", value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Export this CIB file (JSON, or Pacemaker XML) instead of the cluster's.
    #[arg(long, value_name = "FILE")]
    cib: Option<PathBuf>,
}

pub fn export(a: ExportArgs) -> Result<ExitCode> {
    let cib = Session::open(a.socket.as_deref(), a.cib.as_deref())?.cib()?;
    match a.format {
        ExportFormat::Xml => out!("{}", hactl_cib_xml::export(&config_only(&cib))),
        ExportFormat::Commands => {
            let script = commands(&cib.config);
            for n in &script.notes {
                eprintln!("warning: {n}");
            }
            out!("{}", script.text(cib.epoch));
        }
    }
    Ok(ExitCode::SUCCESS)
}
