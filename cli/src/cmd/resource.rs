//! `hactl resource`: agent discovery (pcs's `resource standards | providers | agents |
//! describe`), answered on this machine by the executor library, like pcs does.

use anyhow::{anyhow, bail, Context, Result};
use hactl_exec::{AgentSpec, Class, ExecConfig, Executor};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum ResourceCommand {
    /// List the resource classes available here (ocf, lsb, service, systemd).
    Standards(DiscoveryArgs),
    /// List the OCF providers (heartbeat, pacemaker, hactl, ...).
    Providers(DiscoveryArgs),
    /// List agents, optionally of one class or OCF provider: `ocf`, `ocf:heartbeat`,
    /// `systemd`, `lsb`, `service`.
    Agents {
        /// CLASS or CLASS:PROVIDER
        filter: Option<String>,
        #[command(flatten)]
        args: DiscoveryArgs,
    },
    /// Show an agent's parameters and default operations (from its meta-data).
    Describe {
        /// ocf:PROVIDER:TYPE, systemd:UNIT, lsb:SCRIPT, service:NAME, or an OCF type
        /// alone (IPaddr2) when one provider has it.
        agent: String,
        #[command(flatten)]
        args: DiscoveryArgs,
    },
    /// Operation history with rc, times and durations, from the CIB status: every
    /// resource, or RESOURCE (a group or clone: its members); `--node` for one node.
    History(super::history::ResourceHistoryArgs),
    /// create, delete, update, enable, disable, move, ... (cmd::resource_config).
    #[command(flatten)]
    Config(super::resource_config::ResourceConfigCommand),
}

#[derive(clap::Args, Debug)]
pub struct DiscoveryArgs {
    /// OCF_ROOT to search.
    #[arg(long, env = "HACTL_OCF_ROOT", default_value = "/usr/lib/ocf")]
    ocf_root: PathBuf,
    /// Directory of LSB init scripts.
    #[arg(long, env = "HACTL_INITD_DIR", default_value = "/etc/init.d")]
    initd_dir: PathBuf,
    /// D-Bus address of systemd's bus.
    #[arg(
        long,
        env = "HACTL_SYSTEMD_BUS",
        default_value = "unix:path=/run/dbus/system_bus_socket"
    )]
    systemd_bus: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    Text,
    Json,
}

fn executor(a: &DiscoveryArgs) -> Executor {
    let cfg = ExecConfig {
        ocf_root: a.ocf_root.clone(),
        initd_dir: a.initd_dir.clone(),
        systemd_bus: a.systemd_bus.clone(),
        ..ExecConfig::default()
    };
    Executor::new(cfg).0
}

fn print_list(items: &[String], output: Output) -> Result<()> {
    match output {
        Output::Json => outln!("{}", serde_json::to_string_pretty(items)?),
        Output::Text => {
            for i in items {
                outln!("{i}");
            }
        }
    }
    Ok(())
}

fn parse_class(s: &str) -> Result<Class> {
    Class::ALL
        .into_iter()
        .find(|c| c.as_str() == s)
        .ok_or_else(|| anyhow!("unknown class '{s}' (expected ocf, lsb, service or systemd)"))
}

/// `IPaddr2` → `ocf:heartbeat:IPaddr2` when exactly one provider has it.
async fn resolve_agent(exec: &Executor, name: &str) -> Result<AgentSpec> {
    if name.contains(':') {
        return Ok(AgentSpec::parse(name)?);
    }
    let all = exec.agents(Some(Class::Ocf), None).await?;
    let found: Vec<&String> = all
        .iter()
        .filter(|a| a.rsplit(':').next() == Some(name))
        .collect();
    match found.as_slice() {
        [one] => Ok(AgentSpec::parse(one)?),
        [] => bail!("agent '{name}' is not installed (no OCF provider has it)"),
        many => bail!(
            "agent '{name}' is ambiguous; use one of: {}",
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `resource create`'s agent: a full name as given, an OCF type alone (`IPaddr2`)
/// resolved as `describe` does.
pub(crate) fn resolve_agent_name(name: &str) -> Result<String> {
    if name.contains(':') {
        return Ok(name.to_string());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let exec = Executor::new(ExecConfig::default()).0;
    Ok(rt.block_on(resolve_agent(&exec, name))?.to_string())
}

pub fn run(cmd: ResourceCommand) -> Result<ExitCode> {
    // The configuration verbs are synchronous and start their own runtime if needed.
    let cmd = match cmd {
        ResourceCommand::Config(c) => return super::resource_config::run(c),
        ResourceCommand::History(a) => return super::history::resource(a),
        other => other,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        match cmd {
            ResourceCommand::Standards(a) => {
                let v: Vec<String> = executor(&a)
                    .standards()
                    .await
                    .iter()
                    .map(|c| c.to_string())
                    .collect();
                print_list(&v, a.output)?;
            }
            ResourceCommand::Providers(a) => print_list(&executor(&a).providers(), a.output)?,
            ResourceCommand::Agents { filter, args } => {
                let exec = executor(&args);
                let (class, provider) = match filter.as_deref() {
                    None => (None, None),
                    Some(f) => match f.split_once(':') {
                        Some((c, p)) => {
                            let c = parse_class(c)?;
                            if c != Class::Ocf {
                                bail!("only ocf agents have providers ('{f}')");
                            }
                            (Some(c), Some(p.to_string()))
                        }
                        None => (Some(parse_class(f)?), None),
                    },
                };
                let v = exec.agents(class, provider.as_deref()).await?;
                print_list(&v, args.output)?;
            }
            ResourceCommand::Describe { agent, args } => {
                let exec = executor(&args);
                let spec = resolve_agent(&exec, &agent).await?;
                let md = exec.metadata(&spec).await?;
                match args.output {
                    Output::Json => outln!("{}", serde_json::to_string_pretty(&md)?),
                    Output::Text => out!("{}", md.render(&spec.to_string())),
                }
            }
            ResourceCommand::Config(_) | ResourceCommand::History(_) => {
                unreachable!("handled before the runtime starts")
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
