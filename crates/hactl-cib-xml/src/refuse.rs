//! Settings the import maps into the model but the scheduler does not act on: each is
//! refused by name and id, so that a CIB using one is never scheduled as if the
//! setting were absent (a silent wrong plan). The import refuses unknown elements
//! itself; this covers what lives in name/value pairs (cluster properties, meta
//! attributes, operation attributes) and attributes the model keeps but no decision
//! reads.
//!
//! Whoever implements one of these removes its entry here (and its test case in
//! `tests::each_refusal_names_the_setting`).

use hactl_model::{Attrs, Configuration, OnFail, Resource};

use crate::ImportError;

/// Cluster properties Pacemaker knows whose effect hactl has not implemented, with
/// the values that mean "off" (which are accepted).
const PROPERTIES: &[(&str, &[&str], &str)] = &[(
    "enable-startup-probes",
    &["true"],
    "turning probes off (enable-startup-probes=false)",
)];

/// Resource meta attributes whose effect hactl has not implemented, with the values
/// that mean "off".
const META: &[(&str, &[&str], &str)] = &[
    (
        "multiple-active",
        &["stop_start", "stop_unexpected"],
        "multiple-active policies other than stop_start and stop_unexpected",
    ),
    (
        "container-attribute-target",
        &[],
        "container-attribute-target",
    ),
    (
        "collocated",
        &["true"],
        "groups whose members are not colocated (collocated=false)",
    ),
];

/// The first unsupported setting of the configuration, as an import error.
pub(crate) fn check(c: &Configuration) -> Result<(), ImportError> {
    check_set(
        &c.properties,
        PROPERTIES,
        "crm_config",
        None,
        "cluster property",
    )?;
    check_set(
        &c.rsc_defaults,
        META,
        "rsc_defaults",
        None,
        "meta attribute",
    )?;
    for r in &c.resources {
        if let Resource::Group(g) = r {
            check_set(&g.meta, META, "group", Some(&g.id), "meta attribute")?;
        }
        for p in r.primitives() {
            check_set(&p.meta, META, "primitive", Some(&p.id), "meta attribute")?;
        }
        for p in r.primitives() {
            for op in &p.ops {
                // Without a container there is nothing to restart.
                if op.on_fail == Some(OnFail::RestartContainer)
                    && hactl_model::remote::container_of(p).is_none()
                {
                    return Err(refusal(
                        "op",
                        &op.id,
                        "on-fail=restart-container needs the container meta attribute",
                    ));
                }
            }
        }
    }
    for b in &c.bundles {
        let mut meta = b.meta.clone();
        // Scheduled for bundles: the bundled resource's promotion scores are
        // read on its replica's host (hactl-policy's bundle_nodes.rs).
        if meta
            .get("container-attribute-target")
            .is_some_and(|v| v == "host")
        {
            meta.remove("container-attribute-target");
        }
        check_set(&meta, META, "bundle", Some(&b.id), "meta attribute")?;
    }
    crate::conditional::refuse(c, |set, props| {
        let (table, element, what) = if props {
            (PROPERTIES, "cluster_property_set", "cluster property")
        } else {
            (META, "meta_attributes", "meta attribute")
        };
        check_set(&set.values, table, element, Some(&set.id), what)
    })?;
    crate::refuse_migration::check(c)?;
    crate::import::check_bundle_constraints(c)?;
    crate::refuse_remote::check_containers(c)?;
    crate::refuse_remote::check_connections(c)?;
    crate::refuse_remote::check_guests(c)?;
    // always, never and exclusive are scheduled (hactl-policy's discovery.rs);
    // Pacemaker reads any other value as `always` after a configuration error.
    for l in &c.constraints.location {
        if let Some(d) = l
            .resource_discovery
            .as_deref()
            .filter(|d| !discovery_mode(d))
        {
            return Err(refusal(
                "rsc_location",
                &l.id,
                &format!("resource-discovery={d} is not a valid value (always, never, exclusive)"),
            ));
        }
    }
    Ok(())
}

