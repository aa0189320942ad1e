//! Anonymous clones on small hand-built CIBs: one instance per node, numbered as
//! Pacemaker numbers them, and constraints with the clone.

use hactl_model::{CloneSet, OrderConstraint};

use super::*;
use crate::format_status;

fn clone_of(id: &str, prim: &str, meta: &[(&str, &str)]) -> Resource {
    Resource::Clone(CloneSet {
        id: id.into(),
        meta: meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        child: Box::new(Resource::Primitive(dummy(prim))),
    })
}

/// `web` cloned over three nodes and running on each (histories named `web`, as
/// Pacemaker records anonymous instances).
fn web_everywhere() -> Cib {
    let mut cib = base(&["n1", "n2", "n3"]);
    cib.config.resources.push(clone_of("web-clone", "web", &[]));
    for (i, n) in ["n1", "n2", "n3"].iter().enumerate() {
        let st = cib.status.nodes.get_mut(*n).unwrap();
        st.resources.insert("web".into(), running(i as i64 + 1));
    }
    cib
}

fn coloc(id: &str, rsc: &str, with: &str, score: Score) -> ColocationConstraint {
    ColocationConstraint {
        id: id.into(),
        rsc: rsc.into(),
        with_rsc: with.into(),
        score,
        ..Default::default()
    }
}

#[test]
fn a_clone_starts_one_instance_per_node() {
    let mut cib = base(&["n1", "n2", "n3"]);
    cib.config.resources.push(clone_of("web-clone", "web", &[]));
    assert_eq!(
        summary(&cib),
        vec![
            "Start web:0 ( n1 )",
            "Start web:1 ( n2 )",
            "Start web:2 ( n3 )"
        ]
    );
}

#[test]
fn clone_max_limits_the_instances() {
    let mut cib = base(&["n1", "n2", "n3"]);
    cib.config
        .resources
        .push(clone_of("web-clone", "web", &[("clone-max", "2")]));
    assert_eq!(summary(&cib).len(), 2);
}

#[test]
fn a_running_clone_stays_and_standby_stops_only_that_nodes_instance() {
    let cib = web_everywhere();
    assert!(summary(&cib).is_empty(), "{:?}", summary(&cib));
    let mut cib = web_everywhere();
    cib.config.nodes[1].standby = true;
    assert_eq!(
        summary(&cib),
        vec!["Stop web:1 ( n2 ) due to node availability"]
    );
}

#[test]
fn a_vip_colocated_with_a_clone_goes_where_an_instance_runs() {
    let mut cib = base(&["n1", "n2", "n3"]);
    cib.config
        .resources
        .push(clone_of("web-clone", "web", &[("clone-max", "1")]));
    cib.config.resources.push(Resource::Primitive(dummy("vip")));
    cib.config.constraints.location.push(LocationConstraint {
        id: "web-on-n3".into(),
        rsc: "web-clone".into(),
        node: Some("n3".into()),
        score: Some(Score::new(100)),
        ..Default::default()
    });
    cib.config.constraints.colocation.push(coloc(
        "vip-with-web",
        "vip",
        "web-clone",
        Score::INFINITY,
    ));
    assert_eq!(
        summary(&cib),
        vec!["Start web:0 ( n3 )", "Start vip ( n3 )"]
    );
}

#[test]
fn a_vip_anti_colocated_with_a_clone_avoids_its_nodes() {
    let mut cib = base(&["n1", "n2", "n3"]);
    cib.config
        .resources
        .push(clone_of("web-clone", "web", &[("clone-max", "2")]));
    cib.config.resources.push(Resource::Primitive(dummy("vip")));
    // The clone prefers n1 and n2, the VIP n1: the anti-colocation, not the
    // spread, must send the VIP to n3.
    for (id, rsc, node, score) in [
        ("web-n1", "web-clone", "n1", 100),
        ("web-n2", "web-clone", "n2", 100),
        ("vip-n1", "vip", "n1", 50),
    ] {
        cib.config.constraints.location.push(LocationConstraint {
            id: id.into(),
            rsc: rsc.into(),
            node: Some(node.into()),
            score: Some(Score::new(score)),
            ..Default::default()
        });
    }
    cib.config.constraints.colocation.push(coloc(
        "vip-away",
        "vip",
        "web-clone",
        Score::NEG_INFINITY,
    ));
    let t = schedule(&cib, 1_000_000).unwrap();
    let vip = placement(&t, "vip").target.clone();
    let web: Vec<_> = t
        .placements
        .iter()
        .filter(|p| p.clone.as_deref() == Some("web-clone"))
        .filter_map(|p| p.target.clone())
        .collect();
    assert_eq!(web.len(), 2);
    assert_eq!(vip.as_deref(), Some("n3"), "instances on {web:?}");
}

#[test]
fn what_is_ordered_after_a_clone_waits_for_an_instance() {
    let mut cib = base(&["n1", "n2"]);
    cib.config
        .resources
        .push(clone_of("web-clone", "web", &[("target-role", "Stopped")]));
    cib.config.resources.push(Resource::Primitive(dummy("vip")));
    cib.config.constraints.order.push(OrderConstraint {
        id: "web-then-vip".into(),
        first: "web-clone".into(),
        then: "vip".into(),
        ..Default::default()
    });
    assert_eq!(
        summary(&cib),
        vec!["Start vip ( n1 ) due to unrunnable web-clone running (blocked)"]
    );
}

