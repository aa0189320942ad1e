//! Consensus with real nodes and real redb storage, connected in memory: elections,
//! leader loss, partitions, restarts from disk, compaction, membership changes.

use std::collections::BTreeSet;
use std::time::Duration;

use hactl_consensus::testing::MemCluster;
use hactl_consensus::{Change, Handle, NodeId, ProposeError};
use hactl_model::Node;

const T: Duration = Duration::from_secs(10);

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

fn cluster(n: u64) -> MemCluster {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("HACTL_LOG").unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap().keep();
    MemCluster::new(n, dir).unwrap()
}

fn set(name: &str, value: &str) -> Change {
    Change::SetProperty {
        name: name.into(),
        value: value.into(),
    }
}

fn propose(rt: &tokio::runtime::Runtime, h: &Handle, c: Change) -> Result<u64, ProposeError> {
    rt.block_on(async {
        match tokio::time::timeout(Duration::from_secs(2), h.propose(c)).await {
            Ok(r) => r,
            Err(_) => Err(ProposeError::Dropped("timed out".into())),
        }
    })
}

/// Proposes through whichever node is leader now, retrying across elections.
fn propose_retry(rt: &tokio::runtime::Runtime, c: &MemCluster, ids: &[NodeId], ch: Change) -> u64 {
    let deadline = std::time::Instant::now() + T;
    loop {
        let leader = c.wait_leader(ids, T).expect("a leader");
        match propose(rt, &c.node(leader).unwrap(), ch.clone()) {
            Ok(i) => return i,
            Err(e) if std::time::Instant::now() < deadline => {
                eprintln!("retrying after {e}");
            }
            Err(e) => panic!("proposal kept failing: {e}"),
        }
    }
}

