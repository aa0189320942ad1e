//! Rules and attribute sets with a rule, written back as Pacemaker XML
//! (the import's `conditional.rs` reads them).
//!
//! Precedence survives the round trip: an owner's conditional sets are written
//! before its unconditional set with descending scores above it (the import kept
//! only values that win over the unconditional ones).

use std::fmt::Write;

use hactl_model::conditional::{ConditionalSet, SetOwner};
use hactl_model::values::format_interval_ms;
use hactl_model::{Attrs, Configuration, Rule};

use crate::export::{attr, esc};

/// The conditional sets of one owner, in precedence order.
pub(crate) fn sets_of<'c>(c: &'c Configuration, owner: &SetOwner) -> Vec<&'c ConditionalSet> {
    c.conditional.iter().filter(|s| s.owner == *owner).collect()
}

/// Writes `sets` as `<tag>` elements with a rule each, scores descending to 1.
pub(crate) fn write_sets(out: &mut String, indent: &str, tag: &str, sets: &[&ConditionalSet]) {
    for (i, s) in sets.iter().enumerate() {
        let _ = write!(out, "{indent}<{tag}");
        attr(out, "id", &s.id);
        attr(out, "score", &(sets.len() - i).to_string());
        out.push_str(">\n");
        rule(out, &format!("{indent}  "), &s.rule);
        for (k, v) in &s.values {
            let _ = write!(out, "{indent}  <nvpair");
            attr(out, "id", &format!("{}-{k}", s.id));
            attr(out, "name", k);
            attr(out, "value", v);
            out.push_str("/>\n");
        }
        let _ = writeln!(out, "{indent}</{tag}>");
    }
}

/// A rule and everything nested in it.
pub(crate) fn rule(out: &mut String, indent: &str, r: &Rule) {
    let _ = write!(out, "{indent}<rule");
    attr(out, "id", &r.id);
    if let Some(s) = r.score {
        attr(out, "score", &s.to_string());
    }
    if let Some(a) = &r.score_attribute {
        attr(out, "score-attribute", a);
    }
    if let Some(b) = r.boolean_op {
        attr(out, "boolean-op", b.as_str());
    }
    if let Some(role) = r.role {
        attr(out, "role", role.as_str());
    }
    out.push_str(">\n");
    let inner = format!("{indent}  ");
    let sub_id = |id: &str, kind: &str, i: usize| {
        if id.is_empty() {
            format!("{}-{kind}-{i}", r.id)
        } else {
            id.to_string()
        }
    };
    for (i, e) in r.expressions.iter().enumerate() {
        let _ = write!(out, "{inner}<expression");
        attr(out, "id", &sub_id(&e.id, "expr", i));
        attr(out, "attribute", &e.attribute);
        if let Some(op) = e.operation {
            attr(out, "operation", op.as_str());
        }
        if let Some(v) = &e.value {
            attr(out, "value", v);
        }
        if let Some(t) = e.value_type {
            attr(out, "type", t.as_str());
        }
        out.push_str("/>\n");
    }
    for (i, d) in r.dates.iter().enumerate() {
        let id = sub_id(&d.id, "date", i);
        let _ = write!(out, "{inner}<date_expression");
        attr(out, "id", &id);
        attr(out, "operation", d.operation.as_str());
        for (k, v) in [("start", &d.start), ("end", &d.end)] {
            if let Some(v) = v {
                attr(out, k, v);
            }
        }
        if d.duration.is_empty() && d.spec.is_empty() {
            out.push_str("/>\n");
            continue;
        }
        out.push_str(">\n");
        for (tag, fields) in [("duration", &d.duration), ("date_spec", &d.spec)] {
            fields_element(
                out,
                &format!("{inner}  "),
                tag,
                &format!("{id}-{tag}"),
                fields,
            );
        }
        let _ = writeln!(out, "{inner}</date_expression>");
    }
    for (i, e) in r.resources.iter().enumerate() {
        let _ = write!(out, "{inner}<rsc_expression");
        attr(out, "id", &sub_id(&e.id, "rsc", i));
        for (k, v) in [
            ("class", &e.class),
            ("provider", &e.provider),
            ("type", &e.kind),
        ] {
            if let Some(v) = v {
                attr(out, k, v);
            }
        }
        out.push_str("/>\n");
    }
    for (i, e) in r.operations.iter().enumerate() {
        let _ = write!(out, "{inner}<op_expression");
        attr(out, "id", &sub_id(&e.id, "op", i));
        attr(out, "name", &e.name);
        if let Some(ms) = e.interval_ms {
            attr(out, "interval", &format_interval_ms(ms));
        }
        out.push_str("/>\n");
    }
    for nested in &r.rules {
        rule(out, &inner, nested);
    }
    let _ = writeln!(out, "{indent}</rule>");
}

fn fields_element(out: &mut String, indent: &str, tag: &str, id: &str, fields: &Attrs) {
    if fields.is_empty() {
        return;
    }
    let _ = write!(out, "{indent}<{tag} id=\"{}\"", esc(id));
    for (k, v) in fields {
        attr(out, k, v);
    }
    out.push_str("/>\n");
}
