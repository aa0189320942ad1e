//! Replacing the whole configuration in one change (`hactl cib push`, Pacemaker's
//! `cibadmin --replace`).
//!
//! The node list is the cluster's, not the file's: who is a member (name, id, peer
//! address) changes only through `hactl cluster node add/remove`, which also change
//! the Raft membership. What the file says about a node of the cluster (attributes,
//! standby, maintenance, …) replaces what the cluster had; a node of the cluster the
//! file does not name keeps its settings; a node only the file names is left out
//! (a Pacemaker CIB from another cluster names that cluster's nodes).
//!
//! Resources the new configuration no longer has keep their operation history in the
//! status section, so the scheduler stops them where they run, as it does after
//! `resource delete`.

use crate::{Cib, Configuration, ModelError, Node};

/// Replaces `cib.config` by `new` (with the node rule above), if `cib.epoch` is
/// `expected_epoch` (when given). Validation is the caller's ([`crate::change::Change::apply`]).
pub(crate) fn replace_configuration(
    cib: &mut Cib,
    new: &Configuration,
    expected_epoch: Option<u64>,
) -> Result<(), ModelError> {
    if let Some(expected) = expected_epoch {
        if expected != cib.epoch {
            return Err(stale(expected, cib.epoch));
        }
    }
    let nodes = merged_nodes(&cib.config.nodes, &new.nodes);
    cib.config = new.clone();
    cib.config.nodes = nodes;
    Ok(())
}

/// A replacement made from the configuration at `expected` while the live one is at
/// `live`: an edit made in between would be lost.
fn stale(expected: u64, live: u64) -> ModelError {
    ModelError::Invalid {
        context: "configuration replace".into(),
        message: format!(
            "the live configuration changed since the file was taken (file: epoch \
             {expected}, live: epoch {live}): pull it again and redo the edit"
        ),
    }
}

/// The cluster's nodes, each with the file's settings when the file names it.
pub fn merged_nodes(live: &[Node], file: &[Node]) -> Vec<Node> {
    live.iter()
        .map(|l| match file.iter().find(|f| f.name == l.name) {
            Some(f) => Node {
                id: l.id.clone(),
                name: l.name.clone(),
                address: l.address.clone(),
                ..f.clone()
            },
            None => l.clone(),
        })
        .collect()
}

/// The names of the file's nodes that are not in the cluster (left out by a replace).
pub fn foreign_nodes<'a>(live: &[Node], file: &'a [Node]) -> Vec<&'a str> {
    file.iter()
        .filter(|f| !live.iter().any(|l| l.name == f.name))
        .map(|f| f.name.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Change;
    use crate::{AgentSpec, Primitive, Resource};

    fn node(name: &str, addr: Option<&str>) -> Node {
        Node {
            id: format!("id-{name}"),
            name: name.into(),
            address: addr.map(str::to_string),
            ..Default::default()
        }
    }

    fn live() -> Cib {
        let mut cib = Cib {
            epoch: 7,
            ..Default::default()
        };
        cib.config.nodes = vec![node("n1", Some("10.0.0.1:7420")), node("n2", None)];
        cib.config
            .properties
            .insert("stonith-enabled".into(), "false".into());
        cib
    }

    fn dummy(id: &str) -> Resource {
        Resource::Primitive(Primitive {
            id: id.into(),
            agent: AgentSpec::parse("ocf:pacemaker:Dummy").unwrap(),
            ..Default::default()
        })
    }

    fn replace(config: Configuration, expected_epoch: Option<u64>) -> Change {
        Change::ReplaceConfiguration {
            config: Box::new(config),
            expected_epoch,
        }
    }

    #[test]
    fn replace_keeps_membership_and_takes_everything_else() {
        let mut cib = live();
        let mut file = Configuration::default();
        let mut n1 = node("n1", Some("192.0.2.9:1"));
        n1.id = "other".into();
        n1.standby = true;
        n1.attributes.insert("rack".into(), "a".into());
        file.nodes = vec![n1, node("pcmk-3", None)];
        file.resources.push(dummy("d1"));
        replace(file, Some(7)).apply(&mut cib).unwrap();
        assert_eq!(cib.epoch, 8);
        assert!(cib.config.properties.is_empty(), "properties replaced too");
        assert_eq!(cib.config.resources, vec![dummy("d1")]);
        let names: Vec<&str> = cib.config.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["n1", "n2"], "the file's foreign node is left out");
        let n1 = &cib.config.nodes[0];
        assert_eq!(
            (n1.id.as_str(), n1.address.as_deref()),
            ("id-n1", Some("10.0.0.1:7420"))
        );
        assert!(n1.standby && n1.attributes["rack"] == "a");
    }

    #[test]
    fn stale_epoch_or_invalid_file_changes_nothing() {
        let mut cib = live();
        let before = cib.clone();
        let err = replace(Configuration::default(), Some(6))
            .apply(&mut cib)
            .unwrap_err();
        assert_eq!(err, stale(6, 7));
        assert!(err.to_string().contains("changed since"), "{err}");
        let bad = Configuration {
            resources: vec![dummy("d"), dummy("d")],
            ..Default::default()
        };
        assert!(replace(bad, None).apply(&mut cib).is_err());
        assert_eq!(cib, before);
        // Without an expected epoch the check is skipped.
        replace(Configuration::default(), None)
            .apply(&mut cib)
            .unwrap();
        assert_eq!(cib.epoch, 8);
    }
}
