//! Live migration (`allow-migrate=true`) is scheduled for a primitive, also one
//! named in orderings or a group member (`hactl-policy`'s `migration.rs`,
//! `migration_orders.rs`). Where Pacemaker's migration depends on more than that,
//! the import refuses it by name: clones, a group's own meta attribute, a
//! non-OCF agent. One ordered against a promotion or demotion migrates too
//! (`hactl-policy`'s `role_order_scope.rs`).

use hactl_model::values::parse_bool;
use hactl_model::{Attrs, Configuration, Primitive, Resource};

use crate::ImportError;

fn migratable(meta: &Attrs) -> Option<bool> {
    meta.get("allow-migrate").and_then(|v| parse_bool(v))
}

fn refusal(element: &str, id: &str, reason: String) -> ImportError {
    ImportError::Unsupported {
        element: element.to_string(),
        id: Some(id.to_string()),
        reason,
    }
}

/// A migratable primitive (standing alone or a group member) the scheduler
/// cannot migrate as Pacemaker would.
fn check_primitive(p: &Primitive) -> Result<(), ImportError> {
    if p.agent.class != "ocf" {
        return Err(refusal(
            "primitive",
            &p.id,
            format!(
                "meta attribute allow-migrate=true needs an OCF agent \
             (migrate_to/migrate_from), not {}",
                p.agent
            ),
        ));
    }
    Ok(())
}

/// The first use of `allow-migrate=true` the scheduler cannot honour.
pub(crate) fn check(c: &Configuration) -> Result<(), ImportError> {
    let default = migratable(&c.rsc_defaults).unwrap_or(false);
    for r in &c.resources {
        match r {
            Resource::Primitive(p) => {
                if migratable(&p.meta).unwrap_or(default) {
                    check_primitive(p)?;
                }
            }
            // Group members migrate (the group's chain is copied onto their
            // migrations); the ordering rules above apply to each member.
            Resource::Group(g) => {
                if migratable(&g.meta).is_some() {
                    return Err(refusal(
                        "group",
                        &g.id,
                        "meta attribute allow-migrate on a group is not supported \
                         (set it on the members)"
                            .into(),
                    ));
                }
                for m in &g.children {
                    if migratable(&m.meta).unwrap_or(default) {
                        check_primitive(m)?;
                    }
                }
            }
            Resource::Clone(cl) => {
                let clone = migratable(&cl.meta);
                if cl
                    .child
                    .primitives()
                    .any(|p| migratable(&p.meta).or(clone).unwrap_or(default))
                {
                    return Err(refusal(
                        "clone",
                        &cl.id,
                        "meta attribute allow-migrate=true is not supported yet \
                         (live migration of clone instances)"
                            .into(),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// A CIB with `resources` and `constraints` (both XML).
    fn cib(resources: &str, constraints: &str) -> String {
        format!(
            r#"<cib have-quorum="true"><configuration><crm_config/>
<nodes><node id="1" uname="n1"/></nodes>
<resources>{resources}</resources>
<constraints>{constraints}</constraints></configuration><status/></cib>"#
        )
    }

    fn prim(id: &str, class: &str, migrate: bool) -> String {
        let meta = if migrate {
            format!(
                r#"<meta_attributes id="{id}-m"><nvpair id="{id}-am" name="allow-migrate" value="true"/></meta_attributes>"#
            )
        } else {
            String::new()
        };
        let provider = if class == "ocf" {
            r#" provider="heartbeat""#
        } else {
            ""
        };
        format!(r#"<primitive id="{id}" class="{class}"{provider} type="Dummy">{meta}</primitive>"#)
    }

    #[test]
    fn an_ocf_primitive_may_migrate_alone_ordered_or_in_a_group() {
        let order = r#"<rsc_order id="o1" first="db" then="vm"/>"#;
        let promote = r#"<rsc_order id="o2" first="db" first-action="promote" then="vm"/>"#;
        let both = [prim("vm", "ocf", true), prim("db", "ocf", false)].concat();
        let member = format!(r#"<group id="g">{both}</group>"#);
        for xml in [
            cib(&prim("vm", "ocf", true), ""),
            cib(&both, order),
            cib(&both, promote),
            cib(&member, ""),
        ] {
            crate::import(&xml).expect("accepted");
        }
    }

    #[test]
    fn migration_of_instances_groups_and_non_ocf_is_refused_by_name() {
        let group_meta = r#"<group id="g"><meta_attributes id="gm"><nvpair id="gm1" name="allow-migrate" value="true"/></meta_attributes><primitive id="vm" class="ocf" provider="heartbeat" type="Dummy"/></group>"#;
        let cases = [
            (cib(group_meta, ""), "\"g\"", "set it on the members"),
            (
                cib(
                    &format!(r#"<clone id="c">{}</clone>"#, prim("vm", "ocf", true)),
                    "",
                ),
                "\"c\"",
                "clone instances",
            ),
            (cib(&prim("vm", "systemd", true), ""), "\"vm\"", "OCF agent"),
        ];
        for (xml, id, what) in cases {
            let e = crate::import(&xml).expect_err(what).to_string();
            assert!(
                e.contains(id) && e.contains(what) && e.contains("allow-migrate"),
                "{e}"
            );
        }
    }
}
