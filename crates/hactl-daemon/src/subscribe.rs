//! The subscribe stream of the control socket (`hactl mon`): a snapshot, then one
//! event per change of what a status view shows — membership, quorum, DC, the CIB
//! (configuration, node state, resource and operation history, fencing) — pushed as
//! it happens: the stream waits on the daemon's own watch channels, never on a timer.
//!
//! A subscriber never slows the daemon: the watch channels never block their
//! senders, and events go to the socket through a bounded queue; a subscriber whose
//! queue is full is dropped (its stream ends) and reconnects for a new snapshot.

use std::sync::Arc;

use hactl_model::Cib;
use hactl_proto::client::{client_response::Response, ClientResponse, ClusterStatus, Event};
use hactl_proto::frame;
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::Daemon;

/// Events a subscriber may have in flight before it counts as too slow.
pub(crate) const QUEUE: usize = 64;

/// What the last event showed, to tell what the next one changes.
struct Seen {
    status: ClusterStatus,
    cib: Arc<Cib>,
}

impl Seen {
    fn now(d: &Daemon) -> Seen {
        Seen {
            status: crate::control::status(d),
            cib: d.consensus.status().cib.clone(),
        }
    }

    /// The kinds of change from `old` to `self`; empty when nothing shown changed
    /// (a commit index moving alone, a heartbeat's age).
    fn changes(&self, old: &Seen) -> Vec<String> {
        let mut k: Vec<&str> = Vec::new();
        let states = |s: &ClusterStatus| -> Vec<(String, i32)> {
            s.nodes.iter().map(|n| (n.name.clone(), n.state)).collect()
        };
        if states(&self.status) != states(&old.status) {
            k.push("membership");
        }
        if self.status.has_quorum != old.status.has_quorum {
            k.push("quorum");
        }
        if self.status.dc != old.status.dc {
            k.push("dc");
        }
        let (a, b) = (&*self.cib, &*old.cib);
        if !Arc::ptr_eq(&self.cib, &old.cib) && a != b {
            k.push("cib");
            if a.config != b.config {
                k.push("configuration");
            }
            if a.status.fencing_history != b.status.fencing_history {
                k.push("fencing");
            }
            if !a.status.nodes.values().map(|n| &n.resources).eq(b
                .status
                .nodes
                .values()
                .map(|n| &n.resources))
            {
                k.push("resource");
            }
        }
        k.into_iter().map(String::from).collect()
    }

    fn event(&self, seq: u64, kinds: Vec<String>, with_cib: bool) -> ClientResponse {
        let cib_json = if with_cib {
            match serde_json::to_vec(&*self.cib) {
                Ok(j) => Some(j),
                Err(e) => return ClientResponse::error(format!("encoding the CIB: {e}")),
            }
        } else {
            None
        };
        ClientResponse::new(Response::Event(Event {
            seq,
            kinds,
            status: Some(self.status.clone()),
            cib_json,
        }))
    }
}

/// Serves one subscriber until it goes away, falls behind, or the daemon stops.
pub(crate) async fn serve(d: Arc<Daemon>, stream: UnixStream) {
    let (tx, rx) = mpsc::channel::<ClientResponse>(QUEUE);
    let writer = tokio::spawn(write_events(stream, rx));
    let mut cons = d.consensus.watch();
    let mut quorum = d.quorum.subscribe();
    let mut members = d.membership.subscribe();
    let mut seen = Seen::now(&d);
    let mut seq = 0u64;
    if !push(&tx, seen.event(seq, vec!["snapshot".into()], true)) {
        writer.abort();
        return;
    }
    loop {
        tokio::select! {
            r = cons.changed() => if r.is_err() { break },
            r = quorum.changed() => if r.is_err() { break },
            r = members.changed() => if r.is_err() { break },
            _ = tx.closed() => break,
        }
        let t = std::time::Instant::now();
        let now = Seen::now(&d);
        let kinds = now.changes(&seen);
        if kinds.is_empty() {
            continue;
        }
        seq += 1;
        let with_cib = kinds.iter().any(|k| k == "cib");
        let ev = now.event(seq, kinds, with_cib);
        debug!(target: "timing", seq, build_us = t.elapsed().as_micros() as u64,
            "subscribe: event built");
        if !push(&tx, ev) {
            break;
        }
        seen = now;
    }
    // Ends the connection now: a dropped subscriber learns it by the stream ending.
    writer.abort();
}

/// Queues an event without waiting; false when the subscriber is gone or too slow.
fn push(tx: &mpsc::Sender<ClientResponse>, ev: ClientResponse) -> bool {
    match tx.try_send(ev) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            warn!(
                queue = QUEUE,
                "subscriber too slow: dropped (it will resnapshot)"
            );
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

async fn write_events(mut stream: UnixStream, mut rx: mpsc::Receiver<ClientResponse>) {
    while let Some(ev) = rx.recv().await {
        if let Err(e) = frame::write_async(&mut stream, &ev, hactl_proto::MAX_FRAME_LEN).await {
            debug!(error = %e, "subscriber went away");
            return;
        }
        if let Some(Response::Event(e)) = &ev.response {
            debug!(target: "timing", seq = e.seq, "subscribe: event written");
        }
    }
}
