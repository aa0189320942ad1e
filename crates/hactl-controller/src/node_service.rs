//! The executor service that runs on every node: it takes operation requests from
//! the DC, runs them on the local `hactl-exec` executor, and reports results (and
//! recurring monitors' changes) back. Reports stay in an outbox until the DC
//! acknowledges them, so a DC that dies mid-transition loses nothing: the next DC
//! asks for them (`Resync`) before it plans anything.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hactl_exec::{ExecEvent, Executor, MonitorSpec, OpResult};
use tokio::sync::{mpsc, Notify};
use tracing::{debug, info, warn};

use crate::definition;
use crate::engine::{Dispatch, FenceRequest};
use crate::messages::{ControllerMsg, Report};
use crate::ops::{status, OpDetails, Outcome};

/// Sends a message to the current DC (the daemon routes it; dropped when there is
/// none — the outbox keeps what matters).
pub type SendToDc = Arc<dyn Fn(ControllerMsg) + Send + Sync>;

/// Runs the fencer against a target: `Ok` once the target is confirmed fenced.
pub type Fencer = Arc<
    dyn Fn(FenceRequest) -> Pin<Box<dyn Future<Output = Result<(), FencerError>> + Send>>
        + Send
        + Sync,
>;

/// Why a fencing asked of this node did not confirm the target fenced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FencerError {
    /// This node has no fencer.
    #[error("no fencer configured on {node}")]
    NoFencer { node: String },
    /// The daemon behind the hook is stopping.
    #[error("daemon stopped")]
    DaemonStopped,
    /// The fencing ran and failed: its summary (devices tried, agents' words).
    #[error("{summary}")]
    Failed { summary: String },
}

/// A health check of a stonith device: `(device id, op timeout)` → `Ok(message)` if
/// the device answers, `Err` with the agent's words if not. The daemon runs it
/// against the node's current CIB (`hactl_fence::cluster::monitor_device`).
pub type DeviceMonitor = Arc<
    dyn Fn(
            String,
            Duration,
        ) -> Pin<Box<dyn Future<Output = Result<String, DeviceCheckError>> + Send>>
        + Send
        + Sync,
>;

/// Why a stonith device's health check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceCheckError {
    #[error(transparent)]
    Device(#[from] hactl_fence::cluster::MonitorError),
    /// The daemon behind the hook is stopping.
    #[error("daemon stopped")]
    DaemonStopped,
}

struct Inner {
    node: String,
    boot: u64,
    exec: Executor,
    to_dc: SendToDc,
    fencer: Option<Fencer>,
    device_monitor: std::sync::OnceLock<DeviceMonitor>,
    seq: AtomicU64,
    outbox: Mutex<BTreeMap<u64, Report>>,
    /// Recurring monitors whose first result answers a graph action.
    first_monitor: Mutex<HashMap<(String, u64), (u64, usize)>>,
    /// Details of each running recurring monitor, for its change reports.
    monitor_details: Mutex<HashMap<(String, u64), OpDetails>>,
    /// Resources started here and not stopped since, in start order.
    active: Mutex<Vec<OpDetails>>,
    in_flight: AtomicUsize,
    idle: Notify,
    /// Graph actions received: (transition, action) → the seq of their report once
    /// it exists. A repeated request is not run again.
    seen: Mutex<HashMap<(u64, usize), Option<u64>>>,
    /// Recurring stonith device monitors running here: (device, interval).
    device_monitors: Mutex<HashSet<(String, u64)>>,
}

/// The per-node executor service. Cheap to clone.
#[derive(Clone)]
pub struct NodeService {
    inner: Arc<Inner>,
}

fn unix_now() -> (i64, u64) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, d.as_nanos() as u64)
}

fn to_outcome(r: &OpResult) -> Outcome {
    Outcome {
        rc: r.rc,
        op_status: r.status.code(),
        exit_reason: r.exit_reason.clone(),
        exec_ms: r.duration.as_millis() as u64,
        queue_ms: 0,
        started_at: r
            .started_at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
        digest: None,
        restart: None,
    }
}

