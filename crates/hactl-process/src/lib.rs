//! Running an outside program (a resource agent, a fence agent, an alert agent, a
//! health-check command) the one way an HA daemon must:
//!
//! - its own process group, so a timeout kills the program and everything it started;
//! - exactly the environment asked for (a clean one, or the daemon's plus extras);
//! - completion on the program's *exit*, not on EOF of its pipes: IPaddr2 backgrounds
//!   `send_arp`, which inherits the pipes and holds them open for a second or more
//!   after the agent exited. After the exit we drain what the program already wrote
//!   and stop reading; a background grandchild keeps its copy of the pipe and goes on
//!   (its announcements must not be cut short), unless the caller asks to reap the
//!   group;
//! - output kept up to a cap per stream, the rest read and dropped (a chatty program
//!   neither blocks on a full pipe nor grows our memory).

mod collect;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;

/// Output kept per stream unless the caller says otherwise; meta-data of the largest
/// agents is well below this.
pub const DEFAULT_OUTPUT_CAP: usize = 1 << 20;

/// The environment the program gets.
#[derive(Clone, Debug)]
pub enum Env {
    /// Only these variables.
    Clean(Vec<(String, String)>),
    /// The daemon's own environment plus these.
    Inherit(Vec<(String, String)>),
}

/// One program to run.
#[derive(Clone, Debug)]
pub struct Spec {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Env,
    /// Written to the program's stdin (then closed); `None`: stdin is /dev/null.
    pub stdin: Option<Vec<u8>>,
    pub timeout: Duration,
    /// On timeout: SIGTERM to the group, this long to exit, then SIGKILL. `None`:
    /// SIGKILL at once.
    pub term_grace: Option<Duration>,
    /// Kill whatever is left in the program's group once it exited.
    pub reap_group: bool,
    pub output_cap: usize,
}

impl Spec {
    /// `program` with a clean environment, no stdin, killed at `timeout`.
    pub fn new(program: impl Into<PathBuf>, timeout: Duration) -> Spec {
        Spec {
            program: program.into(),
            args: Vec::new(),
            env: Env::Clean(Vec::new()),
            stdin: None,
            timeout,
            term_grace: None,
            reap_group: false,
            output_cap: DEFAULT_OUTPUT_CAP,
        }
    }

    pub fn args<I, S>(mut self, args: I) -> Spec
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, env: Env) -> Spec {
        self.env = env;
        self
    }

    pub fn stdin(mut self, data: Vec<u8>) -> Spec {
        self.stdin = Some(data);
        self
    }

    pub fn term_grace(mut self, grace: Duration) -> Spec {
        self.term_grace = Some(grace);
        self
    }

    pub fn reap_group(mut self) -> Spec {
        self.reap_group = true;
        self
    }

    pub fn output_cap(mut self, cap: usize) -> Spec {
        self.output_cap = cap;
        self
    }
}

/// How the program ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Exit code, or `None` if it died of a signal.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    pub duration: Duration,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }
}

fn command(spec: &Spec) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(&spec.program);
    cmd.args(&spec.args);
    let extra = match &spec.env {
        Env::Clean(vars) => {
            cmd.env_clear();
            vars
        }
        Env::Inherit(vars) => vars,
    };
    cmd.envs(extra.iter().map(|(k, v)| (k, v)))
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .current_dir("/")
        // Its own group, so a timeout can kill it and everything it started.
        .process_group(0)
        .kill_on_drop(true);
    cmd
}

/// Runs the program to its exit or its timeout. An error: it could not be started
/// (or waited for).
pub async fn run(spec: &Spec) -> std::io::Result<Outcome> {
    let start = Instant::now();
    let mut child = command(spec).spawn()?;
    let group = child
        .id()
        .and_then(|p| i32::try_from(p).ok())
        .map(nix::unistd::Pid::from_raw);
    if let (Some(mut stdin), Some(data)) = (child.stdin.take(), spec.stdin.clone()) {
        // A program that does not read its stdin must not block us.
        tokio::spawn(async move {
            if stdin.write_all(&data).await.is_err() {
                // It exited or closed stdin without reading: nothing to deliver.
            }
        });
    }
    let (out_done, out) = collect::spawn(child.stdout.take(), spec.output_cap);
    let (err_done, err) = collect::spawn(child.stderr.take(), spec.output_cap);
    let (status, timed_out) = match tokio::time::timeout(spec.timeout, child.wait()).await {
        Ok(s) => (s?, false),
        Err(_) => (stop_group(&mut child, group, spec.term_grace).await?, true),
    };
    let duration = start.elapsed();
    if spec.reap_group {
        signal_group(group, nix::sys::signal::Signal::SIGKILL);
    }
    use std::os::unix::process::ExitStatusExt;
    Ok(Outcome {
        code: status.code(),
        signal: status.signal(),
        timed_out,
        stdout: collect::finish(out_done, out).await,
        stderr: collect::finish(err_done, err).await,
        duration,
    })
}

fn signal_group(group: Option<nix::unistd::Pid>, sig: nix::sys::signal::Signal) {
    if let Some(pg) = group {
        // ESRCH (the group is already gone) is what we want anyway.
        nix::sys::signal::killpg(pg, sig).ok();
    }
}

/// Ends a timed-out program's whole group: SIGTERM and a grace period if asked, then
/// SIGKILL; returns how the program itself ended.
async fn stop_group(
    child: &mut tokio::process::Child,
    group: Option<nix::unistd::Pid>,
    term_grace: Option<Duration>,
) -> std::io::Result<std::process::ExitStatus> {
    use nix::sys::signal::Signal;
    if let Some(grace) = term_grace {
        signal_group(group, Signal::SIGTERM);
        if let Ok(status) = tokio::time::timeout(grace, child.wait()).await {
            signal_group(group, Signal::SIGKILL);
            return status;
        }
    }
    signal_group(group, Signal::SIGKILL);
    child.wait().await
}

/// The pair a collector needs: "the program exited" and "what it wrote".
type Collector = (
    Option<oneshot::Sender<()>>,
    Option<oneshot::Receiver<Vec<u8>>>,
);

#[cfg(test)]
mod tests;
