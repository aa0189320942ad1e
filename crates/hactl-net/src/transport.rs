//! QUIC transport between nodes.
//!
//! One quinn endpoint per node serves as both server (peers connect to it) and client
//! (it connects to peers). Each node *sends* on connections it opened itself and
//! *receives* on connections peers opened to it, so between two nodes there are two
//! connections, one per direction. That keeps reconnecting simple: only the sender
//! ever reconnects, and a restarted receiver just accepts.
//!
//! On a connection the sender opens one unidirectional stream and writes
//! length-delimited `PeerMessage` frames to it: first a `Hello` (cluster name, protocol
//! version), then the messages in order. Raft wants per-peer order and reliability, and
//! one stream gives both without a stream setup per message.
//!
//! Heartbeats go as QUIC datagrams (one frame per datagram) when they fit: a lost
//! heartbeat must not be retransmitted (the next one supersedes it) and must not wait
//! behind a large raft message (a snapshot) on the stream, or a busy node would look
//! dead. If datagrams are unavailable, heartbeats fall back to the stream.
//!
//! Sending never blocks: `send` encodes the frame and puts it in the peer's bounded
//! queue, or returns [`SendError::QueueFull`]; raft tolerates lost messages. A per-peer
//! task connects lazily, writes, and on failure drops the connection, backs off
//! (100 ms doubling to 1 s; messages that arrive while backing off are dropped), and
//! reconnects.
//!
//! A node may have several addresses (redundant links, as corosync knet's): each
//! (peer, link) pair has its own sender task and connection, so a link that is cut
//! stalls only its own queue. The caller picks the link per message
//! ([`Transport::send_link`]); heartbeats go on every link, other traffic on one that
//! is up (the daemon's choice). TLS does not depend on the address: the client checks
//! the peer's certificate for its node name (a DNS subject alternative name), so every
//! address of a node is verified the same way.
//!
//! The sender's node name is taken from its verified certificate. Refused handshakes
//! (no certificate, or one not from our CA, or the wrong node name) are logged with
//! `tracing` at warn level with the node and address.

use crate::lograte::{LogGate, Outage};
use crate::name::NodeName;
use crate::pki::{NodeIdentity, PkiError};
use crate::tls;
use bytes::Bytes;
use hactl_proto::frame::{self, FrameError};
use hactl_proto::peer::{peer_message::Body, PeerMessage};
use hactl_proto::PEER_PROTOCOL_VERSION;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// Messages received from peers: the sender's name (from its certificate) and the
/// message.
pub type Incoming = mpsc::Receiver<(NodeName, PeerMessage)>;

/// QUIC application error codes used when we close a connection.
const CLOSE_SHUTDOWN: u32 = 0;
const CLOSE_PROTOCOL: u32 = 1;
const CLOSE_RESTART: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("bad node identity: {0}")]
    Identity(#[from] PkiError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot connect to {node} at {addr}: {why}")]
    Connect {
        node: NodeName,
        addr: SocketAddr,
        why: String,
    },
    #[error("peer at {addr} is {actual}, expected {expected}")]
    WrongPeer {
        addr: SocketAddr,
        expected: NodeName,
        actual: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("send queue to {node} is full; message dropped")]
    QueueFull { node: NodeName },
    #[error("message not sendable: {0}")]
    Frame(#[from] FrameError),
    #[error("transport is shut down")]
    Shutdown,
}

/// Tunables; the defaults suit a LAN cluster.
#[derive(Debug, Clone)]
pub struct TransportOptions {
    /// Messages queued per peer before `send` returns `QueueFull`.
    pub queue_capacity: usize,
    /// Capacity of the incoming channel; when full, receiving applies backpressure to
    /// the QUIC streams (datagram heartbeats are dropped instead).
    pub incoming_capacity: usize,
    /// Largest frame sent or accepted.
    pub max_frame: usize,
    /// Give up a connection attempt after this long.
    pub connect_timeout: Duration,
    /// QUIC keep-alive interval and idle timeout: a silent peer's connection is closed
    /// after `idle_timeout`, so the sender notices and reconnects.
    pub keep_alive: Duration,
    pub idle_timeout: Duration,
    /// Longest wait between reconnection attempts to an unreachable peer (the wait
    /// starts at 100 ms and doubles). Bounds how long after a partition heals messages
    /// start flowing again.
    pub reconnect_backoff_max: Duration,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            queue_capacity: 1024,
            incoming_capacity: 4096,
            max_frame: hactl_proto::MAX_FRAME_LEN,
            connect_timeout: Duration::from_secs(2),
            keep_alive: Duration::from_millis(500),
            idle_timeout: Duration::from_secs(3),
            reconnect_backoff_max: Duration::from_secs(1),
        }
    }
}

