//! The part of Pacemaker Remote, guest nodes and containers the scheduler does not
//! implement, refused by name and id on import (see `hactl_model::remote` for
//! what a running cluster refuses).

use hactl_model::remote::{container_of, is_remote_connection, CONTAINER_META, GUEST_META};
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
    // A group's container is its members' (they inherit it); a clone's is not
    // scheduled.
    let collective = c.resources.iter().filter_map(|r| match r {
        Resource::Primitive(_) | Resource::Group(_) => None,
        Resource::Clone(cl) => Some(("clone", Some(cl.id.as_str()), &cl.meta)),
    });
    let defaults = ("rsc_defaults", None, &c.rsc_defaults);
    for (element, id, meta) in std::iter::once(defaults).chain(collective) {
        if let Some(v) = meta.get(hactl_model::remote::CONTAINER_META) {
            return Err(ImportError::Unsupported {
                element: element.into(),
                id: id.map(str::to_string),
                reason: format!("container={v} on a clone or rsc_defaults is not supported yet"),
            });
        }
    }
    for r in &c.resources {
        let inherited = match r {
            Resource::Group(g) => container_in(&g.meta),
            _ => None,
        };
        for p in r.primitives() {
            let Some(container) = container_of(p).or(inherited) else {
                continue;
            };
            let reason = if matches!(r, Resource::Clone(_)) {
                format!("container={container} inside a clone is not supported yet")
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

/// A Pacemaker Remote connection is scheduled as a primitive standing alone
/// (with a container it is a guest node's), named apart from every cluster
/// node; a connection in a group or clone is refused.
pub(crate) fn check_connections(c: &Configuration) -> Result<(), ImportError> {
    for r in &c.resources {
        for p in r.primitives().filter(|p| is_remote_connection(p)) {
            let reason = if !matches!(r, Resource::Primitive(_)) {
                "ocf:pacemaker:remote inside a group or clone is not supported".to_string()
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

/// The container named in a set of meta attributes, if any.
fn container_in(meta: &hactl_model::Attrs) -> Option<&str> {
    meta.get(CONTAINER_META)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

/// A guest node (`remote-node` on a primitive standing alone or in a group) is
/// scheduled when its name is free: not a cluster node, not another resource,
/// not another guest. Pacemaker ignores `remote-node` in a clone or on a
/// collective resource, and one whose name is taken: refused instead.
pub(crate) fn check_guests(c: &Configuration) -> Result<(), ImportError> {
    let refuse = |element: &str, id: &str, reason: String| ImportError::Unsupported {
        element: element.into(),
        id: Some(id.to_string()),
        reason,
    };
    let mut names: Vec<&str> = Vec::new();
    for r in &c.resources {
        let own = match r {
            Resource::Primitive(_) => None,
            Resource::Group(g) => Some(("group", g.id.as_str(), &g.meta)),
            Resource::Clone(cl) => Some(("clone", cl.id.as_str(), &cl.meta)),
        };
        if let Some((element, id, meta)) = own {
            if let Some(v) = meta.get(GUEST_META) {
                let why = format!(
                    "remote-node={v} on a {element} is not supported (guest nodes are primitives)"
                );
                return Err(refuse(element, id, why));
            }
        }
        for p in r.primitives() {
            let Some(name) = p.meta.get(GUEST_META).map(|v| v.trim()) else {
                continue;
            };
            let taken_by_resource = c
                .resources
                .iter()
                .any(|o| o.id() == name || o.primitives().any(|q| q.id == name));
            let reason = if matches!(r, Resource::Clone(_)) {
                format!("remote-node={name} inside a clone is not supported")
            } else if name.is_empty() {
                "remote-node is empty".to_string()
            } else if c.nodes.iter().any(|n| n.name == name || n.id == name) {
                format!("remote-node={name} is named like a cluster node")
            } else if taken_by_resource || names.contains(&name) {
                format!("remote-node={name} is named like another resource or guest node")
            } else if p
                .meta
                .get("remote-allow-migrate")
                .is_some_and(|v| hactl_model::values::parse_bool(v) != Some(false))
            {
                format!("remote-node={name} with remote-allow-migrate (migrating a guest node's connection) is not supported yet")
            } else {
                names.push(name);
                continue;
            };
            return Err(refuse("primitive", &p.id, reason));
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
                format!(r#"{vm}<clone id="g">{}</clone>"#, prim("app", "vm")),
                "inside a clone",
            ),
            (
                format!(r#"<group id="g">{vm}</group>{}"#, prim("app", "vm")),
                "container=vm must name a primitive",
            ),
            (
                format!(
                    r#"{vm}<clone id="app"><meta_attributes id="gm"><nvpair id="gc" name="container" value="vm"/></meta_attributes>{}</clone>"#,
                    prim("x", "")
                ),
                "on a clone or rsc_defaults",
            ),
        ] {
            let e = crate::import(&cib(&resources)).expect_err(says).to_string();
            assert!(e.contains("\"app\"") && e.contains(says), "{e}");
        }
        crate::import(&cib(&format!("{vm}{}", prim("app", "vm")))).expect("accepted");
        // A group's members inherit its container; a member may name one too.
        let group = format!(
            r#"{vm}<group id="g"><meta_attributes id="gm"><nvpair id="gc" name="container" value="vm"/></meta_attributes>{}{}</group>"#,
            prim("x", ""),
            prim("app", "vm")
        );
        crate::import(&cib(&group)).expect("accepted");
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
            (conn("n1", ""), "n1", "named like a cluster node"),
        ] {
            let e = crate::import(&cib(&resources)).expect_err(says).to_string();
            assert!(e.contains(&format!("{id:?}")) && e.contains(says), "{e}");
        }
        // With a container, a connection is a guest node's.
        crate::import(&cib(&format!("{vm}{}", conn("r1", contained)))).expect("accepted");
        let cib = crate::import(&cib(&conn("r1", ""))).expect("accepted");
        assert!(cib.config.nodes.iter().all(|n| n.name != "r1"));
    }

    /// A guest node is scheduled on a primitive standing alone or in a group,
    /// under a free name; elsewhere, or under a taken name, it is refused by
    /// the primitive's id.
    #[test]
    fn unschedulable_guest_nodes_are_refused_by_name() {
        let vm = |id: &str, guest: &str| {
            format!(
                r#"<primitive id="{id}" class="ocf" provider="heartbeat" type="VirtualDomain"><meta_attributes id="{id}-m"><nvpair id="{id}-g" name="remote-node" value="{guest}"/></meta_attributes></primitive>"#
            )
        };
        for (resources, says) in [
            (
                format!(r#"<clone id="c">{}</clone>"#, vm("vm", "g1")),
                "inside a clone",
            ),
            (vm("vm", "n1"), "named like a cluster node"),
            (
                format!("{}{}", vm("vm", "g1"), vm("vm2", "g1")),
                "named like another",
            ),
            (
                format!("{}{}", vm("vm", "g1"), vm("g1", "g2")),
                "named like another",
            ),
            (
                vm("vm", "g1").replace(
                    "</meta_attributes>",
                    r#"<nvpair id="vm-am" name="remote-allow-migrate" value="true"/></meta_attributes>"#,
                ),
                "remote-allow-migrate",
            ),
        ] {
            let e = crate::import(&cib(&resources)).expect_err(says).to_string();
            assert!(e.contains("remote-node=") && e.contains(says), "{e}");
        }
        crate::import(&cib(&vm("vm", "g1"))).expect("accepted");
        let grouped = format!(r#"<group id="grp">{}</group>"#, vm("vm", "g1"));
        crate::import(&cib(&grouped)).expect("accepted");
    }
}
