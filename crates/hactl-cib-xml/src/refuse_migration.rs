//! Live migration (`allow-migrate=true`) is scheduled for a primitive, also one
//! named in orderings (`hactl-policy`'s `migration.rs`, `migration_orders.rs`).
//! Where Pacemaker's migration depends on more than that, the import refuses it
//! by name: group members and clones.

use hactl_model::values::parse_bool;
use hactl_model::{Attrs, Configuration, Resource};

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

/// The first use of `allow-migrate=true` the scheduler cannot honour.
pub(crate) fn check(c: &Configuration) -> Result<(), ImportError> {
    let default = migratable(&c.rsc_defaults).unwrap_or(false);
    for r in &c.resources {
        match r {
            Resource::Primitive(p) => {
                if !migratable(&p.meta).unwrap_or(default) {
                    continue;
                }
                // Pacemaker does not restart a migratable resource ordered after a
                // promotion where hactl would (not understood yet); the scheduler
                // side is `Sched::allow_migrate`.
                if let Some(o) = c
                    .constraints
                    .order
                    .iter()
                    .find(|o| o.orders_against_role_change(&p.id))
                {
                    return Err(refusal(
                        "primitive",
                        &p.id,
                        format!(
                            "meta attribute allow-migrate=true on a resource ordered against \
                             a promotion or demotion ({:?}) is not supported yet",
                            o.id
                        ),
                    ));
                }
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
            }
            Resource::Group(g) => {
                let group = migratable(&g.meta);
                if g.children
                    .iter()
                    .any(|m| migratable(&m.meta).or(group).unwrap_or(default))
                {
                    return Err(refusal(
                        "group",
                        &g.id,
                        "meta attribute allow-migrate=true is not supported yet \
                         (live migration of group members)"
                            .into(),
                    ));
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
    fn an_ocf_primitive_may_migrate_alone_or_ordered() {
        crate::import(&cib(&prim("vm", "ocf", true), "")).expect("accepted");
        let order = r#"<rsc_order id="o1" first="db" then="vm"/>"#;
        let both = [prim("vm", "ocf", true), prim("db", "ocf", false)].concat();
        crate::import(&cib(&both, order)).expect("accepted");
    }

    #[test]
    fn migration_of_members_instances_and_promotion_orders_is_refused_by_name() {
        let promote = r#"<rsc_order id="o2" first="db" first-action="promote" then="vm"/>"#;
        let both = [prim("vm", "ocf", true), prim("db", "ocf", false)].concat();
        let cases = [
            (cib(&both, promote), "\"vm\"", "\"o2\""),
            (
                cib(
                    &format!(r#"<group id="g">{}</group>"#, prim("vm", "ocf", true)),
                    "",
                ),
                "\"g\"",
                "group members",
            ),
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
