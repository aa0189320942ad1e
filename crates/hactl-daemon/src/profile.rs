//! Heartbeat profiles: how often nodes beacon, when a silent node is declared lost, and
//! the Raft timing derived from them.

use std::path::Path;
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

    /// `base` with an explicit heartbeat interval and/or loss timeout (corosync's
    /// token), checked so the split-brain hold's derivation still holds: a node is
    /// declared lost only after two heartbeats in a row went missing, and only once a
    /// heartbeat that was merely late by the slack could not still arrive. Quorum
    /// counts a peer by round trip ([`crate::echo`]): the heartbeat of ours it echoes
    /// can be an interval old when it sends, and its echo comes an interval later, so
    /// a healthy acknowledgement ages up to two intervals plus both sides' lateness and
    /// the check's period; the loss timeout must exceed that too, or a healthy peer
    /// would drop out of quorum. Raft's clock follows: heartbeats at the interval,
    /// elections no sooner than the loss.
    pub fn custom(
        base: Profile,
        interval: Option<Duration>,
        dead_after: Option<Duration>,
    ) -> Result<Profile, ProfileError> {
        if interval.is_none() && dead_after.is_none() {
            return Ok(base);
        }
        let i = interval.unwrap_or(base.interval);
        if i < MIN_INTERVAL || i > MAX_INTERVAL {
            return Err(ProfileError::Interval(i));
        }
        // 2/5 of the interval, as the default profile (50 ms → 20 ms), at least 10 ms.
        let slack = (i * 2 / 5).max(Duration::from_millis(10));
        let check = i / 4;
        // The round trip's bound implies the one-way bound (`i + 2·slack + check`).
        let min = (i * 3).max(2 * i + 2 * slack + check + Duration::from_millis(1));
        let l = dead_after.unwrap_or(base.lost_after.max(min));
        if l < min {
            return Err(ProfileError::DeadAfter {
                dead_after: l,
                interval: i,
                min,
            });
        }
        let tick = (i / 5).max(Duration::from_millis(1));
        let election_ticks = l.as_micros().div_ceil(tick.as_micros()) as usize;
        Ok(Profile {
            name: "custom",
            interval: i,
            lost_after: l,
            slack,
            raft: Timing {
                tick,
                heartbeat_ticks: (i.as_micros() / tick.as_micros()).max(1) as usize,
                election_ticks,
            },
        })
    }
}

/// Where a node keeps the CIB's `heartbeat-profile` as it last applied it: the
/// timing must be chosen before consensus starts (Raft's clock derives from it), so
/// a change of the property takes effect at each daemon's next start.
const CIB_PROFILE_FILE: &str = "heartbeat-profile";

/// The CIB's `heartbeat-profile` as this node last saw it, if any.
pub fn read_cib_profile(state_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(state_dir.join(CIB_PROFILE_FILE)).ok()?;
    let name = text.trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// Keeps `name` for the next start when it differs from what is kept. `Ok(true)`:
/// it changed.
pub fn keep_cib_profile(state_dir: &Path, name: &str) -> std::io::Result<bool> {
    if read_cib_profile(state_dir).as_deref() == Some(name) {
        return Ok(false);
    }
    let tmp = state_dir.join(format!("{CIB_PROFILE_FILE}.tmp"));
    std::fs::write(&tmp, format!("{name}\n"))?;
    std::fs::rename(&tmp, state_dir.join(CIB_PROFILE_FILE))?;
    Ok(true)
}

const MIN_INTERVAL: Duration = Duration::from_millis(10);
const MAX_INTERVAL: Duration = Duration::from_secs(10);

/// An explicit timing that would break the liveness layer's assumptions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("unknown heartbeat profile {0:?}; known: default, fast")]
    Unknown(String),
    #[error("heartbeat_interval {0:?} is outside 10ms..10s")]
    Interval(Duration),
    #[error(
        "dead_after {dead_after:?} is too short for heartbeat_interval {interval:?}: \
         at least {min:?} (three intervals, and more than one interval plus the checks' \
         and both sides' lateness, which the split-brain hold assumes)"
    )]
    DeadAfter {
        dead_after: Duration,
        interval: Duration,
        min: Duration,
    },
    #[error("{name} {value:?} is not a duration such as \"50ms\"")]
    NotADuration { name: &'static str, value: String },
}

