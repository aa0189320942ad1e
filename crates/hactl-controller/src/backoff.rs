//! After the DC could not commit what it had to record, its next policy run waits.
//!
//! Re-planning at once plans the same actions on the same CIB (the results that
//! would have changed it were not recorded), they finish at once, their records fail
//! again: a busy loop (CI saw a new transition every 5 ms, with two log lines each,
//! while a member's format was not known yet). What can change the answer is an
//! event (a member's report, a new leader, a node back), not the next millisecond:
//! the DC keeps serving events meanwhile and plans again after a delay that doubles
//! with each failure, from the first below up to the last. A round that committed
//! its changes, all of them, ends the wait (one with nothing to commit changes
//! nothing).

use std::time::{Duration, Instant};

const FIRST: Duration = Duration::from_millis(100);
const MAX: Duration = Duration::from_secs(5);

/// The DC's wait after changes it could not commit.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    /// The delay the next failure adds (None: no failure since the last success).
    next: Option<Duration>,
    not_before: Option<Instant>,
}

impl Backoff {
    /// Changes were not committed: returns the wait this starts.
    pub(crate) fn failed(&mut self, now: Instant) -> Duration {
        let delay = self.next.unwrap_or(FIRST);
        self.next = Some((delay * 2).min(MAX));
        self.not_before = Some(now + delay);
        delay
    }

    /// Every change of a round committed.
    pub(crate) fn succeeded(&mut self) {
        *self = Backoff::default();
    }

    /// Whether the next policy run must still wait.
    pub(crate) fn waiting(&self, now: Instant) -> bool {
        self.not_before.is_some_and(|t| now < t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_up_to_its_bound_and_a_success_ends_it() {
        let mut b = Backoff::default();
        let t = Instant::now();
        assert!(!b.waiting(t));
        let delays: Vec<_> = (0..8).map(|_| b.failed(t)).collect();
        assert_eq!(delays[..3], [FIRST, FIRST * 2, FIRST * 4]);
        assert_eq!(delays.last(), Some(&MAX));
        assert!(b.waiting(t) && !b.waiting(t + MAX));
        b.succeeded();
        assert!(!b.waiting(t));
        assert_eq!(b.failed(t), FIRST, "starts again from the first");
    }
}