#[test]
fn the_status_shows_a_clone_set() {
    let cib = web_everywhere();
    let t = schedule(&cib, 1_000_000).unwrap();
    let text = format_status(&cib, &t, StatusView::Current);
    assert!(
        text.contains("* Clone Set: web-clone [web]:\n      * Started: [ n1 n2 n3 ]"),
        "{text}"
    );
}

#[test]
fn a_globally_unique_clone_may_run_several_instances_on_a_node() {
    let mut cib = base(&["n1"]);
    cib.config.resources.push(clone_of(
        "ip-clone",
        "ip",
        &[
            ("globally-unique", "true"),
            ("clone-max", "2"),
            ("clone-node-max", "2"),
        ],
    ));
    assert_eq!(
        summary(&cib),
        vec!["Start ip:0 ( n1 )", "Start ip:1 ( n1 )"]
    );
    // Without globally-unique, clone-node-max > 1 makes it unique (Pacemaker's
    // default) ...
    let mut cib = base(&["n1"]);
    cib.config.resources.push(clone_of(
        "ip-clone",
        "ip",
        &[("clone-max", "2"), ("clone-node-max", "2")],
    ));
    assert_eq!(
        summary(&cib),
        vec!["Start ip:0 ( n1 )", "Start ip:1 ( n1 )"]
    );
    // ... while an anonymous clone runs once per node, whatever clone-node-max.
    let mut cib = base(&["n1"]);
    cib.config.resources.push(clone_of(
        "ip-clone",
        "ip",
        &[
            ("globally-unique", "false"),
            ("clone-max", "2"),
            ("clone-node-max", "2"),
        ],
    ));
    assert_eq!(summary(&cib), vec!["Start ip:0 ( n1 )"]);
}

/// Instances of an interleaved clone colocated with another clone pick their
/// partner instance on the node with the fewest resources (then by name), as
/// Pacemaker sorts nodes for placement; by name alone `app:1` would pile onto
/// n1 next to `app:0` although n2 has a `db` instance and fewer resources.
#[test]
fn interleaved_instances_spread_over_the_partner_clone() {
    let mut cib = base(&["n1", "n2"]);
    let meta = [
        ("globally-unique", "true"),
        ("clone-max", "2"),
        ("clone-node-max", "2"),
        ("interleave", "true"),
    ];
    cib.config
        .resources
        .push(clone_of("app-clone", "app", &meta));
    cib.config.resources.push(clone_of("db-clone", "db", &meta));
    cib.config.constraints.colocation.push(coloc(
        "app-with-db",
        "app-clone",
        "db-clone",
        Score::INFINITY,
    ));
    assert_eq!(
        summary(&cib),
        vec![
            "Start app:0 ( n1 )",
            "Start app:1 ( n2 )",
            "Start db:0 ( n1 )",
            "Start db:1 ( n2 )"
        ]
    );
}

/// A mandatory ordering between two clones that do not interleave: when the
/// first clone's instance moves, every instance of the "then" clone restarts
/// (Pacemaker applies the ordering to each instance's start, not only to the
/// clone's pseudo action; CTS case inc6). Without that the plan moved `a:1`
/// and left `b` running on what it no longer had under it.
#[test]
fn a_required_first_clone_restarts_the_instances_of_a_clone_that_does_not_interleave() {
    let mut cib = base(&["n1", "n2"]);
    let unique = [
        ("globally-unique", "true"),
        ("clone-max", "2"),
        ("clone-node-max", "1"),
    ];
    cib.config.resources.push(clone_of("a-clone", "a", &unique));
    cib.config.resources.push(clone_of("b-clone", "b", &[]));
    // Both instances of `a` run on n1 (clone-node-max 1 moves one of them).
    let n1 = cib.status.nodes.get_mut("n1").unwrap();
    n1.resources.insert("a:0".into(), running(1));
    n1.resources.insert("a:1".into(), running(2));
    for (i, n) in ["n1", "n2"].iter().enumerate() {
        let st = cib.status.nodes.get_mut(*n).unwrap();
        st.resources.insert("b".into(), running(3 + i as i64));
    }
    cib.config.constraints.order.push(OrderConstraint {
        id: "a-then-b".into(),
        first: "a-clone".into(),
        then: "b-clone".into(),
        ..Default::default()
    });
    assert_eq!(
        summary(&cib),
        vec![
            "Move a:1 ( n1 -> n2 )",
            "Restart b:0 ( n1 ) due to required a-clone running",
            "Restart b:1 ( n2 ) due to required a-clone running"
        ]
    );
}

