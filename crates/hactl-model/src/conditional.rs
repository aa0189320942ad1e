//! Rule conditions beyond node attribute comparisons, and attribute sets that apply
//! only while their rule passes (Pacemaker's `<instance_attributes>`,
//! `<meta_attributes>` and `<cluster_property_set>` with a `<rule>`).
//!
//! The scheduler evaluates them at its `now` (an input, never a clock read):
//! `hactl_policy::conditional`.

use serde::{Deserialize, Serialize};

use crate::{Attrs, ModelError, Rule};

/// What a conditional attribute set belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SetOwner {
    /// Cluster properties (`crm_config`).
    Properties,
    /// Resource defaults (`rsc_defaults`): rules may test the resource's agent.
    RscDefaults,
    /// Operation defaults (`op_defaults`): rules may test the agent and the operation.
    OpDefaults,
    /// A node's permanent attributes (by node name).
    Node { name: String },
    /// A primitive's instance attributes, i.e. its parameters (by primitive id):
    /// rules may test the node the resource runs on, so parameters can differ per
    /// node.
    Params { rsc: String },
}

impl SetOwner {
    /// How the owner is named in messages.
    pub fn describe(&self) -> String {
        match self {
            SetOwner::Properties => "cluster properties".into(),
            SetOwner::RscDefaults => "resource defaults".into(),
            SetOwner::OpDefaults => "operation defaults".into(),
            SetOwner::Node { name } => format!("attributes of node {name:?}"),
            SetOwner::Params { rsc } => format!("parameters of {rsc:?}"),
        }
    }
}

/// An attribute set that applies while its rule passes. Sets of one owner are kept
/// in Pacemaker's precedence order (higher `score` first, then document order); the
/// first passing set that names a value wins over the owner's unconditional value.
/// Values an unconditional set of higher precedence names can never win and are
/// dropped on import.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConditionalSet {
    pub id: String,
    pub owner: SetOwner,
    pub rule: Rule,
    pub values: Attrs,
}

impl Default for ConditionalSet {
    fn default() -> Self {
        ConditionalSet {
            id: String::new(),
            owner: SetOwner::Properties,
            rule: Rule::default(),
            values: Attrs::new(),
        }
    }
}

/// How a date expression compares the evaluation time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateOp {
    /// After `start`.
    Gt,
    /// Before `end`.
    Lt,
    /// Between `start` and `end` (or `start` + `duration`), both included.
    InRange,
    /// Every field of `spec` matches (hours, weekdays, …).
    DateSpec,
}

impl DateOp {
    pub fn as_str(self) -> &'static str {
        match self {
            DateOp::Gt => "gt",
            DateOp::Lt => "lt",
            DateOp::InRange => "in_range",
            DateOp::DateSpec => "date_spec",
        }
    }

    pub fn parse(s: &str) -> Option<DateOp> {
        [DateOp::Gt, DateOp::Lt, DateOp::InRange, DateOp::DateSpec]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// `<date_expression>`: a condition on the time the rule is evaluated at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DateExpression {
    pub id: String,
    pub operation: DateOp,
    /// ISO 8601 dates ([`crate::dates::parse_datetime`]).
    pub start: Option<String>,
    pub end: Option<String>,
    /// `<duration>` fields (years … seconds): `end` = `start` + duration.
    #[serde(skip_serializing_if = "Attrs::is_empty")]
    pub duration: Attrs,
    /// `<date_spec>` fields (hours, weekdays, …), each a number or a range `a-b`.
    #[serde(skip_serializing_if = "Attrs::is_empty")]
    pub spec: Attrs,
}

impl Default for DateExpression {
    fn default() -> Self {
        DateExpression {
            id: String::new(),
            operation: DateOp::InRange,
            start: None,
            end: None,
            duration: Attrs::new(),
            spec: Attrs::new(),
        }
    }
}

impl DateExpression {
    /// Checks that the dates read and the operation has what it needs.
    pub fn check(&self) -> Result<(), ModelError> {
        let bad = |message: String| ModelError::Invalid {
            context: format!("date_expression {:?}", self.id),
            message,
        };
        for d in [&self.start, &self.end].into_iter().flatten() {
            if crate::dates::parse_datetime(d).is_none() {
                return Err(bad(format!(
                    "{d:?} is not an ISO 8601 date (2005-01-20, 2005-020, 2005-W03-4, with an optional Thh:mm:ss)"
                )));
            }
        }
        let needs = match self.operation {
            DateOp::Gt => self.start.is_some(),
            DateOp::Lt => self.end.is_some(),
            DateOp::InRange => self.start.is_some() || self.end.is_some(),
            DateOp::DateSpec => !self.spec.is_empty(),
        };
        if !needs {
            return Err(bad(format!(
                "operation {} lacks what it compares (gt: start; lt: end; in_range: start or end; \
                 date_spec: a date_spec)",
                self.operation.as_str()
            )));
        }
        crate::dates::check_fields(&self.duration, crate::dates::DURATION_FIELDS, false)
            .and_then(|()| crate::dates::check_fields(&self.spec, crate::dates::SPEC_FIELDS, true))
            .map_err(bad)
    }
}

/// `<rsc_expression>`: matches a resource whose agent has every part given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RscExpression {
    pub id: String,
    pub class: Option<String>,
    pub provider: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// `<op_expression>`: matches an operation by name, and interval when given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OpExpression {
    pub id: String,
    pub name: String,
    pub interval_ms: Option<u64>,
}

/// Checks a location rule and the rules nested in it: dates read, and only the
/// conditions a location rule can test (node attributes and time; resource and
/// operation expressions belong to defaults).
pub(crate) fn check_location_rule(rule: &Rule, errs: &mut Vec<ModelError>) {
    for r in rule.walk() {
        for d in &r.dates {
            if let Err(e) = d.check() {
                errs.push(e);
            }
        }
        if !r.resources.is_empty() || !r.operations.is_empty() {
            errs.push(ModelError::Invalid {
                context: format!("rule {:?}", r.id),
                message: "rsc_expression and op_expression are only allowed in \
                          resource and operation defaults"
                    .into(),
            });
        }
        if r.is_empty() && !std::ptr::eq(r, rule) {
            errs.push(ModelError::Invalid {
                context: format!("rule {:?}", r.id),
                message: "a nested rule needs at least one condition".into(),
            });
        }
    }
}

/// A running cluster does not evaluate conditional attribute sets yet (the
/// controller passes one set of parameters to every node, and reads properties
/// and defaults unconditionally), so a configuration carrying one is refused
/// rather than run as if the rules were absent. `hactl simulate` schedules them.
pub(crate) fn refuse_in_cluster(c: &crate::Configuration, errs: &mut Vec<ModelError>) {
    if let Some(s) = c.conditional.first() {
        errs.push(ModelError::Invalid {
            context: format!("attribute set {:?} ({})", s.id, s.owner.describe()),
            message: "rules inside attribute sets (conditional properties, defaults, node \
                      attributes or per-node parameters) are scheduled by `hactl simulate` \
                      but not yet run by a cluster; remove the rule or the set"
                .into(),
        });
    }
}
