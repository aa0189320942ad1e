//! In-process agents: `ocf:hactl:VIP` and `ocf:hactl:Dummy`, the project's own agents
//! from `agents/`, called as library functions instead of fork/exec.
//!
//! The VIP actions are a handful of syscalls (well under a millisecond), so they run
//! inline on the calling task: that is what puts the first gratuitous ARP on the wire
//! within a few milliseconds of the start request. The remaining announcements go out
//! from a tokio task afterwards. Dummy may sleep (`op_sleep`), so it runs on the
//! blocking pool under the op timeout; a timed-out in-process Dummy is reported as
//! timed out, but its thread cannot be killed and finishes its sleep.

use crate::config::ExecConfig;
use crate::types::{rc, AgentSpec, Class, ExecStatus, OpResult};
use crate::Params;
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

pub const PROVIDER: &str = "hactl";
pub const AGENTS: [&str; 2] = ["Dummy", "VIP"];

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
        _ => None,
    }
}

fn vip(action: &str, params: &Params, started_at: SystemTime, t0: Instant) -> OpResult {
    use hactl_agent_vip as v;
    let map: HashMap<String, String> = params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let done = |code: i32| OpResult::new(code, ExecStatus::Done, started_at, t0.elapsed());
    let fail = |e: v::VipError| done(e.rc()).with_reason(e.to_string());
    let p = match v::VipParams::parse(&map) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let background = |a: v::Announcer| {
        if a.remaining() == 0 {
            return;
        }
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
    };
    match action {
        "validate-all" => match v::resolve(&p) {
            Ok(_) => done(rc::SUCCESS),
            Err(e) => fail(e),
        },
        "start" => match v::start(&p) {
            Ok(a) => {
                let r = done(rc::SUCCESS);
                background(a);
                r
            }
            Err(e) => fail(e),
        },
        "stop" => match v::stop(&p) {
            Ok(()) => done(rc::SUCCESS),
            Err(e) => fail(e),
        },
        "monitor" | "status" => match v::monitor(&p) {
            Ok(v::MonitorResult::NotRunning) => done(rc::NOT_RUNNING),
            Ok(v::MonitorResult::Running(a)) => {
                let r = done(rc::SUCCESS);
                if let Some(a) = a {
                    background(a);
                }
                r
            }
            Err(e) => fail(e),
        },
        _ => {
            done(rc::ERR_UNIMPLEMENTED).with_reason(format!("action '{action}' is not implemented"))
        }
    }
}

pub(crate) async fn execute(
    cfg: &ExecConfig,
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
    match agent.kind.as_str() {
        "VIP" => vip(action, params, started_at, t0),
        _ => {
            let map: HashMap<String, String> =
                params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let (action_s, rsc_s, dir) = (action.to_string(), rsc.to_string(), cfg.rsctmp.clone());
            let job = tokio::task::spawn_blocking(move || {
                hactl_agent_dummy::run(&action_s, &rsc_s, &map, &dir)
            });
            match tokio::time::timeout(timeout, job).await {
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
                Ok(Err(e)) => {
                    OpResult::new(rc::ERR_GENERIC, ExecStatus::Error, started_at, t0.elapsed())
                        .with_reason(format!("in-process agent failed: {e}"))
                }
                Ok(Ok(o)) => {
                    let mut r = OpResult::new(o.rc, ExecStatus::Done, started_at, t0.elapsed());
                    r.exit_reason = o.exit_reason;
                    r.output = o.output;
                    r
                }
            }
        }
    }
}
