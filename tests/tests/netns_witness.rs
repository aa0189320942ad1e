//! Two nodes and a witness end to end (docs/architecture.md, "Witness"): the two-node
//! lab of `netns_two_node.rs` (real daemons set up by `hactl cluster setup`, the
//! seed's group of an IPaddr2 VIP and haproxy, real fence_virtd on a third host) plus a
//! real `hactl witness` on that third host, set up with `hactl cluster witness add`
//! and `hactl witness add-cluster`. A watcher looks at both nodes' addresses every
//! 10 ms: the VIP must never be up on both.
//!
//! A node is "killed" as a power cut (`two_node_lab::power_off`: every process in its
//! namespace, its link, its VIP); the witness by kill -9.
//!
//! Needs root; fails without it unless `HACTL_SKIP_ROOT_TESTS=1`.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use hactl_tests::controller_lab::{idx, wait_group_on};
use hactl_tests::netns::require_root;
use hactl_tests::two_node_lab::{
    boot, holds_vip, lab, membership, other, power_off, watched, Lab, GROUP_RSCS, T,
};
use hactl_tests::witness_lab::{add_witness, wait_witness, witness_seen, WitnessHost};

/// Recovery without fencing waits out the lost node's stop timeouts (haproxy's 20 s
/// default) in the split-brain hold: longer than the lab's usual bound.
const RECOVERY: Duration = Duration::from_secs(120);

fn both_voters(l: &Lab) -> Result<()> {
    let want = vec![
        ("n1".to_string(), "voter".to_string()),
        ("n2".to_string(), "voter".to_string()),
    ];
    l.c.wait_until("both voters", T, || {
        Ok((membership(&l.c, 1)? == want && membership(&l.c, 2)? == want).then_some(()))
    })
}

/// Two nodes, a witness, fencing on or off, the group started (`extra` properties);
/// returns where it runs.
fn witness_lab(
    prefix: &str,
    subnet: &str,
    fencing: bool,
    extra: &[&str],
) -> Result<(Lab, WitnessHost, usize)> {
    let mut l = lab(prefix, subnet)?;
    let mut w = add_witness(&l)?;
    w.start()?;
    let on = l.start_configured(fencing, extra)?;
    wait_witness(&l, &[1, 2], "")?;
    Ok((l, w, on))
}

/// Kills node `k` (a power cut) and waits for the group on the other node, which the
/// witness granted; the VIP is never up on both.
fn kill_and_recover(l: &Lab, k: usize) -> Result<()> {
    let s = other(k);
    watched(l, |w| {
        power_off(l, k);
        let t0 = Instant::now();
        wait_group_on(&l.c, s, &GROUP_RSCS, RECOVERY, |n| n == format!("n{s}"))?;
        l.c.wait_until("the VIP up on the survivor", T, || {
            Ok(holds_vip(l, s).then_some(()))
        })?;
        eprintln!("n{k} killed: group on n{s} after {:?}", t0.elapsed());
        if w.max_holders.load(Ordering::SeqCst) > 1 {
            bail!("the VIP was up on both nodes at once");
        }
        Ok(())
    })?;
    wait_witness(l, &[s], &format!("n{s}"))
}

#[test]
fn netns_witness_each_of_the_three_killed_in_turn() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let (mut l, mut w, h) = witness_lab("hx-wk", "10.88.4", false, &[])?;
    let o = other(h);
    // Without fencing but with a witness, `cluster verify` finds two-node mode safe.
    let (_, text) = l.verify(o)?;
    if text.contains("two-node-without-fencing") {
        bail!("cluster verify with a witness: {text}");
    }

    // The witness dies and comes back while both nodes run: nothing changes (no
    // election, the group stays, both keep quorum).
    // (The DC need not be the node that runs the group.)
    let before = l.c.status(h)?;
    let (term, dc) = (before.term, before.dc);
    w.kill();
    l.c.wait_until("the witness seen unreachable", T, || {
        Ok((!witness_seen(&l, 1)?.0 && !witness_seen(&l, 2)?.0).then_some(()))
    })?;
    w.start()?;
    wait_witness(&l, &[1, 2], "")?;
    for i in [1, 2] {
        let s = l.c.status(i)?;
        if s.term != term || !s.has_quorum || s.dc != dc {
            bail!(
                "n{i} after the witness restart: term {} (was {term}), quorum {}, DC {:?} \
                 (was {dc:?})",
                s.term,
                s.has_quorum,
                s.dc
            );
        }
    }
    wait_group_on(&l.c, o, &GROUP_RSCS, T, |n| n == format!("n{h}"))?;
    if holds_vip(&l, o) {
        bail!("n{o} holds the VIP after the witness restart");
    }

    // The holder dies: the other node is granted and recovers the group.
    kill_and_recover(&l, h)?;
    // It comes back, catches up, and the grant is given back once both are voters.
    boot(&mut l, h)?;
    both_voters(&l)?;
    wait_witness(&l, &[1, 2], "")?;

    // Now the other one dies: the first is granted in turn.
    kill_and_recover(&l, o)?;
    Ok(())
}

