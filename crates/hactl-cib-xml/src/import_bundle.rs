//! `<bundle>` → [`hactl_model::bundle::Bundle`], kept as configured (the scheduler
//! expands it). What Pacemaker itself cannot run (rkt, which it no longer
//! supports; a primitive without a way to reach it) is refused here by name.

use hactl_model::bundle::{Bundle, ContainerKind, PortMapping, StorageMapping};
use hactl_model::{Attrs, Configuration, OrderAction, Role};

use super::{bool_attr, child_sets, int_attr, required, unsupported};
use crate::dom::Element;
use crate::ImportError;

/// Reads a `<bundle>`; `position` is how many resources came before it.
pub(super) fn import_bundle(r: &Element, position: usize) -> Result<Bundle, ImportError> {
    let mut b = Bundle {
        id: required(r, "id")?.to_string(),
        meta: child_sets(r, "meta_attributes")?,
        position,
        ..Default::default()
    };
    let mut container = None;
    for c in &r.children {
        match c.name.as_ref() {
            "docker" | "podman" if container.is_none() => container = Some(c),
            "docker" | "podman" | "rkt" if container.is_some() => {
                return Err(unsupported(c, "a bundle has exactly one container element"))
            }
            "rkt" => return Err(unsupported(c, "rkt containers are not supported")),
            "network" => network(c, &mut b)?,
            "storage" => b.storage = storage(c)?,
            "primitive" if b.primitive.is_none() => {
                b.primitive = Some(super::import_primitive(c, &Attrs::new())?)
            }
            "primitive" => return Err(unsupported(c, "a bundle holds at most one primitive")),
            "meta_attributes" => {}
            _ => return Err(unsupported(c, "unexpected element inside <bundle>")),
        }
    }
    let Some(c) = container else {
        return Err(unsupported(
            r,
            "a bundle needs a docker or podman element (its container image)",
        ));
    };
    container_element(c, &mut b)?;
    if b.primitive.is_some() && !b.valid_network() {
        return Err(unsupported(
            r,
            "a primitive inside a bundle needs ip-range-start or control-port to be reached",
        ));
    }
    refuse_unscheduled(r, &b)?;
    Ok(b)
}

/// What the scheduler does not do for bundles yet, refused by name.
fn refuse_unscheduled(r: &Element, b: &Bundle) -> Result<(), ImportError> {
    if b.per_host() > 1 {
        return Err(unsupported(
            r,
            "replicas-per-host above 1 is not supported yet",
        ));
    }
    Ok(())
}

fn container_element(c: &Element, b: &mut Bundle) -> Result<(), ImportError> {
    b.kind = match c.name.as_ref() {
        "podman" => ContainerKind::Podman,
        _ => ContainerKind::Docker,
    };
    b.image = required(c, "image")?.to_string();
    b.replicas = int_attr(c, "replicas")?;
    b.replicas_per_host = int_attr(c, "replicas-per-host")?;
    b.promoted_max = match int_attr(c, "promoted-max")? {
        Some(m) => Some(m),
        None => int_attr(c, "masters")?,
    };
    let text = |k: &str| c.attr(k).map(str::to_string);
    b.network = text("network");
    b.run_command = text("run-command");
    b.options = text("options");
    if let Some(child) = c.children.first() {
        return Err(unsupported(child, "unexpected element inside a container"));
    }
    Ok(())
}

