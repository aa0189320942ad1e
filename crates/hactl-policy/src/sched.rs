//! Status unpacking and placement (assignment of primitives to nodes).
//!
//! Everything is indexed: nodes, primitives, groups and colocations live in vectors
//! and refer to each other by position, so that the hot loops never hash or clone
//! strings. The assignment follows Pacemaker's algorithm: resources are assigned in
//! priority order; a resource first assigns the resources it is colocated with, adds
//! the (attenuated) preferences of the resources colocated with it, and then takes
//! the best allowed node.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use hactl_model::values::{parse_bool, parse_interval_ms};
use hactl_model::{
    AgentSpec, Attrs, Cib, ClusterOptions, FailCount, Group, NoQuorumPolicy, NodeStatus, OnFail,
    OpRecord, Primitive, Resource, ResourceHistory, Role, Score,
};

use crate::clone;
use crate::rules::{rule_matches, NodeFacts, RuleInput};
use crate::PolicyError;

/// One cluster node after unpacking its status.
#[derive(Debug, Clone)]
pub(crate) struct NodeInfo<'a> {
    pub name: &'a str,
    pub id: &'a str,
    pub online: bool,
    pub unclean: bool,
    pub standby: bool,
    /// Standby because a resource failed with on-fail=standby.
    pub fail_standby: bool,
    pub pending: bool,
    pub maintenance: bool,
    pub shutdown: bool,
    pub fence_reason: Option<String>,
    pub num_resources: u32,
    pub attrs: Attrs,
    pub is_dc: bool,
    /// A Pacemaker Remote node (`remote.rs`).
    pub remote: bool,
    /// Its state was seen: a fencing is not revoked by reconnecting it.
    pub remote_seen: bool,
    /// A guest node to be "fenced" by recovering its container (`guest.rs`;
    /// Pacemaker's remote_reset on a guest node).
    pub guest_reset: bool,
}

impl NodeInfo<'_> {
    /// Whether the node can run resources at all (Pacemaker's node availability).
    pub fn available(&self) -> bool {
        self.online
            && !self.shutdown
            && !self.unclean
            && !self.standby
            && !self.maintenance
            && !self.pending
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum RscRef {
    P(usize),
    G(usize),
    /// A clone (see `clone.rs`); its instances are primitives.
    C(usize),
}

/// Which nodes a score contribution applied to.
#[derive(Debug, Clone)]
pub(crate) enum NodeSel {
    All,
    One(usize),
    Many(Vec<usize>),
}

/// One score contribution, kept for `explain_text`.
#[derive(Debug, Clone)]
pub(crate) struct Contribution {
    pub nodes: NodeSel,
    pub what: Arc<str>,
    pub score: Score,
}

/// Records `(node, delta)` notes as few contributions (one per distinct delta).
fn push_notes(explain: &mut Vec<Contribution>, notes: Vec<(usize, Score)>, what: Arc<str>) {
    let mut groups: Vec<(Score, Vec<usize>)> = Vec::new();
    for (n, sc) in notes {
        match groups.iter_mut().find(|(g, _)| *g == sc) {
            Some((_, v)) => v.push(n),
            None => groups.push((sc, vec![n])),
        }
    }
    for (score, nodes) in groups {
        let nodes = if nodes.len() == 1 {
            NodeSel::One(nodes[0])
        } else {
            NodeSel::Many(nodes)
        };
        explain.push(Contribution {
            nodes,
            what: what.clone(),
            score,
        });
    }
}

#[derive(Debug)]
pub(crate) struct Prim<'a> {
    pub id: String,
    pub def: Option<&'a Primitive>,
    pub agent: Arc<str>,
    pub group: Option<usize>,
    /// The clone this primitive is an instance of.
    pub clone: Option<usize>,
    pub managed: bool,
    pub maintenance: bool,
    pub target_role: Option<Role>,
    pub stickiness: i64,
    pub migration_threshold: i64,
    pub failure_timeout_s: i64,
    pub priority: i64,
    pub critical: bool,
    /// `multiple-active=stop_unexpected`: when active on several nodes, stop it
    /// only where it should not stay (`multiple_active.rs`).
    pub stop_unexpected: bool,
    pub orphan: bool,
    pub fence_device: bool,
    /// Starting needs quorum (and fencing of unclean nodes when enabled).
    pub needs_quorum: bool,
    /// Starting waits for all fencing (`requires=fencing`, the default for
    /// all but fence devices); with `requires=quorum` it waits only for the
    /// fencing of a node it may run on whose state of it is unknown.
    pub needs_fencing: bool,
    /// Its probes and starts on a node wait for the node's unfencing
    /// (`requires=unfencing`, the default when some device unfences).
    pub needs_unfencing: bool,

    // Status.
    pub active: Vec<usize>,
    pub failed_on: Vec<usize>,
    pub failed: bool,
    /// The history of an unfinished migration forbids migrating it
    /// (`migration_history.rs`), as Pacemaker clears `pcmk_rsc_migratable`.
    pub migration_barred: bool,
    /// A partial migration (`migrate_to` done, `migrate_from` not): the target
    /// it counts as running on.
    pub partial_target: Option<usize>,
    /// The partial migration is finished in this transition (its target was
    /// chosen again): the target is taken out of `active` (the resource moves
    /// from the source) and kept here for the status display.
    pub partial_continue: Option<usize>,
    /// A partial migration that cannot be finished on a resource active on
    /// its target only: restarted there (Pacemaker's forced recovery).
    pub partial_restart: bool,
    pub stop_if_failed: bool,
    /// Its history has a start still in progress (Pacemaker's start_pending).
    pub start_pending: bool,
    /// It failed inside its container with `on-fail=restart-container`
    /// (`container.rs`).
    pub restart_container: bool,
    /// A remote connection whose failure drops its node (`remote.rs`).
    pub reset_remote: bool,
    pub blocked: bool,
    pub ignore_failure: bool,
    pub probed: Vec<bool>,
    pub orig_role: Role,
    pub next_role: Option<Role>,
    pub next_role_reason: Option<String>,
    /// Recurring monitors whose last result on a node was success: (node, interval).
    pub running_monitors: Vec<(usize, u64)>,
    /// Every recurring monitor the executor runs since the last start, whatever its
    /// last result: (node, interval). See `cancel.rs`.
    pub recurring_active: Vec<(usize, u64)>,
    /// Instances of promotable clones: the node where the history says it is
    /// promoted, and whether it is to be promoted (see `promotable.rs`).
    pub promoted_on: Option<usize>,
    pub promote: bool,
    /// The name an anonymous clone instance's history knows it by, when that is
    /// not its own id (`rsc`, or another instance number): Pacemaker's
    /// clone_name, which its transition graph keys use.
    pub history_name: Option<String>,
    /// What a changed definition asks for (see `digest.rs`).
    pub def_change: crate::digest::DefChange,
    /// Fail counts to clear, histories to delete (see `cleanup.rs`).
    pub cleanup: crate::cleanup::Cleanup,

    // Placement.
    pub allowed: Vec<Option<Score>>,
    pub explain: Vec<Contribution>,
    pub assigned: Option<usize>,
    pub unassigned: bool,
    pub assigning: bool,
    pub updating: bool,
    pub this_with: Vec<usize>,
    pub with_this: Vec<usize>,
}

#[derive(Debug)]
pub(crate) struct GroupInfo<'a> {
    /// The group's id, or a cloned group's instance id (`grp:2`).
    pub id: std::borrow::Cow<'a, str>,
    pub def: &'a Group,
    pub members: Vec<usize>,
    pub priority: i64,
    pub this_with: Vec<usize>,
    pub with_this: Vec<usize>,
    pub unassigned: bool,
    pub assigning: bool,
    pub updating: bool,
}

