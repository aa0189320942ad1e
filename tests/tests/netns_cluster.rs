//! Multi-node tests with real daemons: the built `hactl` binary, one network namespace
//! per node (prefix `hx-c`), the cluster made by `hactl cluster setup`, partitions as
//! nftables drops in the switch namespace, crashes as SIGKILL. Every wait is a bounded
//! poll of the nodes' control sockets.
//!
//! Needs root; set `HACTL_SKIP_ROOT_TESTS=1` to skip when not root. Build the binary
//! first (`cargo build -p hactl`; nextest's workspace run builds it).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use hactl_proto::client::client_request::Request;
use hactl_proto::client::client_response::Response;
use hactl_proto::client::{NodeState, ProposeChange};
use hactl_tests::cluster::{request, Cluster};
use hactl_tests::netns::require_root;
use serde_json::json;

const UP: Duration = Duration::from_secs(30);

fn set(name: &str, value: &str) -> serde_json::Value {
    json!({"change": "set_property", "name": name, "value": value})
}

/// Waits until the nodes agree on applied index and CIB; returns the common CIB.
fn wait_converged(c: &Cluster, nodes: &[usize]) -> Result<hactl_model::Cib> {
    c.wait_until("all nodes at the same applied index and CIB", UP, || {
        let mut idx = BTreeSet::new();
        let mut cibs = Vec::new();
        for &i in nodes {
            idx.insert(c.status(i)?.applied_index);
            cibs.push(c.cib(i)?);
        }
        let same = idx.len() == 1 && cibs.windows(2).all(|w| w[0] == w[1]);
        Ok(same.then(|| cibs.swap_remove(0)))
    })
}

#[test]
fn netns_three_nodes_elect_a_dc_and_replace_it_after_kill_9() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut c = Cluster::setup("hx-c", 3, "10.78.1", None)?;
    c.start_all()?;
    let dc = c.wait_dc(&[1, 2, 3], UP)?;

    // The CLI's own status command sees the same thing.
    let out = std::process::Command::new(&c.bin)
        .args(["cluster", "status", "--output", "json", "--socket"])
        .arg(c.files(1).socket)
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(v["dc"], format!("n{dc}"));
    assert_eq!(v["quorum"], true);

    // The DC records every node as a member.
    c.wait_joined(1, &[1, 2, 3], UP)?;

    // A write through a follower is visible to the very next read there.
    let follower = if dc == 1 { 2 } else { 1 };
    c.propose(follower, &set("cluster-name", "alpha"))?;
    assert_eq!(c.cib(follower)?.config.properties["cluster-name"], "alpha");

    // kill -9 the DC: the others elect a new one, which takes changes and marks the
    // old DC unclean (lost without a clean leave).
    c.kill(dc);
    let rest: Vec<usize> = (1..=3).filter(|&i| i != dc).collect();
    let new_dc = c.wait_dc(&rest, UP)?;
    assert_ne!(new_dc, dc);
    c.propose(rest[0], &set("after-failover", "yes"))?;
    c.wait_until(
        "old DC reported unclean and recorded lost in the CIB",
        UP,
        || {
            let lost_in_cib = c.cib(new_dc)?.status.nodes[&format!("n{dc}")].member == Some(false);
            Ok((lost_in_cib && c.node_state(new_dc, dc)? == NodeState::Unclean).then_some(()))
        },
    )?;

    // It comes back and catches up.
    c.start(dc)?;
    let cib = wait_converged(&c, &[1, 2, 3])?;
    assert_eq!(cib.config.properties["after-failover"], "yes");
    c.wait_until("old DC online again", UP, || {
        Ok((c.node_state(new_dc, dc)? == NodeState::Online).then_some(()))
    })?;

    // A clean stop (SIGTERM) is recorded as offline, not unclean.
    let cur = c.wait_dc(&[1, 2, 3], UP)?;
    let leaver = (1..=3).find(|&i| i != cur).unwrap_or(1);
    let st = c.stop(leaver, Duration::from_secs(10))?;
    assert!(st.success(), "daemon exit after SIGTERM: {st}");
    c.wait_until("cleanly stopped node reported offline", UP, || {
        Ok((c.node_state(cur, leaver)? == NodeState::Offline).then_some(()))
    })?;
    Ok(())
}

