//! How the DC records a batch of results (`propose_batch`): one proposal for the
//! whole burst, and when the model refuses it, one by one so that a single bad
//! change (a result from a node removed from the configuration meanwhile) does not
//! keep the other nodes' results out of the CIB; during a rolling upgrade, a
//! transition record an older member cannot read does not keep them out either.
//! What stands in for the daemon: the CIB in a mutex, a proposal applied with the
//! model's own `Change::apply` (no Raft, which `tests/tests/netns_controller.rs`
//! covers) after the consensus crate's own format check, and a switch for "no
//! leader".

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hactl_model::change::Change;
use hactl_model::{AgentSpec, Cib, Node, OpRecord};

use super::{propose_batch, BatchOutcome, ClusterIo};
use crate::messages::ControllerMsg;
use crate::{Proposal, ProposeError};

#[derive(Default)]
struct Io {
    cib: Mutex<Arc<Cib>>,
    proposals: AtomicUsize,
    /// Every proposal fails as it does without a leader (not committed).
    leaderless: AtomicBool,
    /// The entry format the cluster writes (0: the newest): a change that needs a
    /// newer one is refused as the consensus node refuses it.
    writes: AtomicU32,
}

impl ClusterIo for Io {
    fn send(&self, _node: &str, _msg: ControllerMsg) {}

    fn propose(&self, change: Change) -> Proposal<'_> {
        self.proposals.fetch_add(1, Ordering::SeqCst);
        let writes = match self.writes.load(Ordering::SeqCst) {
            0 => hactl_consensus::format::ENTRY_FORMAT,
            w => w,
        };
        let needs = hactl_consensus::format::required_format(&change);
        let r = if self.leaderless.load(Ordering::SeqCst) {
            Err(ProposeError::NotCommitted("no leader".into()))
        } else if needs > writes {
            Err(ProposeError::TooNew { needs, writes })
        } else {
            let mut g = self.cib.lock().expect("test CIB lock");
            let mut c = (**g).clone();
            change
                .apply(&mut c)
                .map(|()| *g = Arc::new(c))
                .map_err(Into::into)
        };
        Box::pin(async move { r })
    }

    fn cib(&self) -> Arc<Cib> {
        self.cib.lock().expect("test CIB lock").clone()
    }
}

fn io() -> Io {
    let mut cib = Cib::default();
    cib.config.nodes = ["n1", "n2"]
        .map(|n| Node {
            id: n.into(),
            name: n.into(),
            ..Default::default()
        })
        .into();
    Io {
        cib: Mutex::new(Arc::new(cib)),
        ..Default::default()
    }
}

fn outcome(all_ok: bool, committed: bool) -> BatchOutcome {
    BatchOutcome::new(all_ok, committed)
}

/// The result of `rsc`'s start on `node`, as the DC records it.
fn started(node: &str, rsc: &str) -> Change {
    Change::RecordOp {
        node: node.into(),
        rsc: rsc.into(),
        agent: AgentSpec::parse("ocf:heartbeat:Dummy").expect("agent spec"),
        op: OpRecord {
            operation: "start".into(),
            call_id: 1,
            ..Default::default()
        },
    }
}

fn recorded(io: &Io, node: &str, rsc: &str) -> bool {
    io.cib()
        .status
        .nodes
        .get(node)
        .is_some_and(|s| s.resources.contains_key(rsc))
}

#[tokio::test]
async fn a_burst_of_results_is_one_proposal() {
    let io = io();
    let out = propose_batch(&io, "n1", vec![started("n1", "a"), started("n2", "b")]).await;
    assert_eq!(out, outcome(true, true));
    assert_eq!(io.proposals.load(Ordering::SeqCst), 1, "one Raft round");
    assert!(recorded(&io, "n1", "a") && recorded(&io, "n2", "b"));
}

/// n9 is not (any more) a configured node: the model refuses its result, and with
/// it the whole batch; the results of n1 and n2 must still be recorded.
#[tokio::test]
async fn a_refused_change_does_not_keep_the_others_out() {
    let io = io();
    let batch = vec![started("n1", "a"), started("n9", "x"), started("n2", "b")];
    let out = propose_batch(&io, "n1", batch).await;
    assert_eq!(
        out,
        outcome(false, true),
        "the refused change is reported, the others committed"
    );
    for (node, rsc) in [("n1", "a"), ("n2", "b")] {
        assert!(
            recorded(&io, node, rsc),
            "{node}'s result lost with the bad one"
        );
    }
    assert!(!io.cib().status.nodes.contains_key("n9"));
    // The batch, then each of its three changes.
    assert_eq!(io.proposals.load(Ordering::SeqCst), 4);
}

/// Without a leader each change would fail as the batch did: no retry one by one
/// (three more proposals into a cluster that cannot commit), and nothing recorded.
#[tokio::test]
async fn a_batch_not_committed_is_not_split() {
    let io = io();
    io.leaderless.store(true, Ordering::SeqCst);
    let batch = vec![started("n1", "a"), started("n2", "b")];
    let out = propose_batch(&io, "n1", batch).await;
    assert_eq!(out, outcome(false, false));
    assert_eq!(io.proposals.load(Ordering::SeqCst), 1);
    assert!(!recorded(&io, "n1", "a"));
}

/// A transition record (format 4).
fn record() -> Change {
    Change::RecordTransition {
        record: Box::new(hactl_model::transitions::TransitionRecord {
            id: 1,
            dc: "n1".into(),
            ..Default::default()
        }),
    }
}

/// A rolling upgrade: a member still reads only format 3, so the transition record
/// is refused, and with it the batch. The results batched with it must still be
/// recorded, and the record's refusal is no failure of the operations (a failure
/// keeps their reports unacknowledged and the DC plans them again).
#[tokio::test]
async fn a_record_an_old_member_cannot_read_does_not_keep_the_results_out() {
    let io = io();
    io.writes.store(3, Ordering::SeqCst);
    let batch = vec![started("n1", "a"), record(), started("n2", "b")];
    let out = propose_batch(&io, "n1", batch).await;
    assert_eq!(
        out,
        BatchOutcome {
            too_new: 1,
            ..outcome(true, true)
        }
    );
    for (node, rsc) in [("n1", "a"), ("n2", "b")] {
        assert!(
            recorded(&io, node, rsc),
            "{node}'s result lost with the record"
        );
    }
    assert!(io.cib().status.transitions.is_empty());
    // The record alone: refused, not an operation failure.
    let out = propose_batch(&io, "n1", vec![record()]).await;
    assert_eq!(
        out,
        BatchOutcome {
            too_new: 1,
            ..outcome(true, false)
        }
    );
    // Once every member reads it, the record goes in with the results.
    io.writes.store(0, Ordering::SeqCst);
    let out = propose_batch(&io, "n1", vec![record(), started("n1", "c")]).await;
    assert_eq!(out, outcome(true, true));
    assert_eq!(io.cib().status.transitions.len(), 1);
}
