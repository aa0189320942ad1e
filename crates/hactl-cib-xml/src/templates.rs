//! Resource templates (`<template>`, `<primitive template=…>`) and tags (`<tags>`),
//! resolved on import as Pacemaker resolves them while unpacking:
//!
//! * A primitive based on a template takes the template's agent, attribute sets
//!   and operations; its own attributes win, and its own operations replace the
//!   template's with the same name and interval.
//! * A constraint naming a template or a tag applies to every primitive based on
//!   the template, or tagged: the reference becomes an unordered resource set
//!   (`sequential="false"`), which [`crate::sets`] expands; a plain resource on the
//!   other side becomes a one-member set. A tag inside a resource set is replaced
//!   by its members, in place. A location constraint naming one is repeated for
//!   each member.
//!
//! The model keeps the resolved primitives and constraints, not the references.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::dom::Element;
use crate::import::{required, unsupported};
use crate::ImportError;

/// Template and tag ids → the resources they stand for, in configuration order.
#[derive(Default)]
pub(crate) struct Refs<'e> {
    templates: HashMap<&'e str, &'e Element<'e>>,
    members: HashMap<String, Vec<String>>,
}

/// Reads the templates of `<resources>` and the `<tags>` section of `conf`.
pub(crate) fn collect<'e>(conf: &'e Element<'e>) -> Result<Refs<'e>, ImportError> {
    let mut refs = Refs::default();
    for section in &conf.children {
        match section.name.as_ref() {
            "resources" => collect_templates(section, &mut refs)?,
            "tags" => collect_tags(section, &mut refs)?,
            _ => {}
        }
    }
    Ok(refs)
}

fn collect_templates<'e>(res: &'e Element<'e>, refs: &mut Refs<'e>) -> Result<(), ImportError> {
    for t in res.children.iter().filter(|t| t.name == "template") {
        refs.templates.insert(required(t, "id")?, t);
        refs.members
            .entry(required(t, "id")?.to_string())
            .or_default();
    }
    let groups = res.children.iter().filter(|g| g.name == "group");
    let prims = res
        .children
        .iter()
        .chain(groups.flat_map(|g| g.children.iter()))
        .filter(|p| p.name == "primitive");
    for p in prims {
        if let Some(t) = p.attr("template") {
            if !refs.templates.contains_key(t) {
                return Err(unsupported(p, &format!("no template {t:?}")));
            }
            let list = refs.members.entry(t.to_string()).or_default();
            list.push(required(p, "id")?.to_string());
        }
    }
    Ok(())
}

fn collect_tags(tags: &Element, refs: &mut Refs) -> Result<(), ImportError> {
    for t in &tags.children {
        if t.name != "tag" {
            return Err(unsupported(t, "unexpected element inside <tags>"));
        }
        let mut ids = Vec::with_capacity(t.children.len());
        for o in &t.children {
            if o.name != "obj_ref" {
                return Err(unsupported(o, "unexpected element inside <tag>"));
            }
            ids.push(required(o, "id")?.to_string());
        }
        refs.members.insert(required(t, "id")?.to_string(), ids);
    }
    Ok(())
}

fn owned(s: &str) -> Cow<'static, str> {
    Cow::Owned(s.to_string())
}

fn element<'a>(name: &str, attrs: Vec<(&str, &str)>, children: Vec<Element<'a>>) -> Element<'a> {
    Element {
        name: owned(name),
        attrs: attrs
            .into_iter()
            .map(|(k, v)| (owned(k), owned(v)))
            .collect(),
        children,
    }
}

