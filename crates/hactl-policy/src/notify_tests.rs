//! Clone notifications (`notify=true`) on small hand-built CIBs: which instances
//! are told, before and after what, and what they are told.

use hactl_model::{CloneSet, OpSpec};

use super::promotable_tests::reaches;
use super::*;
use crate::{Action, ActionKind, NotifyOf, NotifyPhase, Transition};

const NODES: [&str; 3] = ["n1", "n2", "n3"];

/// `web` cloned over three nodes with a 10 s monitor; `notify` as given.
fn web(notify: &str) -> Cib {
    let mut cib = base(&NODES);
    let mut prim = dummy("web");
    prim.ops.push(OpSpec {
        name: "monitor".into(),
        interval_ms: 10_000,
        ..Default::default()
    });
    cib.config.resources.push(Resource::Clone(CloneSet {
        id: "web-clone".into(),
        meta: [("notify".to_string(), notify.to_string())].into(),
        child: Box::new(Resource::Primitive(prim)),
    }));
    cib
}

/// The notifications of `phase` about `of`, as (instance, node).
fn notified(t: &Transition, phase: NotifyPhase, of: NotifyOf) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = t
        .actions
        .iter()
        .filter(|a| matches!(&a.kind, ActionKind::Notify { phase: p, of: o, .. } if *p == phase && *o == of))
        .map(|a| (rsc(a).to_string(), node(a).to_string()))
        .collect();
    v.sort();
    v
}

fn rsc(a: &Action) -> &str {
    a.resource.as_deref().unwrap_or("")
}

fn node(a: &Action) -> &str {
    a.node.as_deref().unwrap_or("")
}

fn find(t: &Transition, pred: impl Fn(&Action) -> bool) -> Vec<usize> {
    t.actions.iter().filter(|a| pred(a)).map(|a| a.id).collect()
}

fn env_of<'t>(a: &'t Action, key: &str) -> Option<&'t str> {
    match &a.kind {
        ActionKind::Notify { env, .. } => {
            env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
        }
        _ => None,
    }
}

#[test]
fn without_notify_no_instance_is_told() {
    let t = schedule(&web("false"), 1_000_000).unwrap();
    assert!(!t.actions.iter().any(|a| matches!(
        a.kind,
        ActionKind::Notify { .. } | ActionKind::NotifyMarker { .. }
    )));
}

