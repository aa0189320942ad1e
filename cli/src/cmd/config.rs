//! `hactl config` (pcs config): the whole configuration in one listing, grouped as pcs
//! groups it. Text for reading; `--output json` for scripts (the model's own JSON of
//! each part, under the section names below).

use anyhow::Result;
use hactl_model::{Attrs, Configuration, Resource};
use std::process::ExitCode;

use crate::cmd::constraint::format_constraints;
use crate::cmd::resource_config::{format_attrs, format_resources};
use crate::cmd::stonith::list_levels;
use crate::verbs::{OutputFormat, ReadFlags, Session};

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<ConfigCommand>,
    #[command(flatten)]
    flags: ReadFlags,
}

#[derive(clap::Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the configuration as the hactl commands that recreate it on an empty
    /// cluster (`--format commands`), or as Pacemaker CIB XML (`--format xml`).
    Export(crate::cmd::config_file::ExportArgs),
    /// Write one file (mode 0600) with the configuration, cluster.toml and the
    /// cluster's public certificates (pcs config backup); private keys only with
    /// --with-keys.
    Backup(crate::cmd::config_file::BackupArgs),
    /// Replace the live configuration by a backup's (pcs config restore), if the
    /// backup is of this cluster (same name).
    Restore(crate::cmd::config_file::RestoreArgs),
}

pub fn run(a: Args) -> Result<ExitCode> {
    match a.command {
        Some(ConfigCommand::Export(e)) => crate::cmd::config_file::export(e),
        Some(ConfigCommand::Backup(b)) => crate::cmd::config_file::backup(b),
        Some(ConfigCommand::Restore(r)) => crate::cmd::config_file::restore(r),
        None => show(a.flags),
    }
}

fn show(flags: ReadFlags) -> Result<ExitCode> {
    let mut s = Session::open(flags.socket.as_deref(), flags.cib.as_deref())?;
    let cib = s.cib()?;
    match flags.output {
        OutputFormat::Json => outln!("{}", serde_json::to_string_pretty(&json(&cib.config))?),
        OutputFormat::Text => out!("{}", text(&cib)?),
    }
    Ok(ExitCode::SUCCESS)
}

fn is_stonith(r: &Resource) -> bool {
    matches!(r, Resource::Primitive(p) if p.agent.class == "stonith")
}

/// Resources (groups included) and fence devices, apart, as pcs shows them.
fn split(cfg: &Configuration) -> (Vec<&Resource>, Vec<&Resource>) {
    cfg.resources.iter().partition(|r| !is_stonith(r))
}

fn json(cfg: &Configuration) -> serde_json::Value {
    let (resources, stonith) = split(cfg);
    serde_json::json!({
        "nodes": cfg.nodes,
        "resources": resources,
        "stonith": stonith,
        "fencing_levels": cfg.fencing_levels,
        "constraints": cfg.constraints,
        "rsc_defaults": cfg.rsc_defaults,
        "op_defaults": cfg.op_defaults,
        "properties": cfg.properties,
    })
}

fn text(cib: &hactl_model::Cib) -> Result<String> {
    let cfg = &cib.config;
    let (resources, stonith) = split(cfg);
    let mut out = String::new();
    let names: Vec<&str> = cfg.nodes.iter().map(|n| n.name.as_str()).collect();
    out.push_str(&format!("Nodes: {}\n", names.join(" ")));
    out.push_str("\nResources:\n");
    out.push_str(&format_resources(&resources, "  "));
    out.push_str("\nStonith Devices:\n");
    out.push_str(&format_resources(&stonith, "  "));
    out.push_str("Fencing Levels:\n");
    if !cfg.fencing_levels.is_empty() {
        for line in list_levels(cib, OutputFormat::Text)?.lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out.push('\n');
    out.push_str(&format_constraints(&cfg.constraints, None));
    section(&mut out, "Resources Defaults", &cfg.rsc_defaults);
    section(&mut out, "Operations Defaults", &cfg.op_defaults);
    out.push_str("\nCluster Properties:\n");
    for (k, v) in &cfg.properties {
        out.push_str(&format!("  {k}: {v}\n"));
    }
    Ok(out)
}

fn section(out: &mut String, title: &str, attrs: &Attrs) {
    out.push_str(&format!("\n{title}:\n"));
    if attrs.is_empty() {
        out.push_str("  No defaults set\n");
    } else {
        out.push_str(&format!("  {}\n", format_attrs(attrs)));
    }
}
