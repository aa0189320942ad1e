//! Running an agent process: clean environment, own process group, a timeout that
//! kills the whole group, and completion on the agent's *exit*.
//!
//! Completion is `waitpid`, not EOF on stdout/stderr: IPaddr2 backgrounds `send_arp`,
//! which inherits the agent's pipes and holds them open for a second or more after the
//! agent has exited. After the exit we drain whatever the agent already wrote
//! (non-blocking reads until the pipe is empty) and stop reading; a background
//! grandchild keeps its copy of the pipe, which we simply close. The process group is
//! killed only on timeout, never after a successful op (that would cut send_arp's
//! announcements short).
//!
//! This is the project's one runner of external programs with a deadline: agents here,
//! and the CLI's `systemctl` and `ssh` calls (`hactl cluster enable`, `start --all`).

use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::oneshot;

/// Output kept per stream; meta-data of the largest agents is well below this.
const OUTPUT_CAP: usize = 1 << 20;

#[derive(Debug)]
pub struct ProcOutcome {
    /// Exit code, or `None` if killed by a signal.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    pub duration: Duration,
}

/// Reads one of the agent's pipes. Sends what the agent wrote on `out` when the pipe
/// reaches EOF or, once `done` fires (the agent exited), as soon as the pipe is empty.
/// After that it keeps reading and discarding until EOF: a background grandchild that
/// inherited the pipe (send_arp) must neither get SIGPIPE nor block on a full pipe.
async fn collect<R>(mut r: R, mut done: oneshot::Receiver<()>, out: oneshot::Sender<Vec<u8>>)
where
    R: AsyncRead + AsRawFd + Unpin,
{
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        tokio::select! {
            biased;
            n = r.read(&mut chunk) => match n {
                Ok(0) | Err(_) => {
                    let _ = out.send(buf);
                    return;
                }
                Ok(n) => {
                    if buf.len() < OUTPUT_CAP {
                        buf.extend_from_slice(&chunk[..n]);
                    }
                }
            },
            _ = &mut done => {
                // The agent has exited: take what is already in the pipe. tokio's
                // child pipes are non-blocking, so read() returns EAGAIN (-1) once the
                // pipe is empty even if a grandchild holds it open.
                let fd = r.as_raw_fd();
                loop {
                    // SAFETY: fd stays open (we own `r`); chunk is writable.
                    let n = unsafe { libc::read(fd, chunk.as_mut_ptr().cast(), chunk.len()) };
                    if n <= 0 {
                        break;
                    }
                    if buf.len() < OUTPUT_CAP {
                        buf.extend_from_slice(&chunk[..n as usize]);
                    }
                }
                let _ = out.send(buf);
                while let Ok(n) = r.read(&mut chunk).await {
                    if n == 0 {
                        break;
                    }
                }
                return;
            }
        }
    }
}

/// Runs `program args…` with exactly `env` (a bare program name is looked up in that
/// `PATH`), killing its process group at `timeout`.
pub async fn run(
    program: &Path,
    args: &[&str],
    env: &[(String, String)],
    timeout: Duration,
) -> std::io::Result<ProcOutcome> {
    let start = Instant::now();
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .current_dir("/")
        // Own group, so a timeout can kill the agent and everything it started.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn()?;
    let pid = child.id();
    let (out_tx, out_rx) = oneshot::channel();
    let (err_tx, err_rx) = oneshot::channel();
    let out_task = child.stdout.take().map(|s| {
        let (tx, rx) = oneshot::channel();
        tokio::spawn(collect(s, out_rx, tx));
        rx
    });
    let err_task = child.stderr.take().map(|s| {
        let (tx, rx) = oneshot::channel();
        tokio::spawn(collect(s, err_rx, tx));
        rx
    });

    let mut timed_out = false;
    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(s) => s?,
        Err(_) => {
            timed_out = true;
            if let Some(pid) = pid {
                // SAFETY: signalling a process group we created.
                unsafe { libc::killpg(pid as libc::pid_t, libc::SIGKILL) };
            }
            child.wait().await?
        }
    };
    let duration = start.elapsed();
    let _ = out_tx.send(());
    let _ = err_tx.send(());
    let stdout = match out_task {
        Some(t) => t.await.unwrap_or_default(),
        None => Vec::new(),
    };
    let stderr = match err_task {
        Some(t) => t.await.unwrap_or_default(),
        None => Vec::new(),
    };
    use std::os::unix::process::ExitStatusExt;
    Ok(ProcOutcome {
        code: status.code(),
        signal: status.signal(),
        timed_out,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        duration,
    })
}

/// The last `ocf-exit-reason:` line on stderr, if any.
pub(crate) fn exit_reason(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .filter_map(|l| l.split_once("ocf-exit-reason:").map(|(_, r)| r.trim()))
        .rfind(|r| !r.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn completion_is_exit_not_eof() {
        // The shell exits at once but leaves a background sleeper holding both pipes.
        let t = Instant::now();
        let out = run(
            Path::new("/bin/sh"),
            &[
                "-c",
                "echo hello; echo 'ocf-exit-reason:bad thing' >&2; sleep 5 & exit 3",
            ],
            &[("PATH".into(), "/usr/bin:/bin".into())],
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "waited for EOF: {:?}",
            t.elapsed()
        );
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout, "hello\n");
        assert_eq!(exit_reason(&out.stderr).as_deref(), Some("bad thing"));
        assert!(!out.timed_out);
    }

    #[tokio::test]
    async fn background_writer_is_not_cut_off() {
        // Like send_arp: a grandchild that outlives the agent and writes to the
        // inherited stdout later must not die of SIGPIPE.
        let dir = std::env::temp_dir().join(format!("hactl-exec-bg-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let script = format!(
            "(sleep 0.3; echo late; echo ok > {}) & exit 0",
            dir.display()
        );
        let out = run(
            Path::new("/bin/sh"),
            &["-c", &script],
            &[("PATH".into(), "/usr/bin:/bin".into())],
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        assert_eq!(out.code, Some(0));
        let deadline = Instant::now() + Duration::from_secs(5);
        while !dir.exists() {
            assert!(Instant::now() < deadline, "background writer died");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = std::fs::remove_file(&dir);
    }

    #[tokio::test]
    async fn environment_is_clean() {
        std::env::set_var("HACTL_EXEC_LEAK_CHECK", "leaked");
        let out = run(
            Path::new("/usr/bin/env"),
            &[],
            &[("ONLY".into(), "this".into())],
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        assert_eq!(out.stdout, "ONLY=this\n");
    }
}
