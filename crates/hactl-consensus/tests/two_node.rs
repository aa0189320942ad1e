//! Two-node mode in consensus ([`hactl_consensus::alone`]), with real nodes and real
//! redb storage connected in memory: the survivor of a split continues as the only
//! voter only when sealed against its peer and given a proof; the sealed peer commits
//! nothing; the fenced peer rejoins with the survivor's writes, its uncommitted tail
//! overwritten. (A fence cannot power off a thread: `stop` stands in for it.) And the
//! witness's split of four voters into halves: the granted half continues with every
//! committed entry, the other commits nothing and rejoins.

use std::time::Duration;

use hactl_consensus::testing::MemCluster;
use hactl_consensus::{AloneError, AloneProof, Change, Handle, NodeId, ProposeError};

const T: Duration = Duration::from_secs(10);

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

fn cluster() -> MemCluster {
    cluster_of(2)
}

fn cluster_of(n: u64) -> MemCluster {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("HACTL_LOG").unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
    MemCluster::new(n, tempfile::tempdir().unwrap().keep()).unwrap()
}

fn set(name: &str, value: &str) -> Change {
    Change::SetProperty {
        name: name.into(),
        value: value.into(),
    }
}

fn propose(
    rt: &tokio::runtime::Runtime,
    h: &Handle,
    c: Change,
    wait: Duration,
) -> Result<u64, ProposeError> {
    rt.block_on(async {
        match tokio::time::timeout(wait, h.propose(c)).await {
            Ok(r) => r,
            Err(_) => Err(ProposeError::Unknown("timed out".into())),
        }
    })
}

fn fenced(peer: NodeId) -> AloneProof {
    AloneProof::Fenced {
        peer,
        device: "xvm".into(),
        at_unix: 1,
    }
}

fn property(h: &Handle, name: &str) -> Option<String> {
    h.status().cib.config.properties.get(name).cloned()
}

