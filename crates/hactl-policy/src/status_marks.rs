//! What crm_mon reads from a resource's operation history besides where it runs:
//! an operation recorded as still in flight (`record-pending`), shown as
//! `Starting n1` or `Started n1 (Monitoring)`.

use hactl_model::{Cib, OpRecord};

/// The operations of a resource known as `names` (its id, the name its history
/// keeps) on every node, last failures included.
fn ops<'c>(cib: &'c Cib, names: &[&str]) -> Vec<&'c OpRecord> {
    cib.status
        .nodes
        .values()
        .flat_map(|st| names.iter().filter_map(|n| st.resources.get(*n)))
        .flat_map(|h| h.ops.iter().chain(&h.last_failures))
        .collect()
}

/// The operation in flight (`start`, `monitor`, …), not a probe: Pacemaker does
/// not show pending probes.
pub(crate) fn pending_task(cib: &Cib, names: &[&str]) -> Option<String> {
    ops(cib, names)
        .into_iter()
        .filter(|o| o.is_pending() && !o.is_probe())
        .min_by_key(|o| o.call_id)
        .map(|o| o.operation.clone())
}

/// The state crm_mon shows instead of the role while `task` is in flight
/// (`Starting`); none for a task shown as a flag (a monitor).
pub fn pending_state(task: &str) -> Option<&'static str> {
    match task {
        "start" => Some("Starting"),
        "stop" => Some("Stopping"),
        "migrate_to" | "migrate_from" => Some("Migrating"),
        "promote" => Some("Promoting"),
        "demote" => Some("Demoting"),
        _ => None,
    }
}
