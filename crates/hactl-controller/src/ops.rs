//! What an action needs to run on a node (agent, parameters, timeout), looked up in
//! the CIB, and how a result becomes CIB changes.

use hactl_model::change::Change;
use std::collections::HashMap;

use hactl_model::{AgentSpec, Attrs, Cib, FailCount, OpRecord, Primitive, Score};
use serde::{Deserialize, Serialize};

pub use hactl_model::DEFAULT_OP_TIMEOUT_MS;

/// OCF exit codes the engine reasons about.
pub mod rc {
    pub const OK: i32 = 0;
    pub const ERR_GENERIC: i32 = 1;
    pub const NOT_INSTALLED: i32 = 5;
    pub const NOT_RUNNING: i32 = 7;
    pub const RUNNING_PROMOTED: i32 = 8;
}

/// Execution status codes, as in [`OpRecord::op_status`].
pub mod status {
    pub const DONE: i32 = 0;
    /// A recurring operation that was cancelled (its record says it no longer
    /// runs).
    pub const CANCELLED: i32 = 1;
    pub const TIMEOUT: i32 = 2;
    pub const ERROR: i32 = 4;
    /// Pacemaker's PCMK_EXEC_NOT_INSTALLED (as `hactl_exec::ExecStatus` records it).
    pub const NOT_INSTALLED: i32 = 7;
}

/// How to run one resource operation on a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpDetails {
    pub rsc: String,
    pub agent: AgentSpec,
    pub params: Attrs,
    /// `start`, `stop`, `monitor` (a probe is `monitor` with interval 0).
    pub op: String,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    /// `OCF_CHECK_LEVEL`.
    pub check_level: Option<u32>,
    /// The operation's own parameters as digests count them (for one-shot
    /// operations, the start's: see `hactl_model::digest`).
    #[serde(default, skip_serializing_if = "Attrs::is_empty")]
    pub op_params: Attrs,
}

/// The outcome of one operation as a node reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub rc: i32,
    /// [`OpRecord::op_status`] codes: 0 done, 2 timed out, 4 error, 7 not installed, …
    pub op_status: i32,
    pub exit_reason: Option<String>,
    pub exec_ms: u64,
    pub queue_ms: u64,
    /// Unix seconds when the op started.
    pub started_at: i64,
    /// `op-digest` of the parameters it ran with.
    pub digest: Option<String>,
    /// For an agent that can reload: `op-force-restart` and `op-restart-digest`.
    #[serde(default)]
    pub restart: Option<(String, String)>,
}

impl Outcome {
    /// An outcome the DC makes up when no result came (node silent past the timeout).
    pub fn synthetic_timeout(started_at: i64, reason: String) -> Outcome {
        Outcome {
            rc: rc::ERR_GENERIC,
            op_status: status::TIMEOUT,
            exit_reason: Some(reason),
            exec_ms: 0,
            queue_ms: 0,
            started_at,
            digest: None,
            restart: None,
        }
    }

    pub fn is(&self, expected_rc: i32) -> bool {
        self.op_status == status::DONE && self.rc == expected_rc
    }

    /// For a probe: running, stopped and "cannot run here" are answers, not failures.
    pub fn probe_answer(&self) -> bool {
        self.op_status == status::NOT_INSTALLED
            || (self.op_status == status::DONE
                && matches!(
                    self.rc,
                    rc::OK | rc::NOT_RUNNING | rc::NOT_INSTALLED | rc::RUNNING_PROMOTED
                ))
    }
}

/// Looks up what running `op` of `rsc` on `node` needs. A resource that is no longer
/// configured (an orphan being stopped) runs with the agent its history was recorded
/// with and no parameters.
pub fn op_details(
    cib: &Cib,
    rsc: &str,
    node: &str,
    op: &str,
    interval_ms: u64,
) -> Option<OpDetails> {
    let prim = cib.config.find_primitive(rsc);
    op_details_of(cib, prim, rsc, node, op, interval_ms)
}

/// Every configured primitive by id: a transition of thousands of actions looks
/// each up once instead of scanning the configuration per action.
pub fn primitive_index(cib: &Cib) -> HashMap<&str, &Primitive> {
    cib.config
        .resources
        .iter()
        .flat_map(|r| r.primitives())
        .map(|p| (p.id.as_str(), p))
        .collect()
}

/// A notify operation's details: the `notify_*` values the scheduler computed
/// reach the agent as `OCF_RESKEY_CRM_meta_notify_*`.
pub fn with_notify_env(mut d: OpDetails, env: &[(String, String)]) -> OpDetails {
    d.params.extend(
        env.iter()
            .map(|(k, v)| (format!("CRM_meta_{k}"), v.clone())),
    );
    d
}

