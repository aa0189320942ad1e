//! Utilization and `placement-strategy` (default, utilization, minimal, balanced),
//! as Pacemaker's scheduler applies them: under any strategy but `default`, a
//! resource (with the unassigned resources mandatorily colocated with it) may only
//! go where the remaining capacity covers its utilization, and each assignment
//! uses capacity up; `balanced` also prefers, among equal scores, the node with
//! more remaining capacity. Capacity counts only what this transition assigns:
//! the node's configured utilization is its full capacity at the start.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use hactl_model::{Attrs, Score};

use crate::sched::{RscRef, Sched};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Strategy {
    Utilization,
    Minimal,
    Balanced,
}

/// Remaining capacity per node, by utilization attribute.
#[derive(Debug)]
pub(crate) struct Capacity {
    pub strategy: Strategy,
    remaining: Vec<BTreeMap<String, i64>>,
}

/// Pacemaker reads a utilization value as an integer, and anything else as 0.
fn value(v: &str) -> i64 {
    v.trim().parse().unwrap_or(0)
}

fn enough(remaining: &BTreeMap<String, i64>, need: &BTreeMap<String, i64>) -> bool {
    need.iter()
        .all(|(k, v)| *v <= remaining.get(k).copied().unwrap_or(0))
}

fn add(sum: &mut BTreeMap<String, i64>, attrs: &Attrs) {
    for (k, v) in attrs {
        *sum.entry(k.clone()).or_insert(0) += value(v);
    }
}

impl Capacity {
    /// `None` under the default strategy (utilization ignored).
    pub(crate) fn new(s: &Sched<'_>) -> Option<Capacity> {
        let strategy = match s.cib.config.properties.get("placement-strategy") {
            Some(v) if v.trim().eq_ignore_ascii_case("utilization") => Strategy::Utilization,
            Some(v) if v.trim().eq_ignore_ascii_case("minimal") => Strategy::Minimal,
            Some(v) if v.trim().eq_ignore_ascii_case("balanced") => Strategy::Balanced,
            _ => return None,
        };
        let remaining = s
            .nodes
            .iter()
            .map(|n| {
                let mut m = BTreeMap::new();
                if let Some(node) = s.cib.config.node(n.name) {
                    add(&mut m, &node.utilization);
                }
                m
            })
            .collect();
        Some(Capacity {
            strategy,
            remaining,
        })
    }

    /// Negative when `a` has more remaining capacity than `b` (counted per
    /// attribute), as Pacemaker's node comparison for `balanced`.
    fn compare(&self, a: usize, b: usize) -> i32 {
        let (ra, rb) = (&self.remaining[a], &self.remaining[b]);
        let mut result = 0;
        for k in ra.keys().chain(rb.keys().filter(|k| !ra.contains_key(*k))) {
            let (va, vb) = (
                ra.get(k).copied().unwrap_or(0),
                rb.get(k).copied().unwrap_or(0),
            );
            result += match va.cmp(&vb) {
                Ordering::Greater => -1,
                Ordering::Less => 1,
                Ordering::Equal => 0,
            };
        }
        result
    }
}

