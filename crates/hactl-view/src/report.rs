//! The facts a status view shows, computed once from the CIB and the scheduler's
//! transition: this is also the JSON document (docs/status-json.md).

use hactl_model::{rc, Cib, FailCount, FenceEvent, LocationConstraint, NoQuorumPolicy};
use hactl_policy::{Action, ActionKind, NodeState, Placement, Transition};
use hactl_proto::client::{ClusterStatus, NodeState as ProtoNodeState};
use serde::Serialize;

/// One failed operation in a node's history.
#[derive(Clone, Debug, Serialize)]
pub struct FailedAction {
    pub node: String,
    pub resource: String,
    pub operation: String,
    pub interval_ms: u64,
    pub rc: i32,
    pub rc_text: String,
    pub op_status: i32,
    pub exit_reason: Option<String>,
    pub call_id: i64,
    /// Seconds since the epoch when the result changed (the failure's time).
    pub last_rc_change: Option<i64>,
    /// How long the failed operation ran, and waited before it ran.
    pub exec_time_ms: Option<u64>,
    pub queue_time_ms: Option<u64>,
}

/// A node the scheduler wants fenced (it is unclean), and whether it can be.
#[derive(Clone, Debug, Serialize)]
pub struct PendingFence {
    pub node: String,
    /// `reboot`/`off`; none when the scheduler has no fence action for the node
    /// (e.g. stonith-enabled=false), so nothing will fence it.
    pub action: Option<String>,
    pub reason: Option<String>,
    /// False when the fence action is blocked (e.g. no quorum).
    pub runnable: bool,
}

/// A node that left without a clean shutdown while fencing is disabled, with the
/// resources its history last showed running: nothing confirmed that they stopped
/// (a daemon killed with kill -9 leaves them running), so they may be active there
/// and, once started elsewhere, active twice.
#[derive(Clone, Debug, Serialize)]
pub struct UnconfirmedNode {
    pub node: String,
    pub resources: Vec<String>,
}

/// Fencing facts worth an operator's attention, as crm_mon's "Failed Fencing
/// Actions" and "Pending Fencing Actions".
#[derive(Clone, Debug, Default, Serialize)]
pub struct FencingView {
    /// Per target whose last fencing attempt failed: that attempt.
    pub failed: Vec<FenceEvent>,
    pub pending: Vec<PendingFence>,
}

#[derive(Clone, Debug, Serialize)]
pub struct NodeFailCount {
    pub node: String,
    #[serde(flatten)]
    pub failcount: FailCount,
}

#[derive(Clone, Debug, Serialize)]
pub struct MemberInfo {
    pub name: String,
    pub address: String,
    /// online, offline, unclean (as the answering daemon's membership layer sees it)
    pub state: String,
    pub last_seen_ms: Option<u64>,
    /// Its heartbeat links (link 0 first) as the answering daemon sees them, as
    /// `hactl cluster status` shows them; empty for the answering node itself.
    pub links: Vec<LinkView>,
}

/// One heartbeat link to a member.
#[derive(Clone, Debug, Serialize)]
pub struct LinkView {
    pub index: u32,
    /// The member's address on this link.
    pub address: String,
    /// `up` (heartbeats arrive on it) or `down`.
    pub state: String,
    /// Peer traffic to the member goes on this link now.
    pub active: bool,
    pub last_heard_ms: Option<u64>,
    /// QUIC's round-trip estimate on the link, microseconds; null while down.
    pub rtt_us: Option<u64>,
}

