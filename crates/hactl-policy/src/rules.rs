//! Rule evaluation: node attribute comparisons against one node's attributes, date
//! expressions against the evaluation time, resource and operation expressions
//! against the resource and operation a default would apply to, nested rules.

use hactl_model::conditional::{DateExpression, DateOp, OpExpression, RscExpression};
use hactl_model::dates::{add_duration, parse_datetime, spec_matches};
use hactl_model::{AgentSpec, BoolOp, ExprOp, Expression, Rule, ValueType};
use std::cmp::Ordering;

/// What a rule can look at for one node.
pub(crate) struct NodeFacts<'a> {
    pub name: &'a str,
    pub id: &'a str,
    pub is_dc: bool,
    /// The `cluster-name` property (`#cluster-name`, and `#site-name` by default).
    pub cluster_name: Option<&'a str>,
    /// Looks up a node attribute (transient attributes override permanent ones).
    pub attr: &'a dyn Fn(&str) -> Option<&'a str>,
}

impl NodeFacts<'_> {
    fn value(&self, attribute: &str) -> Option<String> {
        match attribute {
            "#uname" => Some(self.name.to_string()),
            "#id" => Some(self.id.to_string()),
            "#kind" => Some("cluster".to_string()),
            "#is_dc" => Some(if self.is_dc { "true" } else { "false" }.to_string()),
            "#cluster-name" => self.cluster_name.map(str::to_string),
            "#site-name" => (self.attr)("site-name")
                .or(self.cluster_name)
                .map(str::to_string),
            other => (self.attr)(other).map(str::to_string),
        }
    }
}

