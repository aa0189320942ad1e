//! Pacemaker CIB XML → [`hactl_model::Cib`].
//!
//! The rule: everything the scheduler could act on is either mapped or rejected with
//! an error naming the element and its id. Only bookkeeping that cannot change a
//! decision (alerts, `cib-last-written`, feature-set versions, transition magic)
//! is skipped, and each skip is spelled out below.

use std::collections::{BTreeMap, HashMap};

use hactl_model::values::{parse_bool, parse_interval_ms};
use hactl_model::{
    AgentSpec, Attrs, Cib, ColocationConstraint, Configuration, FailCount, FencingLevel, Group,
    LocationConstraint, MigrationNodes, Node, NodeStatus, OpRecord, OpSpec, OrderConstraint,
    Primitive, Resource, ResourceHistory, Score,
};

use crate::conditional;
use crate::dom::{self, Element};
use crate::ImportError;
use hactl_model::conditional::{ConditionalSet, SetOwner};

/// Node attribute that carries a node's base score (`<node score="…">`), which the
/// model has no dedicated field for. Names starting with `#` cannot be set by
/// operators, so it cannot clash with a real attribute.
pub const NODE_SCORE_ATTR: &str = "#score";

/// Cluster property that carries the CIB's `no-quorum-panic` flag (the partition has
/// had quorum before, so `no-quorum-policy=suicide` really fences itself).
pub const NO_QUORUM_PANIC_PROPERTY: &str = "no-quorum-panic";

/// Converts a Pacemaker CIB document to the model.
pub fn import(xml: &str) -> Result<Cib, ImportError> {
    let mut sink = Sink::default();
    let root = dom::parse_with(xml, |ancestors, el| sink.on_close(ancestors, el))?;
    let mut cib = import_root(&root, sink.config, sink.nodes)?;
    cib.status.tickets = sink.tickets;
    cib.status.history_order = history_order(sink.order);
    Ok(cib)
}

/// [`import`] from a stream, without reading the whole file into one string first.
/// It trades speed for memory: on a 200 MB CIB (64 nodes, 10,000 resources) it took
/// about twice as long as [`import`] for a quarter less peak memory, since every
/// name and value is copied out of the read buffer; `hactl simulate` uses [`import`].
pub fn import_reader(source: impl std::io::BufRead) -> Result<Cib, ImportError> {
    let mut sink = Sink::default();
    let root = dom::parse_reader_with(source, |ancestors, el| sink.on_close(ancestors, el))?;
    let mut cib = import_root(&root, sink.config, sink.nodes)?;
    cib.status.tickets = sink.tickets;
    cib.status.history_order = history_order(sink.order);
    Ok(cib)
}

/// Converts the configuration and each node's status as soon as they have been read,
/// so a large CIB never exists twice in memory (as a tree and as the model). The
/// configuration comes first in every CIB; node_state needs its nodes.
#[derive(Default)]
struct Sink {
    config: Option<Configuration>,
    by_id: HashMap<String, String>,
    nodes: BTreeMap<String, NodeStatus>,
    /// Node names in status-section order ([`hactl_model::Status::history_order`]).
    order: Vec<String>,
    tickets: BTreeMap<String, hactl_model::TicketState>,
}

impl Sink {
    fn on_close<'a>(
        &mut self,
        ancestors: &[Element<'a>],
        el: Element<'a>,
    ) -> Result<Option<Element<'a>>, ImportError> {
        let under = |path: &[&str]| {
            ancestors.len() == path.len() && ancestors.iter().zip(path).all(|(a, p)| a.name == *p)
        };
        if el.name == "configuration" && under(&["cib"]) {
            let mut c = Configuration::default();
            import_configuration(&el, &mut c)?;
            self.by_id = c
                .nodes
                .iter()
                .chain(&c.remote_nodes)
                .map(|n| (n.id.clone(), n.name.clone()))
                .collect();
            self.config = Some(c);
            return Ok(None);
        }
        if el.name == "tickets" && under(&["cib", "status"]) {
            crate::tickets::import_states(&el, &mut self.tickets)?;
            return Ok(None);
        }
        if el.name == "node_state" && under(&["cib", "status"]) {
            let (name, st) = import_node_state(&el, &self.by_id)?;
            self.order.push(name.clone());
            if self.nodes.insert(name.clone(), st).is_some() {
                return Err(invalid(
                    &el,
                    "uname",
                    &name,
                    "second node_state for the same node",
                ));
            }
            return Ok(None);
        }
        Ok(Some(el))
    }
}