#[test]
fn netns_five_nodes_minority_partition_loses_quorum_and_heals() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut c = Cluster::setup("hx-c", 5, "10.78.2", None)?;
    c.start_all()?;
    let dc = c.wait_dc(&[1, 2, 3, 4, 5], UP)?;
    // Quorum and a DC come from heartbeats; only the CIB's record makes a node a
    // member that is lost (unclean) rather than offline when it vanishes. Partitioned
    // before its join reached the majority, a node is recorded down having never
    // joined: offline, as in Pacemaker (the failure CI hit on a slow machine).
    c.wait_joined(dc, &[1, 2, 3, 4, 5], UP)?;
    // The DC goes to the minority side, to force a new election on the majority.
    let minority = vec![dc, if dc == 1 { 2 } else { 1 }];
    let majority: Vec<usize> = (1..=5).filter(|i| !minority.contains(i)).collect();
    c.net.partition(&minority, &majority)?;

    for &m in &minority {
        c.wait_until("minority node reports no quorum", UP, || {
            Ok((!c.status(m)?.has_quorum).then_some(()))
        })?;
    }
    assert!(c.log(minority[0]).contains("lost_quorum"));
    let new_dc = c.wait_dc(&majority, UP)?;
    assert!(majority.contains(&new_dc));
    for i in 0..10 {
        c.propose(majority[i % majority.len()], &set(&format!("k{i}"), "v"))?;
    }
    // The minority cannot commit.
    let r = c.propose(minority[1], &set("minority-write", "x"));
    assert!(r.is_err(), "the minority committed a change");
    // The majority sees the minority as lost (unclean).
    c.wait_seeing("majority reports the minority unclean", UP, || {
        let ok = minority
            .iter()
            .all(|&m| c.node_state(new_dc, m).ok() == Some(NodeState::Unclean));
        Ok(if ok {
            Ok(())
        } else {
            Err(c.describe(&majority, &minority))
        })
    })?;

    c.net.heal()?;
    let all: Vec<usize> = (1..=5).collect();
    c.wait_dc(&all, UP)?;
    let cib = wait_converged(&c, &all)?;
    assert_eq!(cib.config.properties["k9"], "v");
    assert!(!cib.config.properties.contains_key("minority-write"));
    // The DC may still be writing (status after the heal), so the nodes are read one
    // after another while the index moves: wait until one reading shows them level.
    c.wait_until("the same commit index everywhere", UP, || {
        let commits: BTreeSet<u64> = all
            .iter()
            .map(|&i| c.status(i).map(|s| s.commit_index))
            .collect::<Result<_>>()?;
        Ok((commits.len() == 1).then_some(()))
    })?;
    Ok(())
}

#[test]
fn netns_repeated_kill_9_of_every_node_loses_no_acknowledged_write() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut c = Cluster::setup("hx-c", 3, "10.78.3", None)?;
    c.start_all()?;
    c.wait_dc(&[1, 2, 3], UP)?;

    let sockets: Vec<_> = (1..=3).map(|i| c.files(i).socket).collect();
    let acked = Arc::new(Mutex::new(Vec::<u64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let acked = acked.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u64;
            let mut k = 0usize;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                // Each write goes to the next node in turn; a failed write is not
                // acknowledged and is simply not counted.
                k = (k + 1) % sockets.len();
                let change =
                    json!({"change": "set_property", "name": format!("w{n}"), "value": "1"});
                let req = Request::ProposeChange(ProposeChange {
                    change_json: serde_json::to_vec(&change).unwrap_or_default(),
                });
                if let Ok(Response::Ok(_)) = request(&sockets[k], req, Duration::from_secs(3)) {
                    if let Ok(mut a) = acked.lock() {
                        a.push(n);
                    }
                } else {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        })
    };

    let count = || acked.lock().map(|a| a.len()).unwrap_or(0);
    for round in 0..6 {
        // Let some writes land, then crash: one node, or (every third round) all.
        let before = count();
        c.wait_until("writes acknowledged", UP, || {
            Ok((count() >= before + 5).then_some(()))
        })?;
        if round % 3 == 2 {
            for i in 1..=3 {
                c.kill(i);
            }
            for i in 1..=3 {
                c.start(i)?;
            }
        } else {
            let victim = round % 3 + 1;
            c.kill(victim);
            let before = count();
            c.wait_until("writes acknowledged without one node", UP, || {
                Ok((count() >= before + 3).then_some(()))
            })?;
            c.start(victim)?;
        }
    }
    // Crash everything once more in the middle of writing, then stop writing.
    for i in 1..=3 {
        c.kill(i);
    }
    stop.store(true, Ordering::SeqCst);
    let _ = writer.join();
    c.start_all()?;
    c.wait_dc(&[1, 2, 3], UP)?;
    // A write in the new term commits everything the log holds before it.
    c.propose(1, &set("final", "1"))?;
    let cib = wait_converged(&c, &[1, 2, 3])?;
    let acked = acked.lock().map(|a| a.clone()).unwrap_or_default();
    assert!(
        acked.len() >= 30,
        "too few writes to mean anything: {}",
        acked.len()
    );
    let lost: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|n| !cib.config.properties.contains_key(&format!("w{n}")))
        .collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    Ok(())
}

