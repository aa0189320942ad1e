//! Clock-skew detection from heartbeats.
//!
//! Bundles are copied by hand, so `hactl cluster setup` has no peer to compare clocks
//! with; the first place two nodes talk is the heartbeat. Each heartbeat carries the
//! sender's wall clock; `peer send time − local receive time` estimates the peer's clock
//! offset (the one-way delay on a LAN is well under a few ms, far below the threshold).
//! Users of Pacemaker/Corosync expect NTP-synchronised nodes, so anything beyond
//! [`SKEW_THRESHOLD_MS`] is reported: logs and timestamps in the CIB would disagree.

use std::collections::HashMap;

use hactl_consensus::NodeId;

/// |offset| above this is clock skew (shared with the CLI so both agree).
pub use hactl_proto::CLOCK_SKEW_THRESHOLD_MS as SKEW_THRESHOLD_MS;

/// The peer's clock offset in microseconds: positive when the peer is ahead of us.
/// `None` when the sender did not know its own time (`sent == 0`, the proto default).
pub fn offset_micros(peer_sent_unix_micros: u64, local_recv_unix_micros: u64) -> Option<i64> {
    if peer_sent_unix_micros == 0 {
        return None;
    }
    let d = i128::from(peer_sent_unix_micros) - i128::from(local_recv_unix_micros);
    Some(d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// Whether an offset (µs) is beyond the skew threshold (either direction).
pub fn is_skewed(offset_micros: i64) -> bool {
    offset_micros.unsigned_abs() > (SKEW_THRESHOLD_MS as u64) * 1000
}

/// A change in a peer's skew state worth one log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkewChange {
    /// The offset went beyond the threshold.
    Skewed,
    /// The offset came back within the threshold.
    Recovered,
}

/// Latest offset estimate per peer, and whether it is currently skewed.
#[derive(Debug, Default)]
pub struct ClockTracker {
    peers: HashMap<NodeId, (i64, bool)>,
}

impl ClockTracker {
    /// Records the latest offset of `peer`; returns the state change, if any.
    pub fn observe(&mut self, peer: NodeId, offset_micros: i64) -> Option<SkewChange> {
        let skewed = is_skewed(offset_micros);
        let before = self
            .peers
            .insert(peer, (offset_micros, skewed))
            .is_some_and(|(_, s)| s);
        match (before, skewed) {
            (false, true) => Some(SkewChange::Skewed),
            (true, false) => Some(SkewChange::Recovered),
            _ => None,
        }
    }

    /// The latest offset of `peer` in milliseconds (rounded toward zero).
    pub fn offset_ms(&self, peer: NodeId) -> Option<i64> {
        self.peers.get(&peer).map(|(o, _)| o / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_is_peer_minus_local() {
        assert_eq!(offset_micros(5_000_000, 2_000_000), Some(3_000_000));
        assert_eq!(offset_micros(2_000_000, 5_000_000), Some(-3_000_000));
        assert_eq!(offset_micros(0, 5_000_000), None);
        assert_eq!(offset_micros(u64::MAX, 1), Some(i64::MAX));
    }

    #[test]
    fn threshold_is_two_seconds_either_way() {
        assert!(!is_skewed(0));
        assert!(!is_skewed(2_000_000));
        assert!(!is_skewed(-2_000_000));
        assert!(is_skewed(2_000_001));
        assert!(is_skewed(-2_000_001));
        assert!(!is_skewed(-1_500));
    }

    #[test]
    fn tracker_reports_each_transition_once() {
        let mut t = ClockTracker::default();
        assert_eq!(t.observe(2, 1_000), None);
        assert_eq!(t.observe(2, 3_200_000), Some(SkewChange::Skewed));
        assert_eq!(t.observe(2, 3_300_000), None);
        assert_eq!(t.offset_ms(2), Some(3_300));
        // Another peer is independent.
        assert_eq!(t.observe(3, -2_500_000), Some(SkewChange::Skewed));
        assert_eq!(t.observe(2, 500), Some(SkewChange::Recovered));
        assert_eq!(t.observe(2, 400), None);
        assert_eq!(t.offset_ms(3), Some(-2_500));
        assert_eq!(t.offset_ms(4), None);
    }

    #[test]
    fn first_heartbeat_already_skewed_is_reported() {
        let mut t = ClockTracker::default();
        assert_eq!(t.observe(7, -9_000_000), Some(SkewChange::Skewed));
    }
}
