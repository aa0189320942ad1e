//! What `hactl cluster` does on the machines of other nodes, and at boot:
//! `enable`/`disable` (start the daemon at boot through `hactl.service`, pcs's
//! `cluster enable/disable`) and the ssh fan-out behind `start --all`, `enable --all`
//! and `disable --all`.
//!
//! hactl has no agent of its own on the other machines (pcs has pcsd): it logs in with
//! the operator's ssh (as root, `BatchMode=yes`, a connect timeout, the operator's ssh
//! config and keys, or `--ssh-config FILE`) and runs the same `hactl cluster` verb
//! there, for that node alone. So a node does there exactly what it does when the
//! operator types the command on it: `systemctl start hactl.service` where systemd is
//! PID 1, else the detached daemon. External programs (`systemctl`, `ssh`) run through
//! the project's one process runner (`hactl-process`): a deadline that kills the whole
//! process group, completion on exit; they get the operator's environment (ssh needs
//! HOME for its config, keys and known hosts, and the agent's socket).

use anyhow::{Context, Result};
use hactl_net::config::NodeEntry;
use hactl_net::NodeName;
use hactl_process::{Env, Outcome as ProcOutcome, Spec};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// The unit `packaging/systemd/hactl.service` installs.
pub const UNIT: &str = "hactl.service";

/// Exit code of `enable`/`disable` when `hactl.service` is not installed (LSB's
/// "program is not installed").
pub const EXIT_UNIT_NOT_INSTALLED: u8 = 5;

/// Exit code of `enable`/`disable` when systemd is not PID 1: nothing here starts
/// units at boot (LSB's "program is not configured").
pub const EXIT_NO_SYSTEMD: u8 = 6;

/// Printed by `cluster start` when the daemon already runs; `start --all` reads it in
/// a peer's answer to report that node as already running rather than started.
pub const ALREADY_RUNNING: &str = "the hactl daemon is already running";

/// How long `systemctl` may take (enable and show are quick; this only bounds a hang).
const SYSTEMCTL_LIMIT: Duration = Duration::from_secs(60);

/// How the other nodes are reached.
#[derive(clap::Args, Debug, Clone)]
pub struct SshArgs {
    /// ssh client config for reaching the other nodes (ssh -F FILE); by default ssh
    /// reads its own (~/.ssh/config, /etc/ssh/ssh_config) and the user's keys.
    #[arg(long, env = "HACTL_SSH_CONFIG", value_name = "FILE")]
    ssh_config: Option<PathBuf>,
    /// User ssh logs in as on the other nodes (hactl needs root there).
    #[arg(long, default_value = "root", value_name = "USER")]
    ssh_user: String,
    /// ssh port of the other nodes (default: ssh's, 22 unless its config says else).
    #[arg(long, value_name = "PORT")]
    ssh_port: Option<u16>,
    /// Seconds ssh may take to connect to a node (ssh's ConnectTimeout).
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    ssh_timeout: u64,
    /// The hactl program on the other nodes (default: `hactl` on the ssh user's PATH
    /// there).
    #[arg(
        long,
        env = "HACTL_REMOTE_HACTL",
        default_value = "hactl",
        value_name = "PATH"
    )]
    remote_hactl: String,
}

/// What happened on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done; the text says what (started, already running, enabled…).
    Done(String),
    /// ssh could not reach or log in to the node: ssh's own reason.
    Unreachable(String),
    /// The node was reached (or is this one) but the command failed there; `code` is
    /// the exit code the command gives for it.
    Failed { code: u8, why: String },
}

impl Outcome {
    pub fn is_done(&self) -> bool {
        matches!(self, Outcome::Done(_))
    }