impl TransportOptions {
    fn quic_transport(&self) -> Arc<quinn::TransportConfig> {
        let mut tc = quinn::TransportConfig::default();
        tc.keep_alive_interval(Some(self.keep_alive));
        tc.max_idle_timeout(
            quinn::IdleTimeout::try_from(self.idle_timeout)
                .ok()
                .or(Some(quinn::VarInt::from_u32(3_000).into())),
        );
        Arc::new(tc)
    }
}

struct Outgoing {
    frame: Bytes,
    heartbeat: bool,
}

struct PeerHandle {
    addr: SocketAddr,
    tx: mpsc::Sender<Outgoing>,
    task: JoinHandle<()>,
    /// The task's current connection, for its round-trip time.
    conn: Arc<Mutex<Option<quinn::Connection>>>,
}

/// A peer's link: its node name and the link's index (0 = its first address).
type LinkKey = (NodeName, u8);

struct Shared {
    node: NodeName,
    cluster: String,
    opts: TransportOptions,
    /// Rate limit for warnings about unauthenticated traffic.
    gate: LogGate,
}

struct Inner {
    shared: Arc<Shared>,
    endpoint: quinn::Endpoint,
    client_config: quinn::ClientConfig,
    peers: Mutex<HashMap<LinkKey, PeerHandle>>,
    accept_task: JoinHandle<()>,
    /// The runtime `bind` ran in: `send` spawns peer tasks there, so it may be called
    /// from any thread (a raft loop on a plain thread, say).
    runtime: tokio::runtime::Handle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.endpoint
            .close(quinn::VarInt::from_u32(CLOSE_SHUTDOWN), b"shutdown");
        self.accept_task.abort();
        if let Ok(peers) = self.peers.lock() {
            for p in peers.values() {
                p.task.abort();
            }
        }
    }
}

/// A node's QUIC endpoint. Cheap to clone (shared inside); the endpoint closes when the
/// last clone is dropped or [`Transport::shutdown`] is called.
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

impl Transport {
    /// Binds the QUIC endpoint on `listen` with default options. Must run inside a
    /// tokio runtime.
    pub async fn bind(
        identity: NodeIdentity,
        listen: SocketAddr,
    ) -> Result<(Transport, Incoming), NetError> {
        Self::bind_with(identity, listen, TransportOptions::default()).await
    }

    pub async fn bind_with(
        identity: NodeIdentity,
        listen: SocketAddr,
        opts: TransportOptions,
    ) -> Result<(Transport, Incoming), NetError> {
        let qt = opts.quic_transport();
        let server_config = tls::server_config(&identity, qt.clone())?;
        let client_config = tls::client_config(&identity, qt)?;
        let endpoint =
            quinn::Endpoint::server(server_config, listen).map_err(|source| NetError::Bind {
                addr: listen,
                source,
            })?;
        let (in_tx, in_rx) = mpsc::channel(opts.incoming_capacity.max(1));
        let shared = Arc::new(Shared {
            node: identity.node.clone(),
            cluster: identity.cluster.clone(),
            opts,
            gate: LogGate::default(),
        });
        let accept_task = tokio::spawn(accept_loop(endpoint.clone(), shared.clone(), in_tx));
        info!(node = %shared.node, addr = %listen, "peer transport listening");
        Ok((
            Transport {
                inner: Arc::new(Inner {
                    shared,
                    endpoint,
                    client_config,
                    peers: Mutex::new(HashMap::new()),
                    accept_task,
                    runtime: tokio::runtime::Handle::current(),
                }),
            },
            in_rx,
        ))
    }

    /// Our node name.
    pub fn node(&self) -> &NodeName {
        &self.inner.shared.node
    }

