//! The policy engine (scheduler): a pure function from a CIB and a point in time to
//! a transition — the actions (fence, stop, start, probe, monitor) that bring the
//! cluster from its current state to the placement the configuration asks for,
//! with the ordering edges between them.
//!
//! No I/O, no clocks, no randomness: `schedule(cib, now)` gives the same
//! `Transition` for the same input. Semantics follow Pacemaker's scheduler
//! (scores with ±INFINITY, stickiness, location/colocation/order constraints,
//! groups as ordered and colocated chains, failures and migration-threshold,
//! on-fail, fencing of unclean nodes, no-quorum-policy), so that Pacemaker's own
//! regression cases can be used as the oracle (see `tests/tests/cts.rs`).
//!
//! Differences from Pacemaker worth knowing: colocation `node-attribute` is always
//! the node name; colocation chains longer than 32 links stop contributing
//! preferences (Pacemaker follows them to any depth); merging a resource's
//! colocated preferences visits at most 2,000 resources (Pacemaker walks every
//! path, factorial for densely colocated sets — see `sched::COLOC_MERGE_BUDGET`;
//! a cut is reported in `Transition::warnings`); anonymous, globally-unique and
//! promotable clones of primitives are scheduled (`clone.rs`, `promotable.rs`),
//! with their notifications (`notify.rs`) and `clone-min` (`clone_min.rs`), and
//! live migration of a primitive that stands alone (`migration.rs`), anonymous
//! clones of groups (`clone_group.rs`) and bundles (`bundle.rs`, their guest
//! nodes in `bundle_nodes.rs`), while bundles with more than one replica per
//! host and promotable, unique, ordered or notifying clones of groups are
//! refused when a CIB is imported.

mod actions;
mod assign_scores;
pub use assign_scores::AssignScores;
mod bundle;
mod bundle_nodes;
mod bundle_status;
#[cfg(test)]
mod bundle_tests;
mod cancel;
mod cleanup;
mod clone;
mod clone_actions;
mod clone_group;
mod clone_min;
mod clone_status;
mod coloc_block;
#[cfg(test)]
mod coloc_block_tests;
mod conditional;
#[cfg(test)]
mod conditional_tests;
mod container;
#[cfg(test)]
mod container_tests;
mod digest;
#[cfg(test)]
mod digest_tests;
mod discovery;
#[cfg(test)]
mod discovery_tests;
mod fence_order;
mod graph;
mod group_order;
mod guest;
#[cfg(test)]
mod guest_tests;
mod health;
mod history_order;
#[cfg(test)]
mod influence_tests;
mod load_order;
mod migration;
mod migration_history;
mod migration_orders;
mod multiple_active;
mod notify;
mod one_or_more;
mod output;
mod probe_order;
mod promotable;
mod promotable_actions;
mod promotion_scores;
pub use promotion_scores::PromotionScore;
#[cfg(test)]
mod promote_history_tests;
mod raw_scores;
mod remote;
mod remote_fencing;
#[cfg(test)]
mod remote_fencing_tests;
#[cfg(test)]
mod remote_tests;
#[cfg(test)]
mod removed_actions_tests;
#[cfg(test)]
mod repeated_history_tests;
mod role_order_scope;
mod rules;
mod sched;
mod shutdown_lock;
mod status_marks;
#[cfg(test)]
mod stop_reason_tests;
mod stopped_monitors;
mod tickets;
mod unfence;
mod utilization;
#[cfg(test)]
mod utilization_order_tests;

use std::sync::Arc;

use serde::{Serialize, Serializer};

use hactl_model::{Cib, ModelError, Role, Score};

use actions::Task;
use sched::{RscRef, Sched};

pub use graph::{graph_xml, graph_xml_at, operation_key};
pub use output::{
    format_resource_blocks, format_status, rsc_line as format_resource_line,
    rsc_line_named as format_resource_line_named,
};
pub use status_marks::pending_state;

/// Node attribute a node sets on itself when it leaves by force (`hactl cluster stop
/// --force`) with resources it could not confirm stopped (value: their ids). Its
/// history then stays meaningful while it is away even without fencing: what it
/// may still run is blocked there, never started a second time elsewhere.
pub const LEFT_RUNNING_ATTR: &str = "hactl-left-running";

