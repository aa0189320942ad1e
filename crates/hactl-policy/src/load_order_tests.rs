//! The load_stopped orderings under a placement strategy (`load_order.rs`).

use hactl_model::{Cib, LocationConstraint, Resource, Score};

use super::promotable_tests::reaches;
use super::{base, dummy, running};
use crate::{schedule, ActionKind, Transition};

/// n1 and n2 with cpu=1 each; `a` (on n1) and `b` (on n2), cpu=1 and
/// allow-migrate=true, swap places (each prefers the other's node).
fn swapping() -> Cib {
    let mut cib = base(&["n1", "n2"]);
    cib.config
        .properties
        .insert("placement-strategy".into(), "utilization".into());
    for node in &mut cib.config.nodes {
        node.utilization.insert("cpu".into(), "1".into());
    }
    for (id, from, to) in [("a", "n1", "n2"), ("b", "n2", "n1")] {
        let mut p = dummy(id);
        p.utilization.insert("cpu".into(), "1".into());
        p.meta.insert("allow-migrate".into(), "true".into());
        cib.config.resources.push(Resource::Primitive(p));
        cib.config.constraints.location.push(LocationConstraint {
            id: format!("{id}-on-{to}"),
            rsc: id.into(),
            node: Some(to.into()),
            score: Some(Score::INFINITY),
            ..Default::default()
        });
        if let Some(st) = cib.status.nodes.get_mut(from) {
            st.resources.insert(id.into(), running(2));
        }
    }
    cib
}

fn find(t: &Transition, rsc: &str, pred: impl Fn(&ActionKind) -> bool) -> usize {
    t.actions
        .iter()
        .find(|a| a.resource.as_deref() == Some(rsc) && pred(&a.kind))
        .unwrap_or_else(|| panic!("no such action of {rsc}: {:#?}", t.actions))
        .id
}

/// Two resources that migrate onto each other's node: each `migrate_to` would
/// wait for the other's stop (what frees the capacity), a loop. The ordering
/// before the last created `migrate_to` is dropped, as Pacemaker does. Under a
/// placement strategy resources are sorted before their actions are made: b
/// (INFINITY on n1, the first node) before a, so a's `migrate_to` comes last: a
/// migrates at once, and b once a has stopped on n1.
#[test]
fn a_load_loop_between_migrations_is_broken_before_the_last_migrate_to() {
    let t = schedule(&swapping(), 1_000_000).unwrap();
    let mut lines: Vec<String> = t
        .summary
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    lines.sort();
    assert_eq!(lines, ["Migrate a ( n1 -> n2 )", "Migrate b ( n2 -> n1 )"]);
    let migrate_to = |k: &ActionKind| matches!(k, ActionKind::MigrateTo { .. });
    let stop = |k: &ActionKind| *k == ActionKind::Stop;
    let (a_to, b_to) = (find(&t, "a", migrate_to), find(&t, "b", migrate_to));
    let (a_stop, b_stop) = (find(&t, "a", stop), find(&t, "b", stop));
    assert!(reaches(&t, a_stop, b_to), "b waits for a to leave n1");
    assert!(
        !reaches(&t, b_stop, a_to),
        "the ordering that closed the loop is gone"
    );
    let load: Vec<_> = t
        .actions
        .iter()
        .filter(|a| a.kind == ActionKind::LoadStopped)
        .map(|a| a.node.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(load.len(), 2, "{load:?}");
}