impl<'e> Refs<'e> {
    /// `p` with its template merged in (unchanged when it names none).
    pub(crate) fn resolve<'a>(&self, p: &'a Element<'a>) -> Cow<'a, Element<'a>> {
        let template = p.attr("template").and_then(|t| self.templates.get(t));
        let Some(t) = template else {
            return Cow::Borrowed(p);
        };
        let mut attrs = p.attrs.clone();
        attrs.retain(|(k, _)| k != "template");
        for key in ["class", "provider", "type"] {
            if let (Some(v), None) = (t.attr(key), p.attr(key)) {
                attrs.push((owned(key), owned(v)));
            }
        }
        // The primitive's sets first: the first set to name a value wins.
        let mut children: Vec<Element<'a>> = p
            .children
            .iter()
            .filter(|c| c.name != "operations")
            .cloned()
            .collect();
        children.extend(
            t.children
                .iter()
                .filter(|c| c.name != "operations")
                .map(|c| self.renamed(c)),
        );
        let own_ops = p.children.iter().filter(|c| c.name == "operations");
        let mut ops: Vec<Element<'a>> = own_ops.flat_map(|c| c.children.clone()).collect();
        // As Pacemaker's template_op_key: an operation of the primitive replaces
        // the template's operations of the same name and role (whatever their
        // intervals), Started and Unpromoted counting as no role.
        let same = |a: &Element, b: &Element| {
            a.attr("name") == b.attr("name") && op_role_key(a) == op_role_key(b)
        };
        for o in t.children.iter().filter(|c| c.name == "operations") {
            for top in &o.children {
                if !ops.iter().any(|x| same(x, top)) {
                    ops.push(self.renamed(top));
                }
            }
        }
        if !ops.is_empty() {
            children.push(element("operations", vec![], ops));
        }
        Cow::Owned(Element {
            name: p.name.clone(),
            attrs,
            children,
        })
    }

    /// A top-level resource with templates merged into it and its group members.
    pub(crate) fn resolve_resource<'a>(&self, r: &'a Element<'a>) -> Cow<'a, Element<'a>> {
        if r.name == "primitive" {
            return self.resolve(r);
        }
        if r.name != "group" || !r.children.iter().any(|c| c.attr("template").is_some()) {
            return Cow::Borrowed(r);
        }
        let children = r
            .children
            .iter()
            .map(|c| match c.name.as_ref() {
                "primitive" => self.resolve(c).into_owned(),
                _ => c.clone(),
            })
            .collect();
        Cow::Owned(Element {
            name: r.name.clone(),
            attrs: r.attrs.clone(),
            children,
        })
    }

    /// A copy of a template's child, for a primitive (owned: the template's
    /// borrow may be shorter than the primitive's).
    fn renamed<'a>(&self, c: &Element) -> Element<'a> {
        Element {
            name: owned(&c.name),
            attrs: c.attrs.iter().map(|(k, v)| (owned(k), owned(v))).collect(),
            children: c.children.iter().map(|x| self.renamed(x)).collect(),
        }
    }

    fn members(&self, id: &str) -> Option<&[String]> {
        self.members.get(id).map(Vec::as_slice)
    }

    /// A colocation whose both sides name a template or a tag (not in sets).
    fn colocates_two_refs(&self, k: &Element) -> bool {
        let named = |a: &str| k.attr(a).and_then(|id| self.members(id)).is_some();
        k.name == "rsc_colocation" && named("rsc") && named("with-rsc")
    }

    /// The constraints `k` stands for once its template and tag references are
    /// resolved (`k` itself when it has none).
    pub(crate) fn expand<'a>(
        &self,
        k: &'a Element<'a>,
    ) -> Result<Vec<Cow<'a, Element<'a>>>, ImportError> {
        if self.members.is_empty() {
            return Ok(vec![Cow::Borrowed(k)]);
        }
        if k.children.iter().any(|c| c.name == "resource_set") {
            return Ok(vec![self.expand_in_sets(k)]);
        }
        let sides: &[(&str, Option<&str>, Option<&str>)] = match k.name.as_ref() {
            "rsc_colocation" => &[
                ("rsc", Some("rsc-role"), None),
                ("with-rsc", Some("with-rsc-role"), None),
            ],
            "rsc_order" => &[
                ("first", None, Some("first-action")),
                ("then", None, Some("then-action")),
            ],
            "rsc_ticket" => &[("rsc", Some("rsc-role"), None)],
            "rsc_location" => return Ok(self.expand_location(k)),
            _ => return Ok(vec![Cow::Borrowed(k)]),
        };
        let named = sides
            .iter()
            .filter(|(a, _, _)| k.attr(a).and_then(|id| self.members(id)).is_some())
            .count();
        if named == 0 {
            return Ok(vec![Cow::Borrowed(k)]);
        }
        if self.colocates_two_refs(k) {
            // Pacemaker ignores such a constraint with a configuration error: so
            // does hactl, loudly (the CLI shows warnings by default; `cluster
            // verify` makes it an error finding, see `ignored_colocations`).
            tracing::warn!(
                constraint = k.id().unwrap_or_default(),
                "colocation between two templates or tags ignored, as Pacemaker does"
            );
            return Ok(Vec::new());
        }
        let moved: Vec<&str> = sides
            .iter()
            .flat_map(|(a, r, x)| [Some(*a), *r, *x])
            .flatten()
            .collect();
        let mut attrs = k.attrs.clone();
        attrs.retain(|(name, _)| !moved.contains(&name.as_ref()));
        let mut children = Vec::new();
        for (attr, role, action) in sides {
            let Some(id) = k.attr(attr) else { continue };
            let mut set = vec![("id", id)];
            let members = match self.members(id) {
                Some(m) => {
                    set.push(("sequential", "false"));
                    m.to_vec()
                }
                None => vec![id.to_string()],
            };
            for (from, to) in [(role, "role"), (action, "action")] {
                if let Some(v) = from.and_then(|f| k.attr(f)) {
                    set.push((to, v));
                }
            }
            let refs = members
                .iter()
                .map(|m| element("resource_ref", vec![("id", m)], vec![]))
                .collect();
            children.push(element("resource_set", set, refs));
        }
        Ok(vec![Cow::Owned(Element {
            name: k.name.clone(),
            attrs,
            children,
        })])
    }

    /// Replaces tag and template references inside resource sets by their members.
    fn expand_in_sets<'a>(&self, k: &'a Element<'a>) -> Cow<'a, Element<'a>> {
        let mut out = k.clone();
        for set in out.children.iter_mut() {
            let mut refs = Vec::with_capacity(set.children.len());
            for r in set.children.drain(..) {
                match r.attr("id").and_then(|id| self.members(id)) {
                    Some(m) => refs.extend(
                        m.iter()
                            .map(|id| element("resource_ref", vec![("id", id)], vec![])),
                    ),
                    None => refs.push(r),
                }
            }
            set.children = refs;
        }
        Cow::Owned(out)
    }

    /// One location constraint per member of the template or tag it names.
    fn expand_location<'a>(&self, k: &'a Element<'a>) -> Vec<Cow<'a, Element<'a>>> {
        let Some(members) = k.attr("rsc").and_then(|id| self.members(id)) else {
            return vec![Cow::Borrowed(k)];
        };
        let id = k.id().unwrap_or_default();
        members
            .iter()
            .enumerate()
            .map(|(n, m)| {
                let mut c = k.clone();
                for (name, value) in c.attrs.iter_mut() {
                    match name.as_ref() {
                        "rsc" => *value = owned(m),
                        "id" => *value = Cow::Owned(format!("{id}.{}", n + 1)),
                        _ => {}
                    }
                }
                Cow::Owned(c)
            })
            .collect()
    }
}

