//! One witness, two real clusters (issue 14: "one witness can serve several
//! clusters"; docs/architecture.md, "Witness"). Two two-node labs as in
//! `netns_witness.rs` (real daemons set up by `hactl cluster setup`, each cluster with
//! its own name and CA, the seed's group of an IPaddr2 VIP and haproxy), fencing off in
//! both, and ONE real `hactl witness run` on lab A's fence_virtd host with a second
//! network leg (a veth) into lab B's switch. Each cluster is set up for it as an
//! operator does: `hactl cluster witness add ADDR` where its CA key is and on its
//! nodes, `hactl witness add-cluster BUNDLE` twice into the same `--dir`. The
//! in-process counterpart is
//! `crates/hactl-witness/tests/server.rs::two_clusters_one_witness_each_grants_one_node`.
//!
//! A node is "killed" as a power cut (`two_node_lab::power_off`). A watcher per lab
//! looks at both nodes' addresses every 10 ms: the VIP must never be up on both.
//!
//! Needs root; fails without it unless `HACTL_SKIP_ROOT_TESTS=1`.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use hactl_tests::controller_lab::wait_group_on;
use hactl_tests::netns::require_root;
use hactl_tests::two_node_lab::{
    holds_vip, lab, other, power_off, watched, Lab, Watch, GROUP_RSCS, T,
};
use hactl_tests::witness_lab::{add_witness, wait_witness, witness_seen};

/// Recovery without fencing waits out the lost node's stop timeouts (haproxy's 20 s
/// default) in the split-brain hold: longer than the lab's usual bound.
const RECOVERY: Duration = Duration::from_secs(120);

/// Waits until survivor `s` of lab `l` sees itself as the witness's holder, then runs
/// the group with the VIP up (in that order: a survivor that ran the group already
/// must still run it once the loss is settled).
fn wait_survivor(l: &Lab, s: usize) -> Result<()> {
    let node = format!("n{s}");
    wait_witness(l, &[s], &node)?;
    wait_group_on(&l.c, s, &GROUP_RSCS, RECOVERY, |n| n == node)?;
    l.c.wait_until("the VIP up on the survivor", T, || {
        Ok(holds_vip(l, s).then_some(()))
    })
}

/// The VIP of lab `l` was never up on both of its nodes while `w` watched.
fn never_twice(l: &Lab, w: &Watch) -> Result<()> {
    let most = w.max_holders.load(Ordering::SeqCst);
    if most > 1 {
        l.c.mark_failed();
        bail!("{}: the VIP was up on {most} nodes at once", l.c.name);
    }
    Ok(())
}

#[test]
fn netns_one_witness_serves_two_clusters() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let t0 = Instant::now();
    let mut a = lab("hx-wsa", "10.92.0")?;
    a.c.rename("alpha")?;
    let mut b = lab("hx-wsb", "10.92.1")?;
    b.c.rename("beta")?;
    let mut w = add_witness(&a)?;
    let b_knows = w.serve_too(&b)?;
    w.start()?;
    let on_a = a.start_configured(false, &[])?;
    let on_b = b.start_configured(false, &[])?;
    wait_witness(&a, &[1, 2], "")?;
    wait_witness(&b, &[1, 2], "")?;
    eprintln!(
        "{:?}: alpha's group on n{on_a}, beta's on n{on_b}; witness at {} and {b_knows}",
        t0.elapsed(),
        w.addr
    );

    // Survivors with different names (n1 of alpha, n2 of beta): a witness that kept
    // one grant for every cluster would grant the first to ask and refuse the other,
    // which would then stop its group (no-quorum-policy=stop).
    let (sa, sb) = (1, 2);
    watched(&a, |wa| {
        watched(&b, |wb| {
            power_off(&a, other(sa));
            power_off(&b, other(sb));
            let cut = Instant::now();
            wait_survivor(&a, sa)?;
            wait_survivor(&b, sb)?;
            eprintln!(
                "both survivors granted and running the group {:?} after the cuts",
                cut.elapsed()
            );
            // Both grants are held at once: one per cluster.
            let (ga, gb) = (witness_seen(&a, sa)?, witness_seen(&b, sb)?);
            if ga != (true, format!("n{sa}")) || gb != (true, format!("n{sb}")) {
                bail!("the witness as alpha's n{sa} sees it: {ga:?}, as beta's n{sb}: {gb:?}");
            }
            never_twice(&a, wa)?;
            never_twice(&b, wb)?;
            // A survivor that ran its group already keeps it running: its quorum count
            // drops (by round trip) a little before the peer is lost and the witness
            // asked, and the policy must wait for the answer, not stop the group.
            for (l, wl, on, s) in [(&a, wa, on_a, sa), (&b, wb, on_b, sb)] {
                let fewest = wl.min_holders.load(Ordering::SeqCst);
                eprintln!("{}: fewest VIP holders at once: {fewest}", l.c.name);
                if on == s && fewest == 0 {
                    l.c.mark_failed();
                    bail!(
                        "{}: the survivor n{s} ran the group, yet the VIP went down",
                        l.c.name
                    );
                }
            }
            Ok(())
        })
    })?;
    eprintln!("{:?} in all", t0.elapsed());
    Ok(())
}