impl Sched<'_> {
    /// The order of two equally scored nodes before the usual tie-breakers
    /// (`Less`: `a` first): by remaining capacity under `balanced`; by name alone
    /// under `minimal`, which packs resources instead of spreading them.
    pub(crate) fn capacity_order(&self, a: usize, b: usize) -> Ordering {
        match self.capacity.as_ref().map(|c| c.strategy) {
            Some(Strategy::Balanced) => self
                .capacity
                .as_ref()
                .map_or(Ordering::Equal, |c| c.compare(a, b).cmp(&0)),
            Some(Strategy::Minimal) => self.name_order(a, b),
            _ => Ordering::Equal,
        }
    }

    /// Under a placement strategy, Pacemaker assigns resources in a different
    /// order: by priority, then by the score on their current node, then by the
    /// score on each node in node order (nodes sorted as for an assignment, with
    /// no resource placed yet). A group is judged by its first member's scores.
    pub(crate) fn sort_for_capacity(&mut self) {
        if self.capacity.is_none() {
            return;
        }
        // Nodes as Pacemaker's compare_nodes sorts them: those that can run
        // resources first (a standby node's scores come last).
        let mut nodes: Vec<usize> = (0..self.nodes.len()).collect();
        nodes.sort_by(|&a, &b| {
            self.avail[b]
                .cmp(&self.avail[a])
                .then_with(|| self.capacity_order(a, b))
                .then(
                    self.nodes[a]
                        .num_resources
                        .cmp(&self.nodes[b].num_resources),
                )
                .then(self.name_order(a, b))
        });
        let score = |r: RscRef, n: Option<usize>| -> Score {
            match n {
                Some(n) => self.own_sort_score(r, n) + self.colocated_sort_score(r, n),
                None => Score::NEG_INFINITY,
            }
        };
        let current = |r: RscRef| -> Option<usize> {
            let first = self.members_of(r).first().copied()?;
            self.prims[first].active.first().copied()
        };
        let mut top = self.top.clone();
        top.sort_by(|&a, &b| {
            let by_nodes = || {
                nodes
                    .iter()
                    .map(|&n| score(b, Some(n)).cmp(&score(a, Some(n))))
                    .find(|o| *o != Ordering::Equal)
                    .unwrap_or(Ordering::Equal)
            };
            self.rsc_priority(b)
                .cmp(&self.rsc_priority(a))
                .then_with(|| score(b, current(b)).cmp(&score(a, current(a))))
                .then_with(by_nodes)
        });
        self.top = top;
    }

    /// A resource's own score on node `n` for the assignment order (a group's
    /// and a clone's: their first primitive's).
    fn own_sort_score(&self, r: RscRef, n: usize) -> Score {
        let first = self.members_of(r).first().copied();
        first.map_or(Score::NEG_INFINITY, |p| {
            self.prims[p].allowed[n].unwrap_or(Score::NEG_INFINITY)
        })
    }

    /// What `r`'s mandatory colocations add to its score on node `n` for the
    /// assignment order: -INFINITY where the node cannot run resources (a
    /// standby node), as in Pacemaker's add_colocated_node_scores, which takes a
    /// primary's best score among the nodes available to it. (The primaries'
    /// own scores that Pacemaker adds too are left out: hactl's scores for a
    /// clone primary differ from Pacemaker's, e.g. load-stopped-loop-2.)
    fn colocated_sort_score(&self, r: RscRef, n: usize) -> Score {
        let this_with = match r {
            RscRef::P(p) => &self.prims[p].this_with,
            RscRef::G(gi) => &self.groups[gi].this_with,
            RscRef::C(ci) => &self.clones[ci].this_with,
        };
        let mandatory = this_with
            .iter()
            .any(|&c| self.colocs[c].score >= Score::INFINITY);
        if mandatory && !self.is_avail(n) {
            Score::NEG_INFINITY
        } else {
            Score::ZERO
        }
    }

    /// Uses up `p`'s utilization on node `n`.
    pub(crate) fn consume_capacity(&mut self, p: usize, n: usize) {
        let Some(def) = self.prims[p].def else {
            return;
        };
        if let Some(c) = &mut self.capacity {
            for (k, v) in &def.utilization {
                *c.remaining[n].entry(k.clone()).or_insert(0) -= value(v);
            }
        }
    }

    /// Undoes [`Sched::do_assign`]'s accounting of `p` on node `n` (an
    /// assignment taken back): one resource fewer there, and its utilization
    /// free again (Pacemaker's pcmk__release_node_capacity).
    pub(crate) fn release_node(&mut self, p: usize, n: usize) {
        self.nodes[n].num_resources = self.nodes[n].num_resources.saturating_sub(1);
        let Some(def) = self.prims[p].def else {
            return;
        };
        if let Some(c) = &mut self.capacity {
            for (k, v) in &def.utilization {
                *c.remaining[n].entry(k.clone()).or_insert(0) += value(v);
            }
        }
    }

    /// `p` and the unassigned resources mandatorily colocated with it, directly
    /// or through others.
    fn colocated_unassigned(&self, p: usize) -> Vec<usize> {
        let mut seen = vec![p];
        let mut i = 0;
        while let Some(&q) = seen.get(i) {
            i += 1;
            for c in self
                .this_with_list(q)
                .into_iter()
                .chain(self.with_this_list(q))
            {
                let coloc = &self.colocs[c];
                if coloc.score != Score::INFINITY {
                    continue;
                }
                for r in [coloc.dependent, coloc.primary] {
                    for m in self.members_of(r) {
                        if !seen.contains(&m) {
                            seen.push(m);
                        }
                    }
                }
            }
        }
        seen.retain(|&q| q == p || self.prims[q].unassigned);
        seen
    }

    /// Bans `p` from the nodes whose remaining capacity cannot hold it and the
    /// resources colocated with it (or, when no node can hold them all, it alone).
    pub(crate) fn ban_insufficient_capacity(&mut self, p: usize) {
        let Some(cap) = &self.capacity else {
            return;
        };
        let own = {
            let mut m = BTreeMap::new();
            if let Some(d) = self.prims[p].def {
                add(&mut m, &d.utilization);
            }
            m
        };
        let mut all = BTreeMap::new();
        for q in self.colocated_unassigned(p) {
            if let Some(d) = self.prims[q].def {
                add(&mut all, &d.utilization);
            }
        }
        let candidates: Vec<usize> = (0..self.nodes.len())
            .filter(|&n| {
                self.is_avail(n) && self.prims[p].allowed[n].is_some_and(|s| s >= Score::ZERO)
            })
            .collect();
        let any = candidates.iter().any(|&n| enough(&cap.remaining[n], &all));
        let need = if any { &all } else { &own };
        let short: Vec<usize> = candidates
            .into_iter()
            .filter(|&n| !enough(&cap.remaining[n], need))
            .collect();
        for n in short {
            self.location(
                p,
                Some(n),
                Score::NEG_INFINITY,
                "__limit_utilization__".into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use hactl_model::{Cib, Resource};

    use crate::tests::{base, dummy, summary};

    /// node1 with cpu=`c1`, node2 with cpu=`c2`; rsc1..rscN needing cpu=1 each.
    fn cib(strategy: &str, c1: &str, c2: &str, n: usize) -> Cib {
        let mut cib = base(&["node1", "node2"]);
        cib.config
            .properties
            .insert("placement-strategy".into(), strategy.into());
        for (node, cpu) in cib.config.nodes.iter_mut().zip([c1, c2]) {
            node.utilization.insert("cpu".into(), cpu.into());
        }
        for i in 1..=n {
            let mut p = dummy(&format!("rsc{i}"));
            p.utilization.insert("cpu".into(), "1".into());
            cib.config.resources.push(Resource::Primitive(p));
        }
        cib
    }

    fn sorted(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v
    }

    #[test]
    fn resources_start_only_where_capacity_remains() {
        let got = sorted(summary(&cib("utilization", "1", "1", 3)));
        assert_eq!(
            got,
            vec![
                "Start rsc1 ( node1 )".to_string(),
                "Start rsc2 ( node2 )".to_string(),
            ],
            "the third does not fit anywhere"
        );
        // The default strategy ignores utilization.
        assert_eq!(summary(&cib("default", "1", "1", 3)).len(), 3);
    }

    #[test]
    fn balanced_prefers_free_capacity_and_minimal_packs() {
        let balanced = sorted(summary(&cib("balanced", "1", "3", 2)));
        assert_eq!(
            balanced,
            vec![
                "Start rsc1 ( node2 )".to_string(),
                "Start rsc2 ( node2 )".to_string()
            ],
            "node2 keeps more free cpu after the first"
        );
        let minimal = sorted(summary(&cib("minimal", "3", "3", 2)));
        assert_eq!(
            minimal,
            vec![
                "Start rsc1 ( node1 )".to_string(),
                "Start rsc2 ( node1 )".to_string()
            ]
        );
        let utilization = sorted(summary(&cib("utilization", "3", "3", 2)));
        assert_eq!(
            utilization,
            vec![
                "Start rsc1 ( node1 )".to_string(),
                "Start rsc2 ( node2 )".to_string()
            ],
            "spread by resource count"
        );
    }

    /// node1 is put in standby while rsc1 runs there and rsc2 on node2, each
    /// sticky, with room for one: rsc2 is placed first (its score on the first
    /// node that can run anything is higher), so it stays and rsc1 stops, as
    /// with Pacemaker, rather than rsc1 taking rsc2's place.
    #[test]
    fn the_resource_on_a_standby_node_is_placed_after_those_on_running_nodes() {
        let mut cib = cib("balanced", "1", "1", 2);
        cib.config
            .rsc_defaults
            .insert("resource-stickiness".into(), "100".into());
        cib.config.nodes[0].standby = true;
        for (node, rsc) in [("node1", "rsc1"), ("node2", "rsc2")] {
            let st = cib.status.nodes.get_mut(node).unwrap();
            st.resources.insert(rsc.into(), crate::tests::running(2));
        }
        assert_eq!(
            summary(&cib),
            vec!["Stop rsc1 ( node1 ) due to node availability".to_string()]
        );
    }

    /// Room for two on each node: `big` (two, highest priority) takes node1,
    /// `mid` moves to node2, and of the clone's instances (node1, node2) the
    /// one on node1 cannot stay. It is tried elsewhere and taken back; the
    /// capacity that trial took must be free again, so the instance on node2
    /// keeps its place and `low` (lowest priority) is what stops there
    /// (Pacemaker's utilization-order2).
    #[test]
    fn an_assignment_taken_back_frees_its_capacity() {
        let mut cib = cib("utilization", "2", "2", 0);
        let weighing = |id: &str, cpu: &str, priority: &str| {
            let mut p = dummy(id);
            p.utilization.insert("cpu".into(), cpu.into());
            p.meta.insert("priority".into(), priority.into());
            p
        };
        cib.config
            .resources
            .push(Resource::Primitive(weighing("low", "1", "0")));
        cib.config
            .resources
            .push(Resource::Clone(hactl_model::CloneSet {
                id: "inst-clone".into(),
                meta: [("priority".to_string(), "1".to_string())].into(),
                child: Box::new(Resource::Primitive(weighing("inst", "1", "0"))),
            }));
        cib.config
            .resources
            .push(Resource::Primitive(weighing("mid", "1", "2")));
        cib.config
            .resources
            .push(Resource::Primitive(weighing("big", "2", "3")));
        let running = [
            ("node1", "inst:0"),
            ("node1", "mid"),
            ("node2", "inst:1"),
            ("node2", "low"),
        ];
        for (node, rsc) in running {
            let st = cib.status.nodes.get_mut(node).unwrap();
            st.resources.insert(rsc.into(), crate::tests::running(2));
        }
        let got = sorted(summary(&cib));
        assert_eq!(
            got,
            vec![
                "Move mid ( node1 -> node2 )".to_string(),
                "Start big ( node1 )".to_string(),
                "Stop inst:0 ( node1 ) due to node availability".to_string(),
                "Stop low ( node2 ) due to node availability".to_string(),
            ]
        );
    }

    /// What stops on a node frees capacity before what starts there: the stop
    /// of `mid` on node1 comes before the start of `big` on node1, through the
    /// node's load_stopped pseudo action.
    #[test]
    fn stops_on_a_node_come_before_starts_there() {
        let mut cib = cib("utilization", "2", "2", 0);
        for (id, cpu, priority) in [("mid", "1", "2"), ("big", "2", "3")] {
            let mut p = dummy(id);
            p.utilization.insert("cpu".into(), cpu.into());
            p.meta.insert("priority".into(), priority.into());
            cib.config.resources.push(Resource::Primitive(p));
        }
        for (node, rsc) in [("node1", "mid"), ("node2", "x")] {
            let st = cib.status.nodes.get_mut(node).unwrap();
            st.resources.insert(rsc.into(), crate::tests::running(2));
        }
        let mut x = dummy("x");
        x.utilization.insert("cpu".into(), "1".into());
        cib.config.resources.push(Resource::Primitive(x));
        let t = crate::schedule(&cib, 1_000_000).unwrap();
        let find = |kind: crate::ActionKind, rsc: &str| {
            t.actions
                .iter()
                .find(|a| a.kind == kind && a.resource.as_deref() == Some(rsc))
                .unwrap_or_else(|| panic!("no {kind:?} of {rsc}: {:?}", t.summary))
                .id
        };
        let stop = find(crate::ActionKind::Stop, "mid");
        let start = find(crate::ActionKind::Start, "big");
        let load: Vec<_> = t
            .actions
            .iter()
            .filter(|a| a.kind == crate::ActionKind::LoadStopped)
            .map(|a| (a.id, a.node.as_deref().unwrap_or("").to_string()))
            .collect();
        assert_eq!(load.len(), 1, "only node1 has a stop and a start");
        let (l, node) = &load[0];
        assert_eq!(node, "node1");
        let edge = |a: usize, b: usize| t.edges.iter().any(|e| e.before == a && e.after == b);
        assert!(edge(stop, *l) && edge(*l, start), "{:?}", t.edges);
    }
}
