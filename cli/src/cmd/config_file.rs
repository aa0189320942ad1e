//! `hactl config export`, `config backup` and `config restore`: the configuration
//! as a file an operator keeps.
//!
//! A backup is one JSON file (mode 0600): the configuration with its epoch, the
//! config dir's cluster.toml and public certificates, and the private keys only with
//! `--with-keys`. Their contents are never printed or logged. A restore replaces the
//! live configuration as one change (as `cib push --force`), after checking that the
//! backup is of this cluster (by name).

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use hactl_model::change::Change;
use hactl_model::Cib;
use hactl_net::config::{ClusterConfig, CLUSTER_CONFIG_FILE, DEFAULT_CONFIG_DIR};
use hactl_net::pki::{CA_CERT_FILE, CA_KEY_FILE, NODE_CERT_FILE, NODE_KEY_FILE};

use crate::cmd::cib_push::{config_only, write_mode, write_private};
use crate::cmd::config_export::commands;
use crate::verbs::session::unix_now;
use crate::verbs::{ChangeFlags, Plan, Session};

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

/// What `config backup` writes: one JSON document.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Backup {
    /// The backup format (this build writes and reads [`BACKUP_FORMAT`]).
    pub hactl_backup: u32,
    pub cluster_name: String,
    /// Seconds since the Unix epoch when it was taken.
    pub taken_at: i64,
    /// The configuration, and the epoch it was at (no status).
    pub cib: Cib,
    /// The config dir's `cluster.toml`, as it was.
    pub cluster_toml: String,
    /// Public certificates by file name (`ca.pem`, `node.pem`).
    pub certificates: BTreeMap<String, String>,
    /// Private keys by file name: only with `--with-keys`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub private_keys: BTreeMap<String, String>,
}

pub const BACKUP_FORMAT: u32 = 1;

#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    /// The backup file to write (mode 0600).
    file: PathBuf,
    /// Include the private keys (ca.key, node.key): whoever reads the file can then
    /// join or impersonate nodes of the cluster.
    #[arg(long)]
    with_keys: bool,
    /// Config dir holding cluster.toml and the certificates.
    #[arg(long, env = "HACTL_CONFIG_DIR", default_value = DEFAULT_CONFIG_DIR)]
    dir: PathBuf,
    /// The local daemon's control socket.
    #[arg(long, env = "HACTL_SOCKET", value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Back up this CIB file's configuration instead of the cluster's.
    #[arg(long, value_name = "FILE")]
    cib: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    /// A file written by `hactl config backup`.
    file: PathBuf,
    /// Restore even if the backup is of another cluster (its name differs from
    /// cluster.toml's here), and overwrite differing files with --files.
    #[arg(long)]
    force: bool,
    /// Also write the backup's cluster.toml, certificates (and keys, if it has them)
    /// into the config dir: missing files are written, identical ones left alone.
    #[arg(long)]
    files: bool,
    /// Config dir holding cluster.toml and the certificates.
    #[arg(long, env = "HACTL_CONFIG_DIR", default_value = DEFAULT_CONFIG_DIR)]
    dir: PathBuf,
    #[command(flatten)]
    flags: ChangeFlags,
}

fn read_dir_file(dir: &Path, name: &str) -> Result<String> {
    let p = dir.join(name);
    std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))
}

