//! History views: `hactl resource history` (each resource's operations as the CIB
//! status records them: the newest result of each operation and interval per node,
//! and the last failure of each) and `hactl cluster history` (the DC's last
//! transitions, kept in the replicated status: see `hactl_model::transitions`).
//! Text and JSON (`schema_version` [`HISTORY_SCHEMA_VERSION`], docs/status-json.md).

use std::fmt::Write as _;

use hactl_model::transitions::{ActionResult, TransitionRecord};
use hactl_model::{Cib, OpRecord};
use serde::Serialize;

use crate::text::op_status_text;
use crate::time::{format_ms, format_time};

/// The version of the JSON documents of both history commands.
pub const HISTORY_SCHEMA_VERSION: u32 = 1;

/// Why a history cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("resource {0:?} is neither configured nor in any node's history")]
    UnknownResource(String),
    #[error("node {0:?} is not a node of this cluster")]
    UnknownNode(String),
    #[error("encoding the history: {0}")]
    Encode(String),
}

/// One recorded operation of one resource on one node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpEntry {
    pub node: String,
    pub resource: String,
    pub agent: String,
    pub operation: String,
    pub interval_ms: u64,
    pub call_id: i64,
    pub rc: i32,
    pub rc_text: &'static str,
    pub status: &'static str,
    pub failed: bool,
    /// Seconds since the epoch.
    pub last_run: Option<i64>,
    pub last_rc_change: Option<i64>,
    pub exec_time_ms: Option<u64>,
    pub queue_time_ms: Option<u64>,
    pub exit_reason: Option<String>,
}

/// The operations of `rsc` (every resource if None) on `node` (every node if None),
/// by node, then resource, then call id.
pub fn resource_history(
    cib: &Cib,
    rsc: Option<&str>,
    node: Option<&str>,
) -> Result<Vec<OpEntry>, HistoryError> {
    if let Some(n) = node {
        let known =
            cib.config.nodes.iter().any(|x| x.name == n) || cib.status.nodes.contains_key(n);
        if !known {
            return Err(HistoryError::UnknownNode(n.to_string()));
        }
    }
    if let Some(r) = rsc {
        let configured = cib.config.find_primitive(r).is_some()
            || cib.config.resources.iter().any(|x| x.id() == r);
        let recorded = cib
            .status
            .nodes
            .values()
            .any(|s| s.resources.contains_key(r));
        if !configured && !recorded {
            return Err(HistoryError::UnknownResource(r.to_string()));
        }
    }
    let mut out = Vec::new();
    for (n, st) in &cib.status.nodes {
        if node.is_some_and(|want| want != n) {
            continue;
        }
        for (r, h) in &st.resources {
            if rsc.is_some_and(|want| !matches_resource(cib, want, r)) {
                continue;
            }
            let mut ops: Vec<&OpRecord> = h.ops.iter().chain(&h.last_failures).collect();
            ops.sort_by_key(|o| (o.call_id, o.operation.clone(), o.interval_ms));
            ops.dedup_by(|a, b| a.call_id == b.call_id && a.operation == b.operation);
            for o in ops {
                out.push(entry(n, r, &h.agent.to_string(), o));
            }
        }
    }
    Ok(out)
}

/// `want` names `rsc` itself, or the group or clone it belongs to.
fn matches_resource(cib: &Cib, want: &str, rsc: &str) -> bool {
    // A clone instance is recorded as `id:N`.
    let base = rsc.split(':').next().unwrap_or(rsc);
    want == rsc
        || want == base
        || cib
            .config
            .resources
            .iter()
            .any(|r| r.id() == want && r.primitives().any(|p| p.id == base))
}

fn entry(node: &str, rsc: &str, agent: &str, o: &OpRecord) -> OpEntry {
    OpEntry {
        node: node.to_string(),
        resource: rsc.to_string(),
        agent: agent.to_string(),
        operation: if o.is_probe() {
            "probe".into()
        } else {
            o.operation.clone()
        },
        interval_ms: o.interval_ms,
        call_id: o.call_id,
        rc: o.rc,
        rc_text: hactl_model::rc::name(o.rc),
        status: op_status_text(o.op_status),
        failed: o.is_failure(),
        last_run: o.last_run,
        last_rc_change: o.last_rc_change,
        exec_time_ms: o.exec_time_ms,
        queue_time_ms: o.queue_time_ms,
        exit_reason: o.exit_reason.clone(),
    }
}

