//! The difference between two configurations, item by item (`hactl cib push --diff`):
//! `+` an item only the new one has, `-` one only the old one has, `~` one both have
//! that differs, followed by the lines of its JSON that changed.

use hactl_model::{Attrs, Configuration};
use serde_json::Value;
use std::collections::BTreeMap;

/// One section's items, keyed by what names them (id, node name, property name).
type Items = BTreeMap<String, Value>;

fn keyed<T: serde::Serialize>(items: &[T], key: impl Fn(&T) -> String) -> Items {
    items
        .iter()
        .map(|i| (key(i), serde_json::to_value(i).unwrap_or(Value::Null)))
        .collect()
}

fn attrs(a: &Attrs) -> Items {
    a.iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

/// The configuration as (kind of item, items), in the order `hactl config` shows them.
fn sections(c: &Configuration) -> Vec<(&'static str, Items)> {
    let k = &c.constraints;
    vec![
        ("node", keyed(&c.nodes, |n| n.name.clone())),
        ("resource", keyed(&c.resources, |r| r.id().to_string())),
        ("location", keyed(&k.location, |x| x.id.clone())),
        ("colocation", keyed(&k.colocation, |x| x.id.clone())),
        ("order", keyed(&k.order, |x| x.id.clone())),
        ("fencing level", keyed(&c.fencing_levels, |x| x.id.clone())),
        ("resource default", attrs(&c.rsc_defaults)),
        ("op default", attrs(&c.op_defaults)),
        ("property", attrs(&c.properties)),
    ]
}

/// The lines describing how `new` differs from `old`; empty when they are the same.
pub fn diff(old: &Configuration, new: &Configuration) -> Vec<String> {
    let mut out = Vec::new();
    for ((kind, a), (_, b)) in sections(old).into_iter().zip(sections(new)) {
        for (key, va) in &a {
            match b.get(key) {
                None => out.push(format!("- {kind} {key}{}", scalar(va))),
                Some(vb) if vb != va => changed(&mut out, kind, key, va, vb),
                Some(_) => {}
            }
        }
        for (key, vb) in &b {
            if !a.contains_key(key) {
                out.push(format!("+ {kind} {key}{}", scalar(vb)));
            }
        }
    }
    out
}

/// ` = value` for a string item (a property), nothing for a structured one.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => format!(" = {s}"),
        _ => String::new(),
    }
}

fn changed(out: &mut Vec<String>, kind: &str, key: &str, a: &Value, b: &Value) {
    if let (Value::String(x), Value::String(y)) = (a, b) {
        out.push(format!("~ {kind} {key}: {x} -> {y}"));
        return;
    }
    out.push(format!("~ {kind} {key}"));
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let (x, y) = (pretty(a), pretty(b));
    let x: Vec<&str> = x.lines().collect();
    let y: Vec<&str> = y.lines().collect();
    for line in line_diff(&x, &y) {
        out.push(format!("    {line}"));
    }
}

/// The lines of `a` and `b` that are not in their longest common subsequence, as
/// `-`/`+` lines in order (items are small: the quadratic table is fine).
fn line_diff(a: &[&str], b: &[&str]) -> Vec<String> {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(format!("-{}", a[i]));
            i += 1;
        } else {
            out.push(format!("+{}", b[j]));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hactl_model::{AgentSpec, Primitive, Resource};

    fn dummy(id: &str, param: &str) -> Resource {
        let mut p = Primitive {
            id: id.into(),
            agent: AgentSpec::parse("ocf:pacemaker:Dummy").unwrap(),
            ..Default::default()
        };
        p.params.insert("state".into(), param.into());
        Resource::Primitive(p)
    }

    #[test]
    fn added_removed_and_changed_items_are_each_named() {
        let mut old = Configuration {
            resources: vec![dummy("keep", "a"), dummy("gone", "a"), dummy("edit", "a")],
            ..Default::default()
        };
        old.properties
            .insert("stonith-enabled".into(), "true".into());
        old.properties.insert("old-prop".into(), "1".into());
        let mut new = old.clone();
        new.resources = vec![dummy("keep", "a"), dummy("edit", "b"), dummy("new", "a")];
        new.properties
            .insert("stonith-enabled".into(), "false".into());
        new.properties.remove("old-prop");
        let d = diff(&old, &new);
        assert_eq!(
            d,
            [
                "~ resource edit",
                "    -    \"state\": \"a\"",
                "    +    \"state\": \"b\"",
                "- resource gone",
                "+ resource new",
                "- property old-prop = 1",
                "~ property stonith-enabled: true -> false",
            ]
        );
        assert!(diff(&new, &new).is_empty());
    }
}
