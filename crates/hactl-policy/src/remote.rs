//! Pacemaker Remote nodes, as Pacemaker's scheduler has them. A remote node is
//! named by its connection resource (`ocf:pacemaker:remote`, a primitive standing
//! alone); it is online while the connection runs and will be online once the
//! connection is placed (connections are placed before everything else). What
//! runs on it starts after the connection starts and stops before it stops; a
//! connection whose monitor failed is unrecoverable and its node is fenced by the
//! cluster (unless the connection is unmanaged). Resources found active on a
//! remote node whose connection is down fence it only if the connection cannot
//! come back this transition. Fence devices and connections never run on remote
//! nodes. A guest node is a remote node whose connection has a container
//! (`guest.rs`); so is a bundle replica's node (`bundle_nodes.rs`).

use hactl_model::values::parse_interval_ms;
use hactl_model::{OpRecord, Role, Score};

use crate::actions::FIRST_IMPLIES_THEN;
use crate::actions::{Graph, Task, ORDERED, THEN_IMPLIES_FIRST, UNRUNNABLE_FIRST_BLOCKS};
use crate::sched::{NodeInfo, RscRef, Sched};

/// The state of a remote node's connection for ordering the node's actions
/// (Pacemaker's `remote_connection_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    /// Running on a healthy node and staying.
    Alive,
    /// Running on a node that is down: recovered elsewhere first.
    Resting,
    /// Not running, but will start.
    Unknown,
    /// Cleanly stopped (or stopping) and not coming back.
    Stopped,
    /// Failed and not coming back: what is on the node is lost with it.
    Failed,
}

