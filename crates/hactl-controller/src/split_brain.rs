//! The split-brain rule without fencing, applied to the CIB: which resources a lost
//! node may still run and so how long the DC holds them. The timing itself (`hold`,
//! its derivation) is pure and lives in [`hactl_model::split_brain`], shared with
//! `hactl cluster verify`; see also `docs/architecture.md`, "Split brain".

use std::time::Duration;

use hactl_model::Cib;

pub use hactl_model::split_brain::{
    clean_within, hold, hold_between, self_fence_after, Liveness, LIVENESS_ATTR,
};

use crate::ops::{op_details_of, primitive_index, rc, status};

/// Whether the newest record of a resource on a node leaves it possibly running: all
/// but a successful stop and a probe that found it stopped.
fn maybe_running(newest: &hactl_model::OpRecord) -> bool {
    let done = newest.op_status == status::DONE;
    let stopped = newest.operation == "stop" && newest.rc == rc::OK;
    let probed_stopped =
        newest.operation == "monitor" && newest.interval_ms == 0 && newest.rc == rc::NOT_RUNNING;
    !(done && (stopped || probed_stopped))
}

/// The longest `node` can take to stop everything it may run, per the CIB: the sum
/// of the stop timeouts of every resource its history shows possibly running, plus,
/// for each resource being started there (`starting`: dispatched, not recorded yet),
/// its start timeout and its stop timeout (a start that completes after the node
/// lost quorum is stopped then). The node stops one resource after the other.
pub fn stop_chain<'a>(
    cib: &Cib,
    node: &str,
    starting: impl IntoIterator<Item = &'a str>,
) -> Duration {
    // One lookup table, not a scan of the configuration per resource: a node can
    // run thousands, and this runs on the DC's runtime.
    let index = primitive_index(cib);
    let timeout = |rsc: &str, op: &str| {
        op_details_of(cib, index.get(rsc).copied(), rsc, node, op, 0)
            .filter(|d| d.agent.class != "stonith")
            .map(|d| d.timeout_ms)
            .unwrap_or(0)
    };
    let mut ms = 0u64;
    let mut counted = std::collections::BTreeSet::new();
    if let Some(st) = cib.status.nodes.get(node) {
        for (rsc, h) in &st.resources {
            if h.ops
                .iter()
                .max_by_key(|o| o.call_id)
                .is_some_and(maybe_running)
            {
                counted.insert(rsc.as_str());
                ms = ms.saturating_add(timeout(rsc, "stop"));
            }
        }
    }
    for rsc in starting {
        let start = timeout(rsc, "start");
        let stop = if counted.contains(rsc) {
            0
        } else {
            timeout(rsc, "stop")
        };
        ms = ms.saturating_add(start).saturating_add(stop);
    }
    Duration::from_millis(ms)
}

/// `stonith-watchdog-timeout` from the CIB, when set.
pub fn watchdog_timeout(cib: &Cib) -> Option<Duration> {
    cib.config
        .options()
        .ok()
        .map(|o| o.stonith_watchdog_timeout_ms)
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
}

/// The hold for a lost `node`, derived from the CIB.
pub fn hold_for<'a>(
    l: &Liveness,
    cib: &Cib,
    node: &str,
    starting: impl IntoIterator<Item = &'a str>,
) -> Duration {
    let chain = stop_chain(cib, node, starting);
    let clean = clean_within(chain, watchdog_timeout(cib));
    // The lost node's own timing, as it recorded it when it joined (none from older
    // builds: the same as ours).
    let theirs = cib
        .status
        .nodes
        .get(node)
        .and_then(|st| st.attributes.get(LIVENESS_ATTR))
        .and_then(|v| Liveness::from_attr(v));
    match theirs {
        Some(m) => hold_between(l, &m, clean),
        None => hold(l, clean),
    }
}

#[cfg(test)]
#[path = "split_brain_tests.rs"]
mod tests;
