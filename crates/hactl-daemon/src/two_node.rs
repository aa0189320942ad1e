//! Two-node mode (docs/architecture.md, "Two-node mode"): when the two voters of a
//! two-node cluster lose each other, each fences the other (the fence delays decide
//! the race), and the one whose fence is confirmed continues as the only voter
//! (`hactl_consensus::alone`): it records the fencing, becomes the DC and recovers the
//! peer's resources.
//!
//! * On with `two_node = true` under `[settings]` in `cluster.toml` (written by
//!   `hactl cluster setup` with two nodes); acts only while the voters are exactly this
//!   node and one peer.
//! * `wait_for_all`: a node takes part only once *armed*: it has seen its peer since it
//!   started and holds at least what the peer's first heartbeat said its log held (a
//!   node that was fenced and came back has not: it must catch up first, or it would
//!   continue alone without the survivor's writes). `hactl cluster start
//!   --force-alone` arms it regardless (the operator says the peer is off).
//! * Without fencing configured it does nothing: `no-quorum-policy` applies as in any
//!   cluster that lost quorum, and nothing recovers (`cluster verify` says so).
//! * While the fencing runs, `no-quorum-policy` is deferred (`freeze`): a node that
//!   stopped the group on a cut would hand the service to nobody.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hactl_consensus::{AloneProof, Change, NodeId};
use hactl_fence::cluster::{fence_node, ClusterFenceOutcome};
use hactl_model::change::NodeStateUpdate;
use tracing::{debug, error, info, warn};

use crate::fencing::unix_now;
use crate::{Daemon, DaemonError};

/// How long a clean leave tries to make this node a learner ([`step_aside`]).
const STEP_ASIDE_WITHIN: Duration = Duration::from_secs(3);

/// Two-node mode's state on this node.
#[derive(Debug, Default)]
pub(crate) struct TwoNode {
    enabled: bool,
    /// Each peer's log end as its first heartbeat since this daemon started said.
    first_report: Mutex<HashMap<NodeId, u64>>,
    /// Seen the peer and caught up (or forced): may fence it and continue alone.
    armed: AtomicBool,
    /// A fencing of the peer, or the step to a single voter, is under way.
    busy: AtomicBool,
    /// The last fencing of the peer failed: no-quorum-policy applies until the peer
    /// is seen again or the next attempt starts.
    fence_failed: AtomicBool,
    /// The witness refused this node's half (or did not answer): no-quorum-policy
    /// applies until the cluster is whole again or a later ask is granted.
    witness_refused: AtomicBool,
    /// Four voters with a witness: a majority counted since this daemon started
    /// (`witness::watch_halves` asks only then).
    halves_armed: AtomicBool,
}

impl TwoNode {
    pub(crate) fn from_settings(settings: &toml::Table) -> Result<TwoNode, DaemonError> {
        Ok(TwoNode {
            enabled: hactl_settings::two_node::configured(settings)
                .map_err(|e| DaemonError::Config(e.to_string()))?,
            ..TwoNode::default()
        })
    }

    /// Whether `cluster.toml` turns two-node mode on.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// A heartbeat from `peer` said its log ends at `last_index`.
    pub(crate) fn heard(&self, peer: NodeId, last_index: u64) {
        if let Ok(mut m) = self.first_report.lock() {
            m.entry(peer).or_insert(last_index);
        }
    }

