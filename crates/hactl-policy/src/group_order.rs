//! `ordered=false` on a group: its members still run together (and stop before
//! the group is stopped), but start and stop independently of each other, each
//! framed only by the group's pseudo actions (Pacemaker's
//! `member_internal_constraints` for unordered groups).

use hactl_model::values::parse_bool;
use hactl_model::Resource;

use crate::sched::{Meta, Sched};

impl Sched<'_> {
    /// Whether group `gi`'s members start one after the other (the default). A
    /// cloned group inherits its clone's `ordered`, as Pacemaker's meta attributes
    /// pass from parent to child.
    pub(crate) fn group_is_ordered(&self, gi: usize) -> bool {
        let def = self.groups[gi].def;
        let clone_meta = self.cib.config.resources.iter().find_map(|r| match r {
            Resource::Clone(c) if matches!(&*c.child, Resource::Group(g) if g.id == def.id) => {
                Some(&c.meta)
            }
            _ => None,
        });
        let empty = hactl_model::Attrs::new();
        let layers = [
            &def.meta,
            clone_meta.unwrap_or(&empty),
            &self.cib.config.rsc_defaults,
        ];
        Meta(&layers)
            .get("ordered")
            .and_then(|v| parse_bool(v))
            .unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use hactl_model::{Cib, Group, Resource};

    use crate::tests::{base, dummy, running};
    use crate::{schedule, ActionKind, Transition};

    /// Group `g` of a, b, c; running on n1 when `running_on_n1`, else stopped;
    /// `ordered` as given (unset: the default).
    fn group(ordered: Option<&str>, running_on_n1: bool) -> Cib {
        let mut cib = base(&["n1", "n2"]);
        let meta = ordered
            .map(|v| [("ordered".to_string(), v.to_string())].into())
            .unwrap_or_default();
        let children = ["a", "b", "c"].map(dummy).to_vec();
        cib.config.resources.push(Resource::Group(Group {
            id: "g".into(),
            meta,
            children,
        }));
        if running_on_n1 {
            let st = cib.status.nodes.get_mut("n1").unwrap();
            for (i, m) in ["a", "b", "c"].iter().enumerate() {
                st.resources.insert(m.to_string(), running(i as i64 + 1));
            }
            // Move it: n1 goes to standby.
            cib.config.nodes[0].standby = true;
        }
        cib
    }

    fn reaches(t: &Transition, from: usize, to: usize) -> bool {
        let mut stack = vec![from];
        let mut seen = vec![false; t.actions.len()];
        while let Some(a) = stack.pop() {
            if a == to {
                return true;
            }
            for e in t.edges.iter().filter(|e| e.before == a) {
                if !std::mem::replace(&mut seen[e.after], true) {
                    stack.push(e.after);
                }
            }
        }
        false
    }

    /// Whether `kind` of `second` waits for `kind` of `first`.
    fn waits(cib: &Cib, kind: ActionKind, first: &str, second: &str) -> bool {
        let t = schedule(cib, 1_000_000).unwrap();
        let find = |r: &str| {
            t.actions
                .iter()
                .position(|a| a.kind == kind && a.resource.as_deref() == Some(r))
                .unwrap_or_else(|| panic!("{kind:?} of {r} in {:?}", t.actions))
        };
        reaches(&t, find(first), find(second))
    }

    #[test]
    fn members_of_an_unordered_group_start_and_stop_independently() {
        for ordered in [None, Some("true")] {
            let cib = group(ordered, false);
            assert!(waits(&cib, ActionKind::Start, "a", "c"));
            let moving = group(ordered, true);
            assert!(waits(&moving, ActionKind::Stop, "c", "a"));
        }
        let cib = group(Some("false"), false);
        assert!(!waits(&cib, ActionKind::Start, "a", "c"));
        assert!(!waits(&cib, ActionKind::Start, "a", "b"));
        let moving = group(Some("false"), true);
        assert!(!waits(&moving, ActionKind::Stop, "c", "a"));
        // Still one group: every member starts on the same node, after all stops.
        let t = schedule(&moving, 1_000_000).unwrap();
        let starts: Vec<_> = t
            .actions
            .iter()
            .filter(|a| a.kind == ActionKind::Start)
            .map(|a| a.node.as_deref().unwrap_or_default().to_string())
            .collect();
        assert_eq!(starts, ["n2", "n2", "n2"]);
        let stop_c = t
            .actions
            .iter()
            .position(|a| a.kind == ActionKind::Stop && a.resource.as_deref() == Some("c"));
        let start_a = t
            .actions
            .iter()
            .position(|a| a.kind == ActionKind::Start && a.resource.as_deref() == Some("a"));
        assert!(
            reaches(&t, stop_c.unwrap(), start_a.unwrap()),
            "a group restarts whole"
        );
    }
}
