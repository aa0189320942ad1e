//! Redundant heartbeat links (corosync knet's links): a node may have up to four
//! addresses, link 0 first; link `k` of every node is one network.
//!
//! Heartbeats go on every link, each copy saying which link it went on and which
//! links its sender hears the recipient on. A peer is alive while heartbeats arrive
//! on *any* link (`Daemon::alive` reads the newest of them), so a cut of one link
//! loses no node; a cut of all is a node loss. A link is *up* while its heartbeats
//! arrive within [`link_timeout`]: shorter than the node loss timeout, so traffic
//! has moved to another link well before anything could declare the node lost.
//!
//! Other traffic (raft, controller) goes on one link, the *active* one: the lowest
//! link that is up in both directions (we hear the peer on it, and it says it hears
//! us). Passive mode, as knet's default: a snapshot is not sent twice.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hactl_consensus::NodeId;
use tracing::{info, warn};

use crate::profile::Profile;

/// How long a link stays up without a heartbeat on it: two missed beats plus the
/// lateness bound, never beyond the node loss timeout (default profile 120 ms, fast
/// 52 ms).
pub(crate) fn link_timeout(p: &Profile) -> Duration {
    (p.interval * 2 + p.slack).min(p.lost_after)
}

/// One link of a peer as this node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LinkView {
    pub up: bool,
    /// Time since the last heartbeat on it; None if none yet.
    pub silent: Option<Duration>,
}

/// What this node knows of its peers' links.
#[derive(Debug)]
pub(crate) struct Links {
    timeout: Duration,
    /// Last heartbeat per (peer, link).
    heard: Mutex<HashMap<(NodeId, u32), Instant>>,
    /// Per peer: the links it said (in its latest heartbeat) it hears us on; 0 =
    /// unknown (an older build, or nothing heard yet).
    heard_by_peer: Mutex<HashMap<NodeId, u32>>,
    /// Per peer: the active link last used (to log a change once).
    active: Mutex<HashMap<NodeId, u32>>,
}

impl Links {
    pub(crate) fn new(profile: &Profile) -> Links {
        Links {
            timeout: link_timeout(profile),
            heard: Mutex::default(),
            heard_by_peer: Mutex::default(),
            active: Mutex::default(),
        }
    }

    /// A heartbeat from `id` arrived on `link`, saying it hears us on `peer_hears`.
    pub(crate) fn on_heartbeat(&self, id: NodeId, link: u32, peer_hears: u32, now: Instant) {
        if link as usize >= hactl_net::config::MAX_LINKS {
            return;
        }
        if let Ok(mut h) = self.heard.lock() {
            h.insert((id, link), now);
        }
        if let Ok(mut p) = self.heard_by_peer.lock() {
            p.insert(id, peer_hears);
        }
    }

    /// Each of `id`'s `n` links.
    pub(crate) fn view(&self, id: NodeId, n: usize, now: Instant) -> Vec<LinkView> {
        let Ok(h) = self.heard.lock() else {
            return Vec::new();
        };
        (0..n as u32)
            .map(|k| {
                let silent = h.get(&(id, k)).map(|t| now.saturating_duration_since(*t));
                LinkView {
                    up: silent.is_some_and(|s| s < self.timeout),
                    silent,
                }
            })
            .collect()
    }

    /// The links of `id` (of `n`) we hear it on, as a bit mask (sent in our heartbeats).
    pub(crate) fn heard_mask(&self, id: NodeId, n: usize, now: Instant) -> u32 {
        mask(&self.view(id, n, now))
    }

    /// The link `id`'s traffic goes on now (of its `n`), and the view it derives from.
    pub(crate) fn current(&self, id: NodeId, n: usize, now: Instant) -> (u32, Vec<LinkView>) {
        let view = self.view(id, n, now);
        let peer = self
            .heard_by_peer
            .lock()
            .ok()
            .and_then(|p| p.get(&id).copied())
            .unwrap_or(0);
        (choose(mask(&view), peer), view)
    }

