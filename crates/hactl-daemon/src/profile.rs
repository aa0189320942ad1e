//! Heartbeat profiles: how often nodes beacon, when a silent node is declared lost, and
//! the Raft timing derived from them.

use std::time::Duration;

use hactl_consensus::Timing;

/// A named set of liveness timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub name: &'static str,
    /// Every node sends a heartbeat to every other node this often.
    pub interval: Duration,
    /// A node not heard from for this long is lost (and so is quorum, when too many
    /// are lost).
    pub lost_after: Duration,
    /// Bound on timer, scheduling and network lateness on one node (the split-brain
    /// hold adds it for each side of a partition).
    pub slack: Duration,
    /// Raft's clock.
    pub raft: Timing,
}

impl Profile {
    /// `default`: 50 ms heartbeats, lost after 250 ms (5 missed beats); Raft heartbeats
    /// at the same pace and elections after 250–500 ms of leader silence.
    pub const DEFAULT: Profile = Profile {
        name: "default",
        interval: Duration::from_millis(50),
        lost_after: Duration::from_millis(250),
        slack: Duration::from_millis(20),
        raft: Timing {
            tick: Duration::from_millis(10),
            heartbeat_ticks: 5,
            election_ticks: 25,
        },
    };

    /// `fast`: 20 ms heartbeats, lost after 80 ms (4 missed beats); elections after
    /// 80–160 ms. Needs a quiet network and CPU headroom.
    pub const FAST: Profile = Profile {
        name: "fast",
        interval: Duration::from_millis(20),
        lost_after: Duration::from_millis(80),
        slack: Duration::from_millis(12),
        raft: Timing {
            tick: Duration::from_millis(4),
            heartbeat_ticks: 5,
            election_ticks: 20,
        },
    };

    pub const ALL: [Profile; 2] = [Profile::DEFAULT, Profile::FAST];

    /// The timing the split-brain hold derives from.
    pub fn liveness(&self) -> hactl_controller::split_brain::Liveness {
        hactl_controller::split_brain::Liveness::new(self.interval, self.lost_after, self.slack)
    }

    pub fn by_name(name: &str) -> Option<Profile> {
        Self::ALL.into_iter().find(|p| p.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_keep_raft_inside_the_liveness_bound() {
        for p in Profile::ALL {
            let raft_hb = p.raft.tick * p.raft.heartbeat_ticks as u32;
            let election = p.raft.tick * p.raft.election_ticks as u32;
            assert!(raft_hb <= p.interval, "{}", p.name);
            // Raft's leader lease should not be shorter than our loss detection, or
            // leadership would flap on delays the liveness layer tolerates.
            assert!(election >= p.lost_after, "{}", p.name);
            assert!(
                p.lost_after >= p.interval * 3,
                "{}: tolerate two lost beats",
                p.name
            );
        }
        assert_eq!(Profile::by_name("fast"), Some(Profile::FAST));
        assert_eq!(Profile::by_name("slow"), None);
    }
}