impl<'a> GroupInfo<'a> {
    /// A group (or a cloned group's instance `id`) with its members, not placed yet.
    pub(crate) fn new(
        id: std::borrow::Cow<'a, str>,
        def: &'a Group,
        members: Vec<usize>,
        priority: i64,
    ) -> Self {
        GroupInfo {
            id,
            def,
            members,
            priority,
            this_with: Vec::new(),
            with_this: Vec::new(),
            unassigned: true,
            assigning: false,
            updating: false,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Coloc {
    pub id: Arc<str>,
    pub dependent: RscRef,
    pub primary: RscRef,
    pub score: Score,
    pub influence: bool,
    pub explicit: bool,
    /// The roles it is limited to (`rsc-role`, `with-rsc-role`; `Started` means
    /// any role and is None here).
    pub dep_role: Option<Role>,
    pub pri_role: Option<Role>,
}

pub(crate) struct Sched<'a> {
    pub cib: &'a Cib,
    pub opts: ClusterOptions,
    pub now: i64,
    pub quorate: bool,
    pub nqp: NoQuorumPolicy,
    pub have_fencing: bool,
    /// Whether a live migration may be planned: false while the running cluster
    /// cannot record one (`LiveFacts::migrate`).
    pub migrations_recordable: bool,
    /// Some resource provides unfencing (`unfence.rs`).
    pub unfencing: bool,
    pub nodes: Vec<NodeInfo<'a>>,
    pub node_by_name: BTreeMap<&'a str, usize>,
    pub prims: Vec<Prim<'a>>,
    pub groups: Vec<GroupInfo<'a>>,
    pub clones: Vec<crate::clone::CloneInfo<'a>>,
    /// Cloned primitive id → its clone (history names instances by it).
    pub clone_base: IdMap<'a, usize>,
    /// While a clone instance is assigned early: (instance, its current node).
    pub prefer: Option<(usize, usize)>,
    /// Top-level resources in assignment order (priority, then configuration order).
    pub top: Vec<RscRef>,
    /// Lookup only (never iterated), so hash order cannot leak into results.
    pub by_id: IdMap<'a, RscRef>,
    pub colocs: Vec<Coloc>,
    /// Colocations that only decide promotion (the dependent limited to a role):
    /// they take no part in placement (see `promotable.rs`).
    pub role_colocs: Vec<Coloc>,
    /// Per primitive: its fail counts, with the node they were recorded on.
    pub failcounts: Vec<Vec<(usize, &'a FailCount)>>,
    /// Per node, fixed once placement starts: can it run resources.
    pub(crate) avail: Vec<bool>,
    /// Remaining node capacity, under a placement strategy other than default.
    pub(crate) capacity: Option<crate::utilization::Capacity>,
    /// Per node: position in name order (the last tie-breaker).
    name_rank: Vec<usize>,
    /// Per primitive, sorted as Pacemaker processes them.
    this_with_cache: Vec<Vec<usize>>,
    with_this_cache: Vec<Vec<usize>>,
    /// What is left of the current preference merge's walk (see
    /// `COLOC_MERGE_BUDGET`).
    coloc_visits_left: usize,
    coloc_walk_cut: bool,
    /// Merges whose walk was cut short by the budget, by primary (for the
    /// transition's warnings).
    pub coloc_merges_cut: Vec<usize>,
    /// Per group: its own node scores (see `assign_scores.rs`).
    pub(crate) group_allowed: Vec<Vec<Option<Score>>>,
    /// Scores as groups and clones start being assigned, in that order.
    pub(crate) assign_scores: Vec<crate::assign_scores::AssignScores>,
    /// Promotion scores as promotable clones' roles are chosen.
    pub(crate) promotion_scores: Vec<crate::promotion_scores::PromotionScore>,
    /// `resource-discovery` of the location constraints (`discovery.rs`).
    pub(crate) discovery: crate::discovery::Discovery,
}

const INF: i64 = Score::INFINITY_VALUE;

/// How deep colocation chains are followed recursively (see
/// `add_colocated_node_scores` and `assign_chain_first`).
const MAX_CHAIN_DEPTH: usize = 32;

/// How many resources one preference merge (`add_dependent_scores`) may visit.
/// The merge walks every simple path of the colocation graph from the dependent,
/// as Pacemaker's does: linear for chains and trees, but factorial for densely
/// colocated sets (12 resources all colocated with each other: about 12! paths,
/// minutes of work while the DC must stay responsive). Past the budget the rest of
/// the walk is skipped — the preferences of resources reached only through the
/// skipped paths are not merged, exactly as for links past `MAX_CHAIN_DEPTH` — and
/// the transition carries a warning. Mandatory colocations still bind (they are
/// applied when each resource is assigned, not through this walk). Every realistic
/// configuration, Pacemaker's regression cases included, stays far below it.
pub(crate) const COLOC_MERGE_BUDGET: usize = 2_000;

/// A word-at-a-time multiplicative hash (in the style of rustc's FxHash): fast for
/// short resource ids and deterministic. Only used for lookups, never iterated.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        self.0 = h;
    }
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

/// Keyed by ids borrowed from the CIB (no copies).
pub(crate) type IdMap<'a, V> = HashMap<&'a str, V, std::hash::BuildHasherDefault<IdHasher>>;

/// Meta attributes seen through their layers: the resource's own, then its
/// group's, then rsc_defaults (first match wins), without copying them.
#[derive(Clone, Copy)]
pub(crate) struct Meta<'m>(pub(crate) &'m [&'m Attrs]);

impl<'m> Meta<'m> {
    pub(crate) fn get(&self, key: &str) -> Option<&'m String> {
        self.0.iter().find_map(|a| a.get(key))
    }
}

fn meta_bool(meta: Meta<'_>, key: &str) -> Option<bool> {
    meta.get(key).and_then(|v| parse_bool(v))
}

pub(crate) fn meta_score(meta: Meta<'_>, key: &str) -> Option<i64> {
    meta.get(key)
        .and_then(|v| v.parse::<Score>().ok())
        .map(Score::value)
}

fn attr_true(attrs: &Attrs, key: &str) -> bool {
    attrs.get(key).and_then(|v| parse_bool(v)).unwrap_or(false)
}

/// `class:provider:type` of an agent, formatted once for a run of primitives with
/// the same agent (large configurations use few agents, usually in runs).
fn agent_name<'a>(last: &mut Option<(&'a AgentSpec, Arc<str>)>, agent: &'a AgentSpec) -> Arc<str> {
    match last {
        Some((spec, name)) if *spec == agent => name.clone(),
        _ => {
            let name: Arc<str> = Arc::from(agent.to_string());
            *last = Some((agent, name.clone()));
            name
        }
    }
}

impl<'a> Sched<'a> {
    pub fn new(cib: &'a Cib, now: i64) -> Result<Sched<'a>, PolicyError> {
        let opts = cib.config.options().map_err(PolicyError::Config)?;
        let quorate = cib.status.have_quorum;
        let mut nqp = opts.no_quorum_policy;
        // Suicide needs fencing, and (as in Pacemaker) either quorum now or the
        // `no-quorum-panic` property (set on CIBs of clusters that had quorum).
        let panic = cib
            .config
            .properties
            .get("no-quorum-panic")
            .is_some_and(|v| parse_bool(v) == Some(true) || v.trim() == "1");
        if nqp == NoQuorumPolicy::Suicide && (!opts.stonith_enabled || !(quorate || panic)) {
            nqp = NoQuorumPolicy::Stop;
        }
        if nqp == NoQuorumPolicy::Demote {
            // No promotable resources: demote means stop for everything.
            nqp = NoQuorumPolicy::Stop;
        }
        let mut s = Sched {
            cib,
            opts,
            now,
            quorate,
            nqp,
            have_fencing: false,
            migrations_recordable: true,
            unfencing: crate::unfence::unfencing_enabled(cib),
            nodes: Vec::new(),
            node_by_name: BTreeMap::new(),
            prims: Vec::new(),
            groups: Vec::new(),
            clones: Vec::new(),
            clone_base: IdMap::default(),
            prefer: None,
            top: Vec::new(),
            by_id: IdMap::default(),
            colocs: Vec::new(),
            role_colocs: Vec::new(),
            failcounts: Vec::new(),
            avail: Vec::new(),
            capacity: None,
            name_rank: Vec::new(),
            this_with_cache: Vec::new(),
            with_this_cache: Vec::new(),
            coloc_visits_left: 0,
            coloc_walk_cut: false,
            coloc_merges_cut: Vec::new(),
            group_allowed: Vec::new(),
            assign_scores: Vec::new(),
            promotion_scores: Vec::new(),
            discovery: Default::default(),
        };
        s.unpack_nodes();
        // Also unpacks the status history (in the same pass over it).
        s.unpack_resources();
        s.unpack_colocations();
        Ok(s)
    }

    pub fn can_fence(&self, node: usize) -> bool {
        if !self.opts.stonith_enabled || !self.have_fencing {
            return false;
        }
        if self.quorate || self.nqp == NoQuorumPolicy::Ignore {
            return true;
        }
        self.nodes[node].online
    }

    /// A watchdog (SBD, `have-watchdog=true`) fences too: Pacemaker's unpack_config
    /// counts it as a fencing device. Read before anything asks [`Sched::can_fence`].
    pub(crate) fn set_have_watchdog(&mut self, watchdog: bool) {
        self.have_fencing = watchdog || self.prims.iter().any(|p| p.fence_device);
    }

    pub(crate) fn fence_node(&mut self, n: usize, reason: String) {
        let node = &mut self.nodes[n];
        // A remote node is unclean from the start without a fencing yet.
        if !node.unclean || node.fence_reason.is_none() {
            node.unclean = true;
            node.fence_reason = Some(reason);
        }
    }

    // ---------------------------------------------------------------- nodes

    fn unpack_nodes(&mut self) {
        let cib = self.cib;
        let stonith = self.opts.stonith_enabled;
        for (i, n) in cib.config.nodes.iter().enumerate() {
            let id = if n.id.is_empty() { &n.name } else { &n.id };
            let mut attrs = n.attributes.clone();
            let st = cib.status.nodes.get(&n.name);
            if let Some(st) = st {
                for (k, v) in &st.attributes {
                    attrs.insert(k.clone(), v.clone());
                }
            }
            let mut info = NodeInfo {
                name: &n.name,
                id,
                online: false,
                unclean: false,
                standby: n.standby || attr_true(&attrs, "standby"),
                fail_standby: false,
                pending: false,
                maintenance: n.maintenance || attr_true(&attrs, "maintenance"),
                shutdown: false,
                fence_reason: None,
                num_resources: 0,
                attrs,
                is_dc: cib.status.dc.as_deref() == Some(n.name.as_str())
                    || cib.status.dc.as_deref() == Some(id.as_str()),
                remote: false,
                remote_seen: false,
                guest_reset: false,
            };
            match st {
                None => {
                    // Never seen: with startup fencing, assume the worst.
                    if stonith && self.opts.startup_fencing {
                        info.unclean = true;
                        info.fence_reason = Some("node is unclean".into());
                    }
                }
                Some(st) => {
                    if stonith {
                        online_with_fencing(&mut info, st);
                    } else {
                        online_without_fencing(&mut info, st);
                    }
                }
            }
            self.node_by_name.insert(&n.name, i);
            self.nodes.push(info);
        }
        self.add_remote_nodes();
        if !self.quorate && self.nqp == NoQuorumPolicy::Suicide {
            for i in 0..self.nodes.len() {
                if self.nodes[i].online {
                    self.fence_node(i, "cluster does not have quorum".into());
                }
            }
        }
    }

    // ------------------------------------------------------------ resources

    pub(crate) fn new_prim(
        &self,
        id: String,
        def: Option<&'a Primitive>,
        agent: Arc<str>,
        group: Option<usize>,
        meta: Meta<'_>,
    ) -> Prim<'a> {
        let n = self.nodes.len();
        let fence_device = agent.starts_with("stonith:");
        // One pass over each layer, lowest precedence first, so that the resource's
        // own values win (cheaper than ten lookups per layer).
        let mut maintenance = None;
        let mut is_managed = None;
        let mut target_role = None;
        let mut stickiness = None;
        let mut migration_threshold = None;
        let mut failure_timeout_s = None;
        let mut priority = None;
        let mut critical = None;
        let mut requires = None;
        let mut multiple_active = None;
        let score = |v: &String| v.parse::<Score>().ok().map(Score::value);
        for layer in meta.0.iter().rev() {
            for (k, v) in layer.iter() {
                match k.as_str() {
                    "maintenance" => maintenance = parse_bool(v).or(maintenance),
                    "is-managed" => is_managed = parse_bool(v).or(is_managed),
                    "target-role" => target_role = v.parse::<Role>().ok().or(target_role),
                    "resource-stickiness" => stickiness = score(v).or(stickiness),
                    // The old name, unless the layer also has the new one.
                    "stickiness" if !layer.contains_key("resource-stickiness") => {
                        stickiness = score(v).or(stickiness)
                    }
                    "migration-threshold" => migration_threshold = score(v).or(migration_threshold),
                    "failure-timeout" => {
                        failure_timeout_s = parse_interval_ms(v)
                            .map(|ms| (ms / 1000) as i64)
                            .or(failure_timeout_s)
                    }
                    "priority" => priority = score(v).or(priority),
                    "critical" => critical = parse_bool(v).or(critical),
                    "requires" => requires = Some(v.as_str()),
                    "multiple-active" => multiple_active = Some(v.trim()),
                    _ => {}
                }
            }
        }
        let maintenance = maintenance.unwrap_or(false) || self.opts.maintenance_mode;
        let managed = is_managed.unwrap_or(true) && !maintenance;
        let target_role = target_role.map(|r| {
            if r == Role::Unpromoted {
                Role::Started
            } else {
                r
            }
        });
        let stickiness = stickiness.unwrap_or(0).max(0);
        let migration_threshold = migration_threshold.unwrap_or(INF);
        let failure_timeout_s = failure_timeout_s.unwrap_or(0);
        let priority = priority.unwrap_or(0);
        let critical = critical.unwrap_or(true);
        let needs_quorum = requires != Some("nothing");
        // A remote node's connection requires quorum only by default, as a
        // fence device does (Pacemaker's unpack_requires).
        let connection = def.is_some_and(hactl_model::remote::is_remote_connection);
        let needs_fencing = match requires {
            Some(r) => r == "fencing" || r == "unfencing",
            None => !fence_device && !connection,
        };
        // Pacemaker resets requires=unfencing to quorum for fence devices and
        // without fencing.
        let needs_unfencing = !fence_device
            && self.opts.stonith_enabled
            && requires.map_or(self.unfencing, |r| r == "unfencing");
        Prim {
            id,
            def,
            agent,
            group,
            clone: None,
            managed,
            maintenance,
            target_role,
            stickiness,
            migration_threshold,
            failure_timeout_s,
            priority,
            critical,
            stop_unexpected: multiple_active == Some("stop_unexpected"),
            orphan: def.is_none(),
            fence_device,
            needs_quorum,
            needs_fencing,
            needs_unfencing,
            active: Vec::new(),
            failed_on: Vec::new(),
            failed: false,
            migration_barred: false,
            partial_target: None,
            partial_continue: None,
            partial_restart: false,
            stop_if_failed: false,
            start_pending: false,
            restart_container: false,
            reset_remote: false,
            blocked: false,
            ignore_failure: false,
            probed: vec![false; n],
            orig_role: Role::Stopped,
            next_role: None,
            next_role_reason: None,
            running_monitors: Vec::new(),
            recurring_active: Vec::new(),
            promoted_on: None,
            promote: false,
            history_name: None,
            def_change: Default::default(),
            cleanup: Default::default(),
            allowed: vec![None; n],
            explain: Vec::new(),
            assigned: None,
            unassigned: true,
            assigning: false,
            updating: false,
            this_with: Vec::new(),
            with_this: Vec::new(),
        }
    }

