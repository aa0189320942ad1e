//! Resources inside containers (the `container` meta attribute), as Pacemaker
//! schedules them: a contained resource runs where its container runs (an
//! INFINITY colocation), starts after it and stops before it (a mandatory
//! ordering), is not probed (it can only run inside the container), and its
//! failure restarts the container (default `on-fail=restart-container`), which
//! restarts everything inside through the ordering.

use std::borrow::Cow;

use hactl_model::remote::container_of;
use hactl_model::{Cib, ColocationConstraint, OrderConstraint, Resource, Score};

use crate::sched::{RscRef, Sched};

/// The CIB with each container relation written out as the colocation and the
/// ordering it implies (borrowed unchanged when there is none). The ids start
/// with `#`, which no XML id can, so they never clash with configured ones.
pub(crate) fn desugar(cib: &Cib) -> Cow<'_, Cib> {
    let pairs: Vec<(String, String)> = cib
        .config
        .resources
        .iter()
        .filter_map(|r| match r {
            Resource::Primitive(p) => container_of(p).map(|c| (p.id.clone(), c.to_string())),
            _ => None,
        })
        .collect();
    if pairs.is_empty() {
        return Cow::Borrowed(cib);
    }
    let mut out = cib.clone();
    let cons = &mut out.config.constraints;
    for (rsc, container) in pairs {
        cons.colocation.push(ColocationConstraint {
            id: format!("#{rsc}-with-container"),
            rsc: rsc.clone(),
            with_rsc: container.clone(),
            score: Score::INFINITY,
            ..Default::default()
        });
        cons.order.push(OrderConstraint {
            id: format!("#container-then-{rsc}"),
            first: container,
            then: rsc,
            ..Default::default()
        });
    }
    Cow::Owned(out)
}

impl Sched<'_> {
    /// The container of primitive `p`, if it has one the scheduler knows.
    pub(crate) fn container_of(&self, p: usize) -> Option<usize> {
        let c = container_of(self.prims[p].def?)?;
        match self.by_id.get(c) {
            Some(&RscRef::P(c)) => Some(c),
            _ => None,
        }
    }

    /// A contained resource that failed with `on-fail=restart-container`
    /// restarts its container where it runs (Pacemaker schedules the
    /// container's stop; the start follows because it stays there).
    pub(crate) fn restart_failed_containers(&mut self) {
        for p in 0..self.prims.len() {
            if !self.prims[p].restart_container {
                continue;
            }
            if let Some(c) = self.container_of(p) {
                if !self.prims[c].active.is_empty() {
                    self.prims[c].def_change.restart = true;
                }
            }
        }
    }
}
