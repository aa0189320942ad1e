//! The LSB class: init scripts in `/etc/init.d` (configurable), run with `start`,
//! `stop` and `status`, and their exit codes mapped to OCF's.
//!
//! LSB `status` codes: 0 running, 1 dead with a pid file, 2 dead with a lock file,
//! 3 not running, 4 unknown. The first three all mean "not running" to a cluster
//! manager (OCF 7); 4 is an error. Start/stop codes 1–7 have the OCF meanings.

use crate::config::ExecConfig;
use crate::process;
use crate::types::{rc, AgentSpec, ExecStatus, OpResult};
use std::time::{Duration, SystemTime};

pub(crate) fn script_path(cfg: &ExecConfig, name: &str) -> std::path::PathBuf {
    cfg.initd_dir.join(name)
}

pub(crate) fn map_status(code: i32) -> i32 {
    match code {
        0 => rc::SUCCESS,
        1..=3 => rc::NOT_RUNNING,
        _ => rc::ERR_GENERIC,
    }
}

pub(crate) async fn execute(
    cfg: &ExecConfig,
    agent: &AgentSpec,
    action: &str,
    timeout: Duration,
) -> OpResult {
    let started_at = SystemTime::now();
    let path = script_path(cfg, &agent.kind);
    if !path.is_file() {
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
    let verb = match action {
        "monitor" | "status" => "status",
        "start" | "stop" | "restart" | "reload" | "force-reload" => action,
        "meta-data" | "validate-all" => {
            let mut r = OpResult::new(rc::SUCCESS, ExecStatus::Done, started_at, Duration::ZERO);
            if action == "meta-data" {
                r.output = crate::systemd::synthetic_metadata(&agent.kind, "LSB init script");
            }
            return r;
        }
        _ => {
            return OpResult::new(
                rc::ERR_UNIMPLEMENTED,
                ExecStatus::NotSupported,
                started_at,
                Duration::ZERO,
            )
            .with_reason(format!("lsb scripts have no '{action}' action"))
        }
    };
    let env = [
        ("PATH".to_string(), cfg.path.clone()),
        ("LANG".to_string(), "C".to_string()),
    ];
    match process::run(&path, &[verb], &env, timeout).await {
        Err(e) => OpResult::new(
            rc::ERR_GENERIC,
            ExecStatus::Error,
            started_at,
            Duration::ZERO,
        )
        .with_reason(format!("cannot run {}: {e}", path.display())),
        Ok(out) if out.timed_out => OpResult::new(
            rc::ERR_GENERIC,
            ExecStatus::Timeout,
            started_at,
            out.duration,
        )
        .with_reason(format!(
            "{action} timed out after {} ms",
            timeout.as_millis()
        )),
        Ok(out) => match out.code {
            None => OpResult::new(rc::ERR_GENERIC, ExecStatus::Error, started_at, out.duration)
                .with_reason(format!(
                    "script killed by signal {}",
                    out.signal.unwrap_or(0)
                )),
            Some(code) => {
                let mapped = if verb == "status" {
                    map_status(code)
                } else {
                    rc::from_exit(code)
                };
                let mut r = OpResult::new(mapped, ExecStatus::Done, started_at, out.duration);
                if mapped != rc::SUCCESS && mapped != rc::NOT_RUNNING {
                    let last = out
                        .stderr
                        .lines()
                        .chain(out.stdout.lines())
                        .rfind(|l| !l.trim().is_empty());
                    r.exit_reason = Some(format!(
                        "{verb} exited {code}{}",
                        last.map(|l| format!(": {}", l.trim())).unwrap_or_default()
                    ));
                }
                r.output = out.stdout;
                r
            }
        },
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn status_codes() {
        assert_eq!(super::map_status(0), 0);
        assert_eq!(super::map_status(3), 7);
        assert_eq!(super::map_status(1), 7);
        assert_eq!(super::map_status(4), 1);
    }
}
