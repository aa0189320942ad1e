//! `require-all="false"` in an order's resource set (`one_or_more.rs`).

use hactl_model::{LocationConstraint, OrderConstraint};

use super::*;

/// B and C (a set with require-all=false) before D, on one node; the resources in
/// `banned` cannot run anywhere.
fn b_or_c_then_d(banned: &[&str]) -> Cib {
    let mut cib = base(&["n1"]);
    for id in ["b", "c", "d"] {
        cib.config.resources.push(Resource::Primitive(dummy(id)));
    }
    for id in banned {
        cib.config.constraints.location.push(LocationConstraint {
            id: format!("ban-{id}"),
            rsc: id.to_string(),
            node: Some("n1".into()),
            score: Some(Score::NEG_INFINITY),
            ..Default::default()
        });
    }
    for (n, first) in ["c", "b"].into_iter().enumerate() {
        cib.config.constraints.order.push(OrderConstraint {
            id: format!("set-one-or-more.{}", n + 1),
            first: first.into(),
            then: "d".into(),
            symmetrical: Some(true),
            one_or_more: Some("set".into()),
            ..Default::default()
        });
    }
    cib
}

#[test]
fn the_later_set_starts_once_any_member_of_the_earlier_one_can() {
    // (banned, expected summary)
    let cases: [(&[&str], &[&str]); 3] = [
        (&[], &["Start b ( n1 )", "Start c ( n1 )", "Start d ( n1 )"]),
        // One member is enough (with require-all, d would be blocked).
        (&["b"], &["Start c ( n1 )", "Start d ( n1 )"]),
        // None of them: d cannot start (blocked by the set's pseudo action;
        // Pacemaker names it one-or-more:set, hactl clone-one-or-more:set).
        (&["b", "c"], &["Start d ( n1 ) due to unrunnable"]),
    ];
    for (banned, want) in cases {
        let mut got = summary(&b_or_c_then_d(banned));
        got.sort();
        assert_eq!(got.len(), want.len(), "banned {banned:?}: {got:?}");
        for (g, w) in got.iter().zip(want) {
            assert!(g.starts_with(w), "banned {banned:?}: {got:?}");
        }
    }
    let blocked = summary(&b_or_c_then_d(&["b", "c"]));
    assert!(
        blocked[0].ends_with("one-or-more:set (blocked)"),
        "{blocked:?}"
    );
}

#[test]
fn the_later_set_starts_after_the_members_that_start() {
    let t = schedule(&b_or_c_then_d(&["b"]), 1_000_000).unwrap();
    let start = |rsc: &str| {
        t.actions
            .iter()
            .find(|a| a.resource.as_deref() == Some(rsc) && a.kind == crate::ActionKind::Start)
            .map(|a| a.id)
            .unwrap_or_else(|| panic!("no start of {rsc}: {:#?}", t.actions))
    };
    assert!(super::promotable_tests::reaches(&t, start("c"), start("d")));
}