fn network(n: &Element, b: &mut Bundle) -> Result<(), ImportError> {
    let text = |k: &str| n.attr(k).map(str::to_string);
    b.ip_range_start = text("ip-range-start");
    b.host_interface = text("host-interface");
    b.host_netmask = text("host-netmask");
    b.control_port = text("control-port");
    b.add_host = bool_attr(n, "add-host")?;
    for p in &n.children {
        if p.name != "port-mapping" {
            return Err(unsupported(p, "unexpected element inside <network>"));
        }
        let source = p.attr("port").or_else(|| p.attr("range"));
        let Some(source) = source.filter(|s| !s.is_empty()) else {
            return Err(unsupported(p, "a port-mapping needs a port or a range"));
        };
        b.ports.push(PortMapping {
            id: p.id().unwrap_or_default().to_string(),
            source: source.to_string(),
            target: p.attr("internal-port").map(str::to_string),
        });
    }
    if let Some(start) = &b.ip_range_start {
        let ok = start.split('.').count() == 4 && start.split('.').all(|o| o.parse::<u8>().is_ok());
        if !ok {
            return Err(unsupported(n, "ip-range-start must be an IPv4 address"));
        }
    }
    Ok(())
}

fn storage(s: &Element) -> Result<Vec<StorageMapping>, ImportError> {
    let mut out = Vec::new();
    for m in &s.children {
        if m.name != "storage-mapping" {
            return Err(unsupported(m, "unexpected element inside <storage>"));
        }
        let text = |k: &str| m.attr(k).map(str::to_string);
        let (source_dir, source_dir_root) = (text("source-dir"), text("source-dir-root"));
        if source_dir.is_none() && source_dir_root.is_none() {
            return Err(unsupported(
                m,
                "a storage-mapping needs source-dir or source-dir-root",
            ));
        }
        out.push(StorageMapping {
            id: m.id().unwrap_or_default().to_string(),
            source_dir,
            source_dir_root,
            target_dir: required(m, "target-dir")?.to_string(),
            options: text("options"),
        });
    }
    Ok(out)
}

