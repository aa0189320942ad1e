//! `fence_hactl_xvm` run in-process: the same parameters, actions, output and exit
//! codes as the executable, without starting a process (the fencer's fast path).

use super::client::{Client, PowerState, XvmError};
use super::options::{Action, SetOutcome, XvmOptions, METADATA};
use crate::agent_api::{AgentOutcome, AgentResult, AgentRun};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The agent name that selects this path.
pub const AGENT_NAME: &str = "fence_hactl_xvm";

/// Runs `action` like `fence_hactl_xvm` would with these stdin parameters. `plug` is
/// the target; for `monitor`, `monitor_domains` are checked to be known and answer.
/// Failed runs are retried while `timeout` allows, like external agents.
pub async fn run(
    params: &BTreeMap<String, String>,
    action: &str,
    plug: Option<&str>,
    monitor_domains: &[String],
    timeout: Duration,
    retries: u32,
) -> AgentOutcome {
    let deadline = Instant::now() + timeout;
    let mut runs = Vec::new();
    let mut attempt = 0;
    let result = loop {
        attempt += 1;
        let start = Instant::now();
        let left = deadline.saturating_duration_since(start);
        let once = tokio::time::timeout(left, once(params, action, plug, monitor_domains)).await;
        let (result, code, stdout, stderr) = match once {
            Ok(Ok((code, stdout))) => {
                let r = match code {
                    0 => AgentResult::Success,
                    2 => AgentResult::Off,
                    c => AgentResult::Failed { exit_code: Some(c) },
                };
                (r, Some(code), stdout, String::new())
            }
            Ok(Err(Problem::Usage(msg))) => {
                runs.push(run_record(
                    attempt,
                    Some(1),
                    false,
                    msg.clone(),
                    String::new(),
                    start,
                ));
                break AgentResult::CouldNotRun(msg);
            }
            Ok(Err(e)) => {
                let (code, out) = match e {
                    Problem::Xvm(XvmError::PermissionDenied { .. }) => (3, "Permission denied\n"),
                    _ => (1, "Operation failed\n"),
                };
                (
                    AgentResult::Failed {
                        exit_code: Some(code),
                    },
                    Some(code),
                    out.to_string(),
                    format!("{AGENT_NAME}: {e}\n"),
                )
            }
            Err(_) => {
                runs.push(run_record(
                    attempt,
                    None,
                    true,
                    String::new(),
                    String::new(),
                    start,
                ));
                break AgentResult::TimedOut;
            }
        };
        runs.push(run_record(attempt, code, false, stdout, stderr, start));
        let retry = matches!(result, AgentResult::Failed { .. })
            && attempt <= retries
            && Instant::now() < deadline;
        if !retry {
            break result;
        }
    };
    AgentOutcome {
        action: action.to_string(),
        result,
        runs,
    }
}

fn run_record(
    attempt: u32,
    exit_code: Option<i32>,
    timed_out: bool,
    stdout: String,
    stderr: String,
    start: Instant,
) -> AgentRun {
    AgentRun {
        attempt,
        exit_code,
        signal: None,
        timed_out,
        stdout,
        stderr,
        duration: start.elapsed(),
        spawn_error: None,
    }
}

/// Why an in-process run did not produce an exit code.
#[derive(Debug)]
pub enum Problem {
    /// Bad parameters (the agent would exit 1 without touching the network).
    Usage(String),
    /// The exchange with fence_virtd failed.
    Xvm(XvmError),
    /// fence_virtd answered, but the health check found a problem.
    Check(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Usage(m) | Problem::Check(m) => f.write_str(m),
            Problem::Xvm(e) => write!(f, "{e}"),
        }
    }
}

impl From<XvmError> for Problem {
    fn from(e: XvmError) -> Self {
        Problem::Xvm(e)
    }
}

async fn once(
    params: &BTreeMap<String, String>,
    action: &str,
    plug: Option<&str>,
    monitor_domains: &[String],
) -> Result<(i32, String), Problem> {
    let mut opts = XvmOptions::default();
    for (k, v) in params {
        // The fencer names the action and target itself.
        if matches!(k.as_str(), "action" | "option" | "port" | "plug" | "domain") {
            continue;
        }
        match opts.set(k, v) {
            Ok(SetOutcome::Unknown) => {
                tracing::debug!(param = %k, "ignoring unknown fence_hactl_xvm parameter")
            }
            Ok(_) => {}
            Err(e) => return Err(Problem::Usage(e.to_string())),
        }
    }
    opts.action = Action::parse(action)
        .ok_or_else(|| Problem::Usage(format!("unknown action {action:?}")))?;
    execute(&opts, plug.unwrap_or(""), monitor_domains).await
}

/// Performs `opts.action` on `domain` as `fence_hactl_xvm` does: returns the exit
/// code and what it prints on stdout.
pub async fn execute(
    opts: &XvmOptions,
    domain: &str,
    monitor_domains: &[String],
) -> Result<(i32, String), Problem> {
    if opts.action == Action::Metadata {
        return Ok((0, METADATA.to_string()));
    }
    if opts.action.needs_domain() && domain.is_empty() {
        return Err(Problem::Usage("No domain specified!".into()));
    }
    let client = Client::new(
        opts.client_config()
            .map_err(|e| Problem::Usage(e.to_string()))?,
    )?;
    if opts.action == Action::ValidateAll {
        return Ok((0, String::new()));
    }
    if matches!(opts.action, Action::Off | Action::On | Action::Reboot) && opts.delay > 0 {
        tokio::time::sleep(Duration::from_secs(u64::from(opts.delay))).await;
    }
    Ok(match opts.action {
        Action::Status => match client.status(domain).await? {
            PowerState::On => (0, "Status: ON\n".into()),
            PowerState::Off => (2, "Status: OFF\n".into()),
        },
        Action::Off => client.off(domain).await.map(|_| (0, String::new()))?,
        Action::On => client.on(domain).await.map(|_| (0, String::new()))?,
        Action::Reboot => client.reboot(domain).await.map(|_| (0, String::new()))?,
        Action::Null => {
            let r = client.request(super::Op::Null, domain).await?;
            let ok = r.code == super::proto::ResultCode::Success;
            (if ok { 0 } else { 1 }, String::new())
        }
        Action::List | Action::ListStatus => {
            let hosts = client.list().await?;
            let mut out = String::new();
            for h in hosts {
                out.push_str(&h.list_line());
                out.push('\n');
            }
            (0, out)
        }
        Action::Monitor => {
            let hosts = client.list().await?;
            for d in monitor_domains {
                if !hosts.iter().any(|h| &h.name == d || &h.uuid == d) {
                    return Err(Problem::Check(format!(
                        "domain {d:?} is not known to fence_virtd"
                    )));
                }
                client.status(d).await?;
            }
            (0, String::new())
        }
        Action::Metadata | Action::ValidateAll => (0, String::new()),
    })
}
