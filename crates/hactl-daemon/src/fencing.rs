//! Fencing from this node: the cluster fencer of `hactl-fence` run against the
//! node's current CIB, with every attempt written to the fencing history through Raft.
//! Used by the controller (the DC picks this node to fence another) and by
//! `hactl stonith fence NODE` on the control socket.

use std::sync::{Arc, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use hactl_consensus::Change;
use hactl_controller::node_service::{DeviceCheckError, FencerError};
use hactl_fence::cluster::{fence_node, ClusterFenceOutcome};
use tracing::{info, warn};

use crate::Daemon;

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Fences `target` with `action` (empty: the `stonith-action` property) from this
/// node and records the attempt. With `mark_fenced`, a successful off/reboot also
/// records the node as fenced (`RecordFencing`), which the controller does itself
/// for the fencing it asked for.
pub(crate) async fn fence_and_record(
    d: &Daemon,
    target: &str,
    action: &str,
    origin: &str,
    mark_fenced: bool,
) -> ClusterFenceOutcome {
    let (out, record) = fence(d, target, action, origin, mark_fenced).await;
    commit_record(d, &out, origin, record).await;
    out
}

/// Runs the fencer; returns its outcome and the change that records it.
async fn fence(
    d: &Daemon,
    target: &str,
    action: &str,
    origin: &str,
    mark_fenced: bool,
) -> (ClusterFenceOutcome, Change) {
    let cfg = d.consensus.status().cib.config.clone();
    let action = (!action.is_empty()).then_some(action);
    let out = fence_node(&cfg, target, action, &d.me_name).await;
    let at = unix_now();
    let mut changes = vec![Change::RecordFenceEvent {
        event: out.to_event(at, origin),
    }];
    if out.ok && mark_fenced && out.action != "on" {
        changes.push(Change::RecordFencing {
            node: target.to_string(),
            at,
        });
    }
    let change = match changes.len() {
        1 => changes.remove(0),
        _ => Change::Batch { changes },
    };
    (out, change)
}

/// Commits the record of a fencing attempt (the fencing history).
async fn commit_record(d: &Daemon, out: &ClusterFenceOutcome, origin: &str, change: Change) {
    // The history is best effort: without quorum the record may not commit, but the
    // outcome still goes back to whoever asked.
    if let Err(e) = d.propose(change).await {
        warn!(node = %d.me_name, target = %out.target, error = %e, "fence event not recorded");
        return;
    }
    info!(node = %d.me_name, target = %out.target, op = %out.action, ok = out.ok, origin,
        summary = %out.summary, "fencing recorded");
}

/// The controller's fencer: runs on the node the DC picked. It answers as soon as
/// the fence device has confirmed (or refused) the fencing: the DC needs only that
/// confirmation, and records the node as fenced itself (`RecordFencing`, committed
/// before it recovers anything). The history record of the attempt is committed in
/// the background; waiting for it cost the failover a Raft round.
pub(crate) fn controller_fencer(d: Weak<Daemon>) -> hactl_controller::node_service::Fencer {
    Arc::new(move |req: hactl_controller::FenceRequest| {
        let d = d.upgrade();
        Box::pin(async move {
            let Some(d) = d else {
                return Err(FencerError::DaemonStopped);
            };
            let (out, record) =
                fence(&d, &req.target, &req.fence_action, "controller", false).await;
            let ok = out.ok;
            let summary = out.summary.clone();
            tokio::spawn(async move { commit_record(&d, &out, "controller", record).await });
            if ok {
                Ok(())
            } else {
                Err(FencerError::Failed { summary })
            }
        })
    })
}

/// The controller's stonith device health check, against this node's current CIB.
pub(crate) fn device_monitor(d: Weak<Daemon>) -> hactl_controller::node_service::DeviceMonitor {
    Arc::new(move |device: String, timeout: std::time::Duration| {
        let d = d.upgrade();
        Box::pin(async move {
            let Some(d) = d else {
                return Err(DeviceCheckError::DaemonStopped);
            };
            let cfg = d.consensus.status().cib.config.clone();
            Ok(hactl_fence::cluster::monitor_device(&cfg, &device, timeout).await?)
        })
    })
}
