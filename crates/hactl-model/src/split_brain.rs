//! The split-brain hold's timing, as pure functions of explicit inputs (see
//! `docs/architecture.md`, "Split brain"). The controller holds a lost node's
//! resources this long; `hactl cluster verify` checks a configuration against the
//! same numbers, so both live here, next to the CIB they read.
//!
//! A partition cuts the cluster at `t0` into a majority (quorum) and a minority.
//! Nothing proves to the majority that the minority stopped its resources, so the
//! majority's DC holds back the lost node's resources long enough that, by then, the
//! minority has **stopped them, or been reset by its watchdog**:
//!
//! - The minority heard its last heartbeat from the majority at the latest at `t0`;
//!   it loses quorum at its first liveness check after `L` of silence: by
//!   `t0 + L + check + slack`.
//! - It then stops what it runs, in reverse start order, each stop bounded by its
//!   timeout: clean by `+ chain` (the sum of those timeouts). With
//!   `stonith-watchdog-timeout` (`W`) it also runs a watchdog and stops feeding it
//!   when it is not clean `W − watchdog timeout` after losing quorum (or as soon as a
//!   stop fails): clean or reset by `+ W`, whatever its stops do.
//! - The majority's DC sees the node lost no earlier than `t0 − I − slack + L` (the
//!   minority's last heartbeat left up to one interval, plus lateness, before `t0`).
//!
//! So the DC holds `hold = I + check + 2·slack + clean_within` after it sees the loss,
//! where `clean_within` is `W` with the watchdog, else `chain`.

use std::time::Duration;

/// The liveness layer's timing, the same on every node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    /// `I`: every node sends a heartbeat to every other node this often.
    pub interval: Duration,
    /// `L`: a node not heard from for this long is lost.
    pub lost_after: Duration,
    /// How often each node checks liveness and quorum.
    pub check: Duration,
    /// Bound on lateness on each side: a heartbeat's send plus its network delay, a
    /// liveness check's timer and scheduling, the stop's start after quorum loss.
    pub slack: Duration,
}

impl Liveness {
    /// A node checking four times per interval, as the daemon does.
    pub fn new(interval: Duration, lost_after: Duration, slack: Duration) -> Liveness {
        Liveness {
            interval,
            lost_after,
            check: interval / 4,
            slack,
        }
    }
}

/// The node attribute where each node records the liveness timing it runs with (so
/// a DC running another timing — a heartbeat profile changed and not every node
/// restarted yet — holds that node's resources long enough; see [`hold_between`]).
pub const LIVENESS_ATTR: &str = "hactl-liveness";

impl Liveness {
    /// The attribute value: `interval,lost_after,slack` in milliseconds.
    pub fn to_attr(&self) -> String {
        format!(
            "{},{},{}",
            self.interval.as_millis(),
            self.lost_after.as_millis(),
            self.slack.as_millis()
        )
    }

    /// Reads [`Liveness::to_attr`]'s format; None for anything else.
    pub fn from_attr(v: &str) -> Option<Liveness> {
        let mut it = v.split(',').map(|x| x.trim().parse::<u64>().ok());
        let (i, l, s) = (it.next()??, it.next()??, it.next()??);
        if it.next().is_some() || i == 0 || l == 0 {
            return None;
        }
        let ms = Duration::from_millis;
        Some(Liveness::new(ms(i), ms(l), ms(s)))
    }
}

/// After losing quorum, how long the minority node may take at most until it has
/// stopped its resources or been reset: `stonith-watchdog-timeout` when set (the
/// watchdog is the backstop), else the chain of its stop timeouts.
pub fn clean_within(stop_chain: Duration, watchdog: Option<Duration>) -> Duration {
    watchdog.unwrap_or(stop_chain)
}

/// How long the majority's DC waits, after it sees a node lost, before starting that
/// node's resources elsewhere (the derivation is in the module documentation).
pub fn hold(l: &Liveness, clean_within: Duration) -> Duration {
    l.interval + l.check + 2 * l.slack + clean_within
}

/// [`hold`] when the lost node runs another timing than the DC: it loses quorum
/// after its own `L_m` (plus its check and lateness), while the DC sees it lost
/// after `L_dc` of silence from a heartbeat sent up to `I_m + slack_m` before the cut:
///
///     hold = (L_m − L_dc)⁺ + I_m + check_m + slack_m + slack_dc + clean_within
///
/// which is [`hold`] when both run the same timing.
pub fn hold_between(dc: &Liveness, minority: &Liveness, clean_within: Duration) -> Duration {
    minority.lost_after.saturating_sub(dc.lost_after)
        + minority.interval
        + minority.check
        + minority.slack
        + dc.slack
        + clean_within
}

/// When the minority stops feeding its watchdog if it is not clean yet, counted from
/// its loss of quorum: the reset then lands within `stonith-watchdog-timeout`. Zero
/// when the watchdog's own timeout leaves no time (the node then self-fences at once
/// unless it runs nothing).
pub fn self_fence_after(
    stonith_watchdog_timeout: Duration,
    watchdog_timeout: Duration,
) -> Duration {
    stonith_watchdog_timeout.saturating_sub(watchdog_timeout)
}