#[test]
fn netns_node_with_a_certificate_from_another_ca_cannot_join() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut c = Cluster::setup("hx-c", 3, "10.78.4", None)?;
    // Same cluster name, same node name and address, but another CA.
    c.make_identity("other")?;
    c.install_bundle(3, "other")?;
    c.start_all()?;
    let dc = c.wait_dc(&[1, 2], UP)?;
    // The members log that they refused n3's certificate (as server: handshake
    // failed; as client: n3's certificate does not chain to our CA).
    let n3_ip = c.net.ip(3);
    let refusal = |log: &str| {
        log.lines().any(|l| {
            l.contains("WARN")
                && l.contains(&n3_ip)
                && (l.contains("refused") || l.contains("certificate") || l.contains("handshake"))
        })
    };
    let r = c.wait_until("a peer logs the refusal", UP, || {
        Ok([1, 2].iter().any(|&i| refusal(&c.log(i))).then_some(()))
    });
    if r.is_err() {
        eprintln!("---- n1 log ----\n{}", c.log(1));
    }
    r?;
    c.propose(dc, &set("without-n3", "yes"))?;
    let s3 = c.status(3)?;
    assert!(s3.dc.is_empty(), "n3 sees a DC: {}", s3.dc);
    assert!(!s3.has_quorum);
    assert!(s3
        .nodes
        .iter()
        .filter(|n| n.name != "n3")
        .all(|n| n.state != NodeState::Online as i32));
    let cib3 = c.cib(3)?;
    assert!(!cib3.config.properties.contains_key("without-n3"));
    assert!(cib3.config.nodes.is_empty(), "n3 got the cluster's CIB");
    assert_ne!(c.node_state(dc, 3)?, NodeState::Online);
    Ok(())
}

#[test]
fn netns_node_add_and_remove_then_cluster_stop() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut c = Cluster::setup_with_spares("hx-c", 3, 1, "10.78.5", None)?;
    c.start_all()?;
    c.wait_dc(&[1, 2, 3], UP)?;
    c.propose(1, &set("before-n4", "yes"))?;

    // `hactl cluster node add` where setup ran (it has the CA key), through n1's
    // daemon: issues n4's bundle and makes n4 a Raft voter.
    let admin = c.root.join("admin").display().to_string();
    let sock1 = c.files(1).socket.display().to_string();
    c.hactl(&[
        "cluster".into(),
        "--dir".into(),
        admin.clone(),
        "--socket".into(),
        sock1.clone(),
        "node".into(),
        "add".into(),
        format!("n4={}:{}", c.net.ip(4), hactl_tests::cluster::PORT),
    ])?;
    c.install_bundle(4, "admin")?;
    c.start(4)?;
    let all = [1, 2, 3, 4];
    c.wait_dc(&all, UP)?;
    let cib = wait_converged(&c, &all)?;
    assert_eq!(
        cib.config.properties["before-n4"], "yes",
        "n4 got the history"
    );
    assert!(cib.config.node("n4").is_some());
    c.wait_until("every node sees n4 online", UP, || {
        Ok([1, 2, 3]
            .iter()
            .all(|&i| c.node_state(i, 4).ok() == Some(NodeState::Online))
            .then_some(()))
    })?;
    // n4 joined as a learner; the leader makes it a voter once it has caught up.
    c.wait_until("n4 a voter", UP, || {
        let s = c.status(1)?;
        Ok(s.nodes
            .iter()
            .any(|n| n.name == "n4" && n.membership == "voter")
            .then_some(()))
    })?;
    // With four voters, two nodes down means no quorum: n4 really counts.
    c.kill(2);
    c.kill(3);
    c.wait_until("no quorum with 2 of 4", UP, || {
        Ok((!c.status(1)?.has_quorum).then_some(()))
    })?;
    c.start(2)?;
    c.start(3)?;
    c.wait_dc(&all, UP)?;

    // Remove it again: the others stop counting it.
    c.hactl(&[
        "cluster".into(),
        "--dir".into(),
        admin,
        "--socket".into(),
        sock1,
        "node".into(),
        "remove".into(),
        "n4".into(),
    ])
    .map_err(|e| {
        let logs: Vec<String> = (1..=4).map(|i| format!("n{i}:\n{}", c.log(i))).collect();
        e.context(logs.join("\n"))
    })?;
    c.kill(4);
    c.wait_until("n4 gone from the members", UP, || {
        let s = c.status(1)?;
        Ok((s.nodes.iter().all(|n| n.name != "n4") && s.has_quorum).then_some(()))
    })?;
    assert!(c.cib(1)?.config.node("n4").is_none());

    // Cluster-wide stop through one node: every daemon leaves cleanly and exits 0.
    match request(
        &c.files(2).socket,
        Request::ClusterStop(Default::default()),
        Duration::from_secs(10),
    )? {
        Response::Ok(_) => {}
        other => panic!("cluster stop refused: {other:?}"),
    }
    for i in 1..=3 {
        let st = c.wait_exit(i, UP)?;
        assert!(st.success(), "n{i} exit status {st}");
    }
    Ok(())
}

