//! The cluster fencer: fences a node with what the CIB configures — the stonith
//! devices (primitives of class `stonith`), the fencing topology, and the
//! `stonith-action` / `stonith-timeout` properties — and reports what every device did.
//!
//! This crate does not depend on the controller; [`fencer`] returns a plain closure
//! that the daemon adapts to the controller's `Fencer` type and whose outcome it
//! records through Raft ([`ClusterFenceOutcome::to_event`]).

use crate::agent_api::AgentResult;
use crate::device::FenceDevice;
use crate::topology::{self, Level};
use hactl_model::{Configuration, FenceEvent, Resource};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one device run did, for status and history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRun {
    pub device: String,
    /// The agent's name (`fence_xvm`, `fence_hactl_xvm`, or a path).
    pub agent: String,
    /// `off`, `on`, `reboot`, or `list` / `status` when the run was a query of
    /// whether the device can fence the target.
    pub action: String,
    /// The target's name at the device.
    pub plug: Option<String>,
    pub level: u32,
    pub ok: bool,
    /// The last attempt's exit code (`None`: timed out, killed, or never started).
    pub rc: Option<i32>,
    /// One line: the result and the agent's last words.
    pub message: String,
    /// The last attempt's stdout and stderr.
    pub output: String,
    /// Time spent in the device, retries included.
    pub duration: Duration,
    /// The node that ran it.
    pub executor: String,
}

/// The result of fencing one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterFenceOutcome {
    pub target: String,
    pub action: String,
    pub ok: bool,
    /// The level that succeeded.
    pub level: Option<u32>,
    /// Why it failed, or which level succeeded, in one line.
    pub summary: String,
    pub devices: Vec<DeviceRun>,
    pub executor: String,
    pub duration: Duration,
}

impl ClusterFenceOutcome {
    /// The fencing history entry for this outcome, finished at `at` (Unix seconds).
    pub fn to_event(&self, at: i64, origin: &str) -> FenceEvent {
        let mut devices: Vec<String> = Vec::new();
        for d in &self.devices {
            if !devices.contains(&d.device) {
                devices.push(d.device.clone());
            }
        }
        FenceEvent {
            target: self.target.clone(),
            action: self.action.clone(),
            ok: self.ok,
            reason: Some(self.summary.clone()),
            executor: self.executor.clone(),
            origin: Some(origin.to_string()),
            devices,
            at,
        }
    }
}

/// A stonith device the configuration defines but that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadDevice {
    pub id: String,
    pub error: String,
}

/// The usable fence devices in `cfg` (stonith primitives that are not disabled),
/// and those whose definition is broken.
pub fn devices(cfg: &Configuration) -> (BTreeMap<String, FenceDevice>, Vec<BadDevice>) {
    let mut ok = BTreeMap::new();
    let mut bad = Vec::new();
    for r in &cfg.resources {
        let group_meta = match r {
            Resource::Group(g) => Some(&g.meta),
            // A cloned stonith device is one device for fencing purposes; a
            // disabled clone disables it.
            Resource::Clone(c) => Some(&c.meta),
            Resource::Primitive(_) => None,
        };
        for p in r.primitives() {
            if p.agent.class != "stonith" {
                continue;
            }
            let role = p
                .meta
                .get("target-role")
                .or_else(|| group_meta.and_then(|m| m.get("target-role")))
                .or_else(|| cfg.rsc_defaults.get("target-role"));
            // A disabled device is not used for fencing (as in Pacemaker).
            if role.is_some_and(|r| r.eq_ignore_ascii_case("stopped")) {
                continue;
            }
            match FenceDevice::new(
                &p.id,
                &p.agent.kind,
                p.params.iter().map(|(k, v)| (k.clone(), v.clone())),
            ) {
                Ok(d) => {
                    ok.insert(p.id.clone(), d);
                }
                Err(e) => bad.push(BadDevice {
                    id: p.id.clone(),
                    error: e.to_string(),
                }),
            }
        }
    }
    (ok, bad)
}

/// The topology levels configured for `target` (empty: use every device that can
/// fence it).
pub fn levels_for(cfg: &Configuration, target: &str) -> Vec<Level> {
    let mut levels: Vec<Level> = cfg
        .fencing_levels
        .iter()
        .filter(|l| l.target == target)
        .map(|l| Level {
            index: l.index,
            devices: l.devices.clone(),
        })
        .collect();
    levels.sort_by_key(|l| l.index);
    levels
}

