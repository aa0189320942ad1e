//! Round-trip liveness, for quorum.
//!
//! Hearing a peer is not enough to count it toward this node's quorum. In an
//! asymmetric cut (this node still receives the majority's heartbeats, but nothing it
//! sends reaches them) the majority declares this node lost, waits the split-brain
//! hold and starts its resources; if this node counted what it hears, it would keep
//! quorum and keep running them: the service would run twice. So each heartbeat
//! echoes the `seq` of the newest heartbeat its sender received from the recipient,
//! and a node counts a peer toward its quorum only while the peer has echoed one of
//! this node's heartbeats *sent* within `lost_after`.
//!
//! Why the split-brain bound still holds (docs/architecture.md, "Split brain"): after a
//! cut at `t0` in either direction, no echo of a heartbeat sent after `t0` can reach
//! this node (the heartbeat does not reach the peer, or the echo does not come back),
//! so its newest acknowledged heartbeat left at most at `t0`, and it loses quorum by
//! `t0 + lost_after + check + slack`, as with one-way hearing under a symmetric cut.
//!
//! A peer of a build before echoes (`echoes` unset in its heartbeats) is judged as
//! before, by what this node hears of it, so a rolling upgrade keeps quorum.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hactl_consensus::NodeId;

/// What this node knows of the round trips to its peers.
#[derive(Debug)]
pub(crate) struct Echoes {
    /// How long a sent heartbeat's time is kept: older ones can no longer count.
    keep: Duration,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// This node's heartbeats, oldest first: `seq` and when it was sent.
    sent: VecDeque<(u64, Instant)>,
    /// Per peer: the `seq` of the newest heartbeat received from it, echoed back.
    heard: HashMap<NodeId, u64>,
    /// Per peer: when the newest of this node's heartbeats it echoed was sent; for a
    /// peer that does not echo (an older build), when it was last heard.
    acked: HashMap<NodeId, Instant>,
}

impl Echoes {
    /// `keep`: at least the quorum bound (`lost_after`).
    pub(crate) fn new(keep: Duration) -> Echoes {
        Echoes {
            keep,
            inner: Mutex::default(),
        }
    }

    /// This node sent its heartbeat `seq` (to every peer) at `now`. Sequence numbers
    /// increase within a run.
    pub(crate) fn sent(&self, seq: u64, now: Instant) {
        let Ok(mut i) = self.inner.lock() else {
            return;
        };
        i.sent.push_back((seq, now));
        while i
            .sent
            .front()
            .is_some_and(|(_, t)| now.saturating_duration_since(*t) > self.keep)
        {
            i.sent.pop_front();
        }
    }

    /// The echo to put in a heartbeat to `id`: the `seq` of its newest heartbeat heard
    /// here, 0 if none (a sender's first `seq` is never 0: see `first_seq`).
    pub(crate) fn echo_for(&self, id: NodeId) -> u64 {
        self.inner
            .lock()
            .ok()
            .and_then(|i| i.heard.get(&id).copied())
            .unwrap_or(0)
    }

    /// A heartbeat `seq` from `id` arrived at `now`, echoing `echo` (when `echoes`).
    pub(crate) fn on_heartbeat(&self, id: NodeId, seq: u64, echoes: bool, echo: u64, now: Instant) {
        let Ok(mut i) = self.inner.lock() else {
            return;
        };
        i.heard.insert(id, seq);
        let at = if echoes {
            // Unknown `echo` (0, from before our restart, or older than `keep`): no
            // proof that our recent heartbeats reach the peer.
            match i.sent.binary_search_by_key(&echo, |(s, _)| *s) {
                Ok(k) => i.sent[k].1,
                Err(_) => return,
            }
        } else {
            now
        };
        let newest = i.acked.entry(id).or_insert(at);
        if at > *newest {
            *newest = at;
        }
    }

    /// Whether `id` acknowledged one of this node's heartbeats sent within `bound`.
    pub(crate) fn acked_within(&self, id: NodeId, now: Instant, bound: Duration) -> bool {
        self.inner
            .lock()
            .ok()
            .and_then(|i| i.acked.get(&id).copied())
            .is_some_and(|t| now.saturating_duration_since(t) < bound)
    }
}

/// The first heartbeat `seq` of a run: the wall clock in microseconds, so a restarted
/// daemon's numbers do not repeat its previous run's (a peer may still echo one of
/// those, and must not be taken for an acknowledgement of a new heartbeat), and never 0.
pub(crate) fn first_seq(unix_micros: u64) -> u64 {
    unix_micros.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Duration = Duration::from_millis(250);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_peer_that_echoes_a_recent_heartbeat_counts() {
        let e = Echoes::new(L * 2);
        let t0 = Instant::now();
        e.sent(10, t0);
        e.sent(11, t0 + ms(50));
        e.on_heartbeat(2, 500, true, 11, t0 + ms(60));
        assert!(e.acked_within(2, t0 + ms(60), L));
        // The acknowledgement dates from when heartbeat 11 was sent, not arrived.
        assert!(e.acked_within(2, t0 + ms(299), L));
        assert!(!e.acked_within(2, t0 + ms(300), L));
        assert_eq!(e.echo_for(2), 500);
    }

    #[test]
    fn hearing_a_peer_that_does_not_hear_us_is_not_enough() {
        // The asymmetric cut: the peer's heartbeats keep arriving, but they echo our
        // last heartbeat that reached it, which grows old.
        let e = Echoes::new(L * 2);
        let t0 = Instant::now();
        e.sent(1, t0);
        e.on_heartbeat(2, 100, true, 1, t0 + ms(10));
        for k in 1..=10u64 {
            let now = t0 + ms(50 * k);
            e.sent(1 + k, now);
            e.on_heartbeat(2, 100 + k, true, 1, now);
        }
        assert!(!e.acked_within(2, t0 + ms(500), L));
    }

    #[test]
    fn an_echo_never_seen_or_forgotten_proves_nothing() {
        let e = Echoes::new(L);
        let t0 = Instant::now();
        e.on_heartbeat(2, 7, true, 0, t0);
        e.on_heartbeat(3, 7, true, 42, t0);
        assert!(!e.acked_within(2, t0, L));
        assert!(!e.acked_within(3, t0, L));
        e.sent(5, t0);
        e.sent(6, t0 + L + ms(1)); // 5 is forgotten
        e.on_heartbeat(2, 8, true, 5, t0 + L + ms(2));
        assert!(!e.acked_within(2, t0 + L + ms(2), L));
    }

    #[test]
    fn an_older_build_that_does_not_echo_is_judged_by_hearing_it() {
        let e = Echoes::new(L);
        let t0 = Instant::now();
        e.on_heartbeat(2, 3, false, 0, t0);
        assert!(e.acked_within(2, t0 + ms(249), L));
        assert!(!e.acked_within(2, t0 + L, L));
    }

    #[test]
    fn a_late_echo_of_an_older_heartbeat_does_not_move_the_ack_back() {
        let e = Echoes::new(L * 2);
        let t0 = Instant::now();
        e.sent(1, t0);
        e.sent(2, t0 + ms(100));
        e.on_heartbeat(2, 9, true, 2, t0 + ms(110));
        e.on_heartbeat(2, 8, true, 1, t0 + ms(120)); // reordered
        assert!(e.acked_within(2, t0 + ms(340), L));
    }

    #[test]
    fn first_seq_is_never_zero() {
        assert_eq!(first_seq(0), 1);
        assert_eq!(first_seq(1_700_000_000_000_000), 1_700_000_000_000_000);
    }
}
