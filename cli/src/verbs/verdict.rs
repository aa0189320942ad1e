//! Whether a change that "settled" actually did what it was for: the resources it
//! touched (created, updated, grouped, enabled) are running, or stopped on purpose.
//!
//! Settled only means the scheduler has nothing left to run; a resource whose start
//! failed with "not configured" is settled too — stopped, banned everywhere. Such a
//! change is reported as not done, with the agent's exit reason and what keeps the
//! resource from running (the score or fail count), and the command exits with
//! [`EXIT_NOT_RUNNING`] (documented in docs/user-guide.md, "Exit codes").

use hactl_model::change::Change;
use hactl_model::{Cib, OpRecord, Resource, Score};
use hactl_policy::{Placement, Transition};

/// Exit code of a change that was committed and settled, but left a resource it
/// touched failed, blocked or unable to run anywhere.
pub const EXIT_NOT_RUNNING: u8 = 3;

/// The primitives a change touched: created, moved into a group, or updated (only
/// the members of an updated group whose definition changed, or all of them when the
/// group's own meta attributes changed: disabling one member stops the members after
/// it, which is what was asked, not a failure). `before` is the CIB it applies to.
pub fn touched(change: &Change, before: &Cib) -> Vec<String> {
    let mut out = Vec::new();
    collect(change, before, &mut out);
    out.dedup();
    out
}

fn collect(change: &Change, before: &Cib, out: &mut Vec<String>) {
    match change {
        Change::AddResource { resource } => out.extend(primitive_ids(resource)),
        Change::UpdateResource { resource } => {
            match (resource, before.config.find_resource(resource.id())) {
                (Resource::Group(g), Some(Resource::Group(old))) if g.meta == old.meta => out
                    .extend(
                        g.children
                            .iter()
                            .filter(|c| !old.children.contains(c))
                            .map(|c| c.id.clone()),
                    ),
                _ => out.extend(primitive_ids(resource)),
            }
        }
        Change::AddGroupMembers { members, .. } => out.extend(members.iter().cloned()),
        Change::Batch { changes } => changes.iter().for_each(|c| collect(c, before, out)),
        // `cib push`: the primitives it creates or redefines.
        Change::ReplaceConfiguration { config, .. } => out.extend(
            config
                .resources
                .iter()
                .flat_map(|r| r.primitives())
                .filter(|p| before.config.find_primitive(&p.id) != Some(*p))
                .map(|p| p.id.clone()),
        ),
        _ => {}
    }
}

fn primitive_ids(r: &Resource) -> Vec<String> {
    r.primitives().map(|p| p.id.clone()).collect()
}

/// What is wrong with one touched resource.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub resource: String,
    /// It should run but does not, or its failure is blocked: the change is not done.
    pub not_done: bool,
    /// One line each: failed operations with exit reasons, fail counts, scores.
    pub details: Vec<String>,
}

/// The findings for `resources` in a settled CIB and its (empty) transition.
pub fn judge(cib: &Cib, t: &Transition, resources: &[String]) -> Vec<Finding> {
    resources
        .iter()
        .filter_map(|r| {
            let pl = t.placements.iter().find(|p| &p.resource == r)?;
            let mut details = failures(cib, r);
            let not_done =
                !pl.disabled && (pl.after.is_empty() || pl.blocked || pl.failed_after || pl.failed);
            if not_done && pl.after.is_empty() {
                details.push(format!("cannot run: {}", why_not_running(t, r)));
            } else if pl.blocked {
                details.push("blocked: its failure cannot be recovered automatically".into());
            }
            (not_done || !details.is_empty()).then(|| Finding {
                resource: r.clone(),
                not_done,
                details,
            })
        })
        .collect()
}

/// Failed operations (the newest of each operation and interval) and fail counts.
fn failures(cib: &Cib, rsc: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (node, ns) in &cib.status.nodes {
        if let Some(h) = ns.resources.get(rsc) {
            let mut newest: Vec<&OpRecord> = Vec::new();
            for op in &h.ops {
                match newest
                    .iter_mut()
                    .find(|o| o.operation == op.operation && o.interval_ms == op.interval_ms)
                {
                    Some(o) if o.call_id < op.call_id => *o = op,
                    Some(_) => {}
                    None => newest.push(op),
                }
            }
            for op in newest.into_iter().filter(|o| o.is_failure()) {
                out.push(describe_failure(node, op));
            }
        }
        let count: Score = ns
            .failcounts
            .iter()
            .filter(|f| f.rsc == rsc)
            .fold(Score::ZERO, |a, f| a + f.count);
        if count > Score::ZERO {
            out.push(format!("fail count {count} on {node}"));
        }
    }
    out
}

