//! Pacemaker Remote nodes, guest nodes and containers as the configuration names
//! them. The scheduler (`hactl simulate`) schedules some of them; a running cluster
//! cannot (the daemon does not run pacemaker_remote connections), so
//! [`refuse_in_cluster`] names the first one and the cluster refuses the change.

use crate::{Configuration, ModelError, Primitive};

/// Meta attribute naming the resource a primitive runs inside (Pacemaker's
/// `container`): it is placed with it, started after it, and its failure
/// restarts the container.
pub const CONTAINER_META: &str = "container";

/// Meta attribute making a VM or container primitive a guest node.
pub const GUEST_META: &str = "remote-node";

/// The resource `p` runs inside, if any.
pub fn container_of(p: &Primitive) -> Option<&str> {
    p.meta
        .get(CONTAINER_META)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

/// The agent of a Pacemaker Remote node's connection, `ocf:pacemaker:remote`
/// (what the scheduler gives the implicit connections of guest nodes and bundle
/// replicas).
pub fn remote_connection_agent() -> crate::AgentSpec {
    crate::AgentSpec {
        class: "ocf".into(),
        provider: Some("pacemaker".into()),
        kind: "remote".into(),
    }
}

/// Whether `p` is the connection of a Pacemaker Remote node (`ocf:pacemaker:remote`).
pub fn is_remote_connection(p: &Primitive) -> bool {
    p.agent.class == "ocf"
        && p.agent.provider.as_deref() == Some("pacemaker")
        && p.agent.kind == "remote"
}

const IN_CLUSTER: &str = "Pacemaker Remote nodes are scheduled by `hactl simulate` only; the \
                          daemon does not run pacemaker_remote connections";

/// What a running cluster cannot do with `p`, if anything.
fn remote_construct(p: &Primitive) -> Option<String> {
    if is_remote_connection(p) {
        return Some("ocf:pacemaker:remote (a Pacemaker Remote node)".into());
    }
    if let Some(g) = p.meta.get(GUEST_META) {
        return Some(format!("meta attribute {GUEST_META}={g} (a guest node)"));
    }
    container_of(p)
        .map(|c| format!("meta attribute {CONTAINER_META}={c} (a resource inside a container)"))
}

/// The first remote node, guest node or contained resource of `c`: a running
/// cluster refuses them by name rather than run them as plain resources.
pub fn refusal_in_cluster(c: &Configuration) -> Option<ModelError> {
    if let Some(n) = c.remote_nodes.first() {
        return Some(ModelError::Invalid {
            context: format!("node {:?} (type=remote)", n.name),
            message: IN_CLUSTER.into(),
        });
    }
    if let Some(b) = c.bundles.first() {
        return Some(ModelError::Invalid {
            context: format!("bundle {:?}", b.id),
            message: "bundles are scheduled by `hactl simulate` only; the daemon does not \
                      run containers nor the Pacemaker Remote inside them"
                .into(),
        });
    }
    let (p, what) = c
        .resources
        .iter()
        .flat_map(|r| r.primitives())
        .find_map(|p| remote_construct(p).map(|w| (p, w)))?;
    Some(ModelError::Invalid {
        context: format!("primitive {:?}: {what}", p.id),
        message: IN_CLUSTER.into(),
    })
}

pub(crate) fn refuse_in_cluster(c: &Configuration, errs: &mut Vec<ModelError>) {
    errs.extend(refusal_in_cluster(c));
}

#[cfg(test)]
mod tests {
    use crate::change::Change;
    use crate::{AgentSpec, Cib, Primitive, Resource};

    fn dummy(id: &str) -> Primitive {
        Primitive {
            id: id.into(),
            agent: AgentSpec::parse("ocf:pacemaker:Dummy").expect("agent"),
            ..Default::default()
        }
    }

    /// A change proposed to the cluster that adds a remote node's connection, a
    /// guest node or a contained resource is refused with a reason naming it, and
    /// leaves the CIB as it was; a plain Dummy is accepted.
    #[test]
    fn a_cluster_refuses_remote_guest_and_contained_resources_by_name() {
        let mut remote = dummy("remote1");
        remote.agent = AgentSpec::parse("ocf:pacemaker:remote").expect("agent");
        let mut guest = dummy("vm1");
        guest.meta.insert("remote-node".into(), "guest1".into());
        let mut inside = dummy("app");
        inside.meta.insert("container".into(), "vm1".into());
        let mut cib = Cib::default();
        Change::AddResource {
            resource: Resource::Primitive(dummy("vm")),
        }
        .apply(&mut cib)
        .expect("a plain resource is accepted");
        let before = cib.clone();
        for (p, named) in [
            (remote, "ocf:pacemaker:remote"),
            (guest, "remote-node=guest1"),
            (inside, "container=vm1"),
        ] {
            let id = p.id.clone();
            let err = Change::AddResource {
                resource: Resource::Primitive(p),
            }
            .apply(&mut cib)
            .expect_err(named)
            .to_string();
            assert!(
                err.contains(&format!("{id:?}")) && err.contains(named),
                "{err}"
            );
            assert!(err.contains("scheduled by `hactl simulate` only"), "{err}");
            assert_eq!(cib, before);
        }
        let mut listed = before.clone();
        listed.config.remote_nodes.push(crate::Node {
            id: "r1".into(),
            name: "r1".into(),
            ..Default::default()
        });
        let err = listed.config.validate().expect_err("a remote node").len();
        assert_eq!(err, 1);
        let mut bundled = before.clone();
        bundled.config.bundles.push(crate::bundle::Bundle {
            id: "web-bundle".into(),
            ..Default::default()
        });
        let err = bundled.config.validate().expect_err("a bundle");
        assert!(format!("{err:?}").contains("web-bundle"), "{err:?}");
    }
}