    /// The link to send `id`'s traffic on now (of its `n`); logs a change of link.
    pub(crate) fn active(&self, id: NodeId, name: &str, n: usize, now: Instant) -> u32 {
        let (k, view) = self.current(id, n, now);
        if let Ok(mut a) = self.active.lock() {
            let before = a.insert(id, k);
            if before.is_some_and(|b| b != k) && n > 1 {
                let down: Vec<u32> = (0..n as u32).filter(|i| !view[*i as usize].up).collect();
                if down.is_empty() {
                    info!(
                        node = name,
                        link = k,
                        "peer traffic back on its preferred link"
                    );
                } else {
                    warn!(node = name, link = k, links_down = ?down, "link down: peer traffic moved to another link");
                }
            }
        }
        k
    }
}

fn mask(view: &[LinkView]) -> u32 {
    view.iter()
        .enumerate()
        .filter(|(_, l)| l.up)
        .fold(0, |m, (k, _)| m | (1 << k))
}

/// The lowest link up both ways; without word from the peer (`peer` = 0), the lowest
/// we hear it on; with no link up at all, link 0 (heartbeats on every link bring the
/// others up: nothing better is known).
fn choose(heard: u32, peer: u32) -> u32 {
    let both = heard & peer;
    let pick = if both != 0 {
        both
    } else if peer == 0 {
        heard
    } else {
        // The peer hears us on links we do not hear it on, and not the other way
        // round (asymmetric): any link it hears us on gets our traffic through.
        peer
    };
    if pick == 0 {
        0
    } else {
        pick.trailing_zeros()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_takes_the_lowest_link_up_both_ways() {
        // Both links up both ways: link 0.
        assert_eq!(choose(0b11, 0b11), 0);
        // Link 0 cut: we stop hearing on it, and so does the peer.
        assert_eq!(choose(0b10, 0b10), 1);
        assert_eq!(choose(0b10, 0b11), 1);
        // Cut in one direction only (the peer does not hear us on link 0).
        assert_eq!(choose(0b11, 0b10), 1);
        // An older peer (no word about what it hears): what we hear.
        assert_eq!(choose(0b10, 0), 1);
        // Nothing up: link 0.
        assert_eq!(choose(0, 0), 0);
        // We hear nothing, the peer hears us on link 2.
        assert_eq!(choose(0, 0b100), 2);
    }

    #[test]
    fn a_link_is_down_once_its_heartbeats_stop_and_the_others_stay_up() {
        let p = Profile::DEFAULT;
        let links = Links::new(&p);
        let t0 = Instant::now();
        links.on_heartbeat(2, 0, 0b11, t0);
        links.on_heartbeat(2, 1, 0b11, t0);
        assert_eq!(links.heard_mask(2, 2, t0), 0b11);
        assert_eq!(links.active(2, "n2", 2, t0), 0);
        // Link 0 falls silent, link 1 goes on.
        let t1 = t0 + link_timeout(&p) + Duration::from_millis(1);
        links.on_heartbeat(2, 1, 0b10, t1);
        let v = links.view(2, 2, t1);
        assert!(!v[0].up && v[1].up, "{v:?}");
        assert_eq!(links.active(2, "n2", 2, t1), 1);
        // Back on link 0.
        links.on_heartbeat(2, 0, 0b11, t1);
        links.on_heartbeat(2, 1, 0b11, t1);
        assert_eq!(links.active(2, "n2", 2, t1), 0);
        // The link timeout is shorter than the node's loss timeout in both profiles.
        for p in Profile::ALL {
            assert!(link_timeout(&p) < p.lost_after, "{}", p.name);
        }
        // A link index beyond the supported ones is ignored.
        links.on_heartbeat(2, 7, 0, t1);
        assert_eq!(links.view(2, 4, t1).iter().filter(|l| l.up).count(), 2);
    }
}
