//! `resource-discovery` of location constraints, as Pacemaker's scheduler reads
//! it: `always` (the default) probes a resource wherever it might be found;
//! `never` skips the probe on the constraint's nodes (its score still applies);
//! `exclusive` probes the resource only on nodes an exclusive constraint names,
//! and bans it from every other node it was allowed on. A node named by several
//! constraints keeps the strongest mode (exclusive over never over always).
//!
//! A remote node's attribute `resource-discovery-enabled=false` turns off every
//! probe there (with fencing enabled, or on a guest node).
//!
//! As in Pacemaker, a resource has exclusive discovery when an exclusive
//! constraint names it or its top-level resource (what its probes check), but
//! the ban applies only under a top-level resource an exclusive constraint names
//! (`apply_exclusive_discovery` starts from the top-level resources).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use hactl_model::values::parse_bool;
use hactl_model::Score;

use crate::sched::{Contribution, NodeSel, RscRef, Sched};

/// The node attribute that can turn probes off on a remote node.
const NODE_DISCOVERY: &str = "resource-discovery-enabled";

/// A location constraint's `resource-discovery`, weakest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Discover {
    #[default]
    Always,
    Never,
    Exclusive,
}

impl Discover {
    /// The mode a `resource-discovery` value names (case-insensitive, as
    /// Pacemaker compares it); the import refuses any other value.
    pub(crate) fn parse(v: &str) -> Option<Discover> {
        [
            ("always", Discover::Always),
            ("never", Discover::Never),
            ("exclusive", Discover::Exclusive),
        ]
        .into_iter()
        .find(|(name, _)| v.trim().eq_ignore_ascii_case(name))
        .map(|(_, d)| d)
    }
}

/// What the constraints say about discovery; empty for most configurations,
/// which then pay nothing for it.
#[derive(Debug, Default)]
pub(crate) struct Discovery {
    /// (resource, node) → the strongest mode a constraint sets there; resources
    /// are the constraint's target and everything under it.
    modes: BTreeMap<(RscRef, usize), Discover>,
    /// Primitives with exclusive discovery.
    exclusive: BTreeSet<usize>,
    /// Top-level resources an exclusive constraint names.
    exclusive_tops: Vec<RscRef>,
    /// (clone, node): probed nodes not marked for the clone's exclusive
    /// discovery, which its notifications do not list as available.
    hidden: BTreeSet<(usize, usize)>,
}

impl Discovery {
    fn mode(&self, r: RscRef, n: usize) -> Discover {
        self.modes.get(&(r, n)).copied().unwrap_or_default()
    }
}

