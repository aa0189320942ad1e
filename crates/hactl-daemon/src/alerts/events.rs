//! Which alert events a CIB change means for this node, as a pure function of the
//! CIB before and after: every node reports node membership changes and fencing
//! (as Pacemaker's controllers and fencers do on every node); resource operations
//! and transient attributes only where they happened (this node).

use std::collections::BTreeMap;

use hactl_model::alerts::AlertKind;
use hactl_model::{Cib, FenceEvent, OpRecord};

/// One event, with what the `CRM_alert_*` environment needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertEvent {
    pub kind: Option<AlertKind>,
    pub node: String,
    pub desc: String,
    pub rsc: String,
    pub task: String,
    pub interval_ms: u64,
    pub rc: Option<i32>,
    pub target_rc: Option<i32>,
    pub status: Option<i32>,
    pub attribute_name: String,
    pub attribute_value: String,
}

impl AlertEvent {
    pub fn kind(&self) -> AlertKind {
        self.kind.unwrap_or(AlertKind::Node)
    }
}

/// The events between `old` and `new`, in the order they happened: membership,
/// then fencing (oldest first), then this node's operations (by call id), then its
/// attributes.
pub fn events(old: &Cib, new: &Cib, me: &str) -> Vec<AlertEvent> {
    let mut out = Vec::new();
    membership(old, new, &mut out);
    fencing(old, new, &mut out);
    operations(old, new, me, &mut out);
    attributes(old, new, me, &mut out);
    out
}

fn membership(old: &Cib, new: &Cib, out: &mut Vec<AlertEvent>) {
    for (name, st) in &new.status.nodes {
        let was = old.status.nodes.get(name).and_then(|s| s.member);
        let Some(now) = st.member else { continue };
        if was == Some(now) || (was.is_none() && !now) {
            continue;
        }
        out.push(AlertEvent {
            kind: Some(AlertKind::Node),
            node: name.clone(),
            desc: if now { "member" } else { "lost" }.into(),
            ..Default::default()
        });
    }
}

fn fencing(old: &Cib, new: &Cib, out: &mut Vec<AlertEvent>) {
    for e in new
        .status
        .fencing_history
        .iter()
        .filter(|e| !old.status.fencing_history.contains(e))
    {
        out.push(AlertEvent {
            kind: Some(AlertKind::Fencing),
            node: e.target.clone(),
            task: e.action.clone(),
            rc: Some(if e.ok { 0 } else { 1 }),
            desc: fencing_desc(e),
            ..Default::default()
        });
    }
}

/// Pacemaker's words: `Operation reboot of n2 by n1 for controller: OK`.
fn fencing_desc(e: &FenceEvent) -> String {
    let result = if e.ok {
        "OK".to_string()
    } else {
        format!("Error ({})", e.reason.as_deref().unwrap_or("failed"))
    };
    format!(
        "Operation {} of {} by {} for {}: {result}",
        e.action,
        e.target,
        e.executor,
        e.origin.as_deref().unwrap_or("controller")
    )
}

fn operations(old: &Cib, new: &Cib, me: &str, out: &mut Vec<AlertEvent>) {
    let Some(st) = new.status.nodes.get(me) else {
        return;
    };
    let seen = old
        .status
        .nodes
        .get(me)
        .into_iter()
        .flat_map(|s| s.resources.values())
        .flat_map(|h| h.ops.iter().map(|o| o.call_id))
        .max()
        .unwrap_or(i64::MIN);
    let mut fresh: Vec<(&str, &OpRecord)> = st
        .resources
        .iter()
        .flat_map(|(rsc, h)| h.ops.iter().map(move |o| (rsc.as_str(), o)))
        .filter(|(_, o)| o.call_id > seen && worth_an_alert(o))
        .collect();
    fresh.sort_by_key(|(_, o)| o.call_id);
    for (rsc, o) in fresh {
        out.push(AlertEvent {
            kind: Some(AlertKind::Resource),
            node: me.to_string(),
            rsc: rsc.to_string(),
            task: o.operation.clone(),
            interval_ms: o.interval_ms,
            rc: Some(o.rc),
            target_rc: Some(o.expected_rc.unwrap_or(0)),
            status: Some(o.op_status),
            desc: op_desc(o),
            ..Default::default()
        });
    }
}

/// As Pacemaker: every start, stop and failure; not a monitor (probe or recurring)
/// that found what was expected.
fn worth_an_alert(o: &OpRecord) -> bool {
    o.operation != "monitor" || o.is_failure()
}

/// Pacemaker's description: the exit code's name when the op ran, else why not.
fn op_desc(o: &OpRecord) -> String {
    let status = match o.op_status {
        0 => None,
        1 => Some("Cancelled"),
        2 => Some("Timed Out"),
        3 => Some("Not Supported"),
        5 => Some("Not installed"),
        6 => Some("Not connected"),
        _ => Some("Error"),
    };
    if let Some(s) = status {
        return s.to_string();
    }
    let text = match o.rc {
        0 => "ok",
        1 => "error",
        2 => "invalid parameter",
        3 => "unimplemented feature",
        4 => "insufficient privileges",
        5 => "not installed",
        6 => "not configured",
        7 => "not running",
        8 => "promoted",
        9 => "promoted (failed)",
        _ => "unknown",
    };
    match &o.exit_reason {
        Some(r) if o.is_failure() && !r.is_empty() => format!("{text} ({r})"),
        _ => text.to_string(),
    }
}

fn attributes(old: &Cib, new: &Cib, me: &str, out: &mut Vec<AlertEvent>) {
    let empty = BTreeMap::new();
    let attrs = |c: &'_ Cib| -> BTreeMap<String, String> {
        c.status
            .nodes
            .get(me)
            .map(|s| s.attributes.clone())
            .unwrap_or_else(|| empty.clone())
    };
    let (before, after) = (attrs(old), attrs(new));
    let names: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for name in names {
        let (b, a) = (before.get(name), after.get(name));
        if b == a || name.starts_with("hactl-") {
            continue;
        }
        out.push(AlertEvent {
            kind: Some(AlertKind::Attribute),
            node: me.to_string(),
            attribute_name: name.clone(),
            attribute_value: a.cloned().unwrap_or_default(),
            ..Default::default()
        });
    }
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
