//! A witness for four nodes, two sites of two (docs/architecture.md, "Witness"): four
//! real daemons in network namespaces set up by `hactl cluster setup`, a real `hactl
//! witness` on a fifth host set up with `hactl cluster witness add` and `hactl witness
//! add-cluster`, fencing off (the witness is what lets a half continue), the native VIP
//! `ocf:hactl:VIP` with a 1 s stop timeout (a split-brain hold of about 1.1 s). Every
//! node's addresses are read every 10 ms (`vip_watch`) from the first cut to the end:
//! the VIP must never be up on two nodes.
//!
//! 1. The sites cut apart ({1, 2} | {3, 4}), both reaching the witness: exactly one half
//!    is granted and keeps quorum with its two nodes as the only voters, the other
//!    loses quorum; the VIP runs once, in the granted half.
//! 2. Healed: four voters again, and the witness's grant released (seen by all four).
//! 3. The other split ({1, 3} | {2, 4}): again one half, proving the release let
//!    either half be granted; healed again.
//! 4. The two nodes of the half running the VIP lose power: the other two are granted
//!    and start it.
//!
//! Needs root; fails without it unless `HACTL_SKIP_ROOT_TESTS=1`. Run under
//! `flock /tmp/hactl-netns.lock`.

use std::time::Duration;

use anyhow::{bail, Result};
use hactl_tests::cluster::Cluster;
use hactl_tests::controller_lab::{
    active_on, cli, idx, kill_node, set_properties, settled, start_nodes, NsReaper,
};
use hactl_tests::netns::require_root;
use hactl_tests::vip_watch::{holds, VipWatch};
use hactl_tests::witness_lab::{add_witness_for, WitnessHost};

const VIP: &str = "10.95.3.100";
const T: Duration = Duration::from_secs(60);
const ALL: [usize; 4] = [1, 2, 3, 4];

/// Waits until the VIP is recorded active on one node of `among`, as `via`'s CIB says
/// with nothing left to do, and that node alone has the address; returns it.
fn wait_vip_once(c: &Cluster, via: usize, among: &[usize]) -> Result<usize> {
    c.wait_seeing("the VIP on exactly one node", T, || {
        let cib = c.cib(via)?;
        let on = active_on(&cib, "vip");
        let held: Vec<usize> = ALL
            .into_iter()
            .filter(|&i| holds(&c.net.ns(i), VIP))
            .collect();
        if let [n] = on.as_slice() {
            let n = idx(n)?;
            if among.contains(&n) && settled(&cib) && held == [n] {
                return Ok(Ok(n));
            }
        }
        Ok(Err(format!(
            "recorded active on {on:?}, address on {held:?}, settled: {}",
            settled(&cib)
        )))
    })
}

/// The voters as node `i` sees them.
fn voters(c: &Cluster, i: usize) -> Result<Vec<String>> {
    Ok(c.status(i)?
        .nodes
        .into_iter()
        .filter(|n| n.membership == "voter")
        .map(|n| n.name)
        .collect())
}

fn names(nodes: &[usize]) -> Vec<String> {
    nodes.iter().map(|i| format!("n{i}")).collect()
}

/// Waits until the half `a` or the half `b` is granted: its nodes have quorum, are
/// the only voters and see the witness granting them; the other half has no quorum
/// (or is down). Returns the granted half.
fn wait_one_half(c: &Cluster, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let granted = |i: usize, half: &[usize]| -> Result<bool> {
        let s = c.status(i)?;
        let side = s.witness.map(|w| w.side).unwrap_or_default();
        Ok(s.has_quorum && side == names(half) && voters(c, i)? == names(half))
    };
    let quorate = |i: usize| c.status(i).is_ok_and(|s| s.has_quorum);
    c.wait_seeing("one half granted, the other without quorum", T, || {
        for (half, other) in [(a, b), (b, a)] {
            let mut ok = !other.iter().any(|&i| quorate(i));
            for &i in half {
                ok = ok && granted(i, half).unwrap_or(false);
            }
            if ok {
                return Ok(Ok(half.to_vec()));
            }
        }
        let seen: Vec<String> = a
            .iter()
            .chain(b)
            .map(|&i| match c.status(i) {
                Ok(s) => format!(
                    "n{i}: quorum {}, witness side {:?}",
                    s.has_quorum,
                    s.witness.map(|w| w.side)
                ),
                Err(e) => format!("n{i}: {e:#}"),
            })
            .collect();
        Ok(Err(seen.join("; ")))
    })
}