/// Which nodes of the configuration each device can fence by its static settings
/// (`None` for a device that must ask its agent: dynamic-list or status checks).
pub fn static_targets(cfg: &Configuration, dev: &FenceDevice) -> Option<Vec<String>> {
    use crate::device::HostCheck;
    match dev.host_check {
        HostCheck::StaticList => Some(
            cfg.nodes
                .iter()
                .map(|n| n.name.clone())
                .filter(|n| dev.statically_covers(n))
                .collect(),
        ),
        HostCheck::None => Some(cfg.nodes.iter().map(|n| n.name.clone()).collect()),
        HostCheck::DynamicList | HostCheck::Status => None,
    }
}

/// Fences `target` on this node (`executor`) with what `cfg` configures. `action`
/// `None` means the `stonith-action` property. The whole operation is bounded by
/// `stonith-timeout`.
pub async fn fence_node(
    cfg: &Configuration,
    target: &str,
    action: Option<&str>,
    executor: &str,
) -> ClusterFenceOutcome {
    let start = Instant::now();
    let (action, timeout) = match cfg.options() {
        Ok(o) => (
            action.map(str::to_string).unwrap_or(o.stonith_action),
            Duration::from_millis(o.stonith_timeout_ms.max(1)),
        ),
        Err(e) => {
            return failed(
                target,
                action.unwrap_or("reboot"),
                executor,
                start,
                format!("invalid cluster options: {e}"),
            )
        }
    };
    let (mut devs, bad) = devices(cfg);
    // Each device's own limit kills its agent's whole process group; cap it so that
    // happens before stonith-timeout (cancelling the future would leave children).
    for d in devs.values_mut() {
        d.timeout = d.timeout.min(timeout);
    }
    for b in &bad {
        tracing::warn!(device = %b.id, error = %b.error, "fence device is misconfigured");
    }
    let levels = levels_for(cfg, target);
    if devs.is_empty() {
        let mut why = "no fence device is configured".to_string();
        if !bad.is_empty() {
            let list: Vec<String> = bad
                .iter()
                .map(|b| format!("{}: {}", b.id, b.error))
                .collect();
            why = format!("no usable fence device ({})", list.join("; "));
        }
        return failed(target, &action, executor, start, why);
    }
    tracing::info!(node = target, op = %action, executor, levels = levels.len(), "fencing");
    // A device's pcmk_delay is not part of stonith-timeout (as in Pacemaker).
    let delay = max_delay(&devs, &action, target);
    let res = match tokio::time::timeout(
        timeout + delay + Duration::from_secs(2),
        topology::fence(target, &action, &levels, &devs),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => {
            let why = format!(
                "stonith-timeout ({} ms) expired before any fencing level succeeded",
                timeout.as_millis()
            );
            tracing::warn!(node = target, op = %action, executor, "{why}");
            return failed(target, &action, executor, start, why);
        }
    };
    let mut runs = Vec::new();
    for l in &res.levels {
        for d in &l.devices {
            let last = d.outcome.as_ref().and_then(|o| o.runs.last());
            let output = last
                .map(|r| {
                    let mut s = r.stdout.clone();
                    if !r.stderr.is_empty() {
                        if !s.is_empty() && !s.ends_with('\n') {
                            s.push('\n');
                        }
                        s.push_str(&r.stderr);
                    }
                    s
                })
                .unwrap_or_default();
            let duration = d
                .outcome
                .as_ref()
                .map(|o| o.runs.iter().map(|r| r.duration).sum())
                .unwrap_or_default();
            let rc = match d.outcome.as_ref().map(|o| &o.result) {
                Some(AgentResult::TimedOut) | Some(AgentResult::CouldNotRun(_)) => None,
                _ => last.and_then(|r| r.exit_code),
            };
            runs.push(DeviceRun {
                device: d.device.clone(),
                agent: devs
                    .get(&d.device)
                    .map(|x| x.agent.clone())
                    .unwrap_or_default(),
                action: d
                    .outcome
                    .as_ref()
                    .map(|o| o.action.clone())
                    .unwrap_or_else(|| d.action.clone()),
                plug: d.plug.clone(),
                level: l.index,
                ok: d.ok,
                rc,
                message: d.message.clone(),
                output,
                duration,
                executor: executor.to_string(),
            });
        }
    }
    let outcome = ClusterFenceOutcome {
        target: target.to_string(),
        action: action.clone(),
        ok: res.ok,
        level: res.level,
        summary: res.summary(),
        devices: runs,
        executor: executor.to_string(),
        duration: start.elapsed(),
    };
    if outcome.ok {
        tracing::info!(node = target, op = %action, executor, summary = %outcome.summary, "fenced");
    } else {
        tracing::warn!(node = target, op = %action, executor, summary = %outcome.summary, "fencing failed");
    }
    outcome
}

