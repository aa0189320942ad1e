//! `clone-min`: what is ordered after a clone starts once that many instances can.

use hactl_model::{CloneSet, OrderConstraint};

use super::*;

/// `web` cloned over three nodes (`clone-min` as given, if any), `vip` ordered
/// after it, and `standby` nodes in standby.
fn web_then_vip(clone_min: Option<&str>, standby: &[usize]) -> Cib {
    let mut cib = base(&["n1", "n2", "n3"]);
    let meta = clone_min
        .map(|m| [("clone-min".to_string(), m.to_string())].into())
        .unwrap_or_default();
    cib.config.resources.push(Resource::Clone(CloneSet {
        id: "web-clone".into(),
        meta,
        child: Box::new(Resource::Primitive(dummy("web"))),
    }));
    cib.config.resources.push(Resource::Primitive(dummy("vip")));
    cib.config.constraints.order.push(OrderConstraint {
        id: "web-then-vip".into(),
        first: "web-clone".into(),
        then: "vip".into(),
        ..Default::default()
    });
    for &n in standby {
        cib.config.nodes[n].standby = true;
    }
    cib
}

fn vip_line(cib: &Cib) -> String {
    summary(cib)
        .into_iter()
        .find(|l| l.contains("vip"))
        .unwrap_or_default()
}

#[test]
fn the_dependent_waits_for_clone_min_instances() {
    // Two of three nodes in standby: one instance can run, two are required.
    let one = web_then_vip(Some("2"), &[1, 2]);
    assert_eq!(
        vip_line(&one),
        "Start vip ( n1 ) due to unrunnable clone-one-or-more:web-then-vip (blocked)"
    );
    // Without clone-min one instance is enough.
    assert_eq!(vip_line(&web_then_vip(None, &[1, 2])), "Start vip ( n1 )");
    // Two instances can run: enough.
    assert_eq!(vip_line(&web_then_vip(Some("2"), &[2])), "Start vip ( n1 )");
}

#[test]
fn the_dependent_starts_after_the_instances_that_start() {
    let t = schedule(&web_then_vip(Some("2"), &[]), 1_000_000).unwrap();
    let vip = t
        .actions
        .iter()
        .find(|a| a.resource.as_deref() == Some("vip") && a.kind == crate::ActionKind::Start)
        .expect("vip starts");
    for web in t
        .actions
        .iter()
        .filter(|a| a.kind == crate::ActionKind::Start && a.resource.as_deref() != Some("vip"))
    {
        assert!(super::promotable_tests::reaches(&t, web.id, vip.id));
    }
}

/// `a-clone` can run on n1 only, the interleaved `b-clone` on n2 and n3 only, and
/// `b-clone` is ordered after `a-clone` (`require-all` as given).
fn a_then_b_apart(require_all: Option<bool>) -> Cib {
    let mut cib = base(&["n1", "n2", "n3"]);
    for (id, banned) in [("a", ["n2", "n3"]), ("b", ["n1", "n1"])] {
        cib.config.resources.push(Resource::Clone(CloneSet {
            id: format!("{id}-clone"),
            meta: [("interleave".to_string(), "true".to_string())].into(),
            child: Box::new(Resource::Primitive(dummy(id))),
        }));
        for n in banned {
            cib.config
                .constraints
                .location
                .push(hactl_model::LocationConstraint {
                    id: format!("ban-{id}-{n}"),
                    rsc: format!("{id}-clone"),
                    node: Some(n.into()),
                    score: Some(Score::NEG_INFINITY),
                    ..Default::default()
                });
        }
    }
    cib.config.constraints.order.push(OrderConstraint {
        id: "a-then-b".into(),
        first: "a-clone".into(),
        then: "b-clone".into(),
        require_all,
        ..Default::default()
    });
    cib
}

#[test]
fn require_all_false_lets_instances_start_after_any_one_instance() {
    let starts = |cib: &Cib| -> Vec<String> {
        summary(cib)
            .into_iter()
            .filter(|l| l.starts_with("Start b"))
            .collect()
    };
    // Interleaved, every b instance needs an a instance on its own node: none has.
    let all = starts(&a_then_b_apart(None));
    assert!(all.iter().all(|l| l.contains("blocked")), "{all:?}");
    // require-all=false: the one a instance on n1 is enough (clone-min=1).
    let one = starts(&a_then_b_apart(Some(false)));
    assert_eq!(one, ["Start b:0 ( n2 )", "Start b:1 ( n3 )"], "{one:?}");
}
