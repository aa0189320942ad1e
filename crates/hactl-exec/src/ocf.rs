//! The OCF class: agents under `<OCF_ROOT>/resource.d/<provider>/<type>`.

use crate::config::ExecConfig;
use crate::process;
use crate::types::{rc, AgentSpec, ExecStatus, OpResult};
use crate::Params;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// Where an OCF agent's executable lives (provider directory overrides first).
pub fn agent_path(cfg: &ExecConfig, provider: &str, kind: &str) -> PathBuf {
    match cfg.provider_dirs.get(provider) {
        Some(dir) => dir.join(kind),
        None => cfg.ocf_root.join("resource.d").join(provider).join(kind),
    }
}

fn is_executable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

pub(crate) fn installed(cfg: &ExecConfig, provider: &str, kind: &str) -> bool {
    is_executable(&agent_path(cfg, provider, kind))
}

/// The environment an OCF agent gets, and nothing else.
pub(crate) fn environment(
    cfg: &ExecConfig,
    rsc: &str,
    agent: &AgentSpec,
    params: &Params,
    interval: Duration,
    timeout: Duration,
    check_level: Option<u32>,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("PATH".to_string(), cfg.path.clone()),
        ("LANG".into(), "C".into()),
        ("LC_ALL".into(), "C".into()),
        ("OCF_ROOT".into(), cfg.ocf_root.display().to_string()),
        ("OCF_RA_VERSION_MAJOR".into(), "1".into()),
        ("OCF_RA_VERSION_MINOR".into(), "1".into()),
        ("OCF_RESOURCE_INSTANCE".into(), rsc.to_string()),
        ("OCF_RESOURCE_TYPE".into(), agent.kind.clone()),
        ("HA_RSCTMP".into(), cfg.rsctmp.display().to_string()),
        (
            "OCF_RESKEY_CRM_meta_timeout".into(),
            timeout.as_millis().to_string(),
        ),
        (
            "OCF_RESKEY_CRM_meta_interval".into(),
            interval.as_millis().to_string(),
        ),
    ];
    if let Some(p) = &agent.provider {
        env.push(("OCF_RESOURCE_PROVIDER".into(), p.clone()));
    }
    if let Some(v) = &cfg.varrun {
        env.push(("HA_VARRUN".into(), v.display().to_string()));
    }
    if let Some(n) = &cfg.node_name {
        env.push(("OCF_RESKEY_CRM_meta_on_node".into(), n.clone()));
    }
    if let Some(d) = &cfg.sbin_dir {
        env.push(("HA_SBIN_DIR".into(), d.display().to_string()));
    }
    if let Some(s) = &cfg.client_socket {
        env.push(("HACTL_SOCKET".into(), s.display().to_string()));
    }
    if let Some(l) = check_level {
        env.push(("OCF_CHECK_LEVEL".into(), l.to_string()));
    }
    for (k, v) in params {
        env.push((format!("OCF_RESKEY_{k}"), v.clone()));
    }
    env
}

/// Runs one OCF action.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn execute(
    cfg: &ExecConfig,
    rsc: &str,
    agent: &AgentSpec,
    params: &Params,
    action: &str,
    interval: Duration,
    timeout: Duration,
    check_level: Option<u32>,
) -> OpResult {
    let started_at = SystemTime::now();
    let provider = agent.provider.as_deref().unwrap_or("heartbeat");
    let path = agent_path(cfg, provider, &agent.kind);
    if !is_executable(&path) {
        return OpResult::new(
            rc::ERR_INSTALLED,
            ExecStatus::NotInstalled,
            started_at,
            Duration::ZERO,
        )
        .with_reason(format!(
            "agent {agent} is not installed ({} not found)",
            path.display()
        ));
    }
    let env = environment(cfg, rsc, agent, params, interval, timeout, check_level);
    match process::run(&path, &[action], &env, timeout).await {
        Err(e) => OpResult::new(
            rc::ERR_GENERIC,
            ExecStatus::Error,
            started_at,
            Duration::ZERO,
        )
        .with_reason(format!("cannot run {}: {e}", path.display())),
        Ok(out) => {
            let mut r = if out.timed_out {
                OpResult::new(
                    rc::ERR_GENERIC,
                    ExecStatus::Timeout,
                    started_at,
                    out.duration,
                )
                .with_reason(format!(
                    "{action} timed out after {} ms",
                    timeout.as_millis()
                ))
            } else if let Some(code) = out.code {
                let mut r = OpResult::new(
                    rc::from_exit(code),
                    ExecStatus::Done,
                    started_at,
                    out.duration,
                );
                r.exit_reason = process::exit_reason(&out.stderr);
                if action == "validate-all" && code != 0 {
                    r.exit_reason = validation_reason(r.exit_reason.take(), &out.stderr);
                }
                r
            } else {
                OpResult::new(rc::ERR_GENERIC, ExecStatus::Error, started_at, out.duration)
                    .with_reason(format!(
                        "agent killed by signal {}",
                        out.signal.unwrap_or(0)
                    ))
            };
            r.output = out.stdout;
            r
        }
    }
}

/// validate-all's explanation: its exit reason plus the errors it logged, since
/// agents often say what is wrong only in the log (IPaddr2: "IP address [..] not
/// valid." logged, "[findif] failed" as the exit reason).
fn validation_reason(exit_reason: Option<String>, stderr: &str) -> Option<String> {
    let logged: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.split_once("ERROR:").map(|(_, e)| e.trim()))
        .filter(|e| !e.is_empty())
        .collect();
    match (exit_reason, logged.is_empty()) {
        (r, true) => r,
        (None, false) => Some(logged.join("; ")),
        (Some(r), false) => Some(format!("{r} ({})", logged.join("; "))),
    }
}