fn all_converged(c: &MemCluster, ids: &[NodeId]) {
    let r = c.wait_for(T, |s| {
        let idx: BTreeSet<u64> = ids
            .iter()
            .filter_map(|i| s.get(i))
            .map(|st| st.applied_index)
            .collect();
        let cibs: Vec<_> = ids
            .iter()
            .filter_map(|i| s.get(i))
            .map(|st| st.cib.clone())
            .collect();
        idx.len() == 1 && cibs.len() == ids.len() && cibs.windows(2).all(|w| w[0] == w[1])
    });
    if let Err(s) = r {
        panic!(
            "nodes did not converge: {:?}",
            s.values()
                .map(|st| (st.id, st.applied_index, st.commit_index))
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn elects_one_leader_and_a_write_is_visible_to_the_next_read() {
    let c = cluster(3);
    let rt = rt();
    let leader = c.wait_leader(&[1, 2, 3], T).expect("leader elected");
    let follower = [1, 2, 3].into_iter().find(|&i| i != leader).unwrap();
    let h = c.node(follower).unwrap();
    // Written through a follower (forwarded to the leader), read right after on it.
    let idx = propose(&rt, &h, set("cluster-name", "alpha")).unwrap();
    let st = h.status();
    assert!(st.applied_index >= idx);
    assert_eq!(st.cib.config.properties["cluster-name"], "alpha");
    all_converged(&c, &[1, 2, 3]);
    let s = c.statuses();
    assert!(s
        .values()
        .all(|st| st.leader == Some(leader) && st.voters == vec![1, 2, 3]));
}

#[test]
fn invalid_change_is_rejected_and_changes_nothing() {
    let c = cluster(3);
    let rt = rt();
    let leader = c.wait_leader(&[1, 2, 3], T).unwrap();
    let h = c.node(leader).unwrap();
    let before = h.status().cib.clone();
    let e = propose(&rt, &h, set("no-quorum-policy", "dance")).unwrap_err();
    assert!(matches!(e, ProposeError::Rejected(_)), "{e}");
    assert_eq!(h.status().cib, before);
    // Garbage from a peer is dropped; the node keeps working.
    h.step(2, b"\xff\xffnot protobuf".to_vec());
    h.step(2, Vec::new());
    propose(&rt, &h, set("cluster-name", "still-works")).unwrap();
}

#[test]
fn leader_killed_new_leader_accepts_changes_and_old_one_catches_up() {
    let mut c = cluster(3);
    let rt = rt();
    let old = c.wait_leader(&[1, 2, 3], T).unwrap();
    propose_retry(&rt, &c, &[1, 2, 3], set("a", "1"));
    c.stop(old);
    let rest: Vec<NodeId> = [1, 2, 3].into_iter().filter(|&i| i != old).collect();
    let new = c.wait_leader(&rest, T).expect("new leader");
    assert_ne!(new, old);
    propose_retry(&rt, &c, &rest, set("b", "2"));
    c.restart(old).unwrap();
    all_converged(&c, &[1, 2, 3]);
    let st = c.node(old).unwrap().status();
    assert_eq!(st.cib.config.properties["b"], "2");
}

#[test]
fn minority_partition_cannot_commit_majority_can_and_heal_catches_up() {
    let c = cluster(5);
    let rt = rt();
    let leader = c.wait_leader(&[1, 2, 3, 4, 5], T).unwrap();
    // Put the current leader in the minority to force a new election on the majority.
    let minority: Vec<NodeId> = vec![leader, if leader == 1 { 2 } else { 1 }];
    let majority: Vec<NodeId> = (1..=5).filter(|i| !minority.contains(i)).collect();
    c.partition(&minority, &majority);
    let new = c.wait_leader(&majority, T).expect("majority elects");
    assert!(majority.contains(&new));
    for i in 0..20 {
        propose_retry(&rt, &c, &majority, set(&format!("k{i}"), "v"));
    }
    // The minority cannot commit: the old leader steps down (check-quorum) and a
    // proposal there does not succeed.
    let r = propose(&rt, &c.node(minority[0]).unwrap(), set("minority", "x"));
    assert!(r.is_err(), "minority committed a change: {r:?}");
    c.wait_for(T, |s| minority.iter().all(|m| !s[m].is_leader()))
        .expect("old leader steps down without quorum");
    c.heal();
    all_converged(&c, &[1, 2, 3, 4, 5]);
    let st = c.node(minority[1]).unwrap().status();
    assert_eq!(st.cib.config.properties["k19"], "v");
    assert!(!st.cib.config.properties.contains_key("minority"));
}

#[test]
fn acknowledged_changes_survive_repeated_restarts_of_every_node() {
    let mut c = cluster(3);
    let rt = rt();
    let ids = [1, 2, 3];
    let mut acked = Vec::new();
    let mut n = 0;
    for round in 0..6 {
        // Write a few, then stop one node (the leader every other round), write more,
        // then stop everything and bring it back from disk.
        for _ in 0..5 {
            n += 1;
            propose_retry(&rt, &c, &ids, set(&format!("w{n}"), &round.to_string()));
            acked.push(n);
        }
        let victim = if round % 2 == 0 {
            c.wait_leader(&ids, T).unwrap()
        } else {
            (round % 3) as u64 + 1
        };
        c.stop(victim);
        let rest: Vec<NodeId> = ids.iter().copied().filter(|&i| i != victim).collect();
        for _ in 0..3 {
            n += 1;
            propose_retry(&rt, &c, &rest, set(&format!("w{n}"), &round.to_string()));
            acked.push(n);
        }
        for id in ids {
            c.stop(id);
        }
        for id in ids {
            c.restart(id).unwrap();
        }
    }
    c.wait_leader(&ids, T).unwrap();
    // A fresh write commits in the new term, which commits everything before it.
    propose_retry(&rt, &c, &ids, set("final", "1"));
    all_converged(&c, &ids);
    for id in ids {
        let st = c.node(id).unwrap().status();
        for k in &acked {
            assert!(
                st.cib.config.properties.contains_key(&format!("w{k}")),
                "node {id} lost acknowledged write w{k}"
            );
        }
    }
}

#[test]
fn lagging_node_catches_up_from_a_snapshot_after_compaction() {
    let dir = tempfile::tempdir().unwrap().keep();
    let mut c = MemCluster::new(3, dir).unwrap();
    // MemCluster::new booted with the default; restart all with a small threshold.
    c.compact_after = 10;
    for id in [1, 2, 3] {
        c.stop(id);
        c.restart(id).unwrap();
    }
    let rt = rt();
    c.wait_leader(&[1, 2, 3], T).unwrap();
    let leader = c.wait_leader(&[1, 2, 3], T).unwrap();
    let lagger = if leader == 3 { 2 } else { 3 };
    c.stop(lagger);
    let rest: Vec<NodeId> = [1, 2, 3].into_iter().filter(|&i| i != lagger).collect();
    for i in 0..40 {
        propose_retry(&rt, &c, &rest, set(&format!("s{i}"), "v"));
    }
    let st = c.node(leader).unwrap().status();
    assert!(
        st.snapshot_index >= 10,
        "leader compacted its log: {}",
        st.snapshot_index
    );
    c.restart(lagger).unwrap();
    all_converged(&c, &[1, 2, 3]);
    let st = c.node(lagger).unwrap().status();
    assert!(st.snapshot_index > 0, "lagger installed a snapshot");
    assert_eq!(st.cib.config.properties["s39"], "v");
    // And it restarts from its own snapshot.
    c.stop(lagger);
    c.restart(lagger).unwrap();
    c.wait_for(T, |s| {
        s[&lagger]
            .cib
            .config
            .properties
            .get("s39")
            .is_some_and(|v| v == "v")
    })
    .expect("restarted node has the data back");
}

#[test]
fn add_and_remove_a_voter() {
    let mut c = cluster(3);
    let rt = rt();
    let leader = c.wait_leader(&[1, 2, 3], T).unwrap();
    propose_retry(
        &rt,
        &c,
        &[1, 2, 3],
        Change::AddNode {
            node: Node {
                name: "n4".into(),
                ..Default::default()
            },
        },
    );
    c.add_node(4).unwrap();
    let h = c.node(leader).unwrap();
    rt.block_on(h.add_voter(4)).unwrap();
    all_converged(&c, &[1, 2, 3, 4]);
    let s = c.statuses();
    assert!(
        s.values().all(|st| st.voters == vec![1, 2, 3, 4]),
        "{:?}",
        s.values().map(|s| &s.voters).collect::<Vec<_>>()
    );
    assert!(s[&4].cib.config.node("n4").is_some());
    let leader = c.wait_leader(&[1, 2, 3, 4], T).unwrap();
    rt.block_on(c.node(leader).unwrap().remove_voter(4))
        .unwrap();
    c.wait_for(T, |s| {
        [1, 2, 3].iter().all(|i| s[i].voters == vec![1, 2, 3])
    })
    .expect("voter removed everywhere");
}

/// raft-rs panics on a message that breaks its invariants. The panic is not caught (the
/// RawNode may be half-way through a step): the node stops and says why in its status,
/// which is what makes the daemon stop its resources and exit. The others carry on.
#[test]
fn raft_panic_on_a_protocol_violating_message_stops_the_node() {
    use protobuf::Message as _;
    use raft::eraftpb::{Message, MessageType};
    let c = cluster(3);
    let rt = rt();
    let leader = c.wait_leader(&[1, 2, 3], T).unwrap();
    let follower = [1, 2, 3].into_iter().find(|&i| i != leader).unwrap();
    let term = c.node(follower).unwrap().status().term;
    // A "heartbeat" from the leader that commits far past the follower's log (what a
    // follower whose store lost committed entries gets): raft-rs panics on it.
    let m = Message {
        msg_type: MessageType::MsgHeartbeat,
        from: leader,
        to: follower,
        term,
        commit: 1_000_000,
        ..Default::default()
    };
    let h = c.node(follower).unwrap();
    let mut watch = h.watch();
    h.step(leader, m.write_to_bytes().unwrap());
    rt.block_on(async {
        tokio::time::timeout(T, watch.wait_for(|s| !s.running))
            .await
            .expect("the node stops")
            .expect("status published");
    });
    let st = h.status();
    assert!(
        st.fatal
            .as_deref()
            .is_some_and(|f| f.contains("raft panicked")),
        "{:?}",
        st.fatal
    );
    assert_eq!(
        propose(&rt, &h, set("after-panic", "1")),
        Err(ProposeError::Stopped)
    );
    let rest: Vec<NodeId> = [1, 2, 3].into_iter().filter(|&i| i != follower).collect();
    propose_retry(&rt, &c, &rest, set("others-carry-on", "1"));
}
