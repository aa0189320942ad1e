//! `hactl status`: a crm_mon-like one-shot view — nodes, DC, quorum, where each
//! resource runs, move/ban constraints, failed actions, fail counts, and what the
//! cluster still has to do (the policy engine's pending actions on the current CIB).

use anyhow::{Context, Result};
use hactl_model::values::format_interval_ms;
use hactl_model::{Cib, FailCount, FenceEvent, LocationConstraint, NoQuorumPolicy};
use hactl_policy::{
    format_status, schedule, ActionKind, NodeState, Placement, StatusView, Transition,
};
use hactl_proto::client::{ClusterStatus, NodeState as ProtoNodeState};
use serde::Serialize;
use std::fmt::Write;
use std::process::ExitCode;

use crate::cmd::constraint::describe_location;
use crate::cmd::stonith::format_time;
use crate::verbs::session::{describe_action, pending};
use crate::verbs::{OutputFormat, ReadFlags, Session};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub flags: ReadFlags,
}

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
    pub last_rc_change: Option<i64>,
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
}

#[derive(Clone, Debug, Serialize)]
pub struct DaemonView {
    pub cluster_name: String,
    pub local_node: String,
    pub term: u64,
    pub commit_index: u64,
    pub applied_index: u64,
    pub members: Vec<MemberInfo>,
}

/// Everything `hactl status --output json` prints.
#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    pub dc: Option<String>,
    pub have_quorum: bool,
    pub epoch: u64,
    pub daemon: Option<DaemonView>,
    pub nodes: Vec<NodeState>,
    pub resources: Vec<Placement>,
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
}

pub fn run(a: Args) -> Result<ExitCode> {
    let mut s = Session::open(a.flags.socket.as_deref(), a.flags.cib.as_deref())?;
    let daemon = s.status()?;
    let cib = s.cib()?;
    let now = s.now(&cib);
    let t = schedule(&cib, now).context("the CIB cannot be scheduled")?;
    let report = build(&cib, &t, daemon.as_ref());
    match a.flags.output {
        OutputFormat::Json => outln!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Text => out!("{}", render(&cib, &t, &report)),
    }
    Ok(ExitCode::SUCCESS)
}

fn rc_text(rc: i32) -> String {
    hactl_exec::rc::name(rc).to_string()
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
                    rc_text: rc_text(op.rc),
                    op_status: op.op_status,
                    exit_reason: op.exit_reason.clone(),
                    call_id: op.call_id,
                    last_rc_change: op.last_rc_change,
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

pub fn build(cib: &Cib, t: &Transition, daemon: Option<&ClusterStatus>) -> StatusReport {
    let pend: Vec<String> = pending(t).into_iter().map(describe_action).collect();
    StatusReport {
        dc: daemon
            .filter(|d| !d.dc.is_empty())
            .map(|d| d.dc.clone())
            .or_else(|| cib.status.dc.clone()),
        have_quorum: daemon
            .map(|d| d.has_quorum)
            .unwrap_or(cib.status.have_quorum),
        epoch: cib.epoch,
        daemon: daemon.map(|d| DaemonView {
            cluster_name: d.cluster_name.clone(),
            local_node: d.local_node.clone(),
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
                })
                .collect(),
        }),
        nodes: t.nodes.clone(),
        resources: t.placements.clone(),
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
    }
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

