//! `hactl cib …`: offline work on CIB files — import Pacemaker XML into our JSON
//! model, validate either format, generate large synthetic CIBs for benchmarks — and
//! taking the live configuration into a file and putting one back (`pull`, `push`,
//! in [`crate::cmd::cib_push`]).

use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use hactl_model::Cib;

#[derive(clap::Subcommand, Debug)]
pub enum CibCommand {
    /// Write the live configuration (and the epoch it is at) to FILE (pcs cluster cib,
    /// cibadmin --query).
    Pull(crate::cmd::cib_push::PullArgs),
    /// Replace the live configuration by FILE's, as one change (pcs cluster cib-push,
    /// cibadmin --replace): refused if the live configuration changed since FILE was
    /// pulled. Resources FILE no longer has are stopped.
    Push(crate::cmd::cib_push::PushArgs),
    /// Convert a Pacemaker CIB (XML) to hactl's model (JSON).
    Import {
        /// Pacemaker CIB, e.g. from `cibadmin --query` or `pcs cluster cib`.
        file: PathBuf,
        /// Write the JSON here instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Check a CIB file's structure (ids, references, values) and print every
    /// problem found; exit 1 on problems. `hactl cluster verify --cib FILE` also
    /// checks what the cluster would do with it (crm_verify's checks and hactl's).
    Validate {
        /// A Pacemaker CIB (XML) or a hactl CIB (JSON).
        file: PathBuf,
    },
    /// Generate a large synthetic Pacemaker CIB (for benchmarks): Dummy resources in
    /// groups of 4 with location/colocation/order constraints, half of them running,
    /// some nodes in standby.
    Generate {
        /// Number of nodes.
        #[arg(long)]
        nodes: usize,
        /// Number of Dummy resources.
        #[arg(long)]
        resources: usize,
        /// Also this many anonymous clones of a Dummy (one instance per node), half
        /// of them running.
        #[arg(long, default_value_t = 0)]
        clones: usize,
        /// Seed of the generator: the same seed gives the same CIB.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write the XML here instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

/// Which reader a CIB file needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CibFormat {
    PacemakerXml,
    Json,
}

/// Reads a CIB file in the given format, or guessed from its first character.
pub fn load(path: &Path, format: Option<CibFormat>) -> anyhow::Result<Cib> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    load_text(path, &text, format)
}

/// [`load`] for a running cluster (`cib push`, `cib import`): a Pacemaker CIB
/// whose meaning the import would only keep for this one file is refused.
pub fn load_for_cluster(path: &Path, format: Option<CibFormat>) -> anyhow::Result<Cib> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let cib = load_text(path, &text, format)?;
    if text.trim_start().starts_with('<') {
        if let Some(e) = hactl_cib_xml::rsc_pattern_cluster_refusal(&text)? {
            anyhow::bail!("{}: {e}", path.display());
        }
    }
    Ok(cib)
}

fn load_text(path: &Path, text: &str, format: Option<CibFormat>) -> anyhow::Result<Cib> {
    let format = format.unwrap_or_else(|| {
        if text.trim_start().starts_with('<') {
            CibFormat::PacemakerXml
        } else {
            CibFormat::Json
        }
    });
    match format {
        CibFormat::PacemakerXml => hactl_cib_xml::import(text)
            .with_context(|| format!("{}: cannot import Pacemaker CIB", path.display())),
        CibFormat::Json => serde_json::from_str(text)
            .with_context(|| format!("{}: not a hactl CIB (JSON)", path.display())),
    }
}

fn write_out(output: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match output {
        Some(p) => std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display())),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .unwrap_or_else(|e| crate::stdout_failed(e));
            Ok(())
        }
    }
}

pub fn run(c: CibCommand) -> anyhow::Result<ExitCode> {
    match c {
        CibCommand::Pull(a) => crate::cmd::cib_push::pull(a),
        CibCommand::Push(a) => crate::cmd::cib_push::push(a),
        CibCommand::Import { file, output } => {
            let cib = load_for_cluster(&file, Some(CibFormat::PacemakerXml))?;
            // What `cib import` writes is meant for a cluster (`cib push`), which
            // cannot run these: say so now rather than at the push.
            if let Some(e) = hactl_model::remote::refusal_in_cluster(&cib.config) {
                anyhow::bail!("{}: {e}", file.display());
            }
            let mut json = serde_json::to_string_pretty(&cib)?;
            json.push('\n');
            write_out(output.as_deref(), &json)?;
            Ok(ExitCode::SUCCESS)
        }
        CibCommand::Validate { file } => {
            let cib = load(&file, None)?;
            match cib.config.validate() {
                Ok(()) => {
                    let c = &cib.config;
                    let k = &c.constraints;
                    outln!(
                        "{}: valid ({} nodes, {} resources, {} constraints)",
                        file.display(),
                        c.nodes.len(),
                        c.resources
                            .iter()
                            .map(|r| r.primitives().count())
                            .sum::<usize>(),
                        k.location.len() + k.colocation.len() + k.order.len()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(errs) => {
                    for e in &errs {
                        outln!("{}: {e}", file.display());
                    }
                    eprintln!("{}: {} problem(s) found", file.display(), errs.len());
                    Ok(ExitCode::from(1))
                }
            }
        }
        CibCommand::Generate {
            nodes,
            resources,
            clones,
            seed,
            output,
        } => {
            anyhow::ensure!(nodes >= 1, "--nodes must be at least 1");
            let mut cib = hactl_cib_xml::generate::large_cib_model(nodes, resources, seed);
            hactl_cib_xml::generate::add_clones(&mut cib, clones);
            let xml = hactl_cib_xml::export(&cib);
            write_out(output.as_deref(), &xml)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