/// `resource history` as text: per node and resource, one line per operation.
pub fn resource_history_text(entries: &[OpEntry]) -> String {
    let mut out = String::new();
    if entries.is_empty() {
        out.push_str("No operations recorded.\n");
        return out;
    }
    let mut last: Option<(&str, &str)> = None;
    for e in entries {
        if last.map(|(n, _)| n) != Some(e.node.as_str()) {
            let _ = writeln!(out, "Node {}:", e.node);
            last = None;
        }
        if last.map(|(_, r)| r) != Some(e.resource.as_str()) {
            let _ = writeln!(out, "  {} ({}):", e.resource, e.agent);
        }
        last = Some((&e.node, &e.resource));
        let _ = writeln!(out, "    {}", op_text(e));
    }
    out
}

fn op_text(e: &OpEntry) -> String {
    let mut s = format!("({}) {}", e.call_id, e.operation);
    if e.interval_ms > 0 {
        let _ = write!(
            s,
            " {}",
            hactl_model::values::format_interval_ms(e.interval_ms)
        );
    }
    let _ = write!(s, ": rc={} ({})", e.rc, e.rc_text);
    if e.status != "complete" {
        let _ = write!(s, " status={}", e.status);
    }
    if e.failed {
        s.push_str(" FAILED");
    }
    if let Some(t) = e.last_run {
        let _ = write!(s, " last-run='{}'", format_time(t));
    }
    if let Some(t) = e.last_rc_change {
        let _ = write!(s, " last-rc-change='{}'", format_time(t));
    }
    if let Some(ms) = e.exec_time_ms {
        let _ = write!(s, " exec-time={}", format_ms(ms));
    }
    if let Some(ms) = e.queue_time_ms {
        let _ = write!(s, " queue-time={}", format_ms(ms));
    }
    if let Some(r) = &e.exit_reason {
        let _ = write!(s, " exit-reason='{r}'");
    }
    s
}

/// The last `n` transitions (all if None), oldest first.
pub fn last_transitions(cib: &Cib, n: Option<usize>) -> &[TransitionRecord] {
    let all = &cib.status.transitions;
    let n = n.unwrap_or(all.len()).min(all.len());
    &all[all.len() - n..]
}

/// `cluster history` as text: per transition, its outcome, why, the plan and what
/// ran with each action's result and duration.
pub fn transitions_text(records: &[TransitionRecord]) -> String {
    let mut out = String::new();
    if records.is_empty() {
        out.push_str("No transitions recorded.\n");
        return out;
    }
    for r in records {
        transition_text(&mut out, r);
    }
    out
}

fn transition_text(out: &mut String, r: &TransitionRecord) {
    let secs = i64::try_from(r.started_ms / 1000).unwrap_or(i64::MAX);
    let outcome = match &r.aborted {
        Some(why) => format!("aborted: {why}"),
        None => "complete".into(),
    };
    let _ = write!(
        out,
        "Transition {} on {} at {}: {} in {}",
        r.id,
        r.dc,
        format_time(secs),
        outcome,
        format_ms(r.duration_ms)
    );
    if r.scheduler_ms > 0 {
        let _ = write!(out, " (scheduler {})", format_ms(r.scheduler_ms));
    }
    out.push('\n');
    let _ = writeln!(out, "  Triggered by: {}", r.trigger.join("; "));
    if !r.planned.is_empty() {
        out.push_str("  Planned:\n");
        for p in &r.planned {
            let _ = writeln!(out, "    * {p}");
        }
    }
    out.push_str("  Actions:\n");
    for a in &r.actions {
        let mut line = a.task.clone();
        if a.interval_ms > 0 {
            let _ = write!(
                line,
                " {}",
                hactl_model::values::format_interval_ms(a.interval_ms)
            );
        }
        if let Some(rsc) = &a.rsc {
            let _ = write!(line, " {rsc}");
        }
        let _ = write!(line, " on {}: {}", a.node, a.result.as_str());
        if let Some(rc) = a.rc.filter(|_| a.result != ActionResult::NotRun) {
            let _ = write!(line, " rc={rc} ({})", hactl_model::rc::name(rc));
        }
        if let Some(ms) = a.ms {
            let _ = write!(line, " {}", format_ms(ms));
        }
        let _ = writeln!(out, "    * {line}");
    }
    if r.more_actions > 0 {
        let _ = writeln!(out, "    * ... and {} more", r.more_actions);
    }
}