    fn unpack_resources(&mut self) {
        let cib = self.cib;
        let defaults = &cib.config.rsc_defaults;
        let mut order: Vec<(i64, usize, RscRef)> = Vec::new();
        let mut last_agent = None;
        self.prims.reserve(
            cib.config
                .resources
                .iter()
                .map(|r| r.primitives().count())
                .sum(),
        );
        for (pos, r) in cib.config.resources.iter().enumerate() {
            match r {
                Resource::Primitive(p) => {
                    let layers = [&p.meta, defaults];
                    let prim = self.new_prim(
                        p.id.clone(),
                        Some(p),
                        agent_name(&mut last_agent, &p.agent),
                        None,
                        Meta(&layers),
                    );
                    let idx = self.prims.len();
                    order.push((prim.priority, pos, RscRef::P(idx)));
                    self.by_id.insert(&p.id, RscRef::P(idx));
                    self.prims.push(prim);
                }
                Resource::Group(g) => {
                    let gi = self.groups.len();
                    let mut members = Vec::new();
                    for c in &g.children {
                        let layers = [&c.meta, &g.meta, defaults];
                        let prim = self.new_prim(
                            c.id.clone(),
                            Some(c),
                            agent_name(&mut last_agent, &c.agent),
                            Some(gi),
                            Meta(&layers),
                        );
                        let idx = self.prims.len();
                        self.by_id.insert(&c.id, RscRef::P(idx));
                        self.prims.push(prim);
                        members.push(idx);
                    }
                    let glayers = [&g.meta, defaults];
                    let priority = meta_score(Meta(&glayers), "priority").unwrap_or(0);
                    order.push((priority, pos, RscRef::G(gi)));
                    self.by_id.insert(&g.id, RscRef::G(gi));
                    self.groups.push(GroupInfo::new(
                        std::borrow::Cow::Borrowed(&g.id),
                        g,
                        members,
                        priority,
                    ));
                }
                Resource::Clone(cl) => {
                    if let Some(ci) = self.unpack_clone(cl) {
                        order.push((self.clones[ci].priority, pos, RscRef::C(ci)));
                        self.by_id.insert(&cl.id, RscRef::C(ci));
                    }
                }
            }
        }
        let watchdog = cib
            .config
            .properties
            .get("have-watchdog")
            .and_then(|v| parse_bool(v));
        self.set_have_watchdog(watchdog.unwrap_or(false));
        let mut configured = self.prims.len();
        self.failcounts = vec![Vec::new(); configured];
        self.index_failcounts(0);
        // Every history entry of a configured node, unpacked as soon as it is
        // resolved to its primitive: one pass over the status section, which is
        // the largest part of a big CIB and is read from memory, not cache. History
        // for resources that are no longer configured makes orphans, unpacked
        // after all the others.
        let mut orphan_ids: BTreeMap<&'a str, String> = BTreeMap::new();
        let mut pending_orphans: Vec<(usize, &'a str, &'a ResourceHistory)> = Vec::new();
        let mut remote_known = false;
        let mut node_order = self.history_node_order();
        for i in 0..node_order.len() {
            // Remote nodes come last: their state follows their connection's.
            if self.nodes[node_order[i]].remote && !remote_known {
                remote_known = true;
                self.determine_remote_status();
                self.defer_unready_guests(&mut node_order[i..]);
            }
            let n = node_order[i];
            let Some(st) = cib.status.nodes.get(self.nodes[n].name) else {
                continue;
            };
            if !self.guest_history_ready(n) && !self.opts.stonith_enabled {
                continue;
            }
            // Clone histories are paired with instances in the order they were
            // recorded (find_anonymous_clone reads the status section in order).
            let mut cloned: Vec<(&'a String, &'a ResourceHistory)> = Vec::new();
            // Repeated entries of one id are each read, as Pacemaker does: one
            // that finds the resource running keeps it so.
            // In the order recorded, as Pacemaker reads them: the first resource
            // found active on a lost node names the reason to fence it.
            for (rid, h) in st.histories_in_recorded_order() {
                match self.by_id.get(rid.as_str()) {
                    Some(&RscRef::P(p)) => self.unpack_history_entry(n, p, h),
                    Some(RscRef::G(_) | RscRef::C(_)) => {}
                    None if self.clone_base.contains_key(clone::strip_instance(rid)) => {
                        cloned.push((rid, h));
                    }
                    None => {
                        orphan_ids
                            .entry(rid.as_str())
                            .or_insert_with(|| h.agent.to_string());
                        pending_orphans.push((n, rid.as_str(), h));
                    }
                }
            }
            cloned.sort_by_key(|(_, h)| h.position.unwrap_or(u32::MAX));
            for (rid, h) in cloned {
                self.unpack_clone_history_entry(n, rid, h);
            }
        }
        if !remote_known {
            self.determine_remote_status();
        }
        // Orphan clone instances made while reading the history have their fail
        // counts indexed already.
        configured = configured.max(self.prims.len());
        let base = cib.config.resources.len();
        let mut orphan_meta = Attrs::new();
        if !self.opts.stop_orphan_resources {
            orphan_meta.insert("is-managed".into(), "false".into());
        }
        for (k, (rid, agent)) in orphan_ids.into_iter().enumerate() {
            let layers = [&orphan_meta, defaults];
            let mut prim =
                self.new_prim(rid.to_string(), None, Arc::from(agent), None, Meta(&layers));
            prim.next_role = Some(Role::Stopped);
            prim.next_role_reason = Some("orphan".into());
            let idx = self.prims.len();
            order.push((prim.priority, base + k, RscRef::P(idx)));
            self.by_id.insert(rid, RscRef::P(idx));
            self.prims.push(prim);
        }
        if self.prims.len() > configured {
            self.failcounts.resize(self.prims.len(), Vec::new());
            self.index_failcounts(configured);
        }
        for (n, rid, h) in pending_orphans {
            if let Some(&RscRef::P(p)) = self.by_id.get(rid) {
                self.unpack_history_entry(n, p, h);
            }
        }
        self.read_migration_history();
        for p in 0..self.prims.len() {
            self.prims[p].orig_role = if self.prims[p].active.is_empty() {
                Role::Stopped
            } else {
                Role::Started
            };
        }
        // Stable sort: higher priority first, then configuration order.
        order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        self.top = order.into_iter().map(|(_, _, r)| r).collect();
    }

    /// Indexes the fail counts of primitives `from..` (`failcounts` already sized).
    fn index_failcounts(&mut self, from: usize) {
        let cib = self.cib;
        for (n, node) in self.nodes.iter().enumerate() {
            let Some(st) = cib.status.nodes.get(node.name) else {
                continue;
            };
            for fc in &st.failcounts {
                if let Some(&RscRef::P(p)) = self.by_id.get(fc.rsc.as_str()) {
                    if p >= from {
                        self.failcounts[p].push((n, fc));
                    }
                } else if let Some(&ci) = self.clone_base.get(clone::strip_instance(&fc.rsc)) {
                    // An anonymous clone's failures count against every instance
                    // on that node (Pacemaker bans the clone there).
                    for p in self.instances_named(ci, clone::strip_instance(&fc.rsc)) {
                        if p >= from {
                            self.failcounts[p].push((n, fc));
                        }
                    }
                }
            }
        }
    }

    // -------------------------------------------------------------- history

    fn unpack_history_entry(&mut self, n: usize, p: usize, hist: &ResourceHistory) {
        // Without fencing, history of nodes that are down is meaningless — unless the
        // node said, as it left by force, that it may still run something. A
        // guest node's is read once its connection and container run.
        let guest_up = self.guest_container(n).is_some() && self.guest_history_ready(n);
        if !self.opts.stonith_enabled && !self.nodes[n].online && !self.left_running(n) && !guest_up
        {
            return;
        }
        self.unpack_rsc_on_node(p, n, &hist.ops);
        self.note_failures_to_clear(p, n, hist);
    }

    /// Whether node `n` left by force with resources not confirmed stopped.
    fn left_running(&self, n: usize) -> bool {
        self.nodes[n]
            .attrs
            .get(crate::LEFT_RUNNING_ATTR)
            .is_some_and(|v| !v.is_empty())
    }

    fn op_on_fail(&self, p: usize, op: &OpRecord) -> OnFail {
        let prim = &self.prims[p];
        let configured = prim.def.and_then(|d| {
            d.ops
                .iter()
                .find(|o| o.name == op.operation && o.interval_ms == op.interval_ms)
                .and_then(|o| o.on_fail)
        });
        let mut on_fail = configured.unwrap_or(if op.operation == "stop" {
            if self.opts.stonith_enabled {
                OnFail::Fence
            } else {
                OnFail::Block
            }
        } else if self.container_of(p).is_some() {
            OnFail::RestartContainer
        } else {
            OnFail::Restart
        });
        if op.operation == "stop" && !on_fail.allowed_for_stop() {
            on_fail = if self.opts.stonith_enabled {
                OnFail::Fence
            } else {
                OnFail::Block
            };
        }
        if on_fail == OnFail::Fence && !self.opts.stonith_enabled {
            on_fail = OnFail::Stop;
        }
        // Demotion recovers only what a demote can undo: a failed promote or a
        // failed monitor of the Promoted role. Elsewhere Pacemaker resets it to
        // the default (restart).
        if on_fail == OnFail::Demote && !self.demote_recovers(p, op) {
            on_fail = OnFail::Restart;
        }
        on_fail
    }