/// Waits until all four are voters again as each sees it, and each sees the witness
/// holding no grant.
fn wait_whole(c: &Cluster) -> Result<()> {
    c.wait_seeing("four voters, the grant released", T, || {
        for i in ALL {
            let v = voters(c, i)?;
            let w = c.status(i)?.witness;
            let held = w.as_ref().map(|w| (w.reachable, w.holder.clone()));
            if v != names(&ALL) || held != Some((true, String::new())) {
                return Ok(Err(format!(
                    "n{i}: voters {v:?}, witness (reachable, holder) {held:?}"
                )));
            }
        }
        Ok(Ok(()))
    })
}

fn lab() -> Result<(Cluster, WitnessHost, usize)> {
    // Node namespaces 1-4, the witness host 5.
    let mut c = Cluster::setup_with_spares("hx-wh", 4, 1, "10.95.3", None)?;
    let mut w = add_witness_for(&c, 5, 4)?;
    w.start()?;
    start_nodes(&mut c, 4)?;
    let dc = c.wait_dc(&ALL, T)?;
    c.wait_joined(dc, &ALL, T)?;
    set_properties(
        &c,
        dc,
        &["stonith-enabled=false", "no-quorum-policy=stop"],
        T,
    )?;
    cli(
        &c,
        dc,
        &[
            "resource",
            "create",
            "--no-wait",
            "vip",
            "ocf:hactl:VIP",
            &format!("ip={VIP}"),
            "cidr_netmask=24",
            "nic=eth0",
            "op",
            "monitor",
            "interval=1s",
            // The hold is the lost nodes' stop timeouts plus ~100 ms: keep it short.
            "op",
            "stop",
            "timeout=1s",
            "meta",
            "resource-stickiness=100",
        ],
    )?;
    wait_vip_once(&c, dc, &ALL)?;
    wait_whole(&c)?;
    Ok((c, w, dc))
}

/// Cuts `a` from `b`; one half carries on with the VIP; heals; returns the half granted.
fn split_and_heal(c: &Cluster, w: &VipWatch, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    c.net.partition(a, b)?;
    let half = wait_one_half(c, a, b)?;
    let on = wait_vip_once(c, half[0], &half)?;
    eprintln!("{a:?} | {b:?}: half {half:?} granted, the VIP on n{on}");
    if w.max_holders() > 1 {
        c.mark_failed();
        bail!(
            "the VIP was up on two nodes at once for {} ms",
            w.doubled().as_millis()
        );
    }
    c.net.heal()?;
    wait_whole(c)?;
    wait_vip_once(c, half[0], &ALL)?;
    Ok(half)
}

#[test]
fn netns_witness_settles_a_split_of_two_sites_of_two() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let (mut c, _w, _dc) = lab()?;
    let _reaper = NsReaper::new(&c);
    let watch = VipWatch::start(VIP, ALL.iter().map(|&i| (i, c.net.ns(i))).collect());
    split_and_heal(&c, &watch, &[1, 2], &[3, 4])?;
    split_and_heal(&c, &watch, &[1, 3], &[2, 4])?;

    // The half running the VIP loses power; the other two carry on with it.
    let dc = c.wait_dc(&ALL, T)?;
    let on = wait_vip_once(&c, dc, &ALL)?;
    let partner = if on == 1 { 2 } else { 1 };
    let rest: Vec<usize> = ALL
        .into_iter()
        .filter(|i| ![on, partner].contains(i))
        .collect();
    kill_node(&mut c, on)?;
    kill_node(&mut c, partner)?;
    wait_one_half(&c, &[on, partner], &rest)?;
    let now = wait_vip_once(&c, rest[0], &rest)?;
    eprintln!("n{on} and n{partner} powered off: the VIP on n{now}");
    if watch.max_holders() > 1 {
        c.mark_failed();
        bail!(
            "the VIP was up on two nodes at once for {} ms",
            watch.doubled().as_millis()
        );
    }
    Ok(())
}
