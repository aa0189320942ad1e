//! The part of Pacemaker Remote, guest nodes and containers the scheduler does not
//! implement, refused by name and id on import (see `hactl_model::remote` for
//! what a running cluster refuses).

use hactl_model::remote::{container_of, is_remote_connection};
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
    let collective = c.resources.iter().filter_map(|r| match r {
        Resource::Primitive(_) => None,
        Resource::Group(g) => Some(("group", Some(g.id.as_str()), &g.meta)),
        Resource::Clone(cl) => Some(("clone", Some(cl.id.as_str()), &cl.meta)),
    });
    let defaults = ("rsc_defaults", None, &c.rsc_defaults);
    for (element, id, meta) in std::iter::once(defaults).chain(collective) {
        if let Some(v) = meta.get(hactl_model::remote::CONTAINER_META) {
            return Err(ImportError::Unsupported {
                element: element.into(),
                id: id.map(str::to_string),
                reason: format!(
                    "container={v} on a group, clone or rsc_defaults is not supported yet"
                ),
            });
        }
    }
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

/// A Pacemaker Remote connection is scheduled as a primitive standing alone,
/// named apart from every cluster node; a connection in a group or clone, or
/// one inside a container (a guest node spelled with `container`), is refused.
pub(crate) fn check_connections(c: &Configuration) -> Result<(), ImportError> {
    for r in &c.resources {
        for p in r.primitives().filter(|p| is_remote_connection(p)) {
            let reason = if !matches!(r, Resource::Primitive(_)) {
                "ocf:pacemaker:remote inside a group or clone is not supported".to_string()
            } else if let Some(container) = container_of(p) {
                format!("a remote connection inside container={container} (a guest node) is not supported yet")
            } else if c.nodes.iter().any(|n| n.name == p.id || n.id == p.id) {
                "a remote connection named like a cluster node".to_string()
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

#[cfg(test)]
mod tests {
    fn cib(resources: &str) -> String {
        format!(
            r#"<cib have-quorum="true"><configuration><crm_config/>
<nodes><node id="1" uname="n1"/></nodes><resources>{resources}</resources>
<constraints/></configuration><status/></cib>"#
        )
    }

    fn prim(id: &str, container: &str) -> String {
        format!(
            r#"<primitive id="{id}" class="ocf" provider="pacemaker" type="Dummy">
<meta_attributes id="{id}-m"><nvpair id="{id}-c" name="container" value="{container}"/>
</meta_attributes></primitive>"#
        )
    }

    /// A container relation the scheduler cannot honour is refused naming the
    /// contained resource and what is wrong, never scheduled as if absent.
    #[test]
    fn unschedulable_containers_are_refused_by_name() {
        let vm = r#"<primitive id="vm" class="ocf" provider="pacemaker" type="Dummy"/>"#;
        for (resources, says) in [
            (
                prim("app", "nowhere"),
                "container=nowhere must name a primitive",
            ),
            (prim("app", "app"), "its own container"),
            (
                format!(r#"{vm}<group id="g">{}</group>"#, prim("app", "vm")),
                "inside a group or clone",
            ),
            (
                format!(r#"<group id="g">{vm}</group>{}"#, prim("app", "vm")),
                "container=vm must name a primitive",
            ),
            (
                format!(
                    r#"{vm}<group id="app"><meta_attributes id="gm"><nvpair id="gc" name="container" value="vm"/></meta_attributes>{}</group>"#,
                    prim("x", "")
                ),
                "on a group, clone or rsc_defaults",
            ),
        ] {
            let e = crate::import(&cib(&resources)).expect_err(says).to_string();
            assert!(e.contains("\"app\"") && e.contains(says), "{e}");
        }
        crate::import(&cib(&format!("{vm}{}", prim("app", "vm")))).expect("accepted");
    }

    /// A remote connection is scheduled standing alone; in a group, inside a
    /// container, or named like a cluster node it is refused by name.
    #[test]
    fn unschedulable_remote_connections_are_refused_by_name() {
        let conn = |id: &str, meta: &str| {
            format!(
                r#"<primitive id="{id}" class="ocf" provider="pacemaker" type="remote">{meta}</primitive>"#
            )
        };
        let vm = r#"<primitive id="vm" class="ocf" provider="pacemaker" type="Dummy"/>"#;
        let contained = r#"<meta_attributes id="m"><nvpair id="c" name="container" value="vm"/></meta_attributes>"#;
        for (resources, id, says) in [
            (
                format!(r#"<group id="g">{}</group>"#, conn("r1", "")),
                "r1",
                "inside a group",
            ),
            (
                format!("{vm}{}", conn("r1", contained)),
                "r1",
                "container=vm (a guest node)",
            ),
            (conn("n1", ""), "n1", "named like a cluster node"),
        ] {
            let e = crate::import(&cib(&resources)).expect_err(says).to_string();
            assert!(e.contains(&format!("{id:?}")) && e.contains(says), "{e}");
        }
        let cib = crate::import(&cib(&conn("r1", ""))).expect("accepted");
        assert!(cib.config.nodes.iter().all(|n| n.name != "r1"));
    }
}