    /// The address the endpoint is bound to (useful after binding port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.endpoint.local_addr()
    }

    /// Queues `msg` for `to` at `addr` on link 0 and returns at once; see
    /// [`Transport::send_link`].
    pub fn send(
        &self,
        to: &NodeName,
        addr: SocketAddr,
        msg: &PeerMessage,
    ) -> Result<(), SendError> {
        self.send_link(to, 0, addr, msg)
    }

    /// Queues `msg` for `to` at `addr`, its address on `link`, and returns at once;
    /// callable from any thread. The message's `cluster` field is set to ours. The
    /// connection on that link is made lazily and reused; if `addr` changed since the
    /// last send on the link, the old connection is dropped.
    pub fn send_link(
        &self,
        to: &NodeName,
        link: u8,
        addr: SocketAddr,
        msg: &PeerMessage,
    ) -> Result<(), SendError> {
        let shared = &self.inner.shared;
        let frame = if msg.cluster == shared.cluster {
            frame::encode(msg, shared.opts.max_frame)?
        } else {
            let mut m = msg.clone();
            m.cluster = shared.cluster.clone();
            frame::encode(&m, shared.opts.max_frame)?
        };
        let out = Outgoing {
            frame: Bytes::from(frame),
            heartbeat: msg.is_heartbeat(),
        };
        let mut peers = self.inner.peers.lock().map_err(|_| SendError::Shutdown)?;
        let key = (to.clone(), link);
        let stale = match peers.get(&key) {
            Some(p) => p.addr != addr || p.task.is_finished(),
            None => true,
        };
        if stale {
            if let Some(old) = peers.remove(&key) {
                old.task.abort();
            }
            peers.insert(key.clone(), self.spawn_peer(to, addr));
        }
        let Some(p) = peers.get(&key) else {
            return Err(SendError::Shutdown);
        };
        match p.tx.try_send(out) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                debug!(node = %to, link, "send queue full, message dropped");
                Err(SendError::QueueFull { node: to.clone() })
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(SendError::Shutdown),
        }
    }

    fn spawn_peer(&self, to: &NodeName, addr: SocketAddr) -> PeerHandle {
        let shared = &self.inner.shared;
        let (tx, rx) = mpsc::channel(shared.opts.queue_capacity.max(1));
        let conn = Arc::new(Mutex::new(None));
        let task = self.inner.runtime.spawn(peer_task(
            PeerLink {
                endpoint: self.inner.endpoint.clone(),
                client_config: self.inner.client_config.clone(),
                shared: shared.clone(),
                to: to.clone(),
                addr,
                conn: conn.clone(),
            },
            rx,
        ));
        PeerHandle {
            addr,
            tx,
            task,
            conn,
        }
    }

    /// QUIC's round-trip estimate on our connection to `to` over `link`; None while
    /// there is no connection on it. (The estimate of a cut link is its last one:
    /// whether a link is up is the caller's judgement, from heartbeats.)
    pub fn link_rtt(&self, to: &NodeName, link: u8) -> Option<Duration> {
        let peers = self.inner.peers.lock().ok()?;
        let p = peers.get(&(to.clone(), link))?;
        let conn = p.conn.lock().ok()?;
        conn.as_ref()
            .filter(|c| c.close_reason().is_none())
            .map(|c| c.rtt())
    }

    /// Connects to `to` at `addr` on a fresh connection, checks that TLS succeeds and the
    /// peer's certificate names `to`, and closes it again. For preflight checks and
    /// tests; `send` does not need it.
    pub async fn probe(&self, to: &NodeName, addr: SocketAddr) -> Result<(), NetError> {
        let shared = &self.inner.shared;
        let (conn, mut stream) = open_link(
            &self.inner.endpoint,
            &self.inner.client_config,
            shared,
            to,
            addr,
        )
        .await
        .inspect_err(|e| warn!(node = %to, %addr, error = %e, "cannot connect to peer"))?;
        // A TLS 1.3 client finishes its handshake before the server has checked the
        // client's certificate. Wait until the peer has read our hello to the end of the
        // stream: that proves it accepted us, too.
        let confirmed = async {
            stream.finish().map_err(|e| e.to_string())?;
            match stream.stopped().await {
                Ok(None) => Ok(()),
                Ok(Some(code)) => Err(format!("peer stopped the stream with code {code}")),
                Err(e) => Err(e.to_string()),
            }
        };
        let result = match tokio::time::timeout(shared.opts.connect_timeout, confirmed).await {
            Ok(r) => r,
            Err(_) => Err("timed out waiting for the peer to accept us".to_string()),
        };
        conn.close(quinn::VarInt::from_u32(CLOSE_SHUTDOWN), b"probe");
        result.map_err(|why| {
            warn!(node = %to, %addr, error = %why, "peer refused us");
            NetError::Connect {
                node: to.clone(),
                addr,
                why,
            }
        })
    }

    /// Forgets a peer: aborts its sender tasks (every link) and drops their
    /// connections.
    pub fn forget(&self, node: &NodeName) {
        if let Ok(mut peers) = self.inner.peers.lock() {
            peers.retain(|(n, _), p| {
                if n == node {
                    p.task.abort();
                }
                n != node
            });
        }
    }

    /// Closes every connection and the endpoint, and waits until the UDP socket is
    /// released (so the address can be bound again).
    pub async fn shutdown(self) {
        self.inner
            .endpoint
            .close(quinn::VarInt::from_u32(CLOSE_RESTART), b"shutdown");
        self.inner.accept_task.abort();
        if let Ok(mut peers) = self.inner.peers.lock() {
            for (_, p) in peers.drain() {
                p.task.abort();
            }
        }
        // Bounded: wait_idle returns once the close has been signalled to the peers.
        let _ = tokio::time::timeout(Duration::from_secs(2), self.inner.endpoint.wait_idle()).await;
    }
}