    /// While fencing runs: no-quorum-policy deferred, and this node does not act as DC
    /// before the fencing is recorded (the DC would fence the peer a second time).
    pub(crate) fn busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst)
    }

    pub(crate) fn set_busy(&self, on: bool) {
        self.busy.store(on, Ordering::SeqCst);
    }

    /// Whether no-quorum-policy waits (`freeze`): from the moment this node loses
    /// its peer, when it is going to fence it (two-node mode, armed, fencing
    /// configured, no failed attempt), and while it does. The loss is noticed by the
    /// liveness check before this mode's own loop gets to seal and fence: without it
    /// the node that holds the group (and wins the race) stopped it first. With a
    /// witness (`witness`) likewise from the loss of quorum (the quorum count, by
    /// round trip, drops up to a heartbeat interval before the peer is silent long
    /// enough to be lost) until the witness answers: armed, and for four voters
    /// exactly a half reached (`reached`, this node included). A node the witness
    /// refused applies the policy at once, and the granted node waits out how long
    /// the refused one may have deferred it (`witness::after_grant`): a refused node
    /// hears so at its first ask once the granted half claimed the grant (at most
    /// [`crate::witness::ASK_TIMEOUT`], plus `I/4` if it was waiting on a claim of its
    /// own half), however early its deferral began.
    pub(crate) fn defers_no_quorum(
        &self,
        me: NodeId,
        voters: &[NodeId],
        cib: &hactl_model::Cib,
        witness: bool,
        reached: usize,
    ) -> bool {
        if self.busy() {
            return true;
        }
        if witness {
            if self.witness_refused.load(Ordering::SeqCst) {
                return false;
            }
            return match voters.len() {
                2 => {
                    self.enabled
                        && self.armed.load(Ordering::SeqCst)
                        && peer_of(me, voters).is_some()
                }
                4 => self.halves_armed() && reached == 2,
                _ => false,
            };
        }
        self.enabled
            && self.armed.load(Ordering::SeqCst)
            && !self.fence_failed.load(Ordering::SeqCst)
            && peer_of(me, voters).is_some()
            && cib.config.fencing_configured()
    }

    /// The witness's last answer to this node: refused (or none), or granted.
    pub(crate) fn set_witness_refused(&self, refused: bool) {
        self.witness_refused.store(refused, Ordering::SeqCst);
    }

    pub(crate) fn halves_armed(&self) -> bool {
        self.halves_armed.load(Ordering::SeqCst)
    }

    pub(crate) fn set_halves_armed(&self) {
        self.halves_armed.store(true, Ordering::SeqCst);
    }

    fn arm_if_caught_up(&self, me: &str, peer: NodeId, s: &hactl_consensus::Status) {
        if self.armed.load(Ordering::SeqCst) || s.rejoin.is_some() {
            return;
        }
        let first = self
            .first_report
            .lock()
            .ok()
            .and_then(|m| m.get(&peer).copied());
        if first.is_some_and(|i| s.applied_index >= i) {
            info!(
                node = me,
                peer,
                applied = s.applied_index,
                "two-node: peer seen and caught up: armed"
            );
            self.armed.store(true, Ordering::SeqCst);
        }
    }
}

/// The other voter when the voters are exactly `me` and one other node.
pub(crate) fn peer_of(me: NodeId, voters: &[NodeId]) -> Option<NodeId> {
    match voters {
        [a, b] if *a == me => Some(*b),
        [a, b] if *b == me => Some(*a),
        _ => None,
    }
}

/// Consumes the `--force-alone` marker; true if it was there.
fn take_force_alone(state_dir: &Path) -> bool {
    hactl_settings::force_alone::take(state_dir).unwrap_or_else(|e| {
        error!(dir = %state_dir.display(), error = %e, "two-node: cannot consume the force-alone marker");
        false
    })
}

/// Watches the peer; fences it and continues alone when it is lost.
pub(crate) async fn run(d: Arc<Daemon>) {
    if !d.two_node.enabled {
        return;
    }
    let mut tick = tokio::time::interval(d.profile.interval / 4);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut said_no_fencing = false;
    // Asked the witness since the peer was last seen (later asks do not defer
    // no-quorum-policy again).
    let mut asked = false;
    loop {
        tick.tick().await;
        if d.leaving.load(Ordering::SeqCst) {
            return;
        }
        if take_force_alone(&d.state_dir) {
            warn!(node = %d.me_name, "two-node: started with --force-alone: the peer will be fenced if it is not seen");
            d.two_node.armed.store(true, Ordering::SeqCst);
        }
        let s = d.consensus.status();
        let Some(peer) = peer_of(d.me, &s.voters) else {
            continue;
        };
        let witness = d.witness.client();
        // With a witness, lost as the quorum count has it (by round trip): a peer heard
        // that does not hear us may be granted, and this node must then ask (and be
        // refused) rather than defer its policy while it still hears the peer.
        let here = if witness.is_some() {
            d.counts_for_quorum(peer, Instant::now())
        } else {
            d.alive(peer, Instant::now())
        };
        if here {
            d.two_node.set_witness_refused(false);
            d.two_node.fence_failed.store(false, Ordering::SeqCst);
            d.two_node.arm_if_caught_up(&d.me_name, peer, &s);
            said_no_fencing = false;
            asked = false;
            continue;
        }
        if !d.two_node.armed.load(Ordering::SeqCst) {
            continue; // wait_for_all
        }
        // With a witness, its grant decides; never the fence race (a node the witness
        // refused must not continue alone by fencing the granted one).
        if let Some(w) = witness {
            crate::witness::ask_and_continue(&d, vec![peer], w, !asked).await;
            asked = true;
            continue;
        }
        if !s.cib.config.fencing_configured() {
            if !said_no_fencing {
                error!(node = %d.me_name, peer, "two-node mode without a fence device: the peer is lost \
                    and nothing will be recovered (no-quorum-policy applies)");
                said_no_fencing = true;
            }
            continue;
        }
        fence_and_continue(&d, peer).await;
    }
}