    fn demote_recovers(&self, p: usize, op: &OpRecord) -> bool {
        let role = self.prims[p]
            .def
            .and_then(|d| d.op(&op.operation, op.interval_ms))
            .and_then(|o| o.role);
        hactl_model::values::demote_recovers(&op.operation, op.interval_ms, role)
    }

    /// The effective fail count of a resource on a node, honouring failure-timeout.
    pub fn failcount(&self, p: usize, n: usize, ignore_expiry: bool) -> (i64, Option<i64>) {
        let prim = &self.prims[p];
        let mut total = Score::ZERO;
        let mut last = None;
        let fcs = self.failcounts[p]
            .iter()
            .filter(|(m, _)| *m == n)
            .map(|(_, f)| *f);
        for fc in fcs {
            let mut expired = false;
            if !ignore_expiry && prim.failure_timeout_s > 0 {
                if let Some(lf) = fc.last_failure {
                    expired = self.now >= lf + prim.failure_timeout_s
                        && !self.failure_timeout_ignored(p, fc.op.as_deref(), fc.interval_ms);
                }
            }
            if !expired {
                total += fc.count;
                last = last.max(fc.last_failure);
            }
        }
        (total.value(), last)
    }

    /// Failures of operations with on-fail=block never expire.
    pub(crate) fn failure_timeout_ignored(
        &self,
        p: usize,
        op: Option<&str>,
        interval: Option<u64>,
    ) -> bool {
        let Some(def) = self.prims[p].def else {
            return false;
        };
        match op {
            Some(op) => def.ops.iter().any(|o| {
                o.name == op && Some(o.interval_ms) == interval && o.on_fail == Some(OnFail::Block)
            }),
            None => def.ops.iter().any(|o| o.on_fail == Some(OnFail::Block)),
        }
    }

    /// Unpacks history `rid` on node `n` of an anonymous or unique clone's
    /// instance: the instance it belongs to gets it.
    fn unpack_clone_history_entry(&mut self, n: usize, rid: &'a String, h: &'a ResourceHistory) {
        let Some(p) = self.clone_history_instance(n, rid) else {
            return;
        };
        if *rid != self.prims[p].id {
            self.prims[p].history_name = Some(rid.clone());
        }
        let was_active = self.prims[p].active.contains(&n);
        self.unpack_history_entry(n, p, h);
        let active = !was_active && self.prims[p].active.contains(&n);
        self.note_clone_history(n, p, rid, active);
        self.forget_stopped_history_name(n, p);
    }

    fn unpack_rsc_on_node(&mut self, p: usize, n: usize, ops: &[OpRecord]) {
        let key = |o: &OpRecord| (o.call_id, o.last_rc_change);
        let in_order = ops.windows(2).all(|w| key(&w[0]) <= key(&w[1]));
        let mut sorted: Vec<&OpRecord> = Vec::new();
        if !in_order {
            sorted = ops.iter().collect();
            sorted.sort_by_key(|o| key(o));
        }
        let ordered = if in_order {
            OpsIter::InOrder(ops.iter())
        } else {
            OpsIter::Sorted(sorted.into_iter())
        };
        let mut role: Option<Role> = None; // None = unknown
                                           // Running in the promoted role (OCF rc 8, or promoted and not demoted since).
        let mut promoted = false;
        let mut on_fail = OnFail::Ignore;
        let mut have_fail = false;
        let mut failed_here = false;
        // Recurring monitors and whether their last result was success.
        let mut monitors: Vec<(u64, bool)> = Vec::new();
        let mut saw_start = false;
        for op in ordered {
            // Classify the operation once (string compares are the hot path here).
            let kind = match op.operation.as_str() {
                "monitor" => OpKind::Monitor,
                "start" => OpKind::Start,
                "stop" => OpKind::Stop,
                "promote" | "demote" | "migrate_from" => OpKind::StartLike,
                "migrate_to" => OpKind::Other,
                // Notifications do not change the state; any other operation
                // (`asyncmon`, a custom one) counts as one that ran in it, and
                // its failure is a failure.
                "notify" => continue,
                _ => OpKind::Other,
            };
            let is_probe = kind == OpKind::Monitor && op.interval_ms == 0;
            // A (re)start leaves no recurring monitor of before it running: as
            // Pacemaker's process_recurring, which skips ops older than the last
            // start or migrate_from, whatever their result.
            if matches!(op.operation.as_str(), "start" | "migrate_from") {
                monitors.clear();
                saw_start = true;
            } else if !saw_start && matches!(op.operation.as_str(), "promote" | "demote") {
                // With no start in the history, Pacemaker takes the last promote
                // or demote for one (calculate_active_ops' implied_clone_start):
                // a monitor recorded before it is not known to run.
                monitors.clear();
            }
            // Pending operations (op_status -1 in Pacemaker) leave the state as is,
            // except a pending start which means the resource may be running.
            if op.op_status == -1 {
                if matches!(kind, OpKind::Start | OpKind::StartLike) {
                    role = Some(Role::Started);
                }
                if kind == OpKind::Start {
                    self.prims[p].start_pending = true;
                }
                continue;
            }
            let expected = op.expected_rc.unwrap_or(if is_probe { 7 } else { 0 });
            // Cancelled ops don't change anything, but a cancelled recurring
            // monitor no longer runs.
            if op.op_status == 1 {
                if kind == OpKind::Monitor && op.interval_ms > 0 {
                    set_monitor(&mut monitors, op.interval_ms, false);
                }
                continue;
            }
            // Pacemaker judges by the exit code when the execution completed, even
            // if it was recorded as an error.
            let status_ok = matches!(op.op_status, 0 | 4);
            let success = status_ok
                && (op.rc == expected
                    || (is_probe && matches!(op.rc, 0 | 7 | 8))
                    || (op.rc == 7 && !self.prims[p].managed));
            // Expired failures are skipped entirely (failure-timeout), unless the
            // resource still has an unexpired fail count on this node. Hard
            // errors and agents not installed (execution status 5, 7) never expire.
            if !success && self.prims[p].failure_timeout_s > 0 && !matches!(op.op_status, 5 | 7) {
                if let Some(t) = op.last_rc_change.or(op.last_run) {
                    let mut expired = self.now >= t + self.prims[p].failure_timeout_s;
                    if expired {
                        let (fc, _) = self.failcount(p, n, false);
                        let (fc_all, _) = self.failcount(p, n, true);
                        if fc_all > 0 && fc > 0 {
                            expired = false;
                        }
                    }
                    if expired && (op.interval_ms == 0 || self.nodes[n].online) {
                        continue;
                    }
                }
            }
            if success {
                let rc = op.rc;
                if rc == 7 {
                    role = Some(Role::Stopped);
                    promoted = false;
                    if op.interval_ms > 0 {
                        set_monitor(&mut monitors, op.interval_ms, false);
                    }
                    clear_past_failure(&mut on_fail, &mut have_fail, &mut failed_here);
                    continue;
                }
                promoted = match op.operation.as_str() {
                    "promote" => true,
                    "start" | "stop" | "demote" | "migrate_from" => false,
                    _ => promoted || rc == crate::promotable::RC_RUNNING_PROMOTED,
                };
                match kind {
                    OpKind::Monitor => {
                        if op.interval_ms > 0 {
                            set_monitor(&mut monitors, op.interval_ms, true);
                        }
                        if role.is_none_or(|r| r == Role::Stopped) {
                            role = Some(Role::Started);
                        }
                        // A success of the op that last failed clears the failure.
                        if have_fail && op.interval_ms > 0 {
                            clear_past_failure(&mut on_fail, &mut have_fail, &mut failed_here);
                        }
                    }
                    OpKind::Start | OpKind::StartLike => {
                        role = Some(Role::Started);
                        clear_past_failure(&mut on_fail, &mut have_fail, &mut failed_here);
                    }
                    OpKind::Stop => {
                        role = Some(Role::Stopped);
                        monitors.clear();
                        clear_past_failure(&mut on_fail, &mut have_fail, &mut failed_here);
                    }
                    OpKind::Other => {
                        if role.is_none_or(|r| r == Role::Stopped) {
                            role = Some(Role::Started);
                        }
                    }
                }
                continue;
            }
            // A failure. One whose agent is not installed (execution status 7)
            // cannot be ignored: Pacemaker turns on-fail=ignore into a ban there.
            let mut strategy = self.op_on_fail(p, op);
            if self.resets_remote(p, op) {
                self.prims[p].reset_remote = true;
            }
            if strategy == OnFail::Ignore && op.op_status == 7 {
                strategy = OnFail::Restart;
            }
            let hard = op.op_status == 5 || matches!(op.rc, 2..=5) && op.op_status != 2;
            let fatal = op.rc == 6 && op.op_status != 2;
            if strategy == OnFail::Ignore {
                // Pretend it succeeded.
                self.prims[p].ignore_failure = true;
                role = Some(if kind == OpKind::Stop {
                    Role::Stopped
                } else {
                    Role::Started
                });
                continue;
            }
            if op.interval_ms > 0 {
                set_monitor(&mut monitors, op.interval_ms, false);
            }
            // A failed promote leaves it promoted (as far as is known), rc 9 is
            // "failed while promoted". A failed demote counts as unpromoted, as
            // staying promoted would loop (Pacemaker's unpack_rsc_op_failure),
            // unless on-fail=block keeps it as it is.
            if op.operation == "demote" {
                promoted = strategy == OnFail::Block;
            } else if op.operation == "promote"
                || op.rc == crate::promotable::RC_FAILED_PROMOTED
                || op.rc == crate::promotable::RC_RUNNING_PROMOTED
            {
                promoted = true;
            }
            if on_fail_rank(strategy) > on_fail_rank(on_fail) {
                on_fail = strategy;
            }
            have_fail = true;
            failed_here = true;
            if kind == OpKind::Stop {
                self.location(
                    p,
                    Some(n),
                    Score::NEG_INFINITY,
                    "its stop failed on this node".into(),
                );
            }
            if is_probe && op.rc == 5 {
                role = Some(Role::Stopped);
            } else if role.is_none_or(|r| r == Role::Stopped) {
                role = Some(Role::Started);
            }
            if op.rc == 7 && !is_probe {
                // The resource was found stopped: still needs a stop for cleanup.
                role = Some(Role::Started);
            }
            if strategy == OnFail::Stop {
                self.prims[p].next_role = Some(Role::Stopped);
                self.prims[p].next_role_reason = Some("on-fail=stop".into());
                self.ban_everywhere(p, "on-fail=stop");
            }
            if hard {
                self.location(
                    p,
                    Some(n),
                    Score::NEG_INFINITY,
                    "hard error on this node (agent not installed or misconfigured)".into(),
                );
            } else if fatal {
                self.ban_everywhere(p, "fatal error (invalid configuration)");
            }
        }
        let Some(role) = role else {
            return;
        };
        self.prims[p].probed[n] = true;
        for (iv, ok) in monitors {
            // A repeated history of the resource on this node may name it again.
            if ok && !self.prims[p].running_monitors.contains(&(n, iv)) {
                self.prims[p].running_monitors.push((n, iv));
            }
            if !self.prims[p].recurring_active.contains(&(n, iv)) {
                self.prims[p].recurring_active.push((n, iv));
            }
        }
        let known_active = role != Role::Stopped;
        let node_online = self.nodes[n].online;
        let down_guest = known_active
            && !node_online
            && !self.nodes[n].maintenance
            && self.prims[p].managed
            && self.active_on_down_guest(p, n);
        if known_active
            && !down_guest
            && !node_online
            && !self.nodes[n].maintenance
            && self.prims[p].managed
            && self.opts.stonith_enabled
        {
            let reason = match self.remote_active_reason(p, n) {
                Some(r) => r,
                None => format!("{} is thought to be active there", self.prims[p].id),
            };
            self.fence_node(n, reason);
        }
        if known_active
            && !down_guest
            && !node_online
            && !self.opts.stonith_enabled
            && self.left_running(n)
        {
            // Nothing can stop it there, nothing proves it stopped: it stays put.
            self.prims[p].managed = false;
            self.prims[p].blocked = true;
        }
        let mut eff = on_fail;
        if self.nodes[n].unclean {
            eff = OnFail::Ignore;
        }
        match eff {
            OnFail::Fence => {
                let reason = format!("{} failed there", self.prims[p].id);
                self.fence_node(n, reason);
            }
            OnFail::Standby => {
                self.nodes[n].standby = true;
                self.nodes[n].fail_standby = true;
            }
            OnFail::Block => {
                self.prims[p].managed = false;
                self.prims[p].blocked = true;
            }
            OnFail::Stop => {
                self.prims[p].next_role = Some(Role::Stopped);
                self.prims[p].next_role_reason = Some("on-fail=stop".into());
            }
            OnFail::Restart | OnFail::RestartContainer if known_active => {
                self.prims[p].failed = true;
                self.prims[p].stop_if_failed = true;
                self.prims[p].restart_container = eff == OnFail::RestartContainer;
            }
            _ => {}
        }
        if known_active && promoted {
            self.prims[p].promoted_on = Some(n);
        }
        if known_active {
            // Whatever runs on a node in maintenance is left alone.
            if self.nodes[n].maintenance {
                self.prims[p].managed = false;
                self.prims[p].maintenance = true;
            }
            if !self.prims[p].managed {
                // Pacemaker's "not_managed_default": an unmanaged resource stays
                // where it runs (shown in its scores).
                let why = "not managed".to_string();
                self.location(p, Some(n), Score::INFINITY, why);
            }
            // Once per node, also when a repeated history finds it active again.
            if !self.prims[p].active.contains(&n) {
                self.prims[p].active.push(n);
            }
            if failed_here && on_fail != OnFail::Ignore && !self.prims[p].failed_on.contains(&n) {
                self.prims[p].failed_on.push(n);
            }
            match eff {
                OnFail::Ignore => {}
                OnFail::Block | OnFail::Demote => self.prims[p].failed = true,
                _ => {
                    self.prims[p].failed = true;
                    self.prims[p].stop_if_failed = true;
                }
            }
        }
    }