fn describe_failure(node: &str, op: &OpRecord) -> String {
    let what = match (op.operation.as_str(), op.interval_ms) {
        ("monitor", 0) => "probe".to_string(),
        ("monitor", ms) => format!("monitor {}", hactl_model::values::format_interval_ms(ms)),
        (o, _) => o.to_string(),
    };
    let status = match op.op_status {
        2 => " (timed out)".to_string(),
        0 => String::new(),
        s => format!(" (status {s})"),
    };
    let reason = op
        .exit_reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    format!(
        "{what} on {node} failed: {} ({}){status}{reason}",
        hactl_exec::rc::name(op.rc),
        op.rc
    )
}

/// Why the scheduler places `rsc` nowhere: per node, its score and the negative
/// contributions that make it (nodes with the same explanation are listed together).
pub fn why_not_running(t: &Transition, rsc: &str) -> String {
    let Some(rs) = t.scores.iter().find(|s| s.resource == rsc) else {
        return "unknown resource".into();
    };
    let mut lines: Vec<(String, Vec<String>)> = Vec::new();
    for (n, node) in t.nodes.iter().enumerate() {
        let text = if !node.online || node.unclean || node.standby || node.pending {
            "node unavailable".to_string()
        } else {
            match rs.scores.get(n).copied().flatten() {
                None => "not allowed".to_string(),
                Some(score) => {
                    let negative: Vec<String> = rs
                        .contributions
                        .iter()
                        .filter(|c| c.score < Score::ZERO)
                        .filter(|c| c.nodes.as_ref().is_none_or(|v| v.contains(&n)))
                        .map(|c| format!("{} {}", c.score, c.what))
                        .collect();
                    if negative.is_empty() {
                        format!("score {score}")
                    } else {
                        format!("score {score}: {}", negative.join(", "))
                    }
                }
            }
        };
        match lines.iter_mut().find(|(t, _)| *t == text) {
            Some((_, nodes)) => nodes.push(node.name.clone()),
            None => lines.push((text, vec![node.name.clone()])),
        }
    }
    let per_node: Vec<String> = lines
        .into_iter()
        .map(|(text, nodes)| format!("{} {text}", nodes.join(", ")))
        .collect();
    format!("{} [{}]", rs.why, per_node.join("; "))
}

/// Primitives of `touched` the transition would leave stopped though they are not
/// disabled (for `--dry-run`).
pub fn would_not_run<'a>(t: &'a Transition, touched: &[String]) -> Vec<&'a Placement> {
    t.placements
        .iter()
        .filter(|p| touched.contains(&p.resource) && !p.disabled && p.after.is_empty())
        .collect()
}

/// The error of a change that was committed and settled but is not done; `main`
/// turns it into [`EXIT_NOT_RUNNING`].
#[derive(Debug)]
pub struct NotDone {
    pub what: String,
    pub resources: Vec<String>,
}

impl std::fmt::Display for NotDone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: committed, but not done: {} not running (see above; `hactl resource cleanup` retries once fixed)",
            self.what,
            self.resources.join(", ")
        )
    }
}

impl std::error::Error for NotDone {}

#[cfg(test)]
mod tests {
    use super::*;
    use hactl_model::change::NodeStateUpdate;
    use hactl_model::{AgentSpec, FailCount, Node, Primitive};
    use hactl_policy::schedule;

    fn cluster(rscs: &[&str]) -> Cib {
        let mut cib = Cib::default();
        for n in ["n1", "n2"] {
            let node = Node {
                name: n.into(),
                ..Default::default()
            };
            Change::AddNode { node }.apply(&mut cib).unwrap();
            let state = NodeStateUpdate {
                member: Some(true),
                controller_online: Some(true),
                join: Some("member".into()),
                expected: Some("member".into()),
            };
            let node = n.into();
            Change::SetNodeState { node, state }
                .apply(&mut cib)
                .unwrap();
        }
        cib.status.have_quorum = true;
        cib.config
            .properties
            .insert("stonith-enabled".into(), "false".into());
        for r in rscs {
            cib.config.resources.push(Resource::Primitive(Primitive {
                id: r.to_string(),
                agent: AgentSpec::parse("ocf:hactl:VIP").unwrap(),
                ..Default::default()
            }));
        }
        cib
    }

