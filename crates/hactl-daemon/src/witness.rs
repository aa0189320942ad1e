//! Two-node mode with a witness (docs/architecture.md, "Witness"): when the two voters
//! lose each other, each seals itself against the other and asks the cluster's
//! `hactl witness`; the witness grants at most one of them, which continues as the
//! only voter (`AloneProof::Witness`) without fencing first. The DC it then becomes
//! treats the peer as any lost node: fenced where fencing is configured, its resources
//! held for the split-brain hold otherwise. The refused node lifts its seal and
//! applies `no-quorum-policy`.
//!
//! Priority: as in a fence race, the node whose peer runs the higher-priority
//! resources waits `priority-fencing-delay` before it asks, so the witness grants the
//! node running them and they do not move (`two_node::witness_priority_delay`).
//!
//! Timing: while a node waits and asks (at most the priority delay and [`ASK_TIMEOUT`])
//! its `no-quorum-policy` is deferred, so the granted node, before it acts as DC, waits
//! out how long the refused one may have deferred ([`after_grant`]); the DC's own hold
//! then counts from when the refused node started stopping, as for a minority.
//!
//! The witness is re-read from `cluster.toml` at every use, so `hactl cluster witness
//! add` takes effect on running daemons. A poller asks the witness what it holds every
//! [`POLL`] (for `hactl cluster status`), and gives the grant back once this node holds
//! it and the two are voters again.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hactl_consensus::{AloneProof, NodeId};
use hactl_net::NodeIdentity;
use hactl_proto::client::WitnessInfo;
use hactl_witness::{Reply, WitnessClient, WitnessError, WitnessOp};
use tracing::{error, info, warn};

use crate::two_node::{peer_of, witness_priority_delay};
use crate::Daemon;

/// The longest a node waits for the witness's answer when its peer is lost.
pub(crate) const ASK_TIMEOUT: Duration = Duration::from_secs(1);
/// How often the witness is queried for the status.
const POLL: Duration = Duration::from_secs(1);

/// What the daemon knows of its witness.
pub(crate) struct Witness {
    config_path: PathBuf,
    identity: NodeIdentity,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    client: Option<Arc<WitnessClient>>,
    last: Option<Last>,
}

/// The witness's last answer (or failure) to this node.
struct Last {
    addr: SocketAddr,
    result: Result<Reply, String>,
    answered: Option<Instant>,
}

impl Witness {
    pub(crate) fn new(config_path: PathBuf, identity: NodeIdentity) -> Witness {
        Witness {
            config_path,
            identity,
            state: Mutex::new(State::default()),
        }
    }

    /// The witness `cluster.toml` names now, if any (a client for it, kept while the
    /// address stays the same).
    pub(crate) fn client(&self) -> Option<Arc<WitnessClient>> {
        let addr = match hactl_net::ClusterConfig::load(&self.config_path)
            .map_err(|e| e.to_string())
            .and_then(|c| hactl_settings::witness::address(&c.settings).map_err(|e| e.to_string()))
        {
            Ok(a) => a?,
            Err(e) => {
                warn!(path = %self.config_path.display(), error = %e, "witness setting unreadable");
                return None;
            }
        };
        let mut st = self.state.lock().ok()?;
        if let Some(c) = st.client.as_ref().filter(|c| c.addr() == addr) {
            return Some(c.clone());
        }
        match WitnessClient::new(&self.identity, addr) {
            Ok(c) => {
                let c = Arc::new(c);
                st.client = Some(c.clone());
                Some(c)
            }
            Err(e) => {
                error!(witness = %addr, error = %e, "cannot set up the witness client");
                None
            }
        }
    }

    fn note(&self, addr: SocketAddr, r: &Result<Reply, WitnessError>) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        let answered = match r {
            Ok(_) => Some(Instant::now()),
            Err(_) => st.last.as_ref().and_then(|l| l.answered),
        };
        st.last = Some(Last {
            addr,
            result: match r {
                Ok(reply) => Ok(reply.clone()),
                Err(e) => Err(e.to_string()),
            },
            answered,
        });
    }

    fn forget(&self) {
        if let Ok(mut st) = self.state.lock() {
            *st = State::default();
        }
    }

    /// For `hactl cluster status`.
    pub(crate) fn info(&self, now: Instant) -> Option<WitnessInfo> {
        let st = self.state.lock().ok()?;
        let last = st.last.as_ref()?;
        let (reachable, holder, error) = match &last.result {
            Ok(r) => (true, r.holder.clone().unwrap_or_default(), String::new()),
            Err(e) => (false, String::new(), e.clone()),
        };
        Some(WitnessInfo {
            address: last.addr.to_string(),
            reachable,
            holder,
            error,
            last_answer_ms: last
                .answered
                .map(|t| now.saturating_duration_since(t).as_millis() as u64),
        })
    }
}

