//! The witness (docs/architecture.md, "Witness"): when a cluster of two or four
//! voters splits into halves (the two voters lose each other, or a node of four
//! reaches only one other), each node seals itself against the other half and asks
//! the cluster's `hactl witness`, naming its half and its log end; the witness grants
//! at most one half, once all of it asked, and names its node with the greatest log
//! end, which makes the half the voters (`AloneProof::Witness`) without fencing first;
//! its partner follows it. The DC it then elects treats the other half as lost nodes: fenced where fencing is configured,
//! their resources held for the split-brain hold otherwise. A refused node lifts its
//! seal and applies `no-quorum-policy`. Two voters are watched by the two-node loop
//! (`two_node::run`, which also keeps `wait_for_all`), four by [`watch_halves`].
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
//! [`POLL`] (for `hactl cluster status`), and gives the grant back once this node's
//! half holds it and the cluster is whole again.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hactl_consensus::{AloneProof, NodeId, Status};
use hactl_net::NodeIdentity;
use hactl_proto::client::WitnessInfo;
use hactl_witness::grants::CLAIM_WINDOW;
use hactl_witness::{Ask, Reply, WitnessClient, WitnessError, WitnessOp};
use tracing::{error, info, warn};

use crate::two_node::witness_priority_delay;
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
        let (reachable, holder, side, error) = match &last.result {
            Ok(r) => (
                true,
                r.holder.clone().unwrap_or_default(),
                r.side.clone(),
                String::new(),
            ),
            Err(e) => (false, String::new(), Vec::new(), e.clone()),
        };
        Some(WitnessInfo {
            address: last.addr.to_string(),
            reachable,
            holder,
            side,
            error,
            last_answer_ms: last
                .answered
                .map(|t| now.saturating_duration_since(t).as_millis() as u64),
        })
    }
}

/// Queries the witness for the status; releases the grant when whole again.
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
            release_if_whole_again(&d, &c, &r).await;
        }
    }
}

/// Gives the grant back once this node's half holds it and the cluster is whole
/// again: as many voters as twice the half, the half among them, every one heard and
/// none rejoining. The others are voters only once they caught up (they hold the
/// granted half's configuration, so none can ask from the old one), and from then on
/// every commit needs both halves, so either may be granted on the next split.
async fn release_if_whole_again(d: &Daemon, c: &WitnessClient, r: &Reply) {
    if !r.side.iter().any(|n| n == d.me_name.as_str()) {
        return;
    }
    let s = d.consensus.status();
    if !whole_again(d, &s, &r.side) {
        return;
    }
    match c
        .request(WitnessOp::WitnessRelease, r.generation, ASK_TIMEOUT)
        .await
    {
        Ok(_) => {
            info!(node = %d.me_name, witness = %c.addr(), "witness: whole again: grant released")
        }
        Err(e) => {
            warn!(node = %d.me_name, witness = %c.addr(), error = %e, "two-node: witness grant not released yet")
        }
    }
}

fn whole_again(d: &Daemon, s: &Status, side: &[String]) -> bool {
    let now = Instant::now();
    let names: Vec<String> = s
        .voters
        .iter()
        .filter_map(|id| d.members.get(*id).map(|(n, _)| n.as_str().to_string()))
        .collect();
    s.voters.len() == side.len() * 2
        && names.len() == s.voters.len()
        && side.iter().all(|n| names.contains(n))
        && s.voters
            .iter()
            .all(|id| d.alive(*id, now) && d.rejoin_of(s, *id).is_none())
}

