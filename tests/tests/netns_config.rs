//! The configuration lifecycle on a running 3-node cluster (issue 15): `cib pull` /
//! `cib push` (epoch check, `--dry-run`, a Pacemaker CIB as the migration path),
//! `config export` replayed on a new cluster, `config backup` / `restore`.
//!
//! Real daemons in network namespaces, the real `ocf:pacemaker:Dummy` agent (its
//! state file says where it runs), the `hactl` CLI. Needs root; the file-level checks
//! of the same verbs are in `cli/tests/config_lifecycle.rs`.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use anyhow::{bail, Result};
use hactl_model::Cib;
use hactl_tests::cluster::Cluster;
use hactl_tests::controller_lab::{
    cli, cli_output, ensure, settled, start_nodes, varrun, NsReaper,
};
use hactl_tests::netns::require_root;

const T: Duration = Duration::from_secs(40);

fn three_nodes(subnet: &str) -> Result<Cluster> {
    let mut c = Cluster::setup("hx-l", 3, subnet, None)?;
    start_nodes(&mut c, 3)?;
    c.wait_dc(&[1, 2, 3], T)?;
    // The tests schedule from the live CIB (a dry run on any node): the nodes must be
    // recorded as joined there, which a DC and quorum alone do not say (under load
    // the joins commit later and a dry run rightly finds no node to run anything).
    for by in 1..=3 {
        c.wait_joined(by, &[1, 2, 3], T)?;
    }
    cli(
        &c,
        1,
        &["property", "set", "--no-wait", "stonith-enabled=false"],
    )?;
    Ok(c)
}

/// Nodes where the Dummy resource `rsc` runs (its state file exists).
fn dummy_on(c: &Cluster, rsc: &str) -> Vec<usize> {
    (1..=3)
        .filter(|&i| varrun(c, i).join(format!("Dummy-{rsc}.state")).exists())
        .collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `tests/data/pacemaker-cts/<case>.xml` without its status section, in `dir`.
fn pacemaker_config(case: &str, dir: &Path) -> Result<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/pacemaker-cts")
        .join(format!("{case}.xml"));
    let xml = std::fs::read_to_string(&src)?;
    let Some((head, rest)) = xml.split_once("<status") else {
        bail!("{}: no status section", src.display());
    };
    let Some((_, tail)) = rest.split_once("</status>") else {
        bail!("{}: status not closed", src.display());
    };
    let p = dir.join(format!("{case}.xml"));
    std::fs::write(&p, format!("{head}{tail}"))?;
    Ok(p)
}

fn same_config(a: &Cib, b: &Cib) -> bool {
    a.epoch == b.epoch && a.config == b.config
}