async fn connect(
    endpoint: &quinn::Endpoint,
    client_config: &quinn::ClientConfig,
    shared: &Shared,
    to: &NodeName,
    addr: SocketAddr,
) -> Result<quinn::Connection, NetError> {
    // Callers log: a peer task says it once per outage, not once per attempt.
    let fail = |why: String| NetError::Connect {
        node: to.clone(),
        addr,
        why,
    };
    // The server name is the node name: rustls checks that the peer's certificate,
    // issued by our CA, carries it as a DNS subject alternative name.
    let connecting = endpoint
        .connect_with(client_config.clone(), addr, to.as_str())
        .map_err(|e| fail(e.to_string()))?;
    let conn = match tokio::time::timeout(shared.opts.connect_timeout, connecting).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return Err(fail(e.to_string())),
        Err(_) => return Err(fail("timed out".into())),
    };
    // Belt and braces: the verifier already checked the name; also read it back.
    match tls::peer_node_name(&conn) {
        Ok(name) if &name == to => Ok(conn),
        Ok(name) => {
            conn.close(quinn::VarInt::from_u32(CLOSE_PROTOCOL), b"wrong node");
            Err(NetError::WrongPeer {
                addr,
                expected: to.clone(),
                actual: name.to_string(),
            })
        }
        Err(why) => Err(fail(why.to_string())),
    }
}

/// What a peer task sends to: one address of one peer.
struct PeerLink {
    endpoint: quinn::Endpoint,
    client_config: quinn::ClientConfig,
    shared: Arc<Shared>,
    to: NodeName,
    addr: SocketAddr,
    /// Where the task shows its current connection ([`Transport::link_rtt`]).
    conn: Arc<Mutex<Option<quinn::Connection>>>,
}

impl PeerLink {
    fn show(&self, conn: Option<&quinn::Connection>) {
        if let Ok(mut c) = self.conn.lock() {
            *c = conn.cloned();
        }
    }
}

