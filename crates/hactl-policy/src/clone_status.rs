//! A clone set in the status views, as crm_mon 2.1.5 shows it (Pacemaker's
//! `pe__clone_default`, which crm_simulate's status blocks share): an instance
//! that runs normally on one node is folded into `Promoted: [ … ]` /
//! `Started: [ … ]`; any other active instance (failed, unmanaged, orphaned,
//! partly active, on an unclean node, active on several nodes) is shown in full,
//! a cloned group's as `Resource Group: grp:N` with its members; a globally-unique
//! clone shows every instance; an anonymous one ends with the nodes that run no
//! instance, `Stopped: [ … ]` (`Stopped (disabled)` for a disabled set).

use std::fmt::Write;

use hactl_model::{Cib, CloneSet};

use crate::output::{fenced_node, flag_suffix, natural_cmp, rsc_line_named};
use crate::{Placement, StatusView, Transition};

/// One instance: a primitive, or a cloned group's members (`grp:N`).
struct Instance<'a> {
    group: Option<&'a str>,
    members: Vec<&'a Placement>,
}

/// How an instance is listed.
enum Shown<'a> {
    Full,
    Promoted(&'a str),
    Started(&'a str),
    Hidden,
}

/// The set's instances in the scheduler's order (orphans last), each cloned
/// group's members together.
fn instances<'a>(c: &CloneSet, t: &'a Transition) -> Vec<Instance<'a>> {
    let mut out: Vec<Instance<'a>> = Vec::new();
    for p in t
        .placements
        .iter()
        .filter(|p| p.clone.as_deref() == Some(c.id.as_str()))
    {
        let group = p.group.as_deref();
        match out.iter_mut().find(|i| group.is_some() && i.group == group) {
            Some(i) => i.members.push(p),
            None => out.push(Instance {
                group,
                members: vec![p],
            }),
        }
    }
    out
}

fn meta_is(c: &CloneSet, key: &str, want: &[&str]) -> bool {
    c.meta
        .get(key)
        .is_some_and(|v| want.iter().any(|w| v.eq_ignore_ascii_case(w)))
}

/// crm_mon's `pe__resource_is_disabled` for the set: target-role Stopped, or
/// Unpromoted for a promotable one.
fn disabled(c: &CloneSet) -> bool {
    meta_is(c, "target-role", &["stopped"])
        || (c.promotable() && meta_is(c, "target-role", &["unpromoted", "slave"]))
}

/// How crm_mon lists one instance (`pe__clone_default`'s per-child decision).
fn shown<'a>(c: &CloneSet, i: &Instance<'a>, t: &Transition, view: StatusView) -> Shown<'a> {
    let active = |p: &&Placement| !p.nodes_in(view).is_empty();
    let any_active = i.members.iter().any(active);
    let orphan = i.members.iter().any(|p| p.orphan);
    if c.globally_unique() {
        // Every instance, except an orphan that no longer runs anywhere.
        return if any_active || !orphan {
            Shown::Full
        } else {
            Shown::Hidden
        };
    }
    // An instance with an operation in flight is shown in full, active or not.
    let pending = view == StatusView::Current && i.members.iter().any(|p| p.pending_task.is_some());
    if pending {
        return Shown::Full;
    }
    if !any_active {
        return Shown::Hidden;
    }
    let odd = |p: &&Placement| p.unmanaged || p.maintenance || p.blocked || p.failed_in(view);
    if orphan || i.members.iter().any(odd) || !i.members.iter().all(active) {
        return Shown::Full;
    }
    // Fully active: folded when every member runs on the same single node.
    let mut on: Vec<&str> = i
        .members
        .iter()
        .flat_map(|p| p.nodes_in(view))
        .map(String::as_str)
        .collect();
    on.dedup();
    let [node] = on[..] else {
        return Shown::Full;
    };
    let unclean = t
        .nodes
        .iter()
        .any(|n| n.name == node && n.unclean && !n.online)
        && !(view == StatusView::Revised && fenced_node(t, node));
    let promoted = i.members.iter().any(|p| p.promoted_in(view));
    match (unclean, promoted) {
        (true, _) => Shown::Full,
        (false, true) => Shown::Promoted(node),
        (false, false) => Shown::Started(node),
    }
}

/// An instance in full: the primitive's line, or the group instance's header and
/// every member (stopped ones too), named as crm_mon names them.
fn full(out: &mut String, c: &CloneSet, i: &Instance<'_>, t: &Transition, view: StatusView) {
    let Some(group) = i.group else {
        for p in &i.members {
            let name = c.shown_instance(&p.resource);
            let _ = writeln!(out, "      * {}", rsc_line_named(name, p, t, view));
        }
        return;
    };
    let mut flags: Vec<&str> = Vec::new();
    if i.members.iter().all(|p| p.unmanaged || p.maintenance) {
        flags.push("unmanaged");
    }
    if disabled(c) {
        flags.push("disabled");
    }
    let flags = flag_suffix(&flags);
    let _ = writeln!(out, "      * Resource Group: {group}{flags}:");
    for p in &i.members {
        let name = c.shown_instance(&p.resource);
        let _ = writeln!(out, "        * {}", rsc_line_named(name, p, t, view));
    }
}

