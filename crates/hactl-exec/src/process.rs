//! Running an agent process: through `hactl-process` (own process group, a timeout
//! that kills the whole group, completion on the agent's exit), with exactly the
//! environment OCF and LSB define.

use std::path::Path;
use std::time::Duration;

/// Runs `program args…` with exactly `env`, killing its process group at `timeout`.
pub(crate) async fn run(
    program: &Path,
    args: &[&str],
    env: &[(String, String)],
    timeout: Duration,
) -> std::io::Result<hactl_process::Outcome> {
    let spec = hactl_process::Spec::new(program, timeout)
        .args(args)
        .env(hactl_process::Env::Clean(env.to_vec()));
    hactl_process::run(&spec).await
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
    async fn the_exit_reason_is_the_last_one_on_stderr() {
        let out = run(
            Path::new("/bin/sh"),
            &[
                "-c",
                "echo 'ocf-exit-reason:first' >&2; echo 'ocf-exit-reason:bad thing' >&2; exit 3",
            ],
            &[("PATH".into(), "/usr/bin:/bin".into())],
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        assert_eq!(out.code, Some(3));
        assert_eq!(exit_reason(&out.stderr).as_deref(), Some("bad thing"));
    }
}
