//! Heartbeat timing read from the CIB, end to end: three real daemons in network
//! namespaces, started without `--profile` and without `heartbeat_profile` in
//! `cluster.toml`. `hactl property set heartbeat-profile=fast` applies to each daemon
//! at its next start (Raft's clock is chosen before consensus starts), and each node
//! records the timing it runs with (`hactl-liveness`), which the DC's split-brain
//! hold reads for a node that runs another timing than its own.
//!
//! Needs root; fails without it unless `HACTL_SKIP_ROOT_TESTS=1`.

use std::time::Duration;

use anyhow::Result;
use hactl_tests::cluster::Cluster;
use hactl_tests::controller_lab::{cli, start_node, NsReaper};
use hactl_tests::netns::require_root;

const T: Duration = Duration::from_secs(60);
/// `interval,lost_after,slack` in ms, as the profiles define them.
const DEFAULT: &str = "50,250,20";
const FAST: &str = "20,80,12";

fn liveness(c: &Cluster, via: usize, of: usize) -> Result<Option<String>> {
    Ok(c.cib(via)?
        .status
        .nodes
        .get(&format!("n{of}"))
        .and_then(|st| st.attributes.get("hactl-liveness").cloned()))
}

#[test]
fn netns_heartbeat_profile_from_the_cib_applies_at_the_next_start() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut c = Cluster::setup("hx-t", 3, "10.89.7", None)?;
    let _reaper = NsReaper::new(&c);
    for i in 1..=3 {
        start_node(&mut c, i)?;
    }
    c.wait_dc(&[1, 2, 3], T)?;
    for i in 1..=3 {
        c.wait_until(&format!("n{i} records the default timing"), T, || {
            Ok((liveness(&c, 1, i)?.as_deref() == Some(DEFAULT)).then_some(()))
        })?;
    }
    cli(&c, 1, &["property", "set", "heartbeat-profile=fast"])?;
    // The running daemons keep their timing; n3, restarted, runs the CIB's.
    let st = c.stop(3, T)?;
    anyhow::ensure!(st.success(), "n3 exit status {st}");
    start_node(&mut c, 3)?;
    c.wait_until("n3 back with the fast timing", T, || {
        Ok((liveness(&c, 1, 3)?.as_deref() == Some(FAST)).then_some(()))
    })?;
    anyhow::ensure!(
        liveness(&c, 1, 1)?.as_deref() == Some(DEFAULT),
        "n1 changed its timing without a restart"
    );
    c.wait_dc(&[1, 2, 3], T)?;
    Ok(())
}
