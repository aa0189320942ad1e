//! Unfencing (`provides=unfencing`): nodes are unfenced before resources are
//! probed or started there.

use super::*;

use super::promotable_tests::reaches as before;

/// Fencing on, the fence device `f` (unfencing it when `provides` is set), and
/// `r`, which prefers node2. node1 was unfenced already; node2 never was.
fn fabric(provides: bool, r_requires: Option<&str>) -> Cib {
    let mut cib = base(&["node1", "node2"]);
    cib.config
        .properties
        .insert("stonith-enabled".into(), "true".into());
    let mut f = dummy("f");
    f.agent = AgentSpec::parse("stonith:fence_scsi").unwrap();
    if provides {
        f.meta.insert("provides".into(), "unfencing".into());
    }
    cib.config.resources.push(Resource::Primitive(f));
    let mut r = dummy("r");
    if let Some(v) = r_requires {
        r.meta.insert("requires".into(), v.into());
    }
    cib.config.resources.push(Resource::Primitive(r));
    cib.config.constraints.location.push(LocationConstraint {
        id: "prefer-node2".into(),
        rsc: "r".into(),
        node: Some("node2".into()),
        score: Some(Score::new(100)),
        ..Default::default()
    });
    let n1 = cib.status.nodes.get_mut("node1").unwrap();
    n1.attributes.insert("#node-unfenced".into(), "1".into());
    cib
}

fn find(t: &crate::Transition, f: impl Fn(&crate::Action) -> bool) -> Vec<usize> {
    t.actions.iter().filter(|a| f(a)).map(|a| a.id).collect()
}

/// node2 is unfenced (once, named after the first probe that needs it) before
/// anything is probed or started there; node1, unfenced already, is not.
#[test]
fn a_node_never_unfenced_is_unfenced_before_probes_and_starts_there() {
    let cib = fabric(true, None);
    assert_eq!(
        summary(&cib),
        [
            "Fence (on) node2 'required by f monitor'",
            "Start f ( node1 )",
            "Start r ( node2 )"
        ]
    );
    let t = schedule(&cib, 0).unwrap();
    let on = |a: &crate::Action| matches!(&a.kind, crate::ActionKind::Fence { action } if action == "on");
    let unfence = find(&t, on);
    assert_eq!(unfence.len(), 1);
    let on_node2 = |a: &crate::Action| a.node.as_deref() == Some("node2");
    let probes = find(&t, |a| a.kind == crate::ActionKind::Probe && on_node2(a));
    assert_eq!(probes.len(), 2, "f and r are probed on node2");
    for p in probes {
        assert!(before(&t, unfence[0], p));
    }
    let start_r = find(&t, |a| a.kind == crate::ActionKind::Start && on_node2(a));
    assert!(before(&t, unfence[0], start_r[0]));
    // The probes on node1 do not wait: node1 is unfenced already.
    let on_node1 = |a: &crate::Action| a.node.as_deref() == Some("node1");
    let probes1 = find(&t, |a| a.kind == crate::ActionKind::Probe && on_node1(a));
    assert_eq!(probes1.len(), 2);
    assert!(probes1.iter().all(|&a| !before(&t, unfence[0], a)));
}

/// Without a device that unfences, `requires=unfencing` alone unfences nothing
/// (as Pacemaker's trigger_unfencing); with one, `requires=quorum` opts a
/// resource out, so only the fence device's probe asks for node2's unfencing.
#[test]
fn unfencing_needs_a_device_that_provides_it() {
    assert_eq!(
        summary(&fabric(false, Some("unfencing"))),
        ["Start f ( node1 )", "Start r ( node2 )"]
    );
    let t = schedule(&fabric(true, Some("quorum")), 0).unwrap();
    let start_r = find(&t, |a| {
        a.kind == crate::ActionKind::Start && a.resource.as_deref() == Some("r")
    });
    let unfence = find(&t, |a| matches!(a.kind, crate::ActionKind::Fence { .. }));
    assert_eq!(unfence.len(), 1);
    assert!(!before(&t, unfence[0], start_r[0]));
}

/// A resource that needs unfencing, running on a node never unfenced: Pacemaker
/// stops it until the node is unfenced, which is not scheduled; the CIB is
/// refused by name instead of planned without it.
#[test]
fn a_resource_running_on_a_node_never_unfenced_is_refused_by_name() {
    let mut cib = fabric(true, None);
    let n2 = cib.status.nodes.get_mut("node2").unwrap();
    n2.resources.insert("r".into(), running(1));
    let e = schedule(&cib, 0).unwrap_err().to_string();
    assert!(
        e.contains("\"r\"") && e.contains("node2") && e.contains("unfenc"),
        "{e}"
    );
}

/// A node recorded as unfenced under other fence device parameters
/// (`#digests-all`) would be unfenced again, which is not scheduled: the CIB is
/// refused naming the node (and no resource, since none is concerned).
#[test]
fn unfencing_again_after_a_device_change_is_refused_naming_the_node() {
    let mut cib = fabric(true, None);
    let n1 = cib.status.nodes.get_mut("node1").unwrap();
    n1.attributes
        .insert("#digests-all".into(), "f:fence_scsi:0123abcd,".into());
    let e = schedule(&cib, 0).unwrap_err().to_string();
    assert!(
        e.starts_with("node \"node1\"") && e.contains("#digests-all"),
        "{e}"
    );
}
