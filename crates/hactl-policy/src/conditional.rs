//! Attribute sets with a rule (`hactl_model::conditional`), evaluated at the
//! scheduler's `now`:
//!
//! - cluster properties, node attributes, resource and operation defaults are
//!   folded into a copy of the CIB before anything else reads it ([`resolve`]);
//!   a CIB without such sets is used as it is, without a copy;
//! - a primitive's parameters can differ per node (a rule on `#uname`,
//!   `#cluster-name` or any node attribute): [`params_on`] gives them for one node,
//!   for the digests that detect definition changes and for the transition graph.
//!
//! Precedence is Pacemaker's: the first passing set of an owner that names a
//! value wins over the owner's unconditional value (the import dropped values that
//! an unconditional set of higher precedence names). For meta attributes, a
//! resource's own wins over its parent's, and the parent's (which include the
//! defaults that apply to the parent) over the defaults applying to the child.

use std::borrow::Cow;

use hactl_model::conditional::{ConditionalSet, SetOwner};
use hactl_model::values::parse_interval_ms;
use hactl_model::{AgentSpec, Attrs, Cib, Primitive, Resource};

use crate::rules::{rule_matches, NodeFacts, RuleInput};

/// The CIB with its properties, node attributes and defaults evaluated at `now`.
pub(crate) fn resolve(cib: &Cib, now: i64) -> Cow<'_, Cib> {
    if cib.config.conditional.is_empty() {
        return Cow::Borrowed(cib);
    }
    let mut out = cib.clone();
    let sets = &cib.config.conditional;
    let bare = |now| RuleInput {
        node: None,
        now,
        rsc: None,
        op: None,
    };
    let c = &mut out.config;
    let props = winners(sets, |o| *o == SetOwner::Properties, &bare(now));
    c.properties.extend(props);
    for n in &mut c.nodes {
        let own = |o: &SetOwner| matches!(o, SetOwner::Node { name } if *name == n.name);
        let found = winners(sets, own, &bare(now));
        // The import read these two into fields of their own.
        for (k, field) in [
            ("standby", &mut n.standby),
            ("maintenance", &mut n.maintenance),
        ] {
            if let Some(v) = found.get(k) {
                *field = hactl_model::values::parse_bool(v).unwrap_or(false);
            }
        }
        n.attributes.extend(found);
    }
    let defaults: Vec<&ConditionalSet> = sets
        .iter()
        .filter(|s| s.owner == SetOwner::RscDefaults)
        .collect();
    if !defaults.is_empty() {
        let flat = c.rsc_defaults.clone();
        for r in &mut c.resources {
            fold_rsc_defaults(r, &defaults, &flat, None, now);
        }
    }
    for p in c.resources.iter_mut().flat_map(primitives_mut) {
        fold_op_defaults(p, sets, now);
    }
    Cow::Owned(out)
}

