//! `hactl cib pull FILE` and `hactl cib push FILE` (pcs cluster cib / cib-push,
//! `cibadmin --query` / `--replace`): take the live configuration into a file, edit
//! it, and put it back as one committed change.
//!
//! The pulled file carries the epoch it was taken at; a push names that epoch in the
//! change ([`Change::ReplaceConfiguration`]) and the change is refused at commit if
//! the live configuration moved on since (an edit made in between would be lost).
//! The check is in the replicated change itself, so two pushes from the same pull
//! cannot both win.

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use hactl_model::change::Change;
use hactl_model::replace::{foreign_nodes, merged_nodes};
use hactl_model::{Cib, Configuration};

use crate::cmd::cib::load_for_cluster;
use crate::cmd::config_diff::diff;
use crate::verbs::{ChangeFlags, Plan, Session};

/// The format `cib pull` writes.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PullFormat {
    /// hactl's own (JSON), what `cib push` reads back without loss.
    #[default]
    Json,
    /// Pacemaker CIB XML.
    Xml,
}

#[derive(clap::Args, Debug)]
pub struct PullArgs {
    /// Where to write the configuration (created with mode 0600: device parameters
    /// may hold passwords).
    file: PathBuf,
    /// The file's format.
    #[arg(long, value_enum, default_value_t = PullFormat::Json)]
    format: PullFormat,
    /// The local daemon's control socket.
    #[arg(long, env = "HACTL_SOCKET", value_name = "PATH")]
    socket: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct PushArgs {
    /// The new configuration: hactl JSON (from `cib pull`) or Pacemaker CIB XML.
    file: PathBuf,
    /// Print how the configuration would change, item by item, and change nothing.
    #[arg(long)]
    diff: bool,
    /// Replace even if the live configuration changed since FILE was taken (its epoch
    /// differs), e.g. for a CIB pulled from another cluster.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    flags: ChangeFlags,
}

/// A configuration-only copy of `cib` (status is the cluster's, not the operator's).
pub fn config_only(cib: &Cib) -> Cib {
    Cib {
        epoch: cib.epoch,
        config: cib.config.clone(),
        ..Default::default()
    }
}

/// Writes `text` to `path`, readable by the owner only.
pub fn write_private(path: &Path, text: &[u8]) -> Result<()> {
    write_mode(path, text, 0o600)
}

/// Writes `text` to `path` with permissions `mode` (also when the file existed).
pub fn write_mode(path: &Path, text: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.set_permissions(std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the mode of {}", path.display()))?;
    f.write_all(text)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

pub fn pull(a: PullArgs) -> Result<ExitCode> {
    let mut s = Session::open(a.socket.as_deref(), None)?;
    let cib = config_only(&s.cib()?);
    let text = match a.format {
        PullFormat::Json => serde_json::to_string_pretty(&cib)? + "\n",
        PullFormat::Xml => hactl_cib_xml::export(&cib),
    };
    write_private(&a.file, text.as_bytes())?;
    eprintln!(
        "configuration at epoch {} written to {}",
        cib.epoch,
        a.file.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn push(a: PushArgs) -> Result<ExitCode> {
    let file = load_for_cluster(&a.file, None)?;
    if let Err(errs) = file.config.validate() {
        for e in &errs {
            eprintln!("{}: {e}", a.file.display());
        }
        bail!(
            "{}: {} problem(s) found; nothing was changed",
            a.file.display(),
            errs.len()
        );
    }
    let mut s = Session::open(a.flags.socket.as_deref(), a.flags.cib.as_deref())?;
    let live = s.cib()?;
    if !a.force && file.epoch != live.epoch {
        bail!(
            "{}: taken at epoch {}, the live configuration is at epoch {}: it changed \
             since. Pull it again and redo the edit, or --force to replace it anyway \
             (nothing was changed)",
            a.file.display(),
            file.epoch,
            live.epoch
        );
    }
    let foreign = foreign_nodes(&live.config.nodes, &file.config.nodes);
    if !foreign.is_empty() {
        eprintln!(
            "note: nodes {} are not in this cluster: their settings are left out \
             (membership changes with `hactl cluster node add/remove`)",
            foreign.join(", ")
        );
    }
    if a.diff {
        print_diff(&live.config, &file.config);
        if !a.flags.dry_run {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let change = Change::ReplaceConfiguration {
        config: Box::new(file.config),
        expected_epoch: (!a.force).then_some(file.epoch),
    };
    let plan = Plan::new(format!("cib push {}", a.file.display()), vec![change]);
    s.submit(&a.flags, &live, &plan)?;
    Ok(ExitCode::SUCCESS)
}

fn print_diff(live: &Configuration, file: &Configuration) {
    let mut new = file.clone();
    new.nodes = merged_nodes(&live.nodes, &file.nodes);
    let lines = diff(live, &new);
    if lines.is_empty() {
        outln!("no change to the configuration");
    }
    for l in lines {
        outln!("{l}");
    }
}
