//! Clones in pcs's words: `resource clone R [CLONE_ID] [meta k=v...]`, `resource
//! promotable R [CLONE_ID] [meta k=v...]`, `resource unclone R`, and the `clone` /
//! `promotable` tail of `resource create`.
//!
//! As in pcs (≥ 0.10), the clone of `R` is `R-clone`, promotable or not. Constraints
//! that named `R` name the clone afterwards (and the other way round on `unclone`),
//! so a location or colocation keeps meaning what it meant. Unlike pcs, the clone
//! (or, on `unclone`, the resource) goes to the end of the resource list.

use anyhow::{anyhow, bail, Result};
use hactl_model::change::{Change, Constraint};
use hactl_model::{Attrs, Cib, CloneSet, Configuration, Resource};

use crate::verbs::args::parse_kv;
use crate::verbs::Plan;

/// What follows `clone`/`promotable`: an optional clone id, then meta attributes
/// (`meta k=v...`, or pcs 0.10's bare `k=v...`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CloneSpec {
    pub id: Option<String>,
    pub meta: Attrs,
}

impl CloneSpec {
    pub fn parse(words: &[String], promotable: bool) -> Result<CloneSpec> {
        let mut spec = CloneSpec::default();
        let mut rest = words;
        if let Some((first, more)) = rest.split_first() {
            if first != "meta" && !first.contains('=') {
                spec.id = Some(first.clone());
                rest = more;
            }
        }
        if rest.first().map(String::as_str) == Some("meta") {
            rest = &rest[1..];
        }
        for w in rest {
            let (k, v) = parse_kv(w).map_err(|e| {
                e.context(
                    "usage: resource clone|promotable R [CLONE_ID] [meta k=v...] (meta \
                     attributes only)",
                )
            })?;
            spec.meta.insert(k, v);
        }
        if promotable {
            spec.meta.insert("promotable".into(), "true".into());
        }
        Ok(spec)
    }

    /// The clone of `child` this spec describes.
    pub fn build(&self, child: Resource) -> CloneSet {
        CloneSet {
            id: self
                .id
                .clone()
                .unwrap_or_else(|| format!("{}-clone", child.id())),
            meta: self
                .meta
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            child: Box::new(child),
        }
    }
}

/// `resource clone|promotable NAME ...`: NAME (a top-level primitive or group)
/// becomes the child of a new clone.
pub fn clone_plan(cib: &Cib, name: &str, words: &[String], promotable: bool) -> Result<Plan> {
    let cfg = &cib.config;
    let r = cloneable(cfg, name)?;
    let clone = CloneSpec::parse(words, promotable)?.build(r.clone());
    check_free(cib, &clone.id)?;
    let kind = if promotable {
        "promotable clone"
    } else {
        "clone"
    };
    let what = format!("{kind} {name} as {}", clone.id);
    let to = clone.id.clone();
    Ok(Plan::new(
        what,
        replace(cfg, name, &to, Resource::Clone(clone)),
    ))
}

/// Refuses a clone id that a resource has already.
pub fn check_free(cib: &Cib, id: &str) -> Result<()> {
    let cfg = &cib.config;
    if cfg.find_resource(id).is_some() || cfg.find_primitive(id).is_some() {
        bail!("resource {id:?} already exists (give the clone another id: clone [CLONE_ID])");
    }
    Ok(())
}

/// `resource create`'s words split at `clone` or `promotable` (a bare word, not an
/// operation's name): the resource's own words, and the clone asked for.
pub fn split_create_args(words: &[String]) -> Result<(&[String], Option<CloneSpec>)> {
    let at = words.iter().enumerate().position(|(i, w)| {
        matches!(w.as_str(), "clone" | "promotable") && (i == 0 || words[i - 1] != "op")
    });
    let Some(at) = at else {
        return Ok((words, None));
    };
    let promotable = words[at] == "promotable";
    let spec = CloneSpec::parse(&words[at + 1..], promotable)?;
    Ok((&words[..at], Some(spec)))
}

