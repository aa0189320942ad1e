//! The `<resource-agent>` meta-data that OCF resource agents print for `meta-data` and
//! fence agents for `-o metadata`: one format, one parser for both (the executor checks
//! resource parameters against it, the fencer finds a device's target parameter and
//! supported actions, the CLI renders both as help).

mod check;
mod parse;
mod render;
#[cfg(test)]
mod tests;

pub use check::ParamError;
pub use parse::{parse, MetadataError};

use std::time::Duration;

/// An agent's self-description.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AgentMetadata {
    pub name: String,
    pub version: Option<String>,
    /// The OCF version the agent follows (`<version>`; `1.1` agents can mark
    /// parameters reloadable and support `reload-agent`).
    pub ocf_version: Option<String>,
    pub shortdesc: String,
    pub longdesc: String,
    /// Fence agents name their vendor's site.
    pub vendor_url: Option<String>,
    pub parameters: Vec<Parameter>,
    pub actions: Vec<Action>,
}

/// One parameter the agent takes.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Parameter {
    pub name: String,
    pub required: bool,
    pub unique: bool,
    /// OCF 1.1: a `reload-agent` can apply a change of this parameter.
    pub reloadable: bool,
    pub deprecated: bool,
    /// The older name this one replaces (fence agents: `plug` obsoletes `port`).
    pub obsoletes: Option<String>,
    /// Fence agents' command-line form, e.g. `-k` or `-k, --key-file=[file]`.
    pub getopt: Option<String>,
    /// `string`, `integer`, `boolean`, `select`, … as the agent declares it
    /// (`string` when it declares none).
    pub content_type: String,
    pub default: Option<String>,
    /// Allowed values of a `select`.
    pub options: Vec<String>,
    pub shortdesc: String,
    pub longdesc: String,
}

/// One action the agent supports.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Action {
    pub name: String,
    pub timeout: Option<Duration>,
    pub interval: Option<Duration>,
    pub depth: Option<u32>,
    pub role: Option<String>,
    /// Fence agents: the action runs on the node it targets (`on`/`unfence`).
    pub on_target: bool,
    /// Fence agents: the fencer runs the action by itself (unfencing at start).
    pub automatic: bool,
}

impl AgentMetadata {
    /// Parses an agent's meta-data XML (see [`parse`]).
    pub fn parse(xml: &str) -> Result<Self, MetadataError> {
        parse(xml)
    }

    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }

    pub fn action(&self, name: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.name == name)
    }

    pub fn supports(&self, action: &str) -> bool {
        self.action(action).is_some()
    }

    /// The parameters a reload cannot apply, if the agent can reload at all, as
    /// Pacemaker decides: an OCF 1.1 agent with `reload-agent` reloads what it
    /// marks reloadable; an older agent with `reload` reloads what is not unique.
    pub fn non_reloadable(&self) -> Option<Vec<&str>> {
        let ocf_1_1 = self.ocf_version.as_deref().is_some_and(|v| {
            let mut it = v.trim().split('.').map(|x| x.parse::<u32>().unwrap_or(0));
            (it.next().unwrap_or(0), it.next().unwrap_or(0)) >= (1, 1)
        });
        let names = |keep: &dyn Fn(&Parameter) -> bool| {
            self.parameters
                .iter()
                .filter(|p| keep(p))
                .map(|p| p.name.as_str())
                .collect()
        };
        if ocf_1_1 && self.supports("reload-agent") {
            Some(names(&|p| !p.reloadable))
        } else if !ocf_1_1 && self.supports("reload") {
            Some(names(&|p| p.unique))
        } else {
            None
        }
    }

    /// The agent's default timeout for an action, if it declares one.
    pub fn default_timeout(&self, action: &str) -> Option<Duration> {
        self.action(action).and_then(|a| a.timeout)
    }
}