pub(crate) fn unsupported(el: &Element, why: &str) -> ImportError {
    ImportError::Unsupported {
        element: el.name.to_string(),
        id: el.id().map(str::to_string),
        reason: why.to_string(),
    }
}

pub(crate) fn invalid(
    el: &Element,
    attribute: &str,
    value: &str,
    why: impl Into<String>,
) -> ImportError {
    ImportError::Invalid {
        element: el.name.to_string(),
        id: el.id().map(str::to_string),
        attribute: attribute.to_string(),
        value: value.to_string(),
        reason: why.into(),
    }
}

pub(crate) fn required<'a>(el: &'a Element, attribute: &str) -> Result<&'a str, ImportError> {
    el.attr(attribute).ok_or_else(|| ImportError::Missing {
        element: el.name.to_string(),
        id: el.id().map(str::to_string),
        attribute: attribute.to_string(),
    })
}

pub(crate) fn score_attr(el: &Element, attribute: &str) -> Result<Option<Score>, ImportError> {
    el.attr(attribute)
        .map(|v| {
            v.parse::<Score>()
                .map_err(|e| invalid(el, attribute, v, e.to_string()))
        })
        .transpose()
}

pub(crate) fn bool_attr(el: &Element, attribute: &str) -> Result<Option<bool>, ImportError> {
    el.attr(attribute)
        .map(|v| parse_bool(v).ok_or_else(|| invalid(el, attribute, v, "expected true or false")))
        .transpose()
}

/// A colocation's `influence`. One that does not read as a boolean is not an
/// error for Pacemaker: it logs a configuration error and uses the default
/// (the dependent's `critical` meta), so hactl warns and reads it as unset.
pub(crate) fn influence_attr(k: &Element) -> Option<bool> {
    let v = k.attr("influence")?;
    let parsed = parse_bool(v);
    if parsed.is_none() {
        tracing::warn!(
            constraint = k.id().unwrap_or_default(),
            influence = v,
            "invalid colocation influence: using the default, as Pacemaker does"
        );
    }
    parsed
}

pub(crate) fn int_attr<T: std::str::FromStr>(
    el: &Element,
    attribute: &str,
) -> Result<Option<T>, ImportError> {
    el.attr(attribute)
        .map(|v| {
            v.trim()
                .parse::<T>()
                .map_err(|_| invalid(el, attribute, v, "expected an integer"))
        })
        .transpose()
}

fn required_int<T: std::str::FromStr>(el: &Element, attribute: &str) -> Result<T, ImportError> {
    let v = required(el, attribute)?;
    v.trim()
        .parse::<T>()
        .map_err(|_| invalid(el, attribute, v, "expected an integer"))
}

pub(crate) fn parsed<T>(el: &Element, attribute: &str) -> Result<Option<T>, ImportError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    el.attr(attribute)
        .map(|v| {
            v.parse::<T>()
                .map_err(|e| invalid(el, attribute, v, e.to_string()))
        })
        .transpose()
}

/// The status section's node order, kept only when it is not name order (the
/// order an empty [`hactl_model::Status::history_order`] stands for).
fn history_order(order: Vec<String>) -> Vec<String> {
    if order.windows(2).all(|w| w[0] <= w[1]) {
        Vec::new()
    } else {
        order
    }
}

fn import_root(
    root: &Element,
    config: Option<Configuration>,
    nodes: BTreeMap<String, NodeStatus>,
) -> Result<Cib, ImportError> {
    if root.name != "cib" {
        return Err(ImportError::NotACib(root.name.to_string()));
    }
    let mut cib = Cib {
        epoch: int_attr(root, "epoch")?.unwrap_or(0),
        execution_date: int_attr(root, "execution-date")?,
        ..Default::default()
    };
    // Pacemaker sets its quorate flag only when have-quorum is true: absent means no
    // quorum.
    cib.status.have_quorum = match root.attr("have-quorum") {
        None => false,
        Some(v) => parse_bool(v)
            .ok_or_else(|| invalid(root, "have-quorum", v, "expected true or false"))?,
    };
    // Sections still here were not consumed while parsing: only an empty status
    // (or one holding something other than node_state) can be left.
    for c in &root.children {
        match c.name.as_ref() {
            "status" => {
                if let Some(x) = c.children.first() {
                    return Err(unsupported(x, "unexpected element inside <status>"));
                }
            }
            _ => return Err(unsupported(c, "unknown section of <cib>")),
        }
    }
    cib.config = config.ok_or(ImportError::Missing {
        element: "cib".into(),
        id: None,
        attribute: "<configuration>".into(),
    })?;
    crate::refuse::check(&cib.config)?;
    if let Some(v) = root.attr("no-quorum-panic") {
        cib.config
            .properties
            .insert(NO_QUORUM_PANIC_PROPERTY.to_string(), v.to_string());
    }
    // dc-uuid names a node by id; a value that names no configured node (the cases
    // use "0") means there is no DC.
    if let Some(dc) = root.attr("dc-uuid") {
        cib.status.dc = cib
            .config
            .nodes
            .iter()
            .find(|n| n.id == dc)
            .map(|n| n.name.to_string());
    }
    cib.status.nodes = nodes;
    Ok(cib)
}