/// Watches a cluster of four voters with a witness: when this node reaches exactly
/// half of them, itself included, asks the witness for that half
/// ([`ask_and_continue`]). More is a majority and needs nothing; fewer is a minority.
/// `wait_for_all`: only once this node has counted a majority since it started
/// (`TwoNode::halves_armed`) — a node hearing its peers one by one after a restart
/// passes through "two" without a split.
pub(crate) async fn watch_halves(d: Arc<Daemon>) {
    let mut tick = tokio::time::interval(d.profile.interval / 4);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Asked since the cluster was last more than half (later asks do not defer
    // no-quorum-policy again).
    let mut asked = false;
    loop {
        tick.tick().await;
        if d.leaving.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let s = d.consensus.status();
        // Four voters only: halves of three are not supported (hactl_consensus::alone).
        let n = s.voters.len();
        if n != 4 || !s.voters.contains(&d.me) || s.rejoin.is_some() {
            continue;
        }
        let Some(w) = d.witness.client() else {
            continue;
        };
        let now = Instant::now();
        let (side, out): (Vec<NodeId>, Vec<NodeId>) = s
            .voters
            .iter()
            .partition(|id| **id == d.me || d.counts_for_quorum(**id, now));
        match side.len() * 2 {
            h if h == n && d.two_node.halves_armed() => {
                ask_and_continue(&d, out, w, !asked).await;
                asked = true;
            }
            h if h > n => {
                if !d.two_node.halves_armed() {
                    info!(node = %d.me_name, "witness: a majority of the voters seen: armed");
                    d.two_node.set_halves_armed();
                }
                asked = false;
                d.two_node.set_witness_refused(false);
            }
            _ => {}
        }
    }
}

/// The other half (`out`) is lost: seal, ask the witness, and continue if granted.
/// `first`: the first ask since the loss (only then is `no-quorum-policy` deferred
/// while asking: later asks come after it applied).
pub(crate) async fn ask_and_continue(
    d: &Arc<Daemon>,
    out: Vec<NodeId>,
    c: Arc<WitnessClient>,
    first: bool,
) {
    d.two_node.set_busy(first);
    priority_wait(d, &out).await;
    let voters = d.consensus.status().voters.clone();
    let r = ask_until_answered(d, &c, out.clone(), &voters).await;
    match r {
        Ok(r) if r.granted => {
            d.two_node.set_witness_refused(false);
            continue_granted(d, &c, &r, &voters).await
        }
        other => {
            d.two_node.set_witness_refused(true);
            match other {
                Ok(r) => warn!(node = %d.me_name, out = ?out, side = ?r.side,
                    "witness: the other half holds the grant: not continuing"),
                Err(e) => warn!(node = %d.me_name, out = ?out, error = %e,
                    "witness: no grant: not continuing"),
            }
            d.consensus.seal(&[]);
            d.two_node.set_busy(false);
            tokio::time::sleep(d.profile.lost_after * 4).await;
        }
    }
    d.two_node.set_busy(false);
}

/// Seals against `out` and asks naming the rest of `voters`, with the log end as the
/// seal took effect; while the witness waits for the rest of the half, asks again
/// (every `I/4`, for at most [`CLAIM_WINDOW`] and an ask), first re-sealing against
/// the complement of the half it claimed for, if that is not the half this node asked
/// for. A `waiting` answer still standing at the end counts as a refusal.
async fn ask_until_answered(
    d: &Daemon,
    c: &WitnessClient,
    mut out: Vec<NodeId>,
    voters: &[NodeId],
) -> Result<Reply, WitnessError> {
    let deadline = Instant::now() + CLAIM_WINDOW + ASK_TIMEOUT;
    loop {
        let Some(end) = d.consensus.seal_and_report(&out).await else {
            return Ok(Reply::default());
        };
        let side: Vec<String> = voters
            .iter()
            .filter(|id| !out.contains(id))
            .filter_map(|id| d.members.get(*id).map(|(n, _)| n.as_str().to_string()))
            .collect();
        let ask = Ask {
            side,
            log: (end.term, end.index),
        };
        let r = c.ask(ask, ASK_TIMEOUT).await;
        d.witness.note(c.addr(), &r);
        match r {
            Ok(r) if r.waiting && Instant::now() < deadline => {
                out = outside(d, voters, &r.side);
                tokio::time::sleep(d.profile.interval / 4).await;
            }
            Ok(r) if r.waiting => return Ok(Reply::default()),
            other => return other,
        }
    }
}

/// The voters not in `side` (names).
fn outside(d: &Daemon, voters: &[NodeId], side: &[String]) -> Vec<NodeId> {
    voters
        .iter()
        .copied()
        .filter(|id| {
            d.members
                .get(*id)
                .is_none_or(|(n, _)| !side.iter().any(|s| s == n.as_str()))
        })
        .collect()
}

/// As in a fence race, the half whose other half runs the higher-priority resources
/// waits `priority-fencing-delay` before it asks.
async fn priority_wait(d: &Daemon, out: &[NodeId]) {
    let cib = d.consensus.status().cib.clone();
    let delay = out
        .iter()
        .filter_map(|id| d.members.get(*id))
        .map(|(name, _)| witness_priority_delay(&cib, name.as_str()))
        .max()
        .unwrap_or_default();
    if !delay.is_zero() {
        warn!(node = %d.me_name, out = ?out, delay_ms = delay.as_millis() as u64,
            "witness: the other half runs the higher-priority resources: asking after the priority delay");
        tokio::time::sleep(delay).await;
    }
}

/// Granted: continue with the half the witness granted (this node's partner may have
/// named it first, with a view of its own): the voters outside it are out. Only the
/// grant's holder (the half's node with the greatest log end) forces the new
/// configuration; a partner stays sealed, votes for it and follows its replicated
/// changes into the same configuration (its seal lifts as the other half become
/// learners).
async fn continue_granted(d: &Daemon, c: &WitnessClient, r: &Reply, voters: &[NodeId]) {
    let out = outside(d, voters, &r.side);
    d.consensus.seal(&out);
    if r.holder.as_deref() != Some(d.me_name.as_str()) {
        info!(node = %d.me_name, holder = ?r.holder, out = ?out,
            "witness: granted to this half: following its holder into the new configuration");
        after_grant(d, &out).await;
        return;
    }
    let proof = AloneProof::Witness {
        out: out.clone(),
        witness: c.addr().to_string(),
        generation: r.generation,
    };
    match d.consensus.force_alone(proof).await {
        Ok(()) => after_grant(d, &out).await,
        Err(e) => {
            error!(node = %d.me_name, out = ?out, error = %e, "witness: granted but cannot continue");
            // Not continuing: the policy applies, as for a refusal.
            d.two_node.set_witness_refused(true);
            d.consensus.seal(&[]);
        }
    }
}

/// Granted: before acting as DC, wait as long as a refused node may have deferred
/// `no-quorum-policy` (its priority delay and its ask, from when it noticed the loss,
/// which may be up to a heartbeat interval and a loss timeout after this node did).
/// The priority delay counted is the property's whole value: the refused node computed
/// its own from its copy of the CIB.
async fn after_grant(d: &Daemon, out: &[NodeId]) {
    let priority = d
        .consensus
        .status()
        .cib
        .config
        .options()
        .map(|o| Duration::from_millis(o.priority_fencing_delay_ms))
        .unwrap_or_default();
    let wait = ASK_TIMEOUT + priority + d.profile.lost_after + d.profile.interval;
    warn!(node = %d.me_name, out = ?out, wait_ms = wait.as_millis() as u64,
        "witness: granted: continuing without the other half");
    tokio::time::sleep(wait).await;
}
