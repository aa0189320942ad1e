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

    /// The agent's default timeout for an action, if it declares one.
    pub fn default_timeout(&self, action: &str) -> Option<Duration> {
        self.action(action).and_then(|a| a.timeout)
    }
}
