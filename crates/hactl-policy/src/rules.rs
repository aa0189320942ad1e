//! Location rule evaluation against one node's attributes.

use hactl_model::{BoolOp, ExprOp, Expression, Rule, ValueType};
use std::cmp::Ordering;

/// What a rule can look at for one node.
pub(crate) struct NodeFacts<'a> {
    pub name: &'a str,
    pub id: &'a str,
    pub is_dc: bool,
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
            other => (self.attr)(other).map(str::to_string),
        }
    }
}

/// Whether `rule` matches the node. A rule without expressions matches nothing
/// (Pacemaker treats an empty rule as not passing).
pub(crate) fn rule_matches(rule: &Rule, facts: &NodeFacts<'_>) -> bool {
    if rule.expressions.is_empty() {
        return false;
    }
    let mut results = rule.expressions.iter().map(|e| expr_matches(e, facts));
    match rule.boolean_op.unwrap_or(BoolOp::And) {
        BoolOp::And => results.all(|r| r),
        BoolOp::Or => results.any(|r| r),
    }
}

pub(crate) fn expr_matches(e: &Expression, facts: &NodeFacts<'_>) -> bool {
    let actual = facts.value(&e.attribute);
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
            attr: &lookup,
        };
        f(&facts)
    }

    #[test]
    fn builtin_attributes_and_ops() {
        with_facts(&[("kernel", "2.6.16"), ("ram", "512")], |f| {
            assert!(expr_matches(&expr("#uname", ExprOp::Eq, "node1"), f));
            assert!(!expr_matches(&expr("#uname", ExprOp::Eq, "node2"), f));
            assert!(expr_matches(&expr("#uname", ExprOp::Ne, "node2"), f));
            assert!(expr_matches(&expr("#id", ExprOp::Eq, "uuid1"), f));
            assert!(expr_matches(&expr("#is_dc", ExprOp::Eq, "true"), f));
            // Numbers compare numerically when both sides are numbers.
            assert!(expr_matches(&expr("ram", ExprOp::Gt, "64"), f));
            assert!(!expr_matches(&expr("ram", ExprOp::Lt, "64"), f));
            let mut v = expr("kernel", ExprOp::Gte, "2.6.9");
            v.value_type = Some(ValueType::Version);
            assert!(expr_matches(&v, f));
            // Missing attribute: eq fails, ne passes, not_defined passes.
            assert!(!expr_matches(&expr("missing", ExprOp::Eq, "x"), f));
            assert!(expr_matches(&expr("missing", ExprOp::Ne, "x"), f));
            let nd = Expression {
                attribute: "missing".into(),
                operation: Some(ExprOp::NotDefined),
                ..Default::default()
            };
            assert!(expr_matches(&nd, f));
        });
    }

    #[test]
    fn and_or_rules() {
        with_facts(&[("a", "1")], |f| {
            let mut r = Rule {
                expressions: vec![expr("a", ExprOp::Eq, "1"), expr("#uname", ExprOp::Eq, "x")],
                ..Default::default()
            };
            assert!(!rule_matches(&r, f));
            r.boolean_op = Some(BoolOp::Or);
            assert!(rule_matches(&r, f));
            r.expressions.clear();
            assert!(!rule_matches(&r, f));
        });
    }
}
