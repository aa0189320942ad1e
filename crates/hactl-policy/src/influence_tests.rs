//! A colocation's `influence`: whether the dependent's preferences move the
//! primary. Unset means the dependent's `critical` meta (default true), which
//! is also what an invalid value in the CIB reads as.

use hactl_model::{ColocationConstraint, LocationConstraint, Resource, Score};

use crate::tests::{base, dummy, running, summary};

/// b runs on node1; a (colocated with b) prefers node2 by 100.
fn cib(influence: Option<bool>, critical: Option<&str>) -> hactl_model::Cib {
    let mut cib = base(&["node1", "node2"]);
    let mut a = dummy("a");
    if let Some(c) = critical {
        a.meta.insert("critical".into(), c.into());
    }
    cib.config.resources.push(Resource::Primitive(a));
    cib.config.resources.push(Resource::Primitive(dummy("b")));
    cib.config.constraints.location.push(LocationConstraint {
        id: "a-prefers-2".into(),
        rsc: "a".into(),
        node: Some("node2".into()),
        score: Some(Score::new(100)),
        ..Default::default()
    });
    cib.config
        .constraints
        .colocation
        .push(ColocationConstraint {
            id: "a-with-b".into(),
            rsc: "a".into(),
            with_rsc: "b".into(),
            score: Score::INFINITY,
            influence,
            ..Default::default()
        });
    let n1 = cib.status.nodes.get_mut("node1").expect("node1");
    n1.resources.insert("a".into(), running(1));
    n1.resources.insert("b".into(), running(2));
    cib
}

#[test]
fn with_influence_the_dependent_pulls_its_primary() {
    let moved = vec!["Move a ( node1 -> node2 )", "Move b ( node1 -> node2 )"];
    assert_eq!(summary(&cib(None, None)), moved);
    assert_eq!(summary(&cib(Some(true), Some("false"))), moved);
}

#[test]
fn without_influence_the_primary_stays_and_the_dependent_follows_it() {
    assert!(summary(&cib(Some(false), None)).is_empty());
    // Unset influence takes the dependent's critical meta.
    assert!(summary(&cib(None, Some("false"))).is_empty());
}
