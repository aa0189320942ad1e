//! The per-node executor the daemon calls: one queue per resource (at most one
//! operation at a time on a resource), recurring monitors that report only changes,
//! probes, op history and fail counts.

use crate::config::ExecConfig;
use crate::systemd::{self, SystemdClient, SystemdError};
use crate::types::{rc, AgentSpec, Class, ExecError, ExecStatus, OpResult};
use crate::{lsb, native, ocf, Params};
use hactl_agent_metadata::{AgentMetadata, ParamError};
use hactl_model::{FailCount, OpRecord, Score};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch};

/// Something the executor reports without being asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecEvent {
    /// A recurring monitor's result differs from its previous one (or is its first).
    MonitorChanged {
        rsc: String,
        interval: Duration,
        /// rc and status of the previous result; `None` for the first.
        previous: Option<(i32, ExecStatus)>,
        result: OpResult,
    },
}

/// A recurring monitor's definition.
#[derive(Clone, Debug)]
pub struct MonitorSpec {
    pub interval: Duration,
    pub timeout: Duration,
    /// `OCF_CHECK_LEVEL` (the op's `depth`).
    pub check_level: Option<u32>,
}

#[derive(Default)]
struct RscState {
    history: VecDeque<OpRecord>,
    /// (op, interval ms) → (count, last failure secs)
    failcounts: BTreeMap<(String, u64), (u32, i64)>,
}

struct MonitorHandle {
    cancel: watch::Sender<bool>,
}

struct Inner {
    cfg: ExecConfig,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    state: Mutex<HashMap<String, RscState>>,
    monitors: Mutex<HashMap<(String, u64), MonitorHandle>>,
    events: mpsc::UnboundedSender<ExecEvent>,
    call_id: AtomicI64,
    systemd: tokio::sync::Mutex<Option<SystemdClient>>,
    metadata: Mutex<HashMap<String, AgentMetadata>>,
    /// Real-server health checks of the in-process `ocf:hactl:ipvs` resources.
    ipvs_health: Arc<crate::ipvs_health::Registry>,
}

/// The executor. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Executor {
    inner: Arc<Inner>,
}

fn secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A stable digest of the parameters (FNV-1a), to notice definition changes.
fn digest(params: &Params) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for (k, v) in params {
        for b in k.bytes().chain([0]).chain(v.bytes()).chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    format!("{h:016x}")
}

/// Whether a result counts as a failure of that op (and raises the fail count).
pub fn is_failure(op: &str, interval: Duration, r: &OpResult) -> bool {
    if matches!(op, "meta-data" | "validate-all") {
        return false;
    }
    let probe = op == "monitor" && interval.is_zero();
    if probe {
        // A probe learns where the resource runs: running, stopped and "cannot run
        // here" (not installed) are all answers, not failures.
        return !(r.status == ExecStatus::NotInstalled
            || r.status == ExecStatus::Done && matches!(r.rc, rc::SUCCESS | rc::NOT_RUNNING));
    }
    !r.is_success()
}

impl Executor {
    /// A new executor and the receiving end of its event channel.
    pub fn new(cfg: ExecConfig) -> (Self, mpsc::UnboundedReceiver<ExecEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let inner = Inner {
            cfg,
            locks: Mutex::default(),
            state: Mutex::default(),
            monitors: Mutex::default(),
            events: tx,
            call_id: AtomicI64::new(0),
            systemd: tokio::sync::Mutex::new(None),
            metadata: Mutex::default(),
            ipvs_health: Arc::default(),
        };
        (
            Executor {
                inner: Arc::new(inner),
            },
            rx,
        )
    }

    pub fn config(&self) -> &ExecConfig {
        &self.inner.cfg
    }

    /// The state of each in-process `ocf:hactl:ipvs` service running here (health,
    /// weights, the kernel's counters), updated at a bounded rate
    /// ([`crate::ipvs_state`]).
    pub fn ipvs_status(&self) -> watch::Receiver<crate::ipvs_state::StatusMap> {
        self.inner.ipvs_health.status.subscribe()
    }