#[test]
fn alone_needs_the_seal_and_a_proof_and_the_sealed_peer_commits_nothing() {
    let rt = rt();
    let c = cluster();
    let leader = c.wait_leader(&[1, 2], T).expect("a leader");
    propose(&rt, &c.node(leader).unwrap(), set("before", "1"), T).unwrap();
    let (a, b) = (c.node(1).unwrap(), c.node(2).unwrap());
    c.wait_for(T, |s| {
        s.values()
            .all(|st| st.applied_index == s[&leader].applied_index)
    })
    .expect("both applied");

    c.partition(&[1], &[2]);
    // Without the seal: refused, and node 1 alone commits nothing (Raft needs 2 of 2).
    let r = rt.block_on(a.force_alone(fenced(2)));
    assert!(matches!(r, Err(AloneError::NotSealed { .. })), "{r:?}");
    c.wait_for(T, |s| !s[&1].is_leader() && !s[&2].is_leader())
        .expect("neither side leads a two-voter cluster alone");
    let commit_a = a.status().commit_index;
    assert!(propose(&rt, &a, set("unsealed", "1"), Duration::from_millis(500)).is_err());
    assert_eq!(a.status().commit_index, commit_a);

    // Sealed against node 2, node 1 drops its messages even once the network heals:
    // node 2 (standing in for a peer whose fence was confirmed but which still runs)
    // commits nothing.
    a.seal(&[2]);
    c.heal();
    let commit_b = b.status().commit_index;
    // Elections take 50-100 ms here: 1.5 s of retries gives the two many chances.
    let until = std::time::Instant::now() + Duration::from_millis(1500);
    let mut i = 0;
    while std::time::Instant::now() < until {
        i += 1;
        let r = propose(
            &rt,
            &b,
            set("from-b", &i.to_string()),
            Duration::from_millis(300),
        );
        assert!(r.is_err(), "the sealed-off peer committed {r:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        b.status().commit_index,
        commit_b,
        "the sealed-off peer committed"
    );

    // A proof for anyone but the sealed peer is refused.
    let r = rt.block_on(a.force_alone(fenced(3)));
    assert!(matches!(r, Err(AloneError::NotTwoNode { .. })), "{r:?}");
    let r = rt.block_on(a.force_alone(fenced(1)));
    assert!(matches!(r, Err(AloneError::NotTwoNode { .. })), "{r:?}");

    // With the seal and the proof: node 1 leads alone and commits.
    c.partition(&[1], &[2]);
    rt.block_on(a.force_alone(fenced(2)))
        .expect("alone with a proof");
    c.wait_for(T, |s| s[&1].is_leader() && s[&1].voters == vec![1])
        .expect("node 1 leads alone");
    propose(&rt, &a, set("alone", "1"), T).expect("the survivor commits alone");
    assert_eq!(property(&a, "before").as_deref(), Some("1"));
    assert_eq!(property(&a, "from-b"), None);
    // The fenced side still commits nothing while cut off.
    assert!(propose(&rt, &b, set("from-b", "late"), Duration::from_millis(500)).is_err());
    assert_eq!(property(&b, "alone"), None);
}

#[test]
fn the_fenced_peer_rejoins_with_the_survivors_writes_and_loses_its_uncommitted_tail() {
    let rt = rt();
    let mut c = cluster();
    let old_leader = c.wait_leader(&[1, 2], T).expect("a leader");
    let survivor = 3 - old_leader;
    let (s, l) = (c.node(survivor).unwrap(), c.node(old_leader).unwrap());
    propose(&rt, &l, set("before", "1"), T).unwrap();
    c.wait_for(T, |st| {
        st[&survivor].applied_index == st[&old_leader].applied_index
    })
    .expect("both applied");

    // The old leader appends entries the survivor never sees: an uncommitted tail.
    c.partition(&[survivor], &[old_leader]);
    for i in 0..3 {
        let r = propose(
            &rt,
            &l,
            set("tail", &i.to_string()),
            Duration::from_millis(100),
        );
        assert!(r.is_err(), "committed without the peer: {r:?}");
    }
    assert!(
        l.status().last_index > s.status().last_index,
        "no tail on the old leader"
    );
    // It is fenced (off); the survivor continues alone and writes.
    c.stop(old_leader);
    s.seal(&[old_leader]);
    rt.block_on(s.force_alone(fenced(old_leader)))
        .expect("alone");
    for i in 0..3 {
        propose(&rt, &s, set("alone", &i.to_string()), T).expect("survivor commits");
    }
    c.wait_for(T, |st| st[&survivor].learners == vec![old_leader])
        .expect("the fenced peer is added back as a learner");

    // It comes back with its old configuration and tail; it catches up as a learner
    // and is a voter again, with every write of the survivor and none of its tail.
    c.heal();
    c.restart(old_leader).unwrap();
    let back = c
        .wait_for(T, |st| {
            st.values()
                .all(|x| x.voters == vec![1, 2] && x.learners.is_empty())
                && st[&old_leader].applied_index >= st[&survivor].commit_index
        })
        .expect("a voter again, caught up");
    let cib = &back[&old_leader].cib.config.properties;
    assert_eq!(cib.get("alone").map(String::as_str), Some("2"));
    assert_eq!(cib.get("before").map(String::as_str), Some("1"));
    assert_eq!(cib.get("tail"), None, "the uncommitted tail survived");
    // Two voters again: a write needs both and reaches both.
    let leader = c.wait_leader(&[1, 2], T).expect("a leader");
    propose(&rt, &c.node(leader).unwrap(), set("after", "1"), T).unwrap();
    c.wait_for(T, |st| {
        st.values()
            .all(|x| x.cib.config.properties.contains_key("after"))
    })
    .expect("both apply the write");
}

/// Both nodes lose power; only one comes back and is told to continue alone (`cluster
/// start --force-alone`). It has not heard its peer since it started, but remembers the
/// format the peer last announced: it writes that format, so a change that needs it
/// commits (it used to count the unheard peer as the oldest build and refuse it, and
/// the DC's batches with its transition record were lost whole).
#[test]
fn a_survivor_restarted_alone_writes_the_format_its_peer_last_announced() {
    let rt = rt();
    let mut c = cluster();
    let newest = hactl_consensus::format::ENTRY_FORMAT;
    c.wait_for(T, |st| st.values().all(|x| x.entry_format == newest))
        .expect("both write the newest format");
    c.stop(1);
    c.stop(2);
    c.restart(1).unwrap();
    let s = c.node(1).unwrap();
    s.seal(&[2]);
    rt.block_on(s.force_alone(fenced(2))).expect("alone");
    c.wait_for(T, |st| st[&1].is_leader()).expect("leads alone");
    assert_eq!(s.status().entry_format, newest);
    let needs_3 = Change::SetDefault {
        section: hactl_model::change::DefaultsSection::Resource,
        name: "resource-stickiness".into(),
        value: Some("1".into()),
    };
    propose(&rt, &s, needs_3, T).expect("a change of a newer format commits");
}

fn granted(out: &[NodeId]) -> AloneProof {
    AloneProof::Witness {
        out: out.to_vec(),
        witness: "10.0.0.9:7421".into(),
        generation: 1,
    }
}

/// Proposes through whichever node of `among` leads, again if a leader change drops
/// the proposal (a leader found just before it is deposed), until `T` passes.
fn propose_via_leader(rt: &tokio::runtime::Runtime, c: &MemCluster, among: &[NodeId], ch: Change) {
    let until = std::time::Instant::now() + T;
    loop {
        let leader = c.wait_leader(among, T).expect("a leader");
        let r = propose(
            rt,
            &c.node(leader).unwrap(),
            ch.clone(),
            Duration::from_secs(2),
        );
        match r {
            Ok(_) => return,
            Err(e) if std::time::Instant::now() > until => panic!("not committed: {e:?}"),
            Err(_) => {}
        }
    }
}

fn all_applied(c: &MemCluster, index: u64) {
    c.wait_for(T, |st| st.values().all(|x| x.applied_index >= index))
        .expect("every node applied");
}

/// Four voters split into halves {1, 2} | {3, 4}. An entry was committed by 2, 3 and 4
/// while node 1 was cut off, so of the granted half only node 2 holds it: the forced
/// configuration {1, 2} must elect node 2 (node 1 forcing first changes nothing), the
/// entry survives, the other half commits nothing, and once healed it rejoins as
/// learners, loses its uncommitted tail and becomes voters again.
#[test]
fn half_of_four_voters_continues_with_a_witness_grant_and_keeps_every_commit() {
    let rt = rt();
    let c = cluster_of(4);
    let leader = c.wait_leader(&[1, 2, 3, 4], T).expect("a leader");
    let i = propose(&rt, &c.node(leader).unwrap(), set("before", "1"), T).unwrap();
    all_applied(&c, i);

    c.partition(&[1], &[2, 3, 4]);
    let leader = c.wait_leader(&[2, 3, 4], T).expect("a leader of 2, 3, 4");
    propose(&rt, &c.node(leader).unwrap(), set("x", "1"), T).expect("three of four commit");
    assert_eq!(property(&c.node(1).unwrap(), "x"), None);

    // Halves, node 1 still without the entry: cut 2 from 3 and 4, and wait until no
    // node of the half leads (a leader would send node 1 the entry), before joining 1
    // and 2.
    c.partition(&[2], &[3, 4]);
    c.wait_for(T, |st| !st[&1].is_leader() && !st[&2].is_leader())
        .expect("the half without a leader");
    c.join(&[1], &[2]);
    let (n1, n2, n3) = (c.node(1).unwrap(), c.node(2).unwrap(), c.node(3).unwrap());
    // The other half's leader (if it was one) appends what it can never commit.
    let tail = propose(&rt, &n3, set("tail", "1"), Duration::from_millis(300));
    assert!(tail.is_err(), "two of four committed: {tail:?}");
    // Not half, or not sealed: refused.
    let r = rt.block_on(n1.force_alone(granted(&[3])));
    assert!(matches!(r, Err(AloneError::NotHalf { .. })), "{r:?}");
    n1.seal(&[3]);
    let r = rt.block_on(n1.force_alone(granted(&[3, 4])));
    assert!(matches!(r, Err(AloneError::NotSealed { .. })), "{r:?}");

    assert_eq!(
        property(&n1, "x"),
        None,
        "node 1 got the entry: the premise is gone"
    );
    for n in [&n1, &n2] {
        n.seal(&[3, 4]);
        rt.block_on(n.force_alone(granted(&[3, 4])))
            .expect("the granted half continues");
    }
    let st = c
        .wait_for(T, |st| st[&1].is_leader() || st[&2].is_leader())
        .expect("the granted half elects a leader");
    assert!(
        st[&2].is_leader(),
        "node 1 led without the entry node 2 holds"
    );
    propose(&rt, &n2, set("halves", "1"), T).expect("the granted half commits");
    assert_eq!(property(&n2, "x").as_deref(), Some("1"));
    c.wait_for(T, |st| {
        st[&1].cib.config.properties.contains_key("halves")
            && st[&2].learners == vec![3, 4]
            && st[&1].voters == vec![1, 2]
    })
    .expect("node 1 applies; the other half is added back as learners");
    assert_eq!(
        property(&n1, "x").as_deref(),
        Some("1"),
        "a committed entry was lost"
    );
    let r = propose(&rt, &n3, set("from-b", "1"), Duration::from_millis(500));
    assert!(r.is_err(), "the refused half committed: {r:?}");

    c.heal();
    let back = c
        .wait_for(T, |st| {
            st.values()
                .all(|x| x.voters == vec![1, 2, 3, 4] && x.learners.is_empty())
                && st[&3].applied_index >= st[&2].commit_index
                && st[&4].applied_index >= st[&2].commit_index
        })
        .expect("the other half is voters again, caught up");
    for id in [3, 4] {
        let p = &back[&id].cib.config.properties;
        assert_eq!(p.get("halves").map(String::as_str), Some("1"));
        assert_eq!(p.get("x").map(String::as_str), Some("1"));
        assert_eq!(p.get("tail"), None, "node {id} kept an uncommitted tail");
        assert_eq!(p.get("from-b"), None, "node {id} kept an uncommitted tail");
    }
    // Four voters again: a write needs three.
    propose_via_leader(&rt, &c, &[1, 2, 3, 4], set("after", "1"));
}

/// Only the half's up-to-date node forces; its partner, sealed but still in the old
/// four-voter configuration, votes for it, and ends in the new configuration by
/// applying the replicated learner changes; the holder forcing again (a repeated
/// grant) finds nothing left to force. The partner's seal lifts by itself once the
/// other half are learners: after the heal, with the holder stopped, the partner and
/// the other half (three of four) commit.
#[test]
fn a_partner_that_never_forced_follows_the_forced_half() {
    let c = cluster_of(4);
    let rt = rt();
    let leader = c.wait_leader(&[1, 2, 3, 4], T).expect("a leader");
    let i = propose(&rt, &c.node(leader).unwrap(), set("before", "1"), T).unwrap();
    all_applied(&c, i);
    c.partition(&[1, 2], &[3, 4]);
    let (n1, n2) = (c.node(1).unwrap(), c.node(2).unwrap());
    n1.seal(&[3, 4]);
    n2.seal(&[3, 4]);
    rt.block_on(n2.force_alone(granted(&[3, 4])))
        .expect("forced");
    c.wait_for(T, |st| {
        st[&1].voters == vec![1, 2] && st[&1].learners == vec![3, 4]
    })
    .expect("node 1 follows into the new configuration");
    rt.block_on(n2.force_alone(granted(&[3, 4])))
        .expect("nothing left to force");
    propose_via_leader(&rt, &c, &[1, 2], set("halves", "1"));

    c.heal();
    c.wait_for(T, |st| {
        st.values()
            .all(|x| x.voters == vec![1, 2, 3, 4] && x.learners.is_empty())
    })
    .expect("four voters again");
    c.stop(2);
    propose_via_leader(&rt, &c, &[1, 3, 4], set("without-2", "1"));
}
