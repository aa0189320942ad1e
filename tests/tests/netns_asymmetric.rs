//! An asymmetric partition end to end (core safety: a service never runs twice).
//! Three real daemons in network namespaces, fencing off (`stonith-enabled=false`: the
//! split-brain hold of docs/architecture.md "Split brain" is then the only guard), the
//! native VIP `ocf:hactl:VIP` with a 1 s stop timeout (a hold of about 1.1 s) on node
//! k, which is not the DC. Everything k sends to its peers is dropped in the lab's
//! switch (`Net::cut_one_way`: IP only, ARP passes) while k still receives everything
//! they send: k hears a majority's heartbeats, its peers hear nothing from it.
//!
//! A node that counted a peer toward its quorum because it *hears* it would keep
//! quorum and the VIP while the majority's DC declares it lost, waits the hold and
//! starts the VIP elsewhere: the VIP up on two nodes. The test watches every node's
//! addresses every 10 ms (`vip_watch`) from before the cut until k has rejoined after
//! the heal, and fails if two ever held the VIP at once; it prints how long that was,
//! and when each side acted after the cut.
//!
//! Needs root; fails without it unless `HACTL_SKIP_ROOT_TESTS=1`. Run under
//! `flock /tmp/hactl-netns.lock`.

use std::time::Duration;

use anyhow::{bail, Result};
use hactl_proto::client::NodeState;
use hactl_tests::cluster::Cluster;
use hactl_tests::controller_lab::{cli, start_nodes, unix_now, NsReaper};
use hactl_tests::netns::require_root;
use hactl_tests::vip_watch::{fencing_off_with_a_short_hold_vip, wait_vip_once, VipWatch};

const VIP: &str = "10.95.1.100";
const T: Duration = Duration::from_secs(40);

/// [`wait_vip_once`] on this test's three nodes.
fn vip_once(c: &Cluster, via: usize, among: &[usize]) -> Result<usize> {
    wait_vip_once(c, VIP, &[1, 2, 3], via, among, T)
}

/// The VIP's timeline around the cut at `cut` (unix s) as the report reads it.
fn report(w: &VipWatch, cut: f64, k: usize) {
    let ms = |t: f64| ((t - cut) * 1000.0).round() as i64;
    for h in w.timeline().iter().filter(|h| h.since >= cut) {
        eprintln!("cut +{} ms: VIP up on {:?}", ms(h.since), h.holders);
    }
    eprintln!(
        "n{k} cut one way: the VIP was up on two nodes at once for {} ms in all",
        w.doubled().as_millis()
    );
}

#[test]
fn netns_asymmetric_cut_never_runs_the_vip_twice() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut c = Cluster::setup("hx-as", 3, "10.95.1", None)?;
    let _reaper = NsReaper::new(&c);
    start_nodes(&mut c, 3)?;
    let dc = c.wait_dc(&[1, 2, 3], T)?;
    c.wait_joined(dc, &[1, 2, 3], T)?;
    let k = if dc == 3 { 2 } else { 3 };
    let majority: Vec<usize> = (1..=3).filter(|&i| i != k).collect();
    fencing_off_with_a_short_hold_vip(&c, dc, VIP, T)?;
    vip_once(&c, dc, &[1, 2, 3])?;
    // `move` waits until the VIP runs on k, then drops its constraint: stickiness keeps
    // it there, and nothing pulls it back to k after the heal.
    cli(&c, dc, &["resource", "move", "vip", &format!("n{k}")])?;
    vip_once(&c, dc, &[k])?;

    let w = VipWatch::start(VIP, (1..=3).map(|i| (i, c.net.ns(i))).collect());
    let cut = unix_now();
    c.net.cut_one_way(&[k], &majority)?;
    let what = format!("n{k} without quorum and seen lost by n{dc}");
    let moved = c
        .wait_seeing(&what, T, || {
            let quorum = c.status(k)?.has_quorum;
            let lost = c.node_state(dc, k)?;
            if quorum || lost == NodeState::Online {
                return Ok(Err(format!(
                    "n{k} quorum={quorum}, n{dc} sees n{k} {lost:?}"
                )));
            }
            Ok(Ok(()))
        })
        .and_then(|()| vip_once(&c, dc, &majority));
    report(&w, cut, k);
    let moved = moved?;
    if w.max_holders() > 1 {
        c.mark_failed();
        bail!(
            "the VIP was up on n{k} and the majority at once for {} ms (timeline above)",
            w.doubled().as_millis()
        );
    }
    if !c.log(k).contains("lost_quorum") {
        c.mark_failed();
        bail!("n{k} logged no lost_quorum event");
    }

    c.net.heal()?;
    c.wait_dc(&[1, 2, 3], T)?;
    c.wait_until(&format!("n{k} online again"), T, || {
        Ok((c.node_state(moved, k)? == NodeState::Online).then_some(()))
    })?;
    let after = vip_once(&c, moved, &[moved])?;
    if w.max_holders() > 1 || after != moved {
        c.mark_failed();
        bail!(
            "after the heal: the VIP on n{after}, max holders {}",
            w.max_holders()
        );
    }
    Ok(())
}