/// The longest delay any of `devs` may wait before `action` against `target`.
pub fn max_delay(devs: &BTreeMap<String, FenceDevice>, action: &str, target: &str) -> Duration {
    devs.values()
        .map(|d| d.delay_bounds(action, target).1)
        .max()
        .unwrap_or_default()
}

fn failed(
    target: &str,
    action: &str,
    executor: &str,
    start: Instant,
    why: String,
) -> ClusterFenceOutcome {
    ClusterFenceOutcome {
        target: target.to_string(),
        action: action.to_string(),
        ok: false,
        level: None,
        summary: format!("{action} of {target} failed: {why}"),
        devices: Vec::new(),
        executor: executor.to_string(),
        duration: start.elapsed(),
    }
}

/// A fencer bound to a CIB source and the local node: `(target, action)` → outcome.
/// An empty action means `stonith-action`.
pub type ClusterFencer = Arc<
    dyn Fn(String, String) -> Pin<Box<dyn Future<Output = ClusterFenceOutcome> + Send>>
        + Send
        + Sync,
>;

/// Builds a [`ClusterFencer`] that reads the configuration from `cib` at every call
/// (so device and topology changes apply to the next fencing) and runs the devices
/// on `executor_node`.
pub fn fencer(
    cib: impl Fn() -> Configuration + Send + Sync + 'static,
    executor_node: String,
) -> ClusterFencer {
    let cib = Arc::new(cib);
    Arc::new(move |target: String, action: String| {
        let cfg = cib();
        let executor = executor_node.clone();
        Box::pin(async move {
            let action = (!action.is_empty()).then_some(action);
            fence_node(&cfg, &target, action.as_deref(), &executor).await
        })
    })
}

/// Why a stonith device's health check did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MonitorError {
    /// The device's definition is broken (bad parameters, unknown agent…).
    #[error("stonith device {id} is misconfigured: {error}")]
    Misconfigured { id: String, error: String },
    /// No such device, or it is disabled.
    #[error("no enabled stonith device {id} in the configuration")]
    NotConfigured { id: String },
    /// The agent's monitor ran and failed: its one-line summary, with its last words.
    #[error("{summary}")]
    Failed { summary: String },
}