    fn ban_everywhere(&mut self, p: usize, why: &str) {
        self.location(p, None, Score::NEG_INFINITY, why.to_string());
    }

    /// Adds `score` to the resource's score on a node (`None`: all nodes).
    pub fn location(&mut self, p: usize, node: Option<usize>, score: Score, what: String) {
        self.location_rc(p, node, score, Arc::from(what));
    }

    fn location_rc(&mut self, p: usize, node: Option<usize>, score: Score, what: Arc<str>) {
        let prim = &mut self.prims[p];
        match node {
            Some(n) => {
                let cur = prim.allowed[n].unwrap_or(Score::ZERO);
                prim.allowed[n] = Some(cur + score);
            }
            None => {
                for a in prim.allowed.iter_mut() {
                    *a = Some(a.unwrap_or(Score::ZERO) + score);
                }
            }
        }
        let nodes = match node {
            Some(n) => NodeSel::One(n),
            None => NodeSel::All,
        };
        prim.explain.push(Contribution { nodes, what, score });
    }

    // ---------------------------------------------------------- colocations

    fn unpack_colocations(&mut self) {
        // Internal group colocations: each member with the previous one.
        for g in 0..self.groups.len() {
            let members = self.groups[g].members.clone();
            for w in members.windows(2) {
                let (prev, cur) = (w[0], w[1]);
                let influence = self.prims[cur].critical;
                self.add_coloc(Coloc {
                    id: Arc::from("#group-members"),
                    dependent: RscRef::P(cur),
                    primary: RscRef::P(prev),
                    score: Score::INFINITY,
                    influence,
                    explicit: false,
                    dep_role: None,
                    pri_role: None,
                });
            }
        }
        let cib = self.cib;
        for c in &cib.config.constraints.colocation {
            let (Some(&dep), Some(&pri)) = (
                self.by_id.get(c.rsc.as_str()),
                self.by_id.get(c.with_rsc.as_str()),
            ) else {
                continue;
            };
            if c.score == Score::ZERO {
                continue;
            }
            let influence = c.influence.unwrap_or(match dep {
                RscRef::P(p) => self.prims[p].critical,
                RscRef::G(g) => {
                    let layers = [&self.groups[g].def.meta, &cib.config.rsc_defaults];
                    meta_bool(Meta(&layers), "critical").unwrap_or(true)
                }
                RscRef::C(ci) => match self.clones[ci].instances.first() {
                    Some(&p) => self.prims[p].critical,
                    None => true,
                },
            });
            let role = |r: Option<Role>| r.filter(|r| *r != Role::Started);
            let coloc = Coloc {
                id: Arc::from(c.id.as_str()),
                dependent: dep,
                primary: pri,
                score: c.score,
                influence,
                explicit: true,
                dep_role: role(c.rsc_role),
                pri_role: role(c.with_rsc_role),
            };
            if coloc.dep_role.is_some() {
                self.role_colocs.push(coloc);
            } else if coloc.pri_role.is_none() || self.is_promotable(pri) {
                self.add_coloc(coloc);
            }
            // A primary limited to a role it can never have: no effect (as in
            // Pacemaker, where the role never matches).
        }
    }

    fn add_coloc(&mut self, c: Coloc) {
        let i = self.colocs.len();
        let (dep, pri) = (c.dependent, c.primary);
        self.colocs.push(c);
        match dep {
            RscRef::P(p) => self.prims[p].this_with.push(i),
            RscRef::G(g) => self.groups[g].this_with.push(i),
            RscRef::C(c) => self.clones[c].this_with.push(i),
        }
        match pri {
            RscRef::P(p) => self.prims[p].with_this.push(i),
            RscRef::G(g) => self.groups[g].with_this.push(i),
            RscRef::C(c) => self.clones[c].with_this.push(i),
        }
    }

    pub fn rsc_id(&self, r: RscRef) -> &str {
        match r {
            RscRef::P(p) => &self.prims[p].id,
            RscRef::G(g) => &self.groups[g].id,
            RscRef::C(c) => self.clones[c].id,
        }
    }

    /// Whether `child` is a member of group `parent`, or an instance (or an
    /// instance's member) of clone `parent`.
    pub(crate) fn within(&self, child: RscRef, parent: RscRef) -> bool {
        match (child, parent) {
            (RscRef::P(p), RscRef::G(gi)) => self.prims[p].group == Some(gi),
            (RscRef::P(p), RscRef::C(ci)) => self.prims[p].clone == Some(ci),
            (RscRef::G(gi), RscRef::C(ci)) => self.clones[ci].instance_groups.contains(&gi),
            _ => false,
        }
    }

    pub(crate) fn rsc_priority(&self, r: RscRef) -> i64 {
        match r {
            RscRef::P(p) => self.prims[p].priority,
            RscRef::G(g) => self.groups[g].priority,
            RscRef::C(c) => self.clones[c].priority,
        }
    }

    /// Sort key for colocation lists: higher priority first, groups before
    /// primitives, then by id.
    pub(crate) fn sort_colocs(&self, list: &mut [usize], by_primary: bool) {
        list.sort_by(|&a, &b| {
            let ra = if by_primary {
                self.colocs[a].primary
            } else {
                self.colocs[a].dependent
            };
            let rb = if by_primary {
                self.colocs[b].primary
            } else {
                self.colocs[b].dependent
            };
            let variant = |r: RscRef| match r {
                RscRef::P(_) => 0u8,
                RscRef::G(_) => 1,
                RscRef::C(_) => 2,
            };
            let (va, vb) = (variant(ra), variant(rb));
            self.rsc_priority(rb)
                .cmp(&self.rsc_priority(ra))
                .then(vb.cmp(&va))
                .then(self.rsc_id(ra).cmp(self.rsc_id(rb)))
        });
    }

    /// Colocations in which primitive `p` is (effectively) the dependent (cached).
    /// Whether node `n` can run resources (fixed once placement starts).
    pub(crate) fn is_avail(&self, n: usize) -> bool {
        self.avail[n]
    }

    /// The primitives a resource reference stands for.
    pub(crate) fn members_of(&self, r: RscRef) -> Vec<usize> {
        match r {
            RscRef::P(p) => vec![p],
            RscRef::G(g) => self.groups[g].members.clone(),
            RscRef::C(c) => self.clones[c].instances.clone(),
        }
    }

    pub(crate) fn this_with_list(&self, p: usize) -> Vec<usize> {
        self.this_with_cache[p].clone()
    }

    /// Colocations in which primitive `p` is (effectively) the primary (cached).
    pub(crate) fn with_this_list(&self, p: usize) -> Vec<usize> {
        self.with_this_cache[p].clone()
    }

    /// Colocations in which primitive `p` is (effectively) the dependent.
    fn compute_this_with(&self, p: usize) -> Vec<usize> {
        let mut list = self.prims[p].this_with.clone();
        list.extend_from_slice(self.clone_colocs_of(p, true));
        if let Some(g) = self.prims[p].group {
            let grp = &self.groups[g];
            if grp.members.first() == Some(&p) {
                list.extend(grp.this_with.iter().copied());
                for &m in &grp.members {
                    if m != p {
                        list.extend(
                            self.prims[m]
                                .this_with
                                .iter()
                                .copied()
                                .filter(|&c| self.colocs[c].explicit),
                        );
                    }
                }
            } else {
                for &m in &grp.members {
                    if m == p {
                        break;
                    }
                    if !self.prims[m].managed {
                        list.extend(
                            grp.this_with
                                .iter()
                                .copied()
                                .filter(|&c| self.colocs[c].score.is_pos_infinity()),
                        );
                        break;
                    }
                }
            }
        }
        self.sort_colocs(&mut list, true);
        list
    }