fn discovery_mode(v: &str) -> bool {
    ["always", "never", "exclusive"]
        .iter()
        .any(|m| v.trim().eq_ignore_ascii_case(m))
}

fn check_set(
    attrs: &Attrs,
    table: &[(&str, &[&str], &str)],
    element: &str,
    id: Option<&str>,
    what: &str,
) -> Result<(), ImportError> {
    for (name, off, feature) in table {
        let Some(v) = attrs.get(*name) else { continue };
        if off.iter().any(|o| same_value(o, v)) {
            continue;
        }
        return Err(ImportError::Unsupported {
            element: element.to_string(),
            id: id.map(str::to_string),
            reason: format!("{what} {name}={v} is not supported yet ({feature})"),
        });
    }
    Ok(())
}

/// Pacemaker's booleans have several spellings; other values compare as written.
fn same_value(off: &str, v: &str) -> bool {
    let v = v.trim();
    match (
        hactl_model::values::parse_bool(off),
        hactl_model::values::parse_bool(v),
    ) {
        (Some(a), Some(b)) => a == b,
        _ => off.eq_ignore_ascii_case(v),
    }
}

fn refusal(element: &str, id: &str, reason: &str) -> ImportError {
    ImportError::Unsupported {
        element: element.to_string(),
        id: Some(id.to_string()),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    /// A minimal CIB with `extra` spliced into the configuration.
    fn cib(props: &str, meta: &str, loc: &str) -> String {
        format!(
            r#"<cib have-quorum="true"><configuration>
<crm_config><cluster_property_set id="o">{props}</cluster_property_set></crm_config>
<nodes><node id="1" uname="n1"/></nodes>
<resources><primitive id="r" class="ocf" provider="pacemaker" type="Dummy">
<meta_attributes id="r-m">{meta}</meta_attributes></primitive></resources>
<constraints>{loc}</constraints></configuration><status/></cib>"#
        )
    }

    fn nv(name: &str, value: &str) -> String {
        format!(r#"<nvpair id="{name}-x" name="{name}" value="{value}"/>"#)
    }

    #[test]
    fn each_refusal_names_the_setting() {
        let e = crate::import(&cib(&nv("enable-startup-probes", "false"), "", ""))
            .expect_err("enable-startup-probes")
            .to_string();
        assert!(e.contains("enable-startup-probes=false"), "{e}");
        for (name, value) in [("multiple-active", "block"), ("collocated", "false")] {
            let e = crate::import(&cib("", &nv(name, value), ""))
                .expect_err(name)
                .to_string();
            assert!(
                e.contains(&format!("{name}={value}")) && e.contains("\"r\""),
                "{e}"
            );
        }
        let loc = r#"<rsc_location id="l1" rsc="r" node="n1" score="10" resource-discovery="sometimes"/>"#;
        let e = crate::import(&cib("", "", loc)).unwrap_err().to_string();
        assert!(
            e.contains("l1") && e.contains("resource-discovery=sometimes"),
            "{e}"
        );
        for mode in ["always", "never", "Exclusive"] {
            let loc = format!(
                r#"<rsc_location id="l1" rsc="r" node="n1" score="10" resource-discovery="{mode}"/>"#
            );
            crate::import(&cib("", "", &loc)).expect(mode);
        }
    }

    #[test]
    fn off_values_and_unrelated_names_are_accepted() {
        let props = [
            nv("placement-strategy", "default"),
            nv("shutdown-lock", "0"),
            nv("dc-version", "2.1.5"),
            nv("my-agent-state", "x"),
        ]
        .concat();
        let meta = [
            nv("allow-migrate", "false"),
            nv("requires", "quorum"),
            nv("comment", "x"),
        ]
        .concat();
        crate::import(&cib(&props, &meta, "")).expect("accepted");
    }
}
