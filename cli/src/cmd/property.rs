//! `hactl property set|unset|list`: cluster properties (`stonith-enabled`,
//! `no-quorum-policy`, …). Values are checked by the model before anything is sent.

use anyhow::{bail, Context, Result};
use hactl_model::change::Change;
use hactl_model::{Cib, ClusterOptions, KNOWN_PROPERTIES};
use std::process::ExitCode;

use crate::cmd::resource_config::simple;
use crate::verbs::args::parse_kv;
use crate::verbs::{ChangeFlags, OutputFormat, Plan, ReadFlags, Session};

#[derive(clap::Subcommand, Debug)]
pub enum PropertyCommand {
    /// Set properties: NAME=VALUE... (`NAME=` unsets).
    Set {
        /// NAME=VALUE... (see `property list --all` for the names).
        #[arg(required = true)]
        assignments: Vec<String>,
        /// Allow property names hactl does not know.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// Remove properties (back to their defaults).
    Unset {
        /// Property names.
        #[arg(required = true)]
        names: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// Properties that are set (`--all`: every known property).
    #[command(alias = "config", alias = "show")]
    List {
        /// Also list the properties that are not set, with their default values.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        flags: ReadFlags,
    },
}

pub fn run(c: PropertyCommand) -> Result<ExitCode> {
    match c {
        PropertyCommand::Set {
            assignments,
            force,
            flags,
        } => simple(&flags, |cib| set_plan(cib, &assignments, force))?,
        PropertyCommand::Unset { names, flags } => simple(&flags, |cib| unset_plan(cib, &names))?,
        PropertyCommand::List { all, flags } => {
            let mut s = Session::open(flags.socket.as_deref(), flags.cib.as_deref())?;
            let cib = s.cib()?;
            list(&cib, all, flags.output)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn set_plan(cib: &Cib, assignments: &[String], force: bool) -> Result<Plan> {
    let mut changes = Vec::new();
    for a in assignments {
        let (k, v) = parse_kv(a).context("property")?;
        if k == "have-watchdog" && !v.is_empty() {
            // The DC ignores it: only what the daemons armed counts (watchdog.rs in
            // hactl-controller).
            bail!(
                "have-watchdog is not set by hand: the cluster has a watchdog when every \
                 node's daemon armed one (settings.watchdog in cluster.toml)"
            );
        }
        if !force && !KNOWN_PROPERTIES.contains(&k.as_str()) {
            bail!(
                "unknown property {k:?} (known: {}; --force sets it anyway)",
                KNOWN_PROPERTIES.join(", ")
            );
        }
        if v.is_empty() {
            if cib.config.properties.contains_key(&k) {
                changes.push(Change::UnsetProperty { name: k });
            }
        } else {
            changes.push(Change::SetProperty { name: k, value: v });
        }
    }
    let mut p = Plan::new(format!("set {}", assignments.join(" ")), changes);
    // A property can stop or start everything (stop-all-resources, maintenance-mode).
    p.moves_things = true;
    Ok(p)
}

pub fn unset_plan(cib: &Cib, names: &[String]) -> Result<Plan> {
    for n in names {
        if !cib.config.properties.contains_key(n) {
            bail!("property {n:?} is not set");
        }
    }
    Ok(Plan::new(
        format!("unset {}", names.join(" ")),
        names
            .iter()
            .map(|n| Change::UnsetProperty { name: n.clone() })
            .collect(),
    ))
}

fn list(cib: &Cib, all: bool, output: OutputFormat) -> Result<()> {
    let props = &cib.config.properties;
    if output == OutputFormat::Json {
        let mut v = serde_json::Map::new();
        v.insert("properties".into(), serde_json::to_value(props)?);
        if all {
            v.insert("known".into(), serde_json::to_value(KNOWN_PROPERTIES)?);
            v.insert(
                "effective".into(),
                serde_json::to_value(cib.config.options()?)?,
            );
        }
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    out!("{}", list_text(cib, all));
    Ok(())
}

/// The text of `property list`: what is set, and with `all` every other known
/// property with its default value.
fn list_text(cib: &Cib, all: bool) -> String {
    let props = &cib.config.properties;
    let mut s = String::from("Cluster Properties:\n");
    for (k, v) in props {
        s.push_str(&format!("  {k}: {v}\n"));
    }
    if all {
        let defaults = ClusterOptions::default();
        for k in KNOWN_PROPERTIES.iter().filter(|k| !props.contains_key(**k)) {
            let v = defaults.property_value(k).unwrap_or_default();
            s.push_str(&format!("  {k}: {v} (default)\n"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_all_shows_default_values() {
        let mut cib = Cib::default();
        cib.config
            .properties
            .insert("stonith-enabled".into(), "false".into());
        let text = list_text(&cib, true);
        assert!(text.contains("  stonith-enabled: false\n"), "{text}");
        assert!(text.contains("  stonith-timeout: 1m (default)\n"), "{text}");
        assert!(
            text.contains("  no-quorum-policy: stop (default)\n"),
            "{text}"
        );
        assert!(!text.contains(": (default)"), "{text}");
        assert!(!list_text(&cib, false).contains("(default)"));
    }

    #[test]
    fn set_unset_and_bad_values() {
        let mut cib = Cib::default();
        let p = set_plan(&cib, &["stonith-enabled=false".into()], false).unwrap();
        p.change().apply(&mut cib).unwrap();
        assert_eq!(cib.config.properties["stonith-enabled"], "false");
        let e = set_plan(&cib, &["stonith-enable=false".into()], false).unwrap_err();
        assert!(e.to_string().contains("unknown property"), "{e}");
        // The cluster's own, even forced: the DC would ignore it.
        let e = set_plan(&cib, &["have-watchdog=true".into()], true).unwrap_err();
        assert!(e.to_string().contains("armed"), "{e}");
        // The model checks the value.
        let p = set_plan(&cib, &["no-quorum-policy=dance".into()], false).unwrap();
        assert!(p.change().apply(&mut cib).is_err());
        let p = set_plan(&cib, &["stonith-enabled=".into()], false).unwrap();
        p.change().apply(&mut cib).unwrap();
        assert!(cib.config.properties.is_empty());
        assert!(unset_plan(&cib, &["stonith-enabled".into()]).is_err());
    }
}
