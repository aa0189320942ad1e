//! The text view: what `hactl status` prints and what `hactl mon` shows on screen
//! (and prints with `--once`). Sections beyond the summary, nodes and resources are
//! switched on by [`Sections`], named after crm_mon's letters.

use std::fmt::Write;

use hactl_model::values::format_interval_ms;
use hactl_model::{LocationConstraint, OpRecord};
use hactl_policy::{format_resource_blocks, format_resource_line_named, format_status, StatusView};

use crate::report::{history_ops, FailedAction, StatusReport};
use crate::time::{format_ms, format_time};
use crate::View;

/// Which optional sections to show (crm_mon's letters in brackets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sections {
    /// Resources listed under the node they run on (`-n`).
    pub by_node: bool,
    /// Inactive resources in a list of their own (`-r`).
    pub inactive: bool,
    /// Fail counts (`-f`).
    pub failcounts: bool,
    /// Node attributes, permanent and transient (`-A`).
    pub attributes: bool,
    /// Operation history per node and resource (`-o`).
    pub operations: bool,
    /// Times and durations in the operation history (`-t`).
    pub timing: bool,
    /// Every fencing attempt, newest first (`-m`).
    pub fencing_history: bool,
}

impl Sections {
    /// What `hactl status` shows.
    pub const STATUS: Sections = Sections {
        by_node: false,
        inactive: false,
        failcounts: true,
        attributes: false,
        operations: false,
        timing: false,
        fencing_history: false,
    };
}

impl Default for Sections {
    fn default() -> Self {
        Sections::STATUS
    }
}

/// The whole text view.
pub fn render(v: &View, s: &Sections) -> String {
    let mut out = String::new();
    summary(&mut out, v);
    if s.by_node {
        by_node(&mut out, v);
    } else {
        // The node and resource lists are the scheduler's view of the CIB, as
        // crm_simulate prints it, without its header line.
        let body = format_status(&v.cib, &v.transition, StatusView::Current);
        for line in body.lines().skip(1) {
            let _ = writeln!(out, "{}", line.strip_prefix("  ").unwrap_or(line));
        }
    }
    if s.inactive {
        inactive(&mut out, v);
    }
    crate::ipvs::render(&mut out, &v.report.ipvs);
    warnings(&mut out, &v.report);
    if s.attributes {
        attributes(&mut out, v);
    }
    if s.operations {
        operations(&mut out, v, s.timing);
    }
    failures(&mut out, &v.report, s.failcounts);
    fencing(&mut out, v, s.fencing_history);
    pending(&mut out, &v.report);
    out
}

fn summary(out: &mut String, v: &View) {
    let r = &v.report;
    if let Some(d) = r.daemon.as_ref().filter(|d| !d.cluster_name.is_empty()) {
        let _ = writeln!(out, "Cluster name: {}", d.cluster_name);
    }
    out.push_str("Cluster Summary:\n");
    let quorum = if r.have_quorum {
        "partition with quorum"
    } else {
        "partition WITHOUT quorum"
    };
    let dc = r.dc.as_deref().unwrap_or("NONE");
    let _ = writeln!(out, "  * Current DC: {dc} ({quorum})");
    if let Some(d) = &r.daemon {
        let _ = writeln!(
            out,
            "  * Answered by: {} (raft term {}, commit {}, applied {})",
            d.local_node, d.term, d.commit_index, d.applied_index
        );
    }
    let t = &v.transition;
    let disabled = t.placements.iter().filter(|p| p.disabled).count();
    let disabled = if disabled > 0 {
        format!(" ({disabled} DISABLED)")
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "  * {} nodes configured, {} resource instances configured{disabled} (CIB epoch {})",
        v.cib.config.nodes.len(),
        t.placements.len(),
        r.epoch
    );
    for w in &r.warnings {
        let _ = writeln!(out, "  * WARNING: {w}");
    }
    out.push('\n');
}

/// A node's state word as crm_mon prints it in the per-node list.
fn node_word(n: &hactl_policy::NodeState) -> &'static str {
    if n.unclean {
        if n.online {
            "UNCLEAN (online)"
        } else {
            "UNCLEAN (offline)"
        }
    } else if n.pending {
        "pending"
    } else if !n.online {
        "OFFLINE"
    } else if n.maintenance {
        "maintenance"
    } else if n.standby {
        "standby"
    } else {
        "online"
    }
}