fn import_configuration(conf: &Element, config: &mut Configuration) -> Result<(), ImportError> {
    let refs = crate::templates::collect(conf)?;
    for c in &conf.children {
        match c.name.as_ref() {
            "crm_config" => {
                let first = Some("cib-bootstrap-options");
                let sets = conditional::ordered(c, &["cluster_property_set"], first, true)?;
                let (plain, cond) = conditional::fold(&sets, Some(&SetOwner::Properties))?;
                config.properties = plain;
                config.conditional.extend(cond);
            }
            "rsc_defaults" | "op_defaults" => {
                let owner = match c.name.as_ref() {
                    "rsc_defaults" => SetOwner::RscDefaults,
                    _ => SetOwner::OpDefaults,
                };
                let sets = conditional::ordered(c, &["meta_attributes"], None, true)?;
                let (plain, cond) = conditional::fold(&sets, Some(&owner))?;
                match owner {
                    SetOwner::RscDefaults => config.rsc_defaults = plain,
                    _ => config.op_defaults = plain,
                }
                config.conditional.extend(cond);
            }
            "nodes" => {
                for n in &c.children {
                    let node = import_node(n, &mut config.conditional)?;
                    if n.attr("type") == Some("remote") {
                        config.remote_nodes.push(node);
                    } else {
                        config.nodes.push(node);
                    }
                }
            }
            "resources" => {
                for r in c.children.iter().filter(|r| r.name != "template") {
                    let r = refs.resolve_resource(r);
                    if r.name == "bundle" {
                        let position = config.resources.len();
                        config.bundles.push(bundle::import_bundle(&r, position)?);
                    } else {
                        config.resources.push(import_resource(&r)?);
                    }
                    // Per-node parameters: read apart so that the resource import
                    // (shared with clones) keeps its signature.
                    for p in primitives_of(&r) {
                        let id = required(p, "id")?;
                        conditional::primitive_params(p, id, &mut config.conditional)?;
                    }
                }
            }
            "constraints" => {
                for k in &c.children {
                    for k in refs.expand(k)? {
                        import_constraint(&k, config)?;
                    }
                }
            }
            "fencing-topology" => {} // after nodes: target-attribute needs them
            // Alert agents are notified of events; they never change a decision.
            "alerts" => config.alerts = crate::alerts::import_alerts(c)?,
            // Read by templates::collect, resolved into the constraints naming them.
            "tags" => {}
            // ACLs restrict who may change the CIB, never what the scheduler does;
            // an empty section grants nothing, so it can be dropped. Rules in a
            // non-empty one would be lost, so those are refused.
            "acls" if c.children.is_empty() => {}
            "acls" => return Err(unsupported(c, "ACLs are not supported")),
            _ => return Err(unsupported(c, "unknown configuration section")),
        }
    }
    for c in conf
        .children
        .iter()
        .filter(|c| c.name == "fencing-topology")
    {
        for l in &c.children {
            import_fencing_level(l, config)?;
        }
    }
    Ok(())
}

/// The primitives of a resource element (itself, a group's, a clone's).
fn primitives_of<'e>(r: &'e Element<'e>) -> Vec<&'e Element<'e>> {
    match r.name.as_ref() {
        "primitive" => vec![r],
        "group" | "clone" | "master" | "bundle" => {
            r.children.iter().flat_map(primitives_of).collect()
        }
        _ => Vec::new(),
    }
}