impl Sched<'_> {
    /// Records each constraint's discovery mode on the nodes it applies to, then
    /// bans exclusively discovered resources from the nodes not marked for them.
    /// Runs after the location scores (the ban overrides them).
    pub(crate) fn apply_discovery(&mut self) {
        let cib = self.cib;
        let mut ban_under: Vec<RscRef> = Vec::new();
        for lc in &cib.config.constraints.location {
            let Some(mode) = lc.resource_discovery.as_deref().and_then(Discover::parse) else {
                continue;
            };
            if mode == Discover::Always || lc.expires.is_some_and(|exp| self.now >= exp) {
                continue;
            }
            let Some(&target) = self.by_id.get(lc.rsc.as_str()) else {
                continue;
            };
            let under = self.subtree(target);
            if mode == Discover::Exclusive {
                let prims = under.iter().filter_map(|r| match *r {
                    RscRef::P(p) => Some(p),
                    _ => None,
                });
                self.discovery.exclusive.extend(prims);
                if self.top.contains(&target) && !ban_under.contains(&target) {
                    ban_under.push(target);
                }
            }
            for (n, _, _) in self.location_scores(lc, false) {
                for &r in &under {
                    let m = self.discovery.modes.entry((r, n)).or_default();
                    *m = (*m).max(mode);
                }
            }
        }
        for &top in &ban_under {
            self.ban_undiscovered(top);
        }
        self.discovery.exclusive_tops = ban_under;
    }

    /// Once placement is done and before fencing is decided: the nodes each
    /// exclusively discovered clone is not marked for, among the nodes probes
    /// are scheduled on. Pacemaker drops them from the clone's allowed nodes as
    /// it schedules the clone's probes, "so that the notification contains only
    /// nodes that we might ever run on".
    pub(crate) fn hide_undiscovered(&mut self) {
        for &top in &self.discovery.exclusive_tops {
            let RscRef::C(ci) = top else { continue };
            for n in 0..self.nodes.len() {
                let nd = &self.nodes[n];
                if !nd.online || nd.unclean || !self.node_discovers(n) {
                    continue;
                }
                let marked = self.discovery.mode(top, n) == Discover::Exclusive;
                if self.clones[ci].allowed[n].is_some() && !marked {
                    self.discovery.hidden.insert((ci, n));
                }
            }
        }
    }

    /// Whether clone `ci`'s notifications list node `n` as available.
    pub(crate) fn notify_available(&self, ci: usize, n: usize) -> bool {
        self.clones[ci].allowed[n].is_some() && !self.discovery.hidden.contains(&(ci, n))
    }

    /// Whether the discovery modes let primitive `p` be probed on node `n`
    /// (Pacemaker's checks in `pcmk__probe_rsc_on_node`).
    pub(crate) fn discovers(&self, p: usize, n: usize) -> bool {
        if !self.node_discovers(n) {
            return false;
        }
        let d = &self.discovery;
        if d.modes.is_empty() && d.exclusive.is_empty() {
            return true;
        }
        let mode = d.mode(RscRef::P(p), n);
        if d.exclusive.contains(&p) {
            return self.prims[p].allowed[n].is_some() && mode == Discover::Exclusive;
        }
        mode != Discover::Never
    }

    /// The node attribute `resource-discovery-enabled=false` turns probes off on
    /// a remote node with fencing enabled (what is never probed there may be
    /// active: only fencing can make it safe), and on a guest node (recovering
    /// its container does). Pacemaker ignores it on cluster nodes.
    fn node_discovers(&self, n: usize) -> bool {
        let node = &self.nodes[n];
        let guest = self
            .connection_of(n)
            .is_some_and(|c| self.container_of(c).is_some());
        if !node.remote || !(self.opts.stonith_enabled || guest) {
            return true;
        }
        // Any value but a true one turns it off (Pacemaker's !crm_is_true).
        let value = node.attrs.get(NODE_DISCOVERY);
        value.is_none_or(|v| parse_bool(v) == Some(true))
    }

    /// `-INFINITY` on every node `top` or a resource under it is allowed on but
    /// not marked for exclusive discovery (set, not added: Pacemaker overwrites
    /// the score).
    fn ban_undiscovered(&mut self, top: RscRef) {
        let why: Arc<str> = Arc::from("resource-discovery=exclusive does not name the node");
        for r in self.subtree(top) {
            for n in 0..self.nodes.len() {
                if self.discovery.mode(r, n) == Discover::Exclusive {
                    continue;
                }
                let cell = match r {
                    RscRef::P(p) => self.prims[p].allowed.get_mut(n),
                    RscRef::C(c) => self.clones[c].allowed.get_mut(n),
                    RscRef::G(g) => self.group_allowed.get_mut(g).and_then(|row| row.get_mut(n)),
                };
                let Some(cell @ Some(_)) = cell else { continue };
                *cell = Some(Score::NEG_INFINITY);
                if let RscRef::P(p) = r {
                    self.prims[p].explain.push(Contribution {
                        nodes: NodeSel::One(n),
                        what: why.clone(),
                        score: Score::NEG_INFINITY,
                    });
                }
            }
        }
    }

    /// `r` and every resource under it: a group's members; a clone's instance
    /// groups and instance primitives.
    fn subtree(&self, r: RscRef) -> Vec<RscRef> {
        let mut out = vec![r];
        match r {
            RscRef::P(_) => {}
            RscRef::G(g) => out.extend(self.groups[g].members.iter().map(|&m| RscRef::P(m))),
            RscRef::C(c) => {
                let groups = self.clones[c].instance_groups.iter();
                out.extend(groups.map(|&g| RscRef::G(g)));
                out.extend(self.instance_prims(c).into_iter().map(RscRef::P));
            }
        }
        out
    }
}
