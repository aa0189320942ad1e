//! Settings the scheduler plans with for an imported Pacemaker CIB (`hactl
//! simulate`) but a running hactl cluster cannot honour, because its controller or
//! fencer does not do their part: validation refuses them by name (so a change
//! that sets one is refused, as `cib push` of a file with one), instead of
//! accepting and ignoring them.

use crate::values::parse_bool;
use crate::{Attrs, Configuration, ModelError, Resource};

/// The settings of `c` a running cluster cannot honour, as errors.
pub(crate) fn refuse_in_cluster(c: &Configuration, errs: &mut Vec<ModelError>) {
    // The controller would have to record the lock in the stopped resources'
    // histories when a node shuts down, and clear it when the node rejoins.
    if let Some(v) = c.properties.get("shutdown-lock") {
        if parse_bool(v) != Some(false) {
            errs.push(ModelError::Invalid {
                context: format!("cluster property shutdown-lock={v}"),
                message: "shutdown locks are not supported in a running cluster yet: \
                          a node stopped by `hactl cluster stop` does not record them \
                          (hactl simulate plans them for Pacemaker CIBs)"
                    .into(),
            });
        }
    }
    // Only OCF agents have migrate_to and migrate_from: the executor would have
    // nothing to run for another class's migration (Pacemaker schedules it all
    // the same, so `hactl simulate` does).
    if let Some((id, agent)) = non_ocf_migration(c) {
        errs.push(ModelError::Invalid {
            context: format!("primitive {id:?}: meta attribute allow-migrate=true with {agent}"),
            message: "live migration needs an OCF agent (migrate_to/migrate_from) in a \
                      running cluster (hactl simulate plans it for Pacemaker CIBs)"
                .into(),
        });
    }
    // The controller would have to record `#node-unfenced` when a node is
    // unfenced (and forget it when the node leaves), or every transition would
    // unfence the node again.
    if let Some((what, id)) = unfencing_setting(c) {
        errs.push(ModelError::Invalid {
            context: format!("{what} of {id}"),
            message: "unfencing is not supported in a running cluster yet: the daemon \
                      does not record which nodes were unfenced (hactl simulate plans \
                      it for Pacemaker CIBs)"
                .into(),
        });
    }
}

/// The first primitive that would migrate (`allow-migrate=true`, its own, its
/// group's or the default) with an agent that is not OCF, and that agent.
/// Clone instances never migrate (the import refuses it there).
fn non_ocf_migration(c: &Configuration) -> Option<(&str, String)> {
    let allow = |m: &Attrs| m.get("allow-migrate").and_then(|v| parse_bool(v));
    let default = allow(&c.rsc_defaults).unwrap_or(false);
    c.resources.iter().find_map(|r| {
        let inherited = match r {
            Resource::Primitive(_) => None,
            Resource::Group(g) => allow(&g.meta),
            Resource::Clone(_) => return None,
        };
        r.primitives()
            .find(|p| p.agent.class != "ocf" && allow(&p.meta).or(inherited).unwrap_or(default))
            .map(|p| (p.id.as_str(), p.agent.to_string()))
    })
}

/// The first `provides=unfencing` or `requires=unfencing` meta attribute, with
/// the id of the resource carrying it (`rsc_defaults` for the defaults).
fn unfencing_setting(c: &Configuration) -> Option<(String, String)> {
    let found = |meta: &Attrs| {
        ["provides", "requires"]
            .into_iter()
            .find(|k| meta.get(*k).is_some_and(|v| v.trim() == "unfencing"))
            .map(|k| format!("meta attribute {k}=unfencing"))
    };
    if let Some(what) = found(&c.rsc_defaults) {
        return Some((what, "rsc_defaults".into()));
    }
    c.resources.iter().find_map(|r| {
        let own = match r {
            Resource::Primitive(_) => None,
            Resource::Group(g) => found(&g.meta).map(|w| (w, g.id.clone())),
            Resource::Clone(cl) => found(&cl.meta).map(|w| (w, cl.id.clone())),
        };
        own.or_else(|| {
            r.primitives()
                .find_map(|p| found(&p.meta).map(|w| (w, p.id.clone())))
        })
    })
}

#[cfg(test)]
mod tests {
    use crate::change::Change;
    use crate::Cib;

    fn set(name: &str, value: &str) -> Change {
        Change::SetProperty {
            name: name.into(),
            value: value.into(),
        }
    }

    /// A fence device that unfences is refused by name in a running cluster.
    #[test]
    fn a_running_cluster_refuses_unfencing_by_name() {
        let mut cib = Cib::default();
        let mut f = crate::Primitive {
            id: "fabric".into(),
            agent: crate::AgentSpec::parse("stonith:fence_scsi").unwrap(),
            ..Default::default()
        };
        f.meta.insert("provides".into(), "unfencing".into());
        let add = Change::AddResource {
            resource: crate::Resource::Primitive(f),
        };
        let e = add.apply(&mut cib).expect_err("refused").to_string();
        assert!(
            e.contains("provides=unfencing")
                && e.contains("fabric")
                && e.contains("running cluster")
                && e.contains("the daemon does not record"),
            "{e}"
        );
        assert!(cib.config.resources.is_empty());
    }

    /// A group that migrates with an LSB member is refused by name in a running
    /// cluster, and changes nothing; the same group of OCF members is accepted.
    #[test]
    fn a_running_cluster_refuses_migrating_a_non_ocf_agent_by_name() {
        let member = |id: &str, agent: &str| crate::Primitive {
            id: id.into(),
            agent: crate::AgentSpec::parse(agent).unwrap(),
            ..Default::default()
        };
        let group = |agent: &str| crate::Group {
            id: "g".into(),
            meta: [("allow-migrate".to_string(), "true".to_string())].into(),
            children: vec![member("web", "ocf:heartbeat:Dummy"), member("db", agent)],
        };
        let add = |agent: &str| Change::AddResource {
            resource: crate::Resource::Group(group(agent)),
        };
        let mut cib = Cib::default();
        let e = add("lsb:mysql")
            .apply(&mut cib)
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains("\"db\"")
                && e.contains("allow-migrate=true")
                && e.contains("lsb:mysql")
                && e.contains("running cluster"),
            "{e}"
        );
        assert!(cib.config.resources.is_empty());
        add("ocf:heartbeat:Dummy")
            .apply(&mut cib)
            .expect("OCF members migrate");
    }

    /// Setting shutdown-lock in a running cluster is refused by name and changes
    /// nothing; turning it off is accepted.
    #[test]
    fn a_running_cluster_refuses_shutdown_lock_by_name() {
        let mut cib = Cib::default();
        let e = set("shutdown-lock", "true")
            .apply(&mut cib)
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains("shutdown-lock=true") && e.contains("running cluster"),
            "{e}"
        );
        assert!(cib.config.properties.is_empty() && cib.epoch == 0);
        set("shutdown-lock", "false")
            .apply(&mut cib)
            .expect("off is fine");
        assert_eq!(cib.epoch, 1);
    }
}