/// The nvpairs of one set, in document order. A `<rule>` in it is refused unless
/// the caller reads it (`rules_ok`: [`conditional::fold`]).
pub(crate) fn nvpairs(set: &Element, rules_ok: bool) -> Result<Vec<(String, String)>, ImportError> {
    if set.attr("id-ref").is_some() {
        return Err(unsupported(
            set,
            "references to other attribute sets (id-ref) are not supported",
        ));
    }
    let mut out = Vec::with_capacity(set.children.len());
    for p in &set.children {
        match p.name.as_ref() {
            "nvpair" => {
                if p.attr("id-ref").is_some() {
                    return Err(unsupported(
                        p,
                        "nvpair references (id-ref) are not supported",
                    ));
                }
                let name = required(p, "name")?;
                // An nvpair without value unsets the name; nothing to carry.
                if let Some(v) = p.attr("value") {
                    out.push((name.to_string(), v.to_string()));
                }
            }
            "rule" if rules_ok => {}
            "rule" => {
                return Err(unsupported(
                    p,
                    &format!(
                        "rules inside <{}> (conditional attributes) are not supported",
                        set.name
                    ),
                ))
            }
            _ => {
                return Err(unsupported(
                    p,
                    &format!("unexpected element inside <{}>", set.name),
                ))
            }
        }
    }
    Ok(out)
}

/// Merges several sets of one kind that are direct children of `el` (first wins).
pub(crate) fn child_sets(el: &Element, set_name: &str) -> Result<Attrs, ImportError> {
    let sets = conditional::ordered(el, &[set_name], None, false)?;
    Ok(conditional::fold(&sets, None)?.0)
}

fn import_node(n: &Element, cond: &mut Vec<ConditionalSet>) -> Result<Node, ImportError> {
    if n.name != "node" {
        return Err(unsupported(n, "unexpected element inside <nodes>"));
    }
    let id = required(n, "id")?.to_string();
    match n.attr("type") {
        None | Some("member") | Some("normal") | Some("remote") => {}
        Some(t) => {
            return Err(invalid(
                n,
                "type",
                t,
                "only cluster member and remote nodes are supported (no ping nodes)",
            ))
        }
    }
    let name = n.attr("uname").unwrap_or(&id).to_string();
    let mut node = Node {
        id,
        name,
        ..Default::default()
    };
    for c in &n.children {
        match c.name.as_ref() {
            "instance_attributes" | "utilization" => {}
            _ => return Err(unsupported(c, "unexpected element inside <node>")),
        }
    }
    let sets = conditional::ordered(n, &["instance_attributes"], None, false)?;
    let owner = SetOwner::Node {
        name: node.name.clone(),
    };
    let (attributes, node_cond) = conditional::fold(&sets, Some(&owner))?;
    node.attributes = attributes;
    cond.extend(node_cond);
    node.utilization = child_sets(n, "utilization")?;
    if let Some(s) = score_attr(n, "score")? {
        node.attributes
            .insert(NODE_SCORE_ATTR.to_string(), s.to_string());
    }
    for (attr, field) in [
        ("standby", &mut node.standby),
        ("maintenance", &mut node.maintenance),
    ] {
        if let Some(v) = node.attributes.get(attr) {
            *field = parse_bool(v).ok_or_else(|| invalid(n, attr, v, "expected true or false"))?;
        }
    }
    Ok(node)
}

#[path = "import_clone.rs"]
mod clone;

#[path = "import_bundle.rs"]
mod bundle;
pub(crate) use bundle::check_bundle_constraints;

fn import_resource(r: &Element) -> Result<Resource, ImportError> {
    match r.name.as_ref() {
        "primitive" => Ok(Resource::Primitive(import_primitive(r, &Attrs::new())?)),
        "group" => {
            let id = required(r, "id")?.to_string();
            for c in &r.children {
                match c.name.as_ref() {
                    "primitive" | "meta_attributes" | "instance_attributes" => {}
                    "utilization" => {
                        return Err(unsupported(c, "utilization is not supported yet"))
                    }
                    _ => return Err(unsupported(c, "unexpected element inside <group>")),
                }
            }
            // A group's instance attributes are inherited by its members; the model
            // keeps parameters on primitives only, so push them down here.
            let inherited = child_sets(r, "instance_attributes")?;
            let meta = child_sets(r, "meta_attributes")?;
            let children = r
                .children
                .iter()
                .filter(|c| c.name == "primitive")
                .map(|c| import_primitive(c, &inherited))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Resource::Group(Group { id, meta, children }))
        }
        "clone" | "master" => clone::import_clone(r),
        "bundle" => Err(unsupported(r, "a bundle cannot be inside a group or clone")),
        _ => Err(unsupported(r, "unknown resource type")),
    }
}