fn exec_agent(d: &OpDetails) -> Result<hactl_exec::AgentSpec, String> {
    hactl_exec::AgentSpec::parse(&d.agent.to_string()).map_err(|e| e.to_string())
}

impl NodeService {
    /// Starts the service: `events` is the executor's event channel. Announces
    /// itself to the DC (`Synced` with an empty outbox and a new boot id).
    pub fn start(
        node: impl Into<String>,
        exec: Executor,
        mut events: mpsc::UnboundedReceiver<ExecEvent>,
        to_dc: SendToDc,
        fencer: Option<Fencer>,
    ) -> NodeService {
        let (_, nanos) = unix_now();
        let svc = NodeService {
            inner: Arc::new(Inner {
                node: node.into(),
                // Unique per start of the service; a restarted node is a new boot.
                boot: nanos,
                exec,
                to_dc,
                fencer,
                device_monitor: std::sync::OnceLock::new(),
                seq: AtomicU64::new(0),
                outbox: Mutex::new(BTreeMap::new()),
                first_monitor: Mutex::new(HashMap::new()),
                monitor_details: Mutex::new(HashMap::new()),
                active: Mutex::new(Vec::new()),
                in_flight: AtomicUsize::new(0),
                idle: Notify::new(),
                seen: Mutex::new(HashMap::new()),
                device_monitors: Mutex::new(HashSet::new()),
            }),
        };
        let s = svc.clone();
        tokio::spawn(async move {
            while let Some(ev) = events.recv().await {
                s.on_exec_event(ev);
            }
        });
        svc.send_synced();
        svc
    }

    pub fn node(&self) -> &str {
        &self.inner.node
    }

    pub fn boot(&self) -> u64 {
        self.inner.boot
    }

    pub fn executor(&self) -> &Executor {
        &self.inner.exec
    }

    /// Reports not acknowledged by a DC yet.
    pub fn unacked(&self) -> usize {
        self.inner.outbox.lock().map(|o| o.len()).unwrap_or(0)
    }

    /// Operations the DC asked for that are still running here.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// Resources started here by the cluster and not stopped since, in start order.
    pub fn active(&self) -> Vec<OpDetails> {
        self.inner
            .active
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default()
    }

