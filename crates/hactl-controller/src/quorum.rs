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
//!
//! With `stonith-watchdog-timeout` (`W`) and a watchdog armed here, the node must
//! also be clean — nothing running — within `W − watchdog timeout` of losing quorum,
//! whatever the policy; if it is not, or a stop fails, it self-fences: it stops
//! feeding the watchdog, which resets it by `W`. The majority holds the node's
//! resources for `W` ([`crate::split_brain`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hactl_model::NoQuorumPolicy;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::node_service::NodeService;
use crate::split_brain;
use crate::watchdog::SelfFence;

/// Quorum as the local daemon sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct QuorumView {
    pub have: bool,
    pub policy: NoQuorumPolicy,
    /// `stonith-watchdog-timeout`, when set.
    pub stonith_watchdog: Option<Duration>,
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
/// is whether the node had quorum when the watch was taken. A policy that kept the
/// resources (`freeze`, also two-node mode's deferral while it fences its peer or asks
/// its witness) and then becomes one that stops them, still without quorum, is applied
/// then: the refused or unfenced node must stop what it runs. Runs until the watch
/// closes.
pub async fn enforce(
    svc: NodeService,
    mut quorum: watch::Receiver<QuorumView>,
    mut had: bool,
    fence: Arc<SelfFence>,
) {
    // Lost quorum and kept the resources under the policy of that moment.
    let mut kept = false;
    loop {
        let q = quorum.borrow_and_update().clone();
        let stops = on_quorum_lost(q.policy) == LocalAction::StopAll;
        if !q.have && (had || (kept && stops)) {
            kept = !stops;
            on_lost(&svc, &q, &fence, &quorum).await;
        }
        if q.have {
            kept = false;
        }
        had = q.have;
        if quorum.changed().await.is_err() {
            return;
        }
    }
}

/// How long after losing quorum the node may take to be clean before it self-fences:
/// with `stonith-watchdog-timeout` and an armed watchdog.
fn self_fence_deadline(q: &QuorumView, fence: &SelfFence, node: &str) -> Option<Duration> {
    let w = q.stonith_watchdog?;
    match fence.armed() {
        Some(wd) => {
            if w <= wd {
                warn!(
                    node,
                    stonith_watchdog_timeout_ms = w.as_millis() as u64,
                    watchdog_timeout_ms = wd.as_millis() as u64,
                    "stonith-watchdog-timeout is not above the watchdog's timeout: \
                     this node self-fences at once unless it runs nothing"
                );
            }
            Some(split_brain::self_fence_after(w, wd))
        }
        None => {
            error!(
                node,
                stonith_watchdog_timeout_ms = w.as_millis() as u64,
                "stonith-watchdog-timeout is set, but no watchdog is armed on this node: \
                 the majority will assume this node reset itself, which it cannot"
            );
            None
        }
    }
}

async fn on_lost(
    svc: &NodeService,
    q: &QuorumView,
    fence: &SelfFence,
    quorum: &watch::Receiver<QuorumView>,
) {
    let node = svc.node();
    if q.policy == NoQuorumPolicy::Suicide {
        warn!(node = %node, "no-quorum-policy=suicide cannot fence this node from itself here: stopping its resources instead");
    }
    let deadline = self_fence_deadline(q, fence, node);
    match on_quorum_lost(q.policy) {
        LocalAction::StopAll => {
            let started = Instant::now();
            // Stops only while quorum stays lost: once it is back, a DC (perhaps this
            // node) decides, and may already be starting what was left running here.
            let needed = || !quorum.borrow().have;
            let mut stops = std::pin::pin!(stop_until_clean(svc, needed));
            let outcome = match deadline {
                Some(d) => match tokio::time::timeout(d, &mut stops).await {
                    Ok(r) => r,
                    Err(_) => {
                        fence.fence(
                            node,
                            "resources not stopped within stonith-watchdog-timeout minus the watchdog's timeout",
                        );
                        // Keep stopping until the reset comes.
                        stops.await
                    }
                },
                None => stops.await,
            };
            match outcome {
                Ok(n) => {
                    info!(node = %node, stopped = n, ms = started.elapsed().as_millis() as u64,
                    event = "no_quorum_stopped", "lost quorum: local resources stopped")
                }
                Err(failed) => {
                    warn!(node = %node, failed = ?failed, "lost quorum: some local resources failed to stop");
                    fence.fence(node, "a stop failed after losing quorum");
                }
            }
        }
        LocalAction::Keep => {
            info!(node = %node, policy = ?q.policy, "lost quorum: local resources left running, nothing new starts");
            if let Some(d) = deadline {
                tokio::time::sleep(d).await;
                if !quorum.borrow().have && !svc.active().is_empty() {
                    fence.fence(
                        node,
                        "still running resources without quorum at stonith-watchdog-timeout",
                    );
                }
            }
        }
    }
}

/// Stops everything the node runs, then what a start still in flight brought up
/// (three rounds at most), while `needed` (quorum still lost): `Ok(stops)` once
/// nothing runs or quorum is back, else the resources that failed to stop or still
/// run. Without the check, a node granted by its witness (or rejoining a majority)
/// while it stopped went on to stop what its new DC had just started.
async fn stop_until_clean(
    svc: &NodeService,
    needed: impl Fn() -> bool,
) -> Result<usize, Vec<String>> {
    let mut stopped = 0;
    for _ in 0..3 {
        if !needed() {
            info!(node = %svc.node(), stopped, "quorum back: no more stops for its loss");
            return Ok(stopped);
        }
        let results = svc.stop_all_local_while(&needed).await;
        let failed: Vec<String> = results
            .iter()
            .filter(|(_, o)| !o.is(0))
            .map(|(r, _)| r.clone())
            .collect();
        if !failed.is_empty() {
            return Err(failed);
        }
        stopped += results.len();
        svc.wait_idle().await;
        if svc.active().is_empty() {
            return Ok(stopped);
        }
    }
    Err(svc.active().into_iter().map(|d| d.rsc).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
