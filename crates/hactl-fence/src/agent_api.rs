//! Running external fence agents per the FenceAgentAPI: `name=value` lines on stdin
//! (including `action=`, the target as `port=` or `plug=`, and `nodename=`), exit
//! code 0 for success (and "on" for status), 2 for "off" from status, anything else a
//! failure. Each run is bounded by a timeout (the agent's whole process group is
//! killed), failed runs are retried within the time budget, and every run's output is
//! kept for the fencing history.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Output kept per stream and run; the rest is dropped.
const MAX_OUTPUT: usize = 64 * 1024;

/// Where fence agents are looked for, in order (plus the directory of the running
/// executable, so `fence_hactl_xvm` next to `hactl` is found).
pub const AGENT_DIRS: &[&str] = &["/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin"];

/// A bad request to run an agent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AgentError {
    #[error("{0:?} is not a fence agent name (expected fence_*, no '/')")]
    BadName(String),
    #[error("fence agent {0} is not installed (looked in {1})")]
    NotFound(String, String),
    #[error("parameter {0:?} has a value with a line break; agents read one name=value per line")]
    BadValue(String),
    #[error("parameter name {0:?} is not a plain word")]
    BadParamName(String),
}

fn agent_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = AGENT_DIRS.iter().map(PathBuf::from).collect();
    if let Some(d) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        dirs.push(d);
    }
    dirs
}

fn valid_agent_name(name: &str) -> bool {
    name.starts_with("fence_")
        && name.len() > 6
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

/// Finds an installed agent by name (`fence_xvm`) or takes an absolute path.
pub fn resolve_agent(name: &str) -> Result<PathBuf, AgentError> {
    let p = Path::new(name);
    if p.is_absolute() {
        let file = p.file_name().and_then(|f| f.to_str()).unwrap_or("");
        if !valid_agent_name(file) {
            return Err(AgentError::BadName(name.into()));
        }
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(AgentError::NotFound(name.into(), "that path".into()))
        };
    }
    if !valid_agent_name(name) {
        return Err(AgentError::BadName(name.into()));
    }
    let dirs = agent_dirs();
    dirs.iter()
        .map(|d| d.join(name))
        .find(|c| is_executable(c))
        .ok_or_else(|| {
            AgentError::NotFound(
                name.into(),
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Installed fence agents (`fence_*` executables), sorted, like `stonith_admin -I`.
pub fn list_agents() -> Vec<(String, PathBuf)> {
    let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
    for d in agent_dirs() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            // fence_virtd is the hypervisor daemon, not an agent.
            if valid_agent_name(&name) && name != "fence_virtd" && is_executable(&e.path()) {
                found.entry(name).or_insert_with(|| e.path());
            }
        }
    }
    found.into_iter().collect()
}

/// One agent invocation to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentCommand {
    pub agent: PathBuf,
    pub action: String,
    /// Device parameters, sent as `name=value` lines.
    pub params: BTreeMap<String, String>,
    /// The target's name at the device, sent as `target_param=plug`.
    pub plug: Option<String>,
    /// `port` or `plug` (see [`crate::metadata::target_parameter`]).
    pub target_param: &'static str,
    /// The cluster node being fenced, sent as `nodename=`.
    pub nodename: Option<String>,
    /// Time limit for all attempts together.
    pub timeout: Duration,
    /// Extra attempts after a failed one, while time is left.
    pub retries: u32,
}

impl AgentCommand {
    pub fn new(agent: PathBuf, action: &str) -> AgentCommand {
        AgentCommand {
            agent,
            action: action.to_string(),
            params: BTreeMap::new(),
            plug: None,
            target_param: "port",
            nodename: None,
            timeout: Duration::from_secs(60),
            retries: 2,
        }
    }

    /// The stdin text.
    pub fn stdin_text(&self) -> Result<String, AgentError> {
        let mut s = format!("action={}\n", self.action);
        let mut line = |k: &str, v: &str| -> Result<(), AgentError> {
            if v.contains(['\n', '\r']) {
                return Err(AgentError::BadValue(k.into()));
            }
            if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(AgentError::BadParamName(k.into()));
            }
            s.push_str(k);
            s.push('=');
            s.push_str(v);
            s.push('\n');
            Ok(())
        };
        for (k, v) in &self.params {
            // The fencer sets these itself; a device parameter must not override them.
            if matches!(k.as_str(), "action" | "port" | "plug" | "nodename") {
                continue;
            }
            line(k, v)?;
        }
        if let Some(p) = &self.plug {
            line(self.target_param, p)?;
        }
        if let Some(n) = &self.nodename {
            line("nodename", n)?;
        }
        Ok(s)
    }
}

/// What one run of the agent did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentRun {
    pub attempt: u32,
    pub exit_code: Option<i32>,
    /// Set if the agent died of a signal (also after we killed it).
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    pub duration: Duration,
    /// Why the agent could not be started at all.
    pub spawn_error: Option<String>,
}

/// The overall result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentResult {
    /// Exit 0 (for status: the target is on).
    Success,
    /// Exit 2 from status/monitor: the target is off.
    Off,
    Failed {
        exit_code: Option<i32>,
    },
    TimedOut,
    CouldNotRun(String),
}

