//! The split-brain rule without fencing, as pure functions of explicit inputs (see
//! `docs/architecture.md`, "Split brain").
//!
//! A partition cuts the cluster at `t0` into a majority (quorum) and a minority.
//! Nothing proves to the majority that the minority stopped its resources, so the
//! majority's DC holds back the lost node's resources long enough that, by then, the
//! minority has **stopped them, or been reset by its watchdog**:
//!
//! - The minority heard its last heartbeat from the majority at the latest at `t0`;
//!   it loses quorum at its first liveness check after `L` of silence: by
//!   `t0 + L + check + slack`.
//! - It then stops what it runs, in reverse start order, each stop bounded by its
//!   timeout: clean by `+ chain` (the sum of those timeouts). With
//!   `stonith-watchdog-timeout` (`W`) it also runs a watchdog and stops feeding it
//!   when it is not clean `W − watchdog timeout` after losing quorum (or as soon as a
//!   stop fails): clean or reset by `+ W`, whatever its stops do.
//! - The majority's DC sees the node lost no earlier than `t0 − I − slack + L` (the
//!   minority's last heartbeat left up to one interval, plus lateness, before `t0`).
//!
//! So the DC holds `hold = I + check + 2·slack + clean_within` after it sees the loss,
//! where `clean_within` is `W` with the watchdog, else `chain`.

use std::time::Duration;

use hactl_model::Cib;

use crate::ops::{op_details, rc, status};

/// The liveness layer's timing, the same on every node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    /// `I`: every node sends a heartbeat to every other node this often.
    pub interval: Duration,
    /// `L`: a node not heard from for this long is lost.
    pub lost_after: Duration,
    /// How often each node checks liveness and quorum.
    pub check: Duration,
    /// Bound on lateness on each side: a heartbeat's send plus its network delay, a
    /// liveness check's timer and scheduling, the stop's start after quorum loss.
    pub slack: Duration,
}

impl Liveness {
    /// A node checking four times per interval, as the daemon does.
    pub fn new(interval: Duration, lost_after: Duration, slack: Duration) -> Liveness {
        Liveness {
            interval,
            lost_after,
            check: interval / 4,
            slack,
        }
    }
}

/// After losing quorum, how long the minority node may take at most until it has
/// stopped its resources or been reset: `stonith-watchdog-timeout` when set (the
/// watchdog is the backstop), else the chain of its stop timeouts.
pub fn clean_within(stop_chain: Duration, watchdog: Option<Duration>) -> Duration {
    watchdog.unwrap_or(stop_chain)
}

/// How long the majority's DC waits, after it sees a node lost, before starting that
/// node's resources elsewhere (the derivation is in the module documentation).
pub fn hold(l: &Liveness, clean_within: Duration) -> Duration {
    l.interval + l.check + 2 * l.slack + clean_within
}

/// When the minority stops feeding its watchdog if it is not clean yet, counted from
/// its loss of quorum: the reset then lands within `stonith-watchdog-timeout`. Zero
/// when the watchdog's own timeout leaves no time (the node then self-fences at once
/// unless it runs nothing).
pub fn self_fence_after(
    stonith_watchdog_timeout: Duration,
    watchdog_timeout: Duration,
) -> Duration {
    stonith_watchdog_timeout.saturating_sub(watchdog_timeout)
}

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
    let timeout = |rsc: &str, op: &str| {
        op_details(cib, rsc, node, op, 0)
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
    hold(l, clean_within(chain, watchdog_timeout(cib)))
}

#[cfg(test)]
#[path = "split_brain_tests.rs"]
mod tests;