fn import_primitive(p: &Element, inherited_params: &Attrs) -> Result<Primitive, ImportError> {
    if p.name != "primitive" {
        return Err(unsupported(p, "only primitives can be group members"));
    }
    let id = required(p, "id")?.to_string();
    if p.attr("template").is_some() {
        return Err(unsupported(
            p,
            "primitives based on a template are not supported yet",
        ));
    }
    let class = required(p, "class")?.to_string();
    let provider = p.attr("provider").map(str::to_string);
    if class == "ocf" && provider.is_none() {
        return Err(ImportError::Missing {
            element: p.name.to_string(),
            id: Some(id),
            attribute: "provider".into(),
        });
    }
    let agent = AgentSpec {
        class,
        provider,
        kind: required(p, "type")?.to_string(),
    };
    let mut ops = Vec::new();
    for c in &p.children {
        match c.name.as_ref() {
            "instance_attributes" | "meta_attributes" | "utilization" => {}
            "operations" => {
                if c.attr("id-ref").is_some() {
                    return Err(unsupported(
                        c,
                        "operation references (id-ref) are not supported",
                    ));
                }
                for o in &c.children {
                    ops.push(import_op(o)?);
                }
            }
            _ => return Err(unsupported(c, "unexpected element inside <primitive>")),
        }
    }
    // Sets with a rule are read by conditional::primitive_params.
    let sets = conditional::ordered(p, &["instance_attributes"], None, false)?;
    let mut params = conditional::fold(&sets, Some(&SetOwner::Params { rsc: id.clone() }))?.0;
    for (k, v) in inherited_params {
        params.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Ok(Primitive {
        id,
        agent,
        params,
        meta: child_sets(p, "meta_attributes")?,
        ops,
        utilization: child_sets(p, "utilization")?,
    })
}

/// An op's timeout. One that does not read as a duration is not an error for
/// Pacemaker: it runs the op with its default timeout (20 s, not the operation
/// defaults'), and so does hactl, with a warning.
fn op_timeout(o: &Element, v: &str) -> u64 {
    parse_interval_ms(v).unwrap_or_else(|| {
        tracing::warn!(
            op = o.id().unwrap_or_default(),
            timeout = v,
            default_ms = hactl_model::DEFAULT_OP_TIMEOUT_MS,
            "invalid operation timeout: using the default, as Pacemaker does"
        );
        hactl_model::DEFAULT_OP_TIMEOUT_MS
    })
}

fn import_op(o: &Element) -> Result<OpSpec, ImportError> {
    if o.name != "op" {
        return Err(unsupported(o, "unexpected element inside <operations>"));
    }
    let interval = required(o, "interval")?;
    let interval_ms = parse_interval_ms(interval)
        .ok_or_else(|| invalid(o, "interval", interval, "not a valid interval"))?;
    let timeout_ms = o.attr("timeout").map(|v| op_timeout(o, v));
    let mut op = OpSpec {
        id: o.id().unwrap_or_default().to_string(),
        name: required(o, "name")?.to_string(),
        interval_ms,
        timeout_ms,
        on_fail: parsed(o, "on-fail")?,
        role: parsed(o, "role")?,
        enabled: bool_attr(o, "enabled")?,
        extra: Attrs::new(),
    };
    for (k, v) in &o.attrs {
        if !matches!(
            k.as_ref(),
            "id" | "name" | "interval" | "timeout" | "on-fail" | "role" | "enabled"
        ) {
            op.extra.insert(k.to_string(), v.to_string());
        }
    }
    for c in &o.children {
        match c.name.as_ref() {
            "instance_attributes" | "meta_attributes" => {}
            _ => return Err(unsupported(c, "unexpected element inside <op>")),
        }
    }
    // Op instance attributes (OCF_CHECK_LEVEL) and meta attributes are both just
    // more settings of the operation.
    for set in ["instance_attributes", "meta_attributes"] {
        for (k, v) in child_sets(o, set)? {
            op.extra.entry(k).or_insert(v);
        }
    }
    Ok(op)
}

fn reject_sets(k: &Element) -> Result<(), ImportError> {
    if let Some(s) = k.children.iter().find(|c| c.name == "resource_set") {
        return Err(unsupported(
            s,
            &format!(
                "resource sets in constraint {:?} are not supported yet",
                k.id().unwrap_or("")
            ),
        ));
    }
    Ok(())
}

fn import_constraint(
    k: &Element,
    config: &mut hactl_model::Configuration,
) -> Result<(), ImportError> {
    match k.name.as_ref() {
        "rsc_location" => {
            reject_sets(k)?;
            let targets = crate::pattern::location_targets(k, config)?;
            let mut c = LocationConstraint {
                id: required(k, "id")?.to_string(),
                rsc: match &targets {
                    Some(_) => String::new(),
                    None => required(k, "rsc")?.to_string(),
                },
                node: k.attr("node").map(str::to_string),
                score: score_attr(k, "score")?,
                role: parsed(k, "role")?,
                resource_discovery: k.attr("resource-discovery").map(str::to_string),
                ..Default::default()
            };
            if c.node.is_some() && c.score.is_none() {
                return Err(ImportError::Missing {
                    element: k.name.to_string(),
                    id: Some(c.id),
                    attribute: "score".into(),
                });
            }
            for r in &k.children {
                match r.name.as_ref() {
                    "rule" => c.rules.push(conditional::import_rule(r)?),
                    "lifetime" => {
                        return Err(unsupported(r, "constraint lifetimes are not supported"))
                    }
                    _ => return Err(unsupported(r, "unexpected element inside <rsc_location>")),
                }
            }
            if c.node.is_none() && c.rules.is_empty() {
                return Err(invalid(
                    k,
                    "node",
                    "",
                    "a location constraint needs node and score, or a rule",
                ));
            }
            crate::pattern::push_location(c, targets, config);
        }
        "rsc_colocation" => {
            if crate::sets::colocation_sets(k, config)? {
                return Ok(());
            }
            for a in ["node-attribute", "rsc-instance", "with-rsc-instance"] {
                if let Some(v) = k.attr(a) {
                    if !(a == "node-attribute" && v == "#uname") {
                        return Err(unsupported(k, &format!("{a} is not supported yet")));
                    }
                }
            }
            if let Some(c) = k.children.first() {
                return Err(unsupported(c, "unexpected element inside <rsc_colocation>"));
            }
            config.constraints.colocation.push(ColocationConstraint {
                id: required(k, "id")?.to_string(),
                rsc: required(k, "rsc")?.to_string(),
                with_rsc: required(k, "with-rsc")?.to_string(),
                // Pacemaker reads a missing score as 0.
                score: score_attr(k, "score")?.unwrap_or(Score::ZERO),
                rsc_role: parsed(k, "rsc-role")?,
                with_rsc_role: parsed(k, "with-rsc-role")?,
                influence: influence_attr(k),
            });
        }
        "rsc_order" => {
            if crate::sets::order_sets(k, config)? {
                return Ok(());
            }
            for a in ["first-instance", "then-instance"] {
                if k.attr(a).is_some() {
                    return Err(unsupported(k, &format!("{a} is not supported yet")));
                }
            }
            if let Some(c) = k.children.first() {
                return Err(unsupported(c, "unexpected element inside <rsc_order>"));
            }
            let first_action =
                parsed(k, "first-action")?.unwrap_or(hactl_model::OrderAction::Start);
            // Pacemaker: then-action defaults to first-action.
            let then_action = parsed(k, "then-action")?.unwrap_or(first_action);
            // Before `kind` existed, score 0 meant an optional ordering.
            let kind = crate::sets::constraint_kind(k)?;
            config.constraints.order.push(OrderConstraint {
                id: required(k, "id")?.to_string(),
                first: required(k, "first")?.to_string(),
                then: required(k, "then")?.to_string(),
                first_action,
                then_action,
                kind,
                symmetrical: bool_attr(k, "symmetrical")?,
                require_all: bool_attr(k, "require-all")?,
                one_or_more: None,
            });
        }
        "rsc_ticket" => crate::tickets::import_constraint(k, config)?,
        _ => return Err(unsupported(k, "unknown constraint type")),
    }
    Ok(())
}

fn import_fencing_level(
    l: &Element,
    config: &mut hactl_model::Configuration,
) -> Result<(), ImportError> {
    if l.name != "fencing-level" {
        return Err(unsupported(
            l,
            "unexpected element inside <fencing-topology>",
        ));
    }
    let id = required(l, "id")?.to_string();
    let index: u32 = int_attr(l, "index")?.ok_or_else(|| ImportError::Missing {
        element: l.name.to_string(),
        id: Some(id.clone()),
        attribute: "index".into(),
    })?;
    let devices: Vec<String> = required(l, "devices")?
        .split(',')
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty())
        .collect();
    if let Some(t) = l.attr("target") {
        config.fencing_levels.push(FencingLevel {
            id,
            target: t.to_string(),
            index,
            devices,
        });
    } else if let Some(attr) = l.attr("target-attribute") {
        // Targets chosen by a permanent node attribute: the configured nodes are all
        // known here, so expand to one level per matching node.
        let value = required(l, "target-value")?;
        for n in config
            .nodes
            .iter()
            .filter(|n| n.attributes.get(attr).map(String::as_str) == Some(value))
        {
            config.fencing_levels.push(FencingLevel {
                id: format!("{id}@{}", n.name),
                target: n.name.to_string(),
                index,
                devices: devices.clone(),
            });
        }
    } else if l.attr("target-pattern").is_some() {
        return Err(unsupported(l, "target-pattern is not supported yet"));
    } else {
        return Err(ImportError::Missing {
            element: l.name.to_string(),
            id: Some(id),
            attribute: "target".into(),
        });
    }
    Ok(())
}