/// `op_details` with the primitive already looked up (`None`: not configured).
pub fn op_details_of(
    cib: &Cib,
    prim: Option<&Primitive>,
    rsc: &str,
    node: &str,
    op: &str,
    interval_ms: u64,
) -> Option<OpDetails> {
    let default_timeout = cib.config.op_timeout_ms(None);
    // A clone instance (`web:2`) runs its clone's primitive, told which instance
    // it is through Pacemaker's meta parameters.
    let mut instance_meta = None;
    let prim = prim.or_else(|| {
        let (clone, p, number) = cib.config.clone_instance(rsc)?;
        instance_meta = Some(clone.instance_meta(number, cib.config.nodes.len()));
        Some(p)
    });
    match prim {
        Some(p) => {
            // A probe takes the timeout of the resource's shortest monitor.
            let spec = if op == "monitor" && interval_ms == 0 {
                p.ops
                    .iter()
                    .filter(|o| o.name == "monitor")
                    .min_by_key(|o| o.interval_ms)
            } else {
                p.op(op, interval_ms)
            };
            let timeout_ms = cib.config.op_timeout_ms(spec);
            let check_level = spec
                .filter(|_| interval_ms > 0)
                .and_then(|s| s.extra.get("OCF_CHECK_LEVEL").or(s.extra.get("depth")))
                .and_then(|v| v.parse().ok());
            let mut params = p.params.clone();
            params.extend(instance_meta.unwrap_or_default());
            // One-shot operations are compared with the start's definition.
            let digest_spec = if interval_ms == 0 {
                p.op("start", 0)
            } else {
                spec
            };
            let op_params = hactl_model::digest::op_params(digest_spec)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Some(OpDetails {
                rsc: rsc.to_string(),
                agent: p.agent.clone(),
                params,
                op: op.to_string(),
                interval_ms,
                timeout_ms,
                check_level,
                op_params,
            })
        }
        None => {
            let hist = cib.status.nodes.get(node)?.resources.get(rsc)?;
            Some(OpDetails {
                rsc: rsc.to_string(),
                agent: hist.agent.clone(),
                params: Attrs::new(),
                op: op.to_string(),
                interval_ms,
                timeout_ms: default_timeout,
                check_level: None,
                op_params: Attrs::new(),
            })
        }
    }
}

/// The rc a successful `op` of `rsc` returns: a monitor configured for the
/// Promoted role answers 8 (OCF_RUNNING_PROMOTED), one for the Stopped role 7
/// (OCF_NOT_RUNNING: it watches that the resource stays stopped), anything else 0.
pub fn expected_rc(cib: &Cib, rsc: &str, op: &str, interval_ms: u64) -> i32 {
    if op != "monitor" || interval_ms == 0 {
        return rc::OK;
    }
    let prim = cib
        .config
        .resources
        .iter()
        .flat_map(|r| r.primitives())
        .find(|p| p.id == rsc)
        .or_else(|| cib.config.clone_instance(rsc).map(|(_, p, _)| p));
    match prim
        .and_then(|p| p.op(op, interval_ms))
        .and_then(|o| o.role)
    {
        Some(hactl_model::Role::Promoted) => rc::RUNNING_PROMOTED,
        Some(hactl_model::Role::Stopped) => rc::NOT_RUNNING,
        _ => rc::OK,
    }
}

/// The highest call id recorded for `node` in the CIB.
pub fn max_call_id(cib: &Cib, node: &str) -> i64 {
    cib.status
        .nodes
        .get(node)
        .map(|st| {
            st.resources
                .values()
                .flat_map(|h| h.ops.iter().map(|o| o.call_id))
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// The fail count recorded for exactly (rsc, op, interval) on `node`.
pub fn recorded_failcount(cib: &Cib, node: &str, rsc: &str, op: &str, interval_ms: u64) -> Score {
    cib.status
        .nodes
        .get(node)
        .and_then(|st| {
            st.failcounts.iter().find(|f| {
                f.rsc == rsc && f.op.as_deref() == Some(op) && f.interval_ms == Some(interval_ms)
            })
        })
        .map(|f| f.count)
        .unwrap_or(Score::ZERO)
}

/// The `RecordOp` change for a result.
pub fn record_change(
    node: &str,
    d: &OpDetails,
    out: &Outcome,
    call_id: i64,
    expected_rc: i32,
    now_s: i64,
) -> Change {
    // A cancel is recorded on the monitor it cancelled (its record then says it
    // no longer runs), as Pacemaker removes a cancelled monitor's record.
    // A reload is recorded as a start when it ran (its digests are the
    // definition's now) and as a failed monitor when it did not, as Pacemaker does.
    let (operation, op_status) = match d.op.as_str() {
        "cancel" => ("monitor".to_string(), status::CANCELLED),
        "reload-agent" if out.op_status == status::DONE => ("start".to_string(), out.op_status),
        "reload-agent" => ("monitor".to_string(), out.op_status),
        _ => (d.op.clone(), out.op_status),
    };
    Change::RecordOp {
        node: node.to_string(),
        rsc: d.rsc.clone(),
        agent: d.agent.clone(),
        op: OpRecord {
            operation,
            interval_ms: d.interval_ms,
            call_id,
            rc: out.rc,
            op_status,
            expected_rc: Some(expected_rc),
            last_rc_change: Some(now_s),
            last_run: Some(out.started_at),
            exec_time_ms: Some(out.exec_ms),
            queue_time_ms: Some(out.queue_ms),
            exit_reason: out.exit_reason.clone(),
            op_digest: out.digest.clone(),
            op_force_restart: out.restart.as_ref().map(|r| r.0.clone()),
            op_restart_digest: out.restart.as_ref().map(|r| r.1.clone()),
            ..OpRecord::default()
        },
    }
}

/// The `SetFailCount` change for a failure.
pub fn failcount_change(
    node: &str,
    rsc: &str,
    op: &str,
    interval_ms: u64,
    count: Score,
    now_s: i64,
) -> Change {
    Change::SetFailCount {
        node: node.to_string(),
        failcount: FailCount {
            rsc: rsc.to_string(),
            op: Some(op.to_string()),
            interval_ms: Some(interval_ms),
            count,
            last_failure: Some(now_s),
        },
    }
}
