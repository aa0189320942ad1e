//! Guest nodes, as Pacemaker has them: a primitive (a VM or container) with the
//! `remote-node=NAME` meta attribute gets an implicit Pacemaker Remote connection
//! resource NAME (`ocf:pacemaker:remote`) whose `container` is that primitive,
//! and NAME is a node once the connection runs. From there on a guest node is
//! scheduled as a remote node whose connection has a container (`remote.rs`,
//! `container.rs`): bundles build their replicas the same way.
//!
//! What differs from a remote node: a guest node is never fenced by a device. It
//! is "fenced" by recovering its container (a pseudo fencing action, ordered
//! after the container's stop), which is what happens when the container fails,
//! when its host is lost, or when resources are found active on a guest that is
//! down.

use std::borrow::Cow;

use hactl_model::remote::{CONTAINER_META, GUEST_META};
use hactl_model::values::parse_interval_ms;
use hactl_model::{Attrs, Cib, OpSpec, Primitive, Resource, Score};

use crate::actions::{Act, Graph, Task, FIRST_IMPLIES_THEN, ORDERED, UNRUNNABLE_FIRST_BLOCKS};
use crate::sched::Sched;

/// The connection's start timeout when the guest sets no
/// `remote-connect-timeout` (Pacemaker's default).
const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 60_000;

/// The CIB with an implicit connection resource appended (after every
/// configured resource, where Pacemaker puts it) for each primitive standing
/// alone or in a group that names a guest node; borrowed unchanged when none
/// does. A `remote-node` naming a resource that exists already makes nothing,
/// as in Pacemaker.
pub(crate) fn expand(cib: &Cib) -> Cow<'_, Cib> {
    let hosts = cib.config.resources.iter().flat_map(|r| match r {
        Resource::Primitive(p) => std::slice::from_ref(p).iter(),
        Resource::Group(g) => g.children.iter(),
        Resource::Clone(_) => [].iter(),
    });
    let mut added: Vec<Primitive> = Vec::new();
    for vm in hosts {
        let Some(name) = guest_name(vm) else { continue };
        let taken = cib
            .config
            .resources
            .iter()
            .any(|r| r.id() == name || r.primitives().any(|p| p.id == name))
            || added.iter().any(|c| c.id == name);
        if !taken {
            added.push(connection_for(vm, name));
        }
    }
    if added.is_empty() {
        return Cow::Borrowed(cib);
    }
    let mut out = cib.clone();
    out.config
        .resources
        .extend(added.into_iter().map(Resource::Primitive));
    Cow::Owned(out)
}

/// The guest node a primitive makes, if any.
pub(crate) fn guest_name(p: &Primitive) -> Option<&str> {
    p.meta
        .get(GUEST_META)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

/// The implicit connection of guest node `name` running inside `vm`: the guest's
/// `remote-addr`, `remote-port`, `remote-connect-timeout`,
/// `remote-allow-migrate` and `is-managed` carried over, a 30 s monitor.
fn connection_for(vm: &Primitive, name: &str) -> Primitive {
    let m = |k: &str| vm.meta.get(k).cloned();
    let mut meta = Attrs::new();
    meta.insert(CONTAINER_META.into(), vm.id.clone());
    if let Some(v) = m("remote-allow-migrate") {
        meta.insert("allow-migrate".into(), v);
    }
    if let Some(v) = m("is-managed") {
        meta.insert("is-managed".into(), v);
    }
    let mut params = Attrs::new();
    if let Some(v) = m("remote-addr") {
        params.insert("addr".into(), v);
    }
    if let Some(v) = m("remote-port") {
        params.insert("port".into(), v);
    }
    let start_timeout = m("remote-connect-timeout")
        .and_then(|v| parse_interval_ms(&v))
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT_MS);
    let op = |name: &str, interval_ms: u64, timeout_ms: u64| OpSpec {
        id: format!("{}-{name}-interval-{}", vm.id, interval_ms / 1000),
        name: name.into(),
        interval_ms,
        timeout_ms: Some(timeout_ms),
        ..Default::default()
    };
    Primitive {
        id: name.to_string(),
        agent: hactl_model::remote::remote_connection_agent(),
        params,
        meta,
        ops: vec![op("monitor", 30_000, 30_000), op("start", 0, start_timeout)],
        utilization: Attrs::new(),
    }
}

/// Whether `name` is the connection of a guest node: a remote connection
/// (implicit or configured) with a container.
pub(crate) fn names_guest(cib: &Cib, name: &str) -> bool {
    cib.config.resources.iter().any(|r| match r {
        Resource::Primitive(p) => {
            p.id == name
                && hactl_model::remote::is_remote_connection(p)
                && hactl_model::remote::container_of(p).is_some()
        }
        _ => false,
    })
}

