//! Live migration (`allow-migrate=true`) is scheduled for a primitive that stands
//! alone (`hactl-policy`'s `migration.rs`). Where Pacemaker's migration depends on
//! more than that, the import refuses it by name: group members and clones, and a
//! resource named in an ordering (Pacemaker orders the migration steps of both
//! sides and falls back to stop/start when one cannot migrate).

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
                let order = c
                    .constraints
                    .order
                    .iter()
                    .find(|o| o.first == p.id || o.then == p.id);
                if let Some(o) = order {
                    return Err(refusal(
                        "primitive",
                        &p.id,
                        format!(
                            "meta attribute allow-migrate=true on a resource in an ordering \
                             ({:?}) is not supported yet (live migration of ordered resources)",
                            o.id
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
    fn a_standalone_ocf_primitive_may_migrate() {
        crate::import(&cib(&prim("vm", "ocf", true), "")).expect("accepted");
    }

    #[test]
    fn migration_beyond_a_standalone_ocf_primitive_is_refused_by_name() {
        let order = r#"<rsc_order id="o1" first="db" then="vm"/>"#;
        let both = [prim("vm", "ocf", true), prim("db", "ocf", false)].concat();
        let cases = [
            (cib(&both, order), "\"vm\"", "\"o1\""),
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
