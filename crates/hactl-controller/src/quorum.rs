//! no-quorum-policy on the node itself. A node that loses quorum cannot reach a DC
//! that could tell it what to do, and the majority will start its resources
//! elsewhere; so it acts alone, at once (see `docs/architecture.md`, "Split brain"):
//!
//! - `stop` (default): stop every resource it runs, in reverse start order.
//! - `freeze`: keep what runs, start nothing (no DC acts without quorum).
//! - `ignore`: carry on as if nothing happened.
//! - `demote`: no promotable resources here, so the same as `stop`.
//! - `suicide`: needs fencing of itself, which a node cannot do alone here; it is
//!   handled as `stop`, with a warning.

use hactl_model::NoQuorumPolicy;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::node_service::NodeService;

/// Quorum as the local daemon sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct QuorumView {
    pub have: bool,
    pub policy: NoQuorumPolicy,
}

/// What a node does when it loses quorum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalAction {
    StopAll,
    Keep,
}

pub fn on_quorum_lost(policy: NoQuorumPolicy) -> LocalAction {
    match policy {
        // No promotable resources here: demote means stop, as for everything else.
        NoQuorumPolicy::Stop | NoQuorumPolicy::Suicide | NoQuorumPolicy::Demote => {
            LocalAction::StopAll
        }
        NoQuorumPolicy::Freeze | NoQuorumPolicy::Ignore => LocalAction::Keep,
    }
}

/// Watches quorum and applies the policy whenever it goes from had to lost; `had`
/// is whether the node had quorum when the watch was taken. Runs until the watch
/// closes.
pub async fn enforce(svc: NodeService, mut quorum: watch::Receiver<QuorumView>, mut had: bool) {
    loop {
        let q = quorum.borrow_and_update().clone();
        if had && !q.have {
            if q.policy == NoQuorumPolicy::Suicide {
                warn!(node = %svc.node(), "no-quorum-policy=suicide cannot fence this node from itself here: stopping its resources instead");
            }
            match on_quorum_lost(q.policy) {
                LocalAction::StopAll => {
                    let started = std::time::Instant::now();
                    let results = svc.stop_all_local().await;
                    let failed: Vec<&String> = results
                        .iter()
                        .filter(|(_, o)| !o.is(0))
                        .map(|(r, _)| r)
                        .collect();
                    if failed.is_empty() {
                        info!(node = %svc.node(), stopped = results.len(), ms = started.elapsed().as_millis() as u64,
                            event = "no_quorum_stopped", "lost quorum: local resources stopped");
                    } else {
                        warn!(node = %svc.node(), failed = ?failed, "lost quorum: some local resources failed to stop");
                    }
                }
                LocalAction::Keep => {
                    info!(node = %svc.node(), policy = ?q.policy, "lost quorum: local resources left running, nothing new starts")
                }
            }
        }
        had = q.have;
        if quorum.changed().await.is_err() {
            return;
        }
    }
}

/// How long the majority's DC waits, after it recorded a node as lost, before it
/// starts that node's resources elsewhere when fencing is disabled: long enough for
/// the lost node — which lost quorum at the same moment — to have stopped them.
///
/// With heartbeats every `I`, liveness checks every `I/4`, and `S` the time the lost
/// node needs to stop what it runs, the minority has stopped by `t0 + L + I/4 + S`
/// (`t0` the partition, `L` the loss timeout), and the majority notices no earlier
/// than `t0 - I + L` (its last heartbeat from the minority can be up to one interval
/// old). No overlap needs `D > I + I/4 + S`; `margin` covers timer and scheduling
/// jitter. See `docs/architecture.md`, "Split brain".
pub fn split_brain_delay(
    heartbeat_interval: std::time::Duration,
    stop_budget: std::time::Duration,
    margin: std::time::Duration,
) -> std::time::Duration {
    heartbeat_interval + heartbeat_interval / 4 + stop_budget + margin
}

/// Stop budget and margin per heartbeat profile: `default` allows for
/// `ocf:heartbeat:IPaddr2` (stop 40–150 ms here, up to ~200 ms under load) and a
/// haproxy in the same group; `fast` assumes the native VIP agent (stop in a few ms)
/// and a systemd or anything-class haproxy (stop 2–20 ms).
pub fn stop_budget_for_profile(profile: &str) -> (std::time::Duration, std::time::Duration) {
    use std::time::Duration;
    match profile {
        "fast" => (Duration::from_millis(40), Duration::from_millis(25)),
        _ => (Duration::from_millis(200), Duration::from_millis(40)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn policies_map_to_local_actions() {
        assert_eq!(on_quorum_lost(NoQuorumPolicy::Stop), LocalAction::StopAll);
        assert_eq!(
            on_quorum_lost(NoQuorumPolicy::Suicide),
            LocalAction::StopAll
        );
        assert_eq!(on_quorum_lost(NoQuorumPolicy::Freeze), LocalAction::Keep);
        assert_eq!(on_quorum_lost(NoQuorumPolicy::Ignore), LocalAction::Keep);
    }

    /// The inequality of `split_brain_delay`, checked on the worst case of the
    /// timeline: the minority's last heartbeat just before the partition, the
    /// majority's one interval earlier.
    #[test]
    fn minority_stops_before_majority_starts() {
        for (profile, interval, lost_after) in [("default", 50u64, 250u64), ("fast", 20, 80)] {
            let i = Duration::from_millis(interval);
            let l = Duration::from_millis(lost_after);
            let (stop, margin) = stop_budget_for_profile(profile);
            let d = split_brain_delay(i, stop, margin);
            let t0 = Duration::from_secs(10);
            let minority_stopped = t0 + l + i / 4 + stop;
            let majority_starts = t0 - i + l + d;
            assert!(
                majority_starts > minority_stopped + margin / 2,
                "{profile}: start at {majority_starts:?}, stop done at {minority_stopped:?}"
            );
        }
    }
}