/// Pacemaker 3 writes `in_ccm`/`crmd` as the time the node joined ("1700000000") or
/// "0"; older CIBs use true/false and online/offline.
fn membership_flag(el: &Element, attribute: &str) -> Result<Option<bool>, ImportError> {
    let Some(v) = el.attr(attribute) else {
        return Ok(None);
    };
    let t = v.trim();
    if t.eq_ignore_ascii_case("online") {
        return Ok(Some(true));
    }
    if t.eq_ignore_ascii_case("offline") {
        return Ok(Some(false));
    }
    if let Ok(n) = t.parse::<i64>() {
        return Ok(Some(n > 0));
    }
    parse_bool(t).map(Some).ok_or_else(|| {
        invalid(
            el,
            attribute,
            v,
            "expected true, false, online, offline or a timestamp",
        )
    })
}

fn import_node_state(
    ns: &Element,
    by_id: &HashMap<String, String>,
) -> Result<(String, NodeStatus), ImportError> {
    // A remote node fenced since its connection last started: what that
    // changes (get_remote_node_state's reconnect case) is not scheduled.
    if ns.attr("node_fenced").is_some_and(|v| v.trim() != "0") {
        return Err(unsupported(
            ns,
            "node_fenced (a fenced Pacemaker Remote node) is not supported yet",
        ));
    }
    let name = match ns.attr("uname") {
        Some(u) => u.to_string(),
        None => {
            let id = required(ns, "id")?;
            by_id.get(id).cloned().ok_or_else(|| {
                invalid(
                    ns,
                    "id",
                    id,
                    "node_state without uname names no configured node",
                )
            })?
        }
    };
    let mut st = NodeStatus {
        member: membership_flag(ns, "in_ccm")?,
        controller_online: membership_flag(ns, "crmd")?,
        join: ns.attr("join").map(str::to_string),
        expected: ns.attr("expected").map(str::to_string),
        ..Default::default()
    };
    // Old CIBs keep the shutdown request on node_state itself; "0" means none.
    if let Some(t) = int_attr::<i64>(ns, "shutdown")? {
        st.shutdown = (t != 0).then_some(t);
    }
    for c in &ns.children {
        match c.name.as_ref() {
            "transient_attributes" => import_transient(c, &mut st)?,
            "lrm" => import_lrm(c, &mut st)?,
            _ => return Err(unsupported(c, "unexpected element inside <node_state>")),
        }
    }
    Ok((name, st))
}