/// crm_mon's clone block for set `c` (see the module comment).
pub(crate) fn clone_block(
    out: &mut String,
    cib: &Cib,
    c: &CloneSet,
    t: &Transition,
    view: StatusView,
) {
    header(out, cib, c);
    let all = instances(c, t);
    let mut promoted: Vec<&str> = Vec::new();
    let mut started: Vec<&str> = Vec::new();
    for i in &all {
        match shown(c, i, t, view) {
            Shown::Full => full(out, c, i, t, view),
            Shown::Promoted(n) => promoted.push(n),
            Shown::Started(n) => started.push(n),
            Shown::Hidden => {}
        }
    }
    promoted.sort_by(|a, b| natural_cmp(a, b));
    started.sort_by(|a, b| natural_cmp(a, b));
    if !promoted.is_empty() {
        let _ = writeln!(out, "      * Promoted: [ {} ]", promoted.join(" "));
    }
    if !started.is_empty() {
        let word = match (c.promotable(), disabled(c)) {
            (true, true) if !meta_is(c, "target-role", &["stopped"]) => "Unpromoted (target-role)",
            (true, _) => "Unpromoted",
            (false, _) => "Started",
        };
        let _ = writeln!(out, "      * {word}: [ {} ]", started.join(" "));
    }
    // crm_mon lists the idle nodes only while fewer instances than clone-max
    // are folded into the lists above.
    let folded = promoted.len() + started.len();
    if !c.globally_unique() && folded < c.max_instances(t.nodes.len()) as usize {
        stopped(out, cib, c, &all, t, view);
    }
}

fn header(out: &mut String, cib: &Cib, c: &CloneSet) {
    let mut flags: Vec<&str> = Vec::new();
    if c.promotable() {
        flags.push("promotable");
    }
    if c.globally_unique() {
        flags.push("unique");
    }
    if disabled(c) {
        flags.push("disabled");
    }
    let meta_bool = |k: &str| {
        c.meta
            .get(k)
            .and_then(|v| hactl_model::values::parse_bool(v))
    };
    let cluster_maintenance = cib
        .config
        .properties
        .get("maintenance-mode")
        .and_then(|v| hactl_model::values::parse_bool(v))
        == Some(true);
    if meta_bool("maintenance") == Some(true) {
        flags.push("maintenance");
    } else if meta_bool("is-managed") == Some(false) || cluster_maintenance {
        flags.push("unmanaged");
    }
    let flags = flag_suffix(&flags);
    let _ = writeln!(out, "    * Clone Set: {} [{}]{flags}:", c.id, c.child.id());
}

/// `Stopped: [ … ]`: the nodes the set may run on (every node in a symmetric
/// cluster, else those with history of it, as crm_mon's unpacking knows them)
/// that run no instance.
fn stopped(
    out: &mut String,
    cib: &Cib,
    c: &CloneSet,
    all: &[Instance<'_>],
    t: &Transition,
    view: StatusView,
) {
    let running: Vec<&str> = all
        .iter()
        .flat_map(|i| i.members.iter().flat_map(|p| p.nodes_in(view)))
        .map(String::as_str)
        .collect();
    let symmetric = cib
        .config
        .options()
        .map(|o| o.symmetric_cluster)
        .unwrap_or(true);
    let mut idle: Vec<&str> = t
        .nodes
        .iter()
        .map(|n| n.name.as_str())
        .filter(|n| !running.contains(n))
        .filter(|n| symmetric || has_history(cib, all, n))
        .filter(|n| !undeclared_bundle_node(cib, n))
        .collect();
    idle.sort_by(|a, b| natural_cmp(a, b));
    if idle.is_empty() {
        return;
    }
    let word = if disabled(c) && meta_is(c, "target-role", &["stopped"]) {
        "Stopped (disabled)"
    } else {
        "Stopped"
    };
    let _ = writeln!(out, "      * {word}: [ {} ]", idle.join(" "));
}

/// Whether `node`'s history knows an instance of the set (by its id or the
/// name the history keeps it under).
fn has_history(cib: &Cib, all: &[Instance<'_>], node: &str) -> bool {
    let Some(st) = cib.status.nodes.get(node) else {
        return false;
    };
    all.iter().flat_map(|i| &i.members).any(|p| {
        let base = p
            .resource
            .rsplit_once(':')
            .map_or(p.resource.as_str(), |b| b.0);
        st.resources.contains_key(&p.resource)
            || st.resources.contains_key(base)
            || p.history_name
                .as_ref()
                .is_some_and(|h| st.resources.contains_key(h))
    })
}

/// A bundle replica's guest node that the configuration's node list does not
/// declare: crm_mon's unpacking creates those only with the bundle, so a clone
/// set never lists them as Stopped.
fn undeclared_bundle_node(cib: &Cib, node: &str) -> bool {
    let declared = cib.config.nodes.iter().any(|n| n.name == node);
    !declared
        && cib
            .config
            .bundles
            .iter()
            .any(|b| (0..b.replica_count()).any(|i| b.replica_node(i) == node))
}