pub fn render(cib: &Cib, t: &Transition, r: &StatusReport) -> String {
    let mut out = String::new();
    if let Some(d) = &r.daemon {
        if !d.cluster_name.is_empty() {
            let _ = writeln!(out, "Cluster name: {}", d.cluster_name);
        }
    }
    out.push_str("Cluster Summary:\n");
    let _ = writeln!(
        out,
        "  * Current DC: {} ({})",
        r.dc.as_deref().unwrap_or("NONE"),
        if r.have_quorum {
            "partition with quorum"
        } else {
            "partition WITHOUT quorum"
        }
    );
    if let Some(d) = &r.daemon {
        let _ = writeln!(
            out,
            "  * Answered by: {} (raft term {}, commit {}, applied {})",
            d.local_node, d.term, d.commit_index, d.applied_index
        );
    }
    let prims = t.placements.len();
    let disabled = t.placements.iter().filter(|p| p.disabled).count();
    let _ = writeln!(
        out,
        "  * {} nodes configured, {} resource instances configured{} (CIB epoch {})",
        cib.config.nodes.len(),
        prims,
        if disabled > 0 {
            format!(" ({disabled} DISABLED)")
        } else {
            String::new()
        },
        r.epoch
    );
    for w in &r.warnings {
        let _ = writeln!(out, "  * WARNING: {w}");
    }
    out.push('\n');
    // The node and resource lists are the scheduler's view of the CIB, as crm_simulate
    // prints it, without its header line.
    let body = format_status(cib, t, StatusView::Current);
    for line in body.lines().skip(1) {
        let _ = writeln!(out, "{}", line.strip_prefix("  ").unwrap_or(line));
    }
    for u in &r.unconfirmed_nodes {
        let _ = writeln!(
            out,
            "\nWARNING: {} is unclean, fencing disabled: its resources may still be active \
             ({}); nothing confirmed that they stopped there",
            u.node,
            u.resources.join(", ")
        );
    }
    if let Some(d) = &r.daemon {
        let odd: Vec<String> = d
            .members
            .iter()
            .filter(|m| m.state != "online")
            .map(|m| format!("{} {}", m.name, m.state))
            .collect();
        if !odd.is_empty() {
            let _ = writeln!(
                out,
                "\nMembership (as {} sees it): {}",
                d.local_node,
                odd.join(", ")
            );
        }
    }
    if !r.move_constraints.is_empty() {
        out.push_str("\nMove/ban constraints (remove with `hactl resource clear RSC`):\n");
        for l in &r.move_constraints {
            let _ = writeln!(out, "  * {}", describe_location(l));
        }
    }
    if !r.failed_actions.is_empty() {
        out.push_str("\nFailed Resource Actions:\n");
        for f in &r.failed_actions {
            let _ = write!(
                out,
                "  * {} {} {} on {} returned '{}' ({}), call={}",
                f.resource,
                f.operation,
                format_interval_ms(f.interval_ms),
                f.node,
                f.rc_text,
                f.rc,
                f.call_id
            );
            if let Some(e) = &f.exit_reason {
                let _ = write!(out, ", exit-reason='{e}'");
            }
            if f.op_status >= 2 {
                let _ = write!(out, ", status={}", op_status_text(f.op_status));
            }
            if let Some(t) = f.last_rc_change {
                let _ = write!(out, ", last-rc-change='{}'", format_time(t));
            }
            out.push('\n');
        }
    }
    if !r.failcounts.is_empty() {
        out.push_str("\nFail counts:\n");
        for f in &r.failcounts {
            let op = match (&f.failcount.op, f.failcount.interval_ms) {
                (Some(o), Some(i)) => format!(" ({o} {})", format_interval_ms(i)),
                (Some(o), None) => format!(" ({o})"),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "  * {} on {}: fail-count={}{op}",
                f.failcount.rsc, f.node, f.failcount.count
            );
        }
    }
    if !r.fencing.failed.is_empty() {
        out.push_str("\nFailed Fencing Actions:\n");
        for e in &r.fencing.failed {
            let _ = write!(
                out,
                "  * {} of {} failed: executed by {}",
                e.action, e.target, e.executor
            );
            if !e.devices.is_empty() {
                let _ = write!(out, " with {}", e.devices.join(","));
            }
            if let Some(o) = &e.origin {
                let _ = write!(out, ", asked by {o}");
            }
            let _ = write!(out, ", last-failed='{}'", format_time(e.at));
            if let Some(why) = &e.reason {
                let _ = write!(out, ", reason='{why}'");
            }
            out.push('\n');
        }
    }
    if !r.fencing.pending.is_empty() {
        out.push_str("\nPending Fencing Actions:\n");
        for p in &r.fencing.pending {
            let why = p
                .reason
                .as_deref()
                .map(|w| format!(" ({w})"))
                .unwrap_or_default();
            let _ = match (&p.action, p.runnable) {
                (Some(a), true) => writeln!(out, "  * {a} of {} pending{why}", p.node),
                (Some(a), false) => writeln!(out, "  * {a} of {} blocked{why}", p.node),
                (None, _) => writeln!(out, "  * {} is unclean but will not be fenced{why}", p.node),
            };
        }
    }
    if r.settled {
        out.push_str("\nThe cluster has settled (nothing left to do).\n");
    } else {
        out.push_str("\nPending actions (the cluster has not settled):\n");
        for p in &r.pending {
            let _ = writeln!(out, "  * {p}");
        }
    }
    out
}