/// Node `i`'s view of itself: (raft membership, rejoin phase).
fn self_view(c: &Cluster, i: usize) -> Result<(String, String)> {
    let s = c.status(i)?;
    let me = s
        .nodes
        .iter()
        .find(|n| n.name == s.local_node)
        .ok_or_else(|| anyhow::anyhow!("n{i} does not list itself"))?;
    Ok((me.membership.clone(), me.rejoin.clone()))
}

/// Kills node `i` and deletes its state dir (a lost disk); its config dir stays.
fn wipe(c: &mut Cluster, i: usize) -> Result<()> {
    c.kill(i);
    std::fs::remove_dir_all(c.files(i).state_dir)?;
    Ok(())
}

/// A node whose state dir is lost must not found a cluster of its own: it rejoins as
/// a learner, gets the CIB, and votes again. Two of three wiped while the third is
/// down: they elect nobody and wait for it.
#[test]
fn netns_wiped_nodes_rejoin_and_never_found_a_cluster_of_their_own() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut c = Cluster::setup("hx-c", 3, "10.78.6", None)?;
    c.start_all()?;
    let dc = c.wait_dc(&[1, 2, 3], UP)?;
    for i in 1..=3 {
        let marker = c.files(i).config_dir.join("founder");
        assert!(!marker.exists(), "n{i}: founder marker not consumed");
    }
    c.propose(dc, &set("before-wipe", "1"))?;
    wait_converged(&c, &[1, 2, 3])?;

    // One node loses its disk.
    let w = if dc == 3 { 2 } else { 3 };
    wipe(&mut c, w)?;
    c.start(w)?;
    c.wait_until("the wiped node a voter again, rejoin done", UP, || {
        Ok((self_view(&c, w)? == ("voter".into(), String::new())).then_some(()))
    })
    .map_err(|e| {
        let logs: Vec<String> = (1..=3).map(|i| format!("n{i}:\n{}", c.log(i))).collect();
        e.context(logs.join("\n"))
    })?;
    let cib = wait_converged(&c, &[1, 2, 3])?;
    assert_eq!(cib.config.properties["before-wipe"], "1");
    let demoted = format!("Demote({w})");
    let dc = c.wait_dc(&[1, 2, 3], UP)?;
    assert!(
        (1..=3).any(|i| c.log(i).contains(&demoted)),
        "the leader never made n{w} a learner; DC n{dc} log:\n{}",
        c.log(dc)
    );

    // Two of three lose their disks while the third is down.
    let keep = dc;
    let wiped: Vec<usize> = (1..=3).filter(|&i| i != keep).collect();
    c.kill(keep);
    for &i in &wiped {
        wipe(&mut c, i)?;
        c.start(i)?;
    }
    for &i in &wiped {
        c.wait_until("the wiped node says it is rejoining", UP, || {
            let (m, r) = self_view(&c, i)?;
            Ok((m.is_empty() && r.contains("lost its state")).then_some(()))
        })?;
    }
    // They must not elect a DC among themselves; give them several election timeouts.
    let formed = c.wait_until("a DC among the wiped nodes", Duration::from_secs(3), || {
        Ok(wiped
            .iter()
            .map(|&i| c.status(i))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .find(|s| !s.dc.is_empty())
            .map(|s| s.dc))
    });
    assert!(
        formed.is_err(),
        "wiped nodes formed a cluster: DC {formed:?}"
    );
    c.start(keep)?;
    assert_eq!(c.wait_dc(&[1, 2, 3], UP)?, keep, "the intact node leads");
    for &i in &wiped {
        c.wait_until("wiped node a voter again", UP, || {
            Ok((self_view(&c, i)? == ("voter".into(), String::new())).then_some(()))
        })?;
    }
    let cib = wait_converged(&c, &[1, 2, 3])?;
    assert_eq!(cib.config.properties["before-wipe"], "1");
    Ok(())
}
