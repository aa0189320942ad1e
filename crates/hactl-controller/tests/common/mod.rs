//! Shared by the controller's integration tests.

use hactl_model::{Cib, Node, NodeStatus};

/// A CIB with these nodes online and members, quorum, and stonith disabled: the
/// starting point each test adds its resources and defaults to.
pub fn online_cib(nodes: &[&str]) -> Cib {
    let mut cib = Cib::default();
    cib.config
        .properties
        .insert("stonith-enabled".into(), "false".into());
    cib.status.have_quorum = true;
    for n in nodes {
        cib.config.nodes.push(Node {
            id: n.to_string(),
            name: n.to_string(),
            ..Default::default()
        });
        cib.status.nodes.insert(
            n.to_string(),
            NodeStatus {
                member: Some(true),
                controller_online: Some(true),
                join: Some("member".into()),
                expected: Some("member".into()),
                ..Default::default()
            },
        );
    }
    cib
}
