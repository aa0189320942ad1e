//! A clean stop of a node (Pacemaker's `shutdown` node attribute): the node sets the
//! transient attribute [`SHUTDOWN_ATTR`] on itself; the policy engine then treats it
//! like a standby node (nothing may run there, so the DC moves or stops everything it
//! runs) and, because the node asked to go, never as a failure to fence. The daemon
//! waits here until nothing runs on the node any more, and only then leaves.
//!
//! "Nothing runs here" is judged from two sides:
//! - the CIB, through the policy engine's eyes (where it says each resource is
//!   active), while the node has quorum — a DC can move the resources and record the
//!   stops;
//! - the local executor (what it started and has not stopped, operations in flight),
//!   always — without quorum the CIB cannot change, and no-quorum-policy=stop stops
//!   the local resources without a DC.
//!
//! A stop that failed is final (Pacemaker does not retry it: the resource is blocked,
//! or the node fenced): the wait ends at once with the resource named.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hactl_model::Cib;
use tokio::sync::watch;
use tracing::{debug, info};

use crate::node_service::NodeService;
use crate::ops::{op_details, DEFAULT_OP_TIMEOUT_MS};
use crate::quorum::QuorumView;

/// The node attribute a node sets on itself when it is asked to stop; its value is
/// the time of the request (seconds since the epoch), as in Pacemaker.
pub const SHUTDOWN_ATTR: &str = "shutdown";

/// Set by a node that leaves by force with resources not confirmed stopped.
pub use hactl_policy::LEFT_RUNNING_ATTR;

/// Added to the longest stop timeout for the default wait: the DC's reaction, and
/// stops of a group that run one after another.
pub const STOP_MARGIN: Duration = Duration::from_secs(30);

/// How far a node's clean stop has got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drain {
    /// Nothing runs on the node: it may leave.
    Done,
    /// These resources still run (or are being acted on) here.
    Waiting(Vec<String>),
    /// The stop of `resource` failed here; it will not be retried.
    StopFailed { resource: String, reason: String },
}

/// What the node's own executor knows.
#[derive(Debug, Clone, Default)]
pub struct LocalState {
    /// Resources it started (or found running) and has not stopped.
    pub active: Vec<String>,
    /// Operations it is running for the DC right now.
    pub in_flight: usize,
}

impl LocalState {
    pub fn of(svc: &NodeService) -> LocalState {
        LocalState {
            active: svc.active().into_iter().map(|d| d.rsc).collect(),
            in_flight: svc.in_flight(),
        }
    }
}

/// Why a clean stop did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrainError {
    #[error("stop of {resource} failed on {node}: {reason}")]
    StopFailed {
        node: String,
        resource: String,
        reason: String,
    },
    #[error("{node} still runs {} after {}s", .active.join(", "), .waited.as_secs())]
    Timeout {
        node: String,
        active: Vec<String>,
        waited: Duration,
    },
}

impl DrainError {
    /// The resources the node could not stop.
    pub fn resources(&self) -> Vec<String> {
        match self {
            DrainError::StopFailed { resource, .. } => vec![resource.clone()],
            DrainError::Timeout { active, .. } => active.clone(),
        }
    }
}

/// Where the clean stop of `node` stands. `have_quorum`: whether the CIB can still
/// change (a DC acts on it).
pub fn drain_state(
    cib: &Cib,
    node: &str,
    local: &LocalState,
    have_quorum: bool,
    now: i64,
) -> Drain {
    if let Some((resource, reason)) = failed_stop(cib, node) {
        return Drain::StopFailed { resource, reason };
    }
    let mut waiting = BTreeSet::new();
    let mut unmanaged = BTreeSet::new();
    if have_quorum {
        match hactl_policy::schedule(cib, now) {
            Ok(t) => {
                for p in t.placements {
                    if !p.current.iter().any(|n| n == node) {
                        continue;
                    }
                    if p.unmanaged {
                        // Not the cluster's to stop: it stays when the node goes.
                        unmanaged.insert(p.resource);
                    } else {
                        waiting.insert(p.resource);
                    }
                }
            }
            // The DC cannot plan either; the local executor is all we can judge by.
            Err(e) => debug!(node, error = %e, "policy engine refused the CIB"),
        }
    }
    waiting.extend(
        local
            .active
            .iter()
            .filter(|r| !unmanaged.contains(*r))
            .cloned(),
    );
    if waiting.is_empty() && local.in_flight == 0 {
        return Drain::Done;
    }
    Drain::Waiting(waiting.into_iter().collect())
}