    /// Colocations in which primitive `p` is (effectively) the primary.
    fn compute_with_this(&self, p: usize) -> Vec<usize> {
        let mut list = self.prims[p].with_this.clone();
        list.extend_from_slice(self.clone_colocs_of(p, false));
        if let Some(g) = self.prims[p].group {
            let grp = &self.groups[g];
            if grp.members.last() == Some(&p) {
                list.extend(grp.with_this.iter().copied());
                for &m in &grp.members {
                    if m != p {
                        list.extend(
                            self.prims[m]
                                .with_this
                                .iter()
                                .copied()
                                .filter(|&c| self.colocs[c].explicit),
                        );
                    }
                }
            }
        }
        self.sort_colocs(&mut list, false);
        list
    }

    // ------------------------------------------------------------ placement

    /// Applies configuration-driven scores: symmetric default, location
    /// constraints, stickiness, fail-count bans.
    pub fn apply_node_criteria(&mut self) {
        self.apply_shutdown_locks();
        // Tickets can fence nodes, so they come first.
        self.apply_tickets();
        self.apply_node_health();
        // Node states are final from here on.
        self.avail = self.nodes.iter().map(NodeInfo::available).collect();
        let mut by_name: Vec<usize> = (0..self.nodes.len()).collect();
        by_name.sort_by(|&a, &b| self.nodes[a].name.cmp(self.nodes[b].name));
        self.name_rank = vec![0; self.nodes.len()];
        for (rank, n) in by_name.into_iter().enumerate() {
            self.name_rank[n] = rank;
        }
        let cib = self.cib;
        self.init_group_scores(None);
        if self.opts.symmetric_cluster {
            // A node's base score (`<node score=…>`, imported as the `#score`
            // attribute) is where every resource starts on it.
            let base: Vec<Score> = self
                .nodes
                .iter()
                .map(|n| {
                    n.attrs
                        .get("#score")
                        .and_then(|v| v.parse::<Score>().ok())
                        .unwrap_or(Score::ZERO)
                })
                .collect();
            self.init_clone_scores(&base);
            self.init_group_scores(Some(&base));
            let label: Arc<str> = Arc::from("node base score");
            for prim in &mut self.prims {
                for (n, (a, b)) in prim.allowed.iter_mut().zip(&base).enumerate() {
                    *a = Some(a.unwrap_or(Score::ZERO) + *b);
                    if *b != Score::ZERO {
                        prim.explain.push(Contribution {
                            nodes: NodeSel::One(n),
                            what: label.clone(),
                            score: *b,
                        });
                    }
                }
            }
        }
        for lc in &cib.config.constraints.location {
            if let Some(exp) = lc.expires {
                if self.now >= exp {
                    continue;
                }
            }
            let Some(&target) = self.by_id.get(lc.rsc.as_str()) else {
                continue;
            };
            let scores = self.location_scores(lc, false);
            match target {
                RscRef::P(p) => {
                    for (n, s, what) in scores {
                        self.location(p, Some(n), s, what);
                    }
                }
                RscRef::C(ci) => {
                    for (n, s, what) in scores {
                        self.clone_location(ci, n, s, what);
                    }
                }
                RscRef::G(g) => {
                    for (n, s, _) in &scores {
                        self.group_location(g, *n, *s);
                    }
                    let members = self.groups[g].members.clone();
                    for (i, &m) in members.iter().enumerate() {
                        for (n, s, what) in &scores {
                            if i == 0 {
                                self.location(
                                    m,
                                    Some(*n),
                                    *s,
                                    format!("{what} (group {})", self.groups[g].id),
                                );
                            } else if self.prims[m].allowed[*n].is_none() {
                                self.prims[m].allowed[*n] = Some(Score::ZERO);
                            }
                        }
                    }
                }
            }
        }
        // Stickiness: managed, sticky, active on exactly one node.
        for p in 0..self.prims.len() {
            let prim = &self.prims[p];
            if !prim.managed || prim.stickiness < 1 || prim.active.len() != 1 {
                continue;
            }
            let n = prim.active[0];
            if !self.opts.symmetric_cluster && prim.allowed[n].is_none() {
                continue;
            }
            let s = Score::new(prim.stickiness);
            self.location(p, Some(n), s, "resource-stickiness".into());
        }
        self.ban_over_migration_threshold();
        self.apply_discovery();
        // Target role Stopped.
        for p in 0..self.prims.len() {
            match self.prims[p].target_role {
                Some(Role::Stopped) => {
                    self.prims[p].next_role = Some(Role::Stopped);
                    self.prims[p].next_role_reason = Some("target-role".into());
                }
                Some(Role::Started) if self.prims[p].next_role.is_none() => {
                    self.prims[p].next_role = Some(Role::Started);
                }
                _ => {}
            }
        }
    }

    /// Fail counts against migration-threshold: a resource that reached it on a
    /// node is banned there. A container's failures include those of what runs
    /// inside it (Pacemaker counts launched resources' fail counts too).
    fn ban_over_migration_threshold(&mut self) {
        let launched_all = self.launched();
        for (p, launched) in launched_all.iter().enumerate() {
            if self.prims[p].ignore_failure {
                continue;
            }
            let threshold = self.prims[p].migration_threshold;
            if threshold <= 0 {
                continue;
            }
            let with_launched = || std::iter::once(p).chain(launched.iter().copied());
            let mut nodes: Vec<usize> = with_launched()
                .flat_map(|q| self.failcounts[q].iter().map(|(n, _)| *n))
                .collect();
            nodes.sort_unstable();
            nodes.dedup();
            for n in nodes {
                let fc = with_launched()
                    .map(|q| Score::new(self.failcount(q, n, false).0))
                    .fold(Score::ZERO, |acc, f| acc + f)
                    .value();
                // A fail count about to be cleared does not count (Pacemaker's
                // check_failure_threshold).
                if fc > 0 && fc >= threshold && !self.prims[p].cleanup.clears(n) {
                    let what = format!("fail count {fc} reached migration-threshold {threshold}");
                    self.location(p, Some(n), Score::NEG_INFINITY, what);
                }
            }
        }
    }

    /// Node order by name (the last tie-breaker).
    /// Per node: what location constraint `lc` adds there (when it applies), for
    /// placement (`promoted` false: constraints and rules limited to a role are
    /// left out) or for promotion (`promoted` true: only those for the Promoted
    /// role, as Pacemaker applies them to promotion priorities).
    pub(crate) fn location_scores(
        &self,
        lc: &hactl_model::LocationConstraint,
        promoted: bool,
    ) -> Vec<(usize, Score, String)> {
        let counts = |role: Option<Role>| {
            let role_limited = matches!(role, Some(Role::Promoted) | Some(Role::Unpromoted));
            if promoted {
                role == Some(Role::Promoted)
            } else {
                !role_limited
            }
        };
        let mut scores: Vec<(usize, Score, String)> = Vec::new();
        if let Some(node) = lc.node.as_ref().filter(|_| counts(lc.role)) {
            if let Some(&n) = self.node_by_name.get(node.as_str()) {
                scores.push((
                    n,
                    lc.score.unwrap_or(Score::ZERO),
                    format!("location {}", lc.id),
                ));
            }
        }
        for rule in &lc.rules {
            if !counts(rule.role.or(lc.role)) {
                continue;
            }
            for n in 0..self.nodes.len() {
                let node = &self.nodes[n];
                let lookup = |k: &str| node.attrs.get(k).map(String::as_str);
                let facts = NodeFacts {
                    name: node.name,
                    id: node.id,
                    is_dc: node.is_dc,
                    cluster_name: self
                        .cib
                        .config
                        .properties
                        .get("cluster-name")
                        .map(|s| s.as_str()),
                    attr: &lookup,
                };
                if !rule_matches(rule, &RuleInput::on_node(&facts, self.now)) {
                    continue;
                }
                let score = match &rule.score_attribute {
                    Some(a) => node
                        .attrs
                        .get(a)
                        .and_then(|v| v.parse::<Score>().ok())
                        .unwrap_or(Score::ZERO),
                    None => rule.score.or(lc.score).unwrap_or(Score::ZERO),
                };
                scores.push((n, score, format!("location {} rule {}", lc.id, rule.id)));
            }
        }
        scores
    }

    pub(crate) fn name_order(&self, a: usize, b: usize) -> std::cmp::Ordering {
        self.name_rank[a].cmp(&self.name_rank[b])
    }

    pub fn assign_all(&mut self) {
        self.capacity = crate::utilization::Capacity::new(self);
        self.this_with_cache = (0..self.prims.len())
            .map(|p| self.compute_this_with(p))
            .collect();
        self.with_this_cache = (0..self.prims.len())
            .map(|p| self.compute_with_this(p))
            .collect();
        self.sort_for_capacity();
        let top = self.connections_first(self.top.clone());
        for r in top {
            self.assign_chain_first(r);
            // A connection partially migrated prefers its migration's target
            // (Pacemaker's allocate_resources), to finish the migration.
            self.prefer = match r {
                RscRef::P(p) if self.is_connection(p) => {
                    self.prims[p].partial_target.map(|t| (p, t))
                }
                _ => None,
            };
            self.assign(r);
            self.prefer = None;
            self.connection_assigned(r);
        }
    }

    /// Assignment recurses into the resources a resource is colocated with. For a
    /// long chain of them, assign the far end first, iteratively, so that the
    /// recursion never goes deep (short chains keep Pacemaker's exact order).
    fn assign_chain_first(&mut self, r: RscRef) {
        let mut chain: Vec<RscRef> = Vec::new();
        let mut seen_p = vec![false; self.prims.len()];
        let mut seen_g = vec![false; self.groups.len()];
        let mut cur = r;
        loop {
            match cur {
                RscRef::P(p) => seen_p[p] = true,
                RscRef::G(g) => seen_g[g] = true,
                RscRef::C(_) => break,
            }
            let p = match cur {
                RscRef::P(p) => p,
                RscRef::G(g) => match self.groups[g].members.first() {
                    Some(&m) => m,
                    None => break,
                },
                RscRef::C(_) => break,
            };
            let next = self.this_with_cache[p]
                .iter()
                .map(|&c| self.colocs[c].primary)
                .find(|&q| {
                    let seen = match q {
                        RscRef::P(x) => seen_p[x],
                        RscRef::G(x) => seen_g[x],
                        RscRef::C(_) => true,
                    };
                    self.is_unassigned(q) && !seen
                });
            match next {
                Some(q) => {
                    chain.push(q);
                    cur = q;
                }
                None => break,
            }
        }
        if chain.len() < MAX_CHAIN_DEPTH {
            return;
        }
        for &q in chain.iter().rev() {
            if self.is_unassigned(q) {
                self.assign(q);
            }
        }
    }

    pub fn assign(&mut self, r: RscRef) -> Option<usize> {
        match r {
            RscRef::P(p) => self.assign_prim(p),
            RscRef::G(g) => self.assign_group(g),
            RscRef::C(c) => {
                self.assign_clone(c);
                None
            }
        }
    }

