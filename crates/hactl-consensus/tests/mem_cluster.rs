//! Consensus with real nodes and real redb storage, connected in memory: elections,
//! leader loss, partitions, restarts from disk, compaction, membership changes, nodes
//! that lost their disk, members running an older build.

use std::collections::BTreeSet;
use std::time::Duration;

use hactl_consensus::testing::MemCluster;
use hactl_consensus::{Change, Handle, NodeId, ProposeError};
use hactl_model::Node;

const T: Duration = Duration::from_secs(10);

/// How long a proposal that merely has to complete (commit, or come back rejected) may
/// take. Not what these tests measure: generous, because CI machines under load run the
/// suite at half this machine's speed and a 2 s bound there once failed a passing test.
const OP: Duration = Duration::from_secs(30);

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

fn init_log() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("HACTL_LOG").unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
}

fn cluster(n: u64) -> MemCluster {
    init_log();
    let dir = tempfile::tempdir().unwrap().keep();
    MemCluster::new(n, dir).unwrap()
}

fn set(name: &str, value: &str) -> Change {
    Change::SetProperty {
        name: name.into(),
        value: value.into(),
    }
}

/// Proposes and waits for the outcome (up to `OP`).
fn propose(rt: &tokio::runtime::Runtime, h: &Handle, c: Change) -> Result<u64, ProposeError> {
    propose_within(rt, h, c, OP)
}

/// Proposes and waits up to `wait`; past it the proposal counts as failed.
fn propose_within(
    rt: &tokio::runtime::Runtime,
    h: &Handle,
    c: Change,
    wait: Duration,
) -> Result<u64, ProposeError> {
    rt.block_on(async {
        match tokio::time::timeout(wait, h.propose(c)).await {
            Ok(r) => r,
            Err(_) => Err(ProposeError::Dropped("timed out".into())),
        }
    })
}