/// A Pacemaker CIB pushed into the cluster (`--dry-run` first: nothing changes),
/// a stale pull refused, and a push that drops a group stops its resources.
#[test]
fn netns_cib_push_pacemaker_xml_dry_run_stale_epoch_and_removal() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let c = three_nodes("10.93.1")?;
    let _reaper = NsReaper::new(&c);
    let dir = c.root.clone();
    let xml = pacemaker_config("anti-colocation-order", &dir)?;
    let xml = xml.to_str().unwrap_or_default();
    let pulled = dir.join("pulled.json");
    let pulled_s = pulled.to_str().unwrap_or_default();
    cli(&c, 1, &["cib", "pull", pulled_s])?;

    // --dry-run: the transition starts the four resources; the CIB stays as it was.
    let before = c.cib(1)?;
    let dry = cli(&c, 2, &["cib", "push", xml, "--force", "--dry-run"])?;
    ensure(
        ["rsc1", "rsc2", "rsc3", "rsc4"]
            .iter()
            .all(|r| dry.lines().any(|l| l.contains("Start") && l.contains(r))),
        &format!("the dry run does not show the starts:\n{dry}"),
    )?;
    ensure(
        same_config(&before, &c.cib(1)?),
        "--dry-run changed the CIB",
    )?;

    // The migration: the Pacemaker configuration goes live and its resources start,
    // the two groups apart (colo-1 is -INFINITY).
    cli(&c, 2, &["cib", "push", xml, "--force", "--wait=60s"])?;
    c.wait_until("the pushed resources run, settled", T, || {
        let cib = c.cib(1)?;
        let on: Vec<Vec<usize>> = ["rsc1", "rsc2", "rsc3", "rsc4"]
            .iter()
            .map(|r| dummy_on(&c, r))
            .collect();
        Ok((settled(&cib) && on.iter().all(|n| n.len() == 1)).then_some(on))
    })
    .and_then(|on| {
        ensure(
            on[0] == on[1] && on[2] == on[3] && on[0] != on[2],
            &format!("groups not placed as configured: {on:?}"),
        )
    })?;

    // The file pulled before the push is stale now: refused, nothing changes.
    let before = c.cib(1)?;
    let o = cli_output(&c, 3, &["cib", "push", pulled_s])?;
    ensure(
        o.status.code() == Some(1) && stderr(&o).contains("changed since"),
        &format!("stale push not refused: {:?} {}", o.status, stderr(&o)),
    )?;
    ensure(
        same_config(&before, &c.cib(1)?),
        "a refused push changed the CIB",
    )?;

    // Pull, drop group2 from the file, push: its resources are stopped.
    cli(&c, 3, &["cib", "pull", pulled_s])?;
    let mut cib: Cib = serde_json::from_str(&std::fs::read_to_string(&pulled)?)?;
    cib.config.resources.retain(|r| r.id() != "group2");
    cib.config.constraints.colocation.clear();
    std::fs::write(&pulled, serde_json::to_string(&cib)?)?;
    cli(&c, 3, &["cib", "push", pulled_s, "--wait=60s"])?;
    c.wait_until("group2 stopped, group1 still running", T, || {
        let gone = dummy_on(&c, "rsc3").is_empty() && dummy_on(&c, "rsc4").is_empty();
        let kept = dummy_on(&c, "rsc1").len() == 1;
        Ok((gone && kept && settled(&c.cib(1)?)).then_some(()))
    })?;
    Ok(())
}

/// Builds a configuration of every kind through the CLI on node `via`.
fn configure_everything(c: &Cluster, via: usize) -> Result<()> {
    let steps: &[&[&str]] = &[
        &["property", "set", "--no-wait", "no-quorum-policy=stop"],
        &[
            "resource",
            "defaults",
            "--no-wait",
            "resource-stickiness=100",
        ],
        &["resource", "op", "defaults", "--no-wait", "timeout=30s"],
        &["node", "attribute", "--no-wait", "n1", "rack=r 1"],
        &[
            "resource",
            "create",
            "--no-wait",
            "d1",
            "ocf:pacemaker:Dummy",
            "op",
            "monitor",
            "interval=5s",
            "meta",
            "migration-threshold=2",
        ],
        &[
            "resource",
            "create",
            "--no-wait",
            "d2",
            "ocf:pacemaker:Dummy",
            "--group",
            "g",
        ],
        &[
            "resource",
            "create",
            "--no-wait",
            "d3",
            "ocf:pacemaker:Dummy",
            "--group",
            "g",
        ],
        &["resource", "meta", "--no-wait", "g", "priority=5"],
        &[
            "constraint",
            "location",
            "--no-wait",
            "d1",
            "prefers",
            "n1=50",
        ],
        &[
            "constraint",
            "location",
            "--no-wait",
            "g",
            "rule",
            "score=20",
            "rack",
            "eq",
            "r 1",
        ],
        &[
            "constraint",
            "colocation",
            "--no-wait",
            "add",
            "g",
            "with",
            "d1",
            "score=-INFINITY",
        ],
        &[
            "constraint",
            "order",
            "--no-wait",
            "d1",
            "then",
            "g",
            "kind=Optional",
        ],
    ];
    for s in steps {
        cli(c, via, s)?;
    }
    Ok(())
}

/// `hactl config --output json` on node `via`.
fn config_json(c: &Cluster, via: usize) -> Result<serde_json::Value> {
    Ok(serde_json::from_str(&cli(
        c,
        via,
        &["config", "--output", "json"],
    )?)?)
}