    fn assign_group(&mut self, g: usize) -> Option<usize> {
        let grp = &self.groups[g];
        if !grp.unassigned {
            return grp.members.first().and_then(|&m| self.prims[m].assigned);
        }
        if grp.assigning {
            return None;
        }
        if grp.members.is_empty() {
            self.groups[g].unassigned = false;
            return None;
        }
        self.groups[g].assigning = true;
        self.note_group_assign(g);
        let members = self.groups[g].members.clone();
        let mut first = None;
        for m in members {
            let n = self.assign_prim(m);
            if first.is_none() {
                first = n;
            }
        }
        self.groups[g].assigning = false;
        self.groups[g].unassigned = false;
        first
    }

    pub(crate) fn is_unassigned(&self, r: RscRef) -> bool {
        match r {
            RscRef::P(p) => self.prims[p].unassigned,
            RscRef::G(g) => self.groups[g].unassigned,
            RscRef::C(c) => self.clones[c].unassigned,
        }
    }

    fn assign_prim(&mut self, p: usize) -> Option<usize> {
        if let Some(g) = self.prims[p].group {
            if !self.groups[g].assigning && self.groups[g].unassigned {
                self.assign_group(g);
            }
        }
        if !self.prims[p].unassigned {
            return self.prims[p].assigned;
        }
        if self.prims[p].assigning {
            return None;
        }
        self.prims[p].assigning = true;
        let this_with = self.this_with_list(p);
        let with_this = self.with_this_list(p);
        for pass_mandatory in [true, false] {
            for &c in &this_with {
                if self.colocs[c].score.is_infinite() == pass_mandatory {
                    self.apply_this_with(c, p);
                }
            }
            for &c in &with_this {
                if self.colocs[c].score.is_infinite() == pass_mandatory {
                    self.add_dependent_scores(c, p);
                }
            }
        }
        let orig_role = self.prims[p].orig_role;
        if self.prims[p].next_role == Some(Role::Stopped) {
            self.ban_everywhere(p, "target-role=Stopped");
        } else if orig_role == Role::Stopped
            && self.prims[p].next_role == Some(Role::Started)
            && !self.quorate
            && self.nqp == NoQuorumPolicy::Freeze
        {
            // An explicitly wanted start cannot happen without quorum.
            self.prims[p].next_role = Some(orig_role);
            self.prims[p].next_role_reason = Some("no-quorum-policy=freeze".into());
        }
        if self.opts.stonith_enabled && !self.have_fencing {
            self.prims[p].managed = false;
        }
        if !self.prims[p].managed {
            let cur = self.prims[p].active.first().copied();
            self.prims[p].next_role = Some(orig_role);
            self.do_assign(p, cur, true);
        } else if self.opts.stop_all_resources {
            self.do_assign(p, None, true);
        } else {
            self.ban_insufficient_capacity(p);
            self.assign_best_node(p);
        }
        self.prims[p].assigning = false;
        self.prims[p].assigned
    }

    fn node_score(&self, p: usize, n: usize) -> Score {
        if !self.avail[n] {
            return Score::NEG_INFINITY;
        }
        self.prims[p].allowed[n].unwrap_or(Score::NEG_INFINITY)
    }

    fn assign_best_node(&mut self, p: usize) {
        let current = self.prims[p].active.first().copied();
        // The best node: highest score, then fewest resources assigned, then the
        // current node, then the lowest name (a linear scan, not a sort).
        let better = |a: usize, b: usize| -> bool {
            let (sa, sb) = (self.node_score(p, a), self.node_score(p, b));
            let ord = sb
                .cmp(&sa)
                .then_with(|| self.capacity_order(a, b))
                .then(
                    self.nodes[a]
                        .num_resources
                        .cmp(&self.nodes[b].num_resources),
                )
                .then_with(|| (Some(b) == current).cmp(&(Some(a) == current)))
                .then(self.name_rank[a].cmp(&self.name_rank[b]));
            ord == std::cmp::Ordering::Less
        };
        let mut best: Option<usize> = None;
        for n in 0..self.nodes.len() {
            if self.prims[p].allowed[n].is_none() {
                continue;
            }
            if best.is_none_or(|b| better(n, b)) {
                best = Some(n);
            }
        }
        let Some(best) = best else {
            self.do_assign(p, None, false);
            return;
        };
        // A clone instance tried on its current node first (see clone.rs).
        if let Some((q, pref)) = self.prefer {
            let ok = q == p
                && self.prims[p].allowed[pref].is_some()
                && self.node_score(p, pref) >= self.node_score(p, best)
                && self.avail[pref]
                && self.node_score(p, pref) >= Score::ZERO;
            if ok {
                self.do_assign(p, Some(pref), false);
                return;
            }
        }
        let mut chosen = best;
        let best_score = self.node_score(p, best);
        if best_score > Score::ZERO && self.avail[best] {
            if let Some(cur) = current {
                // Stay on the current node when it is just as good.
                let cur_ok =
                    self.avail[cur] && self.prims[p].allowed[cur].is_some_and(|s| s >= Score::ZERO);
                if cur_ok && self.node_score(p, cur) == best_score {
                    chosen = cur;
                }
            }
        }
        self.do_assign(p, Some(chosen), false);
    }

    pub(crate) fn do_assign(&mut self, p: usize, node: Option<usize>, force: bool) {
        let mut node = node;
        if !force {
            if let Some(n) = node {
                let score = self.prims[p].allowed[n].unwrap_or(Score::NEG_INFINITY);
                if score < Score::ZERO || !self.avail[n] {
                    if self.prims[p].next_role != Some(Role::Stopped) {
                        self.prims[p].next_role = Some(Role::Stopped);
                        self.prims[p].next_role_reason = Some("node availability".into());
                    }
                    node = None;
                }
            }
        }
        self.prims[p].unassigned = false;
        self.prims[p].assigned = node;
        match node {
            None => {
                if self.prims[p].next_role != Some(Role::Stopped) {
                    self.prims[p].next_role = Some(Role::Stopped);
                    self.prims[p].next_role_reason = Some("node availability".into());
                }
            }
            Some(n) => {
                self.nodes[n].num_resources += 1;
                self.consume_capacity(p, n);
            }
        }
    }

    fn any_available(&self, table: &[Option<Score>]) -> bool {
        table
            .iter()
            .enumerate()
            .any(|(n, s)| s.is_some_and(|s| s >= Score::ZERO) && self.avail[n])
    }

    fn apply_this_with(&mut self, c: usize, p: usize) {
        let coloc = self.colocs[c].clone();
        let archive = if coloc.score < Score::ZERO && !coloc.score.is_infinite() {
            Some((self.prims[p].allowed.clone(), self.prims[p].explain.len()))
        } else {
            None
        };
        if self.is_unassigned(coloc.primary) {
            self.assign(coloc.primary);
        }
        // Resolve the primary primitive whose placement matters.
        let primary = match coloc.primary {
            RscRef::P(q) => Some(q),
            RscRef::C(x) => {
                self.apply_coloc_with_clone(p, x, &coloc);
                None
            }
            RscRef::G(g) => {
                if self.groups[g].unassigned {
                    None
                } else if coloc.score.is_pos_infinity() {
                    self.groups[g].members.last().copied()
                } else {
                    self.groups[g].members.first().copied()
                }
            }
        };
        if let Some(q) = primary {
            self.apply_coloc_to_scores(p, q, &coloc);
        }
        if let Some((allowed, len)) = archive {
            if !self.any_available(&self.prims[p].allowed) {
                self.prims[p].allowed = allowed;
                self.prims[p].explain.truncate(len);
            }
        }
    }

    pub(crate) fn apply_coloc_to_scores(&mut self, dep: usize, primary: usize, coloc: &Coloc) {
        if self.prims[primary].unassigned || !self.prims[dep].unassigned {
            return;
        }
        let where_ = self.prims[primary].assigned;
        if where_.is_none() && coloc.score < Score::ZERO {
            return;
        }
        let mut work = self.prims[dep].allowed.clone();
        let mut notes = Vec::new();
        for (n, slot) in work.iter_mut().enumerate() {
            let Some(cur) = *slot else { continue };
            match where_ {
                None => {
                    *slot = Some(cur + (-coloc.score));
                    notes.push((n, -coloc.score));
                }
                Some(w) if w == n => {
                    if !coloc.score.is_pos_infinity() {
                        *slot = Some(cur + coloc.score);
                        notes.push((n, coloc.score));
                    }
                }
                Some(_) => {
                    if coloc.score.is_pos_infinity() {
                        *slot = Some(Score::NEG_INFINITY);
                        notes.push((n, Score::NEG_INFINITY));
                    }
                }
            }
        }
        if coloc.score.is_infinite() || self.any_available(&work) {
            self.prims[dep].allowed = work;
            let label: Arc<str> = if coloc.explicit {
                format!("colocation {} with {}", coloc.id, self.prims[primary].id).into()
            } else {
                format!("group member after {}", self.prims[primary].id).into()
            };
            push_notes(&mut self.prims[dep].explain, notes, label);
        }
    }

    fn add_dependent_scores(&mut self, c: usize, primary: usize) {
        let coloc = self.colocs[c].clone();
        if !self.has_influence(&coloc) {
            return;
        }
        let factor = coloc.score.value() as f64 / INF as f64;
        let mut table = self.prims[primary].allowed.clone();
        let before = table.clone();
        self.merge_colocated_scores(coloc.dependent, &mut table, &coloc, factor);
        if self.coloc_walk_cut && self.coloc_merges_cut.last() != Some(&primary) {
            self.coloc_merges_cut.push(primary);
        }
        let mut notes = Vec::new();
        for (n, (a, b)) in before.iter().zip(table.iter()).enumerate() {
            if a != b {
                let delta = match (a, b) {
                    (Some(a), Some(b)) if !a.is_infinite() && !b.is_infinite() => {
                        Score::new(b.value() - a.value())
                    }
                    (_, Some(b)) => *b,
                    _ => Score::ZERO,
                };
                notes.push((n, delta));
            }
        }
        if !notes.is_empty() {
            let what = format!(
                "preferences of {} (colocated with it{})",
                self.rsc_id(coloc.dependent),
                if coloc.explicit {
                    format!(" by {}", coloc.id)
                } else {
                    " in its group".to_string()
                }
            );
            push_notes(&mut self.prims[primary].explain, notes, what.into());
        }
        self.prims[primary].allowed = table;
    }

    /// Merges `source`'s preferences (and those colocated with it) into `table`,
    /// within the walk budget.
    pub(crate) fn merge_colocated_scores(
        &mut self,
        source: RscRef,
        table: &mut Vec<Option<Score>>,
        coloc: &Coloc,
        factor: f64,
    ) {
        self.coloc_visits_left = COLOC_MERGE_BUDGET;
        self.coloc_walk_cut = false;
        self.add_colocated_node_scores(source, table, coloc, factor, 0);
    }

