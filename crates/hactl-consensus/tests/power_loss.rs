//! Durability against power loss: a node's state dir on a filesystem that keeps only
//! what was fsynced when the power is cut (tests/support/powerfail.rs, mounted with
//! FUSE; needs root and /dev/fuse). Acknowledged writes must survive the cut; a
//! store on a full disk must fail, not be damaged.

#[path = "support/powerfail.rs"]
mod powerfail;

use std::time::Duration;

use hactl_consensus::testing::MemCluster;
use hactl_consensus::{Change, Handle, ProposeError};
use powerfail::PowerFail;

const T: Duration = Duration::from_secs(10);

/// Mounts the filesystem in a fresh temporary directory, or says why the test cannot
/// run here (not root, no /dev/fuse) and returns None.
fn mount() -> Option<(tempfile::TempDir, PowerFail, fuser::BackgroundSession)> {
    if !nix_is_root() || !std::path::Path::new("/dev/fuse").exists() {
        eprintln!("SKIPPED: needs root and /dev/fuse to mount the power-loss filesystem");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let (fs, session) = PowerFail::mount(dir.path()).expect("mounting the FUSE filesystem");
    Some((dir, fs, session))
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

fn write(h: &Handle, name: &str) -> Result<u64, ProposeError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let change = Change::SetProperty {
            name: name.into(),
            value: "1".into(),
        };
        match tokio::time::timeout(Duration::from_secs(5), h.propose(change)).await {
            Ok(r) => r,
            Err(_) => Err(ProposeError::Dropped("timed out".into())),
        }
    })
}

/// Waits until node 1 has applied every write in `names`; the missing ones otherwise.
fn missing_after_restart(c: &MemCluster, names: &[String]) -> Vec<String> {
    let r = c.wait_for(T, |s| {
        s.get(&1).is_some_and(|st| {
            names
                .iter()
                .all(|n| st.cib.config.properties.contains_key(n))
        })
    });
    let s = match r {
        Ok(s) | Err(s) => s,
    };
    let props = s.get(&1).map(|st| st.cib.config.properties.clone());
    names
        .iter()
        .filter(|n| !props.as_ref().is_some_and(|p| p.contains_key(*n)))
        .cloned()
        .collect()
}

#[test]
fn acknowledged_writes_survive_a_power_cut() {
    let Some((dir, fs, session)) = mount() else {
        return;
    };
    let mut c = MemCluster::new(1, dir.path().join("cluster")).unwrap();
    c.wait_leader(&[1], T).expect("leader");
    let h = c.node(1).unwrap();
    let fsyncs_before = fs.fsyncs();
    let names: Vec<String> = (0..20).map(|i| format!("acked-{i}")).collect();
    for n in &names {
        write(&h, n).expect("write acknowledged");
    }
    let fsyncs = fs.fsyncs() - fsyncs_before;
    // The power goes while the node runs; what it does after that fails with EIO.
    fs.power_off();
    c.stop(1);
    fs.power_on();
    c.restart(1)
        .expect("the node starts again from what was durable");
    c.wait_leader(&[1], T).expect("leader after the power cut");
    let missing = missing_after_restart(&c, &names);
    assert!(
        missing.is_empty(),
        "acknowledged writes lost in the power cut ({fsyncs} fsyncs while writing): {missing:?}"
    );
    drop(c);
    drop(session);
}

#[test]
fn a_full_disk_fails_the_node_but_does_not_damage_its_store() {
    let Some((dir, fs, session)) = mount() else {
        return;
    };
    let mut c = MemCluster::new(1, dir.path().join("cluster")).unwrap();
    c.wait_leader(&[1], T).expect("leader");
    let names: Vec<String> = (0..10).map(|i| format!("before-full-{i}")).collect();
    for n in &names {
        write(&c.node(1).unwrap(), n).expect("write acknowledged");
    }
    c.stop(1);
    fs.set_free_space(0);
    // Starting on the full disk either fails at once or the node stops on its first
    // write; it must not acknowledge anything it could not store.
    if c.restart(1).is_ok() {
        let h = c.node(1).unwrap();
        let r = write(&h, "on-full-disk");
        assert!(r.is_err(), "a write on a full disk was acknowledged: {r:?}");
        c.stop(1);
    }
    fs.set_free_space(1 << 30);
    c.restart(1)
        .expect("the store is readable once there is space again");
    c.wait_leader(&[1], T)
        .expect("leader after the disk was freed");
    let missing = missing_after_restart(&c, &names);
    assert!(
        missing.is_empty(),
        "writes lost to the full disk: {missing:?}"
    );
    write(&c.node(1).unwrap(), "after-full-disk").expect("writes work again");
    drop(c);
    drop(session);
}

/// Two-node mode: the survivor that went on alone (`force_alone`) and has since made
/// its returning peer a voter again must not come back from a power cut as the only
/// voter. Its peer is a voter now and could itself go on alone after fencing it: two
/// single voters would each commit their own entries. So the membership change that
/// made the peer a voter again is durable before the peer can learn it committed.
/// (Seen in the two-node benchmark as two leaders in one term, then a survivor whose
/// log had diverged and whose DC did nothing.)
#[test]
fn a_two_node_survivor_does_not_lead_alone_after_a_power_cut() {
    let Some((dir, fs, session)) = mount() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut c = MemCluster::new(2, dir.path().join("cluster")).unwrap();
    let old_leader = c.wait_leader(&[1, 2], T).expect("a leader");
    let survivor = 3 - old_leader;
    let s = c.node(survivor).unwrap();
    c.partition(&[survivor], &[old_leader]);
    c.stop(old_leader);
    s.seal(&[old_leader]);
    rt.block_on(s.force_alone(hactl_consensus::AloneProof::Fenced {
        peer: old_leader,
        device: "xvm".into(),
        at_unix: 1,
    }))
    .expect("alone");
    write(&s, "alone").expect("the survivor commits alone");
    c.heal();
    c.restart(old_leader).unwrap();
    c.wait_for(T, |st| {
        st.values()
            .all(|x| x.voters == vec![1, 2] && x.learners.is_empty())
    })
    .expect("a voter again");
    // Nothing written since; both lose power and come back unable to reach each other.
    fs.power_off();
    c.stop(survivor);
    c.stop(old_leader);
    fs.power_on();
    c.partition(&[survivor], &[old_leader]);
    c.restart(survivor).unwrap();
    c.restart(old_leader).unwrap();
    let alone = c.wait_for(Duration::from_secs(3), |st| {
        st.get(&survivor).is_some_and(|x| x.is_leader())
    });
    if let Ok(st) = alone {
        panic!(
            "the survivor leads alone after the power cut: voters {:?}",
            st[&survivor].voters
        );
    }
    drop(c);
    drop(session);
}