/// Sends queued frames to one peer's address, (re)connecting as needed.
async fn peer_task(pl: PeerLink, mut rx: mpsc::Receiver<Outgoing>) {
    let PeerLink {
        endpoint,
        client_config,
        shared,
        to,
        addr,
        ..
    } = &pl;
    let (to, addr) = (to, *addr);
    const BACKOFF_MIN: Duration = Duration::from_millis(100);
    let backoff_max = shared.opts.reconnect_backoff_max.max(BACKOFF_MIN);
    let mut link: Option<(quinn::Connection, quinn::SendStream)> = None;
    let mut backoff = BACKOFF_MIN;
    let mut retry_at: Option<Instant> = None;
    let mut dropped: u64 = 0;
    let mut outage: Option<Outage> = None;
    while let Some(out) = rx.recv().await {
        if let Some((conn, _)) = &link {
            if let Some(reason) = conn.close_reason() {
                debug!(node = %to, %addr, %reason, "peer connection closed; will reconnect");
                link = None;
                pl.show(None);
            }
        }
        if link.is_none() {
            if retry_at.is_some_and(|t| Instant::now() < t) {
                dropped += 1;
                continue;
            }
            match open_link(endpoint, client_config, shared, to, addr).await {
                Ok(l) => {
                    pl.show(Some(&l.0));
                    if let Some(o) = outage.take() {
                        let down_for_s = o.since.elapsed().as_secs();
                        info!(node = %to, %addr, down_for_s, attempts = o.attempts, dropped,
                            "connected to peer again");
                    } else if dropped > 0 {
                        info!(node = %to, %addr, dropped, "connected to peer after dropping messages");
                    } else {
                        debug!(node = %to, %addr, "connected to peer");
                    }
                    link = Some(l);
                    backoff = BACKOFF_MIN;
                    retry_at = None;
                    dropped = 0;
                }
                Err(e) => {
                    report_failure(&mut outage, to, addr, &e);
                    dropped += 1;
                    retry_at = Some(Instant::now() + backoff);
                    backoff = (backoff * 2).min(backoff_max);
                    continue;
                }
            }
        }
        let Some((conn, stream)) = link.as_mut() else {
            continue;
        };
        if out.heartbeat && conn.send_datagram(out.frame.clone()).is_ok() {
            continue;
        }
        if let Err(e) = stream.write_all(&out.frame).await {
            debug!(node = %to, %addr, error = %e, "write to peer failed; will reconnect");
            dropped += 1;
            link = None;
            pl.show(None);
        }
    }
}

/// Logs a failed connection attempt: the first of an outage, then how long it has
/// lasted at growing intervals.
fn report_failure(outage: &mut Option<Outage>, to: &NodeName, addr: SocketAddr, e: &NetError) {
    let now = std::time::Instant::now();
    match outage {
        None => {
            warn!(node = %to, %addr, error = %e,
                "cannot connect to peer (said once; reminders at growing intervals)");
            *outage = Some(Outage::start(now));
        }
        Some(o) => {
            if o.failed_again(now) {
                let down_for_s = now.saturating_duration_since(o.since).as_secs();
                warn!(node = %to, %addr, error = %e, down_for_s, attempts = o.attempts,
                    "still cannot connect to peer");
            }
        }
    }
}

async fn open_link(
    endpoint: &quinn::Endpoint,
    client_config: &quinn::ClientConfig,
    shared: &Shared,
    to: &NodeName,
    addr: SocketAddr,
) -> Result<(quinn::Connection, quinn::SendStream), NetError> {
    let conn = connect(endpoint, client_config, shared, to, addr).await?;
    let fail = |why: String| NetError::Connect {
        node: to.clone(),
        addr,
        why,
    };
    let mut stream = conn.open_uni().await.map_err(|e| fail(e.to_string()))?;
    let hello = frame::encode(
        &PeerMessage::hello(shared.cluster.clone(), shared.node.to_string()),
        shared.opts.max_frame,
    )
    .map_err(|e| fail(e.to_string()))?;
    stream
        .write_all(&hello)
        .await
        .map_err(|e| fail(e.to_string()))?;
    Ok((conn, stream))
}

async fn accept_loop(
    endpoint: quinn::Endpoint,
    shared: Arc<Shared>,
    tx: mpsc::Sender<(NodeName, PeerMessage)>,
) {
    while let Some(incoming) = endpoint.accept().await {
        let shared = shared.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let addr = incoming.remote_address();
            let conn = match incoming.await {
                Ok(c) => c,
                // The peer gave up on us: it does not trust our certificate (another
                // cluster's node, or we are not the node it wanted).
                Err(e @ quinn::ConnectionError::ConnectionClosed(_)) => {
                    if let Some(held) = shared.gate.admit("aborted", std::time::Instant::now()) {
                        warn!(%addr, error = %e, similar_since_last = held,
                            "peer aborted the handshake: it refused our certificate");
                    }
                    return;
                }
                Err(e) => {
                    // Most often: no client certificate, or one not issued by our CA.
                    // Anyone can send these: one line per interval, with a count.
                    if let Some(held) = shared.gate.admit("handshake", std::time::Instant::now()) {
                        warn!(%addr, error = %e, similar_since_last = held,
                            "refused peer connection: TLS handshake failed");
                    }
                    return;
                }
            };
            let node = match tls::peer_node_name(&conn) {
                Ok(n) => n,
                Err(why) => {
                    if let Some(held) = shared.gate.admit("no-name", std::time::Instant::now()) {
                        warn!(%addr, error = %why, similar_since_last = held,
                            "refused peer connection: no usable node name in its certificate");
                    }
                    conn.close(quinn::VarInt::from_u32(CLOSE_PROTOCOL), b"bad certificate");
                    return;
                }
            };
            debug!(%node, %addr, "peer connected");
            serve_connection(conn, node, addr, shared, tx).await;
        });
    }
}