/// A history document as JSON: `{"schema_version": 1, KEY: items}`.
pub fn json<T: Serialize>(key: &str, items: &T) -> Result<String, HistoryError> {
    let mut doc = serde_json::Map::new();
    doc.insert("schema_version".into(), HISTORY_SCHEMA_VERSION.into());
    let v = serde_json::to_value(items).map_err(|e| HistoryError::Encode(e.to_string()))?;
    doc.insert(key.into(), v);
    serde_json::to_string_pretty(&doc).map_err(|e| HistoryError::Encode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hactl_model::transitions::ActionRecord;

    fn cib() -> Cib {
        let xml = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/web-cluster.xml"
        ))
        .unwrap();
        hactl_cib_xml::import(&xml).unwrap()
    }

    #[test]
    fn a_resource_history_lists_each_call_once_with_its_times_and_failure() {
        let c = cib();
        let all = resource_history(&c, None, None).unwrap();
        let haproxy = resource_history(&c, Some("haproxy"), None).unwrap();
        assert!(!haproxy.is_empty() && haproxy.len() < all.len());
        assert!(haproxy.iter().all(|e| e.resource == "haproxy"));
        let failed: Vec<&OpEntry> = haproxy.iter().filter(|e| e.failed).collect();
        assert_eq!(failed.len(), 1, "the monitor failure, once: {haproxy:#?}");
        let text = resource_history_text(&haproxy);
        assert!(
            text.contains("FAILED") && text.contains("exec-time="),
            "{text}"
        );
        let node = &haproxy[0].node;
        let on_node = resource_history(&c, Some("haproxy"), Some(node)).unwrap();
        assert!(on_node.iter().all(|e| &e.node == node));
        assert!(matches!(
            resource_history(&c, Some("nope"), None),
            Err(HistoryError::UnknownResource(_))
        ));
        assert!(matches!(
            resource_history(&c, None, Some("nope")),
            Err(HistoryError::UnknownNode(_))
        ));
    }

    #[test]
    fn a_transition_shows_why_what_was_planned_and_what_ran() {
        let r = TransitionRecord {
            id: 7,
            dc: "n1".into(),
            started_ms: 1_700_000_000_000,
            duration_ms: 1234,
            scheduler_ms: 5,
            trigger: vec!["node n2 standby on".into()],
            planned: vec!["Move web (Started n2 -> n1)".into()],
            actions: vec![
                ActionRecord {
                    task: "stop".into(),
                    rsc: Some("web".into()),
                    node: "n2".into(),
                    result: ActionResult::Ok,
                    rc: Some(0),
                    ms: Some(20),
                    ..Default::default()
                },
                ActionRecord {
                    task: "start".into(),
                    rsc: Some("web".into()),
                    node: "n1".into(),
                    result: ActionResult::NotRun,
                    ..Default::default()
                },
            ],
            aborted: Some("node n1 lost".into()),
            ..Default::default()
        };
        let text = transitions_text(&[r]);
        for want in [
            "Transition 7 on n1 at 2023-11-14 22:13:20: aborted: node n1 lost in 1234ms (scheduler 5ms)",
            "Triggered by: node n2 standby on",
            "* Move web (Started n2 -> n1)",
            "* stop web on n2: ok rc=0 (ok) 20ms",
            "* start web on n1: not run",
        ] {
            assert!(text.contains(want), "{want:?} in\n{text}");
        }
    }
}