/// crm_mon's `-n`: each node with what runs there, the state without the node's
/// name (it is the heading), an anonymous clone's instance as its primitive.
fn by_node(out: &mut String, v: &View) {
    let t = &v.transition;
    out.push_str("* Node List:\n");
    for n in &t.nodes {
        let _ = writeln!(out, "  * Node {}: {}:", n.name, node_word(n));
        out.push_str("    * Resources:\n");
        for p in t.placements.iter().filter(|p| p.current.contains(&n.name)) {
            let here = hactl_policy::Placement {
                current: vec![n.name.clone()],
                ..p.clone()
            };
            let line = format_resource_line_named(v.shown_id(p), &here, t, StatusView::Current);
            let _ = writeln!(out, "      * {}", without_node(&line, &n.name));
        }
    }
}

/// A resource line's state without ` NODE`: `ping\t(…):\t Started n1` →
/// `ping\t(…):\t Started` (flags after it, ` (unmanaged)`, stay).
fn without_node(line: &str, node: &str) -> String {
    let Some(at) = line.rfind(":\t ") else {
        return line.to_string();
    };
    let (head, state) = line.split_at(at + 3);
    let cut = format!(" {node}");
    let kept = match state.find(&cut) {
        Some(i) if matches!(state[i + cut.len()..].chars().next(), None | Some(' ')) => {
            format!("{}{}", &state[..i], &state[i + cut.len()..])
        }
        _ => state.to_string(),
    };
    format!("{head}{kept}")
}

/// crm_mon's `-r` list: the block (as in the full list) of every resource with an
/// instance that is not active, so a clone shows as its clone set, never as an
/// anonymous instance's internal id (`ping:3`).
fn inactive(out: &mut String, v: &View) {
    let t = &v.transition;
    out.push_str("\nInactive Resources:\n");
    let idle: std::collections::HashSet<&str> = t
        .placements
        .iter()
        .filter(|p| p.current.is_empty())
        .map(|p| p.clone.as_deref().unwrap_or(p.resource.as_str()))
        .collect();
    let has_idle = |r: &hactl_model::Resource| match r {
        hactl_model::Resource::Group(g) => g.children.iter().any(|c| idle.contains(c.id.as_str())),
        other => idle.contains(other.id()),
    };
    let blocks = format_resource_blocks(&v.cib, t, StatusView::Current, &has_idle);
    for line in blocks.lines() {
        let _ = writeln!(out, "{}", line.strip_prefix("  ").unwrap_or(line));
    }
    if blocks.is_empty() {
        out.push_str("  * No inactive resources\n");
    }
}

fn warnings(out: &mut String, r: &StatusReport) {
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
}

fn attributes(out: &mut String, v: &View) {
    out.push_str("\nNode Attributes:\n");
    for n in &v.cib.config.nodes {
        let all = v.node_attributes(&n.name);
        if all.is_empty() {
            continue;
        }
        let _ = writeln!(out, "  * Node: {}:", n.name);
        for (k, val) in all {
            let _ = writeln!(out, "    * {k:<30}: {val}");
        }
    }
}

/// One operation of the history: `(5) start: rc=0 (ok)`, with `-t` its times.
pub fn op_line(op: &OpRecord, timing: bool) -> String {
    let mut s = format!("({}) {}", op.call_id, op.operation);
    if op.interval_ms > 0 {
        let _ = write!(s, " {}", format_interval_ms(op.interval_ms));
    }
    s.push(':');
    if timing {
        if let Some(t) = op.last_rc_change {
            let _ = write!(s, " last-rc-change='{}'", format_time(t));
        }
        if let Some(ms) = op.exec_time_ms {
            let _ = write!(s, " exec-time={}", format_ms(ms));
        }
        if let Some(ms) = op.queue_time_ms {
            let _ = write!(s, " queue-time={}", format_ms(ms));
        }
    }
    let _ = write!(s, " rc={} ({})", op.rc, hactl_model::rc::name(op.rc));
    s
}

fn operations(out: &mut String, v: &View, timing: bool) {
    out.push_str("\nOperations:\n");
    for (node, st) in &v.cib.status.nodes {
        if st.resources.is_empty() {
            continue;
        }
        let shown: Vec<_> = st
            .resources
            .iter()
            .map(|(r, h)| (r, history_ops(h)))
            .filter(|(_, ops)| !ops.is_empty())
            .collect();
        if shown.is_empty() {
            continue;
        }
        let _ = writeln!(out, "  * Node: {node}:");
        for (rsc, ops) in shown {
            let fails: u64 = st
                .failcounts
                .iter()
                .filter(|f| &f.rsc == rsc)
                .map(|f| f.count.value().max(0) as u64)
                .sum();
            let fc = if fails > 0 {
                format!(" fail-count={fails}")
            } else {
                String::new()
            };
            let _ = writeln!(out, "    * {rsc}:{fc}");
            for op in ops {
                let _ = writeln!(out, "      * {}", op_line(op, timing));
            }
        }
    }
}

