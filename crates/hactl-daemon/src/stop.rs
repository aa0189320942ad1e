//! A clean stop stops the node's resources first (Pacemaker's `shutdown` attribute).
//!
//! Every way a node goes — `hactl cluster stop` (the `Shutdown` request), SIGTERM
//! (`systemctl stop`), `hactl cluster stop --all` and `hactl cluster node remove` —
//! goes through the same steps:
//!
//! 1. the node is marked shutting down (the transient attribute
//!    [`SHUTDOWN_ATTR`] = now), which the policy engine treats like standby: the DC
//!    moves or stops everything it runs, and never fences it for going;
//! 2. the daemon waits until nothing runs on it any more (the CIB, and its own
//!    executor: see `hactl_controller::shutdown`), at most the timeout (default: the
//!    longest stop timeout of what runs there plus a margin);
//! 3. only then does it leave (`expected=down`) and exit.
//!
//! A stop that fails, or a wait that runs out, keeps the daemon up and names the
//! resource; the mark is taken back, so the node is an ordinary member again. With
//! `force` it leaves anyway.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hactl_consensus::Change;
use hactl_controller::shutdown::{DrainError, LocalState, SHUTDOWN_ATTR};
use tracing::{error, info, warn};

use crate::Daemon;

/// How a node stops.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StopOpts {
    /// `None`: the default wait for the node's resources to stop.
    pub timeout: Option<Duration>,
    /// Leave even if a stop failed or the wait ran out.
    pub force: bool,
}

impl StopOpts {
    pub fn new(timeout_ms: u64, force: bool) -> StopOpts {
        StopOpts {
            timeout: (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms)),
            force,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum StopError {
    #[error("{0}")]
    Drain(#[from] DrainError),
    #[error("this node is already stopping")]
    InProgress,
    #[error("the controller is not running")]
    NoController,
    #[error("could not mark {node} as shutting down: {reason}")]
    Mark { node: String, reason: String },
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn mark(node: &str, on: bool) -> Change {
    Change::SetTransientAttribute {
        node: node.to_string(),
        name: SHUTDOWN_ATTR.into(),
        value: on.then(|| unix_now().to_string()),
    }
}

impl Daemon {
    /// Stops what this node runs (marking `others` shutting down in the same
    /// proposal: `cluster stop --all`). `Ok`: the caller may leave.
    pub(crate) async fn clean_stop(
        &self,
        opts: StopOpts,
        others: &[String],
    ) -> Result<(), StopError> {
        if self.stopping.swap(true, Ordering::SeqCst) {
            return Err(StopError::InProgress);
        }
        let r = self.drain_here(opts, others).await;
        if let Err(e) = &r {
            error!(node = %self.me_name, error = %e, resources = ?drain_resources(e),
                "clean stop failed: the daemon keeps running");
            // An ordinary member again, not a node half-way out.
            if let Err(e) = self.propose(mark(&self.me_name, false)).await {
                warn!(node = %self.me_name, error = %e, "could not clear the shutdown mark");
            }
            self.stopping.store(false, Ordering::SeqCst);
        }
        r
    }

    async fn drain_here(&self, opts: StopOpts, others: &[String]) -> Result<(), StopError> {
        let ctl = self.controller.get().ok_or(StopError::NoController)?;
        let mut changes: Vec<Change> = others.iter().map(|n| mark(n, true)).collect();
        changes.push(mark(&self.me_name, true));
        if let Err(e) = self.propose(Change::Batch { changes }).await {
            // No quorum: no DC can move anything, and no-quorum-policy acts on the
            // local resources; the wait below judges by the local executor.
            warn!(node = %self.me_name, error = %e,
                "could not mark this node shutting down; waiting for the local resources only");
        }
        let timeout = opts
            .timeout
            .unwrap_or_else(|| ctl.stop_timeout(&self.me_name));
        info!(node = %self.me_name, timeout_ms = timeout.as_millis() as u64, force = opts.force,
            "shutting down: waiting for the resources here to stop");
        match ctl.drain(&self.me_name, Instant::now() + timeout).await {
            Ok(()) => Ok(()),
            Err(e) if opts.force => {
                warn!(node = %self.me_name, error = %e, "leaving anyway (--force)");
                self.note_left_running(ctl, &e);
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Remembers, for the leave, what a forced stop leaves behind: the resources the
    /// drain named and whatever the local executor still holds.
    fn note_left_running(&self, ctl: &hactl_controller::Controller, e: &DrainError) {
        let mut left = e.resources();
        left.extend(LocalState::of(ctl.service()).active);
        left.sort();
        left.dedup();
        if let Ok(mut l) = self.left_running.lock() {
            *l = left;
        }
    }

    /// Marks another node shutting down and waits until nothing runs on it (its
    /// daemon then leaves by itself): the first half of `node remove`.
    pub(crate) async fn drain_other(&self, node: &str, opts: StopOpts) -> Result<(), StopError> {
        let ctl = self.controller.get().ok_or(StopError::NoController)?;
        let known = self.consensus.status().cib.status.nodes.contains_key(node);
        if known {
            self.propose(mark(node, true))
                .await
                .map_err(|e| StopError::Mark {
                    node: node.to_string(),
                    reason: e.to_string(),
                })?;
        }
        let timeout = opts.timeout.unwrap_or_else(|| ctl.stop_timeout(node));
        match ctl.drain(node, Instant::now() + timeout).await {
            Ok(()) => Ok(()),
            Err(e) if opts.force => {
                warn!(node, error = %e, "removing it anyway (--force)");
                Ok(())
            }
            Err(e) => {
                if let Err(e) = self.propose(mark(node, false)).await {
                    warn!(node, error = %e, "could not clear the shutdown mark");
                }
                Err(e.into())
            }
        }
    }

    /// A stop this daemon did not ask for itself: the shutdown mark appeared on this
    /// node (`cluster stop --all` or `node remove` elsewhere).
    pub(crate) async fn stop_on_request(&self) {
        match self.clean_stop(StopOpts::default(), &[]).await {
            Ok(()) => self.shutdown.notify_one(),
            Err(StopError::InProgress) => {}
            // Logged by clean_stop; the daemon stays.
            Err(_) => {}
        }
    }
}

fn drain_resources(e: &StopError) -> Vec<String> {
    match e {
        StopError::Drain(d) => d.resources(),
        _ => Vec::new(),
    }
}
