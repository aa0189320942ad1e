//! `<clone>` and Pacemaker's old `<master>` element → [`hactl_model::CloneSet`].
//!
//! What the scheduler does not implement yet is refused here by name, so that a
//! clone is never accepted and then scheduled as something else.

use hactl_model::{CloneSet, Resource};

use super::{child_sets, required, unsupported};
use crate::dom::Element;
use crate::ImportError;

pub(super) fn import_clone(r: &Element) -> Result<Resource, ImportError> {
    let id = required(r, "id")?.to_string();
    let mut child = None;
    for c in &r.children {
        match c.name.as_ref() {
            "meta_attributes" => {}
            "primitive" | "group" if child.is_none() => child = Some(c),
            "primitive" | "group" => {
                return Err(unsupported(
                    c,
                    "a clone holds exactly one primitive or group",
                ))
            }
            "instance_attributes" => {
                return Err(unsupported(
                    c,
                    "instance attributes on a clone are not supported (set them on what it clones)",
                ))
            }
            _ => return Err(unsupported(c, "unexpected element inside a clone")),
        }
    }
    let Some(child) = child else {
        return Err(unsupported(r, "a clone must hold a primitive or a group"));
    };
    let mut meta = child_sets(r, "meta_attributes")?;
    if r.name == "master" {
        meta.insert("promotable".into(), "true".into());
    }
    if child.name == "group" {
        refuse_group_clone_meta(child, &meta)?;
    }
    let child = super::import_resource(child)?;
    Ok(Resource::Clone(CloneSet {
        id,
        meta,
        child: Box::new(child),
    }))
}

/// What the scheduler does not implement for clones of groups yet, refused by
/// name: ordered cloned groups, and more than one instance per node (notifying
/// and globally unique ones with one per node are scheduled).
fn refuse_group_clone_meta(group: &Element, meta: &hactl_model::Attrs) -> Result<(), ImportError> {
    let truthy = |k: &str| {
        meta.get(k)
            .and_then(|v| hactl_model::values::parse_bool(v))
            .unwrap_or(false)
    };
    let node_max = meta
        .get("clone-node-max")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(1);
    if truthy("ordered") {
        return Err(unsupported(
            group,
            "ordered clones of groups (ordered=true) are not supported yet",
        ));
    }
    if node_max > 1 {
        return Err(unsupported(
            group,
            "clones of groups with more than one instance per node (clone-node-max > 1) \
             are not supported yet",
        ));
    }
    Ok(())
}