/// Kills every daemon and removes every node's cluster files and state; then a new
/// cluster with the same nodes (a new CA) is set up and started.
fn rebuild(c: &mut Cluster) -> Result<()> {
    for i in 1..=3 {
        c.kill(i);
        let f = c.files(i);
        c.hactl(&[
            "cluster".into(),
            "--dir".into(),
            f.config_dir.display().to_string(),
            "--state-dir".into(),
            f.state_dir.display().to_string(),
            "--socket".into(),
            f.socket.display().to_string(),
            "destroy".into(),
        ])?;
        // The old resources' state files: the new cluster must not find them running.
        let _ = std::fs::remove_dir_all(varrun(c, i));
    }
    c.make_identity("admin2")?;
    for i in 1..=3 {
        c.install_bundle(i, "admin2")?;
    }
    start_nodes(c, 3)?;
    c.wait_dc(&[1, 2, 3], T)?;
    Ok(())
}

/// The scenarios: backup, change everything, restore: the same
/// configuration. Then export the commands of the configured cluster, destroy it, set
/// up a new cluster with the same nodes, run the commands: the same configuration,
/// and it runs.
#[test]
fn netns_config_backup_restore_and_export_rebuild_an_identical_cluster() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut c = three_nodes("10.93.2")?;
    let _reaper = NsReaper::new(&c);
    configure_everything(&c, 1)?;
    // n1 answered once each change applied there; n2 (read and backed up below) may
    // apply the last one a moment later.
    let want = config_json(&c, 1)?;
    c.wait_until("n2 has the configuration n1 has", T, || {
        Ok((config_json(&c, 2)? == want).then_some(()))
    })?;
    let script = cli(&c, 2, &["config", "export", "--format", "commands"])?;
    ensure(!script.contains("NOTE"), &format!("notes in:\n{script}"))?;
    let script_file = c.root.join("export.sh");
    std::fs::write(&script_file, &script)?;

    // Backup, change everything, restore: the same configuration.
    let backup = c.root.join("backup.json");
    let dir = c.files(2).config_dir.display().to_string();
    let b = backup.to_str().unwrap_or_default();
    cli(&c, 2, &["config", "backup", b, "--dir", &dir])?;
    for step in [
        &["resource", "delete", "--no-wait", "d1"][..],
        &["resource", "delete", "--no-wait", "g"],
        &["property", "set", "--no-wait", "no-quorum-policy=ignore"],
        &[
            "resource",
            "defaults",
            "--no-wait",
            "resource-stickiness=",
            "priority=3",
        ],
        &["node", "attribute", "--no-wait", "n1", "rack=", "zone=z"],
        &[
            "resource",
            "create",
            "--no-wait",
            "other",
            "ocf:pacemaker:Dummy",
        ],
    ] {
        cli(&c, 1, step)?;
    }
    ensure(config_json(&c, 1)? != want, "nothing changed")?;
    cli(
        &c,
        3,
        &["config", "restore", b, "--dir", &dir, "--wait=60s"],
    )?;
    let got = config_json(&c, 1)?;
    ensure(
        got == want,
        &format!("restored configuration differs:\nbefore {want:#}\nafter {got:#}"),
    )?;
    ensure(
        dummy_on(&c, "other").is_empty(),
        "the resource the restore removed still runs",
    )?;

    rebuild(&mut c)?;
    ensure(
        config_json(&c, 1)?["resources"] == serde_json::json!([]),
        "the new cluster is not empty",
    )?;
    let bin_dir = c.bin.parent().map(Path::to_path_buf).unwrap_or_default();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH")?);
    let o = std::process::Command::new("sh")
        .arg(&script_file)
        .env("PATH", path)
        .env("HACTL_SOCKET", &c.files(3).socket)
        .output()?;
    ensure(
        o.status.success(),
        &format!("the exported script failed: {}", stderr(&o)),
    )?;
    // The script's node (n3) answered each command once it applied there; n1
    // may apply the last one a moment later.
    let got = config_json(&c, 3)?;
    ensure(
        got == want,
        &format!("configurations differ:\nbefore {want:#}\nafter {got:#}"),
    )?;
    c.wait_until("n1 has the rebuilt configuration", T, || {
        Ok((config_json(&c, 1)? == want).then_some(()))
    })?;
    c.wait_until("the recreated resources run, settled", T, || {
        let on = ["d1", "d2", "d3"].map(|r| dummy_on(&c, r));
        Ok((settled(&c.cib(1)?) && on.iter().all(|n| n.len() == 1)).then_some(()))
    })?;
    Ok(())
}