/// `fail-count-rsc` or `fail-count-rsc#op_interval` (after the prefix) → parts.
fn split_fail_key(key: &str) -> (String, Option<(String, u64)>) {
    if let Some((rsc, op_interval)) = key.rsplit_once('#') {
        if let Some((op, interval)) = op_interval.rsplit_once('_') {
            if let Ok(ms) = interval.parse::<u64>() {
                return (rsc.to_string(), Some((op.to_string(), ms)));
            }
        }
    }
    (key.to_string(), None)
}

fn failcount_entry<'a>(st: &'a mut NodeStatus, key: &str) -> &'a mut FailCount {
    let (rsc, op) = split_fail_key(key);
    let (op, interval_ms) = match op {
        Some((o, i)) => (Some(o), Some(i)),
        None => (None, None),
    };
    let pos = st
        .failcounts
        .iter()
        .position(|f| f.rsc == rsc && f.op == op && f.interval_ms == interval_ms);
    match pos {
        Some(i) => &mut st.failcounts[i],
        None => {
            st.failcounts.push(FailCount {
                rsc,
                op,
                interval_ms,
                ..Default::default()
            });
            let last = st.failcounts.len() - 1;
            &mut st.failcounts[last]
        }
    }
}

fn import_transient(t: &Element, st: &mut NodeStatus) -> Result<(), ImportError> {
    for set in &t.children {
        if set.name != "instance_attributes" {
            return Err(unsupported(
                set,
                "unexpected element inside <transient_attributes>",
            ));
        }
        for p in set.children.iter() {
            let Some(name) = p.attr("name") else {
                // nvpairs() below reports the missing name.
                continue;
            };
            let Some(value) = p.attr("value") else {
                continue;
            };
            if let Some(key) = name.strip_prefix("fail-count-") {
                let count = value
                    .parse::<Score>()
                    .map_err(|e| invalid(p, "value", value, e.to_string()))?;
                failcount_entry(st, key).count = count;
            } else if let Some(key) = name.strip_prefix("last-failure-") {
                let when = value
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| invalid(p, "value", value, "expected seconds since the epoch"))?;
                failcount_entry(st, key).last_failure = Some(when);
            } else if name == "shutdown" {
                let when = value
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| invalid(p, "value", value, "expected seconds since the epoch"))?;
                st.shutdown = (when != 0).then_some(when);
            } else {
                st.attributes.insert(name.to_string(), value.to_string());
            }
        }
        // Validates the set's shape (names present, no rules, no references).
        nvpairs(set, false)?;
    }
    Ok(())
}