/// What `resource clone NAME` may clone: a top-level primitive or group that is not
/// in a clone already.
fn cloneable<'a>(cfg: &'a Configuration, name: &str) -> Result<&'a Resource> {
    match cfg.find_resource(name) {
        Some(r @ (Resource::Primitive(_) | Resource::Group(_))) => return Ok(r),
        Some(Resource::Clone(_)) => bail!("{name:?} is a clone already: a clone cannot be cloned"),
        None => {}
    }
    if let Some(c) = cfg.clone_of(name) {
        bail!("{name:?} is cloned already (in {:?})", c.id);
    }
    if let Some(g) = cfg.group_of(name) {
        bail!(
            "{name:?} is a member of group {:?}: clone the group, or take it out first \
             (resource group remove {} {name})",
            g.id,
            g.id
        );
    }
    Err(anyhow!("no resource {name:?}"))
}

/// `resource unclone NAME`: NAME (the clone, or the resource it clones) is taken out
/// of its clone, which is deleted.
pub fn unclone_plan(cib: &Cib, name: &str) -> Result<Plan> {
    let cfg = &cib.config;
    let clone = match cfg.find_resource(name) {
        Some(Resource::Clone(c)) => c,
        Some(_) => bail!("{name:?} is not a clone, nor in one"),
        None => match cfg
            .resources
            .iter()
            .find(|r| matches!(r, Resource::Clone(c) if c.child.id() == name))
        {
            Some(Resource::Clone(c)) => c,
            _ if cfg.find_primitive(name).is_some() => bail!("{name:?} is not a clone, nor in one"),
            _ => bail!("no resource {name:?}"),
        },
    };
    let child = (*clone.child).clone();
    let to = child.id().to_string();
    let what = format!("unclone {}", clone.id);
    Ok(Plan::new(what, replace(cfg, &clone.id, &to, child)))
}

/// The changes that put `by` (whose id is `to`) in the place of top-level resource
/// `from`: the constraints naming `from` are taken out first (deleting a resource
/// deletes the constraints that name it) and added back naming `to`.
fn replace(cfg: &Configuration, from: &str, to: &str, by: Resource) -> Vec<Change> {
    let renamed = renamed_constraints(cfg, from, to);
    let mut changes: Vec<Change> = renamed
        .iter()
        .map(|c| Change::RemoveConstraint {
            id: c.id().to_string(),
        })
        .collect();
    changes.push(Change::DeleteResource {
        id: from.to_string(),
    });
    changes.push(Change::AddResource { resource: by });
    changes.extend(
        renamed
            .into_iter()
            .map(|constraint| Change::AddConstraint { constraint }),
    );
    changes
}

/// The constraints naming `from`, naming `to` instead.
fn renamed_constraints(cfg: &Configuration, from: &str, to: &str) -> Vec<Constraint> {
    let swap = |s: &mut String| {
        if s == from {
            *s = to.to_string();
        }
    };
    let c = &cfg.constraints;
    let mut renamed: Vec<Constraint> = Vec::new();
    for x in c.location.iter().filter(|x| x.rsc == from) {
        let mut x = x.clone();
        swap(&mut x.rsc);
        renamed.push(Constraint::Location(x));
    }
    for x in c.colocation.iter().filter(|x| x.names(from)) {
        let mut x = x.clone();
        swap(&mut x.rsc);
        swap(&mut x.with_rsc);
        renamed.push(Constraint::Colocation(x));
    }
    for x in c.order.iter().filter(|x| x.names(from)) {
        let mut x = x.clone();
        swap(&mut x.first);
        swap(&mut x.then);
        renamed.push(Constraint::Order(x));
    }
    for x in c.tickets.iter().filter(|x| x.rsc == from) {
        let mut x = x.clone();
        swap(&mut x.rsc);
        renamed.push(Constraint::Ticket(x));
    }
    renamed
}