/// Result plus every run, kept for the fencing history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentOutcome {
    pub action: String,
    pub result: AgentResult,
    pub runs: Vec<AgentRun>,
}

impl AgentOutcome {
    pub fn succeeded(&self) -> bool {
        self.result == AgentResult::Success
    }

    /// The last run's stdout (what `list` printed, for example).
    pub fn stdout(&self) -> &str {
        self.runs.last().map(|r| r.stdout.as_str()).unwrap_or("")
    }

    /// One line saying what happened, with the agent's own last words.
    pub fn summary(&self) -> String {
        let last = self.runs.last();
        let said = last
            .map(|r| {
                let t = if r.stderr.trim().is_empty() {
                    r.stdout.trim()
                } else {
                    r.stderr.trim()
                };
                t.lines().last().unwrap_or("").to_string()
            })
            .unwrap_or_default();
        let what = match &self.result {
            AgentResult::Success => "succeeded".to_string(),
            AgentResult::Off => "reports off".to_string(),
            AgentResult::Failed { exit_code } => match exit_code {
                Some(c) => format!("failed (exit {c})"),
                None => "failed (killed by a signal)".to_string(),
            },
            AgentResult::TimedOut => "timed out".to_string(),
            AgentResult::CouldNotRun(e) => format!("could not run: {e}"),
        };
        let n = self.runs.len();
        let mut s = format!(
            "{} {what} after {n} attempt{}",
            self.action,
            if n == 1 { "" } else { "s" }
        );
        if !said.is_empty() {
            s.push_str(": ");
            s.push_str(&said);
        }
        s
    }
}

/// Runs the agent: retries failures while time is left; a run still going when the
/// time is up is killed with its whole process group.
pub async fn run(cmd: &AgentCommand) -> AgentOutcome {
    let mut runs = Vec::new();
    let input = match cmd.stdin_text() {
        Ok(s) => s,
        Err(e) => {
            return AgentOutcome {
                action: cmd.action.clone(),
                result: AgentResult::CouldNotRun(e.to_string()),
                runs,
            }
        }
    };
    let deadline = Instant::now() + cmd.timeout;
    let mut attempt = 0;
    let result = loop {
        attempt += 1;
        let left = deadline.saturating_duration_since(Instant::now());
        let r = run_once(cmd, &input, attempt, left).await;
        let result = classify(&cmd.action, &r);
        tracing::debug!(
            agent = %cmd.agent.display(),
            action = %cmd.action,
            plug = cmd.plug.as_deref().unwrap_or(""),
            attempt,
            exit = ?r.exit_code,
            timed_out = r.timed_out,
            "fence agent run"
        );
        runs.push(r);
        let retryable = matches!(result, AgentResult::Failed { .. });
        if !retryable || attempt > cmd.retries || Instant::now() >= deadline {
            break result;
        }
    };
    AgentOutcome {
        action: cmd.action.clone(),
        result,
        runs,
    }
}

fn classify(action: &str, r: &AgentRun) -> AgentResult {
    if let Some(e) = &r.spawn_error {
        return AgentResult::CouldNotRun(e.clone());
    }
    if r.timed_out {
        return AgentResult::TimedOut;
    }
    match r.exit_code {
        Some(0) => AgentResult::Success,
        Some(2) if action == "status" || action == "monitor" => AgentResult::Off,
        code => AgentResult::Failed { exit_code: code },
    }
}

async fn run_once(cmd: &AgentCommand, input: &str, attempt: u32, limit: Duration) -> AgentRun {
    let mut run = AgentRun {
        attempt,
        exit_code: None,
        signal: None,
        timed_out: false,
        stdout: String::new(),
        stderr: String::new(),
        duration: Duration::ZERO,
        spawn_error: None,
    };
    if limit.is_zero() {
        run.timed_out = true;
        return run;
    }
    // Fence agents read their options on stdin and get the daemon's environment; a
    // timed-out agent has a moment to end its session with the device before SIGKILL,
    // and nothing it started may outlive it.
    let spec = hactl_process::Spec::new(&cmd.agent, limit)
        .env(hactl_process::Env::Inherit(Vec::new()))
        .stdin(input.as_bytes().to_vec())
        .term_grace(Duration::from_secs(2))
        .reap_group()
        .output_cap(MAX_OUTPUT);
    match hactl_process::run(&spec).await {
        Ok(out) => {
            run.exit_code = out.code;
            run.signal = out.signal;
            run.timed_out = out.timed_out;
            run.stdout = out.stdout;
            run.stderr = out.stderr;
            run.duration = out.duration;
        }
        Err(e) => run.spawn_error = Some(format!("{}: {e}", cmd.agent.display())),
    }
    run
}

/// The targets a `list` printed: the first word of each line (words end at blanks or
/// commas: `name,alias` and fence_xvm's `name uuid on` both give the name).
pub fn parse_list_output(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| {
            l.split(|c: char| c.is_whitespace() || c == ',')
                .find(|w| !w.is_empty())
        })
        .map(str::to_string)
        .collect()
}
