//! Clones of groups on small hand-built CIBs: each instance is a group whose
//! members (`web:N`, `ip:N`) run together on one node, start in order and stop
//! in reverse order, numbered as cloned primitives are.

use hactl_model::{CloneSet, OrderConstraint};

use super::*;
use crate::{ActionKind, Transition};

/// Group `grp` of `web` then `ip`, cloned as `grp-clone`.
pub(super) fn cloned_group(meta: &[(&str, &str)]) -> Resource {
    Resource::Clone(CloneSet {
        id: "grp-clone".into(),
        meta: meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        child: Box::new(Resource::Group(Group {
            id: "grp".into(),
            children: vec![dummy("web"), dummy("ip")],
            ..Default::default()
        })),
    })
}

fn action(t: &Transition, kind: ActionKind, rsc: &str) -> usize {
    t.actions
        .iter()
        .find(|a| a.kind == kind && a.resource.as_deref() == Some(rsc))
        .unwrap_or_else(|| panic!("no {kind:?} of {rsc}"))
        .id
}

// Whether action `a` comes before `b` along the transition's edges.
use super::promotable_tests::reaches as before;

/// Where each started primitive goes.
fn starts(t: &Transition) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = t
        .actions
        .iter()
        .filter(|a| a.kind == ActionKind::Start && !a.pseudo)
        .map(|a| {
            let r = a.resource.as_deref().unwrap_or_default().to_string();
            let n = a.node.as_deref().unwrap_or_default().to_string();
            (r, n)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn each_instance_of_a_cloned_group_starts_its_members_together_in_order() {
    let mut cib = base(&["n1", "n2", "n3"]);
    cib.config.resources.push(cloned_group(&[]));
    let t = schedule(&cib, 5).unwrap();
    let placed = starts(&t);
    let on = |r: &str| placed.iter().find(|(p, _)| p == r).map(|(_, n)| n.clone());
    for i in 0..3 {
        let (web, ip) = (format!("web:{i}"), format!("ip:{i}"));
        assert!(on(&web).is_some(), "{web} starts: {placed:?}");
        assert_eq!(on(&web), on(&ip), "instance {i} runs on one node");
        let (sw, si) = (
            action(&t, ActionKind::Start, &web),
            action(&t, ActionKind::Start, &ip),
        );
        assert!(before(&t, sw, si), "{web} starts before {ip}");
        // The instance's group pseudo actions frame its members.
        let gstart = action(&t, ActionKind::GroupStart, &format!("grp:{i}"));
        let running = action(&t, ActionKind::GroupRunning, &format!("grp:{i}"));
        assert!(before(&t, gstart, sw) && before(&t, si, running));
    }
    let mut nodes: Vec<_> = (0..3).filter_map(|i| on(&format!("web:{i}"))).collect();
    nodes.sort();
    assert_eq!(nodes, ["n1", "n2", "n3"], "one instance per node");
}

#[test]
fn a_running_cloned_group_stays_and_standby_stops_only_that_nodes_instance() {
    let mut cib = base(&["n1", "n2", "n3"]);
    cib.config.resources.push(cloned_group(&[]));
    // Histories named by the primitive, as Pacemaker records anonymous instances.
    for (i, n) in ["n1", "n2", "n3"].iter().enumerate() {
        let st = cib.status.nodes.get_mut(*n).unwrap();
        st.resources.insert("web".into(), running(2 * i as i64 + 1));
        st.resources.insert("ip".into(), running(2 * i as i64 + 2));
    }
    assert_eq!(summary(&cib), Vec::<String>::new(), "nothing moves");
    cib.config
        .nodes
        .iter_mut()
        .find(|n| n.name == "n2")
        .unwrap()
        .attributes
        .insert("standby".into(), "on".into());
    let mut lines = summary(&cib);
    lines.sort();
    assert_eq!(
        lines,
        [
            "Stop ip:1 ( n2 ) due to node availability",
            "Stop web:1 ( n2 ) due to node availability",
        ]
    );
    let t = schedule(&cib, 5).unwrap();
    // Members stop in reverse order.
    let (sw, si) = (
        action(&t, ActionKind::Stop, "web:1"),
        action(&t, ActionKind::Stop, "ip:1"),
    );
    assert!(before(&t, si, sw), "ip:1 stops before web:1");
}

#[test]
fn an_unrunnable_start_before_a_cloned_group_stops_all_its_members() {
    let mut cib = base(&["n1", "n2"]);
    cib.config.resources.push(cloned_group(&[]));
    let mut db = dummy("db");
    db.meta.insert("target-role".into(), "Stopped".into());
    cib.config.resources.push(Resource::Primitive(db));
    cib.config.constraints.order.push(OrderConstraint {
        id: "db-then-grp".into(),
        first: "db".into(),
        then: "grp-clone".into(),
        ..Default::default()
    });
    for (i, n) in ["n1", "n2"].iter().enumerate() {
        let st = cib.status.nodes.get_mut(*n).unwrap();
        st.resources.insert("web".into(), running(2 * i as i64 + 1));
        st.resources.insert("ip".into(), running(2 * i as i64 + 2));
    }
    let t = schedule(&cib, 5).unwrap();
    for r in ["web:0", "ip:0", "web:1", "ip:1"] {
        let stop = action(&t, ActionKind::Stop, r);
        assert!(t.actions[stop].runnable, "{r} stops");
        assert!(
            !t.actions.iter().any(|a| a.kind == ActionKind::Start
                && a.resource.as_deref() == Some(r)
                && a.runnable),
            "{r} cannot start again"
        );
    }
}

/// A promotable cloned group is promoted as a whole: the instance whose
/// members' promotion scores add up highest (n2: 5 + 5, against n1's 6 for
/// `web` alone) has all its members promoted, first to last, and nothing else
/// is promoted.
#[test]
fn a_promotable_cloned_group_promotes_a_whole_instance_in_member_order() {
    let mut cib = base(&["n1", "n2"]);
    cib.config
        .resources
        .push(cloned_group(&[("promotable", "true")]));
    for (i, n) in ["n1", "n2"].iter().enumerate() {
        let st = cib.status.nodes.get_mut(*n).unwrap();
        st.resources.insert("web".into(), running(2 * i as i64 + 1));
        st.resources.insert("ip".into(), running(2 * i as i64 + 2));
    }
    for (n, attr, score) in [("n1", "web", "6"), ("n2", "web", "5"), ("n2", "ip", "5")] {
        let st = cib.status.nodes.get_mut(n).unwrap();
        st.attributes.insert(format!("master-{attr}"), score.into());
    }
    let t = schedule(&cib, 5).unwrap();
    let promoted: Vec<(String, String)> = t
        .actions
        .iter()
        .filter(|a| a.kind == ActionKind::Promote)
        .map(|a| {
            let r = a.resource.as_deref().unwrap_or_default();
            let base = r.split(':').next().unwrap_or_default().to_string();
            (base, a.node.as_deref().unwrap_or_default().to_string())
        })
        .collect();
    assert_eq!(
        promoted,
        [
            ("web".to_string(), "n2".to_string()),
            ("ip".into(), "n2".into())
        ],
        "{:?}",
        t.summary
    );
    let promote = |base: &str| {
        t.actions
            .iter()
            .find(|a| {
                a.kind == ActionKind::Promote
                    && a.resource.as_deref().is_some_and(|r| r.starts_with(base))
            })
            .unwrap()
            .id
    };
    assert!(before(&t, promote("web:"), promote("ip:")), "web before ip");
}

/// Probed (not running) under the primitive's own name, as the controller records
/// an anonymous instance's probe.
fn probed(call_id: i64) -> ResourceHistory {
    ResourceHistory {
        agent: dummy("x").agent,
        ops: vec![hactl_model::OpRecord {
            operation: "monitor".into(),
            call_id,
            rc: 7,
            expected_rc: Some(7),
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn each_member_of_a_cloned_group_runs_under_its_own_history_name() {
    let mut cib = base(&["n1", "n2", "n3"]);
    cib.config.resources.push(cloned_group(&[]));
    // The probes answer in either order: on n2 and n3 `ip`'s came first.
    for (n, web_first) in [("n1", true), ("n2", false), ("n3", false)] {
        let st = cib.status.nodes.get_mut(n).unwrap();
        let (w, i) = if web_first { (1, 2) } else { (2, 1) };
        st.resources.insert("web".into(), probed(w));
        st.resources.insert("ip".into(), probed(i));
    }
    let t = schedule(&cib, 5).unwrap();
    let started: Vec<_> = t
        .actions
        .iter()
        .filter(|a| a.kind == ActionKind::Start && !a.pseudo)
        .collect();
    assert_eq!(started.len(), 6, "{started:?}");
    // The node's executor runs (and the agent knows) the start by this name: a
    // member under another member's name starts the wrong one, out of order.
    for a in started {
        let rsc = a.resource.as_deref().unwrap_or_default();
        let runs_as = a.history_name.as_deref().unwrap_or(rsc);
        assert_eq!(runs_as, crate::clone::strip_instance(rsc), "{a:?}");
    }
}

/// A globally-unique cloned group: a history names its instance exactly, so
/// `web:1` and `ip:1` running on n1 are instance 1 there (not the first free
/// instance, as for an anonymous clone), and instance 0 starts on n2.
#[test]
fn a_globally_unique_cloned_group_reads_each_members_history_by_its_instance() {
    let mut cib = base(&["n1", "n2"]);
    cib.config.resources.push(cloned_group(&[
        ("globally-unique", "true"),
        ("clone-max", "2"),
    ]));
    let n1 = cib.status.nodes.get_mut("n1").unwrap();
    n1.resources.insert("web:1".into(), running(1));
    n1.resources.insert("ip:1".into(), running(2));
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        starts(&schedule(&cib, 5).unwrap()),
        [pair("ip:0", "n2"), pair("web:0", "n2")]
    );
}

/// A cloned group whose lead keeps running while a later member stops still
/// stops through the clone's own stop: an interleaved clone ordered after it
/// (`grp-clone` then `fs-clone`) stops everywhere before any `ip` stops, as
/// Pacemaker orders the clones' pseudo actions besides the instances per node.
#[test]
fn a_member_stop_makes_the_cloned_groups_stop_required() {
    let mut cib = base(&["n1", "n2"]);
    let mut grp = cloned_group(&[("interleave", "true")]);
    if let Resource::Clone(c) = &mut grp {
        if let Resource::Group(g) = c.child.as_mut() {
            g.children[1]
                .meta
                .insert("target-role".into(), "Stopped".into());
        }
    }
    cib.config.resources.push(grp);
    cib.config.resources.push(Resource::Clone(CloneSet {
        id: "fs-clone".into(),
        meta: [("interleave".to_string(), "true".to_string())].into(),
        child: Box::new(Resource::Primitive(dummy("fs"))),
    }));
    cib.config.constraints.order.push(OrderConstraint {
        id: "grp-then-fs".into(),
        first: "grp-clone".into(),
        then: "fs-clone".into(),
        ..Default::default()
    });
    for (i, n) in ["n1", "n2"].iter().enumerate() {
        let st = cib.status.nodes.get_mut(*n).unwrap();
        st.resources.insert("web".into(), running(3 * i as i64 + 1));
        st.resources.insert("ip".into(), running(3 * i as i64 + 2));
        st.resources.insert("fs".into(), running(3 * i as i64 + 3));
    }
    // fs stops because what it is ordered after (ip) stops on its node.
    let t = schedule(&cib, 5).unwrap();
    let stops = |base: &str| -> Vec<usize> {
        t.actions
            .iter()
            .filter(|a| a.kind == ActionKind::Stop)
            .filter(|a| a.resource.as_deref().is_some_and(|r| r.starts_with(base)))
            .map(|a| a.id)
            .collect()
    };
    let (ips, fss) = (stops("ip:"), stops("fs:"));
    assert_eq!((ips.len(), fss.len()), (2, 2), "{:?}", t.summary);
    action(&t, ActionKind::GroupStop, "grp-clone");
    for &f in &fss {
        for &i in &ips {
            assert!(before(&t, f, i), "every fs stop before every ip stop");
        }
    }
}

/// As Pacemaker shows a clone's children recursively when its assignment starts,
/// the scores list each instance group (with the clone's location constraint)
/// and every member, not only the leads; an instance that cannot run on a node
/// (here: the node already holds clone-node-max instances) is banned there on
/// its group and all members before the group is assigned (CTS cloned-group).
#[test]
fn the_scores_list_each_cloned_group_instance_and_its_members() {
    let mut cib = base(&["n1", "n2"]);
    cib.config.resources.push(cloned_group(&[]));
    cib.config.constraints.location.push(LocationConstraint {
        id: "grp-on-n1".into(),
        rsc: "grp-clone".into(),
        node: Some("n1".into()),
        score: Some(Score::new(5)),
        ..Default::default()
    });
    let scores = schedule(&cib, 5).unwrap().raw_scores();
    for line in [
        "pcmk__clone_assign: grp:0 allocation score on n1: 5",
        "pcmk__clone_assign: grp:1 allocation score on n2: 0",
        "pcmk__clone_assign: web:0 allocation score on n1: 5",
        "pcmk__clone_assign: ip:1 allocation score on n1: 0",
        "pcmk__group_assign: grp:0 allocation score on n1: 5",
        "pcmk__group_assign: grp:1 allocation score on n1: -INFINITY",
        "pcmk__group_assign: ip:1 allocation score on n1: -INFINITY",
        "pcmk__group_assign: ip:1 allocation score on n2: 0",
    ] {
        assert!(
            scores.lines().any(|l| l == line),
            "no {line:?} in\n{scores}"
        );
    }
}

/// An orphan instance of a cloned group (made for a second history of a member
/// on a node where an instance already runs) is a removed resource: like
/// Pacemaker, the scores leave out its group as well as its members.
#[test]
fn the_scores_leave_out_an_orphan_cloned_group_instance() {
    let mut cib = base(&["n1", "n2"]);
    cib.config.resources.push(cloned_group(&[]));
    let st = cib.status.nodes.get_mut("n1").unwrap();
    st.resources.insert("web:0".into(), running(2));
    st.resources.insert("web:1".into(), running(3));
    let t = schedule(&cib, 5).unwrap();
    assert!(t
        .placements
        .iter()
        .any(|p| p.orphan && p.resource == "web:2"));
    let scores = t.raw_scores();
    assert!(scores.contains("grp:1 allocation score"), "{scores}");
    assert!(!scores.contains("grp:2"), "{scores}");
}