/// Seal, fence (after the priority delay), and on a confirmed fence continue alone.
async fn fence_and_continue(d: &Arc<Daemon>, peer: NodeId) {
    let Some((name, _)) = d.members.get(peer) else {
        return;
    };
    let name = name.as_str().to_string();
    d.two_node.busy.store(true, Ordering::SeqCst);
    d.two_node.fence_failed.store(false, Ordering::SeqCst);
    d.consensus.seal(&[peer]);
    let cib = d.consensus.status().cib.clone();
    let delay = priority_delay(&cib, &name);
    warn!(node = %d.me_name, peer = %name, delay_ms = delay.as_millis() as u64,
        "two-node: peer lost: fencing it");
    tokio::time::sleep(delay).await;
    let out = fence_node(&cib.config, &name, None, &d.me_name).await;
    let at = unix_now();
    if !out.ok || out.action == "on" {
        warn!(node = %d.me_name, peer = %name, summary = %out.summary,
            "two-node: fencing failed: not continuing alone");
        d.consensus.seal(&[]);
        d.two_node.fence_failed.store(true, Ordering::SeqCst);
        d.two_node.busy.store(false, Ordering::SeqCst);
        // Pacemaker retries fencing; so does the next turn of the loop, not at once.
        tokio::time::sleep(d.profile.lost_after * 4).await;
        return;
    }
    let device = out
        .devices
        .iter()
        .rev()
        .find(|r| r.action == out.action)
        .map(|r| r.device.clone())
        .unwrap_or_default();
    let proof = AloneProof::Fenced {
        peer,
        device,
        at_unix: at,
    };
    match d.consensus.force_alone(proof).await {
        Ok(()) => record(d, &out, at).await,
        Err(e) => {
            error!(node = %d.me_name, peer = %name, error = %e, "two-node: cannot continue alone");
            d.consensus.seal(&[]);
        }
    }
    d.two_node.busy.store(false, Ordering::SeqCst);
}

/// A clean leave in two-node mode (its resources stopped, the leave recorded): this
/// node makes itself a learner, so that its peer carries on as the only voter instead
/// of taking the silence for a loss and fencing it. While the peer leads it
/// does not promote this node back (the CIB records the leave: `membership::away`);
/// this node's return (its own `expected=member` record) makes it a voter again.
/// Without an answering peer nothing is done: the peer then fences it as before.
pub(crate) async fn step_aside(d: &Daemon) {
    let s = d.consensus.status();
    let Some(peer) = peer_of(d.me, &s.voters) else {
        return;
    };
    if !d.alive(peer, Instant::now()) {
        return;
    }
    let deadline = Instant::now() + STEP_ASIDE_WITHIN;
    // A leader that is no longer a voter would go on leading: hand leadership over.
    let mut w = d.consensus.watch();
    while w.borrow().is_leader() && Instant::now() < deadline {
        d.consensus.transfer_leader(peer);
        let turn = tokio::time::timeout(d.profile.interval * 2, w.changed());
        if matches!(turn.await, Ok(Err(_))) {
            return;
        }
    }
    while Instant::now() < deadline {
        if d.consensus.status().learners.contains(&d.me) {
            info!(node = %d.me_name, peer, "two-node: left as a learner: the peer carries on alone without fencing this node");
            return;
        }
        // A new leader drops a membership change until its first entry is applied,
        // and the proposer never hears back: try again, and look at the configuration.
        let attempt = tokio::time::timeout(d.profile.interval * 4, d.consensus.demote(d.me));
        if let Ok(Err(e)) = attempt.await {
            debug!(node = %d.me_name, error = %e, "two-node: stepping aside not applied yet");
            tokio::time::sleep(d.profile.interval).await;
        }
    }
    warn!(node = %d.me_name, peer, "two-node: could not step aside in time: the peer will take this node's leave for a loss and fence it");
}