/// A resource whose stop on `node` failed after its last start: `(resource, reason)`.
fn failed_stop(cib: &Cib, node: &str) -> Option<(String, String)> {
    let st = cib.status.nodes.get(node)?;
    st.resources.iter().find_map(|(rsc, h)| {
        let stop = h
            .ops
            .iter()
            .filter(|o| o.operation == "stop" && o.interval_ms == 0)
            .max_by_key(|o| o.call_id)?;
        let started_after = h
            .ops
            .iter()
            .any(|o| o.operation == "start" && o.call_id > stop.call_id);
        let failed = stop.rc != 0 || stop.op_status != 0;
        (failed && !started_after).then(|| {
            let reason = match (&stop.exit_reason, stop.op_status) {
                (Some(r), _) if !r.is_empty() => r.clone(),
                (_, 2) => "timed out".to_string(),
                _ => format!("rc={} status={}", stop.rc, stop.op_status),
            };
            (rsc.clone(), reason)
        })
    })
}

/// The default wait for a clean stop of `node`: the longest stop timeout of what runs
/// there, plus [`STOP_MARGIN`].
pub fn default_timeout(cib: &Cib, node: &str, local: &LocalState, now: i64) -> Duration {
    let mut rscs: BTreeSet<String> = local.active.iter().cloned().collect();
    if let Drain::Waiting(w) = drain_state(cib, node, &LocalState::default(), true, now) {
        rscs.extend(w);
    }
    let longest = rscs
        .iter()
        .filter_map(|r| op_details(cib, r, node, "stop", 0))
        .map(|d| d.timeout_ms)
        .max()
        .unwrap_or(DEFAULT_OP_TIMEOUT_MS);
    Duration::from_millis(longest) + STOP_MARGIN
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Waits until nothing runs on `node` (see the module docs), a stop fails, or
/// `deadline` passes. `local`: the node's own executor service when `node` is this
/// node (another node is judged by the CIB alone). `cib` and `quorum` are this
/// node's current views.
pub async fn wait_drained(
    node: &str,
    local: Option<&NodeService>,
    mut cib: watch::Receiver<Arc<Cib>>,
    quorum: watch::Receiver<QuorumView>,
    deadline: Instant,
) -> Result<(), DrainError> {
    let node = node.to_string();
    let started = Instant::now();
    // The executor's state has no change notification: look again at this pace too.
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Vec<String> = Vec::new();
    let mut cib_open = true;
    loop {
        let c = cib.borrow_and_update().clone();
        let have = quorum.borrow().have;
        let here = local.map(LocalState::of).unwrap_or_default();
        match drain_state(&c, &node, &here, have, unix_now()) {
            Drain::Done => {
                info!(node = %node, ms = started.elapsed().as_millis() as u64,
                    "shutdown: nothing runs here any more");
                return Ok(());
            }
            Drain::StopFailed { resource, reason } => {
                return Err(DrainError::StopFailed {
                    node,
                    resource,
                    reason,
                })
            }
            Drain::Waiting(active) => {
                if Instant::now() >= deadline {
                    return Err(DrainError::Timeout {
                        node,
                        active,
                        waited: started.elapsed(),
                    });
                }
                if active != last {
                    info!(node = %node, resources = ?active, quorum = have,
                        "shutdown: waiting for resources to stop here");
                    last = active;
                }
            }
        }
        tokio::select! {
            // Without CIB updates (the controller is going) the tick alone paces us.
            r = cib.changed(), if cib_open => cib_open = r.is_ok(),
            _ = tick.tick() => {}
            _ = tokio::time::sleep_until(deadline.into()) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hactl_model::{AgentSpec, Node, NodeStatus, OpRecord, OpSpec, Primitive, Resource};

    const NOW: i64 = 1_700_000_000;

    /// Three online nodes, stonith off, `sl` (stop timeout 40 s) started on n1.
    fn cib() -> Cib {
        let mut c = Cib::default();
        c.config
            .properties
            .insert("stonith-enabled".into(), "false".into());
        c.status.have_quorum = true;
        for n in ["n1", "n2", "n3"] {
            c.config.nodes.push(Node {
                id: n.into(),
                name: n.into(),
                ..Default::default()
            });
            c.status.nodes.insert(
                n.into(),
                NodeStatus {
                    member: Some(true),
                    controller_online: Some(true),
                    join: Some("member".into()),
                    expected: Some("member".into()),
                    ..Default::default()
                },
            );
        }
        c.config.resources.push(Resource::Primitive(Primitive {
            id: "sl".into(),
            agent: AgentSpec::parse("ocf:heartbeat:anything").unwrap(),
            ops: vec![OpSpec {
                name: "stop".into(),
                timeout_ms: Some(40_000),
                ..Default::default()
            }],
            ..Default::default()
        }));
        record(&mut c, "n1", "start", 1, 0, 0);
        c
    }

    fn record(c: &mut Cib, node: &str, op: &str, call_id: i64, rc: i32, op_status: i32) {
        let h = c
            .status
            .nodes
            .get_mut(node)
            .unwrap()
            .resources
            .entry("sl".into())
            .or_default();
        h.agent = AgentSpec::parse("ocf:heartbeat:anything").unwrap();
        h.ops.retain(|o| o.operation != op);
        h.ops.push(OpRecord {
            operation: op.into(),
            call_id,
            rc,
            op_status,
            ..Default::default()
        });
    }

    fn mark(c: &mut Cib, node: &str) {
        let st = c.status.nodes.get_mut(node).unwrap();
        st.attributes.insert(SHUTDOWN_ATTR.into(), NOW.to_string());
    }

    fn idle() -> LocalState {
        LocalState::default()
    }

    #[test]
    fn a_node_may_leave_only_once_its_resources_are_recorded_stopped() {
        let mut c = cib();
        mark(&mut c, "n1");
        assert_eq!(
            drain_state(&c, "n1", &idle(), true, NOW),
            Drain::Waiting(vec!["sl".into()])
        );
        // Another node has nothing to wait for.
        assert_eq!(drain_state(&c, "n2", &idle(), true, NOW), Drain::Done);
        record(&mut c, "n1", "stop", 2, 0, 0);
        assert_eq!(drain_state(&c, "n1", &idle(), true, NOW), Drain::Done);
    }

    #[test]
    fn the_local_executor_counts_too() {
        let mut c = cib();
        record(&mut c, "n1", "stop", 2, 0, 0);
        let running = LocalState {
            active: vec!["sl".into()],
            in_flight: 0,
        };
        assert_eq!(
            drain_state(&c, "n1", &running, true, NOW),
            Drain::Waiting(vec!["sl".into()])
        );
        let busy = LocalState {
            active: vec![],
            in_flight: 1,
        };
        assert_eq!(
            drain_state(&c, "n1", &busy, true, NOW),
            Drain::Waiting(vec![])
        );
    }

    #[test]
    fn without_quorum_only_the_local_executor_is_judged() {
        // The CIB cannot change without quorum (it still shows sl started here);
        // no-quorum-policy=stop stopped it locally.
        let c = cib();
        assert_eq!(drain_state(&c, "n1", &idle(), false, NOW), Drain::Done);
    }

    #[test]
    fn a_failed_stop_ends_the_wait_naming_the_resource() {
        let mut c = cib();
        mark(&mut c, "n1");
        record(&mut c, "n1", "stop", 2, 1, 4);
        c.status
            .nodes
            .get_mut("n1")
            .unwrap()
            .resources
            .get_mut("sl")
            .unwrap()
            .ops[1]
            .exit_reason = Some("process would not die".into());
        assert_eq!(
            drain_state(&c, "n1", &idle(), true, NOW),
            Drain::StopFailed {
                resource: "sl".into(),
                reason: "process would not die".into()
            }
        );
        // A timed-out stop says so.
        record(&mut c, "n1", "stop", 3, 1, 2);
        assert!(matches!(
            drain_state(&c, "n1", &idle(), true, NOW),
            Drain::StopFailed { reason, .. } if reason == "timed out"
        ));
        // Started again since (after a cleanup): the old failure is history.
        record(&mut c, "n1", "start", 4, 0, 0);
        assert_eq!(
            drain_state(&c, "n1", &idle(), true, NOW),
            Drain::Waiting(vec!["sl".into()])
        );
    }

    #[test]
    fn unmanaged_resources_stay_and_are_not_waited_for() {
        let mut c = cib();
        mark(&mut c, "n1");
        if let Resource::Primitive(p) = &mut c.config.resources[0] {
            p.meta.insert("is-managed".into(), "false".into());
        }
        let running = LocalState {
            active: vec!["sl".into()],
            in_flight: 0,
        };
        assert_eq!(drain_state(&c, "n1", &running, true, NOW), Drain::Done);
    }

    #[test]
    fn default_timeout_is_the_longest_stop_timeout_plus_the_margin() {
        let c = cib();
        assert_eq!(
            default_timeout(&c, "n1", &idle(), NOW),
            Duration::from_secs(40) + STOP_MARGIN
        );
        // Nothing runs on n2: the default op timeout.
        assert_eq!(
            default_timeout(&c, "n2", &idle(), NOW),
            Duration::from_millis(DEFAULT_OP_TIMEOUT_MS) + STOP_MARGIN
        );
    }
}