/// Why a CIB could not be scheduled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("invalid cluster configuration: {0}")]
    Config(#[source] ModelError),
    /// The status shows something the scheduler does not implement yet.
    #[error("resource {rsc:?} on {node:?}: {reason}")]
    Unsupported {
        rsc: String,
        node: String,
        reason: String,
    },
    /// As `Unsupported`, for what concerns a whole node rather than one resource.
    #[error("node {node:?}: {reason}")]
    NodeUnsupported { node: String, reason: String },
}

/// Which state `format_status` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusView {
    /// The state recorded in the CIB.
    Current,
    /// The state after the transition has run successfully.
    Revised,
}

/// The result of one scheduler run.
#[derive(Debug, Clone, Serialize)]
pub struct Transition {
    /// Scheduled actions (only those that must run; optional ones are dropped).
    pub actions: Vec<Action>,
    /// Ordering between scheduled actions: `before` must finish before `after` runs.
    pub edges: Vec<OrderingEdge>,
    /// Per primitive: where it is and where it goes.
    pub placements: Vec<Placement>,
    /// Per node: its state as the scheduler saw it.
    pub nodes: Vec<NodeState>,
    /// The "Transition Summary" lines, without the leading `* `.
    pub summary: Vec<String>,
    /// Per primitive: final node scores and what contributed to them.
    pub scores: Vec<ResourceScores>,
    /// Where the scheduler had to depart from Pacemaker's exact result to stay
    /// bounded in time (a colocation walk cut short); empty almost always.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Scores as groups and clones start being assigned (`--show-scores --raw`).
    #[serde(skip)]
    pub assign_scores: Vec<AssignScores>,
    /// Promotable clone instances' promotion scores (`--show-scores --raw`).
    #[serde(skip)]
    pub promotion_scores: Vec<PromotionScore>,
}

/// One action of the transition graph.
#[derive(Debug, Clone, Serialize)]
pub struct Action {
    /// Index in `Transition::actions`.
    pub id: usize,
    pub kind: ActionKind,
    /// The primitive or group acted on (none for fencing). Shared with every other
    /// action on the same resource (a large transition has hundreds of thousands
    /// of actions, mostly probes; one string each was most of its build time).
    #[serde(serialize_with = "ser_opt_str")]
    pub resource: Option<Arc<str>>,
    /// Shared like `resource`.
    #[serde(serialize_with = "ser_opt_str")]
    pub node: Option<Arc<str>>,
    /// Why the action is needed, or why it cannot run.
    pub reason: Option<String>,
    /// False when the action is part of the plan but cannot be executed (blocked).
    pub runnable: bool,
    /// Pseudo actions have no executor: group markers, stops implied by fencing.
    pub pseudo: bool,
    /// An anonymous clone instance's name in the node's history when it is not
    /// `resource` (`db`, or another instance number): the executor runs and
    /// records the operation under it, so that a node keeps one history per clone.
    #[serde(
        serialize_with = "ser_opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub history_name: Option<Arc<str>>,
}

/// Serializes a shared name as a plain JSON string (without serde's `rc` feature).
fn ser_opt_str<S: Serializer>(v: &Option<Arc<str>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(&**v),
        None => s.serialize_none(),
    }
}

fn ser_str<S: Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

