//! Unfencing, as Pacemaker schedules it when a fence device has
//! `provides=unfencing` (fabric fencing such as fence_scsi, which must let a node
//! back onto the storage before anything uses it there):
//!
//! - resources then require unfencing by default (`requires=unfencing`; not fence
//!   devices, and only with fencing enabled);
//! - on every node, the probes and starts of such resources, and of the fence
//!   devices themselves, are ordered after the node's unfencing (`stonith ... on`):
//!   probes only in sequence, starts also made required by it (Pacemaker's
//!   pcmk__order_vs_unfencing);
//! - the unfencing runs only where it has never been done (the node's
//!   `#node-unfenced` attribute is missing or 0), and only on a node that is
//!   online, clean and not shutting down; its reason names the first probe or
//!   start that asked for it, probes first (they are scheduled first).
//!
//! Not scheduled, refused by [`Sched::check_unfencing`] instead: a resource that
//! needs unfencing active on a node never unfenced (Pacemaker stops it until the
//! node is unfenced), a changed definition of a fence device that unfences
//! (Pacemaker unfences its nodes again), and nodes recording the unfencing
//! devices' digests (`#digests-all`, compared to decide the same).

use hactl_model::{Attrs, Cib, Resource};

use crate::actions::{Act, Graph, Task, FIRST_IMPLIES_THEN, ORDERED};
use crate::sched::{RscRef, Sched};
use crate::PolicyError;

/// Whether some resource provides unfencing: a `provides=unfencing` meta
/// attribute on any resource or in the resource defaults (Pacemaker looks for
/// the name/value pair anywhere under `<resources>` and `<rsc_defaults>`).
pub(crate) fn unfencing_enabled(cib: &Cib) -> bool {
    provides(&cib.config.rsc_defaults) || cib.config.resources.iter().any(resource_provides)
}

fn provides(meta: &Attrs) -> bool {
    meta.get("provides").is_some_and(|v| v == "unfencing")
}

fn resource_provides(r: &Resource) -> bool {
    match r {
        Resource::Primitive(p) => provides(&p.meta),
        Resource::Group(g) => provides(&g.meta) || g.children.iter().any(|p| provides(&p.meta)),
        Resource::Clone(c) => provides(&c.meta) || resource_provides(&c.child),
    }
}

impl Sched<'_> {
    /// Whether `p`'s probes and starts on a node wait for the node's unfencing.
    pub(crate) fn waits_for_unfencing(&self, p: usize) -> bool {
        let prim = &self.prims[p];
        prim.needs_unfencing || (prim.fence_device && self.unfencing)
    }

    /// Whether node `n` has been unfenced since it joined.
    fn unfenced(&self, n: usize) -> bool {
        self.nodes[n]
            .attrs
            .get("#node-unfenced")
            .is_some_and(|v| v != "0")
    }

    /// Whether node `n` can be unfenced now.
    fn can_unfence(&self, n: usize) -> bool {
        let node = &self.nodes[n];
        node.online && !node.unclean && !node.shutdown
    }

    /// Refuses what unfencing would do that is not scheduled (module comment).
    pub(crate) fn check_unfencing(&self) -> Result<(), PolicyError> {
        if !self.unfencing {
            return Ok(());
        }
        let refuse = |rsc: &str, node: &str, reason: &str| {
            Err(PolicyError::Unsupported {
                rsc: rsc.to_string(),
                node: node.to_string(),
                reason: reason.to_string(),
            })
        };
        for n in 0..self.nodes.len() {
            if self.nodes[n].attrs.contains_key("#digests-all") {
                return Err(PolicyError::NodeUnsupported {
                    node: self.nodes[n].name.to_string(),
                    reason: "unfencing again after a fence device's parameters changed \
                             (#digests-all) is not supported yet"
                        .into(),
                });
            }
        }
        for (p, prim) in self.prims.iter().enumerate() {
            if prim.fence_device && self.prims[p].def_change.params_changed {
                let node = prim.active.first().map_or("", |&n| self.nodes[n].name);
                return refuse(
                    &prim.id,
                    node,
                    "a changed fence device while unfencing is in use \
                     (Pacemaker unfences its nodes again) is not supported yet",
                );
            }
            let unfence_first = |n: &&usize| !self.unfenced(**n) && self.can_unfence(**n);
            if prim.needs_unfencing {
                if let Some(&n) = prim.active.iter().find(unfence_first) {
                    return refuse(
                        &prim.id,
                        self.nodes[n].name,
                        "a resource that needs unfencing active on a node never unfenced \
                         (Pacemaker stops it until the node is unfenced) is not supported yet",
                    );
                }
            }
        }
        Ok(())
    }

    /// Adds each node's unfencing and orders the probes and starts that wait for
    /// it after it (module comment). Probes are materialized later: the unfencing
    /// of their node is `Graph::unfence_of`.
    pub(crate) fn order_unfencing(&self, g: &mut Graph) {
        if !self.unfencing && !self.prims.iter().any(|p| p.needs_unfencing) {
            return;
        }
        g.unfence_of = vec![None; self.nodes.len()];
        let probes: Vec<(usize, usize)> = g.probes.clone();
        for (p, n) in probes {
            if self.waits_for_unfencing(p) {
                self.unfence(p, n, "monitor", g);
            }
        }
        let unrunnable_probes: Vec<usize> = (0..g.acts.len())
            .filter(|&i| g.acts[i].task == Task::Probe)
            .collect();
        for i in unrunnable_probes {
            if let (Some(RscRef::P(p)), Some(n)) = (g.acts[i].rsc, g.acts[i].node) {
                if self.waits_for_unfencing(p) {
                    let u = self.unfence(p, n, "monitor", g);
                    g.order(u, i, ORDERED);
                }
            }
        }
        for p in self.prims_in_top_order() {
            let Some(s) = g.start_of[p] else { continue };
            let Some(n) = g.acts[s].node.filter(|_| !g.acts[s].pseudo) else {
                continue;
            };
            if self.waits_for_unfencing(p) {
                let u = self.unfence(p, n, "start", g);
                g.order(u, s, FIRST_IMPLIES_THEN);
            }
        }
    }

    /// Every primitive, top-level resources in assignment order (a group's and a
    /// clone's in theirs), as Pacemaker creates their actions.
    pub(crate) fn prims_in_top_order(&self) -> Vec<usize> {
        self.top
            .iter()
            .flat_map(|&r| match r {
                RscRef::P(p) => vec![p],
                RscRef::G(gi) => self.groups[gi].members.clone(),
                RscRef::C(ci) => self.instance_prims(ci),
            })
            .collect()
    }

    /// Node `n`'s unfencing, made on first use; required (with the reason `p`'s
    /// `task` gives) when the node was never unfenced and can be now.
    fn unfence(&self, p: usize, n: usize, task: &str, g: &mut Graph) -> usize {
        if let Some(u) = g.unfence_of[n] {
            return u;
        }
        // Without a device that unfences, the ordering stays (as Pacemaker's
        // trigger_unfencing does nothing then).
        let required = self.unfencing && !self.unfenced(n) && self.can_unfence(n);
        let u = g.add(Act {
            rsc: None,
            task: Task::Unfence,
            node: Some(n),
            optional: !required,
            runnable: true,
            pseudo: false,
            reason: required.then(|| format!("required by {} {task}", self.prims[p].id)),
        });
        g.unfence_of[n] = Some(u);
        u
    }
}