/// The timing this daemon runs with. The profile: the `--profile` flag, else
/// `heartbeat_profile` in `cluster.toml`'s `[settings]`, else the CIB's
/// `heartbeat-profile` property as this node last applied it (`from_cib`), else
/// `default`; then `heartbeat_interval` / `dead_after` from `[settings]` override
/// its numbers.
pub fn choose(
    flag: Option<&str>,
    settings: &toml::Table,
    from_cib: Option<&str>,
) -> Result<Profile, ProfileError> {
    let setting = settings.get("heartbeat_profile").and_then(|v| v.as_str());
    let name = flag.or(setting).or(from_cib).unwrap_or("default");
    let base = Profile::by_name(name).ok_or_else(|| ProfileError::Unknown(name.to_string()))?;
    let dur = |name: &'static str| -> Result<Option<Duration>, ProfileError> {
        let Some(v) = settings.get(name) else {
            return Ok(None);
        };
        let text = v
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string());
        hactl_model::values::parse_interval_ms(&text)
            .filter(|ms| *ms > 0)
            .map(|ms| Some(Duration::from_millis(ms)))
            .ok_or(ProfileError::NotADuration { name, value: text })
    };
    Profile::custom(base, dur("heartbeat_interval")?, dur("dead_after")?)
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

    fn settings(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn the_flag_then_cluster_toml_then_the_cib_then_the_default() {
        let none = settings("");
        let toml_fast = settings("heartbeat_profile = \"fast\"");
        assert_eq!(choose(None, &none, None).unwrap(), Profile::DEFAULT);
        assert_eq!(choose(None, &none, Some("fast")).unwrap(), Profile::FAST);
        assert_eq!(
            choose(None, &toml_fast, Some("default")).unwrap(),
            Profile::FAST
        );
        assert_eq!(
            choose(Some("default"), &toml_fast, Some("fast")).unwrap(),
            Profile::DEFAULT
        );
        assert_eq!(
            choose(None, &none, Some("slow")),
            Err(ProfileError::Unknown("slow".into()))
        );
    }

    #[test]
    fn explicit_timings_are_checked_and_keep_raft_inside_the_liveness_bound() {
        let p = choose(
            None,
            &settings("heartbeat_interval = \"100ms\"\ndead_after = \"1s\""),
            Some("fast"),
        )
        .unwrap();
        assert_eq!(p.name, "custom");
        assert_eq!(p.interval, Duration::from_millis(100));
        assert_eq!(p.lost_after, Duration::from_secs(1));
        assert_eq!(p.slack, Duration::from_millis(40));
        let raft_hb = p.raft.tick * p.raft.heartbeat_ticks as u32;
        let election = p.raft.tick * p.raft.election_ticks as u32;
        assert!(raft_hb <= p.interval && election >= p.lost_after, "{p:?}");
        // Only the interval: the loss follows, past the round trip's bound (2 · 200 +
        // 2 · 80 + 50 ms, and 1 ms).
        let p = choose(None, &settings("heartbeat_interval = \"200ms\""), None).unwrap();
        assert_eq!(p.lost_after, Duration::from_millis(611));
        // Too short a loss for the interval, nonsense, out of range: named.
        let e = choose(
            None,
            &settings("heartbeat_interval = \"100ms\"\ndead_after = \"250ms\""),
            None,
        )
        .unwrap_err();
        assert!(matches!(e, ProfileError::DeadAfter { .. }), "{e}");
        assert!(e.to_string().contains("split-brain hold"), "{e}");
        let e = choose(None, &settings("dead_after = \"soon\""), None).unwrap_err();
        assert!(e.to_string().contains("soon"), "{e}");
        let e = choose(None, &settings("heartbeat_interval = \"1ms\""), None).unwrap_err();
        assert!(matches!(e, ProfileError::Interval(_)), "{e}");
    }
}