/// What an action does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ActionKind {
    /// Fence the node (`reboot` or `off`).
    Fence {
        action: String,
    },
    Stop,
    Start,
    /// One-shot monitor (interval 0) to learn a resource's state on a node.
    Probe,
    /// Recurring monitor.
    Monitor {
        interval_ms: u64,
    },
    /// A group's or a clone's pseudo actions (`resource` says which).
    GroupStart,
    GroupRunning,
    GroupStop,
    GroupStopped,
    /// Promote or demote an instance of a promotable clone (OCF `promote`,
    /// `demote`).
    Promote,
    Demote,
    /// Cancel a recurring monitor: of the role an instance leaves, in maintenance
    /// mode, or no longer configured (see `cancel.rs`); its history entry goes.
    Cancel {
        interval_ms: u64,
    },
    /// A promotable clone's pseudo actions.
    GroupPromote,
    GroupPromoted,
    GroupDemote,
    GroupDemoted,
    /// Apply changed reloadable parameters without a restart (OCF
    /// `reload-agent`, or `reload` for agents before OCF 1.1).
    Reload,
    /// A clone notification (`notify=true`, see `notify.rs`): the agent's `notify`
    /// action on one instance, before (`Pre`) or after (`Post`) the clone's
    /// instances run `of`. `env` holds the `notify_*` meta attributes the agent
    /// gets as `OCF_RESKEY_CRM_meta_<name>`.
    Notify {
        phase: NotifyPhase,
        of: NotifyOf,
        env: Vec<(String, String)>,
    },
    /// A clone's notification pseudo actions (`clone_pre_notify_start_0`,
    /// `clone_confirmed-post_notify_running_0`, ...).
    NotifyMarker {
        phase: NotifyPhase,
        of: NotifyOf,
    },
    /// `clone-one-or-more:<ordering>`: enough instances of a clone with
    /// `clone-min` can run the action the ordering names (`clone_min.rs`).
    CloneOneOrMore {
        ordering: String,
    },
    /// Clear the resource's fail count on the node (an expired failure, a changed
    /// definition, a removed resource; see `cleanup.rs`). The DC does it by
    /// itself when it plans the transition.
    ClearFailcount,
    /// Delete the resource's history on the node (a removed resource, a changed
    /// agent; see `cleanup.rs`), after it stopped there.
    Delete,
    /// Live migration (`allow-migrate`, see `migration.rs`): the agent's
    /// `migrate_to` on the source node, then its `migrate_from` on the target;
    /// the agent gets both nodes as `OCF_RESKEY_CRM_meta_migrate_source` and
    /// `_target`.
    MigrateTo {
        source: String,
        target: String,
    },
    MigrateFrom {
        source: String,
        target: String,
    },
    /// Pacemaker's `load_stopped_<node>` pseudo action: under a placement
    /// strategy, the stops of resources with utilization on the node come
    /// before the starts there (`utilization.rs`).
    LoadStopped,
}

pub use notify::{NotifyOf, NotifyPhase};

/// `before` → `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OrderingEdge {
    pub before: usize,
    pub after: usize,
    pub kind: EdgeKind,
}

/// How strongly `after` depends on `before` (Pacemaker's ordering flags reduced to
/// what the transition engine needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// `after` must not run unless `before` ran: any ordering that carries more
    /// than "ordered" (implies-then, implies-first, unrunnable-first-blocks,
    /// intermediate stop, asymmetric mandatory order). If `before` cannot be
    /// carried out, `after` is not either.
    Mandatory,
    /// Only sequence (Pacemaker's pe_order_optional, `pcmk__ar_ordered` alone):
    /// `after` waits while `before` is pending, but runs without it when
    /// `before` cannot run.
    Optional,
}

/// Where a primitive runs now and where the transition puts it.
#[derive(Debug, Clone, Serialize)]
pub struct Placement {
    pub resource: String,
    pub group: Option<String>,
    /// The clone it is an instance of (its id is then `<primitive>:<number>`).
    pub clone: Option<String>,
    /// `class:provider:type`.
    pub agent: String,
    /// Nodes where it is active now (more than one: multiply active).
    pub current: Vec<String>,
    /// The node it is assigned to, if any.
    pub target: Option<String>,
    /// Role after the transition: `Started` or `Stopped`; for an instance of a
    /// promotable clone `Promoted`, `Unpromoted` or `Stopped`.
    pub role: String,
    /// An instance of a promotable clone.
    pub promotable: bool,
    /// The name the history knows an anonymous clone instance by, when not its
    /// id (Pacemaker's graph keys its actions by it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_name: Option<String>,
    /// Instances of promotable clones: promoted now (per the history).
    pub promoted: bool,
    /// Runs promoted once the transition has run.
    pub promoted_after: bool,
    pub failed: bool,
    /// Nodes where its last operation failed.
    pub failed_on: Vec<String>,
    pub unmanaged: bool,
    pub orphan: bool,
    pub blocked: bool,
    /// target-role=Stopped.
    pub disabled: bool,
    pub maintenance: bool,
    /// A failure was ignored because of on-fail=ignore.
    pub failure_ignored: bool,
    /// Where it runs once the runnable actions have run (blocked actions leave it
    /// where it is).
    pub after: Vec<String>,
    /// Still failed after the transition (its recovery is blocked).
    pub failed_after: bool,
    /// An operation its history records as still in flight (`start`, `monitor`,
    /// …; Pacemaker's `record-pending`), shown as `Starting` or `(Monitoring)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_task: Option<String>,
}