/// Nodes n1 and n2; a group `g` (`ga`, `gb`) running on n1 that prefers n2 (100),
/// so it moves: the first side of the group-to-clone orderings below.
fn group_moving_to_n2() -> Cib {
    let mut cib = base(&["n1", "n2"]);
    cib.config.resources.push(Resource::Group(Group {
        id: "g".into(),
        children: vec![dummy("ga"), dummy("gb")],
        ..Default::default()
    }));
    let n1 = cib.status.nodes.get_mut("n1").unwrap();
    n1.resources.insert("ga".into(), running(1));
    n1.resources.insert("gb".into(), running(2));
    cib.config.constraints.location.push(LocationConstraint {
        id: "g-on-n2".into(),
        rsc: "g".into(),
        node: Some("n2".into()),
        score: Some(Score::new(100)),
        ..Default::default()
    });
    cib
}

/// As with a required first clone (above), after a group: a mandatory ordering from a group to a clone applies to
/// each instance's start, so when the group moves every instance restarts (as
/// crm_simulate 2.1.5 plans it). Without that the plan moved the group and left
/// the clone running on what it no longer had before it.
#[test]
fn a_required_first_group_restarts_the_instances_of_a_clone() {
    let mut cib = group_moving_to_n2();
    cib.config.resources.push(clone_of("c-clone", "c", &[]));
    for (i, n) in ["n1", "n2"].iter().enumerate() {
        let st = cib.status.nodes.get_mut(*n).unwrap();
        st.resources.insert("c".into(), running(3 + i as i64));
    }
    cib.config.constraints.order.push(OrderConstraint {
        id: "g-then-c".into(),
        first: "g".into(),
        then: "c-clone".into(),
        ..Default::default()
    });
    assert_eq!(
        summary(&cib),
        vec![
            "Move ga ( n1 -> n2 )",
            "Move gb ( n1 -> n2 )",
            "Restart c:0 ( n1 ) due to required g running",
            "Restart c:1 ( n2 ) due to required g running"
        ]
    );
}

/// A group ordered before the promotion of a promotable cloned group: when the
/// group moves, the instance colocated with it is promoted where it lands and no
/// instance restarts (the ordering names the members' promotions, not the
/// group instances' starts; as crm_simulate 2.1.5 plans it).
#[test]
fn a_required_first_group_promotes_a_cloned_group_without_restarting_it() {
    let mut cib = group_moving_to_n2();
    cib.config.resources.push(Resource::Clone(CloneSet {
        id: "f-clone".into(),
        meta: [("promotable".to_string(), "true".to_string())].into(),
        child: Box::new(Resource::Group(Group {
            id: "f".into(),
            children: vec![dummy("fa"), dummy("fb")],
            ..Default::default()
        })),
    }));
    for (i, n) in ["n1", "n2"].iter().enumerate() {
        let st = cib.status.nodes.get_mut(*n).unwrap();
        st.resources.insert("fa".into(), running(3 + 2 * i as i64));
        st.resources.insert("fb".into(), running(4 + 2 * i as i64));
        for m in ["fa", "fb"] {
            st.attributes.insert(format!("master-{m}"), "5".into());
        }
    }
    cib.config
        .constraints
        .colocation
        .push(ColocationConstraint {
            rsc_role: Some(hactl_model::Role::Promoted),
            ..coloc("f-with-g", "f-clone", "g", Score::INFINITY)
        });
    cib.config.constraints.order.push(OrderConstraint {
        id: "g-then-f".into(),
        first: "g".into(),
        then: "f-clone".into(),
        then_action: hactl_model::OrderAction::Promote,
        ..Default::default()
    });
    assert_eq!(
        summary(&cib),
        vec![
            "Move ga ( n1 -> n2 )",
            "Move gb ( n1 -> n2 )",
            "Promote fa:1 ( Unpromoted -> Promoted n2 )",
            "Promote fb:1 ( Unpromoted -> Promoted n2 )"
        ]
    );
}

/// An instance first tried on its current node, which then goes elsewhere, is
/// assigned a second time; Pacemaker prints its pcmk__primitive_assign scores at
/// each attempt, so they appear twice (CTS bug-lf-2422, cloned-group-stop).
#[test]
fn an_instance_assigned_twice_has_its_primitive_scores_printed_twice() {
    let mut cib = base(&["n1", "n2"]);
    cib.config
        .resources
        .push(clone_of("web-clone", "web", &[("clone-max", "1")]));
    cib.config.resources.push(Resource::Primitive(dummy("db")));
    cib.config.constraints.location.push(LocationConstraint {
        id: "db-on-n2".into(),
        rsc: "db".into(),
        node: Some("n2".into()),
        score: Some(Score::new(100)),
        ..Default::default()
    });
    cib.config.constraints.colocation.push(coloc(
        "web-with-db",
        "web-clone",
        "db",
        Score::INFINITY,
    ));
    let st = cib.status.nodes.get_mut("n1").unwrap();
    st.resources.insert("web".into(), running(2));
    let t = schedule(&cib, 1_000_000).unwrap();
    assert_eq!(
        summary(&cib),
        vec!["Move web:0 ( n1 -> n2 )", "Start db ( n2 )"]
    );
    let scores = t.raw_scores();
    let on_n1 = "pcmk__primitive_assign: web:0 allocation score on n1: -INFINITY";
    assert_eq!(
        scores.lines().filter(|l| *l == on_n1).count(),
        2,
        "{scores}"
    );
}
