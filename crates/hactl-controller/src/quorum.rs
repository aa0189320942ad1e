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
