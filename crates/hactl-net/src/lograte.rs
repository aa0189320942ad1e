//! Keeps the log readable under traffic anyone can send. Every UDP packet that
//! starts a handshake which then fails is unauthenticated: one WARN line each let a
//! flood write 36 MB of log. The first of each kind is logged, the rest are counted
//! and the count rides on the next line logged, at most one per interval.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One line per kind of event per this long, at most.
pub(crate) const WARN_EVERY: Duration = Duration::from_secs(10);

#[derive(Default)]
pub(crate) struct LogGate {
    slots: Mutex<HashMap<&'static str, Slot>>,
}

struct Slot {
    /// Nothing of this kind is logged before then.
    quiet_until: Instant,
    /// Events held back since the last line.
    held: u64,
}

impl LogGate {
    /// Whether to log an event of `kind` seen at `now`; if so, how many events of
    /// that kind were held back since the last line (to be logged with it).
    pub(crate) fn admit(&self, kind: &'static str, now: Instant) -> Option<u64> {
        // A poisoned lock only means a panic elsewhere mid-update of a counter:
        // logging goes on with the data as it is.
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        match slots.get_mut(kind) {
            Some(s) if now < s.quiet_until => {
                s.held += 1;
                None
            }
            Some(s) => {
                s.quiet_until = now + WARN_EVERY;
                Some(std::mem::take(&mut s.held))
            }
            None => {
                slots.insert(
                    kind,
                    Slot {
                        quiet_until: now + WARN_EVERY,
                        held: 0,
                    },
                );
                Some(0)
            }
        }
    }
}

/// A peer we cannot reach: said once when it starts, then how long it has lasted,
/// at growing intervals (a node that is down for an hour used to add a line every
/// 2 s to the log of every other node).
#[derive(Debug)]
pub(crate) struct Outage {
    pub since: Instant,
    pub attempts: u64,
    next_report: Instant,
}

impl Outage {
    const FIRST_REMINDER: Duration = Duration::from_secs(30);
    const MAX_REMINDER: Duration = Duration::from_secs(600);

    pub(crate) fn start(now: Instant) -> Outage {
        Outage {
            since: now,
            attempts: 1,
            next_report: now + Self::FIRST_REMINDER,
        }
    }

    /// Counts a further failed attempt; true when it is time to say the peer is
    /// still unreachable (after 30 s, then each time twice as long, at most 10 min).
    pub(crate) fn failed_again(&mut self, now: Instant) -> bool {
        self.attempts += 1;
        if now < self.next_report {
            return false;
        }
        let lasted = now.saturating_duration_since(self.since);
        self.next_report = now + lasted.clamp(Self::FIRST_REMINDER, Self::MAX_REMINDER);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_makes_one_line_per_interval_with_the_count() {
        let gate = LogGate::default();
        let t0 = Instant::now();
        assert_eq!(gate.admit("handshake", t0), Some(0));
        for i in 1..=1000 {
            assert_eq!(gate.admit("handshake", t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(gate.admit("other", t0), Some(0), "kinds are separate");
        assert_eq!(gate.admit("handshake", t0 + WARN_EVERY), Some(1000));
        assert_eq!(gate.admit("handshake", t0 + WARN_EVERY * 3), Some(0));
    }

    #[test]
    fn an_outage_is_reported_once_then_at_growing_intervals() {
        let t0 = Instant::now();
        let mut o = Outage::start(t0);
        let mut reports = Vec::new();
        // One attempt every 2 s for an hour.
        for s in (2..3600).step_by(2) {
            if o.failed_again(t0 + Duration::from_secs(s)) {
                reports.push(s);
            }
        }
        assert_eq!(o.attempts, 1800);
        assert_eq!(reports[..3], [30, 60, 120], "{reports:?}");
        assert!(reports.len() < 12, "{reports:?}");
    }
}
