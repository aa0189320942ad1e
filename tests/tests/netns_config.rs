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
