//! Orderings Pacemaker implies around probes and anti-colocations.
//!
//! - A mandatory anti-colocation (score -INFINITY) orders the stop of each resource
//!   before the start of the other, but only where both happen on the same node:
//!   the resource leaving a node makes room for the one arriving there.
//! - A resource whose state on a node is unknown is probed first, expecting "not
//!   running". If it is running after all, its stop only comes in the next
//!   transition, so every ordering "stop A, then X" (X of another resource) also
//!   becomes "probe A, then X": X waits until we know whether A must stop.
//!   Pacemaker keeps these at the resource level, so they hold whether or not A has
//!   a stop action in this transition.

use hactl_model::{OrderAction, OrderKind};

use crate::actions::{Graph, ORDERED, SAME_NODE};
use crate::sched::{RscRef, Sched};

/// "Probe primitive `prim` (on any node), then action `then`"; with `same_node`
/// only where the probe and `then` run on the same node.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProbeThen {
    pub prim: usize,
    pub then: usize,
    pub same_node: bool,
}

impl Sched<'_> {
    /// Adds the stop-before-start orderings of mandatory anti-colocations (both
    /// ways), same node only.
    pub(crate) fn anti_colocation_orders(&self, g: &mut Graph) {
        for c in &self.colocs {
            if !c.score.is_neg_infinity() || !self.anti_order_applies(c) {
                continue;
            }
            for (first, then) in [(c.dependent, c.primary), (c.primary, c.dependent)] {
                let firsts = self.stop_targets(first, g);
                let thens = self.start_targets(then, g);
                for &f in &firsts {
                    for &t in &thens {
                        g.order(f, t, ORDERED | SAME_NODE);
                    }
                }
                // Kept by resource: it binds the probes even when A has no stop.
                if let RscRef::P(a) = first {
                    g.anti_orders.extend(thens.iter().map(|&t| (a, t)));
                }
            }
        }
    }

    /// Clones keep their own ordering rules (instances, interleave): this covers
    /// primitives and groups only.
    fn anti_order_applies(&self, c: &crate::sched::Coloc) -> bool {
        !matches!(c.dependent, RscRef::C(_)) && !matches!(c.primary, RscRef::C(_))
    }

    /// What "stop `r`" means as the first action of an ordering: a primitive's
    /// stops, a group's or clone's "stopped" marker.
    fn stop_targets(&self, r: RscRef, g: &Graph) -> Vec<usize> {
        match r {
            RscRef::P(p) => g.stops_of[p].clone(),
            RscRef::G(gi) => vec![g.group_acts[gi][3]],
            RscRef::C(ci) => vec![g.clone_acts[ci][3]],
        }
    }

    /// What "start `r`" means as the then action of an ordering.
    fn start_targets(&self, r: RscRef, g: &mut Graph) -> Vec<usize> {
        match r {
            RscRef::P(p) => vec![self.start_or_placeholder(p, g)],
            RscRef::G(gi) => vec![g.group_acts[gi][0]],
            RscRef::C(ci) => vec![g.clone_acts[ci][0]],
        }
    }

    /// What "stop `r`" means as the then action of an ordering.
    fn stop_then_targets(&self, r: RscRef, g: &Graph) -> Vec<usize> {
        match r {
            RscRef::P(p) => g.stops_of[p].clone(),
            RscRef::G(gi) => vec![g.group_acts[gi][2]],
            RscRef::C(ci) => vec![g.clone_acts[ci][2]],
        }
    }

    /// Every "stop primitive A, then X" ordering, as "probe A, then X".
    pub(crate) fn probe_thens(&self, g: &mut Graph) -> Vec<ProbeThen> {
        let mut out = Vec::new();
        if g.probes.is_empty() {
            return out;
        }
        let mut probed = vec![false; self.prims.len()];
        for &(p, _) in &g.probes {
            probed[p] = true;
        }
        let mut push = |prim: usize, thens: &[usize], same_node: bool| {
            if probed[prim] {
                out.extend(thens.iter().map(|&then| ProbeThen {
                    prim,
                    then,
                    same_node,
                }));
            }
        };
        for oc in &self.cib.config.constraints.order {
            let (Some(&first), Some(&then)) = (
                self.by_id.get(oc.first.as_str()),
                self.by_id.get(oc.then.as_str()),
            ) else {
                continue;
            };
            if let (RscRef::P(a), OrderAction::Stop) = (first, oc.first_action) {
                let thens = self.then_targets(then, oc.then_action, g);
                push(a, &thens, false);
            }
            // The symmetrical inverse: stop `then` before the inverse of `first`.
            let inverse = oc.is_symmetrical() && oc.kind != OrderKind::Serialize;
            // Not for a resource inside a stopping container: its probe could
            // come after the container starts again (Pacemaker avoids the loop).
            let inside_first = matches!((then, first), (RscRef::P(b), RscRef::P(a)) if self.container_of(b) == Some(a));
            if let (true, false, RscRef::P(b), OrderAction::Start) =
                (inverse, inside_first, then, oc.then_action)
            {
                let first_inv = match oc.first_action {
                    OrderAction::Start => OrderAction::Stop,
                    OrderAction::Stop => OrderAction::Start,
                    OrderAction::Promote => OrderAction::Demote,
                    OrderAction::Demote => OrderAction::Promote,
                };
                let thens = self.then_targets(first, first_inv, g);
                push(b, &thens, false);
            }
        }
        for &(a, t) in &g.anti_orders {
            push(a, &[t], true);
        }
        // A group member's stop comes before the previous member's stop and the
        // group's "stopped"; a clone instance's before the clone's "stopped".
        for (gi, grp) in self.groups.iter().enumerate() {
            let stopped = g.group_acts[gi][3];
            let mut prev: Option<usize> = None;
            for &m in &grp.members {
                let mut thens = vec![stopped];
                if let Some(pm) = prev {
                    thens.extend(g.stops_of[pm].iter().copied());
                }
                push(m, &thens, false);
                prev = Some(m);
            }
        }
        // An ordered clone's instance also stops before every earlier
        // instance's stop (clone_actions.rs), so its probes come first too.
        for (ci, cl) in self.clones.iter().enumerate() {
            let stopped = g.clone_acts[ci][3];
            for (i, &p) in cl.instances.iter().enumerate() {
                push(p, &[stopped], false);
                // (Ordered cloned groups are ordered through their members.)
                if cl.ordered && self.instance_group(p).is_none() {
                    for &earlier in &cl.instances[..i] {
                        push(p, &g.stops_of[earlier], false);
                    }
                }
            }
            // One replica per host: a bundle's container is probed on a node
            // before any other of its containers starts there (bundle.rs).
            if self.is_bundle(ci) && cl.node_max == 1 {
                for &p in &cl.instances {
                    let others = cl.instances.iter().filter(|&&q| q != p);
                    let starts: Vec<usize> = others.filter_map(|&q| g.start_of[q]).collect();
                    push(p, &starts, true);
                }
            }
        }
        out.sort_by_key(|pt| pt.prim);
        out
    }

    fn then_targets(&self, r: RscRef, action: OrderAction, g: &mut Graph) -> Vec<usize> {
        match action {
            OrderAction::Start => self.start_targets(r, g),
            OrderAction::Stop => self.stop_then_targets(r, g),
            // Promotion belongs to promotable clones, ordered elsewhere.
            OrderAction::Promote | OrderAction::Demote => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use hactl_model::{ColocationConstraint, LocationConstraint, Resource, Score};

    use crate::tests::{base, dummy, running};
    use crate::{schedule, ActionKind, Transition};

    fn find(t: &Transition, kind: &ActionKind, rsc: &str, node: &str) -> usize {
        t.actions
            .iter()
            .find(|a| {
                &a.kind == kind
                    && a.resource.as_deref() == Some(rsc)
                    && a.node.as_deref() == Some(node)
            })
            .unwrap_or_else(|| panic!("no {kind:?} of {rsc} on {node}"))
            .id
    }

    fn ordered(t: &Transition, before: usize, after: usize) -> bool {
        t.edges
            .iter()
            .any(|e| e.before == before && e.after == after)
    }

    fn apart(cib: &mut hactl_model::Cib, rsc: &str, with: &str) {
        cib.config
            .constraints
            .colocation
            .push(ColocationConstraint {
                id: format!("{rsc}-apart-{with}"),
                rsc: rsc.into(),
                with_rsc: with.into(),
                score: Score::NEG_INFINITY,
                ..Default::default()
            });
    }

    /// The resource leaving a node makes room for the anti-colocated one arriving
    /// there: its stop comes first (Pacemaker's simple6).
    #[test]
    fn anti_colocated_stop_comes_before_the_start_on_the_same_node() {
        let mut cib = base(&["node1"]);
        cib.config.resources.push(Resource::Primitive(dummy("a")));
        cib.config.resources.push(Resource::Primitive(dummy("b")));
        apart(&mut cib, "a", "b");
        cib.config.constraints.location.push(LocationConstraint {
            id: "b-on-1".into(),
            rsc: "b".into(),
            node: Some("node1".into()),
            score: Some(Score::INFINITY),
            ..Default::default()
        });
        let st = cib.status.nodes.get_mut("node1").expect("node1");
        st.resources.insert("a".into(), running(1));
        let t = schedule(&cib, 1_000_000).expect("schedules");
        let stop = find(&t, &ActionKind::Stop, "a", "node1");
        let start = find(&t, &ActionKind::Start, "b", "node1");
        assert!(ordered(&t, stop, start), "{:?}", t.edges);
    }

    /// Neither resource has run anywhere: the probe of each on the node where the
    /// other starts comes before that start (it might be running there after all,
    /// and would have to stop first), but not on the other node (Pacemaker's
    /// rsc_dep1).
    #[test]
    fn probes_of_an_anti_colocated_resource_come_before_the_start_on_their_node() {
        let mut cib = base(&["node1", "node2"]);
        cib.config.resources.push(Resource::Primitive(dummy("a")));
        cib.config.resources.push(Resource::Primitive(dummy("b")));
        apart(&mut cib, "b", "a");
        let t = schedule(&cib, 1_000_000).expect("schedules");
        let (na, nb) = ("node1", "node2");
        let start_a = find(&t, &ActionKind::Start, "a", na);
        let start_b = find(&t, &ActionKind::Start, "b", nb);
        assert!(ordered(&t, find(&t, &ActionKind::Probe, "a", nb), start_b));
        assert!(ordered(&t, find(&t, &ActionKind::Probe, "b", na), start_a));
        assert!(!ordered(&t, find(&t, &ActionKind::Probe, "a", na), start_b));
        assert!(!ordered(&t, find(&t, &ActionKind::Probe, "b", nb), start_a));
    }

    /// An ordered clone stops its later instances before its earlier ones; a
    /// later instance's probe on the node it moves to must come before the
    /// earlier instance's stop too (it may be running there already and have
    /// to stop first). Pacemaker's inc4.
    #[test]
    fn probe_of_a_later_ordered_instance_comes_before_an_earlier_stop() {
        let mut cib = base(&["n1", "n2"]);
        let meta = [
            ("ordered", "true"),
            ("globally-unique", "true"),
            ("clone-max", "2"),
            ("clone-node-max", "2"),
        ];
        cib.config
            .resources
            .push(Resource::Clone(hactl_model::CloneSet {
                id: "web-clone".into(),
                meta: meta
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                child: Box::new(Resource::Primitive(dummy("web"))),
            }));
        cib.config.constraints.location.push(LocationConstraint {
            id: "not-n1".into(),
            rsc: "web-clone".into(),
            node: Some("n1".into()),
            score: Some(Score::NEG_INFINITY),
            ..Default::default()
        });
        let st = cib.status.nodes.get_mut("n1").expect("n1");
        st.resources.insert("web:0".into(), running(1));
        st.resources.insert("web:1".into(), running(2));
        let t = schedule(&cib, 1_000_000).expect("schedules");
        let stop0 = find(&t, &ActionKind::Stop, "web:0", "n1");
        let stop1 = find(&t, &ActionKind::Stop, "web:1", "n1");
        let probe1 = find(&t, &ActionKind::Probe, "web:1", "n2");
        assert!(ordered(&t, stop1, stop0), "{:?}", t.edges);
        assert!(ordered(&t, probe1, stop0), "{:?}", t.edges);
    }
}
