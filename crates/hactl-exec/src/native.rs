//! In-process agents: `ocf:hactl:VIP`, `ocf:hactl:ipvs` and `ocf:hactl:Dummy`, the
//! project's own agents from `agents/`, called as library functions instead of
//! fork/exec.
//!
//! The VIP actions are a handful of syscalls (well under a millisecond), so they run
//! inline on the calling task: that is what puts the first gratuitous ARP on the wire
//! within a few milliseconds of the start request. The remaining announcements go out
//! from a tokio task afterwards. Dummy may sleep (`op_sleep`), so it runs on the
//! blocking pool under the op timeout; a timed-out in-process Dummy is reported as
//! timed out, but its thread cannot be killed and finishes its sleep. ipvs makes one
//! netlink round trip per real server, so it runs on the blocking pool too; what it
//! changed in the kernel's table is logged, and its real servers' health checks run
//! here ([`crate::ipvs_health`]).

use crate::config::ExecConfig;
use crate::ipvs_health::Registry;
use crate::types::{rc, AgentSpec, Class, ExecStatus, OpResult};
use crate::Params;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub const PROVIDER: &str = "hactl";
pub const AGENTS: [&str; 4] = ["Dummy", "VIP", "ipvs", "lvs-realserver"];

pub(crate) fn is_native(cfg: &ExecConfig, agent: &AgentSpec) -> bool {
    cfg.native_hactl
        && agent.class == Class::Ocf
        && agent.provider.as_deref() == Some(PROVIDER)
        && AGENTS.contains(&agent.kind.as_str())
}

pub fn metadata_xml(kind: &str) -> Option<&'static str> {
    match kind {
        "VIP" => Some(hactl_agent_vip::meta_data()),
        "Dummy" => Some(hactl_agent_dummy::meta_data()),
        "ipvs" => Some(hactl_agent_ipvs::meta_data()),
        "lvs-realserver" => Some(hactl_agent_ipvs::realserver::meta_data()),
        _ => None,
    }
}

fn vip(action: &str, params: &Params, started_at: SystemTime, t0: Instant) -> OpResult {
    let map: HashMap<String, String> = params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    // The same entry point as the agent's executable: one place checks parameters.
    let out = hactl_agent_vip::run(action, &map);
    let mut r = OpResult::new(out.rc, ExecStatus::Done, started_at, t0.elapsed());
    r.exit_reason = out.exit_reason;
    if let Some(a) = out.announcer.filter(|a| a.remaining() > 0) {
        tokio::spawn(async move {
            let mut a = a;
            while a.remaining() > 0 {
                tokio::time::sleep(a.interval()).await;
                // Never announce an address that was removed meanwhile (stop/failover).
                if !a.still_owned() || a.send_next().is_err() {
                    break;
                }
            }
        });
    }
    r
}

/// Runs a blocking in-process agent action on the blocking pool, bounded by the op's
/// timeout (the thread itself cannot be stopped; it finishes on its own).
async fn blocking(
    action: &str,
    timeout: Duration,
    job: impl FnOnce() -> OpResult + Send + 'static,
) -> OpResult {
    let started_at = SystemTime::now();
    let t0 = Instant::now();
    match tokio::time::timeout(timeout, tokio::task::spawn_blocking(job)).await {
        Err(_) => OpResult::new(
            rc::ERR_GENERIC,
            ExecStatus::Timeout,
            started_at,
            t0.elapsed(),
        )
        .with_reason(format!(
            "{action} timed out after {} ms",
            timeout.as_millis()
        )),
        Ok(Err(e)) => OpResult::new(rc::ERR_GENERIC, ExecStatus::Error, started_at, t0.elapsed())
            .with_reason(format!("in-process agent failed: {e}")),
        Ok(Ok(mut r)) => {
            (r.started_at, r.duration) = (started_at, t0.elapsed());
            r
        }
    }
}

/// `ocf:hactl:ipvs`: the agent's action with the daemon's view of real-server health,
/// under the service's table lock; the health checker follows the resource (started
/// with it, restarted on reload, found again by a monitor after a daemon restart,
/// stopped before the service is deleted).
async fn ipvs(
    health: &Arc<Registry>,
    rsc: &str,
    action: &str,
    map: HashMap<String, String>,
    timeout: Duration,
) -> OpResult {
    if action == "stop" {
        health.stop(rsc);
    }
    let guard = health.table_lock(rsc).await;
    let down = health.down(rsc);
    let (rsc_s, action_s) = (rsc.to_string(), action.to_string());
    let params = map.clone();
    let r = blocking(action, timeout, move || {
        let _held = guard; // until the netlink work is done
        let out = hactl_agent_ipvs::run_with_health(&action_s, &params, |r| {
            down.contains(&(r.addr, r.port))
        });
        for step in &out.steps {
            tracing::info!(resource = %rsc_s, op = %action_s, change = %step, "ipvs table changed");
        }
        for note in &out.notes {
            tracing::warn!(resource = %rsc_s, op = %action_s, "{note}");
        }
        done(out.rc, out.exit_reason, String::new())
    })
    .await;
    let restart = matches!(action, "start" | "reload" | "reload-agent")
        || (matches!(action, "monitor" | "status") && !health.is_running(rsc));
    if r.rc == rc::SUCCESS && restart {
        if let Ok(cfg) = hactl_agent_ipvs::IpvsConfig::parse(&map) {
            health.start(rsc, cfg);
        }
    }
    r
}

/// A finished in-process action (times are filled in by [`blocking`]).
fn done(rc: i32, exit_reason: Option<String>, output: String) -> OpResult {
    let mut r = OpResult::new(rc, ExecStatus::Done, SystemTime::now(), Duration::ZERO);
    r.exit_reason = exit_reason;
    r.output = output;
    r
}

pub(crate) async fn execute(
    cfg: &ExecConfig,
    health: &Arc<Registry>,
    rsc: &str,
    agent: &AgentSpec,
    params: &Params,
    action: &str,
    timeout: Duration,
) -> OpResult {
    let started_at = SystemTime::now();
    let t0 = Instant::now();
    if action == "meta-data" {
        let mut r = OpResult::new(rc::SUCCESS, ExecStatus::Done, started_at, Duration::ZERO);
        r.output = metadata_xml(&agent.kind).unwrap_or_default().to_string();
        return r;
    }
    let map: HashMap<String, String> = params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    match agent.kind.as_str() {
        "VIP" => vip(action, params, started_at, t0),
        "ipvs" => ipvs(health, rsc, action, map, timeout).await,
        kind => {
            let (action_s, rsc_s, dir) = (action.to_string(), rsc.to_string(), cfg.rsctmp.clone());
            let kind = kind.to_string();
            blocking(action, timeout, move || match kind.as_str() {
                "lvs-realserver" => {
                    let o = hactl_agent_ipvs::realserver::run(&action_s, &rsc_s, &map, &dir);
                    done(o.rc, o.exit_reason, String::new())
                }
                _ => {
                    let o = hactl_agent_dummy::run(&action_s, &rsc_s, &map, &dir);
                    done(o.rc, o.exit_reason, o.output)
                }
            })
            .await
        }
    }
}