/// Everything a rule is evaluated against. What a context lacks fails the
/// conditions that need it: without a node (properties, defaults) an attribute
/// comparison sees no attribute; without a resource an rsc_expression fails.
pub(crate) struct RuleInput<'a, 'f> {
    pub node: Option<&'a NodeFacts<'f>>,
    /// Seconds since the epoch (the scheduler's `now`).
    pub now: i64,
    /// The resource a default would apply to (a group or clone has no agent).
    pub rsc: Option<Option<&'a AgentSpec>>,
    /// The operation (name, interval) an operation default would apply to.
    pub op: Option<(&'a str, u64)>,
}

impl<'a, 'f> RuleInput<'a, 'f> {
    pub fn on_node(node: &'a NodeFacts<'f>, now: i64) -> RuleInput<'a, 'f> {
        RuleInput {
            node: Some(node),
            now,
            rsc: None,
            op: None,
        }
    }
}

/// Whether `rule` passes. A rule without conditions passes nothing.
pub(crate) fn rule_matches(rule: &Rule, input: &RuleInput<'_, '_>) -> bool {
    if rule.is_empty() {
        return false;
    }
    let mut results = rule
        .expressions
        .iter()
        .map(|e| expr_matches(e, input.node))
        .chain(rule.rules.iter().map(|r| rule_matches(r, input)))
        .chain(rule.dates.iter().map(|d| date_matches(d, input.now)))
        .chain(rule.resources.iter().map(|r| rsc_matches(r, input.rsc)))
        .chain(rule.operations.iter().map(|o| op_matches(o, input.op)));
    match rule.boolean_op.unwrap_or(BoolOp::And) {
        BoolOp::And => results.all(|r| r),
        BoolOp::Or => results.any(|r| r),
    }
}

/// A date expression at `now` (a date that does not read fails; the import and
/// `validate` refuse those).
pub(crate) fn date_matches(d: &DateExpression, now: i64) -> bool {
    let start = d.start.as_deref().map(parse_datetime);
    let end = d.end.as_deref().map(parse_datetime);
    match d.operation {
        DateOp::Gt => start.flatten().is_some_and(|s| now > s),
        DateOp::Lt => end.flatten().is_some_and(|e| now < e),
        DateOp::DateSpec => spec_matches(now, &d.spec),
        DateOp::InRange => {
            let end = match (end, start) {
                (Some(e), _) => Some(e),
                (None, Some(Some(s))) if !d.duration.is_empty() => {
                    Some(add_duration(s, &d.duration))
                }
                _ => None,
            };
            let after_start = start.is_none_or(|s| s.is_some_and(|s| now >= s));
            let before_end = end.is_none_or(|e| e.is_some_and(|e| now <= e));
            (start.is_some() || end.is_some()) && after_start && before_end
        }
    }
}

/// Every part the expression names must equal the resource's agent's.
fn rsc_matches(r: &RscExpression, rsc: Option<Option<&AgentSpec>>) -> bool {
    let Some(agent) = rsc else {
        return false;
    };
    let same =
        |want: &Option<String>, have: Option<&str>| want.as_deref().is_none_or(|w| have == Some(w));
    same(&r.class, agent.map(|a| a.class.as_str()))
        && same(&r.provider, agent.and_then(|a| a.provider.as_deref()))
        && same(&r.kind, agent.map(|a| a.kind.as_str()))
}

/// The operation's name, and its interval when the expression gives one.
fn op_matches(o: &OpExpression, op: Option<(&str, u64)>) -> bool {
    op.is_some_and(|(name, interval)| o.name == name && o.interval_ms.is_none_or(|i| i == interval))
}

pub(crate) fn expr_matches(e: &Expression, facts: Option<&NodeFacts<'_>>) -> bool {
    let actual = facts.and_then(|f| f.value(&e.attribute));
    let op = e.operation.unwrap_or(ExprOp::Eq);
    match op {
        ExprOp::Defined => return actual.is_some(),
        ExprOp::NotDefined => return actual.is_none(),
        _ => {}
    }
    let (Some(actual), Some(expected)) = (actual, e.value.as_deref()) else {
        // A comparison with a missing side never passes, except `ne`.
        return op == ExprOp::Ne;
    };
    let ord = compare(&actual, expected, e.value_type);
    match (op, ord) {
        (ExprOp::Eq, Some(o)) => o == Ordering::Equal,
        (ExprOp::Ne, Some(o)) => o != Ordering::Equal,
        (ExprOp::Ne, None) => true,
        (ExprOp::Lt, Some(o)) => o == Ordering::Less,
        (ExprOp::Lte, Some(o)) => o != Ordering::Greater,
        (ExprOp::Gt, Some(o)) => o == Ordering::Greater,
        (ExprOp::Gte, Some(o)) => o != Ordering::Less,
        _ => false,
    }
}

/// Compares two values by type. The default type is string for `eq`/`ne` and
/// number when both sides parse as numbers (Pacemaker guesses the same way).
fn compare(a: &str, b: &str, ty: Option<ValueType>) -> Option<Ordering> {
    let ty = ty.unwrap_or_else(|| {
        if a.trim().parse::<f64>().is_ok() && b.trim().parse::<f64>().is_ok() {
            ValueType::Number
        } else {
            ValueType::String
        }
    });
    match ty {
        ValueType::String => Some(a.cmp(b)),
        ValueType::Integer => {
            let x: i64 = a.trim().parse().ok()?;
            let y: i64 = b.trim().parse().ok()?;
            Some(x.cmp(&y))
        }
        ValueType::Number => {
            let x: f64 = a.trim().parse().ok()?;
            let y: f64 = b.trim().parse().ok()?;
            x.partial_cmp(&y)
        }
        ValueType::Version => Some(compare_versions(a, b)),
    }
}

fn compare_versions(a: &str, b: &str) -> Ordering {
    let parse = |s: &str| -> Vec<u64> {
        s.split('.')
            .map(|p| p.trim().parse::<u64>().unwrap_or(0))
            .collect()
    };
    let (x, y) = (parse(a), parse(b));
    let n = x.len().max(y.len());
    for i in 0..n {
        let (p, q) = (
            x.get(i).copied().unwrap_or(0),
            y.get(i).copied().unwrap_or(0),
        );
        match p.cmp(&q) {
            Ordering::Equal => continue,
            o => return o,
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(attr: &str, op: ExprOp, value: &str) -> Expression {
        Expression {
            attribute: attr.into(),
            operation: Some(op),
            value: Some(value.into()),
            ..Default::default()
        }
    }

    fn with_facts<R>(attrs: &[(&str, &str)], f: impl FnOnce(&NodeFacts<'_>) -> R) -> R {
        let owned: Vec<(String, String)> = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = |k: &str| owned.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let facts = NodeFacts {
            name: "node1",
            id: "uuid1",
            is_dc: true,
            cluster_name: Some("clusterA"),
            attr: &lookup,
        };
        f(&facts)
    }

    #[test]
    fn builtin_attributes_and_ops() {
        with_facts(&[("kernel", "2.6.16"), ("ram", "512")], |f| {
            assert!(expr_matches(&expr("#uname", ExprOp::Eq, "node1"), Some(f)));
            assert!(!expr_matches(&expr("#uname", ExprOp::Eq, "node2"), Some(f)));
            assert!(expr_matches(&expr("#uname", ExprOp::Ne, "node2"), Some(f)));
            assert!(expr_matches(&expr("#id", ExprOp::Eq, "uuid1"), Some(f)));
            assert!(expr_matches(&expr("#is_dc", ExprOp::Eq, "true"), Some(f)));
            // Numbers compare numerically when both sides are numbers.
            assert!(expr_matches(&expr("ram", ExprOp::Gt, "64"), Some(f)));
            assert!(!expr_matches(&expr("ram", ExprOp::Lt, "64"), Some(f)));
            let mut v = expr("kernel", ExprOp::Gte, "2.6.9");
            v.value_type = Some(ValueType::Version);
            assert!(expr_matches(&v, Some(f)));
            // Missing attribute: eq fails, ne passes, not_defined passes.
            assert!(!expr_matches(&expr("missing", ExprOp::Eq, "x"), Some(f)));
            assert!(expr_matches(&expr("missing", ExprOp::Ne, "x"), Some(f)));
            let nd = Expression {
                attribute: "missing".into(),
                operation: Some(ExprOp::NotDefined),
                ..Default::default()
            };
            assert!(expr_matches(&nd, Some(f)));
        });
    }

    #[test]
    fn and_or_rules() {
        with_facts(&[("a", "1")], |f| {
            let mut r = Rule {
                expressions: vec![expr("a", ExprOp::Eq, "1"), expr("#uname", ExprOp::Eq, "x")],
                ..Default::default()
            };
            assert!(!rule_matches(&r, &RuleInput::on_node(f, 0)));
            r.boolean_op = Some(BoolOp::Or);
            assert!(rule_matches(&r, &RuleInput::on_node(f, 0)));
            r.expressions.clear();
            assert!(!rule_matches(&r, &RuleInput::on_node(f, 0)));
        });
    }
}
