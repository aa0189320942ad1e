//! Configuration checks that do not need the agents: unique ids, constraints that name
//! existing resources and nodes, well-formed meta attributes.

use std::collections::HashMap;

use crate::values::{parse_bool, parse_interval_ms};
use crate::{Configuration, ModelError, Primitive, Resource, Score};

pub(crate) fn validate(c: &Configuration) -> Result<(), Vec<ModelError>> {
    let mut errs = Vec::new();
    let mut ids: HashMap<&str, &'static str> = HashMap::new();
    if let Err(e) = c.options() {
        errs.push(e);
    }
    let mut node_names: HashMap<&str, ()> = HashMap::new();
    for n in &c.nodes {
        if node_names.insert(&n.name, ()).is_some() {
            errs.push(ModelError::DuplicateId {
                id: n.name.clone(),
                first: "node",
                second: "node",
            });
        }
    }
    for r in &c.resources {
        match r {
            Resource::Primitive(p) => {
                claim(&mut ids, &p.id, "primitive", &mut errs);
                check_primitive(p, &mut errs);
            }
            Resource::Group(g) => {
                claim(&mut ids, &g.id, "group", &mut errs);
                check_meta(&g.id, &g.meta, &mut errs);
                if g.children.is_empty() {
                    errs.push(ModelError::Invalid {
                        context: format!("group {:?}", g.id),
                        message: "a group needs at least one member".into(),
                    });
                }
                for p in &g.children {
                    claim(&mut ids, &p.id, "primitive", &mut errs);
                    check_primitive(p, &mut errs);
                }
            }
        }
    }
    let rsc_exists = |id: &str| {
        c.resources
            .iter()
            .any(|r| r.id() == id || r.primitives().any(|p| p.id == id))
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
    for lvl in &c.fencing_levels {
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
    if id.is_empty() {
        errs.push(ModelError::Invalid {
            context: kind.to_string(),
            message: "empty id".into(),
        });
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
                    crate::values::format_interval_ms(op.interval_ms)
                ),
            });
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