/// A failed action in one line, with its time, duration and exit reason.
pub fn failed_action_line(f: &FailedAction) -> String {
    let mut s = format!("{} {}", f.resource, f.operation);
    if f.interval_ms > 0 {
        let _ = write!(s, " {}", format_interval_ms(f.interval_ms));
    }
    let _ = write!(s, " on {} returned '{}' ({})", f.node, f.rc_text, f.rc);
    if let Some(t) = f.last_rc_change {
        let _ = write!(s, " at {}", format_time(t));
    }
    if let Some(ms) = f.exec_time_ms {
        let _ = write!(s, " after {}", format_ms(ms));
    }
    let _ = write!(s, ", call={}", f.call_id);
    if let Some(e) = &f.exit_reason {
        let _ = write!(s, ", exit-reason='{e}'");
    }
    if f.op_status >= 2 {
        let _ = write!(s, ", status={}", op_status_text(f.op_status));
    }
    s
}

fn failures(out: &mut String, r: &StatusReport, failcounts: bool) {
    if !r.failed_actions.is_empty() {
        out.push_str("\nFailed Resource Actions:\n");
        for f in &r.failed_actions {
            let _ = writeln!(out, "  * {}", failed_action_line(f));
        }
    }
    if failcounts && !r.failcounts.is_empty() {
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
}

fn fence_line(e: &hactl_model::FenceEvent) -> String {
    let mut s = format!(
        "{} of {} {}: executed by {}",
        e.action,
        e.target,
        if e.ok { "successful" } else { "failed" },
        e.executor
    );
    if !e.devices.is_empty() {
        let _ = write!(s, " with {}", e.devices.join(","));
    }
    if let Some(o) = &e.origin {
        let _ = write!(s, ", asked by {o}");
    }
    let when = if e.ok { "completed" } else { "last-failed" };
    let _ = write!(s, ", {when}='{}'", format_time(e.at));
    if let Some(why) = &e.reason {
        let _ = write!(s, ", reason='{why}'");
    }
    s
}

fn fencing(out: &mut String, v: &View, history: bool) {
    let r = &v.report;
    if history && !v.cib.status.fencing_history.is_empty() {
        out.push_str("\nFencing History:\n");
        for e in v.cib.status.fencing_history.iter().rev() {
            let _ = writeln!(out, "  * {}", fence_line(e));
        }
    } else if !r.fencing.failed.is_empty() {
        out.push_str("\nFailed Fencing Actions:\n");
        for e in &r.fencing.failed {
            let _ = writeln!(out, "  * {}", fence_line(e));
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
}

fn pending(out: &mut String, r: &StatusReport) {
    if r.settled {
        out.push_str("\nThe cluster has settled (nothing left to do).\n");
    } else {
        out.push_str("\nPending actions (the cluster has not settled):\n");
        for p in &r.pending {
            let _ = writeln!(out, "  * {p}");
        }
    }
}

/// A location constraint in one line: `vip prefers n1 (score: 100) (id: …)`.
pub fn describe_location(l: &LocationConstraint) -> String {
    let mut s = match (&l.node, l.score) {
        (Some(n), Some(sc)) if sc.value() < 0 => {
            format!("{} avoids {n} (score: {sc})", l.rsc)
        }
        (Some(n), Some(sc)) => format!("{} prefers {n} (score: {sc})", l.rsc),
        (Some(n), None) => format!("{} on {n}", l.rsc),
        (None, _) => format!("{}: {} rule(s)", l.rsc, l.rules.len()),
    };
    if let Some(r) = l.role {
        let _ = write!(s, " (role: {r})");
    }
    if let Some(d) = l.resource_discovery.as_deref().filter(|d| *d != "always") {
        let _ = write!(s, " (resource-discovery={d})");
    }
    if let Some(e) = l.expires {
        let _ = write!(s, " (expires: {e} unix time)");
    }
    let _ = write!(s, " (id: {})", l.id);
    s
}

/// Pacemaker's names for an operation's execution status.
pub fn op_status_text(s: i32) -> &'static str {
    match s {
        0 => "complete",
        1 => "cancelled",
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

    /// A discovery mode other than the default is shown, as pcs shows it.
    #[test]
    fn a_location_shows_its_discovery_mode() {
        let mut l = LocationConstraint {
            id: "l1".into(),
            rsc: "web".into(),
            node: Some("n1".into()),
            score: Some(hactl_model::Score::new(10)),
            ..Default::default()
        };
        assert_eq!(describe_location(&l), "web prefers n1 (score: 10) (id: l1)");
        l.resource_discovery = Some("exclusive".into());
        assert_eq!(
            describe_location(&l),
            "web prefers n1 (score: 10) (resource-discovery=exclusive) (id: l1)"
        );
    }
}