/// Receives from one peer-opened connection: its uni streams and datagrams.
async fn serve_connection(
    conn: quinn::Connection,
    node: NodeName,
    addr: SocketAddr,
    shared: Arc<Shared>,
    tx: mpsc::Sender<(NodeName, PeerMessage)>,
) {
    loop {
        tokio::select! {
            s = conn.accept_uni() => match s {
                Ok(recv) => {
                    tokio::spawn(read_stream(conn.clone(), recv, node.clone(), addr, shared.clone(), tx.clone()));
                }
                Err(e) => {
                    debug!(%node, %addr, error = %e, "peer connection ended");
                    return;
                }
            },
            d = conn.read_datagram() => match d {
                Ok(bytes) => match frame::decode::<PeerMessage>(&bytes, shared.opts.max_frame) {
                    Ok(msg) => {
                        if accept_message(&msg, &node, addr, &shared) {
                            // A heartbeat that cannot be queued now is stale anyway.
                            let _ = tx.try_send((node.clone(), msg));
                        }
                    }
                    Err(e) => warn!(%node, %addr, error = %e, "malformed datagram from peer dropped"),
                },
                Err(e) => {
                    debug!(%node, %addr, error = %e, "peer connection ended");
                    return;
                }
            },
        }
    }
}

/// Whether a message from a peer is for us: same cluster; hellos are consumed here.
fn accept_message(msg: &PeerMessage, node: &NodeName, addr: SocketAddr, shared: &Shared) -> bool {
    if msg.cluster != shared.cluster {
        warn!(%node, %addr, cluster = %msg.cluster, "message for another cluster dropped");
        return false;
    }
    !matches!(msg.body, Some(Body::Hello(_)))
}

async fn read_stream(
    conn: quinn::Connection,
    mut recv: quinn::RecvStream,
    node: NodeName,
    addr: SocketAddr,
    shared: Arc<Shared>,
    tx: mpsc::Sender<(NodeName, PeerMessage)>,
) {
    // The first frame must be a Hello for our cluster and protocol version.
    match frame::read_async::<PeerMessage, _>(&mut recv, shared.opts.max_frame).await {
        Ok(Some(PeerMessage {
            body: Some(Body::Hello(h)),
            ..
        })) => {
            if h.cluster != shared.cluster || h.protocol_version != PEER_PROTOCOL_VERSION {
                warn!(%node, %addr, cluster = %h.cluster, version = h.protocol_version,
                    "refused peer: other cluster or protocol version");
                conn.close(
                    quinn::VarInt::from_u32(CLOSE_PROTOCOL),
                    b"cluster or version mismatch",
                );
                return;
            }
            if h.node != node.as_str() {
                // Informational only: the certificate is what counts.
                debug!(%node, %addr, claimed = %h.node, "peer's hello names another node");
            }
        }
        Ok(None) => return,
        Ok(Some(_)) => {
            warn!(%node, %addr, "peer stream did not start with a hello; closing");
            conn.close(quinn::VarInt::from_u32(CLOSE_PROTOCOL), b"no hello");
            return;
        }
        Err(e) => {
            warn!(%node, %addr, error = %e, "bad frame from peer; closing connection");
            conn.close(quinn::VarInt::from_u32(CLOSE_PROTOCOL), b"bad frame");
            return;
        }
    }
    loop {
        match frame::read_async::<PeerMessage, _>(&mut recv, shared.opts.max_frame).await {
            Ok(Some(msg)) => {
                if accept_message(&msg, &node, addr, &shared)
                    && tx.send((node.clone(), msg)).await.is_err()
                {
                    return; // nobody listens any more
                }
            }
            Ok(None) => return,
            Err(FrameError::Io(e)) => {
                debug!(%node, %addr, error = %e, "peer stream ended");
                return;
            }
            Err(e) => {
                warn!(%node, %addr, error = %e, "bad frame from peer; closing connection");
                conn.close(quinn::VarInt::from_u32(CLOSE_PROTOCOL), b"bad frame");
                return;
            }
        }
    }
}
