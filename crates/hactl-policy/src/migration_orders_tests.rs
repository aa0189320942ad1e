//! Live migration of resources named in orderings (`migration_orders.rs`).

use hactl_model::{LocationConstraint, OrderConstraint};

use super::*;
use crate::{ActionKind, Transition};

/// `db` then `vm` (mandatory), both running on n1. Each resource named in `to_n2`
/// is moved to n2 by a location constraint; each in `migratable` has
/// allow-migrate=true.
fn ordered(to_n2: &[&str], migratable: &[&str]) -> Cib {
    let mut cib = base(&["n1", "n2"]);
    for (id, call) in [("db", 10), ("vm", 11)] {
        let mut p = dummy(id);
        if migratable.contains(&id) {
            p.meta.insert("allow-migrate".into(), "true".into());
        }
        cib.config.resources.push(Resource::Primitive(p));
        if let Some(n1) = cib.status.nodes.get_mut("n1") {
            n1.resources.insert(id.into(), running(call));
        }
        if to_n2.contains(&id) {
            cib.config.constraints.location.push(LocationConstraint {
                id: format!("{id}-on-n2"),
                rsc: id.into(),
                node: Some("n2".into()),
                score: Some(Score::INFINITY),
                ..Default::default()
            });
        }
    }
    cib.config.constraints.order.push(OrderConstraint {
        id: "db-then-vm".into(),
        first: "db".into(),
        then: "vm".into(),
        ..Default::default()
    });
    cib
}

/// The action of `rsc` for which `pred` holds, if it is in the transition.
fn action(t: &Transition, rsc: &str, pred: impl Fn(&ActionKind) -> bool) -> Option<usize> {
    t.actions
        .iter()
        .find(|a| a.resource.as_deref() == Some(rsc) && pred(&a.kind))
        .map(|a| a.id)
}

fn migrate_to(k: &ActionKind) -> bool {
    matches!(k, ActionKind::MigrateTo { .. })
}

fn migrate_from(k: &ActionKind) -> bool {
    matches!(k, ActionKind::MigrateFrom { .. })
}

#[test]
fn the_summary_says_which_ordered_resources_migrate() {
    // (moved to n2, allow-migrate, expected summary)
    let cases: [(&[&str], &[&str], &[&str]); 5] = [
        // The neighbour ordered before it stays: vm migrates, db is untouched
        // (a migration does not restart what it is ordered against).
        (&["vm"], &["vm"], &["Migrate vm ( n1 -> n2 )"]),
        // The neighbour ordered before it restarts: vm stops before db stops and
        // starts after db starts, so it cannot migrate.
        (
            &["db", "vm"],
            &["vm"],
            &["Move db ( n1 -> n2 )", "Move vm ( n1 -> n2 )"],
        ),
        // The first side migrates and the then side is not migratable.
        (
            &["db", "vm"],
            &["db"],
            &["Migrate db ( n1 -> n2 )", "Move vm ( n1 -> n2 )"],
        ),
        // Both migrate.
        (
            &["db", "vm"],
            &["db", "vm"],
            &["Migrate db ( n1 -> n2 )", "Migrate vm ( n1 -> n2 )"],
        ),
        // A migrating first side does not restart the resource ordered after it.
        (&["db"], &["db"], &["Migrate db ( n1 -> n2 )"]),
    ];
    for (to_n2, migratable, want) in cases {
        let mut got = summary(&ordered(to_n2, migratable));
        got.sort();
        assert_eq!(got, want, "moved {to_n2:?}, migratable {migratable:?}");
    }
}

#[test]
fn orderings_are_copied_onto_the_migration_steps() {
    let t = schedule(&ordered(&["db", "vm"], &["db", "vm"]), 1_000_000).unwrap();
    let step = |rsc, pred: fn(&ActionKind) -> bool| {
        action(&t, rsc, pred).unwrap_or_else(|| panic!("{rsc}: {:#?}", t.actions))
    };
    // Start db then start vm: db's migrate_from before vm's migrate_to.
    let db_from = step("db", migrate_from);
    let vm_to = step("vm", migrate_to);
    assert!(super::promotable_tests::reaches(&t, db_from, vm_to));
    // Stop vm then stop db (the inverse): vm's migration ends before db's stop.
    let vm_from = step("vm", migrate_from);
    let db_stop = step("db", |k| *k == ActionKind::Stop);
    assert!(super::promotable_tests::reaches(&t, vm_from, db_stop));
}