    pub(crate) fn has_influence(&self, coloc: &Coloc) -> bool {
        if coloc.influence {
            return true;
        }
        match coloc.primary {
            RscRef::P(q) => self.prims[q].active.is_empty(),
            RscRef::G(g) => self.groups[g]
                .members
                .iter()
                .all(|&m| self.prims[m].active.is_empty()),
            RscRef::C(c) => self.clones[c]
                .instances
                .iter()
                .all(|&m| self.prims[m].active.is_empty()),
        }
    }

    /// Pacemaker's add_colocated_node_scores: merges `source`'s node preferences
    /// (and, recursively, those of resources colocated with it) into `table`.
    pub(crate) fn add_colocated_node_scores(
        &mut self,
        source: RscRef,
        table: &mut Vec<Option<Score>>,
        coloc: &Coloc,
        factor: f64,
        depth: usize,
    ) {
        // Pacemaker follows chains of colocations to any depth; bounding it keeps
        // the stack bounded for very long chains (the deep links' preferences are
        // then ignored, which only matters for chains longer than this).
        if depth > MAX_CHAIN_DEPTH {
            return;
        }
        if self.coloc_visits_left == 0 {
            self.coloc_walk_cut = true;
            return;
        }
        self.coloc_visits_left -= 1;
        let source_p = match source {
            RscRef::P(q) => q,
            RscRef::G(g) => {
                if self.groups[g].updating {
                    return;
                }
                match self.groups[g].members.first() {
                    Some(&m) => {
                        self.groups[g].updating = true;
                        self.add_colocated_node_scores(
                            RscRef::P(m),
                            table,
                            coloc,
                            factor,
                            depth + 1,
                        );
                        self.groups[g].updating = false;
                        return;
                    }
                    None => return,
                }
            }
            RscRef::C(c) => {
                if self.clones[c].updating {
                    return;
                }
                self.clones[c].updating = true;
                let src = self.clones[c].allowed.clone();
                let mut list = self.clones[c].with_this.clone();
                self.sort_colocs(&mut list, false);
                self.merge_source_scores(src, list, table, coloc, factor, depth);
                self.clones[c].updating = false;
                return;
            }
        };
        if self.prims[source_p].updating {
            return;
        }
        self.prims[source_p].updating = true;
        // Scores of the source on each node (uname attribute: node itself).
        let src_allowed = self.effective_source_scores(source_p, coloc);
        let list = self.with_this_list(source_p);
        self.merge_source_scores(src_allowed, list, table, coloc, factor, depth);
        self.prims[source_p].updating = false;
    }

    /// The body of `add_colocated_node_scores` once the source's own scores and
    /// the colocations with it are known. When no node is left available the
    /// table is left as it was (Pacemaker's pcmk__coloc_select_active).
    fn merge_source_scores(
        &mut self,
        src_allowed: Vec<Option<Score>>,
        list: Vec<usize>,
        table: &mut Vec<Option<Score>>,
        coloc: &Coloc,
        factor: f64,
        depth: usize,
    ) {
        let mut work = table.clone();
        for (n, slot) in work.iter_mut().enumerate() {
            let Some(cur) = *slot else { continue };
            let score = match src_allowed[n] {
                Some(s) if self.avail[n] => s,
                _ => Score::NEG_INFINITY,
            };
            if factor < 0.0 && score < Score::ZERO {
                let primary_stick = match coloc.primary {
                    RscRef::P(q) => self.prims[q].stickiness,
                    RscRef::G(g) => self.groups[g]
                        .members
                        .first()
                        .map(|&m| self.prims[m].stickiness)
                        .unwrap_or(0),
                    RscRef::C(c) => self.clones[c]
                        .instances
                        .first()
                        .map(|&m| self.prims[m].stickiness)
                        .unwrap_or(0),
                };
                if primary_stick >= -score.value()
                    || !self.has_influence(coloc)
                    || !self.allowed_on_one(coloc.dependent)
                {
                    continue;
                }
            }
            let delta_f = factor * score.value() as f64;
            let mut delta = if delta_f < 0.0 {
                (delta_f - 0.5) as i64
            } else {
                (delta_f + 0.5) as i64
            };
            if delta == 0 && score != Score::ZERO {
                if factor > 0.0 {
                    delta = 1;
                } else if factor < 0.0 {
                    delta = -1;
                }
            }
            // Infinite products stay infinite.
            let d = if score.is_infinite() && factor != 0.0 {
                if (score.value() > 0) == (factor > 0.0) {
                    if factor.abs() >= 1.0 {
                        Score::INFINITY
                    } else {
                        Score::new(delta)
                    }
                } else if factor.abs() >= 1.0 {
                    Score::NEG_INFINITY
                } else {
                    Score::new(delta)
                }
            } else {
                Score::new(delta)
            };
            *slot = Some(d + cur);
        }
        if self.any_available(&work) {
            for c in list {
                let con = self.colocs[c].clone();
                if !self.has_influence(&con) {
                    continue;
                }
                let other_factor = factor * con.score.value() as f64 / INF as f64;
                self.add_colocated_node_scores(
                    con.dependent,
                    &mut work,
                    &con,
                    other_factor,
                    depth + 1,
                );
            }
        } else {
            return;
        }
        *table = work;
    }

    /// The dependent's scores used when its preferences are merged into a primary.
    /// A group member other than the first that is an explicit dependent also counts
    /// its group's location constraints (which were only applied to the first).
    fn effective_source_scores(&self, q: usize, coloc: &Coloc) -> Vec<Option<Score>> {
        let mut v = self.prims[q].allowed.clone();
        if coloc.explicit && coloc.dependent == RscRef::P(q) {
            if let Some(g) = self.prims[q].group {
                if self.groups[g].members.first() != Some(&q) {
                    let gid = &*self.groups[g].id;
                    for lc in &self.cib.config.constraints.location {
                        if lc.rsc != gid {
                            continue;
                        }
                        if let (Some(node), Some(s)) = (&lc.node, lc.score) {
                            if let Some(&n) = self.node_by_name.get(node.as_str()) {
                                v[n] = Some(v[n].unwrap_or(Score::ZERO) + s);
                            }
                        }
                    }
                }
            }
        }
        v
    }

    fn allowed_on_one(&self, r: RscRef) -> bool {
        let table = match r {
            RscRef::P(p) => &self.prims[p].allowed,
            RscRef::G(g) => match self.groups[g].members.first() {
                Some(&m) => &self.prims[m].allowed,
                None => return false,
            },
            RscRef::C(c) => &self.clones[c].allowed,
        };
        table
            .iter()
            .filter(|s| s.is_some_and(|s| s >= Score::ZERO))
            .count()
            == 1
    }
}

/// Operations in call order without allocating when they already are.
enum OpsIter<'o> {
    InOrder(std::slice::Iter<'o, OpRecord>),
    Sorted(std::vec::IntoIter<&'o OpRecord>),
}

impl<'o> Iterator for OpsIter<'o> {
    type Item = &'o OpRecord;
    fn next(&mut self) -> Option<&'o OpRecord> {
        match self {
            OpsIter::InOrder(i) => i.next(),
            OpsIter::Sorted(i) => i.next(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Monitor,
    Start,
    Stop,
    /// promote, demote, migrate_from: leave the resource active.
    StartLike,
    /// migrate_to.
    Other,
}

fn set_monitor(monitors: &mut Vec<(u64, bool)>, interval: u64, ok: bool) {
    match monitors.iter_mut().find(|(i, _)| *i == interval) {
        Some(m) => m.1 = ok,
        None => monitors.push((interval, ok)),
    }
}

fn on_fail_rank(o: OnFail) -> u8 {
    match o {
        OnFail::Ignore => 0,
        OnFail::Demote => 1,
        OnFail::Restart => 2,
        OnFail::RestartContainer => 3,
        OnFail::Block => 5,
        OnFail::Stop => 6,
        OnFail::Standby => 7,
        OnFail::Fence => 8,
    }
}

/// A completed start/stop/monitor clears earlier failures, except those whose
/// handling is permanent (stop, standby, fence).
fn clear_past_failure(on_fail: &mut OnFail, have_fail: &mut bool, failed_here: &mut bool) {
    match on_fail {
        OnFail::Stop | OnFail::Standby | OnFail::Fence => {}
        _ => {
            *on_fail = OnFail::Ignore;
            *have_fail = false;
            *failed_here = false;
        }
    }
}

fn online_without_fencing(info: &mut NodeInfo<'_>, st: &NodeStatus) {
    let shutdown = shutdown_requested(info, st);
    info.shutdown = shutdown;
    let member = st.member == Some(true);
    let crmd = st.controller_online == Some(true);
    let join_member = st.join.as_deref() == Some("member");
    info.online = member && crmd && join_member;
    if member && crmd && !join_member && st.join.as_deref() == Some("pending") {
        info.pending = true;
    }
}

fn shutdown_requested(info: &NodeInfo<'_>, st: &NodeStatus) -> bool {
    if let Some(t) = st.shutdown {
        if t != 0 {
            return true;
        }
    }
    matches!(info.attrs.get("shutdown"), Some(v) if v != "0")
}

fn online_with_fencing(info: &mut NodeInfo<'_>, st: &NodeStatus) {
    let shutdown = shutdown_requested(info, st);
    info.shutdown = shutdown;
    let when_member: i64 = match st.member {
        None => -1,
        Some(true) => 1,
        Some(false) => 0,
    };
    let when_online: i64 = if st.controller_online == Some(true) {
        1
    } else {
        0
    };
    let join = st.join.as_deref();
    let expected = st.expected.as_deref();
    let terminate = matches!(info.attrs.get("terminate"), Some(v) if parse_bool(v) == Some(true) || v.parse::<i64>().is_ok_and(|x| x > 0));
    let fence = |info: &mut NodeInfo<'_>, r: &str| {
        if !info.unclean {
            info.unclean = true;
            info.fence_reason = Some(r.to_string());
        }
    };
    if shutdown {
        info.online = when_online > 0;
        return;
    }
    if when_member < 0 {
        fence(info, "peer has not been seen by the cluster");
        info.online = false;
        return;
    }
    if join == Some("banned") {
        fence(info, "peer failed Pacemaker membership criteria");
    } else if terminate {
        if when_member <= 0 && when_online <= 0 && join == Some("down") {
            info.online = false;
            return;
        }
        fence(info, "fencing was requested");
    } else if expected.is_none() || expected == Some("down") {
        if when_member > 0 || when_online > 0 {
            info.pending = true;
        }
    } else if when_member <= 0 {
        fence(info, "peer is no longer part of the cluster");
    } else if when_online <= 0 {
        fence(info, "peer process is no longer available");
    } else if join == Some("member") {
        // Active.
    } else if matches!(join, Some("pending") | Some("down")) {
        info.pending = true;
    } else {
        fence(info, "peer was in an unknown state");
    }
    info.online = when_member > 0;
}