    /// A message from the DC.
    pub fn handle(&self, msg: ControllerMsg) {
        match msg {
            ControllerMsg::Execute(d) => {
                let key = (d.transition, d.action);
                let known = self
                    .inner
                    .seen
                    .lock()
                    .ok()
                    .and_then(|mut m| match m.get(&key) {
                        Some(v) => Some(*v),
                        None => {
                            m.insert(key, None);
                            None
                        }
                    });
                if let Some(done) = known {
                    // A repeat: resend the result if we have it, else it is running.
                    let report = done.and_then(|seq| {
                        self.inner
                            .outbox
                            .lock()
                            .ok()
                            .and_then(|o| o.get(&seq).cloned())
                    });
                    if let Some(r) = report {
                        (self.inner.to_dc)(ControllerMsg::Report(r));
                    }
                    return;
                }
                let s = self.clone();
                s.inner.in_flight.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    s.execute(d).await;
                    if s.inner.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
                        s.inner.idle.notify_waiters();
                    }
                });
            }
            ControllerMsg::Ack { seqs } => {
                if let Ok(mut m) = self.inner.seen.lock() {
                    m.retain(|_, v| !v.is_some_and(|s| seqs.contains(&s)));
                }
                if let Ok(mut o) = self.inner.outbox.lock() {
                    for s in seqs {
                        o.remove(&s);
                    }
                }
            }
            ControllerMsg::Resync => {
                let s = self.clone();
                tokio::spawn(async move {
                    // Let running operations finish so their results travel with the
                    // answer (each is bounded by its own timeout).
                    s.wait_idle().await;
                    s.send_synced();
                });
            }
            ControllerMsg::Fence(f) => {
                let s = self.clone();
                tokio::spawn(async move {
                    if f.delay_ms > 0 {
                        // priority-fencing-delay: the peer that holds the important
                        // resources gets this head start to fence us first.
                        info!(node = %s.inner.node, target = %f.target, delay_ms = f.delay_ms,
                            "fencing delay (priority-fencing-delay)");
                        tokio::time::sleep(std::time::Duration::from_millis(f.delay_ms)).await;
                    }
                    let r = match &s.inner.fencer {
                        Some(fencer) => fencer(f.clone()).await,
                        None => Err(FencerError::NoFencer {
                            node: s.inner.node.clone(),
                        }),
                    };
                    info!(node = %s.inner.node, target = %f.target, ok = r.is_ok(), "fencing finished");
                    (s.inner.to_dc)(ControllerMsg::FenceResult {
                        transition: f.transition,
                        action: f.action,
                        target: f.target,
                        ok: r.is_ok(),
                        reason: r.err().map(|e| e.to_string()),
                    });
                });
            }
            other => {
                debug!(node = %self.inner.node, msg = ?other, "unexpected message for a node ignored")
            }
        }
    }

    /// Returns once no operation the DC asked for is running here.
    pub async fn wait_idle(&self) {
        loop {
            let idle = self.inner.idle.notified();
            if self.inner.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }

    /// Tells the DC this service's boot and hands it every unacknowledged report
    /// (on start, and whenever the DC changes).
    pub fn announce(&self) {
        self.send_synced();
    }

    fn send_synced(&self) {
        let reports: Vec<Report> = self
            .inner
            .outbox
            .lock()
            .map(|o| o.values().cloned().collect())
            .unwrap_or_default();
        (self.inner.to_dc)(ControllerMsg::Synced {
            node: self.inner.node.clone(),
            boot: self.inner.boot,
            reports,
        });
    }

    fn report(
        &self,
        transition: Option<u64>,
        action: Option<usize>,
        details: OpDetails,
        mut outcome: Outcome,
    ) {
        if outcome.digest.is_none() && details.op != "cancel" {
            outcome.digest = Some(definition::digest_of(&details));
        }
        let seq = self.inner.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let r = Report {
            seq,
            node: self.inner.node.clone(),
            boot: self.inner.boot,
            transition,
            action,
            details,
            outcome,
        };
        if let Ok(mut o) = self.inner.outbox.lock() {
            o.insert(seq, r.clone());
        }
        if let (Some(t), Some(a)) = (transition, action) {
            if let Ok(mut m) = self.inner.seen.lock() {
                m.insert((t, a), Some(seq));
            }
        }
        (self.inner.to_dc)(ControllerMsg::Report(r));
    }

    async fn execute(&self, d: Dispatch) {
        let det = d.details.clone();
        let outcome = self.run_op(&det, Some((d.transition, d.action))).await;
        if let Some(o) = outcome {
            self.report(Some(d.transition), Some(d.action), det, o);
        }
    }

    /// Runs one operation; `None` when the result comes later (a recurring monitor's
    /// first result arrives as an executor event).
    async fn run_op(&self, d: &OpDetails, graph: Option<(u64, usize)>) -> Option<Outcome> {
        let node = &self.inner.node;
        let started = self
            .inner
            .active
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default();
        let d = &definition::stop_as_started(d, &started);
        if d.agent.class == "stonith" {
            // Fence devices are not run by the executor: "starting" one only makes it
            // available to the fencer on this node (as in Pacemaker).
            return Some(self.stonith_op(d).await);
        }
        let agent = match exec_agent(d) {
            Ok(a) => a,
            Err(e) => {
                let (now, _) = unix_now();
                return Some(Outcome {
                    rc: 5,
                    op_status: status::NOT_INSTALLED,
                    exit_reason: Some(e),
                    exec_ms: 0,
                    queue_ms: 0,
                    started_at: now,
                    digest: None,
                    restart: None,
                });
            }
        };
        let timeout = Duration::from_millis(d.timeout_ms.max(1));
        if d.op == "cancel" {
            // The recurring monitor of a role the resource leaves (a promote or
            // demote follows), or one in maintenance mode or no longer configured.
            let interval = Duration::from_millis(d.interval_ms);
            let existed = self.inner.exec.cancel_monitor(&d.rsc, interval);
            if let Ok(mut m) = self.inner.monitor_details.lock() {
                m.remove(&(d.rsc.clone(), d.interval_ms));
            }
            debug!(node = %node, resource = %d.rsc, interval_ms = d.interval_ms, existed, "monitor cancelled");
            let (now, _) = unix_now();
            return Some(Outcome {
                rc: 0,
                op_status: status::DONE,
                exit_reason: None,
                exec_ms: 0,
                queue_ms: 0,
                started_at: now,
                digest: None,
                restart: None,
            });
        }
        if d.op == "monitor" && d.interval_ms > 0 {
            let key = (d.rsc.clone(), d.interval_ms);
            if let Some(g) = graph {
                if let Ok(mut m) = self.inner.first_monitor.lock() {
                    m.insert(key.clone(), g);
                }
            }
            if let Ok(mut m) = self.inner.monitor_details.lock() {
                m.insert(key, d.clone());
            }
            self.inner.exec.start_monitor(
                &d.rsc,
                &agent,
                &d.params,
                MonitorSpec {
                    interval: Duration::from_millis(d.interval_ms),
                    timeout,
                    check_level: d.check_level,
                },
            );
            return None;
        }
        let op = match d.op.as_str() {
            "reload-agent" => definition::reload_action(&self.inner.exec, &agent).await,
            op => op,
        };
        let r = self
            .inner
            .exec
            .execute_with(
                &d.rsc,
                &agent,
                &d.params,
                op,
                Duration::from_millis(d.interval_ms),
                timeout,
                d.check_level,
            )
            .await;
        debug!(node = %node, resource = %d.rsc, op = %d.op, rc = r.rc, "op done");
        self.track(d, &r);
        let mut outcome = to_outcome(&r);
        outcome.restart = definition::restart_of(&self.inner.exec, &agent, d).await;
        Some(outcome)
    }

    fn track(&self, d: &OpDetails, r: &OpResult) {
        let Ok(mut a) = self.inner.active.lock() else {
            return;
        };
        let ok = r.is_success();
        match d.op.as_str() {
            // A reload applied the definition, a migrate_from brought the resource
            // here: the next stop undoes it.
            "start" | "reload-agent" | "migrate_from" if ok => {
                a.retain(|x| x.rsc != d.rsc);
                let mut start = d.clone();
                start.op = "start".into();
                a.push(start);
            }
            "stop" if ok => {
                a.retain(|x| x.rsc != d.rsc);
                if let Ok(mut m) = self.inner.monitor_details.lock() {
                    m.retain(|(r, _), _| r != &d.rsc);
                }
            }
            "monitor" if d.interval_ms == 0 && r.rc == 7 => a.retain(|x| x.rsc != d.rsc),
            // Found running by a probe: ours to stop if quorum goes.
            "monitor" if d.interval_ms == 0 && ok && !a.iter().any(|x| x.rsc == d.rsc) => {
                let mut start = d.clone();
                start.op = "start".into();
                a.push(start);
            }
            _ => {}
        }
    }

    /// Sets the stonith device health check (once; later calls are ignored). Without
    /// one, a started device's monitor succeeds without checking anything.
    pub fn set_device_monitor(&self, m: DeviceMonitor) {
        let _ = self.inner.device_monitor.set(m);
    }

    /// Runs the device's health check, if there is one: `(rc, exit reason)`.
    async fn check_device(&self, d: &OpDetails) -> (i32, Option<String>) {
        let Some(m) = self.inner.device_monitor.get() else {
            return (0, None);
        };
        let timeout = Duration::from_millis(d.timeout_ms.max(1));
        match m(d.rsc.clone(), timeout).await {
            Ok(msg) => {
                debug!(node = %self.inner.node, resource = %d.rsc, op = %d.op, %msg, "stonith device ok");
                (0, None)
            }
            Err(e) => {
                warn!(node = %self.inner.node, resource = %d.rsc, op = %d.op, error = %e,
                    "stonith device check failed");
                // OCF generic error, with the agent's words.
                (1, Some(e.to_string()))
            }
        }
    }

    async fn stonith_op(&self, d: &OpDetails) -> Outcome {
        let (now, _) = unix_now();
        let began = Instant::now();
        let running = self
            .inner
            .active
            .lock()
            .map(|a| a.iter().any(|x| x.rsc == d.rsc))
            .unwrap_or(false);
        let mut exit_reason = None;
        let rc = match d.op.as_str() {
            // As in Pacemaker, a start is "register + first monitor": a device that
            // does not answer is not available to the fencer here.
            "start" => {
                let (rc, why) = self.check_device(d).await;
                exit_reason = why;
                if let Ok(mut a) = self.inner.active.lock() {
                    a.retain(|x| x.rsc != d.rsc);
                    if rc == 0 {
                        a.push(d.clone());
                    }
                }
                rc
            }
            "stop" => {
                if let Ok(mut a) = self.inner.active.lock() {
                    a.retain(|x| x.rsc != d.rsc);
                }
                0
            }
            // Probe of a device not started here: not running, nothing to check.
            "monitor" if !running => 7,
            "monitor" => {
                let (rc, why) = self.check_device(d).await;
                exit_reason = why;
                if d.interval_ms > 0 {
                    self.repeat_device_monitor(d, rc);
                }
                rc
            }
            _ => 3,
        };
        Outcome {
            rc,
            op_status: status::DONE,
            exit_reason,
            exec_ms: began.elapsed().as_millis() as u64,
            queue_ms: 0,
            started_at: now,
            digest: None,
            restart: None,
        }
    }

    /// Keeps checking a started fence device at its monitor interval, reporting only
    /// when the result changes (like the executor's recurring monitors). Ends once
    /// the device is stopped here.
    fn repeat_device_monitor(&self, d: &OpDetails, first_rc: i32) {
        let key = (d.rsc.clone(), d.interval_ms);
        let fresh = self
            .inner
            .device_monitors
            .lock()
            .map(|mut m| m.insert(key.clone()))
            .unwrap_or(false);
        if !fresh {
            return;
        }
        let svc = self.clone();
        let d = d.clone();
        tokio::spawn(async move {
            let mut last = first_rc;
            loop {
                tokio::time::sleep(Duration::from_millis(d.interval_ms)).await;
                let still_active = svc
                    .inner
                    .active
                    .lock()
                    .map(|a| a.iter().any(|x| x.rsc == d.rsc))
                    .unwrap_or(false);
                if !still_active {
                    break;
                }
                let began = Instant::now();
                let (rc, why) = svc.check_device(&d).await;
                if rc != last {
                    warn!(node = %svc.inner.node, resource = %d.rsc, interval_ms = d.interval_ms,
                        rc, "stonith device monitor result changed");
                    let (now, _) = unix_now();
                    let outcome = Outcome {
                        rc,
                        op_status: status::DONE,
                        exit_reason: why,
                        exec_ms: began.elapsed().as_millis() as u64,
                        queue_ms: 0,
                        started_at: now,
                        digest: None,
                        restart: None,
                    };
                    svc.report(None, None, d.clone(), outcome);
                    last = rc;
                }
            }
            if let Ok(mut m) = svc.inner.device_monitors.lock() {
                m.remove(&key);
            }
        });
    }

    fn on_exec_event(&self, ev: ExecEvent) {
        let ExecEvent::MonitorChanged {
            rsc,
            interval,
            previous,
            result,
        } = ev;
        let key = (rsc.clone(), interval.as_millis() as u64);
        let details = self
            .inner
            .monitor_details
            .lock()
            .ok()
            .and_then(|m| m.get(&key).cloned());
        let Some(details) = details else {
            debug!(node = %self.inner.node, resource = %rsc, "change of an unknown monitor ignored");
            return;
        };
        let graph = if previous.is_none() {
            self.inner
                .first_monitor
                .lock()
                .ok()
                .and_then(|mut m| m.remove(&key))
        } else {
            None
        };
        if previous.is_some() {
            warn!(node = %self.inner.node, resource = %rsc, interval_ms = key.1, rc = result.rc,
                status = %result.status, "recurring monitor result changed");
        }
        let outcome = to_outcome(&result);
        match graph {
            Some((t, a)) => self.report(Some(t), Some(a), details, outcome),
            None => self.report(None, None, details, outcome),
        }
    }

    /// Stops every resource this node runs, in reverse start order, without a DC
    /// (no-quorum-policy=stop). The results are reported (and kept until a DC
    /// acknowledges them).
    pub async fn stop_all_local(&self) -> Vec<(String, Outcome)> {
        self.stop_all_local_while(|| true).await
    }

    /// [`NodeService::stop_all_local`], checking `needed` before each stop: once it
    /// says no (quorum came back), the rest keep running and the DC decides.
    pub async fn stop_all_local_while(&self, needed: impl Fn() -> bool) -> Vec<(String, Outcome)> {
        let mut out = Vec::new();
        let active = self.active();
        for d in active.iter().rev() {
            if !needed() {
                info!(node = %self.inner.node, resource = %d.rsc, "stopping no more: left to the DC");
                break;
            }
            let mut stop = d.clone();
            stop.op = "stop".into();
            stop.interval_ms = 0;
            stop.check_level = None;
            info!(node = %self.inner.node, resource = %d.rsc, "no quorum: stopping");
            if let Some(o) = self.run_op(&stop, None).await {
                out.push((d.rsc.clone(), o.clone()));
                self.report(None, None, stop, o);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hactl_fence::cluster::MonitorError;
    use std::sync::atomic::AtomicBool;

    fn op(rsc: &str, op: &str, interval_ms: u64) -> OpDetails {
        OpDetails {
            rsc: rsc.into(),
            agent: hactl_model::AgentSpec::parse("stonith:fence_hactl_xvm").unwrap(),
            params: Default::default(),
            op: op.into(),
            interval_ms,
            timeout_ms: 7_000,
            check_level: None,
            op_params: Default::default(),
        }
    }

    /// Stonith start and monitor run the device check and map its failure to an OCF
    /// generic error with the check's message (the check here stands in for
    /// `hactl_fence::cluster::monitor_device`, tested against a real agent there).
    #[tokio::test]
    async fn stonith_start_and_monitor_run_the_device_check() {
        let dir = tempfile::tempdir().unwrap();
        let (exec, events) = Executor::new(hactl_exec::ExecConfig {
            rsctmp: dir.path().to_path_buf(),
            varrun: Some(dir.path().to_path_buf()),
            ..Default::default()
        });
        let svc = NodeService::start("n1", exec, events, Arc::new(|_| {}), None);
        let healthy = Arc::new(AtomicBool::new(true));
        let seen_timeout = Arc::new(Mutex::new(None));
        let (h, t) = (healthy.clone(), seen_timeout.clone());
        svc.set_device_monitor(Arc::new(move |dev: String, timeout: Duration| {
            let ok = h.load(Ordering::SeqCst) && dev != "broken";
            *t.lock().unwrap() = Some(timeout);
            Box::pin(async move {
                if ok {
                    Ok(format!("{dev}: monitor succeeded"))
                } else {
                    Err(MonitorError::Failed {
                        summary: format!("{dev}: monitor failed (exit 1): no answer"),
                    }
                    .into())
                }
            })
        }));
        // A probe of a device not started here does not run the check.
        let o = svc.stonith_op(&op("fd", "monitor", 0)).await;
        assert_eq!(o.rc, 7);
        assert_eq!(*seen_timeout.lock().unwrap(), None);

        let o = svc.stonith_op(&op("fd", "start", 0)).await;
        assert_eq!((o.rc, o.exit_reason.as_deref()), (0, None));
        assert_eq!(*seen_timeout.lock().unwrap(), Some(Duration::from_secs(7)));
        assert!(svc.active().iter().any(|a| a.rsc == "fd"));
        assert_eq!(svc.stonith_op(&op("fd", "monitor", 60_000)).await.rc, 0);

        healthy.store(false, Ordering::SeqCst);
        let o = svc.stonith_op(&op("fd", "monitor", 60_000)).await;
        assert_eq!(o.rc, 1);
        assert_eq!(
            o.exit_reason.as_deref(),
            Some("fd: monitor failed (exit 1): no answer")
        );

        // A device that fails its first check is not started.
        let o = svc.stonith_op(&op("broken", "start", 0)).await;
        assert_eq!(o.rc, 1);
        assert!(o.exit_reason.unwrap().contains("no answer"));
        assert!(!svc.active().iter().any(|a| a.rsc == "broken"));
    }

    /// A recurring stonith monitor keeps checking the device at its interval and
    /// reports once when the result changes, then stops after the device is stopped.
    #[tokio::test]
    async fn recurring_stonith_monitor_reports_a_change_once() {
        let dir = tempfile::tempdir().unwrap();
        let (exec, events) = Executor::new(hactl_exec::ExecConfig {
            rsctmp: dir.path().to_path_buf(),
            varrun: Some(dir.path().to_path_buf()),
            ..Default::default()
        });
        let (tx, mut rx) = mpsc::unbounded_channel();
        let to_dc: SendToDc = Arc::new(move |m| {
            if let ControllerMsg::Report(r) = m {
                let _ = tx.send(r);
            }
        });
        let svc = NodeService::start("n1", exec, events, to_dc, None);
        let healthy = Arc::new(AtomicBool::new(true));
        let checks = Arc::new(AtomicUsize::new(0));
        let (h, c) = (healthy.clone(), checks.clone());
        svc.set_device_monitor(Arc::new(move |dev: String, _timeout: Duration| {
            let ok = h.load(Ordering::SeqCst);
            c.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                if ok {
                    Ok(format!("{dev}: ok"))
                } else {
                    Err(MonitorError::Failed {
                        summary: format!("{dev}: monitor failed (exit 1)"),
                    }
                    .into())
                }
            })
        }));
        assert_eq!(svc.stonith_op(&op("fd", "start", 0)).await.rc, 0);
        assert_eq!(svc.stonith_op(&op("fd", "monitor", 20)).await.rc, 0);
        healthy.store(false, Ordering::SeqCst);
        let r = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("a change report within 5 s")
            .expect("report channel open");
        assert_eq!(r.details.rsc, "fd");
        assert_eq!(r.details.interval_ms, 20);
        assert_eq!(r.outcome.rc, 1);
        assert!(r
            .outcome
            .exit_reason
            .unwrap_or_default()
            .contains("monitor failed"));
        // Still failing: no second report while several more checks run.
        let before = checks.load(Ordering::SeqCst);
        while checks.load(Ordering::SeqCst) < before + 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            rx.try_recv().is_err(),
            "an unchanged result is not reported again"
        );
        // Stopping the device ends the monitor.
        assert_eq!(svc.stonith_op(&op("fd", "stop", 0)).await.rc, 0);
        let deadline = Instant::now() + Duration::from_secs(5);
        while svc
            .inner
            .device_monitors
            .lock()
            .map(|m| !m.is_empty())
            .unwrap_or(true)
        {
            assert!(
                Instant::now() < deadline,
                "the monitor did not end after stop"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
