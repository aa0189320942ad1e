//! Resources inside containers (the `container` meta attribute), as Pacemaker
//! schedules them: a contained resource runs where its container runs (an
//! INFINITY colocation), starts after it and stops before it (a mandatory
//! ordering), is not probed (it can only run inside the container), and its
//! failure restarts the container (default `on-fail=restart-container`), which
//! restarts everything inside through the ordering.

use std::borrow::Cow;

use hactl_model::remote::{container_of, is_remote_connection, CONTAINER_META};
use hactl_model::{Cib, ColocationConstraint, OrderConstraint, Resource};

use crate::sched::{RscRef, Sched};

/// The CIB with each container relation written out as the colocation and the
/// ordering it implies (borrowed unchanged when there is none). The ids start
/// with `#`, which no XML id can, so they never clash with configured ones.
/// A group's container is its members' (written into each member that names
/// none). A resource whose container is a guest node's (the guest's VM, or
/// its connection) runs on that guest node instead: no colocation or ordering
/// with the container, `Sched::apply_guest_bans` confines it.
pub(crate) fn desugar(cib: &Cib) -> Cow<'_, Cib> {
    let inherits = cib.config.resources.iter().any(|r| match r {
        Resource::Group(g) => {
            container_in(&g.meta).is_some() && g.children.iter().any(|c| container_of(c).is_none())
        }
        _ => false,
    });
    // Each top-level primitive and group member, with its group's container:
    // one pass, as a CIB may hold tens of thousands of them.
    let members = cib.config.resources.iter().flat_map(|r| {
        let (prims, group_container) = match r {
            Resource::Primitive(p) => (std::slice::from_ref(p), None),
            Resource::Group(g) => (&g.children[..], container_in(&g.meta)),
            Resource::Clone(_) => (&[][..], None),
        };
        prims.iter().map(move |p| (p, group_container))
    });
    let pairs: Vec<(String, String, bool)> = members
        .filter_map(|(p, group_container)| {
            let c = container_of(p).or(group_container)?;
            Some((p.id.clone(), c.to_string(), is_remote_connection(p)))
        })
        .collect();
    if pairs.is_empty() {
        return Cow::Borrowed(cib);
    }
    let mut out = cib.clone();
    if inherits {
        for (rsc, container, _) in &pairs {
            if let Some(meta) = out
                .config
                .resources
                .iter_mut()
                .find_map(|r| r.meta_mut(rsc))
            {
                meta.entry(CONTAINER_META.to_string())
                    .or_insert_with(|| container.clone());
            }
        }
    }
    let cons = &mut out.config.constraints;
    for (rsc, container, connection) in pairs {
        // A guest's connection itself follows its container.
        if !connection && hosts_guest(cib, &container) {
            continue;
        }
        cons.colocation.push(ColocationConstraint {
            id: format!("#{rsc}-with-container"),
            rsc: rsc.clone(),
            with_rsc: container.clone(),
            score: crate::bundle::container_colocation_score(cib, &rsc),
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

/// The container named in a set of meta attributes, if any.
fn container_in(meta: &hactl_model::Attrs) -> Option<&str> {
    meta.get(CONTAINER_META)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

/// Whether resource `id` is a guest node's connection or the primitive its
/// connection runs inside (Pacemaker's is_remote_node container, or
/// pe__resource_contains_guest_node).
fn hosts_guest(cib: &Cib, id: &str) -> bool {
    cib.config
        .resources
        .iter()
        .flat_map(|r| r.primitives())
        .any(|p| is_remote_connection(p) && (p.id == id || container_of(p) == Some(id)))
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

    /// For each primitive, the resources running inside it (Pacemaker's
    /// launched resources).
    pub(crate) fn launched(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.prims.len()];
        for q in 0..self.prims.len() {
            if let Some(c) = self.container_of(q) {
                out[c].push(q);
            }
        }
        out
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
