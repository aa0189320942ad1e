//! The stop order of a group's members.

use hactl_model::Group;

use super::*;
use crate::ActionKind;

/// Members m1..m4 of one group; m2 and m4 run on n1, m1 and m3 are stopped, so
/// m1's start restarts m2 and m3's start restarts m4.
fn gaps() -> Cib {
    let mut cib = base(&["n1"]);
    cib.config.resources.push(Resource::Group(Group {
        id: "g".into(),
        children: ["m1", "m2", "m3", "m4"].iter().map(|m| dummy(m)).collect(),
        ..Default::default()
    }));
    if let Some(n1) = cib.status.nodes.get_mut("n1") {
        for (m, call) in [("m2", 10), ("m4", 11)] {
            n1.resources.insert(m.into(), running(call));
        }
    }
    cib
}

#[test]
fn a_member_stops_before_the_last_active_one_across_stopped_members() {
    let t = schedule(&gaps(), 1_000_000).unwrap();
    let stop = |rsc: &str| {
        t.actions
            .iter()
            .find(|a| a.resource.as_deref() == Some(rsc) && a.kind == ActionKind::Stop)
            .map(|a| a.id)
            .unwrap_or_else(|| panic!("no stop of {rsc}: {:#?}", t.actions))
    };
    assert!(super::promotable_tests::reaches(&t, stop("m4"), stop("m2")));
}