impl Sched<'_> {
    /// The container of guest node `n` (the resource its connection runs
    /// inside), or `None` for a cluster node or a remote node.
    pub(crate) fn guest_container(&self, n: usize) -> Option<usize> {
        let c = self.connection_of(n)?;
        self.container_of(c)
    }

    /// A guest node's state from its connection's and container's (Pacemaker's
    /// determine_remote_online_status): online while the connection runs; down
    /// and to be recovered when the container failed or its host is lost.
    pub(crate) fn determine_guest_status(&mut self, n: usize, conn: usize, container: usize) {
        let conn_up = !self.prims[conn].active.is_empty();
        let container_up = !self.prims[container].active.is_empty();
        let host_lost = self.prims[conn].active.first().is_some_and(|&h| {
            let host = &self.nodes[h];
            !host.online && host.unclean
        });
        let container_failed = self.prims[container].failed;
        let conn_failed = self.prims[conn].failed;
        let node = &mut self.nodes[n];
        node.unclean = false;
        node.remote_seen = true;
        node.online = conn_up;
        if container_failed {
            node.online = false;
            node.guest_reset = true;
        } else if conn_failed {
            node.online = false;
        } else if !conn_up || !container_up {
            node.online = false;
            node.guest_reset = false;
        } else if host_lost {
            node.online = false;
            node.guest_reset = true;
        }
    }

    /// Whether the history on node `n` can be read with the others: not a
    /// guest node, or one whose connection and container run. Pacemaker reads
    /// the other guests' history last, and only when fencing is enabled.
    pub(crate) fn guest_history_ready(&self, n: usize) -> bool {
        let Some(container) = self.guest_container(n) else {
            return true;
        };
        let up = |p: usize| !self.prims[p].active.is_empty();
        self.connection_of(n).is_some_and(up) && up(container)
    }

    /// Puts the guest nodes whose history is not ready last (stable).
    pub(crate) fn defer_unready_guests(&self, nodes: &mut [usize]) {
        nodes.sort_by_key(|&n| !self.guest_history_ready(n));
    }

    /// "Fences" guest node `n` by recovering its container (Pacemaker's
    /// pe_fence_node for a guest): the container is failed, the node marked for
    /// the pseudo fencing; nothing happens for an unmanaged container.
    pub(crate) fn fence_guest(&mut self, n: usize) {
        let Some(container) = self.guest_container(n) else {
            return;
        };
        let c = &mut self.prims[container];
        if c.failed || !c.managed {
            return;
        }
        c.failed = true;
        c.stop_if_failed = true;
        // Shown failed where it runs.
        c.failed_on = c.active.clone();
        self.nodes[n].guest_reset = true;
    }

    /// A resource found active on guest node `n` while the node is down: it
    /// failed, and the guest is fenced (whether or not fencing is enabled: the
    /// container's recovery does it).
    pub(crate) fn active_on_down_guest(&mut self, p: usize, n: usize) -> bool {
        if self.guest_container(n).is_none() {
            return false;
        }
        self.prims[p].failed = true;
        self.prims[p].stop_if_failed = true;
        if !self.prims[p].failed_on.contains(&n) {
            self.prims[p].failed_on.push(n);
        }
        self.fence_guest(n);
        true
    }
}

impl Sched<'_> {
    /// Whether guest node `n` can be "fenced": its container can be stopped,
    /// its hosts being online or fenceable (Pacemaker's pe_can_fence).
    fn guest_fenceable(&self, container: usize) -> bool {
        self.prims[container]
            .active
            .iter()
            .all(|&h| self.nodes[h].online || self.can_fence(h))
    }

    /// The pseudo fencing of each guest node to recover (Pacemaker's
    /// pcmk__fence_guest), recorded in `fence_of` so that what is on the guest
    /// is ordered against it as against a real fencing. It follows the
    /// container's stop (or the fencing of the container's lost host, which
    /// implies that stop), else the connection's stop.
    pub(crate) fn add_guest_fencing(&self, g: &mut Graph, fence_of: &mut [Option<usize>]) {
        if !self.prims.iter().any(|p| p.managed) {
            return;
        }
        for n in 0..self.nodes.len() {
            let Some(container) = self.guest_container(n) else {
                continue;
            };
            if !self.nodes[n].guest_reset || !self.guest_fenceable(container) {
                continue;
            }
            let f = g.add(Act {
                rsc: None,
                task: Task::Fence,
                node: Some(n),
                optional: false,
                runnable: true,
                pseudo: true,
                reason: Some("guest is unclean".into()),
            });
            let implied = ORDERED | UNRUNNABLE_FIRST_BLOCKS | FIRST_IMPLIES_THEN;
            match g.stops_of[container].first().copied() {
                Some(stop) if g.acts[stop].pseudo => {
                    let host_fence = g.acts[stop].node.and_then(|h| fence_of[h]);
                    g.order(host_fence.unwrap_or(stop), f, implied);
                }
                Some(stop) => g.order(stop, f, implied),
                None => {
                    let conn = self.connection_of(n);
                    if let Some(&stop) = conn.and_then(|c| g.stops_of[c].first()) {
                        g.order(stop, f, ORDERED);
                    }
                }
            }
            fence_of[n] = Some(f);
        }
    }

    /// How the summary and the graph name the fencing of node `n`: `reboot`
    /// or `off` and, for a guest node, the container recovered for it (`off`
    /// only when the container has no start action at all).
    pub(crate) fn fence_label(&self, g: &Graph, n: usize) -> (&str, Option<&str>) {
        match self.guest_container(n) {
            Some(c) => {
                // Any start counts, even one that cannot run: Pacemaker (2.1.5)
                // reboots a guest whose container stays stopped too.
                let starts = g.start_of[c].is_some();
                let action = if starts || self.prims[c].assigned.is_some() {
                    "reboot"
                } else {
                    "off"
                };
                (action, Some(self.prims[c].id.as_str()))
            }
            None => (self.opts.stonith_action.as_str(), None),
        }
    }
}

