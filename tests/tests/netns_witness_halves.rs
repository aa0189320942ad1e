//! A witness for four nodes, two sites of two (docs/architecture.md, "Witness"): real daemons in network namespaces set up by
//! `hactl cluster setup`, a real `hactl witness` on one more host set up with `hactl
//! cluster witness add` and `hactl witness add-cluster`, fencing off (the witness is
//! what lets a half continue), the native VIP
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
//! The half is granted only once both its nodes asked, and only its node with the
//! greater log end forces the new configuration (the other follows it).
//!
//! Needs root; fails without it unless `HACTL_SKIP_ROOT_TESTS=1`. Run under
//! `flock /tmp/hactl-netns.lock`.

use std::time::Duration;

use anyhow::{bail, Result};
use hactl_tests::cluster::Cluster;
use hactl_tests::controller_lab::{kill_node, start_nodes, NsReaper};
use hactl_tests::netns::require_root;
use hactl_tests::vip_watch::{fencing_off_with_a_short_hold_vip, wait_vip_once, VipWatch};
use hactl_tests::witness_lab::{add_witness_for, WitnessHost};

const T: Duration = Duration::from_secs(60);

/// A lab of `all.len()` nodes on `subnet`, its VIP at `.100`.
struct Lab {
    c: Cluster,
    all: Vec<usize>,
    vip: String,
    _w: WitnessHost,
}

/// [`wait_vip_once`] on the lab's nodes.
fn vip_once(l: &Lab, via: usize, among: &[usize]) -> Result<usize> {
    wait_vip_once(&l.c, &l.vip, &l.all, via, among, T)
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

/// Waits until all are voters again as each sees it, and each sees the witness
/// holding no grant.
fn wait_whole(l: &Lab) -> Result<()> {
    let c = &l.c;
    c.wait_seeing("every node a voter, the grant released", T, || {
        for &i in &l.all {
            let v = voters(c, i)?;
            let w = c.status(i)?.witness;
            let held = w.as_ref().map(|w| (w.reachable, w.holder.clone()));
            if v != names(&l.all) || held != Some((true, String::new())) {
                return Ok(Err(format!(
                    "n{i}: voters {v:?}, witness (reachable, holder) {held:?}"
                )));
            }
        }
        Ok(Ok(()))
    })
}

fn lab(prefix: &str, n: usize, subnet: &str) -> Result<Lab> {
    // Node namespaces 1..=n, the witness host n + 1.
    let mut c = Cluster::setup_with_spares(prefix, n, 1, subnet, None)?;
    let mut w = add_witness_for(&c, n + 1, n)?;
    w.start()?;
    start_nodes(&mut c, n)?;
    let all: Vec<usize> = (1..=n).collect();
    let vip = format!("{subnet}.100");
    let dc = c.wait_dc(&all, T)?;
    c.wait_joined(dc, &all, T)?;
    fencing_off_with_a_short_hold_vip(&c, dc, &vip, T)?;
    let l = Lab { c, all, vip, _w: w };
    vip_once(&l, dc, &l.all)?;
    wait_whole(&l)?;
    Ok(l)
}

/// Cuts `a` from `b`; one half carries on with the VIP; heals; returns the half granted.
fn split_and_heal(l: &Lab, w: &VipWatch, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let c = &l.c;
    c.net.partition(a, b)?;
    let half = wait_one_half(c, a, b)?;
    let on = vip_once(l, half[0], &half)?;
    eprintln!("{a:?} | {b:?}: half {half:?} granted, the VIP on n{on}");
    if w.max_holders() > 1 {
        c.mark_failed();
        bail!(
            "the VIP was up on two nodes at once for {} ms",
            w.doubled().as_millis()
        );
    }
    c.net.heal()?;
    wait_whole(l)?;
    vip_once(l, half[0], &l.all)?;
    Ok(half)
}

/// The half running the VIP (the VIP's node and the next ones) loses power; the other
/// half carries on with it.
fn power_off_the_vips_half(l: &mut Lab, watch: &VipWatch) -> Result<()> {
    let dc = l.c.wait_dc(&l.all, T)?;
    let on = vip_once(l, dc, &l.all)?;
    let k = l.all.len() / 2;
    let mut gone = vec![on];
    gone.extend(l.all.iter().copied().filter(|&i| i != on).take(k - 1));
    let rest: Vec<usize> = l
        .all
        .iter()
        .copied()
        .filter(|i| !gone.contains(i))
        .collect();
    for &i in &gone {
        kill_node(&mut l.c, i)?;
    }
    wait_one_half(&l.c, &gone, &rest)?;
    let now = vip_once(l, rest[0], &rest)?;
    eprintln!("{gone:?} powered off: the VIP on n{now}");
    if watch.max_holders() > 1 {
        l.c.mark_failed();
        bail!(
            "the VIP was up on two nodes at once for {} ms",
            watch.doubled().as_millis()
        );
    }
    Ok(())
}

#[test]
fn netns_witness_settles_a_split_of_two_sites_of_two() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut l = lab("hx-wh", 4, "10.95.3")?;
    let _reaper = NsReaper::new(&l.c);
    let watch = VipWatch::start(&l.vip, l.all.iter().map(|&i| (i, l.c.net.ns(i))).collect());
    split_and_heal(&l, &watch, &[1, 2], &[3, 4])?;
    split_and_heal(&l, &watch, &[1, 3], &[2, 4])?;
    power_off_the_vips_half(&mut l, &watch)
}
