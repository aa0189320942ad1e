//! Which of a node's reports the DC has recorded, per run of the node's executor
//! (`boot`). Reports carry a sequence number the node counts up; most arrive in
//! order, but a `Synced` backlog (results kept while no DC heard them) can arrive
//! after newer results were recorded (the DC probed the node when the backlog was
//! overdue). Those older reports were never recorded: they must still count (their
//! failures' fail counts), just not as the node's newest results. Remembering only
//! the highest number recorded took them for repeats and dropped them.

use std::collections::BTreeSet;

/// Numbers kept above the floor at most; past it the oldest is taken as recorded
/// (a gap that never fills: a number the node used for nothing the DC hears).
const KEPT: usize = 1024;

/// The report numbers recorded from one run of a node: every one up to `floor`,
/// and those in `above`.
#[derive(Debug, Default)]
pub struct Recorded {
    floor: u64,
    above: BTreeSet<u64>,
}

/// What a report is, against what was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Recorded before (a repeat): acknowledge it again, nothing more.
    Repeat,
    /// Newer than anything recorded: record it.
    New,
    /// Not recorded, but older than a result that was: it must not pass for newer.
    Late,
}

impl Recorded {
    pub fn judge(&self, seq: u64) -> Seen {
        if seq <= self.floor || self.above.contains(&seq) {
            Seen::Repeat
        } else if self.above.last().is_some_and(|&top| seq < top) {
            Seen::Late
        } else {
            Seen::New
        }
    }

    pub fn insert(&mut self, seq: u64) {
        if seq <= self.floor {
            return;
        }
        self.above.insert(seq);
        while let Some(&first) = self.above.first() {
            if first == self.floor + 1 || self.above.len() > KEPT {
                self.floor = first;
                self.above.pop_first();
            } else {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_report_never_recorded_is_late_not_a_repeat() {
        let mut r = Recorded::default();
        assert_eq!(r.judge(1), Seen::New);
        r.insert(1);
        r.insert(2);
        // 3 and 4 wait in the node's outbox; 5 (a probe) is recorded first.
        r.insert(5);
        assert_eq!(r.judge(2), Seen::Repeat);
        assert_eq!(r.judge(3), Seen::Late);
        r.insert(3);
        assert_eq!(r.judge(3), Seen::Repeat);
        assert_eq!(r.judge(4), Seen::Late);
        r.insert(4);
        assert_eq!((r.floor, r.above.len()), (5, 0), "the gap filled");
        assert_eq!(r.judge(6), Seen::New);
    }

    #[test]
    fn a_gap_that_never_fills_is_bounded() {
        let mut r = Recorded::default();
        for seq in 2..(KEPT as u64 + 10) {
            r.insert(seq);
        }
        assert!(r.above.len() <= KEPT);
        assert_eq!(r.judge(1), Seen::Repeat, "given up on past the bound");
    }
}