    fn lock_for(&self, rsc: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.inner.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(rsc.to_string()).or_default().clone()
    }

    /// Runs one operation (interval 0) and records it. Waits for any operation
    /// already running on `rsc`. A `stop` first cancels the resource's monitors.
    pub async fn execute(
        &self,
        rsc: &str,
        agent: &AgentSpec,
        params: &Params,
        op: &str,
        timeout: Duration,
    ) -> OpResult {
        self.execute_with(rsc, agent, params, op, Duration::ZERO, timeout, None)
            .await
    }

    /// A probe: a one-shot monitor to learn whether `rsc` is active here.
    pub async fn probe(
        &self,
        rsc: &str,
        agent: &AgentSpec,
        params: &Params,
        timeout: Duration,
    ) -> OpResult {
        self.execute(rsc, agent, params, "monitor", timeout).await
    }

    /// Like [`execute`](Self::execute) with an interval and `OCF_CHECK_LEVEL`.
    #[allow(clippy::too_many_arguments)]
    pub async fn execute_with(
        &self,
        rsc: &str,
        agent: &AgentSpec,
        params: &Params,
        op: &str,
        interval: Duration,
        timeout: Duration,
        check_level: Option<u32>,
    ) -> OpResult {
        // As Pacemaker's controller does, no recurring monitor runs across a
        // change of state: one between a demote and the stop that follows would
        // report the new role (rc 0 where its role says 8) as a failure. The
        // monitors of the role reached are started after the change.
        if matches!(op, "stop" | "demote" | "promote") {
            self.cancel_all_monitors(rsc);
        }
        let queued = Instant::now();
        let lock = self.lock_for(rsc);
        let guard = lock.lock().await;
        let queue_time = queued.elapsed();
        let r = self
            .run_unlocked(rsc, agent, params, op, interval, timeout, check_level)
            .await;
        drop(guard);
        if !matches!(op, "meta-data" | "validate-all") {
            self.record(rsc, op, interval, params, &r, queue_time, true);
        }
        r
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_unlocked(
        &self,
        rsc: &str,
        agent: &AgentSpec,
        params: &Params,
        op: &str,
        interval: Duration,
        timeout: Duration,
        check_level: Option<u32>,
    ) -> OpResult {
        let cfg = &self.inner.cfg;
        let span = tracing::info_span!("op", node = cfg.node_name.as_deref().unwrap_or(""), resource = rsc, op, agent = %agent);
        let _e = span.enter();
        let bad_name =
            |k: &String| k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let filtered: Params;
        let params = if op == "stop" && params.keys().any(bad_name) {
            // A stop must not fail because of parameters (a failed stop is fenced):
            // run it without the ones that cannot be passed to an agent.
            tracing::warn!("stop without parameters whose names are not valid");
            filtered = params
                .iter()
                .filter(|(k, _)| !bad_name(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            &filtered
        } else {
            params
        };
        if let Some(bad) = params.keys().find(|k| bad_name(k)) {
            return OpResult::new(
                rc::ERR_CONFIGURED,
                ExecStatus::Invalid,
                SystemTime::now(),
                Duration::ZERO,
            )
            .with_reason(format!(
                "parameter name '{bad}' is not valid (letters, digits, '_')"
            ));
        }
        drop(_e);
        let r = match agent.class {
            Class::Ocf if native::is_native(cfg, agent) => {
                native::execute(
                    cfg,
                    &self.inner.ipvs_health,
                    rsc,
                    agent,
                    params,
                    op,
                    timeout,
                )
                .await
            }
            Class::Ocf => {
                ocf::execute(cfg, rsc, agent, params, op, interval, timeout, check_level).await
            }
            Class::Lsb => lsb::execute(cfg, agent, op, timeout).await,
            Class::Systemd => self.systemd_op(agent, op, timeout).await,
            Class::Service => {
                if self.systemd_client().await.is_ok() {
                    self.systemd_op(agent, op, timeout).await
                } else {
                    lsb::execute(cfg, agent, op, timeout).await
                }
            }
        };
        let _e = span.enter();
        if r.is_success() || (op == "monitor" && r.rc == rc::NOT_RUNNING) {
            tracing::debug!(rc = r.rc, ms = r.duration.as_millis() as u64, "op finished");
        } else {
            tracing::info!(rc = r.rc, status = %r.status, reason = r.exit_reason.as_deref().unwrap_or(""), "op finished");
        }
        r
    }

    async fn systemd_client(&self) -> Result<SystemdClient, SystemdError> {
        let mut g = self.inner.systemd.lock().await;
        if let Some(c) = g.as_ref() {
            return Ok(c.clone());
        }
        let c = SystemdClient::connect(&self.inner.cfg.systemd_bus).await?;
        *g = Some(c.clone());
        Ok(c)
    }

    async fn systemd_op(&self, agent: &AgentSpec, op: &str, timeout: Duration) -> OpResult {
        let client = match self.systemd_client().await {
            Ok(c) => c,
            Err(e) => {
                return OpResult::new(
                    rc::ERR_GENERIC,
                    ExecStatus::Error,
                    SystemTime::now(),
                    Duration::ZERO,
                )
                .with_reason(format!("systemd bus unavailable: {e}"))
            }
        };
        let unit = systemd::unit_name(&agent.kind);
        let r = client
            .execute(&unit, op, timeout, self.inner.cfg.systemd_settle)
            .await;
        if r.status == ExecStatus::Error {
            // Reconnect next time in case the bus connection is what failed.
            *self.inner.systemd.lock().await = None;
        }
        r
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        rsc: &str,
        op: &str,
        interval: Duration,
        params: &Params,
        r: &OpResult,
        queue_time: Duration,
        count_failure: bool,
    ) {
        let call_id = self.inner.call_id.fetch_add(1, Ordering::Relaxed) + 1;
        let probe = op == "monitor" && interval.is_zero();
        let rec = OpRecord {
            operation: op.to_string(),
            interval_ms: interval.as_millis() as u64,
            call_id,
            rc: r.rc,
            op_status: r.status.code(),
            expected_rc: Some(if probe { rc::NOT_RUNNING } else { rc::SUCCESS }),
            last_rc_change: Some(secs(r.started_at + r.duration)),
            last_run: Some(secs(r.started_at)),
            exec_time_ms: Some(r.duration.as_millis() as u64),
            queue_time_ms: Some(queue_time.as_millis() as u64),
            exit_reason: r.exit_reason.clone(),
            op_digest: Some(digest(params)),
            ..OpRecord::default()
        };
        let limit = self.inner.cfg.history_limit.max(1);
        let mut st = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        let s = st.entry(rsc.to_string()).or_default();
        s.history.push_back(rec);
        while s.history.len() > limit {
            s.history.pop_front();
        }
        if count_failure && is_failure(op, interval, r) {
            let e = s
                .failcounts
                .entry((op.to_string(), interval.as_millis() as u64))
                .or_insert((0, 0));
            e.0 += 1;
            e.1 = secs(r.started_at);
        }
    }

    /// The resource's op history on this node, oldest first.
    pub fn history(&self, rsc: &str) -> Vec<OpRecord> {
        let st = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        st.get(rsc)
            .map(|s| s.history.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Fail count of one resource operation.
    pub fn fail_count(&self, rsc: &str, op: &str, interval: Duration) -> u32 {
        let st = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        st.get(rsc)
            .and_then(|s| {
                s.failcounts
                    .get(&(op.to_string(), interval.as_millis() as u64))
            })
            .map_or(0, |c| c.0)
    }

    /// All fail counts, in the CIB's shape.
    pub fn fail_counts(&self) -> Vec<FailCount> {
        let st = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        for (rsc, s) in st.iter() {
            for ((op, interval), (count, last)) in &s.failcounts {
                out.push(FailCount {
                    rsc: rsc.clone(),
                    op: Some(op.clone()),
                    interval_ms: Some(*interval),
                    count: Score::from(i64::from(*count)),
                    last_failure: Some(*last),
                });
            }
        }
        out.sort_by(|a, b| (&a.rsc, &a.op, a.interval_ms).cmp(&(&b.rsc, &b.op, b.interval_ms)));
        out
    }

    /// `resource cleanup`: forget fail counts (and history) of a resource.
    pub fn clear(&self, rsc: &str) {
        let mut st = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        st.remove(rsc);
    }

    /// Starts a recurring monitor; replaces one with the same interval. Results go to
    /// the event channel when they change.
    pub fn start_monitor(&self, rsc: &str, agent: &AgentSpec, params: &Params, spec: MonitorSpec) {
        if spec.interval.is_zero() {
            tracing::warn!(resource = rsc, "recurring monitor with interval 0 ignored");
            return;
        }
        let key = (rsc.to_string(), spec.interval.as_millis() as u64);
        let (cancel, mut cancelled) = watch::channel(false);
        if let Some(old) = self
            .inner
            .monitors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, MonitorHandle { cancel })
        {
            let _ = old.cancel.send(true);
        }
        let this = self.clone();
        let (rsc, agent, params) = (rsc.to_string(), agent.clone(), params.clone());
        tokio::spawn(async move {
            let mut last: Option<(i32, ExecStatus)> = None;
            loop {
                let queued = Instant::now();
                let lock = this.lock_for(&rsc);
                let guard = tokio::select! {
                    g = lock.lock() => g,
                    _ = cancelled.changed() => break,
                };
                if *cancelled.borrow() {
                    break;
                }
                let queue_time = queued.elapsed();
                let r = this
                    .run_unlocked(
                        &rsc,
                        &agent,
                        &params,
                        "monitor",
                        spec.interval,
                        spec.timeout,
                        spec.check_level,
                    )
                    .await;
                drop(guard);
                // A result that arrives after cancellation belongs to nobody.
                if *cancelled.borrow() {
                    break;
                }
                let now = (r.rc, r.status);
                if last != Some(now) {
                    this.record(
                        &rsc,
                        "monitor",
                        spec.interval,
                        &params,
                        &r,
                        queue_time,
                        true,
                    );
                    let _ = this.inner.events.send(ExecEvent::MonitorChanged {
                        rsc: rsc.clone(),
                        interval: spec.interval,
                        previous: last,
                        result: r,
                    });
                    last = Some(now);
                }
                tokio::select! {
                    _ = tokio::time::sleep(spec.interval) => {}
                    _ = cancelled.changed() => break,
                }
            }
        });
    }

    /// Cancels one recurring monitor. Returns whether it existed.
    pub fn cancel_monitor(&self, rsc: &str, interval: Duration) -> bool {
        let key = (rsc.to_string(), interval.as_millis() as u64);
        match self
            .inner
            .monitors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key)
        {
            Some(h) => {
                let _ = h.cancel.send(true);
                true
            }
            None => false,
        }
    }

    pub fn cancel_all_monitors(&self, rsc: &str) {
        let mut m = self
            .inner
            .monitors
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        m.retain(|(r, _), h| {
            if r == rsc {
                let _ = h.cancel.send(true);
                false
            } else {
                true
            }
        });
    }

    /// Recurring monitors currently scheduled, as (resource, interval).
    pub fn monitors(&self) -> Vec<(String, Duration)> {
        let m = self
            .inner
            .monitors
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<_> = m
            .keys()
            .map(|(r, i)| (r.clone(), Duration::from_millis(*i)))
            .collect();
        v.sort();
        v
    }

    // ---- meta-data, validation, discovery ------------------------------------------

    /// Whether the agent exists on this node.
    pub async fn installed(&self, agent: &AgentSpec) -> bool {
        let cfg = &self.inner.cfg;
        match agent.class {
            Class::Ocf if native::is_native(cfg, agent) => true,
            Class::Ocf => ocf::installed(
                cfg,
                agent.provider.as_deref().unwrap_or("heartbeat"),
                &agent.kind,
            ),
            Class::Lsb => lsb::script_path(cfg, &agent.kind).is_file(),
            Class::Systemd | Class::Service => {
                if let Ok(c) = self.systemd_client().await {
                    c.unit_state(&systemd::unit_name(&agent.kind))
                        .await
                        .is_ok_and(|s| s.load_state != "not-found")
                } else {
                    agent.class == Class::Service && lsb::script_path(cfg, &agent.kind).is_file()
                }
            }
        }
    }

    /// The agent's parsed meta-data (cached).
    pub async fn metadata(&self, agent: &AgentSpec) -> Result<AgentMetadata, ExecError> {
        let key = agent.to_string();
        if let Some(md) = self
            .inner
            .metadata
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(md.clone());
        }
        if !self.installed(agent).await {
            return Err(ExecError::NotInstalled(key));
        }
        let xml = match agent.class {
            Class::Ocf => {
                let r = self
                    .run_unlocked(
                        "metadata",
                        agent,
                        &Params::new(),
                        "meta-data",
                        Duration::ZERO,
                        Duration::from_secs(30),
                        None,
                    )
                    .await;
                if r.status == ExecStatus::NotInstalled {
                    return Err(ExecError::NotInstalled(key));
                }
                if !r.is_success() {
                    return Err(ExecError::Agent {
                        agent: key,
                        msg: format!("meta-data failed: {r}"),
                    });
                }
                r.output
            }
            Class::Systemd | Class::Service => {
                systemd::synthetic_metadata(&agent.kind, "systemd unit")
            }
            Class::Lsb => systemd::synthetic_metadata(&agent.kind, "LSB init script"),
        };
        let md = AgentMetadata::parse(&xml).map_err(|source| ExecError::Metadata {
            agent: key.clone(),
            source,
        })?;
        self.inner
            .metadata
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, md.clone());
        Ok(md)
    }

    /// `resource create` validation, before anything runs: the agent must exist and
    /// the parameters must fit its meta-data. Returns the meta-data.
    pub async fn validate(
        &self,
        agent: &AgentSpec,
        params: &Params,
    ) -> Result<AgentMetadata, ExecError> {
        let md = self.metadata(agent).await?;
        md.validate(&agent.to_string(), params)
            .map_err(ExecError::Param)?;
        Ok(md)
    }

    /// `resource create`/`update` validation: [`validate`](Self::validate), then the
    /// agent's own `validate-all` on this node with the resource's parameters (the
    /// OCF environment start would get), where the agent advertises it.
    ///
    /// "Not configured" (6) means the configuration is wrong on every node: an
    /// error. Any other failure (2: not valid on this node, 5: not installed here, 1:
    /// e.g. IPaddr2 finds no interface for the address here) may be true of this
    /// node only, so it is returned as a warning and the caller decides.
    pub async fn check(
        &self,
        rsc: &str,
        agent: &AgentSpec,
        params: &Params,
    ) -> Result<Checked, ExecError> {
        let metadata = self.validate(agent, params).await?;
        let mut local_failure = None;
        if agent.class == Class::Ocf && metadata.action("validate-all").is_some() {
            let timeout = metadata
                .default_timeout("validate-all")
                .unwrap_or(Duration::from_secs(20));
            let r = self
                .run_unlocked(
                    rsc,
                    agent,
                    params,
                    "validate-all",
                    Duration::ZERO,
                    timeout,
                    None,
                )
                .await;
            match r.rc {
                rc::SUCCESS | rc::ERR_UNIMPLEMENTED => {}
                rc::ERR_CONFIGURED if r.status == ExecStatus::Done => {
                    return Err(ExecError::Invalid {
                        agent: agent.to_string(),
                        reason: r.exit_reason.unwrap_or_else(|| rc::name(r.rc).to_string()),
                    })
                }
                _ => local_failure = Some(r),
            }
        }
        Ok(Checked {
            metadata,
            local_failure,
        })
    }

    /// Resource classes available here.
    pub async fn standards(&self) -> Vec<Class> {
        let mut v = vec![Class::Ocf, Class::Lsb, Class::Service];
        if self.systemd_client().await.is_ok() {
            v.push(Class::Systemd);
        }
        v
    }

    /// OCF providers (directories under `<OCF_ROOT>/resource.d`, overrides, `hactl`).
    pub fn providers(&self) -> Vec<String> {
        let cfg = &self.inner.cfg;
        let mut v: Vec<String> = std::fs::read_dir(cfg.ocf_root.join("resource.d"))
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.extend(cfg.provider_dirs.keys().cloned());
        if cfg.native_hactl {
            v.push(native::PROVIDER.to_string());
        }
        v.sort();
        v.dedup();
        v
    }

    /// Agents of a class (and OCF provider), as full names.
    pub async fn agents(
        &self,
        class: Option<Class>,
        provider: Option<&str>,
    ) -> Result<Vec<String>, ExecError> {
        let cfg = &self.inner.cfg;
        let list_dir = |dir: &std::path::Path| -> Vec<String> {
            use std::os::unix::fs::PermissionsExt;
            let mut v: Vec<String> = std::fs::read_dir(dir)
                .map(|rd| {
                    rd.filter_map(Result::ok)
                        .filter(|e| {
                            std::fs::metadata(e.path())
                                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                        })
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|n| !n.starts_with('.'))
                        .collect()
                })
                .unwrap_or_default();
            v.sort();
            v
        };
        let mut out = Vec::new();
        let classes = match class {
            Some(c) => vec![c],
            None => vec![Class::Ocf, Class::Lsb, Class::Systemd],
        };
        for c in classes {
            match c {
                Class::Ocf => {
                    let providers = match provider {
                        Some(p) => vec![p.to_string()],
                        None => self.providers(),
                    };
                    for p in providers {
                        let mut names = if p == native::PROVIDER && cfg.native_hactl {
                            native::AGENTS.iter().map(|s| s.to_string()).collect()
                        } else {
                            list_dir(&ocf::agent_path(cfg, &p, ""))
                        };
                        names.sort();
                        out.extend(names.into_iter().map(|n| format!("ocf:{p}:{n}")));
                    }
                }
                Class::Lsb => out.extend(
                    list_dir(&cfg.initd_dir)
                        .into_iter()
                        .map(|n| format!("lsb:{n}")),
                ),
                Class::Systemd | Class::Service => match self.systemd_client().await {
                    Ok(client) => {
                        let names = client.list_services().await.map_err(ExecError::Systemd)?;
                        out.extend(names.into_iter().map(|n| format!("{c}:{n}")));
                    }
                    Err(e) if class.is_some() && c == Class::Systemd => {
                        return Err(ExecError::Systemd(e))
                    }
                    Err(_) if c == Class::Service => out.extend(
                        list_dir(&cfg.initd_dir)
                            .into_iter()
                            .map(|n| format!("service:{n}")),
                    ),
                    Err(_) => {}
                },
            }
        }
        Ok(out)
    }
}

/// What [`Executor::check`] found.
#[derive(Clone, Debug)]
pub struct Checked {
    pub metadata: AgentMetadata,
    /// `validate-all` failed on this node with a code other than "not configured":
    /// the resource may still run on other nodes.
    pub local_failure: Option<OpResult>,
}

/// Convenience for callers holding parameters in other map types.
pub fn params<I, K, V>(kv: I) -> Params
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<String>,
    V: Into<String>,
{
    kv.into_iter().map(|(k, v)| (k.into(), v.into())).collect()
}

impl From<ParamError> for OpResult {
    fn from(e: ParamError) -> Self {
        OpResult::new(
            rc::ERR_CONFIGURED,
            ExecStatus::Invalid,
            SystemTime::now(),
            Duration::ZERO,
        )
        .with_reason(e.to_string())
    }
}
