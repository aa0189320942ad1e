//! A bundle's guest nodes (`<bundle>-<i>`, one per replica with a primitive
//! inside), as Pacemaker treats them (lib/pengine/bundle.c,
//! pcmk_sched_bundle.c): only the bundled primitive runs there, instance `i`
//! on replica `i`'s node and nowhere else; nothing else is placed or probed
//! there; its history on a replica's node is that replica's instance; and the
//! connections are placed with the rest of the bundle (after its containers),
//! not before everything as other connections are.

use std::borrow::Cow;

use hactl_model::bundle::Bundle;
use hactl_model::{Attrs, Primitive, Score};

use crate::actions::{Act, Graph, Task, ORDERED, UNRUNNABLE_FIRST_BLOCKS};
use crate::sched::{RscRef, Sched};

/// One replica's guest node: the bundle, the replica number and the node.
struct Replica<'b> {
    bundle: &'b Bundle,
    number: usize,
    node: usize,
}

impl<'a> Sched<'a> {
    /// The guest nodes of bundles with a primitive inside that the scheduler knows.
    fn bundle_replicas(&self) -> Vec<Replica<'a>> {
        let cib = self.cib;
        let mut out = Vec::new();
        for b in cib.config.bundles.iter().filter(|b| b.primitive.is_some()) {
            for i in 0..b.replica_count() {
                if let Some(&n) = self.node_by_name.get(b.replica_node(i).as_str()) {
                    out.push(Replica {
                        bundle: b,
                        number: i as usize,
                        node: n,
                    });
                }
            }
        }
        out
    }

    /// The clone of bundle `b`'s primitive.
    fn bundled_clone_of(&self, b: &Bundle) -> Option<usize> {
        match self.by_id.get(b.clone_id().as_str()) {
            Some(&RscRef::C(ci)) => Some(ci),
            _ => None,
        }
    }

    /// The instance of clone `ci` that replica node `n` holds, when `ci` is a
    /// bundle's primitive and `n` one of its replicas' nodes (Pacemaker finds a
    /// bundled resource's history by the replica, not by instance number).
    pub(crate) fn bundle_instance_on(&self, ci: usize, n: usize) -> Option<usize> {
        if self.cib.config.bundles.is_empty() {
            return None;
        }
        let r = self.bundle_replicas().into_iter().find(|r| r.node == n)?;
        if self.bundled_clone_of(r.bundle) != Some(ci) {
            return None;
        }
        self.clones[ci].instances.get(r.number).copied()
    }

    /// Instance `i` of a bundled primitive may run on replica `i`'s node only;
    /// nothing else may run on a bundle's nodes.
    pub(crate) fn apply_bundle_bans(&mut self) {
        let replicas = self.bundle_replicas();
        if replicas.is_empty() {
            return;
        }
        for p in 0..self.prims.len() {
            let own = self.prims[p].clone.and_then(|ci| {
                replicas.iter().find(|r| {
                    self.bundled_clone_of(r.bundle) == Some(ci)
                        && self.clones[ci].instances.get(r.number) == Some(&p)
                })
            });
            match own {
                Some(r) => {
                    let node = r.node;
                    for n in (0..self.nodes.len()).filter(|&n| n != node) {
                        let why = "a bundle replica's instance runs on its own node".to_string();
                        self.location(p, Some(n), Score::NEG_INFINITY, why);
                    }
                }
                None => {
                    for r in &replicas {
                        let why = "only the bundled resource runs on a bundle's node".to_string();
                        self.location(p, Some(r.node), Score::NEG_INFINITY, why);
                    }
                }
            }
        }
    }

    /// Whether `p` may be probed on node `n` as far as bundles go: on a
    /// replica's node only that replica's instance is, and a bundled instance
    /// nowhere else (Pacemaker's exclusive discovery of bundled resources).
    pub(crate) fn bundle_probes(&self, p: usize, n: usize) -> bool {
        if self.cib.config.bundles.is_empty() {
            return true;
        }
        let replicas = self.bundle_replicas();
        let mine = self.prims[p].clone.and_then(|ci| {
            replicas.iter().find(|r| {
                self.bundled_clone_of(r.bundle) == Some(ci)
                    && self.clones[ci].instances.get(r.number) == Some(&p)
            })
        });
        match mine {
            // (Not on a replica node whose container is stopped or stopping:
            // guest.rs's probes_on_guest.)
            Some(r) => r.node == n,
            None => {
                let bundled = self.prims[p].clone.is_some_and(|ci| {
                    replicas
                        .iter()
                        .any(|r| self.bundled_clone_of(r.bundle) == Some(ci))
                });
                !bundled && !replicas.iter().any(|r| r.node == n)
            }
        }
    }

    /// The node whose attributes count for instance `p` on node `n`: with
    /// `container-attribute-target=host`, a bundled instance on its replica's
    /// node reads its container's host's — where the container is placed once
    /// `p` is, where it runs before — and none without one (Pacemaker's
    /// pcmk__node_attr); otherwise `n` itself.
    pub(crate) fn attribute_node(&self, p: usize, n: usize) -> Option<usize> {
        if self.cib.config.bundles.is_empty() {
            return Some(n);
        }
        let Some(r) = self.bundle_replicas().into_iter().find(|r| r.node == n) else {
            return Some(n);
        };
        let on_host = r
            .bundle
            .meta
            .get("container-attribute-target")
            .is_some_and(|v| v == "host");
        let bundled = self.prims[p]
            .clone
            .is_some_and(|ci| self.bundled_clone_of(r.bundle) == Some(ci));
        if !on_host || !bundled {
            return Some(n);
        }
        let container = match self
            .by_id
            .get(r.bundle.container_id(r.number as u32).as_str())
        {
            Some(&RscRef::P(c)) => c,
            _ => return None,
        };
        let c = &self.prims[container];
        if self.prims[p].unassigned {
            c.active.first().copied()
        } else {
            c.assigned
        }
    }

    /// Probes of the replicas' connections, which Pacemaker makes only once
    /// the container runs (it may host the connection's address): each waits
    /// for its container's start and cannot run when that cannot, and comes
    /// before the connection's own start.
    pub(crate) fn bundle_connection_probes(&self, g: &mut Graph) {
        let cib = self.cib;
        for b in cib.config.bundles.iter().filter(|b| b.primitive.is_some()) {
            for i in 0..b.replica_count() {
                let prim = |id: &str| match self.by_id.get(id) {
                    Some(&RscRef::P(p)) => Some(p),
                    _ => None,
                };
                let (Some(c), Some(k)) = (prim(&b.replica_node(i)), prim(&b.container_id(i)))
                else {
                    continue;
                };
                let Some(container_start) = g.start_of[k] else {
                    continue;
                };
                for n in 0..self.nodes.len() {
                    let nd = &self.nodes[n];
                    let skip =
                        self.prims[c].probed[n] || !nd.online || nd.unclean || nd.maintenance;
                    if skip || nd.remote || nd.pending {
                        continue;
                    }
                    let probe = g.add(Act {
                        rsc: Some(RscRef::P(c)),
                        task: Task::Probe,
                        node: Some(n),
                        optional: false,
                        runnable: true,
                        pseudo: false,
                        reason: None,
                    });
                    g.order(container_start, probe, ORDERED | UNRUNNABLE_FIRST_BLOCKS);
                    if let Some(start) = g.start_of[c] {
                        g.order(probe, start, ORDERED);
                    }
                }
            }
        }
    }

    /// The node that stands for node `n` when placing with what runs on it: a
    /// bundle replica's node stands for its container's host (Pacemaker's
    /// get_bundle_node_host), None while the container has none.
    pub(crate) fn bundle_host(&self, n: usize) -> Option<usize> {
        if self.cib.config.bundles.is_empty() {
            return Some(n);
        }
        let Some(r) = self.bundle_replicas().into_iter().find(|r| r.node == n) else {
            return Some(n);
        };
        match self
            .by_id
            .get(r.bundle.container_id(r.number as u32).as_str())
        {
            Some(&RscRef::P(c)) => self.prims[c].assigned,
            _ => None,
        }
    }

    /// Whether `p` is a bundle replica's connection (placed with its bundle).
    pub(crate) fn is_bundle_connection(&self, p: usize) -> bool {
        let id = self.prims[p].id.as_str();
        self.cib.config.bundles.iter().any(|b| {
            b.primitive.is_some() && (0..b.replica_count()).any(|i| b.replica_node(i) == id)
        })
    }
}

/// The parameters a connection's digest is computed from on node `node`: a
/// bundle connection reached at `#uname` is recorded with its host's name
/// (Pacemaker's pe__add_bundle_remote_name).
pub(crate) fn digest_params<'c>(
    params: Cow<'c, Attrs>,
    def: &Primitive,
    node: &str,
) -> Cow<'c, Attrs> {
    let uname = params.get("addr").is_some_and(|a| a == "#uname");
    if !uname || !hactl_model::remote::is_remote_connection(def) {
        return params;
    }
    let mut p = params.into_owned();
    p.insert("addr".into(), node.into());
    Cow::Owned(p)
}
