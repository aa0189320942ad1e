//! Agent names, operation results and errors shared by every resource class.

use std::fmt;
use std::time::{Duration, SystemTime};

/// OCF exit codes: the table lives in the model (the status views name them too).
pub use hactl_model::rc;

/// How an operation ended, independent of the agent's rc (Pacemaker's
/// `op-status`; the numbers are the ones [`hactl_model::OpRecord::op_status`] uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExecStatus {
    /// The agent ran to completion; its rc says what happened.
    Done,
    Cancelled,
    /// The agent did not finish within the op timeout and was killed.
    Timeout,
    NotSupported,
    /// The agent could not be run (spawn failed, killed by a signal, bus error).
    Error,
    /// The agent, script or unit does not exist.
    NotInstalled,
    /// The parameters were rejected before anything ran.
    Invalid,
}

impl ExecStatus {
    pub fn code(self) -> i32 {
        match self {
            ExecStatus::Done => 0,
            ExecStatus::Cancelled => 1,
            ExecStatus::Timeout => 2,
            ExecStatus::NotSupported => 3,
            ExecStatus::Error => 4,
            // Pacemaker's PCMK_EXEC_NOT_INSTALLED and PCMK_EXEC_INVALID: the
            // scheduler reads them as Pacemaker does (a not-installed failure
            // cannot be ignored with on-fail=ignore).
            ExecStatus::NotInstalled => 7,
            ExecStatus::Invalid => 9,
        }
    }
}

impl fmt::Display for ExecStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExecStatus::Done => "done",
            ExecStatus::Cancelled => "cancelled",
            ExecStatus::Timeout => "timed out",
            ExecStatus::NotSupported => "not supported",
            ExecStatus::Error => "error",
            ExecStatus::NotInstalled => "not installed",
            ExecStatus::Invalid => "invalid",
        })
    }
}

/// The result of one operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpResult {
    pub rc: i32,
    pub status: ExecStatus,
    /// `ocf-exit-reason:` text, or the executor's own explanation.
    pub exit_reason: Option<String>,
    /// The agent's stdout (meta-data XML, status text), capped.
    pub output: String,
    pub duration: Duration,
    pub started_at: SystemTime,
}

impl OpResult {
    pub(crate) fn new(
        rc: i32,
        status: ExecStatus,
        started_at: SystemTime,
        duration: Duration,
    ) -> Self {
        OpResult {
            rc,
            status,
            exit_reason: None,
            output: String::new(),
            duration,
            started_at,
        }
    }

    pub(crate) fn with_reason(mut self, r: impl Into<String>) -> Self {
        self.exit_reason = Some(r.into());
        self
    }

    pub fn is_success(&self) -> bool {
        self.status == ExecStatus::Done && self.rc == rc::SUCCESS
    }
}

impl fmt::Display for OpResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rc={} ({}), {}", self.rc, rc::name(self.rc), self.status)?;
        if let Some(r) = &self.exit_reason {
            write!(f, ": {r}")?;
        }
        Ok(())
    }
}

/// Resource classes (Pacemaker's "standards").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    Ocf,
    Systemd,
    Lsb,
    /// `service:`: systemd when a systemd bus answers, else LSB.
    Service,
}

impl Class {
    pub const ALL: [Class; 4] = [Class::Ocf, Class::Lsb, Class::Service, Class::Systemd];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Ocf => "ocf",
            Class::Systemd => "systemd",
            Class::Lsb => "lsb",
            Class::Service => "service",
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `class[:provider]:type`, e.g. `ocf:heartbeat:IPaddr2`, `systemd:haproxy`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AgentSpec {
    pub class: Class,
    pub provider: Option<String>,
    pub kind: String,
}

impl AgentSpec {
    pub fn ocf(provider: &str, kind: &str) -> Self {
        AgentSpec {
            class: Class::Ocf,
            provider: Some(provider.into()),
            kind: kind.into(),
        }
    }

    pub fn parse(s: &str) -> Result<Self, ExecError> {
        let bad = |why: &str| ExecError::BadAgent {
            agent: s.to_string(),
            why: why.to_string(),
        };
        let parts: Vec<&str> = s.split(':').collect();
        let (class, provider, kind) = match parts.as_slice() {
            ["ocf", p, t] => (Class::Ocf, Some(*p), *t),
            ["ocf", _] => return Err(bad("ocf agents are named ocf:PROVIDER:TYPE")),
            ["systemd", t] => (Class::Systemd, None, *t),
            ["lsb", t] => (Class::Lsb, None, *t),
            ["service", t] => (Class::Service, None, *t),
            [c, ..] if ["stonith"].contains(c) => {
                return Err(bad("stonith devices are handled by the fencer"))
            }
            _ => {
                return Err(bad(
                    "expected ocf:PROVIDER:TYPE, systemd:UNIT, lsb:SCRIPT or service:NAME",
                ))
            }
        };
        let valid = |x: &str| {
            !x.is_empty()
                && x != "."
                && x != ".."
                && x.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.@".contains(c))
        };
        if !valid(kind) || provider.is_some_and(|p| !valid(p)) {
            return Err(bad(
                "names may contain only letters, digits, '_', '-', '.', '@'",
            ));
        }
        Ok(AgentSpec {
            class,
            provider: provider.map(str::to_string),
            kind: kind.to_string(),
        })
    }
}

impl fmt::Display for AgentSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.provider {
            Some(p) => write!(f, "{}:{}:{}", self.class, p, self.kind),
            None => write!(f, "{}:{}", self.class, self.kind),
        }
    }
}

impl std::str::FromStr for AgentSpec {
    type Err = ExecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AgentSpec::parse(s)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("bad agent name '{agent}': {why}")]
    BadAgent { agent: String, why: String },
    #[error("agent {0} is not installed")]
    NotInstalled(String),
    #[error("agent {agent}: {msg}")]
    Agent { agent: String, msg: String },
    #[error("agent {agent}: bad meta-data: {source}")]
    Metadata {
        agent: String,
        #[source]
        source: hactl_agent_metadata::MetadataError,
    },
    #[error(transparent)]
    Param(#[from] hactl_agent_metadata::ParamError),
    /// The agent's validate-all said "not configured" (6).
    #[error("agent {agent} refused the parameters: {reason}")]
    Invalid { agent: String, reason: String },
    #[error("systemd: {0}")]
    Systemd(#[from] crate::systemd::SystemdError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_names() {
        let a = AgentSpec::parse("ocf:heartbeat:IPaddr2").unwrap();
        assert_eq!(a.class, Class::Ocf);
        assert_eq!(a.provider.as_deref(), Some("heartbeat"));
        assert_eq!(a.to_string(), "ocf:heartbeat:IPaddr2");
        assert_eq!(AgentSpec::parse("systemd:haproxy").unwrap().kind, "haproxy");
        assert!(AgentSpec::parse("ocf:IPaddr2").is_err());
        assert!(AgentSpec::parse("ocf:heartbeat:../../bin/sh").is_err());
        assert!(AgentSpec::parse("nope:x").is_err());
        assert!(AgentSpec::parse("stonith:fence_xvm")
            .unwrap_err()
            .to_string()
            .contains("fencer"));
    }

    #[test]
    fn rc_mapping() {
        assert_eq!(rc::from_exit(7), 7);
        assert_eq!(rc::from_exit(42), 1);
        assert_eq!(rc::from_exit(-1), 1);
        assert_eq!(ExecStatus::Timeout.code(), 2);
        // Pacemaker's execution status numbers.
        assert_eq!(ExecStatus::NotInstalled.code(), 7);
        assert_eq!(ExecStatus::Invalid.code(), 9);
    }
}
