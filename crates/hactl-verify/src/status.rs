//! Checks of a CIB that carries status (a live CIB, or a file saved from one), as
//! crm_verify makes them while unpacking it: a failed stop nothing can recover
//! from, and a resource active on more than one node.

use hactl_model::{Cib, OpRecord, Primitive, Resource, ResourceHistory};

use crate::{checks::push, Report, Severity};

/// A failed stop where fencing is off: the scheduler cannot know the resource
/// stopped, so it blocks it (on-fail=block, Pacemaker's "No further recovery").
/// With fencing on, fencing the node recovers it.
pub(crate) fn failed_stops(cib: &Cib, r: &mut Report) {
    let Ok(o) = cib.config.options() else {
        return; // reported by `model`
    };
    if o.stonith_enabled {
        return;
    }
    for (node, st) in &cib.status.nodes {
        for (rsc, h) in &st.resources {
            // The newest result: a stop that failed and was not followed by anything.
            let failed_stop = newest(h).is_some_and(|op| op.operation == "stop" && op.is_failure());
            if !failed_stop {
                continue;
            }
            push(
                r,
                Severity::Error,
                "failed-stop",
                rsc,
                format!(
                    "No further recovery can be attempted for {rsc} because stop on \
                     {node} failed (fencing is disabled, so the resource is blocked)"
                ),
                "make sure it is stopped on that node, then `hactl resource cleanup`; \
                 enable fencing so a failed stop is recovered by fencing the node",
            );
        }
    }
}

/// Whether a history says the resource may be running on its node: the newest
/// operation is not a successful stop, nor an expected "not running" (7: a probe,
/// a monitor of the Stopped role), nor a probe that found it not installed (5). A
/// failed start or monitor leaves it possibly active (it needs a stop), as
/// Pacemaker counts it.
fn active(h: &ResourceHistory) -> bool {
    newest(h).is_some_and(|op| !stopped(op))
}

/// The newest finished operation of a history.
fn newest(h: &ResourceHistory) -> Option<&OpRecord> {
    h.ops
        .iter()
        // Still running, or cancelled: says nothing of the resource yet.
        .filter(|o| !o.is_pending() && o.op_status != 1)
        .max_by_key(|o| o.call_id)
}

fn stopped(op: &OpRecord) -> bool {
    // A probe's 7 means stopped whatever its execution status (old CIBs record
    // one with op-status 4, which Pacemaker reads as done).
    if op.is_probe() && matches!(op.rc, 5 | 7) {
        return true;
    }
    !op.is_failure() && (op.operation == "stop" || op.rc == 7)
}

/// Primitives that must run on one node at most: not clone instances.
fn single_instance(cib: &Cib) -> impl Iterator<Item = &Primitive> {
    cib.config.resources.iter().flat_map(|r| match r {
        Resource::Primitive(p) => std::slice::from_ref(p),
        Resource::Group(g) => &g.children[..],
        Resource::Clone(_) => &[],
    })
}

/// A resource that is not a clone, active on several nodes (Pacemaker's
/// multiple-active: stop it everywhere, then start it once).
pub(crate) fn multiply_active(cib: &Cib, r: &mut Report) {
    for p in single_instance(cib) {
        let on: Vec<&str> = cib
            .status
            .nodes
            .iter()
            .filter(|(_, st)| st.resources.get(&p.id).is_some_and(active))
            .map(|(n, _)| n.as_str())
            .collect();
        if on.len() < 2 {
            continue;
        }
        push(
            r,
            Severity::Error,
            "multiply-active",
            &p.id,
            format!(
                "{} resource {} might be active on {} nodes ({}); recovery follows its \
                 multiple-active (default: stop it everywhere, start it once)",
                p.agent.class,
                p.id,
                on.len(),
                on.join(", ")
            ),
            "find out why it runs twice (started by hand, a node that lost its state), \
             stop the copy that should not run and `hactl resource cleanup` it",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(operation: &str, interval_ms: u64, rc: i32, op_status: i32, expected: i32) -> OpRecord {
        OpRecord {
            operation: operation.into(),
            interval_ms,
            call_id: 1,
            rc,
            op_status,
            expected_rc: Some(expected),
            ..Default::default()
        }
    }

    /// What counts as stopped, from the CTS inputs where a first rule disagreed
    /// with crm_verify's "might be active" (standby, stopped-monitor-21,
    /// unfence-startup, stop-unexpected).
    #[test]
    fn stopped_is_a_clean_stop_or_an_expected_not_running() {
        assert!(stopped(&op("stop", 0, 0, 0, 0)));
        assert!(!stopped(&op("stop", 0, 1, 0, 0)), "a failed stop");
        // A probe's 7, even recorded with op-status 4 by an old Pacemaker.
        assert!(stopped(&op("monitor", 0, 7, 0, 7)));
        assert!(stopped(&op("monitor", 0, 7, 4, 7)));
        assert!(stopped(&op("monitor", 0, 5, 0, 7)), "not installed");
        // A Stopped-role monitor that found it stopped, as expected.
        assert!(stopped(&op("monitor", 20_000, 7, 0, 7)));
        // A start or monitor that failed with 7 leaves it to be stopped.
        assert!(!stopped(&op("start", 0, 7, 0, 0)));
        assert!(!stopped(&op("monitor", 10_000, 7, 0, 0)));
        assert!(!stopped(&op("start", 0, 0, 0, 0)));
    }
}
