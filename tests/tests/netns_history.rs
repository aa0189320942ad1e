//! `hactl cluster history` and `hactl resource history` against a real 3-node
//! cluster (real daemons, real `ocf:heartbeat:Dummy`): a standby and a failover
//! appear as transitions with their trigger and their actions' results; the bound
//! (`transition-history-limit`) holds on every node; the history survives a daemon
//! restart (it is replicated state).
//!
//! Needs root (network namespaces); run under /tmp/hactl-netns.lock.

use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use hactl_model::transitions::{ActionResult, TransitionRecord};
use hactl_tests::cluster::Cluster;
use hactl_tests::controller_lab::{
    cli, idx, kill_node, start_node, start_nodes, wait_group_on, NsReaper,
};
use hactl_tests::netns::require_root;
use serde_json::json;

const T: Duration = Duration::from_secs(40);

/// Node `via`'s transition history, through the CLI's JSON.
fn history(c: &Cluster, via: usize) -> Result<Vec<TransitionRecord>> {
    let out = cli(c, via, &["cluster", "history", "--output", "json"])?;
    let doc: serde_json::Value = serde_json::from_str(&out)?;
    if doc["schema_version"] != 1 {
        return Err(anyhow!("no schema_version 1 in {out}"));
    }
    Ok(serde_json::from_value(doc["transitions"].clone())?)
}

/// What node `via` shows, for a failure's message.
fn diag(c: &Cluster, via: usize) -> String {
    let status = cli(c, via, &["status"]).unwrap_or_else(|e| e.to_string());
    let history = cli(c, via, &["cluster", "history"]).unwrap_or_else(|e| e.to_string());
    format!("n{via}'s status:\n{status}\nits history:\n{history}")
}

/// Whether `r` ran `task` of web on `node` successfully.
fn ran(r: &TransitionRecord, task: &str, node: &str) -> bool {
    r.actions.iter().any(|a| {
        a.task == task
            && a.rsc.as_deref() == Some("web")
            && a.node == node
            && a.result == ActionResult::Ok
            && a.rc == Some(0)
            && a.ms.is_some()
    })
}

/// Waits until node `via` shows a transition that `pick` accepts; returns it.
fn wait_record(
    c: &Cluster,
    via: usize,
    what: &str,
    mut pick: impl FnMut(&TransitionRecord) -> bool,
) -> Result<TransitionRecord> {
    c.wait_until(what, T, || {
        Ok(history(c, via)?.into_iter().find(|r| pick(r)))
    })
}

#[test]
fn netns_history_shows_standby_and_failover_is_bounded_and_survives_a_restart() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut c = Cluster::setup("hh-t", 3, "10.84.3", None)?;
    let _reaper = NsReaper::new(&c);
    start_nodes(&mut c, 3)?;
    c.wait_dc(&[1, 2, 3], T)?;
    for (name, value) in [("stonith-enabled", "false"), ("no-quorum-policy", "stop")] {
        c.propose(
            1,
            &json!({"change": "set_property", "name": name, "value": value}),
        )?;
    }
    c.propose(
        1,
        &json!({"change": "add_resource", "resource": {"kind": "primitive", "id": "web",
            "agent": {"class": "ocf", "provider": "heartbeat", "type": "Dummy"},
            "ops": [{"id": "web-monitor", "name": "monitor", "interval_ms": 2000, "timeout_ms": 20000}]}}),
    )?;
    let first = wait_group_on(&c, 1, &["web"], T, |_| true).with_context(|| diag(&c, 1))?;
    wait_record(&c, 1, "the first start", |r| ran(r, "start", &first))?;

    // Standby: one transition, triggered by it, stops web there and starts it
    // elsewhere, each with its rc and duration.
    cli(&c, 1, &["node", "standby", &first])?;
    let second = wait_group_on(&c, 1, &["web"], T, |n| n != first).with_context(|| diag(&c, 1))?;
    let why = format!("node {first} standby on");
    let moved = wait_record(&c, 1, "the standby's transition", |r| {
        r.trigger.contains(&why) && ran(r, "stop", &first) && ran(r, "start", &second)
    })?;
    anyhow::ensure!(
        moved.aborted.is_none() && moved.planned.iter().any(|p| p.contains("web")),
        "{moved:#?}"
    );
    let text = cli(&c, 1, &["cluster", "history", "-n", "1"])?;
    anyhow::ensure!(text.contains("Triggered by:"), "{text}");

    // Failover: the node running web is killed; a survivor's DC starts it on the
    // third node. The trigger names the loss (or, when the killed node was the DC,
    // the new DC taking over).
    let third = (1..=3)
        .map(|i| format!("n{i}"))
        .find(|n| *n != first && *n != second)
        .ok_or_else(|| anyhow!("no third node"))?;
    let watch = idx(&third)?;
    kill_node(&mut c, idx(&second)?)?;
    wait_group_on(&c, watch, &["web"], T, |n| n == third).with_context(|| diag(&c, watch))?;
    let lost = format!("node {second} lost");
    let failover = wait_record(&c, watch, "the failover's transition", |r| {
        ran(r, "start", &third)
    })?;
    anyhow::ensure!(
        failover.trigger.contains(&lost)
            || failover.trigger.iter().any(|t| t.contains("became DC")),
        "failover triggered by {:?}",
        failover.trigger
    );
    let ops = cli(&c, watch, &["resource", "history", "web", "--node", &third])?;
    anyhow::ensure!(
        ops.contains("start: rc=0 (ok)") && ops.contains("exec-time="),
        "{ops}"
    );

    // The bound: at most 2 records, the same on both live nodes.
    let live = [idx(&first)?, watch];
    cli(
        &c,
        watch,
        &["property", "set", "transition-history-limit=2"],
    )?;
    for _ in 0..2 {
        cli(&c, watch, &["resource", "disable", "web"])?;
        cli(&c, watch, &["resource", "enable", "web"])?;
    }
    let kept = c.wait_until("both nodes holding the same bounded history", T, || {
        let a = history(&c, live[0])?;
        let b = history(&c, live[1])?;
        Ok((a == b && !a.is_empty()).then_some(a))
    })?;
    anyhow::ensure!(kept.len() == 2, "{} records kept: {kept:#?}", kept.len());
    // The newest kept: from the disable/enable rounds, after the failover.
    anyhow::ensure!(
        kept.iter().all(|r| r.id > failover.id) && kept[0].id < kept[1].id,
        "{kept:#?}"
    );

    // A restart: the node reads the same records back from its own store.
    cli(
        &c,
        watch,
        &["property", "set", "transition-history-limit=25"],
    )?;
    let before: Vec<u64> = history(&c, live[0])?.iter().map(|r| r.id).collect();
    let restarted = idx(&first)?;
    c.stop(restarted, T)?;
    start_node(&mut c, restarted)?;
    let after = c.wait_until("the restarted node's history", T, || {
        Ok(history(&c, restarted).ok().filter(|h| !h.is_empty()))
    })?;
    let ids: Vec<u64> = after.iter().map(|r| r.id).collect();
    anyhow::ensure!(
        before.iter().all(|id| ids.contains(id)),
        "before the restart {before:?}, after {ids:?}"
    );
    Ok(())
}
