//! Configuration checks that do not need the agents: unique ids, constraints that name
//! existing resources and nodes, well-formed meta attributes.

use std::collections::HashMap;

use crate::values::{format_interval_ms, parse_bool, parse_interval_ms, MAX_DURATION_MS};
use crate::{Configuration, ModelError, Primitive, Resource, Score};

/// The longest id (resource, group, constraint) and node name accepted. Pacemaker sets
/// no limit, but ids end up in agents' file names (`OCF_RESOURCE_INSTANCE`, at most
/// 255 bytes in a file name), in environment variables and in column widths.
pub const MAX_ID_LEN: usize = 255;

/// Ids derived from a primary id (an op's `RSC-monitor-interval-30s`, a rule's
/// `CONSTRAINT-rule`) may be this much longer.
const DERIVED_ID_SLACK: usize = 64;

/// Checks an id the way Pacemaker's schema does (`xsd:ID`, kept to ASCII): a letter
/// or `_` first, then letters, digits, `.`, `-` and `_`; at most [`MAX_ID_LEN`]
/// characters. This refuses `../../etc/x` and `$(id)` before they reach an agent.
pub fn check_id(kind: &str, id: &str) -> Result<(), ModelError> {
    check_id_within(kind, id, MAX_ID_LEN)
}

fn check_id_within(kind: &str, id: &str, max: usize) -> Result<(), ModelError> {
    let first_ok = id
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    let message = if id.is_empty() {
        "empty id".to_string()
    } else if id.len() > max {
        format!("id of {} characters; at most {max} are allowed", id.len())
    } else if !first_ok || !rest_ok {
        "an id starts with a letter or _ and has only letters, digits, '.', '-' and '_'".into()
    } else {
        return Ok(());
    };
    Err(ModelError::Invalid {
        context: format!("{kind} {}", shown(id)),
        message,
    })
}

/// Checks a node name: a host name (letters, digits, `.`, `-`, `_`; a digit may come
/// first, as in `18node1`), at most [`MAX_ID_LEN`] characters.
fn check_node_name(what: &str, name: &str) -> Result<(), ModelError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_ID_LEN
        && !name.starts_with(['.', '-'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        return Ok(());
    }
    Err(ModelError::Invalid {
        context: format!("{what} {}", shown(name)),
        message: format!(
            "a node name has 1 to {MAX_ID_LEN} letters, digits, '.', '-' and '_', \
             and does not start with '.' or '-'"
        ),
    })
}

/// Checks a node attribute name an operator (or a peer) sets. Names starting with
/// `#` are Pacemaker's built-ins (`#uname`, `#id`, `#kind`, `#is_dc`) and the
/// importer's `#score`: setting one would change what every rule sees.
pub fn check_node_attribute_name(name: &str) -> Result<(), ModelError> {
    let message = if name.trim().is_empty() {
        "must not be empty".to_string()
    } else if name.starts_with('#') {
        "names starting with '#' are reserved for the cluster (#uname, #id, #kind, #is_dc)".into()
    } else if name.len() > MAX_ID_LEN {
        format!(
            "name of {} characters; at most {MAX_ID_LEN} are allowed",
            name.len()
        )
    } else if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        "a name has no spaces or control characters".into()
    } else {
        return Ok(());
    };
    Err(ModelError::Invalid {
        context: format!("node attribute {}", shown(name)),
        message,
    })
}

/// An id as it appears in an error: quoted, and cut short when it is long (an
/// error must not repeat 65,536 characters back).
fn shown(id: &str) -> String {
    const KEEP: usize = 40;
    match id.char_indices().nth(KEEP) {
        Some((cut, _)) => format!("{:?}… ({} characters)", &id[..cut], id.chars().count()),
        None => format!("{id:?}"),
    }
}