impl Sched<'_> {
    /// The guest node whose connection is `c` or runs inside `c`.
    fn guest_node_of(&self, c: usize) -> Option<usize> {
        let conn = if self.is_connection(c) {
            c
        } else {
            (0..self.prims.len())
                .find(|&q| self.is_connection(q) && self.container_of(q) == Some(c))?
        };
        self.node_by_name.get(self.prims[conn].id.as_str()).copied()
    }

    /// A guest's container never runs on a remote or guest node (no nesting);
    /// a resource whose container is a guest node's runs on that guest node
    /// only (Pacemaker forces it there rather than colocating it).
    pub(crate) fn apply_guest_bans(&mut self, remotes: &[usize]) {
        for p in 0..self.prims.len() {
            let Some(c) = self.container_of(p) else {
                continue;
            };
            if self.is_connection(p) {
                for &n in remotes {
                    let why = "a guest node's container cannot run on a remote node".to_string();
                    self.location(c, Some(n), Score::NEG_INFINITY, why);
                }
            } else if let Some(guest) = self.guest_node_of(c) {
                for n in (0..self.nodes.len()).filter(|&n| n != guest) {
                    let why = format!("runs inside guest node {}", self.nodes[guest].name);
                    self.location(p, Some(n), Score::NEG_INFINITY, why);
                }
            }
        }
    }
}

impl Sched<'_> {
    /// Whether guest node `n`'s container will (likely) stop: the guest is
    /// to be recovered, or its container failed, stops or moves (Pacemaker's
    /// guest_resource_will_stop).
    pub(crate) fn guest_will_stop(&self, n: usize) -> bool {
        let Some(c) = self.guest_container(n) else {
            return false;
        };
        let prim = &self.prims[c];
        let moving =
            !prim.active.is_empty() && prim.assigned.is_some_and(|a| !prim.active.contains(&a));
        self.nodes[n].guest_reset
            || self.nodes[n].unclean
            || prim.failed
            || prim.next_role == Some(hactl_model::Role::Stopped)
            || prim.assigned.is_none()
            || moving
    }

    /// Whether `p` is probed on node `n` as far as guest nodes go: never a
    /// guest's container on a guest node, nor anything on a guest whose
    /// container is stopped or will stop (nothing can be active there).
    pub(crate) fn probes_on_guest(&self, p: usize, n: usize) -> bool {
        let Some(c) = self.guest_container(n) else {
            return true;
        };
        let contains_guest =
            (0..self.prims.len()).any(|q| self.is_connection(q) && self.container_of(q) == Some(p));
        !contains_guest && !self.prims[c].active.is_empty() && !self.guest_will_stop(n)
    }
}

impl Sched<'_> {
    /// Orders action `i` of `p` on guest node `n` against the guest's
    /// connection `conn` and container (Pacemaker's apply_launcher_ordering):
    /// starts and promotes after both start (and again when the container is
    /// recovered), stops and demotes before the connection stops unless the
    /// container failed (the guest's fencing implies them), anything else once
    /// the connection is up.
    pub(crate) fn order_guest_action(&self, g: &mut Graph, i: usize, conn: usize) {
        let Some(container) = self.container_of(conn) else {
            return;
        };
        match g.acts[i].task {
            Task::Start | Task::Promote => {
                // The container's edge is made last so that it is looked at
                // first (inputs are read newest first, as Pacemaker's): a start
                // blocked by both is blocked by the container, as Pacemaker
                // reports it ("unrunnable <container> start").
                let conn_start = self.start_or_placeholder(conn, g);
                g.order(conn_start, i, ORDERED | UNRUNNABLE_FIRST_BLOCKS);
                let first = self.start_or_placeholder(container, g);
                g.order(
                    first,
                    i,
                    ORDERED | FIRST_IMPLIES_THEN | UNRUNNABLE_FIRST_BLOCKS,
                );
            }
            Task::Stop | Task::Demote | Task::MigrateTo | Task::MigrateFrom => {
                if !self.prims[container].failed {
                    for s in g.stops_of[conn].clone() {
                        g.order(i, s, ORDERED);
                    }
                }
            }
            Task::Monitor(iv) if iv > 0 => {
                let first = self.start_or_placeholder(conn, g);
                g.order(first, i, ORDERED | FIRST_IMPLIES_THEN);
            }
            _ => {
                let first = self.start_or_placeholder(conn, g);
                g.order(first, i, ORDERED);
            }
        }
    }
}