/// What constraints naming a bundle ask that is not scheduled yet, refused by
/// the constraint's id: a colocation with a role (Promoted, Unpromoted) means
/// the bundled primitive's clone as placed on the replicas' hosts, which is
/// done only for a primitive colocated with a bundle that holds one (see the
/// loop); an ordering on a bundle's demote as first and tickets on a bundle
/// are not scheduled either. (A role-specific location applies to the bundled
/// clone on its replicas' nodes: scheduled.)
pub(crate) fn check_bundle_constraints(c: &Configuration) -> Result<(), ImportError> {
    let bundle = |id: &str| c.bundles.iter().any(|b| b.id == id);
    let role = |r: Option<Role>| matches!(r, Some(Role::Promoted | Role::Unpromoted));
    let refuse = |element: &str, id: &str, what: &str| ImportError::Unsupported {
        element: element.into(),
        id: Some(id.to_string()),
        reason: format!("{what} naming a bundle is not supported yet"),
    };
    let k = &c.constraints;
    for co in &k.colocation {
        // A primitive with a bundle in a role: with its bundled clone's
        // instances in that role, on their hosts (scheduled).
        let primitive = c
            .resources
            .iter()
            .any(|r| matches!(r, hactl_model::Resource::Primitive(p) if p.id == co.rsc));
        let bundled = primitive
            && c.bundles
                .iter()
                .any(|b| b.id == co.with_rsc && b.primitive.is_some());
        let with_role = bundle(&co.with_rsc) && role(co.with_rsc_role) && !bundled;
        if (bundle(&co.rsc) && role(co.rsc_role)) || with_role {
            return Err(refuse(
                "rsc_colocation",
                &co.id,
                "a role-specific colocation",
            ));
        }
    }
    // A bundle's demote as first is its demote pseudo action, which nothing
    // orders before the demotions it starts: not scheduled yet. (Its promote
    // as first and promote/demote as then are scheduled.)
    if let Some(o) = k
        .order
        .iter()
        .find(|o| bundle(&o.first) && o.first_action == OrderAction::Demote)
    {
        return Err(refuse("rsc_order", &o.id, "a demote-first ordering"));
    }
    if let Some(t) = k.tickets.iter().find(|t| bundle(&t.rsc)) {
        return Err(refuse("rsc_ticket", &t.id, "a ticket"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use hactl_model::bundle::ContainerKind;

    fn cib(bundle: &str) -> String {
        with_constraints(bundle, "")
    }

    fn with_constraints(bundle: &str, cons: &str) -> String {
        format!(
            r#"<cib have-quorum="true"><configuration><crm_config/>
<nodes><node id="1" uname="n1"/></nodes>
<resources><primitive id="a" class="ocf" provider="pacemaker" type="Dummy"/>{bundle}</resources>
<constraints>{cons}</constraints></configuration><status/></cib>"#
        )
    }

    /// Constraints naming a bundle with a role or a promotion are refused by
    /// id; plain ones are accepted.
    #[test]
    fn role_constraints_on_a_bundle_are_refused_by_id() {
        let web = r#"<bundle id="web"><podman image="img" replicas="2"/></bundle>"#;
        let plain = r#"<rsc_colocation id="c0" rsc="a" with-rsc="web" score="100"/>
<rsc_order id="o0" first="web" then="a"/>"#;
        crate::import(&with_constraints(web, plain)).expect("plain constraints");
        for (id, cons) in [
            (
                "c1",
                r#"<rsc_colocation id="c1" rsc="a" with-rsc="web" with-rsc-role="Promoted" score="100"/>"#,
            ),
            (
                "o1",
                r#"<rsc_order id="o1" first="web" first-action="demote" then="a"/>"#,
            ),
        ] {
            let e = crate::import(&with_constraints(web, cons))
                .expect_err(id)
                .to_string();
            assert!(
                e.contains(&format!("\"{id}\"")) && e.contains("bundle"),
                "{e}"
            );
        }
    }

    /// A bundle is kept as configured, with its position among the resources;
    /// what is not scheduled yet is refused naming the bundle.
    #[test]
    fn a_bundle_is_read_and_what_is_not_scheduled_is_refused_by_name() {
        let web = r#"<bundle id="web"><podman image="img" replicas="2" options="--x"/>
<network ip-range-start="10.0.0.5" host-interface="eth0" control-port="3121">
<port-mapping id="p80" port="80"/></network>
<storage><storage-mapping id="s1" source-dir-root="/srv" target-dir="/www" options="rw"/>
</storage></bundle>"#;
        let c = crate::import(&cib(web)).expect("imports");
        let b = &c.config.bundles[0];
        assert_eq!(
            (b.id.as_str(), b.kind, b.position),
            ("web", ContainerKind::Podman, 1)
        );
        assert_eq!(b.replica_count(), 2);
        assert_eq!(b.ip_range_start.as_deref(), Some("10.0.0.5"));
        assert_eq!(b.ports[0].source, "80");
        assert_eq!(b.storage[0].source_dir_root.as_deref(), Some("/srv"));
        let inner = web.replace(
            "</bundle>",
            r#"<primitive id="httpd" class="ocf" provider="heartbeat" type="apache"/></bundle>"#,
        );
        let c = crate::import(&cib(&inner)).expect("a primitive inside");
        let inside = c.config.bundles[0]
            .primitive
            .as_ref()
            .map(|p| p.id.as_str());
        assert_eq!(inside, Some("httpd"));
        let unreachable = inner
            .replace(r#" control-port="3121""#, "")
            .replace(r#"ip-range-start="10.0.0.5" "#, "");
        let e = crate::import(&cib(&unreachable))
            .expect_err("no way in")
            .to_string();
        assert!(e.contains("\"web\"") && e.contains("control-port"), "{e}");
        let rkt = r#"<bundle id="r"><rkt image="img"/></bundle>"#;
        let e = crate::import(&cib(rkt)).expect_err("rkt").to_string();
        assert!(e.contains("rkt"), "{e}");
        let per_host = web.replace("replicas=\"2\"", "replicas=\"2\" replicas-per-host=\"2\"");
        let e = crate::import(&cib(&per_host))
            .expect_err("per host")
            .to_string();
        assert!(e.contains("replicas-per-host"), "{e}");
    }
}