pub fn backup(a: BackupArgs) -> Result<ExitCode> {
    let cluster_toml = read_dir_file(&a.dir, CLUSTER_CONFIG_FILE)?;
    let cluster = ClusterConfig::load(&a.dir.join(CLUSTER_CONFIG_FILE))?;
    let mut certificates = BTreeMap::new();
    for name in [CA_CERT_FILE, NODE_CERT_FILE] {
        if a.dir.join(name).exists() {
            certificates.insert(name.to_string(), read_dir_file(&a.dir, name)?);
        }
    }
    let mut private_keys = BTreeMap::new();
    if a.with_keys {
        for name in [CA_KEY_FILE, NODE_KEY_FILE] {
            if a.dir.join(name).exists() {
                private_keys.insert(name.to_string(), read_dir_file(&a.dir, name)?);
            }
        }
        eprintln!(
            "warning: {} holds the private keys {}: whoever can read it can join or \
             impersonate nodes of cluster {}; keep it as safe as the keys",
            a.file.display(),
            private_keys.keys().cloned().collect::<Vec<_>>().join(", "),
            cluster.name
        );
    }
    let cib = config_only(&Session::open(a.socket.as_deref(), a.cib.as_deref())?.cib()?);
    let b = Backup {
        hactl_backup: BACKUP_FORMAT,
        cluster_name: cluster.name,
        taken_at: unix_now(),
        cib,
        cluster_toml,
        certificates,
        private_keys,
    };
    write_private(
        &a.file,
        (serde_json::to_string_pretty(&b)? + "\n").as_bytes(),
    )?;
    eprintln!(
        "cluster {} backed up to {} (configuration at epoch {}{})",
        b.cluster_name,
        a.file.display(),
        b.cib.epoch,
        if a.with_keys {
            ", with private keys"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn load_backup(path: &Path) -> Result<Backup> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let b: Backup = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a hactl backup", path.display()))?;
    if b.hactl_backup != BACKUP_FORMAT {
        bail!(
            "{}: backup format {} (this hactl reads {BACKUP_FORMAT})",
            path.display(),
            b.hactl_backup
        );
    }
    Ok(b)
}

/// Refuses a backup of another cluster (or when this one's name is unknown).
fn check_name(b: &Backup, dir: &Path, force: bool) -> Result<()> {
    let here = ClusterConfig::load(&dir.join(CLUSTER_CONFIG_FILE)).map(|c| c.name);
    match here {
        Ok(name) if name == b.cluster_name => Ok(()),
        _ if force => Ok(()),
        Ok(name) => bail!(
            "the backup is of cluster {:?}, this is cluster {name:?}: nothing restored \
             (--force restores it anyway)",
            b.cluster_name
        ),
        Err(e) => bail!(
            "cannot tell which cluster this is ({e:#}): nothing restored (--force \
             restores the backup of cluster {:?} anyway)",
            b.cluster_name
        ),
    }
}

/// Writes the backup's files into `dir`: missing ones, never a differing one
/// without `force`. Keys 0600, the rest 0644.
fn restore_files(b: &Backup, dir: &Path, force: bool) -> Result<()> {
    let mut files: Vec<(&str, &str, u32)> = vec![(CLUSTER_CONFIG_FILE, &b.cluster_toml, 0o644)];
    files.extend(
        b.certificates
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str(), 0o644)),
    );
    files.extend(
        b.private_keys
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str(), 0o600)),
    );
    for (name, _, _) in &files {
        if name.contains('/') || name.starts_with('.') {
            bail!("the backup names a file {name:?} outside the config dir: nothing restored");
        }
        let p = dir.join(name);
        if !force
            && p.exists()
            && std::fs::read_to_string(&p).ok().as_deref() != Some(files_text(&files, name))
        {
            bail!(
                "{} differs from the backup's: nothing restored (--force overwrites)",
                p.display()
            );
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, text, mode) in files {
        let p = dir.join(name);
        write_mode(&p, text.as_bytes(), mode)?;
        eprintln!("restored {}", p.display());
    }
    Ok(())
}

fn files_text<'a>(files: &[(&str, &'a str, u32)], name: &str) -> &'a str {
    files.iter().find(|f| f.0 == name).map_or("", |f| f.1)
}

pub fn restore(a: RestoreArgs) -> Result<ExitCode> {
    let b = load_backup(&a.file)?;
    check_name(&b, &a.dir, a.force)?;
    if a.files && !a.flags.dry_run {
        restore_files(&b, &a.dir, a.force)?;
    }
    let mut s = Session::open(a.flags.socket.as_deref(), a.flags.cib.as_deref())?;
    let live = s.cib()?;
    let plan = Plan::new(
        format!(
            "restore {} (cluster {}, epoch {})",
            a.file.display(),
            b.cluster_name,
            b.cib.epoch
        ),
        vec![Change::ReplaceConfiguration {
            config: Box::new(b.cib.config),
            expected_epoch: None,
        }],
    );
    s.submit(&a.flags, &live, &plan)?;
    Ok(ExitCode::SUCCESS)
}
