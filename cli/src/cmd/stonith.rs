//! `hactl stonith`: fence agents and devices. The offline discovery commands live
//! here: `agents` (like `stonith_admin -I`) and `describe AGENT` (like
//! `stonith_admin -M -a AGENT`, rendered as help).

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use hactl_fence::agent_api::{self, AgentCommand, AgentResult};
use hactl_fence::metadata;
use std::process::ExitCode;
use std::time::Duration;

/// The native fence_xvm agent built with hactl.
const OUR_XVM: &str = "fence_hactl_xvm";

#[derive(Subcommand, Debug)]
pub enum StonithCommand {
    /// List the installed fence agents (stonith_admin -I).
    Agents {
        /// Show where each agent is installed.
        #[arg(long)]
        paths: bool,
    },
    /// Describe a fence agent's parameters (stonith_admin -M -a AGENT).
    Describe {
        /// Agent name, e.g. fence_xvm.
        agent: String,
        /// Print the agent's metadata XML as is.
        #[arg(long)]
        xml: bool,
    },
}

pub fn run(cmd: StonithCommand) -> Result<ExitCode> {
    match cmd {
        StonithCommand::Agents { paths } => {
            let mut agents = agent_api::list_agents();
            if !agents.iter().any(|(n, _)| n == OUR_XVM) {
                // Built into hactl even when the executable is not installed alongside.
                agents.push((OUR_XVM.to_string(), "(built in)".into()));
                agents.sort();
            }
            for (name, path) in &agents {
                if paths {
                    println!("{name}\t{}", path.display());
                } else {
                    println!("{name}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        StonithCommand::Describe { agent, xml } => {
            let text = agent_metadata(&agent)?;
            if xml {
                print!("{text}");
            } else {
                let md = metadata::parse(&text)
                    .with_context(|| format!("{agent} printed unusable metadata"))?;
                print!("{}", md.render_help());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The agent's `action=metadata` output.
fn agent_metadata(agent: &str) -> Result<String> {
    let path = match agent_api::resolve_agent(agent) {
        Ok(p) => p,
        Err(_) if agent == OUR_XVM => return Ok(hactl_fence::xvm::options::METADATA.to_string()),
        Err(e) => return Err(e.into()),
    };
    let mut cmd = AgentCommand::new(path, "metadata");
    cmd.timeout = Duration::from_secs(10);
    cmd.retries = 0;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let out = rt.block_on(agent_api::run(&cmd));
    if out.result != AgentResult::Success {
        bail!("{agent}: {}", out.summary());
    }
    Ok(out.stdout().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_the_real_fence_xvm() {
        let xml = agent_metadata("fence_xvm").expect("fence_xvm installed (fence-virt)");
        let md = metadata::parse(&xml).unwrap();
        assert_eq!(md.name, "fence_xvm");
        let help = md.render_help();
        assert!(help.contains("  key_file: Shared key file"), "{help}");
        assert!(help.contains("  plug (required, replaces port):"), "{help}");
    }

    #[test]
    fn our_agent_is_always_describable() {
        let md = metadata::parse(&agent_metadata(OUR_XVM).unwrap()).unwrap();
        assert_eq!(md.name, OUR_XVM);
    }

    #[test]
    fn unknown_agents_are_a_clear_error() {
        let e = agent_metadata("fence_nosuch").unwrap_err().to_string();
        assert!(e.contains("fence_nosuch is not installed"), "{e}");
        assert!(agent_metadata("/bin/sh").is_err());
    }
}