/// Guest node `name` as crm_simulate lists it: `Some(true)` online (its
/// connection and container run, neither failed; after the transition, its
/// connection runs), `Some(false)` not listed at all (crm_simulate omits a
/// guest node that is down), `None` for a node that is no guest.
pub(crate) fn guest_view(
    cib: &Cib,
    t: &crate::Transition,
    name: &str,
    view: crate::StatusView,
) -> Option<bool> {
    let cib = expand(cib);
    let conn = cib.config.resources.iter().find_map(|r| match r {
        Resource::Primitive(p) if p.id == name && hactl_model::remote::is_remote_connection(p) => {
            hactl_model::remote::container_of(p).map(str::to_string)
        }
        _ => None,
    })?;
    let placed = |id: &str| {
        t.placements
            .iter()
            .find(|p| p.resource == id && p.clone.is_none())
    };
    let runs = |id: &str| {
        placed(id).is_some_and(|p| match view {
            crate::StatusView::Current => !p.current.is_empty() && !p.failed,
            crate::StatusView::Revised => !p.after.is_empty(),
        })
    };
    Some(match view {
        crate::StatusView::Current => runs(name) && runs(&conn),
        crate::StatusView::Revised => runs(name),
    })
}

impl Sched<'_> {
    /// The start a probe of `p` orders: the outermost collective's, as
    /// Pacemaker orders against the top resource.
    fn top_start(&self, p: usize, g: &Graph) -> Option<usize> {
        let prim = &self.prims[p];
        if let Some(ci) = prim.clone {
            return g
                .clone_acts
                .get(ci)
                .map(|a| a[0])
                .filter(|&a| a != usize::MAX);
        }
        if let Some(gi) = prim.group {
            return g
                .group_acts
                .get(gi)
                .map(|a| a[0])
                .filter(|&a| a != usize::MAX);
        }
        g.start_of[p]
    }

    /// What stands in for the probes a guest node does not get (Pacemaker's
    /// pcmk__probe_rsc_on_node): a resource not known on a guest whose
    /// container is stopped starts after the container's probe where the
    /// container is to run (if it has not been probed there); on a guest whose
    /// container will stop, after the container's stop (it may be restarting).
    pub(crate) fn order_guest_probe_skips(&self, g: &mut Graph) {
        let guests: Vec<(usize, usize)> = (0..self.nodes.len())
            .filter_map(|n| Some((n, self.guest_container(n)?)))
            .collect();
        if guests.is_empty() {
            return;
        }
        let mut hosts_guest = vec![false; self.prims.len()];
        for &(_, c) in &guests {
            hosts_guest[c] = true;
        }
        let mut thens = Vec::new();
        for (p, &hosts) in hosts_guest.iter().enumerate() {
            let prim = &self.prims[p];
            let inside = self.container_of(p).is_some() && !self.is_connection(p);
            if prim.orphan || inside || prim.fence_device || self.is_connection(p) {
                continue;
            }
            let Some(start) = self.top_start(p, g) else {
                continue;
            };
            for &(n, c) in &guests {
                // A bundle's node is never discovered by anything but its
                // replica's own instance (bundle_nodes.rs).
                if prim.probed[n] || hosts || !self.bundle_probes(p, n) {
                    continue;
                }
                let container = &self.prims[c];
                if container.active.is_empty() {
                    let unprobed = container.assigned.is_some_and(|a| !container.probed[a]);
                    if unprobed {
                        thens.push((c, start));
                    }
                } else if self.guest_will_stop(n) {
                    for s in g.stops_of[c].clone() {
                        g.order(s, start, ORDERED);
                    }
                }
            }
        }
        if thens.is_empty() {
            return;
        }
        thens.sort_unstable();
        thens.dedup();
        g.probe_thens.extend(
            thens
                .into_iter()
                .map(|(prim, then)| crate::probe_order::ProbeThen {
                    prim,
                    then,
                    same_node: false,
                }),
        );
        g.probe_thens.sort_by_key(|pt| pt.prim);
    }
}