    /// The per-node report line.
    pub fn line(&self, node: &NodeName) -> String {
        match self {
            Outcome::Done(what) => format!("{node}: {what}"),
            Outcome::Unreachable(why) => format!("{node}: UNREACHABLE over ssh: {why}"),
            Outcome::Failed { why, .. } => format!("{node}: FAILED: {why}"),
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// The last non-empty line of `text`: where ssh and hactl put their reason.
fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

// ------------------------------------------------------------------------ systemctl

/// systemd is running as PID 1 (the documented check, as sd_booted() does).
pub fn systemd_is_init() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// Runs `systemctl ARGS`; Ok(stdout) on exit 0, else the reason.
pub fn systemctl(args: &[&str]) -> Result<String> {
    let spec = Spec::new("systemctl", SYSTEMCTL_LIMIT)
        .args(args)
        .env(Env::Inherit(Vec::new()));
    let out = runtime()?
        .block_on(hactl_process::run(&spec))
        .context("running systemctl")?;
    if out.code == Some(0) {
        return Ok(out.stdout);
    }
    anyhow::bail!(
        "systemctl {} failed ({}): {}",
        args.join(" "),
        exit_text(&out),
        last_line(&out.stderr)
    )
}

fn exit_text(out: &ProcOutcome) -> String {
    match (out.timed_out, out.code, out.signal) {
        (true, _, _) => format!("no answer within {} s", out.duration.as_secs()),
        (_, Some(c), _) => format!("exit {c}"),
        (_, _, Some(s)) => format!("signal {s}"),
        _ => "no exit status".into(),
    }
}

/// `systemctl enable|disable hactl.service` on this machine, said clearly when it
/// cannot be: systemd not PID 1, or the unit not installed.
pub fn boot_local(enable: bool) -> Outcome {
    if !systemd_is_init() {
        return Outcome::Failed {
            code: EXIT_NO_SYSTEMD,
            why: format!(
                "systemd is not running as init (PID 1) on this machine, so nothing starts \
                 {UNIT} at boot; start the daemon from this machine's init system with \
                 `hactl cluster start`"
            ),
        };
    }
    match systemctl(&["show", "--property=LoadState", "--value", UNIT]) {
        Ok(state) if state.trim() == "not-found" => {
            return Outcome::Failed {
                code: EXIT_UNIT_NOT_INSTALLED,
                why: format!(
                    "{UNIT} is not installed: copy packaging/systemd/hactl.service to \
                     /etc/systemd/system/ and run `systemctl daemon-reload`"
                ),
            }
        }
        Ok(_) => {}
        Err(e) => {
            return Outcome::Failed {
                code: 1,
                why: format!("{e:#}"),
            }
        }
    }
    let verb = if enable { "enable" } else { "disable" };
    match systemctl(&[verb, UNIT]) {
        Ok(_) if enable => Outcome::Done(format!("{UNIT} enabled: the daemon starts at boot")),
        Ok(_) => Outcome::Done(format!(
            "{UNIT} disabled: the daemon no longer starts at boot"
        )),
        Err(e) => Outcome::Failed {
            code: 1,
            why: format!("{e:#}"),
        },
    }
}

/// Prints a single node's outcome and gives its exit code.
pub fn report_one(me: &NodeName, o: &Outcome) -> ExitCode {
    match o {
        Outcome::Done(_) => {
            outln!("{}", o.line(me));
            ExitCode::SUCCESS
        }
        Outcome::Failed { code, why } => {
            eprintln!("error: {me}: {why}");
            ExitCode::from(*code)
        }
        Outcome::Unreachable(_) => {
            eprintln!("error: {}", o.line(me));
            ExitCode::from(1)
        }
    }
}

/// Prints every node's outcome; exit 0 when all are done, else 1 naming the others.
pub fn report_all(verb: &str, outcomes: &[(NodeName, Outcome)]) -> ExitCode {
    for (n, o) in outcomes {
        outln!("{}", o.line(n));
    }
    let bad: Vec<&str> = outcomes
        .iter()
        .filter(|(_, o)| !o.is_done())
        .map(|(n, _)| n.as_str())
        .collect();
    if bad.is_empty() {
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "error: could not {verb} on {} (see above); run `hactl cluster {verb}` there",
        bad.join(", ")
    );
    ExitCode::from(1)
}

// ------------------------------------------------------------------------------ ssh

impl SshArgs {
    /// ssh's arguments for running `hactl ARGS` on node `n` (at its address in
    /// cluster.toml); ARGS are words hactl makes (verbs, node names, numbers).
    fn argv(&self, n: &NodeEntry, args: &str) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        if let Some(f) = &self.ssh_config {
            v.extend(["-F".into(), f.display().to_string()]);
        }
        v.extend([
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            format!("ConnectTimeout={}", self.ssh_timeout),
            "-T".into(),
            "-l".into(),
            self.ssh_user.clone(),
        ]);
        if let Some(p) = self.ssh_port {
            v.extend(["-p".into(), p.to_string()]);
        }
        let remote = format!("{} {args}", sh_quote(&self.remote_hactl));
        v.extend([n.address.ip().to_string(), "--".into(), remote]);
        v
    }
}

/// `s` as one word for the remote shell.
fn sh_quote(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+=:".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        return s.into();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Reads ssh's result: 255 is ssh's own failure (connect, host key, login).
fn classify(n: &NodeEntry, user: &str, out: std::io::Result<ProcOutcome>) -> Outcome {
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            return Outcome::Failed {
                code: 1,
                why: format!("cannot run ssh: {e} (is openssh-client installed?)"),
            }
        }
    };
    match out.code {
        _ if out.timed_out => Outcome::Unreachable(format!(
            "no answer from {} within {} s",
            n.address.ip(),
            out.duration.as_secs()
        )),
        Some(0) => Outcome::Done(last_line(&out.stdout).to_string()),
        Some(255) => Outcome::Unreachable(last_line(&out.stderr).to_string()),
        Some(127) => Outcome::Failed {
            code: 1,
            why: format!("hactl is not installed there (not on {user}'s PATH)"),
        },
        _ => Outcome::Failed {
            code: 1,
            why: format!(
                "`hactl` there {}: {}",
                exit_text(&out),
                last_line(&out.stderr).trim_start_matches("error: ")
            ),
        },
    }
}

/// Runs `hactl ARGS` (`args(node)`) over ssh on every node of `nodes` at once; each
/// run is bounded by `limit` plus the connect timeout. Results in the order of `nodes`.
pub fn on_nodes(
    ssh: &SshArgs,
    nodes: &[&NodeEntry],
    args: impl Fn(&NodeEntry) -> String,
    limit: Duration,
) -> Result<Vec<(NodeName, Outcome)>> {
    let limit = limit + Duration::from_secs(ssh.ssh_timeout);
    let specs: Vec<Spec> = nodes
        .iter()
        .map(|n| {
            Spec::new("ssh", limit)
                .args(ssh.argv(n, &args(n)))
                .env(Env::Inherit(Vec::new()))
        })
        .collect();
    let runs = specs.iter().map(hactl_process::run);
    let results = runtime()?.block_on(futures::future::join_all(runs));
    Ok(nodes
        .iter()
        .zip(results)
        .map(|(n, r)| (n.name.clone(), classify(n, &ssh.ssh_user, r)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> NodeEntry {
        NodeEntry {
            name: NodeName::new("n2").unwrap(),
            id: 2,
            address: "10.0.0.2:7420".parse().unwrap(),
            more_addresses: Vec::new(),
        }
    }

    fn outcome(code: Option<i32>, stdout: &str, stderr: &str) -> std::io::Result<ProcOutcome> {
        Ok(ProcOutcome {
            code,
            signal: None,
            timed_out: false,
            stdout: stdout.into(),
            stderr: stderr.into(),
            duration: Duration::from_millis(5),
        })
    }

    #[test]
    fn ssh_failures_are_unreachable_and_remote_failures_are_failed() {
        let n = entry();
        let refused = "ssh: connect to host 10.0.0.2 port 22: Connection refused\n";
        assert_eq!(
            classify(&n, "root", outcome(Some(255), "", refused)),
            Outcome::Unreachable(refused.trim().into())
        );
        assert_eq!(
            classify(&n, "root", outcome(Some(0), "n2: started\n", "")),
            Outcome::Done("n2: started".into())
        );
        let o = classify(&n, "root", outcome(Some(127), "", "bash: hactl: not found"));
        assert!(
            matches!(&o, Outcome::Failed { why, .. } if why.contains("not installed")),
            "{o:?}"
        );
        let o = classify(
            &n,
            "root",
            outcome(Some(6), "", "error: n2: systemd is not running\n"),
        );
        assert!(
            matches!(&o, Outcome::Failed { why, .. } if why.contains("exit 6: n2: systemd is not running")),
            "{o:?}"
        );
    }

    #[test]
    fn ssh_is_batch_with_a_connect_timeout_as_the_user() {
        let ssh = SshArgs {
            ssh_config: Some("/x/cfg".into()),
            ssh_user: "root".into(),
            ssh_port: Some(2222),
            ssh_timeout: 3,
            remote_hactl: "/opt/my hactl".into(),
        };
        let v = ssh.argv(&entry(), "cluster start n2");
        let s = v.join(" ");
        assert!(
            s.starts_with("-F /x/cfg -o BatchMode=yes -o ConnectTimeout=3 "),
            "{s}"
        );
        assert!(
            s.contains("-l root -p 2222 10.0.0.2 -- '/opt/my hactl' cluster start n2"),
            "{s}"
        );
    }
}