/// Queries the witness for the status; releases the grant when two voters again.
pub(crate) async fn run(d: Arc<Daemon>) {
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(c) = d.witness.client() else {
            d.witness.forget();
            continue;
        };
        let r = c.request(WitnessOp::WitnessQuery, 0, ASK_TIMEOUT).await;
        d.witness.note(c.addr(), &r);
        if let Ok(r) = r {
            release_if_two_again(&d, &c, &r).await;
        }
    }
}

/// Gives the grant back once this node holds it, the voters are this node and its
/// peer, and the peer is heard and not rejoining: from then on every commit needs both
/// again, so either may be granted on the next loss.
async fn release_if_two_again(d: &Daemon, c: &WitnessClient, r: &Reply) {
    if r.holder.as_deref() != Some(d.me_name.as_str()) {
        return;
    }
    let s = d.consensus.status();
    let Some(peer) = peer_of(d.me, &s.voters) else {
        return;
    };
    let peer_rejoining = d
        .rejoining
        .lock()
        .ok()
        .and_then(|m| m.get(&peer).copied().flatten())
        .is_some();
    if !d.alive(peer, Instant::now()) || peer_rejoining || s.rejoin.is_some() {
        return;
    }
    match c
        .request(WitnessOp::WitnessRelease, r.generation, ASK_TIMEOUT)
        .await
    {
        Ok(_) => {
            info!(node = %d.me_name, peer, witness = %c.addr(), "two-node: two voters again: witness grant released")
        }
        Err(e) => {
            warn!(node = %d.me_name, witness = %c.addr(), error = %e, "two-node: witness grant not released yet")
        }
    }
}

/// The peer is lost: seal, ask the witness, and continue alone if granted. `first`:
/// the first ask since the peer was lost (only then is `no-quorum-policy` deferred
/// while asking: later asks come after it applied).
pub(crate) async fn ask_and_continue(
    d: &Arc<Daemon>,
    peer: NodeId,
    c: Arc<WitnessClient>,
    first: bool,
) {
    d.two_node.set_busy(first);
    d.consensus.seal(Some(peer));
    let cib = d.consensus.status().cib.clone();
    if let Some((name, _)) = d.members.get(peer) {
        let delay = witness_priority_delay(&cib, name.as_str());
        if !delay.is_zero() {
            warn!(node = %d.me_name, peer = %name, delay_ms = delay.as_millis() as u64,
                "two-node: the peer runs the higher-priority resources: asking the witness after the priority delay");
            tokio::time::sleep(delay).await;
        }
    }
    let r = c.request(WitnessOp::WitnessAsk, 0, ASK_TIMEOUT).await;
    d.witness.note(c.addr(), &r);
    match r {
        Ok(r) if r.granted => {
            let proof = AloneProof::Witness {
                peer,
                witness: c.addr().to_string(),
                generation: r.generation,
            };
            match d.consensus.force_alone(proof).await {
                Ok(()) => after_grant(d, peer).await,
                Err(e) => {
                    error!(node = %d.me_name, peer, error = %e, "two-node: granted by the witness but cannot continue alone");
                    d.consensus.seal(None);
                }
            }
        }
        other => {
            match other {
                Ok(r) => warn!(node = %d.me_name, peer, holder = ?r.holder,
                    "two-node: the witness granted the other node: not continuing alone"),
                Err(e) => warn!(node = %d.me_name, peer, error = %e,
                    "two-node: no grant from the witness: not continuing alone"),
            }
            d.consensus.seal(None);
            d.two_node.set_busy(false);
            tokio::time::sleep(d.profile.lost_after * 4).await;
        }
    }
    d.two_node.set_busy(false);
}

/// Granted and alone: before acting as DC, wait as long as the refused node may have
/// deferred `no-quorum-policy` (its priority delay and its ask, from when it noticed
/// the loss, which may be up to a heartbeat interval and a loss timeout after this node
/// did). The priority delay counted is the property's whole value: the refused node
/// computed its own from its copy of the CIB.
async fn after_grant(d: &Daemon, peer: NodeId) {
    let priority = d
        .consensus
        .status()
        .cib
        .config
        .options()
        .map(|o| Duration::from_millis(o.priority_fencing_delay_ms))
        .unwrap_or_default();
    let wait = ASK_TIMEOUT + priority + d.profile.lost_after + d.profile.interval;
    warn!(node = %d.me_name, peer, wait_ms = wait.as_millis() as u64,
        "two-node: granted by the witness: continuing as the only voter");
    tokio::time::sleep(wait).await;
}