impl<'a> Sched<'a> {
    /// Adds a remote node (offline until its connection is known to run) for
    /// each connection resource, and the remote nodes listed without one.
    pub(crate) fn add_remote_nodes(&mut self) {
        let cib = self.cib;
        let named = cib.config.resources.iter().filter_map(|r| match r {
            hactl_model::Resource::Primitive(p) if hactl_model::remote::is_remote_connection(p) => {
                Some(p.id.as_str())
            }
            _ => None,
        });
        let listed = cib.config.remote_nodes.iter().map(|n| n.name.as_str());
        for name in named.chain(listed) {
            if self.node_by_name.contains_key(name) {
                continue;
            }
            let conf = cib.config.remote_nodes.iter().find(|n| n.name == name);
            let mut attrs = conf.map(|n| n.attributes.clone()).unwrap_or_default();
            if let Some(st) = cib.status.nodes.get(name) {
                attrs.extend(st.attributes.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            let flag = |k: &str| {
                attrs
                    .get(k)
                    .and_then(|v| hactl_model::values::parse_bool(v))
                    .unwrap_or(false)
            };
            let info = NodeInfo {
                name,
                id: conf.map_or(name, |n| n.id.as_str()),
                online: false,
                // Unclean until its state is seen (startup fencing), but only
                // fenced if its connection cannot be brought back. A guest
                // node is not: its container's state tells.
                unclean: self.opts.startup_fencing && !crate::guest::names_guest(cib, name),
                standby: conf.is_some_and(|n| n.standby) || flag("standby"),
                fail_standby: false,
                pending: false,
                maintenance: conf.is_some_and(|n| n.maintenance) || flag("maintenance"),
                shutdown: false,
                fence_reason: None,
                num_resources: 0,
                attrs,
                is_dc: false,
                remote: true,
                remote_seen: false,
                guest_reset: false,
            };
            self.node_by_name.insert(name, self.nodes.len());
            self.nodes.push(info);
        }
    }

    /// The connection resource of remote node `n`.
    pub(crate) fn connection_of(&self, n: usize) -> Option<usize> {
        if !self.nodes[n].remote {
            return None;
        }
        match self.by_id.get(self.nodes[n].name) {
            Some(&RscRef::P(c)) if self.is_connection(c) => Some(c),
            _ => None,
        }
    }

    pub(crate) fn is_connection(&self, p: usize) -> bool {
        self.prims[p]
            .def
            .is_some_and(hactl_model::remote::is_remote_connection)
    }

    /// Whether a failure of `op` of connection `p` drops the connection, which
    /// fences the node by default (Pacemaker's `reset_remote`): a failure other
    /// than of a probe or a start, with no `on-fail` configured.
    pub(crate) fn resets_remote(&self, p: usize, op: &OpRecord) -> bool {
        let Some(def) = self.prims[p].def else {
            return false;
        };
        if !hactl_model::remote::is_remote_connection(def)
            || op.operation == "start"
            || (op.operation == "monitor" && op.interval_ms == 0)
        {
            return false;
        }
        !def.ops.iter().any(|o| {
            o.name == op.operation && o.interval_ms == op.interval_ms && o.on_fail.is_some()
        })
    }

    /// Remote nodes' state once the cluster nodes' history (where the
    /// connections' history is) has been read, before their own history is.
    pub(crate) fn determine_remote_status(&mut self) {
        let stonith = self.opts.stonith_enabled;
        for n in 0..self.nodes.len() {
            if !self.nodes[n].remote {
                continue;
            }
            let Some(c) = self.connection_of(n) else {
                // Left over from a removed connection: offline, never fenced.
                self.nodes[n].unclean = false;
                continue;
            };
            if let Some(container) = self.container_of(c) {
                self.determine_guest_status(n, c, container);
                continue;
            }
            let failed = self.prims[c].failed;
            self.nodes[n].online = !self.prims[c].active.is_empty() && !failed;
            let seen = self.cib.status.nodes.contains_key(self.nodes[n].name);
            if self.prims[c].reset_remote {
                if stonith && self.prims[c].managed {
                    self.fence_remote(n, "remote connection is unrecoverable");
                }
                if reconnect_interval_ms(self, c) > 0 {
                    // Stays stopped until the failure expires.
                    self.ban_connection(c, "remote reset (reconnect_interval)");
                }
            } else if seen && (stonith || self.nodes[n].online) {
                self.nodes[n].unclean = false;
            }
            // A failed connection fences an unclean node even if it reconnects.
            self.nodes[n].remote_seen = seen || (failed && self.nodes[n].unclean);
        }
    }

    fn ban_connection(&mut self, c: usize, why: &str) {
        self.location(c, None, Score::NEG_INFINITY, why.to_string());
    }

    /// Marks remote node `n` for fencing (kept only if its connection cannot be
    /// recovered elsewhere when the node was not seen).
    pub(crate) fn fence_remote(&mut self, n: usize, reason: &str) {
        let node = &mut self.nodes[n];
        node.unclean = true;
        if node.fence_reason.is_none() {
            node.fence_reason = Some(reason.to_string());
        }
    }

    /// A resource active on remote node `n` while its connection is down: the
    /// reason to fence it, and the node marked unseen (Pacemaker revokes the
    /// fencing if the connection is re-established).
    pub(crate) fn remote_active_reason(&mut self, p: usize, n: usize) -> Option<String> {
        let c = self.connection_of(n)?;
        if self.prims[c].failed {
            return None;
        }
        self.nodes[n].remote_seen = false;
        Some(format!(
            "{} is active there (fencing will be revoked if remote connection can be \
             re-established elsewhere)",
            self.prims[p].id
        ))
    }

    /// Connections and fence devices never run on remote nodes.
    pub(crate) fn apply_remote_bans(&mut self) {
        let remotes: Vec<usize> = (0..self.nodes.len())
            .filter(|&n| self.nodes[n].remote)
            .collect();
        if remotes.is_empty() {
            return;
        }
        for p in 0..self.prims.len() {
            if self.is_connection(p) || self.prims[p].fence_device {
                for &n in &remotes {
                    let why = "remote nodes cannot run it".to_string();
                    self.location(p, Some(n), Score::NEG_INFINITY, why);
                }
            }
        }
        self.apply_guest_bans(&remotes);
    }

    /// Connection resources first, each in its place, then the rest (Pacemaker
    /// assigns connections first so that their nodes' availability is known).
    pub(crate) fn connections_first(&self, top: Vec<RscRef>) -> Vec<RscRef> {
        let (first, rest): (Vec<RscRef>, Vec<RscRef>) = top
            .into_iter()
            .partition(|r| {
                matches!(*r, RscRef::P(p) if self.is_connection(p) && !self.is_bundle_connection(p))
            });
        first.into_iter().chain(rest).collect()
    }

    /// After connection `r` is placed: its node will be online (and a fencing
    /// only meant for an unreachable node is revoked), or it shuts down.
    pub(crate) fn connection_assigned(&mut self, r: RscRef) {
        let RscRef::P(c) = r else { return };
        if !self.is_connection(c) {
            return;
        }
        let Some(&n) = self.node_by_name.get(self.prims[c].id.as_str()) else {
            return;
        };
        let stays_up =
            self.prims[c].assigned.is_some() && self.prims[c].next_role != Some(Role::Stopped);
        if stays_up {
            self.nodes[n].online = true;
            if !self.nodes[n].remote_seen {
                self.nodes[n].unclean = false;
                self.nodes[n].fence_reason = None;
            }
        } else {
            self.nodes[n].shutdown = true;
        }
        self.avail[n] = self.nodes[n].available();
    }

    /// Whether remote node `n`'s connection has failed and will not come back
    /// this transition (`remote_fencing.rs`; a guest node is recovered with its
    /// container instead).
    pub(crate) fn connection_failed(&self, n: usize) -> bool {
        self.connection_of(n)
            .is_some_and(|c| self.container_of(c).is_none() && self.conn_state(c) == Conn::Failed)
    }

    fn conn_state(&self, c: usize) -> Conn {
        let prim = &self.prims[c];
        let current = prim.active.first().copied();
        if prim.next_role == Some(Role::Stopped) || prim.assigned.is_none() {
            if current.is_some_and(|h| self.nodes[h].unclean) || prim.failed {
                return Conn::Failed;
            }
            return Conn::Stopped;
        }
        match current {
            None => Conn::Unknown,
            Some(h) if self.nodes[h].unclean || !self.nodes[h].online => Conn::Resting,
            // Finishing a partial migration: what runs on the node waits for it.
            Some(_) if prim.partial_continue.is_some() => Conn::Resting,
            Some(_) => Conn::Alive,
        }
    }

    /// Orders each action on a remote node against its connection (Pacemaker's
    /// `apply_remote_ordering`).
    pub(crate) fn order_remote_actions(&mut self, g: &mut Graph) {
        for i in 0..g.acts.len() {
            let (Some(RscRef::P(p)), Some(n)) = (g.acts[i].rsc, g.acts[i].node) else {
                continue;
            };
            if g.acts[i].pseudo {
                continue;
            }
            let Some(c) = self.connection_of(n) else {
                continue;
            };
            if self.container_of(c).is_some() {
                if g.acts[i].task == Task::Start {
                    self.order_moving_after_connection(g, p, n, c);
                }
                self.order_guest_action(g, i, c);
                continue;
            }
            let state = self.conn_state(c);
            let start = self.start_or_placeholder(c, g);
            let after_start = |g: &mut Graph, extra: u32| {
                g.order(start, i, ORDERED | UNRUNNABLE_FIRST_BLOCKS | extra);
            };
            let before_stop = |g: &mut Graph, extra: u32| {
                for s in g.stops_of[c].clone() {
                    g.order(i, s, ORDERED | extra);
                }
            };
            match g.acts[i].task {
                Task::Start | Task::Promote => {
                    self.order_moving_after_connection(g, p, n, c);
                    let extra = if state == Conn::Failed {
                        FIRST_IMPLIES_THEN
                    } else {
                        0
                    };
                    after_start(g, extra);
                }
                Task::Stop => match state {
                    Conn::Alive => before_stop(g, THEN_IMPLIES_FIRST),
                    Conn::Failed => {
                        self.fence_remote(n, "resources are active but connection is unrecoverable")
                    }
                    _ if self.prims[c].next_role == Some(Role::Stopped) => {
                        before_stop(g, THEN_IMPLIES_FIRST)
                    }
                    _ => after_start(g, 0),
                },
                Task::Demote => {
                    if matches!(state, Conn::Resting | Conn::Unknown) {
                        after_start(g, 0);
                    }
                }
                Task::Monitor(_) => after_start(g, FIRST_IMPLIES_THEN),
                _ => {
                    let up = !self.prims[c].active.is_empty();
                    if up && state == Conn::Stopped {
                        for s in g.stops_of[c].clone() {
                            g.order(i, s, UNRUNNABLE_FIRST_BLOCKS);
                        }
                    } else {
                        after_start(g, 0);
                    }
                }
            }
        }
    }

    /// A resource moving to remote node `n` (starting there) leaves its old node only once the connection `c` is up.
    fn order_moving_after_connection(&self, g: &mut Graph, p: usize, n: usize, c: usize) {
        let start = self.start_or_placeholder(c, g);
        for s in g.stops_of[p].clone() {
            if g.acts[s].node != Some(n) {
                g.order(start, s, ORDERED);
            }
        }
    }

    /// A probe on a remote node runs once the connection is up: the connection's
    /// start, when it starts in this transition.
    pub(crate) fn probe_waits_for(&self, n: usize, g: &Graph) -> Option<usize> {
        let c = self.connection_of(n)?;
        g.start_of[c]
    }

    /// Whether `p` can be probed on `n` at all (fence devices and connections
    /// are never on remote nodes).
    pub(crate) fn probes_on_remote(&self, p: usize, n: usize) -> bool {
        !self.nodes[n].remote || !(self.prims[p].fence_device || self.is_connection(p))
    }
}

/// The connection's `reconnect_interval` parameter, in milliseconds (0: none).
fn reconnect_interval_ms(s: &Sched<'_>, c: usize) -> u64 {
    s.prims[c]
        .def
        .and_then(|d| d.params.get("reconnect_interval"))
        .and_then(|v| parse_interval_ms(v))
        .unwrap_or(0)
}

/// How crm_simulate lists a remote node in a status block.
pub(crate) enum RemoteView {
    Online,
    Offline,
    Unclean,
}

/// Remote node `n` as crm_simulate shows it, or `None` for a cluster node. The
/// current view is the state before placement: online while its connection runs
/// (and has not failed), else unclean when it could not have been seen clean
/// (never seen, fencing off, a failed connection, or resources still there);
/// after the transition it is online where its connection runs, offline once
/// fenced.
pub(crate) fn remote_view(
    cib: &hactl_model::Cib,
    t: &crate::Transition,
    n: &crate::NodeState,
    view: crate::StatusView,
) -> Option<RemoteView> {
    let listed = cib.config.remote_nodes.iter().any(|r| r.name == n.name);
    let conn = t
        .placements
        .iter()
        .find(|p| p.resource == n.name && p.agent == "ocf:pacemaker:remote" && p.clone.is_none());
    if !listed && conn.is_none() {
        return None;
    }
    let hosted = |after: bool| {
        t.placements.iter().any(|p| {
            let on = if after { &p.after } else { &p.current };
            on.contains(&n.name)
        })
    };
    Some(match view {
        crate::StatusView::Current => {
            let failed = conn.is_some_and(|c| c.failed);
            if conn.is_some_and(|c| !c.current.is_empty()) && !failed {
                RemoteView::Online
            } else {
                let opts = cib.config.options().unwrap_or_default();
                let unseen = !cib.status.nodes.contains_key(&n.name) || !opts.stonith_enabled;
                if conn.is_some() && opts.startup_fencing && (unseen || failed || hosted(false)) {
                    RemoteView::Unclean
                } else {
                    RemoteView::Offline
                }
            }
        }
        crate::StatusView::Revised => {
            if conn.is_some_and(|c| !c.after.is_empty()) {
                RemoteView::Online
            } else if conn.is_some_and(|c| c.failed) {
                // The failure stays recorded: the next run fences it again.
                RemoteView::Unclean
            } else if n.unclean && !crate::output::fenced_node(t, &n.name) {
                RemoteView::Unclean
            } else {
                RemoteView::Offline
            }
        }
    })
}
