//! Self-fencing through a watchdog, as Pacemaker does with SBD in watchdog-only mode.
//!
//! A node with a watchdog keeps it fed while it is healthy. When it loses quorum with
//! `stonith-watchdog-timeout` set, it must have stopped everything it runs within
//! `stonith-watchdog-timeout − watchdog timeout` ([`crate::split_brain::self_fence_after`]);
//! if it has not — or a stop fails — it stops feeding, and the watchdog resets the
//! machine within its timeout. A daemon that hangs stops feeding too. Either way the
//! majority, which waits `stonith-watchdog-timeout` before it starts the node's
//! resources, never runs them at the same time. Only a clean shutdown disarms the
//! device (the "magic close").

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

#[derive(Debug, thiserror::Error)]
pub enum WatchdogError {
    #[error("opening the watchdog {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("watchdog {path}: setting its timeout to {secs} s: {source}")]
    SetTimeout {
        path: String,
        secs: i32,
        #[source]
        source: std::io::Error,
    },
    #[error("watchdog timeout {0:?} out of range (1 s to 1 hour, whole seconds)")]
    BadTimeout(Duration),
    #[error("watchdog keepalive: {0}")]
    Keepalive(#[source] std::io::Error),
    #[error("disarming the watchdog: {0}")]
    Disarm(#[source] std::io::Error),
}

/// A watchdog device: resets the machine unless kept alive within its timeout.
pub trait Watchdog: Send + 'static {
    /// Without a keepalive for this long, the machine is reset.
    fn timeout(&self) -> Duration;
    fn keepalive(&mut self) -> Result<(), WatchdogError>;
    /// Clean shutdown only: stops the device (the magic close).
    fn disarm(self: Box<Self>) -> Result<(), WatchdogError>;
}

/// A node's watchdog and its self-fence state, shared by the controller, the
/// no-quorum-policy task and the feeder.
#[derive(Default)]
pub struct SelfFence {
    device: Mutex<Option<Box<dyn Watchdog>>>,
    /// The armed device's timeout in ms; 0 without a watchdog.
    armed_ms: AtomicU64,
    fenced: AtomicBool,
}

impl SelfFence {
    /// Arms `wd` and feeds it four times per its timeout until the node self-fences
    /// (the feeder stops, the device stays open, the machine resets) or shuts down
    /// cleanly ([`SelfFence::disarm`]). The feeder runs on the async runtime on
    /// purpose: a runtime that stalls stops feeding too. Must run inside one.
    pub fn arm(self: &Arc<Self>, wd: Box<dyn Watchdog>, node: &str) -> JoinHandle<()> {
        let timeout = wd.timeout();
        self.armed_ms
            .store(timeout.as_millis().max(1) as u64, Ordering::SeqCst);
        if let Ok(mut d) = self.device.lock() {
            *d = Some(wd);
        }
        info!(
            node,
            timeout_ms = timeout.as_millis() as u64,
            "watchdog armed"
        );
        tokio::spawn(feed(self.clone(), node.to_string(), timeout / 4))
    }

    /// The armed watchdog's timeout, if one is fed.
    pub fn armed(&self) -> Option<Duration> {
        match self.armed_ms.load(Ordering::SeqCst) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    /// Stops feeding the watchdog for good: the machine resets within its timeout.
    /// Without a watchdog this can only say so (nothing can reset the node).
    pub fn fence(&self, node: &str, reason: &str) {
        if self.armed().is_none() {
            error!(
                node,
                reason, "must self-fence, but no watchdog is armed on this node"
            );
            return;
        }
        if !self.fenced.swap(true, Ordering::SeqCst) {
            error!(
                node,
                reason,
                event = "self_fence",
                "self-fencing: no longer feeding the watchdog, the machine resets"
            );
        }
    }

    pub fn fenced(&self) -> bool {
        self.fenced.load(Ordering::SeqCst)
    }

    /// Clean shutdown: stops the device (unless the node self-fenced: then it
    /// resets as promised).
    pub fn disarm(&self, node: &str) {
        if self.fenced() {
            return;
        }
        let wd = self.device.lock().ok().and_then(|mut d| d.take());
        if let Some(wd) = wd {
            self.armed_ms.store(0, Ordering::SeqCst);
            match wd.disarm() {
                Ok(()) => info!(node, "watchdog disarmed (clean shutdown)"),
                Err(e) => {
                    warn!(node, error = %e, "watchdog not disarmed: it will reset the machine")
                }
            }
        }
    }
}

async fn feed(state: Arc<SelfFence>, node: String, period: Duration) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if state.fenced() {
            // The device stays open and unfed until the reset.
            return;
        }
        let Ok(mut d) = state.device.lock() else {
            return;
        };
        let Some(wd) = d.as_mut() else {
            // Disarmed.
            return;
        };
        match wd.keepalive() {
            Ok(()) => debug!(node = %node, "watchdog fed"),
            Err(e) => warn!(node = %node, error = %e, "watchdog keepalive failed"),
        }
    }
}

/// The transient node attribute where each node records, when it joins, the timeout
/// of the watchdog its daemon armed (in ms); absent on a node without one.
pub const WATCHDOG_ATTR: &str = "hactl-watchdog";

/// The cluster's `have-watchdog`, from what the daemons armed: every configured node
/// said so when it last joined. Pacemaker's controller maintains this property
/// itself; here the CIB's property is only a claim anyone can write (an imported
/// Pacemaker CIB carries one), and the scheduler counts a watchdog as a way to fence.
pub fn have_watchdog(cib: &hactl_model::Cib) -> bool {
    !cib.config.nodes.is_empty()
        && cib.config.nodes.iter().all(|n| {
            cib.status
                .nodes
                .get(&n.name)
                .and_then(|st| st.attributes.get(WATCHDOG_ATTR))
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|ms| ms > 0)
        })
}

/// The CIB's own `have-watchdog`, when it says something else than the daemons
/// (`armed`): what the DC warns about, since it schedules with `armed`.
pub fn claimed_watchdog(cib: &hactl_model::Cib, armed: bool) -> Option<&str> {
    cib.config
        .properties
        .get("have-watchdog")
        .filter(|v| hactl_model::values::parse_bool(v) != Some(armed))
        .map(String::as_str)
}