#[test]
fn a_starting_neighbour_comes_before_migrate_to() {
    // db is stopped and starts on n1; vm, ordered after it, migrates to n2 only
    // once db runs.
    let mut cib = ordered(&["vm"], &["vm"]);
    if let Some(n1) = cib.status.nodes.get_mut("n1") {
        n1.resources.remove("db");
    }
    let t = schedule(&cib, 1_000_000).unwrap();
    let start = action(&t, "db", |k| *k == ActionKind::Start).expect("db starts");
    let to = action(&t, "vm", migrate_to).expect("vm migrates");
    assert!(super::promotable_tests::reaches(&t, start, to), "{t:#?}");
}

/// Group `g` of `a` then `b`, running on n1 and moved to n2; the members in
/// `migratable` have allow-migrate=true.
fn group_moving(migratable: &[&str]) -> Cib {
    let mut cib = base(&["n1", "n2"]);
    let mut members = Vec::new();
    for (id, call) in [("a", 10), ("b", 11)] {
        let mut p = dummy(id);
        if migratable.contains(&id) {
            p.meta.insert("allow-migrate".into(), "true".into());
        }
        members.push(p);
        if let Some(n1) = cib.status.nodes.get_mut("n1") {
            n1.resources.insert(id.into(), running(call));
        }
    }
    cib.config
        .resources
        .push(Resource::Group(hactl_model::Group {
            id: "g".into(),
            children: members,
            ..Default::default()
        }));
    cib.config.constraints.location.push(LocationConstraint {
        id: "g-on-n2".into(),
        rsc: "g".into(),
        node: Some("n2".into()),
        score: Some(Score::INFINITY),
        ..Default::default()
    });
    cib
}

#[test]
fn group_members_migrate_along_the_group_chain() {
    // (migratable, expected summary)
    let cases: [(&[&str], &[&str]); 3] = [
        (
            &["a", "b"],
            &["Migrate a ( n1 -> n2 )", "Migrate b ( n1 -> n2 )"],
        ),
        // b stops before a really stops: it cannot migrate.
        (&["b"], &["Move a ( n1 -> n2 )", "Move b ( n1 -> n2 )"]),
        // a migrates; b, after it in the chain, moves.
        (&["a"], &["Migrate a ( n1 -> n2 )", "Move b ( n1 -> n2 )"]),
    ];
    for (migratable, want) in cases {
        let mut got = summary(&group_moving(migratable));
        got.sort();
        assert_eq!(got, want, "migratable {migratable:?}");
    }
    // Both migrate: a's migrate_from comes before b's migrate_to.
    let t = schedule(&group_moving(&["a", "b"]), 1_000_000).unwrap();
    let a_from = action(&t, "a", migrate_from).expect("a migrates");
    let b_to = action(&t, "b", migrate_to).expect("b migrates");
    assert!(super::promotable_tests::reaches(&t, a_from, b_to));
}

/// The members inherit the group's `allow-migrate` (Pacemaker copies a
/// group's meta attributes to its members), whatever their agent class; a
/// member's own `allow-migrate=false` wins.
#[test]
fn group_members_inherit_the_groups_allow_migrate() {
    let with_group_meta = |b_own: Option<&str>| {
        let mut cib = group_moving(&[]);
        if let Some(Resource::Group(g)) = cib.config.resources.first_mut() {
            g.meta.insert("allow-migrate".into(), "true".into());
            g.children[1].agent = hactl_model::AgentSpec::parse("lsb:mysql").unwrap();
            if let Some(v) = b_own {
                g.children[1].meta.insert("allow-migrate".into(), v.into());
            }
        }
        let mut got = summary(&cib);
        got.sort();
        got
    };
    assert_eq!(
        with_group_meta(None),
        ["Migrate a ( n1 -> n2 )", "Migrate b ( n1 -> n2 )"]
    );
    assert_eq!(
        with_group_meta(Some("false")),
        ["Migrate a ( n1 -> n2 )", "Move b ( n1 -> n2 )"]
    );
}