fn import_lrm(lrm: &Element, st: &mut NodeStatus) -> Result<(), ImportError> {
    for rs in &lrm.children {
        if rs.name != "lrm_resources" {
            return Err(unsupported(rs, "unexpected element inside <lrm>"));
        }
        for r in &rs.children {
            if r.name != "lrm_resource" {
                return Err(unsupported(r, "unexpected element inside <lrm_resources>"));
            }
            let id = required(r, "id")?.to_string();
            // `container` here copies the resource's meta attribute for the
            // executor: the configuration's is the one scheduled.
            let mut h = ResourceHistory {
                position: u32::try_from(st.resources.len() + st.repeated_histories.len()).ok(),
                agent: AgentSpec {
                    class: r.attr("class").unwrap_or_default().to_string(),
                    provider: r.attr("provider").map(str::to_string),
                    kind: r.attr("type").unwrap_or_default().to_string(),
                },
                ops: Vec::with_capacity(r.children.len()),
                shutdown_lock: int_attr::<i64>(r, "shutdown-lock")?.filter(|&t| t != 0),
                ..Default::default()
            };
            for o in &r.children {
                if o.name != "lrm_rsc_op" {
                    return Err(unsupported(o, "unexpected element inside <lrm_resource>"));
                }
                let op = import_op_record(o)?;
                // A failed `_last_0` and its `_last_failure_0` are one failure.
                h.note_failure(&op);
                h.ops.push(op);
            }
            // Pacemaker reads every entry, also a second one with the same id;
            // keeping only one would read a running resource as stopped.
            match st.resources.entry(id) {
                std::collections::btree_map::Entry::Occupied(e) => {
                    st.repeated_histories.push((e.key().clone(), h));
                }
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(h);
                }
            }
        }
    }
    Ok(())
}

fn import_op_record(o: &Element) -> Result<OpRecord, ImportError> {
    // In the status section intervals are always milliseconds.
    let interval_ms = int_attr::<u64>(o, "interval")?.unwrap_or(0);
    let expected_rc = match o.attr("transition-key") {
        None => None,
        Some(k) => {
            // "action:transition:TARGET_RC:uuid"
            let rc = k.split(':').nth(2).and_then(|s| s.parse::<i32>().ok());
            Some(rc.ok_or_else(|| {
                invalid(o, "transition-key", k, "expected ACTION:TRANSITION:RC:UUID")
            })?)
        }
    };
    Ok(OpRecord {
        operation: required(o, "operation")?.to_string(),
        interval_ms,
        call_id: required_int(o, "call-id")?,
        rc: required_int(o, "rc-code")?,
        op_status: int_attr(o, "op-status")?.unwrap_or(0),
        expected_rc,
        last_rc_change: int_attr(o, "last-rc-change")?,
        last_run: int_attr(o, "last-run")?,
        exec_time_ms: int_attr(o, "exec-time")?,
        queue_time_ms: int_attr(o, "queue-time")?,
        exit_reason: o
            .attr("exit-reason")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        op_digest: o.attr("op-digest").map(str::to_string),
        op_force_restart: o.attr("op-force-restart").map(str::to_string),
        op_restart_digest: o.attr("op-restart-digest").map(str::to_string),
        op_secure_params: o.attr("op-secure-params").map(str::to_string),
        op_secure_digest: o.attr("op-secure-digest").map(str::to_string),
        migration: o.attr("migrate_source").zip(o.attr("migrate_target")).map(
            |(source, target)| {
                Box::new(MigrationNodes {
                    source: source.to_string(),
                    target: target.to_string(),
                })
            },
        ),
    })
}
