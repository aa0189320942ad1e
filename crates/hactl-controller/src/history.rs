//! Why the DC computes a transition, for the transition history
//! (`hactl cluster history`): the events and CIB changes seen since the last policy
//! engine run, described in a line each (`node n2 standby on`, `resource web
//! added`, `node n3 lost`). The DC collects them while it waits to schedule; a run
//! that starts a transition hands them to its record, an idle run drops them.

use std::collections::BTreeMap;

use hactl_model::transitions::MAX_LINES;
use hactl_model::{Attrs, Cib, Configuration, NodeStatus};

/// The reasons gathered since the last policy engine run (distinct, in order, at
/// most [`MAX_LINES`]).
#[derive(Debug, Default, Clone)]
pub(crate) struct Triggers(Vec<String>);

impl Triggers {
    pub(crate) fn add(&mut self, why: impl Into<String>) {
        let why = why.into();
        if self.0.len() < MAX_LINES && !self.0.contains(&why) {
            self.0.push(why);
        }
    }

    pub(crate) fn extend(&mut self, more: impl IntoIterator<Item = String>) {
        for w in more {
            self.add(w);
        }
    }

    pub(crate) fn take(&mut self) -> Triggers {
        std::mem::take(self)
    }

    /// The lines for a record; a transition is always computed for a reason, but a
    /// change this module does not describe is still named.
    pub(crate) fn lines(self) -> Vec<String> {
        if self.0.is_empty() {
            vec!["cluster status changed".into()]
        } else {
            self.0
        }
    }
}

/// What changed from `old` to `new` that a scheduler run would react to.
pub(crate) fn describe(old: &Cib, new: &Cib) -> Vec<String> {
    let mut out = Vec::new();
    if old.epoch != new.epoch {
        configuration(&old.config, &new.config, &mut out);
        if out.is_empty() {
            out.push(format!("configuration changed (epoch {})", new.epoch));
        }
    }
    // A node removed from the status was removed from the cluster: said above.
    let empty = NodeStatus::default();
    for (name, n) in &new.status.nodes {
        let o = old.status.nodes.get(name).unwrap_or(&empty);
        node_status(name, o, n, &mut out);
    }
    out
}

fn configuration(old: &Configuration, new: &Configuration, out: &mut Vec<String>) {
    attrs("property", &old.properties, &new.properties, out);
    attrs(
        "resource default",
        &old.rsc_defaults,
        &new.rsc_defaults,
        out,
    );
    attrs("operation default", &old.op_defaults, &new.op_defaults, out);
    for n in &new.nodes {
        let Some(o) = old.nodes.iter().find(|o| o.name == n.name) else {
            out.push(format!("node {} added", n.name));
            continue;
        };
        if o.standby != n.standby {
            out.push(format!("node {} standby {}", n.name, on_off(n.standby)));
        }
        if o.maintenance != n.maintenance {
            out.push(format!(
                "node {} maintenance {}",
                n.name,
                on_off(n.maintenance)
            ));
        }
        attrs(
            &format!("node {} attribute", n.name),
            &o.attributes,
            &n.attributes,
            out,
        );
    }
    for o in &old.nodes {
        if !new.nodes.iter().any(|n| n.name == o.name) {
            out.push(format!("node {} removed", o.name));
        }
    }
    same_ids(
        "resource",
        &keyed(&old.resources, |r| r.id()),
        &keyed(&new.resources, |r| r.id()),
        out,
    );
    let (o, n) = (&old.constraints, &new.constraints);
    same_ids(
        "constraint",
        &keyed(&o.location, |x| &x.id),
        &keyed(&n.location, |x| &x.id),
        out,
    );
    same_ids(
        "constraint",
        &keyed(&o.colocation, |x| &x.id),
        &keyed(&n.colocation, |x| &x.id),
        out,
    );
    same_ids(
        "constraint",
        &keyed(&o.order, |x| &x.id),
        &keyed(&n.order, |x| &x.id),
        out,
    );
    same_ids(
        "constraint",
        &keyed(&o.tickets, |x| &x.id),
        &keyed(&n.tickets, |x| &x.id),
        out,
    );
}

fn keyed<T>(items: &[T], id: fn(&T) -> &str) -> BTreeMap<&str, &T> {
    items.iter().map(|x| (id(x), x)).collect()
}

/// Items by id: added, removed, changed.
fn same_ids<T: PartialEq>(
    what: &str,
    old: &BTreeMap<&str, &T>,
    new: &BTreeMap<&str, &T>,
    out: &mut Vec<String>,
) {
    for (id, v) in new {
        match old.get(id) {
            None => out.push(format!("{what} {id} added")),
            Some(o) if o != v => out.push(format!("{what} {id} changed")),
            Some(_) => {}
        }
    }
    for id in old.keys().filter(|id| !new.contains_key(*id)) {
        out.push(format!("{what} {id} removed"));
    }
}

fn attrs(what: &str, old: &Attrs, new: &Attrs, out: &mut Vec<String>) {
    for (k, v) in new {
        if old.get(k) != Some(v) {
            out.push(format!("{what} {k}={v}"));
        }
    }
    for k in old.keys().filter(|k| !new.contains_key(*k)) {
        out.push(format!("{what} {k} removed"));
    }
}

fn node_status(name: &str, o: &NodeStatus, n: &NodeStatus, out: &mut Vec<String>) {
    if o.shutdown.is_none() && n.shutdown.is_some() {
        out.push(format!("node {name} shutting down"));
    }
    if o.fenced_at != n.fenced_at && n.fenced_at.is_some() {
        out.push(format!("node {name} fenced"));
    }
    for f in &o.failcounts {
        let kept = n
            .failcounts
            .iter()
            .any(|x| x.rsc == f.rsc && x.op == f.op && x.interval_ms == f.interval_ms);
        if !kept {
            out.push(format!("fail count of {} on {name} cleared", f.rsc));
        }
    }
    for rsc in o.resources.keys().filter(|r| !n.resources.contains_key(*r)) {
        out.push(format!("history of {rsc} on {name} cleaned up"));
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hactl_model::change::Change;

    fn cib() -> Cib {
        let mut c = Cib::default();
        for n in ["n1", "n2"] {
            Change::AddNode {
                node: hactl_model::Node {
                    id: n.into(),
                    name: n.into(),
                    ..Default::default()
                },
            }
            .apply(&mut c)
            .unwrap();
        }
        c
    }

    #[test]
    fn a_standby_and_a_cleanup_are_named() {
        let old = cib();
        let mut new = old.clone();
        Change::SetStandby {
            node: "n2".into(),
            standby: true,
        }
        .apply(&mut new)
        .unwrap();
        assert_eq!(describe(&old, &new), ["node n2 standby on"]);
        new.status.nodes.entry("n1".into()).or_default();
        let mut with_history = new.clone();
        with_history
            .status
            .nodes
            .entry("n1".into())
            .or_default()
            .resources
            .insert("web".into(), Default::default());
        assert_eq!(
            describe(&with_history, &new),
            ["history of web on n1 cleaned up"]
        );
    }

    #[test]
    fn triggers_are_distinct_bounded_and_never_empty() {
        let mut t = Triggers::default();
        assert_eq!(t.clone().lines(), ["cluster status changed"]);
        for i in 0..(MAX_LINES + 3) {
            t.add(format!("node n{i} lost"));
            t.add(format!("node n{i} lost"));
        }
        let lines = t.take().lines();
        assert_eq!(lines.len(), MAX_LINES);
        assert_eq!(lines[1], "node n1 lost");
    }
}
