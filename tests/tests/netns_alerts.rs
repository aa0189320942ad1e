//! Alerts end to end: three real `hactl daemon`s in network namespaces with real
//! fencing (fence_virtd, as in netns_fencing.rs), and Pacemaker's own sample alert
//! agent from Debian's pacemaker-common (`alert_file.sh.sample`, unchanged) as the
//! alert, its recipient a log file. The file must record resource starts, a monitor
//! failure and the recovery's stop, the loss of a node, its fencing and the group's
//! start on a survivor, in that order. A second alert whose agent hangs (a shell
//! waiting on a `sleep 600` child) has a 2 s timeout: each run's whole process group
//! is killed at the timeout, and the cluster fails over without waiting on it.
//! Two more alerts run Pacemaker's `alert_snmp.sh.sample` and `alert_smtp.sh.sample`,
//! unchanged, against real receivers in the fence_virtd namespace (snmptrapd and an
//! SMTP server, see `hactl_tests::alert_receivers`): each must receive the same
//! events with the right node, resource and operation.
//!
//! Needs root; fails without it unless `HACTL_SKIP_ROOT_TESTS=1`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use hactl_tests::alert_receivers::{self as rx, Receiver};
use hactl_tests::cluster::Cluster;
use hactl_tests::controller_lab::{
    agent_env, cli, cut_link, idx, start_nodes, wait_group_on, NsReaper,
};
use hactl_tests::fence_virtd::{configure_fenced_group, fencing_lab};
use hactl_tests::netns::require_root;

const T: Duration = Duration::from_secs(60);
const SAMPLES: &str = "/usr/share/pacemaker/alerts";
/// The SMTP alert's recipient (the sample's `To:`).
const MAILTO: &str = "ops@example.test";

