//! Parameters checked against the meta-data before any agent runs.

use crate::AgentMetadata;
use std::collections::BTreeMap;

/// A parameter problem found before any agent runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("{agent}: required parameter '{name}' is missing")]
    Missing { agent: String, name: String },
    #[error("{agent}: unknown parameter '{name}' (known: {known})")]
    Unknown {
        agent: String,
        name: String,
        known: String,
    },
    #[error("{agent}: parameter '{name}': '{value}' is not {expected}")]
    Invalid {
        agent: String,
        name: String,
        value: String,
        expected: String,
    },
}

impl AgentMetadata {
    /// Checks parameters: unknown names, missing required ones, values that do not
    /// fit the declared type. `agent` is used in messages.
    pub fn validate(
        &self,
        agent: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<(), ParamError> {
        for (name, value) in params {
            let Some(spec) = self.parameter(name) else {
                let known: Vec<&str> = self.parameters.iter().map(|p| p.name.as_str()).collect();
                return Err(ParamError::Unknown {
                    agent: agent.into(),
                    name: name.clone(),
                    known: if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    },
                });
            };
            let invalid = |expected: String| ParamError::Invalid {
                agent: agent.into(),
                name: name.clone(),
                value: value.clone(),
                expected,
            };
            match spec.content_type.as_str() {
                "integer" if value.trim().parse::<i64>().is_err() => {
                    return Err(invalid("an integer".into()));
                }
                "boolean" if hactl_model::values::parse_bool(value).is_none() => {
                    return Err(invalid("a boolean (true/false)".into()));
                }
                "select"
                    if !spec.options.is_empty() && !spec.options.iter().any(|o| o == value) =>
                {
                    return Err(invalid(format!("one of: {}", spec.options.join(", "))));
                }
                _ => {}
            }
        }
        for spec in self.parameters.iter().filter(|p| p.required) {
            let present = params.get(&spec.name).is_some_and(|v| !v.is_empty());
            if !present {
                return Err(ParamError::Missing {
                    agent: agent.into(),
                    name: spec.name.clone(),
                });
            }
        }
        Ok(())
    }
}
