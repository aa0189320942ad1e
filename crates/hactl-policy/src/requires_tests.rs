//! `requires`: what a resource's start waits for when a node must be fenced.

use super::*;

// Whether action `a` comes before `b` along the transition's edges.
use super::promotable_tests::reaches as before;

/// `r` runs on node1, which is lost and must be fenced; `r` moves to node2.
/// With `requires=quorum` its recovery does not wait for the fencing (its state
/// on node1 is known), and its stop there is not ordered after it either (as
/// Pacemaker's order_stop_vs_fencing and order_start_vs_fencing); with the
/// default (`requires=fencing`) the start waits.
#[test]
fn a_resource_that_requires_only_quorum_recovers_without_waiting_for_fencing() {
    let fence_then_start = |requires: Option<&str>| {
        let mut cib = base(&["node1", "node2"]);
        cib.config
            .properties
            .insert("stonith-enabled".into(), "true".into());
        let mut fence = dummy("fence");
        fence.agent = AgentSpec::parse("stonith:fence_xvm").unwrap();
        cib.config.resources.push(Resource::Primitive(fence));
        let mut r = dummy("r");
        if let Some(v) = requires {
            r.meta.insert("requires".into(), v.into());
        }
        cib.config.resources.push(Resource::Primitive(r));
        let n1 = cib.status.nodes.get_mut("node1").unwrap();
        n1.resources.insert("r".into(), running(1));
        n1.member = Some(false);
        n1.controller_online = Some(false);
        let t = schedule(&cib, 0).unwrap();
        let find = |f: &dyn Fn(&crate::Action) -> bool| t.actions.iter().find(|a| f(a)).unwrap().id;
        let fence = find(&|a| matches!(a.kind, crate::ActionKind::Fence { .. }));
        let start =
            find(&|a| a.kind == crate::ActionKind::Start && a.resource.as_deref() == Some("r"));
        before(&t, fence, start)
    };
    assert!(!fence_then_start(Some("quorum")));
    assert!(fence_then_start(None));
}

/// The same for an anonymous clone: node1's state of the clone is known from
/// the instance that ran there, so the instance started on node3 (another
/// instance number, with no history on node1) does not wait for node1's
/// fencing either (Pacemaker's rsc_is_known_on asks the clone).
#[test]
fn a_clone_instance_that_requires_only_quorum_starts_without_waiting_for_fencing() {
    let mut cib = base(&["node1", "node2", "node3"]);
    cib.config
        .properties
        .insert("stonith-enabled".into(), "true".into());
    let mut fence = dummy("fence");
    fence.agent = AgentSpec::parse("stonith:fence_xvm").unwrap();
    cib.config.resources.push(Resource::Primitive(fence));
    let mut r = dummy("r");
    r.meta.insert("requires".into(), "quorum".into());
    cib.config
        .resources
        .push(Resource::Clone(hactl_model::CloneSet {
            id: "r-clone".into(),
            meta: [("clone-max".to_string(), "2".to_string())].into(),
            child: Box::new(Resource::Primitive(r)),
        }));
    for (node, id) in [("node1", "r:1"), ("node2", "r:0")] {
        let st = cib.status.nodes.get_mut(node).unwrap();
        st.resources.insert(id.into(), running(1));
    }
    let n1 = cib.status.nodes.get_mut("node1").unwrap();
    n1.member = Some(false);
    n1.controller_online = Some(false);
    let t = schedule(&cib, 0).unwrap();
    let fence = t
        .actions
        .iter()
        .find(|a| matches!(a.kind, crate::ActionKind::Fence { .. }))
        .unwrap()
        .id;
    let start = t
        .actions
        .iter()
        .find(|a| {
            a.kind == crate::ActionKind::Start
                && !a.pseudo
                && a.resource.as_deref().is_some_and(|r| r.starts_with("r:"))
        })
        .unwrap_or_else(|| panic!("an instance starts: {:?}", t.summary));
    assert_eq!(start.node.as_deref(), Some("node3"), "{:?}", t.summary);
    assert!(!before(&t, fence, start.id), "{:?}", t.summary);
}