fn executable(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// Copies Pacemaker's sample `alert_NAME.sh.sample` into `dir`, unchanged.
fn sample(dir: &Path, name: &str) -> Result<String> {
    let from = format!("{SAMPLES}/alert_{name}.sh.sample");
    let text = std::fs::read_to_string(&from)
        .with_context(|| format!("{from}: install pacemaker-common (scripts/test-packages.txt)"))?;
    let to = dir.join(format!("alert_{name}.sh"));
    executable(&to, &text)?;
    Ok(to.display().to_string())
}

/// The alerts: the file sample (every kind) into `log`; the hung agent (resource
/// events only, 2 s timeout) that records its shell's and its child's pids; the SNMP
/// sample to `snmp` and the SMTP sample through `smtp`.
fn create_alerts(c: &Cluster, dir: &Path, snmp: &Receiver, smtp: &Receiver) -> Result<()> {
    let hung = dir.join("hung.sh");
    let pids = dir.join("hung.pids");
    executable(
        &hung,
        &format!(
            "#!/bin/sh\nsleep 600 &\necho $$ $! >> {}\nwait\n",
            pids.display()
        ),
    )?;
    let home = dir.join("home");
    rx::esmtprc(&home, &smtp.addr)?;
    let log = dir.join("alerts.log");
    let mut steps: Vec<Vec<String>> = vec![
        vec!["id=file".into(), format!("path={}", sample(dir, "file")?)],
        vec!["file".into(), format!("value={}", log.display())],
        vec![
            "id=hung".into(),
            format!("path={}", hung.display()),
            "select-kind=resource".into(),
            "meta".into(),
            "timeout=2s".into(),
        ],
        vec!["hung".into(), "value=nobody".into()],
        // The sample's own options: snmptrap's MIB path, and no HOST-RESOURCES-MIB
        // timestamp (that MIB is not in Debian main).
        vec![
            "id=snmp".into(),
            format!("path={}", sample(dir, "snmp")?),
            "options".into(),
            format!("trap_options=-m PACEMAKER-MIB -M {}", rx::mib_path()?),
            "trap_add_hires_timestamp_oid=false".into(),
            format!("SNMP_PERSISTENT_DIR={}", dir.join("snmp").display()),
        ],
        vec!["snmp".into(), format!("value={}", snmp.addr)],
        // sendmail finds its relay in $HOME/.esmtprc.
        vec![
            "id=smtp".into(),
            format!("path={}", sample(dir, "smtp")?),
            "options".into(),
            format!("HOME={}", home.display()),
        ],
        vec!["smtp".into(), format!("value={MAILTO}")],
    ];
    for (i, s) in steps.iter_mut().enumerate() {
        // Even steps create an alert, odd ones add its recipient.
        let verb: &[&str] = if i % 2 == 0 {
            &["alert", "create", "--no-wait"]
        } else {
            &["alert", "recipient", "add", "--no-wait"]
        };
        let args: Vec<&str> = verb
            .iter()
            .copied()
            .chain(s.iter().map(String::as_str))
            .collect();
        cli(c, 1, &args)?;
    }
    Ok(())
}

/// Waits until some line `r` received holds every fragment of each of `wanted`.
fn wait_received(c: &Cluster, what: &str, r: &Receiver, wanted: &[Vec<String>]) -> Result<()> {
    let missing = |text: &str| {
        wanted
            .iter()
            .find(|w| {
                !text
                    .lines()
                    .any(|l| w.iter().all(|f| l.contains(f.as_str())))
            })
            .cloned()
    };
    c.wait_seeing(what, T, || {
        let text = r.text();
        Ok(match missing(&text) {
            None => Ok(()),
            Some(w) => Err(format!("no line with {w:?} in:\n{text}")),
        })
    })
}

/// Waits until the SMTP sample's mails (by their subject) and the SNMP sample's
/// traps hold each of `events`: `(subject, trap fragments)`.
fn received(
    c: &Cluster,
    smtp: &Receiver,
    snmp: &Receiver,
    events: &[(String, Vec<String>)],
) -> Result<()> {
    let mails: Vec<Vec<String>> = events
        .iter()
        .map(|(subject, _)| vec!["Subject: ".to_string(), subject.clone()])
        .collect();
    wait_received(c, "the SMTP sample's mails", smtp, &mails)?;
    let traps: Vec<Vec<String>> = events.iter().map(|(_, t)| t.clone()).collect();
    wait_received(c, "the SNMP sample's traps", snmp, &traps)
}

/// The fragments of one PACEMAKER-MIB trap as snmptrapd logs it: `(object, value)`.
/// A description is matched by its start: a failure's goes on with the agent's
/// reason ("not running (No process state file found)").
fn trap(fields: &[(&str, &str)]) -> Vec<String> {
    let close = |k: &str| if k == "Description" { "" } else { "\"" };
    fields
        .iter()
        .map(|(k, v)| {
            format!(
                "PACEMAKER-MIB::pacemakerNotification{k} = STRING: \"{v}{}",
                close(k)
            )
        })
        .collect()
}

/// A resource operation's trap.
fn rsc_trap(task: &str, rsc: &str, node: &str, desc: &str) -> Vec<String> {
    trap(&[
        ("Node", node),
        ("Resource", rsc),
        ("Operation", task),
        ("Description", desc),
    ])
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
    // The receivers share fence_virtd's namespace (the fourth), off the cluster.
    let (rns, rip) = (c.net.ns(4), c.net.ip(4));
    let snmp = rx::snmptrapd(&rns, &rip, 1162, &dir)?;
    let smtp = rx::smtpd(&rns, &rip, 2525, &dir)?;
    create_alerts(&c, &dir, &snmp, &smtp)?;
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

    // The SMTP and SNMP samples on that node sent the same, before it is cut off
    // from their receivers.
    received(
        &c,
        &smtp,
        &snmp,
        &[
            (
                res("start", "d2", &on, "ok"),
                rsc_trap("start", "d2", &on, "ok"),
            ),
            (
                res("monitor (5000)", "d1", &on, "not running"),
                rsc_trap("monitor", "d1", &on, "not running"),
            ),
            (
                res("stop", "d1", &on, "ok"),
                rsc_trap("stop", "d1", &on, "ok"),
            ),
        ],
    )?;

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

    // The survivors' alerts of the loss, the fencing and the failover.
    received(
        &c,
        &smtp,
        &snmp,
        &[
            (
                format!("Node '{on}' is now 'lost'"),
                trap(&[("Node", &on), ("Description", "lost")]),
            ),
            (
                format!("Fencing Operation off of {on} by "),
                trap(&[("Node", &on), ("Operation", "off")]),
            ),
            (
                res("start", "d2", &now_on, "ok"),
                rsc_trap("start", "d2", &now_on, "ok"),
            ),
        ],
    )?;
    eprintln!("traps:\n{}\nmails:\n{}", snmp.text(), smtp.text());

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
