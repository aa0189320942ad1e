//! Live migration (`allow-migrate=true`) is scheduled for a primitive, also one
//! named in orderings or a group member (`hactl-policy`'s `migration.rs`,
//! `migration_orders.rs`), whatever its agent class, as Pacemaker does. A member
//! inherits the group's `allow-migrate`. Where Pacemaker's migration depends on
//! more than that, the import refuses it by name: clone instances. One ordered
//! against a promotion or demotion migrates too (`hactl-policy`'s
//! `role_order_scope.rs`). A running cluster refuses the migration of a non-OCF
//! agent (`hactl_model::live`): only OCF agents have migrate_to/migrate_from.

use hactl_model::values::parse_bool;
use hactl_model::{Attrs, Configuration, Resource};

use crate::ImportError;

fn migratable(meta: &Attrs) -> Option<bool> {
    meta.get("allow-migrate").and_then(|v| parse_bool(v))
}

/// The first use of `allow-migrate=true` the scheduler cannot honour.
pub(crate) fn check(c: &Configuration) -> Result<(), ImportError> {
    let default = migratable(&c.rsc_defaults).unwrap_or(false);
    for r in &c.resources {
        let Resource::Clone(cl) = r else { continue };
        // A primitive inherits its group's meta attributes, and those the
        // group's clone has.
        let group = match cl.child.as_ref() {
            Resource::Group(g) => migratable(&g.meta),
            _ => None,
        };
        let inherited = group.or(migratable(&cl.meta));
        if cl
            .child
            .primitives()
            .any(|p| migratable(&p.meta).or(inherited).unwrap_or(default))
        {
            return Err(ImportError::Unsupported {
                element: "clone".to_string(),
                id: Some(cl.id.clone()),
                reason: "meta attribute allow-migrate=true is not supported yet \
                         (live migration of clone instances)"
                    .into(),
            });
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

    const GROUP_MIGRATES: &str = r#"<meta_attributes id="gm"><nvpair id="gm1" name="allow-migrate" value="true"/></meta_attributes>"#;

    #[test]
    fn a_primitive_may_migrate_alone_ordered_in_a_group_or_with_any_agent() {
        let order = r#"<rsc_order id="o1" first="db" then="vm"/>"#;
        let promote = r#"<rsc_order id="o2" first="db" first-action="promote" then="vm"/>"#;
        let both = [prim("vm", "ocf", true), prim("db", "ocf", false)].concat();
        let member = format!(r#"<group id="g">{both}</group>"#);
        // The members inherit the group's allow-migrate.
        let group_meta = format!(
            r#"<group id="g">{GROUP_MIGRATES}{}</group>"#,
            prim("vm", "lsb", false)
        );
        for xml in [
            cib(&prim("vm", "ocf", true), ""),
            cib(&both, order),
            cib(&both, promote),
            cib(&member, ""),
            cib(&group_meta, ""),
            cib(&prim("vm", "systemd", true), ""),
        ] {
            crate::import(&xml).expect("accepted");
        }
    }

    #[test]
    fn migration_of_clone_instances_is_refused_by_name() {
        let cloned_group = format!(
            r#"<clone id="c"><group id="g">{GROUP_MIGRATES}{}</group></clone>"#,
            prim("vm", "ocf", false)
        );
        let cloned = format!(r#"<clone id="c">{}</clone>"#, prim("vm", "ocf", true));
        for xml in [cib(&cloned, ""), cib(&cloned_group, "")] {
            let e = crate::import(&xml).expect_err("refused").to_string();
            assert!(
                e.contains("\"c\"") && e.contains("clone instances") && e.contains("allow-migrate"),
                "{e}"
            );
        }
    }
}