#[test]
fn started_instances_are_told_after_all_started_and_before_their_monitors() {
    let t = schedule(&web("true"), 1_000_000).unwrap();
    let expect: Vec<(String, String)> = ["web:0 n1", "web:1 n2", "web:2 n3"]
        .iter()
        .map(|s| {
            let (r, n) = s.split_once(' ').unwrap();
            (r.to_string(), n.to_string())
        })
        .collect();
    assert_eq!(notified(&t, NotifyPhase::Post, NotifyOf::Start), expect);
    // Nothing ran before, so nothing is told before the starts.
    assert!(notified(&t, NotifyPhase::Pre, NotifyOf::Start).is_empty());
    let starts = find(&t, |a| a.kind == ActionKind::Start);
    let monitors = find(&t, |a| matches!(a.kind, ActionKind::Monitor { .. }));
    let posts = find(&t, |a| matches!(a.kind, ActionKind::Notify { .. }));
    assert_eq!((starts.len(), monitors.len(), posts.len()), (3, 3, 3));
    for &p in &posts {
        for &s in &starts {
            assert!(reaches(&t, s, p), "every start before every notification");
        }
        for &m in &monitors {
            assert!(reaches(&t, p, m), "every notification before the monitors");
        }
        let a = &t.actions[p];
        assert_eq!(env_of(a, "notify_type"), Some("post"));
        assert_eq!(env_of(a, "notify_operation"), Some("start"));
        assert_eq!(
            env_of(a, "notify_start_resource"),
            Some("web:0 web:1 web:2")
        );
        assert_eq!(env_of(a, "notify_start_uname"), Some("n1 n2 n3"));
        assert_eq!(env_of(a, "notify_stop_resource"), Some(" "));
        assert_eq!(
            env_of(a, "notify_inactive_resource"),
            Some("web:0 web:1 web:2")
        );
    }
    let xml = crate::graph_xml(&web("true"), &t);
    assert!(
        xml.contains(r#"operation_key="web:0_post_notify_start_0""#),
        "{xml}"
    );
    assert!(xml.contains(r#"operation_key="web-clone_confirmed-post_notify_running_0""#));
    assert!(xml.contains(r#"CRM_meta_notify_start_uname="n1 n2 n3""#));
}

#[test]
fn a_stop_is_announced_to_all_and_confirmed_to_the_instances_that_stay() {
    let mut cib = web("true");
    for (i, n) in NODES.iter().enumerate() {
        let st = cib.status.nodes.get_mut(*n).unwrap();
        st.resources.insert("web".into(), running(i as i64 + 1));
    }
    cib.config.nodes[1].standby = true;
    let t = schedule(&cib, 1_000_000).unwrap();
    let pre = notified(&t, NotifyPhase::Pre, NotifyOf::Stop);
    let post = notified(&t, NotifyPhase::Post, NotifyOf::Stop);
    let nodes = |v: &[(String, String)]| v.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>();
    assert_eq!(nodes(&pre), ["n1", "n2", "n3"]);
    assert_eq!(
        nodes(&post),
        ["n1", "n3"],
        "the stopped instance is not told after"
    );
    let stop = find(&t, |a| a.kind == ActionKind::Stop);
    assert_eq!(stop.len(), 1);
    for n in find(&t, |a| matches!(a.kind, ActionKind::Notify { .. })) {
        let a = &t.actions[n];
        let pre = matches!(
            a.kind,
            ActionKind::Notify {
                phase: NotifyPhase::Pre,
                ..
            }
        );
        if pre {
            assert!(reaches(&t, n, stop[0]), "told before the stop");
        } else {
            assert!(reaches(&t, stop[0], n), "told after the stop");
        }
        assert_eq!(env_of(a, "notify_stop_uname"), Some("n2"));
        assert_eq!(env_of(a, "notify_active_uname"), Some("n1 n2 n3"));
    }
}

#[test]
fn what_is_ordered_after_the_clone_waits_for_its_post_notifications() {
    let mut cib = web("true");
    cib.config.resources.push(Resource::Primitive(dummy("vip")));
    cib.config
        .constraints
        .order
        .push(hactl_model::OrderConstraint {
            id: "web-then-vip".into(),
            first: "web-clone".into(),
            then: "vip".into(),
            ..Default::default()
        });
    let t = schedule(&cib, 1_000_000).unwrap();
    let vip = find(&t, |a| rsc(a) == "vip" && a.kind == ActionKind::Start);
    let posts = find(&t, |a| matches!(a.kind, ActionKind::Notify { .. }));
    assert_eq!((vip.len(), posts.len()), (1, 3));
    for p in posts {
        assert!(
            reaches(&t, p, vip[0]),
            "vip starts after {:?}",
            t.actions[p]
        );
    }
}

/// A notifying clone of a group (`web` then `ip`): every member of every running
/// instance is told, and the lists name the members, not only each instance's
/// first one.
#[test]
fn a_notifying_cloned_group_notifies_every_member() {
    let mut cib = base(&["n1", "n2"]);
    let grp = super::clone_group_tests::cloned_group(&[("notify", "true")]);
    cib.config.resources.push(grp);
    for (member, call) in [("web", 1), ("ip", 2)] {
        let st = cib.status.nodes.get_mut("n1").unwrap();
        st.resources.insert(member.into(), running(call));
    }
    let t = schedule(&cib, 0).unwrap();
    let pair = |r: &str, n: &str| (r.to_string(), n.to_string());
    assert_eq!(
        notified(&t, NotifyPhase::Pre, NotifyOf::Start),
        [pair("ip:0", "n1"), pair("web:0", "n1")]
    );
    assert_eq!(
        notified(&t, NotifyPhase::Post, NotifyOf::Start),
        [
            pair("ip:0", "n1"),
            pair("ip:1", "n2"),
            pair("web:0", "n1"),
            pair("web:1", "n2")
        ]
    );
    let any = find(&t, |a| matches!(a.kind, ActionKind::Notify { .. }))[0];
    let starting = env_of(&t.actions[any], "notify_start_resource").unwrap_or("");
    assert_eq!(starting.split_whitespace().count(), 2, "{starting}");
}
