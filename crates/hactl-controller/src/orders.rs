//! Which DC a node takes orders from. Raft lets a deposed leader run on for a while
//! (partitioned away, it has not heard of the newer term yet; or its node has, but
//! its DC task is only stopped at the next liveness check), and orders it sent may
//! still be on the wire. Such a DC plans on a CIB the current DC no longer shares:
//! its "start" could run a resource the current DC runs elsewhere. So a node runs a
//! DC's order (run an operation, fence, forget reports, resync) only when the sender
//! is the leader it knows and the order's term is not older than the newest term it
//! knows — its own Raft term, or a newer DC term it already took orders from. This
//! holds for orders a DC gives its own node too. A DC of an older build sends no
//! term; only the leader check applies to it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tracing::{debug, warn};

use crate::messages::ControllerMsg;

/// Why an order was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{from} is not the DC this node knows ({known:?})")]
    NotTheDc { from: String, known: Option<String> },
    #[error("order of DC term {term}; this node knows term {known}")]
    StaleTerm { term: u64, known: u64 },
}

/// What the node knows of the current DC: the Raft leader and the newest term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownDc {
    pub leader: Option<String>,
    pub term: u64,
}

/// A node's check of the orders it is given.
#[derive(Debug)]
pub struct OrderCheck {
    me: String,
    /// The newest DC term an order was taken from (may be ahead of this node's
    /// Raft term for a moment: its leader was re-elected and it has not heard yet).
    newest: AtomicU64,
    /// The last refusal logged as a warning, by sender and term: a deposed DC's
    /// burst of orders is one warning.
    logged: Mutex<Option<(String, Option<u64>)>>,
    refused: AtomicU64,
}

impl OrderCheck {
    pub fn new(me: impl Into<String>) -> OrderCheck {
        OrderCheck {
            me: me.into(),
            newest: AtomicU64::new(0),
            logged: Mutex::new(None),
            refused: AtomicU64::new(0),
        }
    }

    /// Whether an order from `from` in DC term `dc_term` may run here.
    pub fn check(&self, from: &str, dc_term: Option<u64>, known: &KnownDc) -> Result<(), Refusal> {
        if known.leader.as_deref() != Some(from) {
            return Err(Refusal::NotTheDc {
                from: from.into(),
                known: known.leader.clone(),
            });
        }
        let Some(term) = dc_term else {
            return Ok(());
        };
        let newest = known.term.max(self.newest.load(Ordering::SeqCst));
        if term < newest {
            return Err(Refusal::StaleTerm {
                term,
                known: newest,
            });
        }
        self.newest.fetch_max(term, Ordering::SeqCst);
        Ok(())
    }

    /// [`OrderCheck::check`], logging a refusal (a warning once per sender and
    /// term, then at debug level).
    pub fn admit(
        &self,
        from: &str,
        dc_term: Option<u64>,
        known: &KnownDc,
        msg: &ControllerMsg,
    ) -> bool {
        let Err(why) = self.check(from, dc_term, known) else {
            return true;
        };
        self.refused.fetch_add(1, Ordering::SeqCst);
        let key = Some((from.to_string(), dc_term));
        let first = self
            .logged
            .lock()
            .map(|mut l| {
                let first = *l != key;
                *l = key;
                first
            })
            .unwrap_or(true);
        let (resource, op) = order_of(msg);
        if first {
            warn!(node = %self.me, peer = from, dc_term, known_dc = ?known.leader,
                known_term = known.term, resource, op, reason = %why,
                "order from a DC that is not the current one refused");
        } else {
            debug!(node = %self.me, peer = from, dc_term, resource, op, reason = %why,
                "order refused");
        }
        false
    }

    /// Orders refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }
}

/// The resource and operation an order is about, for the log.
fn order_of(msg: &ControllerMsg) -> (Option<&str>, &str) {
    match msg {
        ControllerMsg::Execute(d) => (Some(&d.details.rsc), &d.details.op),
        ControllerMsg::Fence(f) => (Some(&f.target), "fence"),
        ControllerMsg::Ack { .. } => (None, "ack"),
        ControllerMsg::Resync => (None, "resync"),
        _ => (None, "other"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(leader: &str, term: u64) -> KnownDc {
        KnownDc {
            leader: Some(leader.into()),
            term,
        }
    }

    #[test]
    fn the_leaders_orders_of_the_current_term_pass() {
        let c = OrderCheck::new("n3");
        assert_eq!(c.check("n1", Some(4), &known("n1", 4)), Ok(()));
        // Its leader re-elected in a term this node has not heard of yet.
        assert_eq!(c.check("n1", Some(5), &known("n1", 4)), Ok(()));
        // A DC of an older build.
        assert_eq!(c.check("n1", None, &known("n1", 5)), Ok(()));
    }

    #[test]
    fn an_older_term_or_another_sender_is_refused() {
        let c = OrderCheck::new("n3");
        let stale = Refusal::StaleTerm { term: 3, known: 4 };
        assert_eq!(c.check("n1", Some(3), &known("n1", 4)), Err(stale));
        assert!(matches!(
            c.check("n2", Some(4), &known("n1", 4)),
            Err(Refusal::NotTheDc { .. })
        ));
        // Once an order of term 6 ran here, one of term 5 is stale even though
        // this node's Raft term still says 5.
        assert_eq!(c.check("n1", Some(6), &known("n1", 5)), Ok(()));
        let stale = Refusal::StaleTerm { term: 5, known: 6 };
        assert_eq!(c.check("n1", Some(5), &known("n1", 5)), Err(stale));
    }

    #[test]
    fn an_envelope_without_a_term_decodes() {
        let old = ControllerMsg::Resync.to_json();
        let e = crate::messages::Envelope::from_json(&old).expect("decodes");
        assert_eq!((e.msg, e.dc_term), (ControllerMsg::Resync, None));
        let new = crate::messages::Envelope {
            msg: ControllerMsg::Ack { seqs: vec![3] },
            dc_term: Some(7),
        };
        let back = crate::messages::Envelope::from_json(&new.to_json()).expect("decodes");
        assert_eq!(back, new);
        // An older build reads the message and ignores the term.
        let plain = ControllerMsg::from_json(&new.to_json()).expect("decodes");
        assert_eq!(plain, ControllerMsg::Ack { seqs: vec![3] });
    }
}