    fn record(cib: &mut Cib, node: &str, rsc: &str, op: &str, rc: i32, reason: Option<&str>) {
        let call_id = cib.status.nodes[node]
            .resources
            .get(rsc)
            .map_or(0, |h| h.ops.len() as i64)
            + 1;
        let op = OpRecord {
            operation: op.into(),
            call_id,
            rc,
            expected_rc: Some(if op == "monitor" { 7 } else { 0 }),
            exit_reason: reason.map(str::to_string),
            ..Default::default()
        };
        let agent = AgentSpec::parse("ocf:hactl:VIP").unwrap();
        let (node, rsc) = (node.to_string(), rsc.to_string());
        Change::RecordOp {
            node,
            rsc,
            agent,
            op,
        }
        .apply(cib)
        .unwrap();
    }

    fn fail_count(cib: &mut Cib, node: &str, rsc: &str) {
        let failcount = FailCount {
            rsc: rsc.into(),
            op: Some("start".into()),
            interval_ms: Some(0),
            count: Score::INFINITY,
            last_failure: Some(1),
        };
        let node = node.into();
        Change::SetFailCount { node, failcount }.apply(cib).unwrap();
    }

    /// The case: settled, but the start failed with "not configured" and the
    /// resource runs nowhere. That is not done, with the exit reason and the ban.
    /// A resource that failed on one node and runs on the other is done, with a note.
    #[test]
    fn a_settled_change_with_a_failed_start_is_not_done() {
        let mut cib = cluster(&["bad", "moved"]);
        for n in ["n1", "n2"] {
            record(&mut cib, n, "bad", "monitor", 7, None);
            record(&mut cib, n, "moved", "monitor", 7, None);
        }
        let why = "parameter 'ip': '10.99.0.300' is not an IPv4 or IPv6 address";
        record(&mut cib, "n1", "bad", "start", 6, Some(why));
        record(&mut cib, "n1", "bad", "stop", 0, None);
        fail_count(&mut cib, "n1", "bad");
        record(
            &mut cib,
            "n1",
            "moved",
            "start",
            2,
            Some("nic 'vnic0' does not exist"),
        );
        record(&mut cib, "n1", "moved", "stop", 0, None);
        fail_count(&mut cib, "n1", "moved");
        record(&mut cib, "n2", "moved", "start", 0, None);
        let t = schedule(&cib, 2).unwrap();
        let touched = vec!["bad".to_string(), "moved".to_string()];
        let f = judge(&cib, &t, &touched);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f[0].not_done, "{f:?}");
        let text = f[0].details.join("\n");
        assert!(
            text.contains(&format!("start on n1 failed: not configured (6): {why}")),
            "{text}"
        );
        assert!(text.contains("fail count INFINITY on n1"), "{text}");
        assert!(text.contains("cannot run:"), "{text}");
        assert!(
            text.contains("fatal error (invalid configuration)"),
            "{text}"
        );
        assert!(!f[1].not_done, "{f:?}");
        assert!(
            f[1].details.join("\n").contains("invalid parameter (2)"),
            "{f:?}"
        );
    }

    #[test]
    fn touched_resources_of_a_change() {
        let cib = cluster(&["a", "b"]);
        let add = Change::AddResource {
            resource: cib.config.resources[0].clone(),
        };
        let batch = Change::Batch {
            changes: vec![
                add,
                Change::AddGroupMembers {
                    group: "g".into(),
                    members: vec!["b".into()],
                },
            ],
        };
        assert_eq!(
            touched(&batch, &cib),
            vec!["a".to_string(), "b".to_string()]
        );
        let prop = Change::SetProperty {
            name: "x".into(),
            value: "y".into(),
        };
        assert!(touched(&prop, &cib).is_empty());
    }

    /// Disabling one member of a group touches that member only (the members after
    /// it stop too, as asked); a change to the group's own meta touches them all.
    #[test]
    fn an_updated_group_touches_the_members_that_changed() {
        let mut cib = cluster(&[]);
        let member = |id: &str| Primitive {
            id: id.into(),
            agent: AgentSpec::parse("ocf:hactl:Dummy").unwrap(),
            ..Default::default()
        };
        let group = hactl_model::Group {
            id: "g".into(),
            children: vec![member("d1"), member("d2")],
            ..Default::default()
        };
        cib.config.resources.push(Resource::Group(group.clone()));
        let mut disabled = group.clone();
        disabled.children[0]
            .meta
            .insert("target-role".into(), "Stopped".into());
        let update = |g: &hactl_model::Group| Change::UpdateResource {
            resource: Resource::Group(g.clone()),
        };
        assert_eq!(touched(&update(&disabled), &cib), vec!["d1".to_string()]);
        let mut sticky = group;
        sticky
            .meta
            .insert("resource-stickiness".into(), "100".into());
        assert_eq!(touched(&update(&sticky), &cib), vec!["d1", "d2"]);
    }
}