/// The values of the first passing set (among `sets` of the owners `own` picks)
/// that names each key.
fn winners<'s>(
    sets: impl IntoIterator<Item = &'s ConditionalSet>,
    own: impl Fn(&SetOwner) -> bool,
    input: &RuleInput<'_, '_>,
) -> Attrs {
    let mut out = Attrs::new();
    for s in sets.into_iter().filter(|s| own(&s.owner)) {
        if s.values.keys().all(|k| out.contains_key(k)) || !rule_matches(&s.rule, input) {
            continue;
        }
        for (k, v) in &s.values {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    out
}

fn defaults_for(sets: &[&ConditionalSet], agent: Option<&AgentSpec>, now: i64) -> Attrs {
    let input = RuleInput {
        node: None,
        now,
        rsc: Some(agent),
        op: None,
    };
    winners(sets.iter().copied(), |_| true, &input)
}

/// Adds the passing resource defaults to `meta` where neither the resource nor
/// its parent (`parent`: the parent's meta, then the unconditional defaults the
/// parent inherited) names them.
fn add_defaults(meta: &mut Attrs, found: Attrs, parent: Option<(&Attrs, &Attrs)>) {
    for (k, v) in found {
        let inherited = parent.is_some_and(|(p, flat)| p.contains_key(&k) || flat.contains_key(&k));
        if !inherited {
            meta.entry(k).or_insert(v);
        }
    }
}

fn fold_rsc_defaults(
    r: &mut Resource,
    sets: &[&ConditionalSet],
    flat: &Attrs,
    parent: Option<&Attrs>,
    now: i64,
) {
    match r {
        Resource::Primitive(p) => {
            let found = defaults_for(sets, Some(&p.agent), now);
            add_defaults(&mut p.meta, found, parent.map(|m| (m, flat)));
        }
        Resource::Group(g) => {
            let found = defaults_for(sets, None, now);
            add_defaults(&mut g.meta, found, parent.map(|m| (m, flat)));
            // Members inherit the group's meta, which includes its parent's.
            let mut inherited = g.meta.clone();
            if let Some(p) = parent {
                for (k, v) in p {
                    inherited.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            for c in &mut g.children {
                let found = defaults_for(sets, Some(&c.agent), now);
                add_defaults(&mut c.meta, found, Some((&inherited, flat)));
            }
        }
        Resource::Clone(cl) => {
            let found = defaults_for(sets, None, now);
            add_defaults(&mut cl.meta, found, None);
            let meta = cl.meta.clone();
            fold_rsc_defaults(&mut cl.child, sets, flat, Some(&meta), now);
        }
    }
}

fn primitives_mut(r: &mut Resource) -> Vec<&mut Primitive> {
    match r {
        Resource::Primitive(p) => vec![p],
        Resource::Group(g) => g.children.iter_mut().collect(),
        Resource::Clone(c) => primitives_mut(&mut c.child),
    }
}

/// The passing operation defaults for one operation of `agent`.
fn op_defaults_for(
    sets: &[ConditionalSet],
    agent: &AgentSpec,
    op: &str,
    interval_ms: u64,
    now: i64,
) -> Attrs {
    let input = RuleInput {
        node: None,
        now,
        rsc: Some(Some(agent)),
        op: Some((op, interval_ms)),
    };
    winners(sets, |o| *o == SetOwner::OpDefaults, &input)
}

/// A configured operation without its own timeout takes the passing default's
/// (the import refuses any other key in an operation default with a rule).
fn fold_op_defaults(p: &mut Primitive, sets: &[ConditionalSet], now: i64) {
    for i in 0..p.ops.len() {
        if p.ops[i].timeout_ms.is_some() {
            continue;
        }
        let (name, interval) = (&p.ops[i].name, p.ops[i].interval_ms);
        let found = op_defaults_for(sets, &p.agent, name, interval, now);
        if let Some(t) = found.get("timeout").and_then(|t| parse_interval_ms(t)) {
            p.ops[i].timeout_ms = Some(t);
        }
    }
}

/// The timeout of an operation the resource does not configure (a start, a stop, a
/// probe), from the passing operation defaults; `None` when none passes.
pub(crate) fn unconfigured_op_timeout(
    cib: &Cib,
    p: &Primitive,
    op: &str,
    interval_ms: u64,
    now: i64,
) -> Option<u64> {
    if cib.config.conditional.is_empty() {
        return None;
    }
    op_defaults_for(&cib.config.conditional, &p.agent, op, interval_ms, now)
        .get("timeout")
        .and_then(|t| parse_interval_ms(t))
}

/// Primitive `p`'s parameters on node `node` (by name) at `now`: its own, with
/// the first passing per-node set overriding each value.
pub(crate) fn params_on<'c>(
    cib: &'c Cib,
    p: &'c Primitive,
    node: &str,
    now: i64,
) -> Cow<'c, Attrs> {
    let own = |o: &SetOwner| matches!(o, SetOwner::Params { rsc } if *rsc == p.id);
    if !cib.config.conditional.iter().any(|s| own(&s.owner)) {
        return Cow::Borrowed(&p.params);
    }
    let Some(n) = cib.config.nodes.iter().find(|n| n.name == node) else {
        return Cow::Borrowed(&p.params);
    };
    let transient = cib.status.nodes.get(node).map(|s| &s.attributes);
    let lookup = |k: &str| {
        transient
            .and_then(|t| t.get(k))
            .or_else(|| n.attributes.get(k))
            .map(String::as_str)
    };
    let facts = NodeFacts {
        name: &n.name,
        id: &n.id,
        is_dc: cib.status.dc.as_deref() == Some(node),
        cluster_name: cib
            .config
            .properties
            .get("cluster-name")
            .map(String::as_str),
        attr: &lookup,
    };
    let found = winners(
        &cib.config.conditional,
        own,
        &RuleInput::on_node(&facts, now),
    );
    let mut out = p.params.clone();
    out.extend(found);
    Cow::Owned(out)
}