/// Waits until the witness's grant went to one node `s` and both see it: `s` leads
/// alone with quorum, the other has no quorum (it was refused: a second grant would
/// make it a sole voter with quorum too). Returns `s`.
fn wait_one_granted(l: &Lab, both: &[usize]) -> Result<usize> {
    l.c.wait_until("one node granted, the other refused", RECOVERY, || {
        let (_, holder) = witness_seen(l, both[0])?;
        let Ok(s) = idx(&holder) else {
            return Ok(None);
        };
        for &i in both {
            let st = l.c.status(i)?;
            let held = st.witness.as_ref().map(|w| w.holder.as_str()) == Some(holder.as_str());
            if !held || st.has_quorum != (i == s) {
                return Ok(None);
            }
        }
        Ok(Some(s))
    })
}

/// The link between the nodes cut, both still reaching the witness (and fence_virtd):
/// exactly one carries on with the group, the other stops (or, with fencing, is
/// fenced); the VIP is never up on both. With `priority-fencing-delay` set (`priority`)
/// the node running the group (priority 10) is the one granted, and the group stays.
fn partition_one_carries_on(
    prefix: &str,
    subnet: &str,
    fencing: bool,
    priority: bool,
) -> Result<()> {
    let extra: &[&str] = if priority {
        &["priority-fencing-delay=2s"]
    } else {
        &[]
    };
    let (l, _w, h) = witness_lab(prefix, subnet, fencing, extra)?;
    watched(&l, |w| {
        l.c.net.partition(&[1], &[2])?;
        let s = if fencing {
            // The granted node's DC fences the refused one (fencing still runs where
            // configured); the lab's power gate turns that into a power cut before
            // fence_virtd's answer reaches it.
            l.c.wait_until("one node fenced", RECOVERY, || {
                Ok((!w.fenced().is_empty()).then_some(()))
            })?;
            let fenced = w.fenced();
            let [f] = fenced[..] else {
                bail!("fenced: {fenced:?}, expected exactly one node");
            };
            wait_witness(&l, &[other(f)], &format!("n{}", other(f)))?;
            other(f)
        } else {
            wait_one_granted(&l, &[1, 2])?
        };
        let at = wait_group_on(&l.c, s, &GROUP_RSCS, RECOVERY, |n| n == format!("n{s}"))?;
        l.c.wait_until("the VIP up on the survivor", T, || {
            Ok(holds_vip(&l, s).then_some(()))
        })?;
        let st = l.c.status(s)?;
        let voters: Vec<&str> = st
            .nodes
            .iter()
            .filter(|n| n.membership == "voter")
            .map(|n| n.name.as_str())
            .collect();
        if voters != [format!("n{s}")] {
            bail!("voters on the survivor: {voters:?}");
        }
        if fencing && w.fenced() != vec![other(s)] {
            bail!("fenced: {:?}, expected only n{}", w.fenced(), other(s));
        }
        if w.max_holders.load(Ordering::SeqCst) > 1 {
            bail!("the VIP was up on both nodes at once");
        }
        if priority && s != h {
            bail!("n{s} granted, but the group's node n{h} should have been (priority delay)");
        }
        eprintln!(
            "partition: n{} refused, group on {at} (was on n{h})",
            other(s)
        );
        Ok(())
    })
}

#[test]
fn netns_witness_partition_grants_the_priority_groups_node() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    partition_one_carries_on("hx-wp", "10.88.5", false, true)
}

#[test]
fn netns_witness_partition_with_fencing_fences_the_refused_node() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    partition_one_carries_on("hx-wf", "10.88.6", true, false)
}