pub(crate) fn validate(c: &Configuration) -> Result<(), Vec<ModelError>> {
    let mut errs = Vec::new();
    let mut ids: HashMap<&str, &'static str> = HashMap::new();
    if let Err(e) = c.options() {
        errs.push(e);
    }
    let mut node_names: HashMap<&str, ()> = HashMap::new();
    for n in &c.nodes {
        if let Err(e) = check_node_name("node", &n.name) {
            errs.push(e);
        }
        if n.id != n.name {
            if let Err(e) = check_node_name("node id", &n.id) {
                errs.push(e);
            }
        }
        if node_names.insert(&n.name, ()).is_some() {
            errs.push(ModelError::DuplicateId {
                id: n.name.clone(),
                first: "node",
                second: "node",
            });
        }
    }
    for r in &c.resources {
        check_resource(r, &mut ids, &mut errs, true);
    }
    let rsc_exists = |id: &str| {
        c.resources
            .iter()
            .any(|r| r.id() == id || cloned_id(r) == Some(id) || r.primitives().any(|p| p.id == id))
    };
    let unknown_rsc = |kind: &'static str, id: &str, name: &str| ModelError::UnknownReference {
        kind,
        id: id.to_string(),
        what: "resource",
        name: name.to_string(),
    };
    for l in &c.constraints.location {
        claim(&mut ids, &l.id, "location constraint", &mut errs);
        if !rsc_exists(&l.rsc) {
            errs.push(unknown_rsc("location constraint", &l.id, &l.rsc));
        }
        if l.node.is_some() && l.score.is_none() {
            errs.push(ModelError::Invalid {
                context: format!("location constraint {:?}", l.id),
                message: "a node needs a score".into(),
            });
        }
        if l.node.is_none() && l.rules.is_empty() {
            errs.push(ModelError::Invalid {
                context: format!("location constraint {:?}", l.id),
                message: "needs a node and score, or a rule".into(),
            });
        }
        for r in &l.rules {
            crate::conditional::check_location_rule(r, &mut errs);
            derived_id("rule", &r.id, &mut errs);
            for e in &r.expressions {
                derived_id("rule expression", &e.id, &mut errs);
            }
            if r.score.is_none() && r.score_attribute.is_none() {
                errs.push(ModelError::Invalid {
                    context: format!("rule {:?}", r.id),
                    message: "needs a score or score-attribute".into(),
                });
            }
        }
    }
    for o in &c.constraints.colocation {
        claim(&mut ids, &o.id, "colocation constraint", &mut errs);
        for r in [&o.rsc, &o.with_rsc] {
            if !rsc_exists(r) {
                errs.push(unknown_rsc("colocation constraint", &o.id, r));
            }
        }
    }
    for o in &c.constraints.order {
        claim(&mut ids, &o.id, "order constraint", &mut errs);
        for r in [&o.first, &o.then] {
            if !rsc_exists(r) {
                errs.push(unknown_rsc("order constraint", &o.id, r));
            }
        }
    }
    for t in &c.constraints.tickets {
        claim(&mut ids, &t.id, "ticket constraint", &mut errs);
        if !rsc_exists(&t.rsc) {
            errs.push(unknown_rsc("ticket constraint", &t.id, &t.rsc));
        }
        if let Err(e) = check_id("ticket", &t.ticket) {
            errs.push(e);
        }
    }
    check_defaults(c, &mut errs);
    crate::conditional::refuse_in_cluster(c, &mut errs);
    crate::remote::refuse_in_cluster(c, &mut errs);
    crate::live::refuse_in_cluster(c, &mut errs);
    for lvl in &c.fencing_levels {
        derived_id("fencing level", &lvl.id, &mut errs);
        if c.node(&lvl.target).is_none() {
            errs.push(ModelError::UnknownReference {
                kind: "fencing level",
                id: lvl.id.clone(),
                what: "node",
                name: lvl.target.clone(),
            });
        }
        for d in &lvl.devices {
            if c.find_primitive(d).map(|p| p.agent.class.as_str()) != Some("stonith") {
                errs.push(ModelError::UnknownReference {
                    kind: "fencing level",
                    id: lvl.id.clone(),
                    what: "fence device",
                    name: d.clone(),
                });
            }
        }
    }
    for a in &c.alerts {
        claim(&mut ids, &a.id, "alert", &mut errs);
        crate::alerts::check(a, &mut errs);
        for r in &a.recipients {
            claim(&mut ids, &r.id, "alert recipient", &mut errs);
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

/// Records an id; ids share one namespace across resources and constraints.
fn claim<'a>(
    ids: &mut HashMap<&'a str, &'static str>,
    id: &'a str,
    kind: &'static str,
    errs: &mut Vec<ModelError>,
) {
    if let Err(e) = check_id(kind, id) {
        errs.push(e);
    } else if let Some(first) = ids.insert(id, kind) {
        errs.push(ModelError::DuplicateId {
            id: id.to_string(),
            first,
            second: kind,
        });
    }
}

fn check_primitive(p: &Primitive, errs: &mut Vec<ModelError>) {
    check_meta(&p.id, &p.meta, errs);
    if p.agent.class.is_empty() || p.agent.kind.is_empty() {
        errs.push(ModelError::Invalid {
            context: format!("primitive {:?}", p.id),
            message: "needs an agent class and type".into(),
        });
    }
    if p.agent.class == "ocf" && p.agent.provider.is_none() {
        errs.push(ModelError::Invalid {
            context: format!("primitive {:?}", p.id),
            message: "an ocf agent needs a provider".into(),
        });
    }
    let mut seen = HashMap::new();
    for op in &p.ops {
        derived_id("operation", &op.id, errs);
        for (what, ms) in [
            ("interval", Some(op.interval_ms)),
            ("timeout", op.timeout_ms),
        ] {
            if ms.is_some_and(|ms| ms > MAX_DURATION_MS) {
                errs.push(ModelError::Invalid {
                    context: format!("primitive {:?} op {}", p.id, op.name),
                    message: format!(
                        "{what} longer than {} is not allowed",
                        format_interval_ms(MAX_DURATION_MS)
                    ),
                });
            }
        }
        if op.name.is_empty() {
            errs.push(ModelError::Invalid {
                context: format!("primitive {:?}", p.id),
                message: "an operation needs a name".into(),
            });
        }
        if seen
            .insert((op.name.as_str(), op.interval_ms, op.role), ())
            .is_some()
        {
            errs.push(ModelError::Invalid {
                context: format!("primitive {:?}", p.id),
                message: format!(
                    "two {} operations with interval {}",
                    op.name,
                    format_interval_ms(op.interval_ms)
                ),
            });
        }
    }
}

/// An optional secondary id (ops, rules, expressions and fencing levels may have
/// none): when present it follows the id rules, with room for its derived suffix.
fn derived_id(kind: &str, id: &str, errs: &mut Vec<ModelError>) {
    if !id.is_empty() {
        if let Err(e) = check_id_within(kind, id, MAX_ID_LEN + DERIVED_ID_SLACK) {
            errs.push(e);
        }
    }
}

/// Resource defaults are meta attributes every resource inherits; operation
/// defaults' `timeout` and `interval` are durations like an op's own.
fn check_defaults(c: &Configuration, errs: &mut Vec<ModelError>) {
    check_meta("defaults", &c.rsc_defaults, errs);
    for k in ["timeout", "interval"] {
        if let Some(v) = c.op_defaults.get(k) {
            if parse_interval_ms(v).is_none() {
                errs.push(ModelError::BadInterval {
                    context: format!("op defaults {k}"),
                    value: v.clone(),
                });
            }
        }
    }
}

/// Checks the meta attributes whose values have a type.
pub(crate) fn check_meta(id: &str, meta: &crate::Attrs, errs: &mut Vec<ModelError>) {
    for (k, v) in meta {
        let ctx = || format!("resource {id:?} meta {k}");
        match k.as_str() {
            "resource-stickiness" | "priority" | "migration-threshold" => {
                if let Err(source) = v.parse::<Score>() {
                    errs.push(ModelError::BadScore {
                        context: ctx(),
                        source,
                    });
                }
            }
            "failure-timeout" if parse_interval_ms(v).is_none() => {
                errs.push(ModelError::BadInterval {
                    context: ctx(),
                    value: v.clone(),
                });
            }
            "is-managed" | "maintenance" if parse_bool(v).is_none() => {
                errs.push(ModelError::BadValue {
                    what: "boolean meta attribute",
                    value: format!("{k}={v}"),
                    expected: "true, false".into(),
                });
            }
            "target-role" => {
                if let Err(e) = v.parse::<crate::Role>() {
                    errs.push(e);
                }
            }
            "requires" => {
                if let Err(e) = v.parse::<crate::Requires>() {
                    errs.push(e);
                }
            }
            _ => {}
        }
    }
}

/// The id of what a clone clones (its primitive or group).
fn cloned_id(r: &Resource) -> Option<&str> {
    match r {
        Resource::Clone(c) => Some(c.child.id()),
        _ => None,
    }
}

fn check_resource<'c>(
    r: &'c Resource,
    ids: &mut HashMap<&'c str, &'static str>,
    errs: &mut Vec<ModelError>,
    top_level: bool,
) {
    match r {
        Resource::Primitive(p) => {
            claim(ids, &p.id, "primitive", errs);
            check_primitive(p, errs);
        }
        Resource::Group(g) => {
            claim(ids, &g.id, "group", errs);
            check_meta(&g.id, &g.meta, errs);
            if g.children.is_empty() {
                errs.push(ModelError::Invalid {
                    context: format!("group {:?}", g.id),
                    message: "a group needs at least one member".into(),
                });
            }
            for p in &g.children {
                claim(ids, &p.id, "primitive", errs);
                check_primitive(p, errs);
            }
        }
        Resource::Clone(cl) => {
            claim(ids, &cl.id, "clone", errs);
            check_meta(&cl.id, &cl.meta, errs);
            if !top_level || matches!(*cl.child, Resource::Clone(_)) {
                errs.push(ModelError::Invalid {
                    context: format!("clone {:?}", cl.id),
                    message: "a clone can only be a top-level resource, of a primitive or a group"
                        .into(),
                });
                return;
            }
            check_resource(&cl.child, ids, errs, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::*;

    fn prim(id: &str) -> Primitive {
        Primitive {
            id: id.into(),
            agent: AgentSpec::parse("ocf:pacemaker:Dummy").unwrap(),
            ..Default::default()
        }
    }

    #[test]
    fn reports_every_problem() {
        let mut c = Configuration::default();
        c.resources.push(Resource::Primitive(prim("a")));
        c.resources.push(Resource::Primitive(prim("a")));
        let mut bad = prim("b");
        bad.meta.insert("resource-stickiness".into(), "lots".into());
        bad.meta.insert("failure-timeout".into(), "soon".into());
        c.resources.push(Resource::Primitive(bad));
        c.constraints.colocation.push(ColocationConstraint {
            id: "c1".into(),
            rsc: "a".into(),
            with_rsc: "ghost".into(),
            score: Score::INFINITY,
            ..Default::default()
        });
        let errs = c.validate().unwrap_err();
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(
            text.iter().any(|t| t.contains("duplicate id \"a\"")),
            "{text:?}"
        );
        assert!(text.iter().any(|t| t.contains("lots")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("soon")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("ghost")), "{text:?}");
        assert_eq!(errs.len(), 4, "{text:?}");
    }

    #[test]
    fn valid_config_passes() {
        let mut c = Configuration::default();
        c.resources.push(Resource::Group(Group {
            id: "g".into(),
            children: vec![prim("a"), prim("b")],
            ..Default::default()
        }));
        c.constraints.order.push(OrderConstraint {
            id: "o".into(),
            first: "a".into(),
            then: "b".into(),
            ..Default::default()
        });
        assert_eq!(c.validate(), Ok(()));
    }
}
