//! Two-node fenced failover benchmark (docs/benchmarks.md, "Two-node fenced failover"):
//! the lab of `hactl_tests::two_node_lab` (two daemons, default heartbeat profile, real
//! fence_virtd, the native `fence_hactl_xvm` device, group IPaddr2 VIP + haproxy), a
//! client polling the VIP every 10 ms. Each trial: kill -9 of the holder's daemon → the
//! survivor fences it (fence_virtd turns its domain off, the lab powers its namespace
//! off) → continues alone → the VIP answers from the survivor's MAC. The fenced node is
//! then powered on again and rejoins before the next trial (roles alternate).
//!
//! With `cut` (issue 14.2, the fence race): each trial cuts the link between the two
//! nodes instead (both still reach fence_virtd), with `priority-fencing-delay=5s`:
//! every run must fence exactly the node without the group, the group must stay
//! where it ran and the VIP never be up on both; the fenced node is powered on and
//! rejoins before the next run. The group is moved to n1 before the odd runs and to n2
//! before the even ones (`hactl resource move`), so half the runs fence each node.
//! Prints each run and how many runs were right, and how many fenced each node.
//!
//! Usage: bench_two_node [TRIALS] [kill|cut] (default 20 kill). Needs root.

use anyhow::{bail, Result};
use hactl_tests::controller_lab::{idx, mac_of, unix_now, wait_group_on, Poller};
use hactl_tests::netns::{require_root, run};
use hactl_tests::two_node_lab::{
    cut_once, lab, move_group, other, power_on, wait_rejoined, watched, Lab, GROUP_RSCS, T,
};

fn main() -> Result<()> {
    if !require_root() {
        bail!("needs root");
    }
    let trials: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(20);
    let cut = match std::env::args().nth(2).as_deref() {
        None | Some("kill") => false,
        Some("cut") => true,
        Some(m) => bail!("mode {m:?}: kill or cut"),
    };
    let mut l = lab("hx-2b", "10.88.9")?;
    l.start(1)?;
    l.start(2)?;
    l.c.wait_dc(&[1, 2], T)?;
    if cut {
        return cuts(&mut l, trials);
    }
    let mut ms = Vec::new();
    // Panic (not return) on a failure while the lab is alive: its drop then prints the
    // daemons' logs.
    if let Err(e) = run_trials(&mut l, trials, &mut ms) {
        panic!("after {} trials: {e:#}", ms.len());
    }
    hactl_tests::bench::summary(
        "two-node fenced failover (kill -9 -> VIP elsewhere)",
        &mut ms,
    );
    Ok(())
}

fn run_trials(l: &mut Lab, trials: usize, ms: &mut Vec<f64>) -> Result<()> {
    let mut on = l.configure(true, &[])?;
    let poller = Poller::start(&l.client(), &l.vip, 80)?;
    for trial in 1..=trials {
        let h = idx(&on)?;
        let s = other(h);
        let survivor_mac = mac_of(&l.c, s)?;
        let Some(pid) = l.c.pid(h) else {
            bail!("{on}'s daemon is not running");
        };
        let took = watched(l, |w| {
            let t0 = unix_now();
            run("kill", &["-9", "--", &format!("-{pid}")])?;
            let up = l.c.wait_until("VIP answering from the survivor", T, || {
                Ok(poller.first_up_after(t0, |m| m == survivor_mac))
            })?;
            if w.max_holders.load(std::sync::atomic::Ordering::SeqCst) > 1 {
                bail!("the VIP was up on both nodes at once");
            }
            Ok((up - t0) * 1000.0)
        })?;
        println!("trial {trial}: kill -9 of {on} -> VIP from n{s} after {took:.0} ms");
        ms.push(took);
        on = wait_group_on(&l.c, s, &GROUP_RSCS, T, |n| n != on)?;
        power_on(l, h, s)?;
        // Only once the returning node takes part may the next trial start.
        wait_rejoined(l, s, h)?;
    }
    Ok(())
}

/// The fence race, `trials` times.
fn cuts(l: &mut Lab, trials: usize) -> Result<()> {
    l.configure(true, &["priority-fencing-delay=5s"])?;
    let poller = Poller::start_http(&l.client(), &l.vip, 80)?;
    let mut right = 0;
    // Runs in which n1, n2 was fenced (whether or not the run was right).
    let mut fenced = [0usize; 2];
    let mut ms = Vec::new();
    for trial in 1..=trials {
        // Half the runs with the group on each node: a bias towards one node (its
        // index, its name) must not pass for the priority rule.
        let want = if trial % 2 == 1 { 1 } else { 2 };
        if let Err(e) = move_group(l, want) {
            panic!("cut {trial}: moving the group to n{want}: {e:#}");
        }
        let r = match cut_once(l, &poller) {
            Ok(r) => r,
            Err(e) => panic!("cut {trial}: {e:#}"),
        };
        println!(
            "cut {trial}: group on {}, fenced {:?}, group after on {}, VIP holders {}..{}, answers from elsewhere {}, failed requests {}, fencing recorded after {:.0} ms: {}",
            r.before,
            r.fenced,
            r.after,
            r.min_holders,
            r.max_holders,
            r.answered_elsewhere,
            r.failed_requests,
            r.fenced_after_ms,
            if r.ok() { "ok" } else { "WRONG" }
        );
        right += usize::from(r.ok());
        for &k in &r.fenced {
            if let Some(n) = fenced.get_mut(k.wrapping_sub(1)) {
                *n += 1;
            }
        }
        ms.push(r.fenced_after_ms);
    }
    println!("RESULT cut-link runs={trials} right={right} (exactly the node without the group fenced, the group stayed, ran once and kept running); n1 fenced in {} runs, n2 in {}", fenced[0], fenced[1]);
    hactl_tests::bench::summary("cut -> fencing recorded on the survivor", &mut ms);
    Ok(())
}
