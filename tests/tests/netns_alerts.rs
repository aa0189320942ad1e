//! Alerts end to end: three real `hactl daemon`s in network namespaces with real
//! fencing (fence_virtd, as in netns_fencing.rs), and Pacemaker's own sample alert
//! agent from Debian's pacemaker-common (`alert_file.sh.sample`, unchanged) as the
//! alert, its recipient a log file. The file must record resource starts, a monitor
//! failure and the recovery's stop, the loss of a node, its fencing and the group's
//! start on a survivor, in that order. A second alert whose agent hangs (a shell
//! waiting on a `sleep 600` child) has a 2 s timeout: each run's whole process group
//! is killed at the timeout, and the cluster fails over without waiting on it.
//!
//! Needs root; fails without it unless `HACTL_SKIP_ROOT_TESTS=1`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use hactl_tests::cluster::Cluster;
use hactl_tests::controller_lab::{
    agent_env, cli, cut_link, idx, start_nodes, wait_group_on, NsReaper,
};
use hactl_tests::fence_virtd::{configure_fenced_group, fencing_lab};
use hactl_tests::netns::require_root;

const T: Duration = Duration::from_secs(60);
const SAMPLE: &str = "/usr/share/pacemaker/alerts/alert_file.sh.sample";

fn executable(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// The two alerts: the sample (every kind) into `log`, and the hung agent
/// (resource events only, 2 s timeout) that records its shell's and its child's pids.
fn create_alerts(c: &Cluster, dir: &Path) -> Result<()> {
    let sample = std::fs::read_to_string(SAMPLE).with_context(|| {
        format!("{SAMPLE}: install pacemaker-common (scripts/test-packages.txt)")
    })?;
    let file_agent = dir.join("alert_file.sh");
    executable(&file_agent, &sample)?;
    let hung = dir.join("hung.sh");
    let pids = dir.join("hung.pids");
    executable(
        &hung,
        &format!(
            "#!/bin/sh\nsleep 600 &\necho $$ $! >> {}\nwait\n",
            pids.display()
        ),
    )?;
    let log = dir.join("alerts.log");
    let steps: [&[&str]; 4] = [
        &[
            "alert",
            "create",
            "--no-wait",
            "id=file",
            &format!("path={}", file_agent.display()),
        ],
        &[
            "alert",
            "recipient",
            "add",
            "--no-wait",
            "file",
            &format!("value={}", log.display()),
        ],
        &[
            "alert",
            "create",
            "--no-wait",
            "id=hung",
            &format!("path={}", hung.display()),
            "select-kind=resource",
            "meta",
            "timeout=2s",
        ],
        &[
            "alert",
            "recipient",
            "add",
            "--no-wait",
            "hung",
            "value=nobody",
        ],
    ];
    for s in steps {
        cli(c, 1, s)?;
    }
    Ok(())
}

/// Waits until the alert log has a line containing `what`; returns the log.
fn wait_line(c: &Cluster, log: &Path, what: &str) -> Result<String> {
    c.wait_until(&format!("alert log line {what:?}"), T, || {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        Ok(text.contains(what).then_some(text))
    })
}

/// The line numbers of `wanted`, in order, each found after the previous one.
fn in_order(text: &str, wanted: &[String]) -> Result<()> {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0;
    for w in wanted {
        match lines[from..].iter().position(|l| l.contains(w.as_str())) {
            Some(i) => from += i + 1,
            None => bail!("{w:?} not found after line {from} in the alert log:\n{text}"),
        }
    }
    Ok(())
}

fn pid_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
fn netns_alerts_sample_agent_records_events_in_order_and_a_hung_agent_is_killed() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let (mut c, fv) = fencing_lab("hx-al", "10.91.0", T)?;
    let _reaper = NsReaper::new(&c);
    start_nodes(&mut c, 3)?;
    c.wait_dc(&[1, 2, 3], T)?;
    let dir = c.root.join("alerts");
    std::fs::create_dir_all(&dir)?;
    create_alerts(&c, &dir)?;
    let log = dir.join("alerts.log");

    let on = configure_fenced_group(&c, &fv.key_path.display().to_string())?;
    let k = idx(&on)?;
    let res = |task: &str, rsc: &str, node: &str, desc: &str| {
        format!("Resource operation '{task}' for '{rsc}' on '{node}': {desc}")
    };
    wait_line(&c, &log, &res("start", "d2", &on, "ok"))?;

    // d1 fails: its state file goes, the 5 s monitor finds it not running, and
    // the recovery stops and starts it again.
    // ocf:heartbeat:Dummy keeps its state in HA_RSCTMP.
    let rsctmp = agent_env(&c, k)?
        .into_iter()
        .find(|(n, _)| n == "HA_RSCTMP")
        .map(|(_, v)| v)
        .context("HA_RSCTMP")?;
    let state = Path::new(&rsctmp).join("Dummy-d1.state");
    std::fs::remove_file(&state).with_context(|| format!("{}", state.display()))?;
    wait_line(&c, &log, &res("monitor (5000)", "d1", &on, "not running"))?;
    wait_line(&c, &log, &res("stop", "d1", &on, "ok"))?;

    // The node is cut off: lost, fenced, and the group starts on a survivor.
    cut_link(&c, k)?;
    let survivor = if k == 1 { 2 } else { 1 };
    let now_on = wait_group_on(&c, survivor, &["d1", "d2"], T, |n| n != on)?;
    let text = wait_line(&c, &log, &res("start", "d2", &now_on, "ok"))?;
    eprintln!("alert log:\n{text}");
    in_order(
        &text,
        &[
            res("start", "d1", &on, "ok"),
            res("start", "d2", &on, "ok"),
            res("monitor (5000)", "d1", &on, "not running"),
            res("stop", "d1", &on, "ok"),
            format!("Node '{on}' is now 'lost'"),
            format!("Fencing Operation off of {on} by "),
            res("start", "d1", &now_on, "ok"),
            res("start", "d2", &now_on, "ok"),
        ],
    )?;
    if !text.contains("for controller: OK") {
        bail!("the fencing line does not say it succeeded:\n{text}");
    }

    // Every run of the hung agent was killed, with its child, at its timeout.
    let pids = std::fs::read_to_string(dir.join("hung.pids"))?;
    let all: Vec<i32> = pids
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    if all.len() < 4 {
        bail!("the hung agent ran fewer times than expected: {pids:?}");
    }
    c.wait_until(
        "every hung agent run killed",
        Duration::from_secs(10),
        || Ok(all.iter().all(|p| !pid_alive(*p)).then_some(())),
    )
    .with_context(|| format!("pids {all:?}"))?;
    let logs: String = (1..=3).map(|i| c.log(i)).collect();
    if !logs.contains("alert agent timed out: killed") || !logs.contains("alert=hung") {
        bail!("no daemon logged the hung agent's timeout");
    }
    if logs.contains("value=nobody") && !logs.contains("DEBUG") {
        bail!("a recipient's value was logged above debug");
    }
    Ok(())
}