/// Runs the health check of stonith device `id` as `cfg` defines it: the agent's
/// `monitor` action (for `fence_hactl_xvm`, in-process: its list + status of every
/// mapped domain). Bounded by `timeout` (or the device's own timeout if shorter).
/// `Ok` carries the one-line summary with the agent's last words.
pub async fn monitor_device(
    cfg: &Configuration,
    id: &str,
    timeout: Duration,
) -> Result<String, MonitorError> {
    let (mut ok, bad) = devices(cfg);
    if let Some(b) = bad.into_iter().find(|b| b.id == id) {
        return Err(MonitorError::Misconfigured {
            id: b.id,
            error: b.error,
        });
    }
    let Some(mut dev) = ok.remove(id) else {
        return Err(MonitorError::NotConfigured { id: id.to_string() });
    };
    if !timeout.is_zero() {
        dev.timeout = dev.timeout.min(timeout);
    }
    let out = dev.run("monitor", None).await;
    let summary = format!("{id}: {}", out.summary());
    if out.succeeded() {
        Ok(summary)
    } else {
        Err(MonitorError::Failed { summary })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hactl_model::{AgentSpec, FencingLevel, Node, Primitive};
    use std::path::PathBuf;

    fn fixture() -> String {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/agents/fence_fixture")
            .to_string_lossy()
            .into_owned()
    }

    fn stonith(id: &str, agent: &str, params: &[(&str, &str)]) -> Resource {
        Resource::Primitive(Primitive {
            id: id.into(),
            agent: AgentSpec {
                class: "stonith".into(),
                provider: None,
                kind: agent.into(),
            },
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        })
    }

    fn cfg(resources: Vec<Resource>) -> Configuration {
        Configuration {
            nodes: ["n1", "n2", "n3"]
                .iter()
                .map(|n| Node {
                    id: n.to_string(),
                    name: n.to_string(),
                    ..Default::default()
                })
                .collect(),
            resources,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn runs_the_device_that_covers_the_target_with_its_plug() {
        let fx = fixture();
        let c = cfg(vec![
            stonith(
                "a-other",
                &fx,
                &[
                    ("pcmk_host_map", "n2:dom2"),
                    ("mode", "exit"),
                    ("code", "1"),
                ],
            ),
            stonith(
                "b-mine",
                &fx,
                &[("pcmk_host_map", "n1:dom1;n3:dom3"), ("mode", "echo")],
            ),
        ]);
        let out = fence_node(&c, "n1", Some("off"), "n2").await;
        assert!(out.ok, "{}", out.summary);
        // a-other does not cover n1: it is not an attempt.
        assert_eq!(out.devices.len(), 1);
        let d = &out.devices[0];
        assert_eq!(d.device, "b-mine");
        assert_eq!(d.agent, fx);
        assert_eq!(d.action, "off");
        assert_eq!(d.rc, Some(0));
        assert_eq!(d.executor, "n2");
        assert_eq!(d.plug.as_deref(), Some("dom1"));
        // The echo agent prints its stdin: the plug and action it was given.
        assert!(d.output.contains("port=dom1"), "{}", d.output);
        assert!(d.output.contains("action=off"), "{}", d.output);
        let ev = out.to_event(77, "controller");
        assert!(ev.ok);
        assert_eq!(ev.devices, ["b-mine"]);
        assert_eq!(ev.executor, "n2");
    }

    #[tokio::test]
    async fn device_monitor_runs_the_agent_and_reports_its_failure() {
        let fx = fixture();
        let c = cfg(vec![
            stonith("good", &fx, &[("pcmk_host_list", "n1"), ("mode", "echo")]),
            stonith(
                "broken",
                &fx,
                &[
                    ("pcmk_host_list", "n1"),
                    ("mode", "exit"),
                    ("code", "1"),
                    ("pcmk_retries", "0"),
                ],
            ),
        ]);
        let ok = monitor_device(&c, "good", Duration::from_secs(10))
            .await
            .unwrap();
        assert!(ok.contains("monitor succeeded"), "{ok}");
        let err = monitor_device(&c, "broken", Duration::from_secs(10))
            .await
            .unwrap_err();
        let MonitorError::Failed { summary } = &err else {
            panic!("{err:?}");
        };
        assert!(summary.contains("failed (exit 1)"), "{summary}");
        assert!(summary.contains("exiting 1"), "{summary}");
        let err = monitor_device(&c, "gone", Duration::from_secs(10))
            .await
            .unwrap_err();
        assert_eq!(err, MonitorError::NotConfigured { id: "gone".into() });
        assert!(
            err.to_string().contains("no enabled stonith device gone"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn default_action_is_the_stonith_action_property() {
        let mut c = cfg(vec![stonith(
            "f",
            &fixture(),
            &[("pcmk_host_list", "n1"), ("mode", "echo")],
        )]);
        c.properties.insert("stonith-action".into(), "off".into());
        let f = fencer(move || c.clone(), "n3".into());
        let out = f("n1".into(), String::new()).await;
        assert!(out.ok);
        assert_eq!(out.action, "off");
        assert!(out.devices[0].output.contains("action=off"));
    }

    #[tokio::test]
    async fn levels_in_order_and_failures_explained() {
        let fx = fixture();
        let mut c = cfg(vec![
            stonith(
                "broken",
                &fx,
                &[
                    ("pcmk_host_list", "n1"),
                    ("mode", "exit"),
                    ("code", "1"),
                    ("pcmk_retries", "0"),
                ],
            ),
            stonith("good", &fx, &[("pcmk_host_list", "n1"), ("mode", "echo")]),
        ]);
        for (i, d) in [(1, "broken"), (2, "good")] {
            c.fencing_levels.push(FencingLevel {
                id: format!("l{i}"),
                target: "n1".into(),
                index: i,
                devices: vec![d.into()],
            });
        }
        let out = fence_node(&c, "n1", Some("reboot"), "n2").await;
        assert!(out.ok, "{}", out.summary);
        assert_eq!(out.level, Some(2));
        let seq: Vec<(&str, bool, Option<i32>)> = out
            .devices
            .iter()
            .map(|d| (d.device.as_str(), d.ok, d.rc))
            .collect();
        assert_eq!(seq, [("broken", false, Some(1)), ("good", true, Some(0))]);

        // Only the broken level: fencing fails and the summary names the device.
        c.fencing_levels.pop();
        let out = fence_node(&c, "n1", Some("reboot"), "n2").await;
        assert!(!out.ok);
        assert!(out.summary.contains("broken"), "{}", out.summary);
        assert!(!out.to_event(1, "controller").ok);

        // A node no device covers.
        let out = fence_node(&c, "n3", None, "n2").await;
        assert!(!out.ok);
        assert!(
            out.summary.contains("no fence device can fence"),
            "{}",
            out.summary
        );
    }

    #[tokio::test]
    async fn stonith_timeout_bounds_the_whole_operation() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let mut c = cfg(vec![stonith(
            "slow",
            &fixture(),
            &[
                ("pcmk_host_list", "n1"),
                ("mode", "hang"),
                ("pidfile", pidfile.to_str().unwrap()),
            ],
        )]);
        c.properties.insert("stonith-timeout".into(), "1s".into());
        let t = Instant::now();
        let out = fence_node(&c, "n1", Some("off"), "n2").await;
        assert!(!out.ok);
        assert!(out.summary.contains("slow"), "{}", out.summary);
        // The agent's process group was killed, background children included.
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // Gone, or a zombie waiting for its (new) parent to reap it.
        let running = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| {
                    !s.rsplit(')')
                        .next()
                        .unwrap_or("")
                        .trim_start()
                        .starts_with('Z')
                })
                .unwrap_or(false)
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while running() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(!running(), "the hung agent's child {pid} was left running");
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "bounded: {:?}",
            t.elapsed()
        );
    }

    #[tokio::test]
    async fn disabled_broken_and_missing_devices() {
        let c = cfg(vec![]);
        let out = fence_node(&c, "n1", None, "n2").await;
        assert!(!out.ok);
        assert!(out.summary.contains("no fence device is configured"));

        let mut c = cfg(vec![stonith(
            "bad",
            "fence_xvm",
            &[("pcmk_host_map", "n1")],
        )]);
        let out = fence_node(&c, "n1", None, "n2").await;
        assert!(
            out.summary.contains("bad: pcmk_host_map"),
            "{}",
            out.summary
        );

        c.resources = vec![stonith(
            "off",
            &fixture(),
            &[("pcmk_host_list", "n1"), ("mode", "echo")],
        )];
        if let Resource::Primitive(p) = &mut c.resources[0] {
            p.meta.insert("target-role".into(), "Stopped".into());
        }
        assert!(devices(&c).0.is_empty(), "a disabled device is not used");
    }

    /// A `fence_hactl_xvm` device runs in-process; with a key file that does not exist
    /// it fails at once with a reason, and the key's path is all the output says.
    #[tokio::test]
    async fn fence_hactl_xvm_device_config() {
        let c = cfg(vec![stonith(
            "xvm",
            "fence_hactl_xvm",
            &[
                ("pcmk_host_map", "n1:node1;n2:node2"),
                ("key_file", "/nonexistent/hactl-test.key"),
                ("pcmk_retries", "0"),
            ],
        )]);
        let (devs, bad) = devices(&c);
        assert!(bad.is_empty());
        assert_eq!(static_targets(&c, &devs["xvm"]).unwrap(), ["n1", "n2"]);
        let out = fence_node(&c, "n2", Some("off"), "n1").await;
        assert!(!out.ok);
        assert_eq!(out.devices.len(), 1);
        assert_eq!(out.devices[0].agent, "fence_hactl_xvm");
        assert_eq!(out.devices[0].plug.as_deref(), Some("node2"));
        assert!(out.summary.contains("xvm"), "{}", out.summary);
    }
}