/// A node as the scheduler saw it.
#[derive(Debug, Clone, Serialize)]
pub struct NodeState {
    pub name: String,
    pub online: bool,
    pub unclean: bool,
    pub standby: bool,
    pub maintenance: bool,
    pub pending: bool,
    pub shutdown: bool,
    /// Why the node is to be fenced.
    pub fence_reason: Option<String>,
}

/// Final scores of one primitive.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceScores {
    pub resource: String,
    /// Final score per node, in the order of `Transition::nodes`; `None`: the node
    /// is not allowed at all (asymmetric cluster and no constraint enabling it).
    pub scores: Vec<Option<Score>>,
    /// What made those scores, in the order it was applied.
    pub contributions: Vec<Contribution>,
    pub chosen: Option<String>,
    /// Why `chosen` won (or why nothing was chosen).
    pub why: String,
}

/// One input to a resource's node scores.
#[derive(Debug, Clone, Serialize)]
pub struct Contribution {
    /// The constraint, stickiness, failure ban, colocation, … that added it
    /// (shared: the same label is on many resources).
    #[serde(serialize_with = "ser_str")]
    pub what: Arc<str>,
    pub score: Score,
    /// Indices into `Transition::nodes`; `None` means every node.
    pub nodes: Option<Vec<usize>>,
}

/// Computes the transition for `cib` at `now` (seconds since the Unix epoch).
pub fn schedule(cib: &Cib, now: i64) -> Result<Transition, PolicyError> {
    run(cib, now, None)
}

/// What only a running cluster knows, which its DC tells the policy engine instead
/// of taking the CIB's word for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveFacts {
    /// Every node has armed a watchdog. Pacemaker maintains `have-watchdog` itself
    /// (from SBD), so a simulated Pacemaker CIB's property is believed; in a live
    /// hactl cluster anyone can set the property, and a watchdog that is not armed
    /// fences nothing.
    pub have_watchdog: bool,
    /// Live migrations can be recorded (every member reads the records of their
    /// steps); without, resources move by stop and start.
    pub migrate: bool,
}

/// [`schedule`] for the live cluster: `live` replaces what the CIB says of it.
pub fn schedule_live(cib: &Cib, now: i64, live: LiveFacts) -> Result<Transition, PolicyError> {
    run(cib, now, Some(live))
}

fn run(cib: &Cib, now: i64, live: Option<LiveFacts>) -> Result<Transition, PolicyError> {
    // Rules in attribute sets are evaluated once, at `now`, before anything reads them.
    let cib = &*conditional::resolve(cib, now);
    let cib = &*bundle::expand(cib);
    let cib = &*guest::expand(cib);
    let cib = &*container::desugar(cib);
    let mut s = Sched::new(cib, now)?;
    if let Some(l) = live {
        s.set_have_watchdog(l.have_watchdog);
        s.migrations_recordable = l.migrate;
    }
    s.check_migration_history()?;
    s.apply_node_criteria();
    s.apply_remote_bans();
    s.apply_bundle_bans();
    s.check_definitions();
    s.restart_failed_containers();
    s.assign_all();
    s.continue_partial_migrations()?;
    s.check_unfencing()?;
    let mut g = s.build_graph();
    let notify_env = notify::add_notifications(&s, &mut g);
    Ok(build_transition(&s, &g, notify_env))
}