/// Proposes through whichever node is leader now, retrying across elections.
/// Each try is bounded by `T` (a leader that lost its followers may hold it) and all of
/// them by `OP`.
fn propose_retry(rt: &tokio::runtime::Runtime, c: &MemCluster, ids: &[NodeId], ch: Change) -> u64 {
    let deadline = std::time::Instant::now() + OP;
    loop {
        let leader = c.wait_leader(ids, T).expect("a leader");
        match propose_within(rt, &c.node(leader).unwrap(), ch.clone(), T) {
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
    // A bounded window is the point here: the proposal must not commit in it.
    let r = propose_within(
        &rt,
        &c.node(minority[0]).unwrap(),
        set("minority", "x"),
        Duration::from_secs(2),
    );
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
    // Added as a learner; the leader makes it a voter once it has caught up.
    let s = c
        .wait_for(T, |s| {
            s.len() == 4 && s.values().all(|st| st.voters == vec![1, 2, 3, 4])
        })
        .unwrap_or_else(|s| {
            panic!(
                "{:?}",
                s.values()
                    .map(|s| (&s.voters, &s.learners))
                    .collect::<Vec<_>>()
            )
        });
    assert!(s.values().all(|st| st.learners.is_empty()));
    all_converged(&c, &[1, 2, 3, 4]);
    let s = c.statuses();
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

/// Waits until every node in `ids` is a plain voter again (no rejoin, no learners) and
/// all have the same CIB.
fn all_rejoined(c: &MemCluster, ids: &[NodeId]) {
    let want: Vec<NodeId> = ids.to_vec();
    let r = c.wait_for(T, |s| {
        ids.iter().all(|i| {
            s.get(i).is_some_and(|st| {
                st.rejoin.is_none() && st.voters == want && st.learners.is_empty()
            })
        })
    });
    if let Err(s) = r {
        panic!(
            "nodes did not all become voters again: {:?}",
            s.values()
                .map(|st| (st.id, st.rejoin, &st.voters, &st.learners, st.applied_index))
                .collect::<Vec<_>>()
        );
    }
    all_converged(c, ids);
}

fn has(st: &hactl_consensus::Status, name: &str) -> bool {
    st.cib.config.properties.contains_key(name)
}

/// One node loses its disk. It must not found a cluster of its own, must never lend
/// its vote to a candidate that lacks what it had acknowledged, and comes back through
/// learner to voter with the whole CIB.
#[test]
fn wiped_member_rejoins_as_learner_and_its_vote_cannot_lose_a_commit() {
    let mut c = cluster(3);
    let rt = rt();
    let leader = c.wait_leader(&[1, 2, 3], T).unwrap();
    let [stale, wiped] = {
        let o: Vec<NodeId> = [1, 2, 3].into_iter().filter(|&i| i != leader).collect();
        [o[0], o[1]]
    };
    propose_retry(&rt, &c, &[1, 2, 3], set("before", "1"));
    all_converged(&c, &[1, 2, 3]);
    // `stale` misses a write that the leader and `wiped` commit.
    c.partition(&[stale], &[leader, wiped]);
    propose(&rt, &c.node(leader).unwrap(), set("committed", "1")).unwrap();
    // `wiped` loses its disk, the leader (the only other copy) goes down.
    c.stop(leader);
    c.wipe(wiped).unwrap();
    c.heal();
    // Raft alone would let `wiped` (empty log, no memory of its vote) elect `stale`,
    // which lacks "committed". It must not: no leader until the copy is back.
    let elected = c.wait_for(Duration::from_secs(2), |s| {
        s.values().any(|st| st.is_leader())
    });
    assert!(
        elected.is_err(),
        "a leader was elected without the node that holds the last commit: {:?}",
        elected.map(|s| s.values().map(|st| (st.id, st.role)).collect::<Vec<_>>())
    );
    let st = c.node(wiped).unwrap().status();
    assert_eq!(st.rejoin, Some(hactl_consensus::RejoinPhase::NoState));
    assert!(
        st.voters.is_empty(),
        "a wiped node has no configuration of its own"
    );
    c.restart(leader).unwrap();
    // It was made a learner (nobody counts it as a voter while it catches up)...
    c.wait_for(T, |s| s.values().any(|st| st.learners == vec![wiped]))
        .unwrap_or_else(|s| {
            panic!(
                "never a learner: {:?}",
                s.values()
                    .map(|st| (st.id, st.rejoin, &st.voters, &st.learners))
                    .collect::<Vec<_>>()
            )
        });
    // ...and is a voter again with everything, "committed" included.
    all_rejoined(&c, &[1, 2, 3]);
    assert!(c.statuses().values().all(|st| has(st, "committed")));
    propose_retry(&rt, &c, &[1, 2, 3], set("after", "1"));
    all_converged(&c, &[1, 2, 3]);
}

/// A follower loses its disk while the leader stays up: the leader, which recorded the
/// follower's log as replicated up to some index, must notice the loss and bring the
/// follower back from scratch (snapshot, learner, voter).
#[test]
fn wiped_follower_rejoins_while_the_leader_stays_up() {
    let mut c = cluster(3);
    let rt = rt();
    let leader = c.wait_leader(&[1, 2, 3], T).unwrap();
    let wiped = [1, 2, 3].into_iter().find(|&i| i != leader).unwrap();
    for i in 0..5 {
        propose_retry(&rt, &c, &[1, 2, 3], set(&format!("p{i}"), "1"));
    }
    all_converged(&c, &[1, 2, 3]);
    c.wipe(wiped).unwrap();
    all_rejoined(&c, &[1, 2, 3]);
    assert!(has(&c.node(wiped).unwrap().status(), "p4"));
    propose_retry(&rt, &c, &[1, 2, 3], set("after", "1"));
    all_converged(&c, &[1, 2, 3]);
}

/// The snapshot that brings a wiped follower back is lost on the way (its restarted
/// daemon is reached over a connection still open to the dead one): raft-rs sends
/// nothing more to a peer while a snapshot is outstanding, so the leader must notice
/// from the follower's reports that it never arrived and send it again.
#[test]
fn wiped_follower_rejoins_when_its_first_snapshot_is_lost() {
    let mut c = cluster(3);
    // Compact early, so the leader's log no longer starts where the wiped node's
    // empty one does: it must send a snapshot (else it may replicate plain entries).
    c.compact_after = 2;
    for id in [1, 2, 3] {
        c.stop(id);
        c.restart(id).unwrap();
    }
    let rt = rt();
    let leader = c.wait_leader(&[1, 2, 3], T).unwrap();
    let wiped = [1, 2, 3].into_iter().find(|&i| i != leader).unwrap();
    for i in 0..4 {
        propose_retry(&rt, &c, &[1, 2, 3], set(&format!("filler{i}"), "1"));
    }
    propose_retry(&rt, &c, &[1, 2, 3], set("before", "1"));
    all_converged(&c, &[1, 2, 3]);
    c.cut(leader, wiped);
    // The leader hears no raft message from `wiped` any more (it answers nothing it
    // does not receive). Past a few election timeouts raft-rs takes it for inactive and
    // would not send it a snapshot on its own; the reports must be enough.
    std::thread::sleep(c.timing.tick * (c.timing.election_ticks as u32) * 4);
    c.wipe(wiped).unwrap();
    // Its reports reach the leader, which demotes it and sends the snapshot into the cut.
    c.wait_for(T, |s| {
        s.get(&leader).is_some_and(|st| st.learners == [wiped])
    })
    .expect("the leader made the wiped node a learner");
    let deadline = std::time::Instant::now() + T;
    while c.dropped_snapshots(leader, wiped) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the leader never sent the wiped node a snapshot"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    c.heal();
    all_rejoined(&c, &[1, 2, 3]);
    assert!(has(&c.node(wiped).unwrap().status(), "before"));
}

/// Two of three nodes lose their disks while the third is down: the two must not form
/// a cluster of their own (they have no configuration and elect nobody); when the
/// intact node is back, it leads and both rejoin with its state.
#[test]
fn two_wiped_of_three_wait_for_the_intact_node_then_rejoin() {
    let mut c = cluster(3);
    let rt = rt();
    c.wait_leader(&[1, 2, 3], T).unwrap();
    propose_retry(&rt, &c, &[1, 2, 3], set("kept", "1"));
    all_converged(&c, &[1, 2, 3]);
    c.stop(1);
    c.wipe(2).unwrap();
    c.wipe(3).unwrap();
    let waited = c.wait_for(Duration::from_secs(2), |s| {
        s.values().any(|st| st.is_leader() || !st.voters.is_empty())
    });
    assert!(
        waited.is_err(),
        "the wiped nodes formed a cluster: {:?}",
        waited.map(|s| s
            .values()
            .map(|st| (st.id, st.role, st.voters.clone()))
            .collect::<Vec<_>>())
    );
    let s = c.statuses();
    assert!(s
        .values()
        .all(|st| st.rejoin == Some(hactl_consensus::RejoinPhase::NoState)));
    c.restart(1).unwrap();
    assert_eq!(
        c.wait_leader(&[1, 2, 3], T),
        Some(1),
        "the intact node leads"
    );
    all_rejoined(&c, &[1, 2, 3]);
    assert!(c.statuses().values().all(|st| has(st, "kept")));
    propose_retry(&rt, &c, &[1, 2, 3], set("after", "1"));
    all_converged(&c, &[1, 2, 3]);
}

/// A member running an older build (it reads only format 1) keeps the leader writing
/// format 1; once it is upgraded the leader writes the newer format.
#[test]
fn mixed_version_cluster_writes_what_the_oldest_member_reads() {
    let mut c = cluster(3);
    let rt = rt();
    let first = c.wait_leader(&[1, 2, 3], T).unwrap();
    let old = [1, 2, 3].into_iter().find(|&i| i != first).unwrap();
    c.stop(old);
    c.set_max_format(old, 1);
    c.restart(old).unwrap();
    c.wait_for(T, |s| {
        s.values()
            .filter(|st| st.is_leader())
            .any(|st| st.entry_format == 1)
    })
    .expect("the leader writes format 1 while a member reads only that");
    let i = propose_retry(&rt, &c, &[1, 2, 3], set("old-readable", "1"));
    all_converged(&c, &[1, 2, 3]);
    let st = c.node(old).unwrap().status();
    assert!(st.stalled.is_none() && st.applied_index >= i && has(&st, "old-readable"));
    // A change the old member could not read is refused, not written in a format it
    // cannot carry.
    let leader = c.wait_leader(&[1, 2, 3], T).unwrap();
    let err = propose(&rt, &c.node(leader).unwrap(), replace_all())
        .expect_err("a configuration replace while a member reads only format 1");
    assert!(err.to_string().contains("upgrade every node"), "{err}");
    // Upgrade the old member.
    c.stop(old);
    c.set_max_format(old, hactl_consensus::format::ENTRY_FORMAT);
    c.restart(old).unwrap();
    c.wait_for(T, |s| {
        s.values()
            .all(|st| st.entry_format == hactl_consensus::format::ENTRY_FORMAT)
    })
    .expect("after the upgrade the newest format is written");
    propose_retry(&rt, &c, &[1, 2, 3], set("new-format", "1"));
    propose_retry(&rt, &c, &[1, 2, 3], replace_all());
    all_converged(&c, &[1, 2, 3]);
    let st = c.node(old).unwrap().status();
    assert!(has(&st, "replaced") && !has(&st, "new-format"));
}

/// Replaces the configuration by one with the single property `replaced`.
fn replace_all() -> Change {
    let mut config = hactl_model::Configuration::default();
    config.properties.insert("replaced".into(), "1".into());
    Change::ReplaceConfiguration {
        config: Box::new(config),
        expected_epoch: None,
    }
}

/// A node meets a committed entry in a format it cannot read (it was downgraded while
/// cut off, so the leader still believed it read the newer format). It stops applying
/// and says why, applies nothing after that entry, and once it runs a build that reads
/// the entry it applies everything in order.
#[test]
fn node_that_cannot_read_an_entry_stops_applying_and_skips_nothing() {
    let mut c = cluster(3);
    let rt = rt();
    let leader = c.wait_leader(&[1, 2, 3], T).unwrap();
    let old = [1, 2, 3].into_iter().find(|&i| i != leader).unwrap();
    let rest: Vec<NodeId> = [1, 2, 3].into_iter().filter(|&i| i != old).collect();
    c.wait_for(T, |s| {
        s[&leader].entry_format == hactl_consensus::format::ENTRY_FORMAT
    })
    .unwrap();
    c.partition(&[old], &rest);
    c.stop(old);
    c.set_max_format(old, 1);
    c.restart(old).unwrap();
    let x = propose_retry(&rt, &c, &rest, set("x", "1"));
    c.heal();
    let s = c
        .wait_for(T, |s| s[&old].stalled.is_some())
        .expect("the old node stops at the entry it cannot read");
    let why = s[&old].stalled.clone().unwrap_or_default();
    let newest = format!("format {}", hactl_consensus::format::ENTRY_FORMAT);
    assert!(why.contains(&newest) && why.contains("upgrade"), "{why}");
    assert!(s[&old].applied_index < x);
    // The leader now knows node `old` reads format 1 and writes that; the old node
    // must still not apply it: it would skip "x".
    c.wait_for(T, |s| s.values().all(|st| st.entry_format == 1))
        .expect("format lowered for the old member");
    let y = propose_retry(&rt, &c, &rest, set("y", "1"));
    c.wait_for(T, |s| s[&old].commit_index >= y)
        .expect("the old node still stores the log");
    let st = c.node(old).unwrap().status();
    assert!(
        !has(&st, "y") && !has(&st, "x"),
        "applied past an unreadable entry"
    );
    assert!(st.applied_index < x);
    // Upgraded, it applies both, in order.
    c.stop(old);
    c.set_max_format(old, hactl_consensus::format::ENTRY_FORMAT);
    c.restart(old).unwrap();
    all_converged(&c, &[1, 2, 3]);
    let st = c.node(old).unwrap().status();
    assert!(st.stalled.is_none() && has(&st, "x") && has(&st, "y"));
}

/// A change only format 4 carries (the DC's transition record).
fn transition_record() -> Change {
    Change::RecordTransition {
        record: Box::new(hactl_model::transitions::TransitionRecord {
            id: 1,
            dc: "n1".into(),
            ..Default::default()
        }),
    }
}

/// A 3-node cluster just founded in which node 3's reports (the daemon's heartbeats)
/// have not reached anyone yet, with proposals waiting at most `wait` for them.
fn founded_with_node3_unheard(wait: Duration) -> MemCluster {
    init_log();
    let dir = tempfile::tempdir().unwrap().keep();
    MemCluster::with_reports_withheld(3, dir, &[3], Some(wait)).unwrap()
}

/// Right after founding, a member whose first report is late must not make a change
/// that needs a newer format fail (CI: the DC's first transition records were
/// refused and its results re-planned in a busy loop): the proposal waits for the
/// report and then commits, and the late member, which reads that format, applies it.
#[test]
fn a_member_heard_late_delays_a_newer_format_change_instead_of_refusing_it() {
    let c = founded_with_node3_unheard(T);
    let rt = rt();
    c.wait_leader(&[1, 2, 3], T).expect("a leader");
    // Node 1 has heard node 2 (format 4) but not node 3: it writes format 1.
    c.wait_for(T, |s| s[&1].entry_format == 1 && s[&1].leader.is_some())
        .expect("node 1 counts the member it never heard as format 1");
    let h = c.node(1).unwrap();
    let index = rt.block_on(async {
        let mut p = std::pin::pin!(h.propose(transition_record()));
        let early = tokio::time::timeout(Duration::from_millis(50), &mut p).await;
        assert!(early.is_err(), "decided before node 3 reported: {early:?}");
        c.release_reports(3);
        tokio::time::timeout(T, p)
            .await
            .expect("decided once node 3 reported")
    });
    let index = index.expect("committed once every member announced format 4");
    all_converged(&c, &[1, 2, 3]);
    let st = c.node(3).unwrap().status();
    assert!(st.stalled.is_none() && st.applied_index >= index);
    assert_eq!(
        st.cib.status.transitions.len(),
        1,
        "the record reached node 3"
    );
}

/// A member that stays silent for the whole wait is taken as down and as the oldest
/// format: the change is refused then (not held forever), and what an old member
/// reads still goes through meanwhile.
#[test]
fn a_member_never_heard_refuses_a_newer_format_change_after_the_wait() {
    let c = founded_with_node3_unheard(Duration::from_millis(500));
    let rt = rt();
    c.wait_leader(&[1, 2, 3], T).expect("a leader");
    // Through node 1, which has not heard node 3 (node 3 itself knows every peer).
    let h = c.node(1).unwrap();
    let err = rt
        .block_on(async { tokio::time::timeout(T, h.propose(transition_record())).await })
        .expect("decided within the wait, not held forever")
        .expect_err("node 3 never announced a format");
    assert!(
        matches!(
            err,
            ProposeError::TooNew {
                needs: 4,
                writes: 1
            }
        ),
        "{err}"
    );
    propose_retry(&rt, &c, &[1, 2, 3], set("old-readable", "1"));
}

/// A member on a build whose format predates a field ignores that field (serde skips
/// what it does not know): it would apply the change and misread it (a migration
/// step with no source and target; a rule whose nested rule is gone, which then
/// matches every node). So while such a member reads only an older format, changes
/// that use the field are refused, the same changes without it go in, and after
/// its upgrade they go in with the field intact on every member.
#[test]
fn changes_using_newer_fields_wait_until_every_member_reads_them() {
    use hactl_consensus::format::{ENTRY_FORMAT, MIGRATION_FORMAT};
    let mut c = cluster(3);
    let rt = rt();
    let first = c.wait_leader(&[1, 2, 3], T).unwrap();
    let old = [1, 2, 3].into_iter().find(|&i| i != first).unwrap();
    c.stop(old);
    c.set_max_format(old, MIGRATION_FORMAT - 1);
    c.restart(old).unwrap();
    c.wait_for(T, |s| {
        s.values()
            .filter(|st| st.is_leader())
            .any(|st| st.entry_format == MIGRATION_FORMAT - 1)
    })
    .expect("the leader writes what the old member reads");
    propose_retry(&rt, &c, &[1, 2, 3], add_node("n1"));
    propose_retry(&rt, &c, &[1, 2, 3], add_vm());
    let leader = c.wait_leader(&[1, 2, 3], T).unwrap();
    for change in [migrate_to(true), nested_rule()] {
        let err = propose(&rt, &c.node(leader).unwrap(), change)
            .expect_err("a change the old member would misread");
        assert!(err.to_string().contains("upgrade every node"), "{err}");
    }
    propose_retry(&rt, &c, &[1, 2, 3], migrate_to(false));
    c.stop(old);
    c.set_max_format(old, ENTRY_FORMAT);
    c.restart(old).unwrap();
    c.wait_for(T, |s| s.values().all(|st| st.entry_format == ENTRY_FORMAT))
        .expect("after the upgrade the newest format is written");
    propose_retry(&rt, &c, &[1, 2, 3], migrate_to(true));
    propose_retry(&rt, &c, &[1, 2, 3], nested_rule());
    all_converged(&c, &[1, 2, 3]);
    let cib = c.node(old).unwrap().status().cib.clone();
    let ops = &cib.status.nodes["n1"].resources["vm"].ops;
    // The later record of the same step replaced the one without nodes.
    assert_eq!(
        ops.iter().map(|o| o.migrate_target()).collect::<Vec<_>>(),
        [Some("n2")]
    );
    let rule = &cib.config.constraints.location[0].rules[0];
    assert_eq!(rule.rules.len(), 1, "the nested rule is kept");
}

fn add_node(name: &str) -> Change {
    Change::AddNode {
        node: Node {
            id: name.into(),
            name: name.into(),
            ..Default::default()
        },
    }
}

fn add_vm() -> Change {
    Change::AddResource {
        resource: hactl_model::Resource::Primitive(hactl_model::Primitive {
            id: "vm".into(),
            agent: hactl_model::AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
            ..Default::default()
        }),
    }
}

/// The record of vm's `migrate_to` on n1, with (or without) its source and target.
fn migrate_to(with_nodes: bool) -> Change {
    Change::RecordOp {
        node: "n1".into(),
        rsc: "vm".into(),
        agent: hactl_model::AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
        op: hactl_model::OpRecord {
            operation: "migrate_to".into(),
            call_id: if with_nodes { 2 } else { 1 },
            migration: with_nodes.then(|| {
                Box::new(hactl_model::MigrationNodes {
                    source: "n1".into(),
                    target: "n2".into(),
                })
            }),
            ..Default::default()
        },
    }
}

/// A location rule for vm that holds only where `a` is 1 and `b` is 2, the second
/// condition in a nested rule.
fn nested_rule() -> Change {
    use hactl_model::{Expression, LocationConstraint, Rule, Score};
    let expr = |attribute: &str, value: &str| Expression {
        id: format!("e-{attribute}"),
        attribute: attribute.into(),
        operation: Some(hactl_model::ExprOp::Eq),
        value: Some(value.into()),
        ..Default::default()
    };
    Change::AddConstraint {
        constraint: hactl_model::change::Constraint::Location(LocationConstraint {
            id: "loc-vm".into(),
            rsc: "vm".into(),
            rules: vec![Rule {
                id: "r".into(),
                score: Some(Score::INFINITY),
                expressions: vec![expr("a", "1")],
                rules: vec![Rule {
                    id: "r-inner".into(),
                    expressions: vec![expr("b", "2")],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }),
    }
}