impl From<&hactl_proto::client::LinkInfo> for LinkView {
    fn from(l: &hactl_proto::client::LinkInfo) -> Self {
        LinkView {
            index: l.index,
            address: l.address.clone(),
            state: if l.up { "up" } else { "down" }.into(),
            active: l.active,
            last_heard_ms: l.last_heard_ms,
            rtt_us: l.rtt_us,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct DaemonView {
    pub cluster_name: String,
    pub local_node: String,
    pub dc: Option<String>,
    pub have_quorum: bool,
    pub term: u64,
    pub commit_index: u64,
    pub applied_index: u64,
    pub members: Vec<MemberInfo>,
}

impl From<&ClusterStatus> for DaemonView {
    fn from(d: &ClusterStatus) -> Self {
        DaemonView {
            cluster_name: d.cluster_name.clone(),
            local_node: d.local_node.clone(),
            dc: (!d.dc.is_empty()).then(|| d.dc.clone()),
            have_quorum: d.has_quorum,
            term: d.term,
            commit_index: d.commit_index,
            applied_index: d.applied_index,
            members: d
                .nodes
                .iter()
                .map(|n| MemberInfo {
                    name: n.name.clone(),
                    address: n.address.clone(),
                    state: match ProtoNodeState::try_from(n.state) {
                        Ok(ProtoNodeState::Online) => "online",
                        Ok(ProtoNodeState::Offline) => "offline",
                        Ok(ProtoNodeState::Unclean) => "unclean",
                        _ => "unknown",
                    }
                    .into(),
                    last_seen_ms: n.last_seen_ms,
                    links: n.links.iter().map(LinkView::from).collect(),
                })
                .collect(),
        }
    }
}

/// A clone set: its flags and where its instances run (each instance is also in
/// `resources`, with `clone` naming the set).
#[derive(Clone, Debug, Serialize)]
pub struct CloneView {
    pub id: String,
    /// The cloned resource (a primitive or a group).
    pub child: String,
    pub promotable: bool,
    pub unique: bool,
    /// Its instances' ids in `resources`, `ping:0` …
    pub instances: Vec<String>,
    /// Nodes where an instance is active now, and those where it is promoted.
    pub active_on: Vec<String>,
    pub promoted_on: Vec<String>,
}

/// Everything `hactl status --output json` prints (docs/status-json.md).
#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    pub schema_version: u32,
    pub dc: Option<String>,
    pub have_quorum: bool,
    pub epoch: u64,
    pub daemon: Option<DaemonView>,
    pub nodes: Vec<NodeState>,
    pub resources: Vec<Placement>,
    pub clones: Vec<CloneView>,
    pub move_constraints: Vec<LocationConstraint>,
    pub failed_actions: Vec<FailedAction>,
    pub failcounts: Vec<NodeFailCount>,
    pub fencing: FencingView,
    /// Nodes lost uncleanly with fencing disabled whose resources may still run.
    pub unconfirmed_nodes: Vec<UnconfirmedNode>,
    /// Actions the policy engine would still run; empty when settled.
    pub pending: Vec<String>,
    pub settled: bool,
    /// Configuration that puts the cluster at risk (printed under the summary).
    pub warnings: Vec<String>,
    /// IPVS virtual services with their real servers (`crate::ipvs`).
    pub ipvs: Vec<crate::ipvs::IpvsView>,
}

/// Failed operations: the last failure of each operation of each resource on each
/// node, kept until a cleanup (a recovery in place does not hide it). A probe that
/// found the resource running or stopped is an answer, not a failure.
pub fn failed_actions(cib: &Cib) -> Vec<FailedAction> {
    let mut out = Vec::new();
    for (node, st) in &cib.status.nodes {
        for (rsc, h) in &st.resources {
            for op in &h.last_failures {
                out.push(FailedAction {
                    node: node.clone(),
                    resource: rsc.clone(),
                    operation: op.operation.clone(),
                    interval_ms: op.interval_ms,
                    rc: op.rc,
                    rc_text: rc::name(op.rc).to_string(),
                    op_status: op.op_status,
                    exit_reason: op.exit_reason.clone(),
                    call_id: op.call_id,
                    last_rc_change: op.last_rc_change,
                    exec_time_ms: op.exec_time_ms,
                    queue_time_ms: op.queue_time_ms,
                });
            }
        }
    }
    out
}

/// Nodes that are down without a clean shutdown (expected up), not fenced, while
/// fencing is disabled, and whose history shows resources running. With fencing
/// the scheduler shows them UNCLEAN and fences them instead.
pub fn unconfirmed_nodes(cib: &Cib, t: &Transition) -> Vec<UnconfirmedNode> {
    let fencing = cib
        .config
        .options()
        .map(|o| o.stonith_enabled)
        .unwrap_or(true);
    if fencing {
        return Vec::new();
    }
    let mut out = Vec::new();
    for n in t.nodes.iter().filter(|n| !n.online) {
        let Some(st) = cib.status.nodes.get(&n.name) else {
            continue;
        };
        if st.expected.as_deref() == Some("down") || st.fenced_at.is_some() {
            continue;
        }
        let resources: Vec<String> = st
            .resources
            .iter()
            .filter(|(_, h)| {
                // The newest result: running unless a stop succeeded or the agent
                // said "not running".
                h.ops.iter().max_by_key(|o| o.call_id).is_some_and(|o| {
                    let stopped =
                        (o.operation == "stop" && o.rc == 0 && o.op_status == 0) || o.rc == 7;
                    !stopped
                })
            })
            .map(|(r, _)| r.clone())
            .collect();
        if !resources.is_empty() {
            out.push(UnconfirmedNode {
                node: n.name.clone(),
                resources,
            });
        }
    }
    out
}

/// The last fencing event of each target when it failed (a later success clears
/// it, as in crm_mon), and the fencing the scheduler still wants for unclean nodes.
pub fn fencing_view(cib: &Cib, t: &Transition) -> FencingView {
    let mut failed: Vec<FenceEvent> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    // The history is appended in order, so the last entry per target is its newest.
    for e in cib.status.fencing_history.iter().rev() {
        if seen.contains(&e.target.as_str()) {
            continue;
        }
        seen.push(&e.target);
        if !e.ok {
            failed.push(e.clone());
        }
    }
    failed.sort_by(|a, b| a.target.cmp(&b.target));
    let pending = t
        .nodes
        .iter()
        .filter(|n| n.unclean)
        .map(|n| {
            let act = t.actions.iter().find(|a| {
                matches!(a.kind, ActionKind::Fence { .. }) && a.node.as_deref() == Some(&n.name)
            });
            PendingFence {
                node: n.name.clone(),
                action: act.and_then(|a| match &a.kind {
                    ActionKind::Fence { action } => Some(action.clone()),
                    _ => None,
                }),
                reason: n
                    .fence_reason
                    .clone()
                    .or_else(|| act.and_then(|a| a.reason.clone())),
                runnable: act.is_some_and(|a| a.runnable),
            }
        })
        .collect();
    FencingView { failed, pending }
}

/// The transition's actions that will run (not blocked, not pseudo).
pub fn pending(t: &Transition) -> Vec<&Action> {
    t.actions
        .iter()
        .filter(|a| a.runnable && !a.pseudo)
        .collect()
}

/// An action in one line: `start vip on n1`, `fence (reboot) on n2`.
pub fn describe_action(a: &Action) -> String {
    let mut s = match &a.kind {
        ActionKind::Fence { action } => format!("fence ({action})"),
        ActionKind::Stop => "stop".into(),
        ActionKind::Start => "start".into(),
        ActionKind::Probe => "probe".into(),
        ActionKind::Promote => "promote".into(),
        ActionKind::Demote => "demote".into(),
        ActionKind::Reload => "reload".into(),
        ActionKind::ClearFailcount => "clear fail count".into(),
        ActionKind::Delete => "delete history".into(),
        ActionKind::MigrateTo { target, .. } => format!("migrate to {target}"),
        ActionKind::MigrateFrom { source, .. } => format!("migrate from {source}"),
        // The lists the agent gets are in the transition's JSON, not here.
        ActionKind::Notify { phase, of, .. } => {
            format!("notify ({} {})", phase.notify_type(), of.action())
        }
        ActionKind::Cancel { interval_ms } => format!(
            "cancel monitor {}",
            hactl_model::values::format_interval_ms(*interval_ms)
        ),
        ActionKind::Monitor { interval_ms } => format!(
            "monitor {}",
            hactl_model::values::format_interval_ms(*interval_ms)
        ),
        other => format!("{other:?}"),
    };
    if let Some(r) = &a.resource {
        s.push(' ');
        s.push_str(r);
    }
    if let Some(n) = &a.node {
        s.push_str(" on ");
        s.push_str(n);
    }
    s
}

pub(crate) fn build(cib: &Cib, t: &Transition, daemon: Option<DaemonView>) -> StatusReport {
    let pend: Vec<String> = pending(t).into_iter().map(describe_action).collect();
    StatusReport {
        schema_version: crate::SCHEMA_VERSION,
        dc: daemon
            .as_ref()
            .and_then(|d| d.dc.clone())
            .or_else(|| cib.status.dc.clone()),
        have_quorum: daemon
            .as_ref()
            .map(|d| d.have_quorum)
            .unwrap_or(cib.status.have_quorum),
        epoch: cib.epoch,
        daemon,
        nodes: t.nodes.clone(),
        resources: t.placements.clone(),
        clones: clones(cib, t),
        move_constraints: cib
            .config
            .constraints
            .location
            .iter()
            .filter(|l| l.id.starts_with("cli-"))
            .cloned()
            .collect(),
        failed_actions: failed_actions(cib),
        failcounts: cib
            .status
            .nodes
            .iter()
            .flat_map(|(n, st)| {
                st.failcounts.iter().map(move |f| NodeFailCount {
                    node: n.clone(),
                    failcount: f.clone(),
                })
            })
            .collect(),
        fencing: fencing_view(cib, t),
        unconfirmed_nodes: unconfirmed_nodes(cib, t),
        settled: pend.is_empty(),
        pending: pend,
        warnings: safety_warnings(cib),
        ipvs: crate::ipvs::services(cib),
    }
}

/// Every clone set with where its instances run (configuration order).
pub fn clones(cib: &Cib, t: &Transition) -> Vec<CloneView> {
    let sets = cib.config.resources.iter().filter_map(|r| match r {
        hactl_model::Resource::Clone(c) => Some(c),
        _ => None,
    });
    sets.map(|c| {
        let mine: Vec<&Placement> = t
            .placements
            .iter()
            .filter(|p| p.clone.as_deref() == Some(c.id.as_str()))
            .collect();
        let on = |f: fn(&Placement) -> bool| -> Vec<String> {
            let mut v: Vec<String> = mine
                .iter()
                .filter(|p| f(p))
                .flat_map(|p| p.current.clone())
                .collect();
            v.sort();
            v
        };
        CloneView {
            id: c.id.clone(),
            child: c.child.id().to_string(),
            promotable: c.promotable(),
            unique: c.globally_unique(),
            instances: mine.iter().map(|p| p.resource.clone()).collect(),
            active_on: on(|_| true),
            promoted_on: on(|p| p.promoted),
        }
    })
    .collect()
}

/// Settings under which a partition can run a resource on both sides.
pub fn safety_warnings(cib: &Cib) -> Vec<String> {
    let Ok(o) = cib.config.options() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if !o.stonith_enabled && o.no_quorum_policy != NoQuorumPolicy::Stop {
        out.push(format!(
            "fencing is disabled and no-quorum-policy is {}: a node cut off from the \
             majority keeps its resources while the majority starts them too (split \
             brain). Set no-quorum-policy=stop, or enable fencing.",
            o.no_quorum_policy
        ));
    }
    out
}

/// A resource's operation history on one node as the views list it: oldest call
/// first, each call once (an imported CIB holds a failure both as the last result
/// and as the last failure), without the probes that found it stopped (crm_mon
/// hides those too: they say nothing happened).
pub fn history_ops(h: &hactl_model::ResourceHistory) -> Vec<&hactl_model::OpRecord> {
    let mut ops: Vec<&hactl_model::OpRecord> = h
        .ops
        .iter()
        .filter(|o| !(o.is_probe() && o.rc == rc::NOT_RUNNING))
        .collect();
    ops.sort_by_key(|o| (o.call_id, o.operation.clone(), o.interval_ms));
    ops.dedup_by(|a, b| {
        a.call_id == b.call_id && a.operation == b.operation && a.interval_ms == b.interval_ms
    });
    ops
}