fn build_transition(
    s: &Sched<'_>,
    g: &actions::Graph,
    mut notify_env: notify::NotifyEnv,
) -> Transition {
    let mut map = vec![None; g.acts.len()];
    let mut out_actions =
        Vec::with_capacity(g.acts.iter().filter(|a| !a.optional).count() + g.probes.len());
    let node_names: Vec<String> = s.nodes.iter().map(|n| n.name.to_string()).collect();
    // One shared string per node and per resource, made only when first used.
    let node_arcs: Vec<Arc<str>> = s.nodes.iter().map(|n| Arc::from(n.name)).collect();
    let mut prim_arcs: Vec<Option<Arc<str>>> = vec![None; s.prims.len()];
    let mut group_arcs: Vec<Option<Arc<str>>> = vec![None; s.groups.len()];
    let mut clone_arcs: Vec<Option<Arc<str>>> = vec![None; s.clones.len()];
    let mut rsc_arc = |r: RscRef| -> Arc<str> {
        let (slot, id) = match r {
            RscRef::P(p) => (&mut prim_arcs[p], s.prims[p].id.as_str()),
            RscRef::G(gi) => (&mut group_arcs[gi], &*s.groups[gi].id),
            RscRef::C(ci) => (&mut clone_arcs[ci], s.clones[ci].id),
        };
        slot.get_or_insert_with(|| Arc::from(id)).clone()
    };
    for (i, a) in g.acts.iter().enumerate() {
        if a.optional && !g.always_in_graph.contains(&i) {
            continue;
        }
        let id = out_actions.len();
        map[i] = Some(id);
        let kind = match a.task {
            Task::Start => ActionKind::Start,
            Task::Stop => ActionKind::Stop,
            Task::Probe => ActionKind::Probe,
            Task::Monitor(iv) => ActionKind::Monitor { interval_ms: iv },
            Task::Fence => ActionKind::Fence {
                action: match a.node {
                    Some(n) => s.fence_label(g, n).0.to_string(),
                    None => s.opts.stonith_action.clone(),
                },
            },
            Task::Unfence => ActionKind::Fence {
                action: "on".into(),
            },
            Task::GStart => ActionKind::GroupStart,
            Task::GRunning => ActionKind::GroupRunning,
            Task::GStop => ActionKind::GroupStop,
            Task::GStopped => ActionKind::GroupStopped,
            Task::Promote => ActionKind::Promote,
            Task::Demote => ActionKind::Demote,
            Task::Cancel(iv) => ActionKind::Cancel { interval_ms: iv },
            Task::CPromote => ActionKind::GroupPromote,
            Task::CPromoted => ActionKind::GroupPromoted,
            Task::CDemote => ActionKind::GroupDemote,
            Task::CDemoted => ActionKind::GroupDemoted,
            Task::Reload => ActionKind::Reload,
            Task::Notify(phase, of) => ActionKind::Notify {
                phase,
                of,
                env: notify_env.remove(&i).unwrap_or_default(),
            },
            Task::NotifyMarker(phase, of) => ActionKind::NotifyMarker { phase, of },
            Task::ClearFailcount => ActionKind::ClearFailcount,
            Task::Delete => ActionKind::Delete,
            Task::OneOrMore(k) => ActionKind::CloneOneOrMore {
                ordering: g.one_or_more[k].id.clone(),
            },
            Task::MigrateTo | Task::MigrateFrom => migration::action_kind(s, g, i),
            Task::LoadStopped => ActionKind::LoadStopped,
        };
        out_actions.push(Action {
            id,
            kind,
            resource: a.rsc.map(&mut rsc_arc),
            node: a.node.map(|n| node_arcs[n].clone()),
            reason: a.reason.clone(),
            runnable: a.runnable,
            pseudo: a.pseudo,
            history_name: match (a.rsc, a.node) {
                (Some(RscRef::P(p)), Some(n)) => s.instance_history_name(p, n).map(Arc::from),
                _ => None,
            },
        });
    }
    // Runnable probes, each before the start of its resource and before the stops
    // of the dependants that start would restart.
    let restarts = actions::stops_after_probes(s, g);
    let mut probe_edges = Vec::with_capacity(g.probes.len());
    for &(p, n) in &g.probes {
        let id = out_actions.len();
        out_actions.push(Action {
            id,
            kind: ActionKind::Probe,
            resource: Some(rsc_arc(RscRef::P(p))),
            node: Some(node_arcs[n].clone()),
            reason: None,
            runnable: true,
            pseudo: false,
            history_name: s.instance_history_name(p, n).map(Arc::from),
        });
        // The node's unfencing comes first (sequence only).
        if let Some(u) = g.unfence_of.get(n).copied().flatten().and_then(|u| map[u]) {
            if s.waits_for_unfencing(p) {
                probe_edges.push(OrderingEdge {
                    before: u,
                    after: id,
                    kind: EdgeKind::Optional,
                });
            }
        }
        // A clone instance's probe comes before the start of the whole clone.
        // (Not a bundle's container: only its own start waits, bundle.rs.)
        let clone_start = s.prims[p]
            .clone
            .filter(|&ci| !s.is_bundle(ci))
            .map(|ci| g.clone_acts[ci][0]);
        if let Some(start) = clone_start.and_then(|a| map[a]) {
            probe_edges.push(OrderingEdge {
                before: id,
                after: start,
                kind: EdgeKind::Optional,
            });
        }
        if let Some(up) = s.probe_waits_for(n, g).and_then(|a| map[a]) {
            // On a remote node, once its connection is up.
            probe_edges.push(OrderingEdge {
                before: up,
                after: id,
                kind: EdgeKind::Optional,
            });
        }
        if let Some(start) = g.start_of[p].and_then(|a| map[a]) {
            // As Pacemaker orders a probe before the start: sequence only.
            probe_edges.push(OrderingEdge {
                before: id,
                after: start,
                kind: EdgeKind::Optional,
            });
        }
        let first = g.probe_thens.partition_point(|pt| pt.prim < p);
        for pt in g.probe_thens[first..].iter().take_while(|pt| pt.prim == p) {
            let then_node = g.acts[pt.then].node;
            if pt.same_node && then_node.is_some_and(|tn| tn != n) {
                continue;
            }
            if let Some(after) = map[pt.then] {
                // Sequence only: `then` waits for what the probe finds.
                probe_edges.push(OrderingEdge {
                    before: id,
                    after,
                    kind: EdgeKind::Optional,
                });
            }
        }
        if let Ok(k) = restarts.binary_search_by_key(&p, |(q, _)| *q) {
            for stop in restarts[k].1.iter().filter_map(|&a| map[a]) {
                // Sequence only: the stop waits for what the probe finds.
                probe_edges.push(OrderingEdge {
                    before: id,
                    after: stop,
                    kind: EdgeKind::Optional,
                });
            }
        }
    }
    let mut edges: Vec<OrderingEdge> = Vec::with_capacity(g.edges.len() + probe_edges.len());
    edges.extend(g.edges.iter().filter_map(|e| {
        if !migration_orders::keep_edge(g, e) {
            return None;
        }
        if e.flags & actions::SAME_NODE != 0 {
            let (a, b) = (g.acts[e.first].node, g.acts[e.then].node);
            if a.is_some() && b.is_some() && a != b {
                return None;
            }
        }
        Some(OrderingEdge {
            before: map[e.first]?,
            after: map[e.then]?,
            kind: actions::edge_kind(e.flags),
        })
    }));
    edges.extend(probe_edges);
    // Equal edges are identical, so an unstable sort gives the same result. Of two
    // edges between the same actions the mandatory one (sorted first) is kept.
    edges.sort_unstable_by_key(|e| (e.before, e.after, e.kind));
    edges.dedup_by_key(|e| (e.before, e.after));

    let mut summary = Vec::new();
    for a in &g.acts {
        let (action, container) = match (a.task, a.node) {
            (Task::Fence, Some(n)) => s.fence_label(g, n),
            (Task::Unfence, _) => ("on", None),
            _ => continue,
        };
        if !a.optional {
            if let Some(n) = a.node {
                // A guest node names the container recovered for it.
                let by = container.map(|c| format!(" (resource: {c})"));
                summary.push(format!(
                    "Fence ({action}) {}{} '{}'",
                    s.nodes[n].name,
                    by.unwrap_or_default(),
                    a.reason.as_deref().unwrap_or("")
                ));
            }
        }
    }
    for p in s.prims_in_top_order() {
        for item in actions::summarize_prim(s, g, p) {
            summary.push(item.text());
        }
    }

    let placements = s
        .prims
        .iter()
        .enumerate()
        .map(|(pi, p)| {
            // The state after the transition: runnable stops take the resource
            // away, a runnable start puts it on its target.
            let stopped_on = |n: usize| {
                g.stops_of[pi].iter().any(|&a| {
                    g.acts[a].node == Some(n) && !g.acts[a].optional && g.acts[a].runnable
                })
            };
            let started = g.start_of[pi].is_some_and(|a| {
                let act = &g.acts[a];
                act.runnable
                    && act.node.is_some()
                    && (!act.optional || p.active.contains(&act.node.unwrap_or(usize::MAX)))
            });
            let mut after: Vec<usize> = p
                .active
                .iter()
                .copied()
                .filter(|&n| !stopped_on(n))
                .collect();
            if started {
                if let Some(t) = p.assigned {
                    if !after.contains(&t) {
                        after.push(t);
                    }
                }
            }
            let failed_after = p.failed
                && p.failed_on
                    .iter()
                    .any(|&n| after.contains(&n) && !stopped_on(n));
            let names: Vec<&str> = std::iter::once(p.id.as_str())
                .chain(p.history_name.as_deref())
                .collect();
            Placement {
                pending_task: status_marks::pending_task(s.cib, &names),
                resource: p.id.clone(),
                group: p.group.map(|gi| s.groups[gi].id.to_string()),
                clone: p.clone.map(|ci| s.clones[ci].id.to_string()),
                agent: p.agent.to_string(),
                current: crate::migration_history::shown_active(p)
                    .map(|n| node_names[n].clone())
                    .collect(),
                target: p.assigned.map(|n| node_names[n].clone()),
                role: s.full_next_role(pi).to_string(),
                promotable: p.clone.is_some_and(|ci| s.clones[ci].promotable),
                history_name: p.history_name.clone(),
                promoted: p.promoted_on.is_some(),
                promoted_after: promotable_actions::promoted_after(s, g, pi, &after),
                failed: p.failed,
                failed_on: p.failed_on.iter().map(|&n| node_names[n].clone()).collect(),
                unmanaged: !p.managed,
                orphan: p.orphan,
                blocked: p.blocked,
                disabled: p.target_role == Some(Role::Stopped),
                maintenance: p.maintenance,
                failure_ignored: p.ignore_failure,
                after: after.iter().map(|&n| node_names[n].clone()).collect(),
                failed_after,
            }
        })
        .collect();
    let nodes = s
        .nodes
        .iter()
        .map(|n| NodeState {
            name: n.name.to_string(),
            online: n.online,
            unclean: n.unclean,
            standby: n.standby,
            maintenance: n.maintenance,
            pending: n.pending,
            shutdown: n.shutdown,
            fence_reason: n.fence_reason.clone(),
        })
        .collect();
    let scores = output::scores(s);
    let warnings = s
        .coloc_merges_cut
        .iter()
        .map(|&p| {
            format!(
                "colocation search for {} cut after {} resources: preferences of \
                 resources reached only further along its colocations were not merged",
                s.prims[p].id,
                sched::COLOC_MERGE_BUDGET
            )
        })
        .collect();
    Transition {
        actions: out_actions,
        edges,
        placements,
        nodes,
        summary,
        scores,
        warnings,
        assign_scores: s.assign_scores.clone(),
        promotion_scores: s.promotion_scores.clone(),
    }
}

impl Transition {
    /// crm_simulate's "Transition Summary:" block.
    pub fn summary_text(&self) -> String {
        let mut s = String::from("Transition Summary:\n");
        for l in &self.summary {
            s.push_str("  * ");
            s.push_str(l);
            s.push('\n');
        }
        s
    }

    /// Per resource and node: the final score, what made it, and why the chosen
    /// node won.
    pub fn explain_text(&self) -> String {
        output::explain(self)
    }
}

#[cfg(test)]
mod tests;