fn op_status_text(s: i32) -> &'static str {
    match s {
        2 => "timed out",
        3 => "not supported",
        4 => "error",
        5 => "not installed",
        6 => "not connected",
        7 => "invalid",
        8 => "error (hard)",
        9 => "error (fatal)",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hactl_model::change::Change;
    use hactl_model::{AgentSpec, Node, OpRecord, Primitive, Resource};

    /// Fencing off and a partition that keeps its resources: `hactl status` says so.
    #[test]
    fn split_brain_risk_is_warned() {
        let text = |props: &[(&str, &str)]| {
            let mut cib = Cib::default();
            for (k, v) in props {
                cib.config.properties.insert(k.to_string(), v.to_string());
            }
            let t = schedule(&cib, 0).unwrap();
            render(&cib, &t, &build(&cib, &t, None))
        };
        for nqp in ["freeze", "ignore"] {
            let out = text(&[("stonith-enabled", "false"), ("no-quorum-policy", nqp)]);
            assert!(
                out.contains(&format!(
                    "WARNING: fencing is disabled and no-quorum-policy is {nqp}"
                )),
                "{out}"
            );
        }
        for props in [
            &[("stonith-enabled", "false"), ("no-quorum-policy", "stop")][..],
            &[("stonith-enabled", "true"), ("no-quorum-policy", "freeze")][..],
            &[("stonith-enabled", "false")][..],
        ] {
            let out = text(props);
            assert!(!out.contains("WARNING"), "{props:?}: {out}");
        }
    }

    fn record(cib: &mut Cib, op: &str, iv: u64, rc: i32, expected: i32, id: i64) {
        Change::RecordOp {
            node: "n1".into(),
            rsc: "d".into(),
            agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
            op: OpRecord {
                operation: op.into(),
                interval_ms: iv,
                rc,
                expected_rc: Some(expected),
                call_id: id,
                last_rc_change: Some(1_700_000_000 + id),
                exit_reason: (rc == 1).then(|| "boom".to_string()),
                ..Default::default()
            },
        }
        .apply(cib)
        .unwrap();
    }

    /// What the controller records: probes (one finding the resource running, after
    /// a cleanup), a start, a monitor failure recovered in place (stop, start, the
    /// monitor succeeding again). The table lists the failure once, with its time
    /// and exit reason, never a probe's answer, and is empty after a cleanup.
    #[test]
    fn failed_actions_list_the_last_real_failure_until_cleanup() {
        let mut cib = Cib::default();
        cib.config.nodes.push(Node {
            id: "n1".into(),
            name: "n1".into(),
            ..Default::default()
        });
        cib.config.resources.push(Resource::Primitive(Primitive {
            id: "d".into(),
            agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
            ..Default::default()
        }));
        record(&mut cib, "monitor", 0, 7, 7, 1);
        record(&mut cib, "start", 0, 0, 0, 2);
        record(&mut cib, "monitor", 10_000, 0, 0, 3);
        record(&mut cib, "monitor", 0, 0, 7, 4);
        assert!(
            failed_actions(&cib).is_empty(),
            "a probe's answer is no failure"
        );
        record(&mut cib, "monitor", 10_000, 1, 0, 5);
        record(&mut cib, "stop", 0, 0, 0, 6);
        record(&mut cib, "start", 0, 0, 0, 7);
        record(&mut cib, "monitor", 10_000, 0, 0, 8);
        let f = failed_actions(&cib);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            (f[0].operation.as_str(), f[0].interval_ms),
            ("monitor", 10_000)
        );
        assert_eq!((f[0].rc_text.as_str(), f[0].call_id), ("error", 5));
        let t = schedule(&cib, 0).unwrap();
        let r = build(&cib, &t, None);
        let text = render(&cib, &t, &r);
        assert!(text.contains("Failed Resource Actions:"), "{text}");
        assert!(text.contains("exit-reason='boom'"), "{text}");
        assert!(
            text.contains("last-rc-change='2023-11-14 22:13:25'"),
            "{text}"
        );
        assert!(!text.contains("'ok'"), "{text}");
        let plan = crate::cmd::resource_config::cleanup_plan(&cib, Some("d"), None).unwrap();
        for c in &plan.changes {
            c.apply(&mut cib).unwrap();
        }
        assert!(failed_actions(&cib).is_empty());
    }

    /// n1 ran vip and is lost without a clean shutdown (its daemon was killed) while
    /// fencing is disabled: status warns that vip may still run there. A clean leave,
    /// or fencing enabled (the scheduler then shows it UNCLEAN), gives no warning.
    #[test]
    fn a_lost_node_with_fencing_disabled_is_shown_unconfirmed() {
        let mut cib = Cib::default();
        cib.config
            .properties
            .insert("stonith-enabled".into(), "false".into());
        for n in ["n1", "n2"] {
            cib.config.nodes.push(Node {
                id: n.into(),
                name: n.into(),
                ..Default::default()
            });
            let up = hactl_model::change::NodeStateUpdate {
                member: Some(true),
                controller_online: Some(true),
                join: Some("member".into()),
                expected: Some("member".into()),
            };
            Change::SetNodeState {
                node: n.into(),
                state: up,
            }
            .apply(&mut cib)
            .unwrap();
        }
        cib.config.resources.push(Resource::Primitive(Primitive {
            id: "d".into(),
            agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
            ..Default::default()
        }));
        record(&mut cib, "start", 0, 0, 0, 1);
        let lost = hactl_model::change::NodeStateUpdate {
            member: Some(false),
            controller_online: Some(false),
            join: Some("down".into()),
            expected: None,
        };
        Change::SetNodeState {
            node: "n1".into(),
            state: lost,
        }
        .apply(&mut cib)
        .unwrap();
        let text = |cib: &Cib| {
            let t = schedule(cib, 0).unwrap();
            render(cib, &t, &build(cib, &t, None))
        };
        let warning =
            "WARNING: n1 is unclean, fencing disabled: its resources may still be active (d)";
        assert!(text(&cib).contains(warning), "{}", text(&cib));
        let mut fenced = cib.clone();
        fenced.config.properties.remove("stonith-enabled");
        assert!(!text(&fenced).contains(warning), "{}", text(&fenced));
        let mut clean = cib.clone();
        clean.status.nodes.get_mut("n1").unwrap().expected = Some("down".into());
        assert!(!text(&clean).contains(warning), "{}", text(&clean));
    }

    /// A Pacemaker CIB holds a failure twice (`_last_0` and `_last_failure_0`): one row.
    #[test]
    fn an_imported_failure_is_listed_once() {
        let xml = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/web-cluster.xml"
        ))
        .unwrap();
        let cib = hactl_cib_xml::import(&xml).unwrap();
        let f = failed_actions(&cib);
        let mut keys: Vec<_> = f
            .iter()
            .map(|a| (&a.node, &a.resource, &a.operation, a.interval_ms))
            .collect();
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert!(n > 0, "the example has a failure");
        assert_eq!(keys.len(), n, "{f:?}");
    }

    #[test]
    fn fencing_failures_and_pending_fencing_are_shown() {
        let mut cib = Cib::default();
        for n in ["n1", "n2", "n3"] {
            cib.config.nodes.push(Node {
                id: n.into(),
                name: n.into(),
                ..Default::default()
            });
        }
        cib.config.resources.push(Resource::Primitive(Primitive {
            id: "fd".into(),
            agent: AgentSpec::parse("stonith:fence_hactl_xvm").unwrap(),
            ..Default::default()
        }));
        cib.status.have_quorum = true;
        for n in ["n1", "n3"] {
            let st = cib.status.nodes.entry(n.into()).or_default();
            st.member = Some(true);
            st.controller_online = Some(true);
            st.join = Some("member".into());
            st.expected = Some("member".into());
        }
        let ev = |target: &str, ok: bool, reason: &str, at: i64| Change::RecordFenceEvent {
            event: FenceEvent {
                target: target.into(),
                action: "off".into(),
                ok,
                reason: Some(reason.into()),
                executor: "n1".into(),
                origin: Some("controller".into()),
                devices: vec!["fd".into()],
                at,
            },
        };
        for c in [
            ev("n2", false, "first try", 1_700_000_000),
            ev("n3", false, "n3 failed once", 1_700_000_010),
            ev("n2", false, "fd: no answer from fence_virtd", 1_700_000_020),
            ev("n3", true, "done", 1_700_000_030),
        ] {
            c.apply(&mut cib).unwrap();
        }
        let t = schedule(&cib, 0).unwrap();
        let r = build(&cib, &t, None);
        assert_eq!(r.fencing.failed.len(), 1, "{:?}", r.fencing);
        assert_eq!(r.fencing.failed[0].target, "n2");
        assert_eq!(r.fencing.pending.len(), 1, "{:?}", r.fencing);
        let p = &r.fencing.pending[0];
        assert_eq!(p.node, "n2");
        assert!(p.runnable && p.action.is_some(), "{p:?}");
        let text = render(&cib, &t, &r);
        assert!(text.contains("Failed Fencing Actions:"), "{text}");
        assert!(
            text.contains(
                "off of n2 failed: executed by n1 with fd, asked by controller, \
                 last-failed='2023-11-14 22:13:40', reason='fd: no answer from fence_virtd'"
            ),
            "{text}"
        );
        assert!(!text.contains("first try"), "{text}");
        assert!(!text.contains("of n3 failed"), "{text}");
        assert!(text.contains("Pending Fencing Actions:"), "{text}");
        assert!(text.contains(" of n2 pending ("), "{text}");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["fencing"]["failed"][0]["target"], "n2");
        assert_eq!(json["fencing"]["pending"][0]["node"], "n2");
    }
}
