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
        return Err(unsupported(child, "clones of groups are not supported yet"));
    }
    let child = super::import_resource(child)?;
    Ok(Resource::Clone(CloneSet {
        id,
        meta,
        child: Box::new(child),
    }))
}
