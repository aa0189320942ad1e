//! The part of Pacemaker Remote, guest nodes and containers the scheduler does not
//! implement, refused by name and id on import (see `hactl_model::remote` for
//! what a running cluster refuses).

use hactl_model::remote::container_of;
use hactl_model::{Configuration, Resource};

use crate::ImportError;

/// A `container` meta attribute is scheduled on a primitive standing alone whose
/// container is another primitive standing alone; anything else is refused.
pub(crate) fn check_containers(c: &Configuration) -> Result<(), ImportError> {
    let top_primitive = |id: &str| {
        c.resources
            .iter()
            .any(|r| matches!(r, Resource::Primitive(p) if p.id == id))
    };
    for r in &c.resources {
        for p in r.primitives() {
            let Some(container) = container_of(p) else {
                continue;
            };
            let reason = if !matches!(r, Resource::Primitive(_)) {
                format!("container={container} inside a group or clone is not supported yet")
            } else if container == p.id {
                "a resource cannot be its own container".to_string()
            } else if !top_primitive(container) {
                format!("container={container} must name a primitive outside any group or clone")
            } else {
                continue;
            };
            return Err(ImportError::Unsupported {
                element: "primitive".into(),
                id: Some(p.id.clone()),
                reason,
            });
        }
    }
    Ok(())
}