/// The role part of Pacemaker's template_op_key: the roles an operation of a
/// running resource has by default (none, Started, Unpromoted, Slave) are one.
fn op_role_key<'a>(op: &'a Element<'a>) -> &'a str {
    match op.attr("role") {
        None => "",
        Some(r)
            if ["Started", "Unpromoted", "Slave"]
                .iter()
                .any(|d| d.eq_ignore_ascii_case(r)) =>
        {
            ""
        }
        Some(r) => r,
    }
}

/// The ids of the colocations a Pacemaker CIB document names between two templates
/// or tags: Pacemaker ignores each with a configuration error, and the import drops
/// them (logging a warning), so the model never holds them; `cluster verify` of a
/// file reports them from here.
pub fn ignored_colocations(xml: &str) -> Result<Vec<String>, ImportError> {
    // The status section says nothing about constraints: dropped as it is read.
    let root = crate::dom::parse_with(xml, |_, el| Ok((el.name != "status").then_some(el)))?;
    let Some(conf) = root.children.iter().find(|c| c.name == "configuration") else {
        return Ok(Vec::new());
    };
    let refs = collect(conf)?;
    let constraints = conf
        .children
        .iter()
        .filter(|c| c.name == "constraints")
        .flat_map(|c| c.children.iter());
    Ok(constraints
        .filter(|k| refs.colocates_two_refs(k))
        .map(|k| k.id().unwrap_or_default().to_string())
        .collect())
}