/// The first entries committed alone: the fencing, so that the DC takes the peer as
/// fenced (offline, its resources stopped) rather than fencing it again.
async fn record(d: &Arc<Daemon>, out: &ClusterFenceOutcome, at: i64) {
    let change = Change::Batch {
        changes: vec![
            Change::RecordFenceEvent {
                event: out.to_event(at, "two-node"),
            },
            Change::RecordFencing {
                node: out.target.clone(),
                at,
            },
        ],
    };
    let mut w = d.consensus.watch();
    let lead = tokio::time::timeout(Duration::from_secs(5), w.wait_for(|s| s.is_leader()));
    if lead.await.is_err() {
        error!(node = %d.me_name, "two-node: not leading alone after 5 s");
    }
    for attempt in 1..=3 {
        match d.propose(change.clone()).await {
            Ok(index) => {
                info!(node = %d.me_name, peer = %out.target, index, "two-node: continuing alone; fencing recorded");
                return;
            }
            Err(e) => {
                warn!(node = %d.me_name, attempt, error = %e, "two-node: fencing not recorded yet")
            }
        }
    }
}

/// `priority-fencing-delay` for fencing `peer` from this side of a split: the CIB as
/// this node has it, with the peer lost, through the scheduler (as the DC computes it).
fn priority_delay(cib: &hactl_model::Cib, peer: &str) -> Duration {
    let mut c = cib.clone();
    let lost = Change::SetNodeState {
        node: peer.to_string(),
        state: NodeStateUpdate {
            member: Some(false),
            controller_online: Some(false),
            join: Some("down".into()),
            expected: None,
        },
    };
    if let Err(e) = lost.apply(&mut c) {
        warn!(peer, error = %e, "two-node: cannot compute the priority delay");
        return Duration::ZERO;
    }
    match hactl_policy::schedule(&c, unix_now()) {
        Ok(t) => hactl_controller::fence_delay::priority_fencing_delay(&t, &c, peer),
        Err(e) => {
            warn!(peer, error = %e, "two-node: cannot compute the priority delay");
            Duration::ZERO
        }
    }
}

/// `priority-fencing-delay` before asking the witness for `peer`'s loss: the property's
/// value when the peer runs the highest-priority resources (and not every node the
/// same), read from where resources run in this node's CIB. Unlike the fencing delay
/// this does not look at the peer as lost: without fencing the scheduler counts a lost
/// node's resources as stopped, and the priority would be nobody's.
pub(crate) fn witness_priority_delay(cib: &hactl_model::Cib, peer: &str) -> Duration {
    let priority_set = cib
        .config
        .options()
        .is_ok_and(|o| o.priority_fencing_delay_ms > 0);
    if !priority_set {
        return Duration::ZERO; // the common case: no scheduler run
    }
    match hactl_policy::schedule(cib, unix_now()) {
        Ok(t) => hactl_controller::fence_delay::delay_if_highest(&t, cib, peer),
        Err(e) => {
            warn!(peer, error = %e, "two-node: cannot compute the priority delay");
            Duration::ZERO
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_only_in_a_two_voter_configuration() {
        assert_eq!(peer_of(1, &[1, 2]), Some(2));
        assert_eq!(peer_of(2, &[1, 2]), Some(1));
        assert_eq!(peer_of(1, &[1]), None);
        assert_eq!(peer_of(1, &[1, 2, 3]), None);
        assert_eq!(peer_of(3, &[1, 2]), None);
    }

    #[test]
    fn two_node_setting_must_be_a_boolean() {
        let t: toml::Table = toml::from_str("two_node = true").unwrap();
        assert!(TwoNode::from_settings(&t).unwrap().enabled);
        let t: toml::Table = toml::from_str("two_node = \"yes\"").unwrap();
        assert!(TwoNode::from_settings(&t).is_err());
        assert!(!TwoNode::from_settings(&toml::Table::new()).unwrap().enabled);
    }
}
