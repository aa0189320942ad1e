//! hactl's wire types and their framing.
//!
//! * [`peer`]: what daemons send each other over QUIC ([`peer::PeerMessage`]).
//! * [`client`]: the versioned local control API between the `hactl` CLI and the
//!   daemon on its Unix socket ([`client::ClientRequest`], [`client::ClientResponse`]).
//! * [`witness`]: what two-node daemons ask `hactl witness` ([`witness::WitnessRequest`]).
//! * [`frame`]: length-delimited framing (u32 big-endian length prefix, then one prost
//!   message) with a maximum frame size, blocking and async.
//!
//! The schemas live in `proto/` at the repository root; `build.rs` compiles them with
//! protox + prost-build, so no system `protoc` is needed.

pub mod frame;

/// The peer protocol (`proto/peer.proto`).
pub mod peer {
    include!(concat!(env!("OUT_DIR"), "/hactl.peer.rs"));
}

/// The local control API (`proto/client.proto`).
pub mod client {
    include!(concat!(env!("OUT_DIR"), "/hactl.client.rs"));
}

/// The witness protocol (`proto/witness.proto`).
pub mod witness {
    include!(concat!(env!("OUT_DIR"), "/hactl.witness.rs"));
}

pub use frame::{FrameError, MAX_FRAME_LEN};

/// Version of the peer protocol carried in [`peer::Hello::protocol_version`].
pub const PEER_PROTOCOL_VERSION: u32 = 1;

/// Format of controller message bodies ([`peer::PeerMessage::body_format`]).
pub const CONTROLLER_FORMAT: u32 = 1;

/// Version of the control API carried in every [`client::ClientRequest`] and
/// [`client::ClientResponse`].
pub const CLIENT_API_VERSION: u32 = 1;

/// A peer whose clock differs from ours by more than this (ms, either direction) is
/// reported as skewed: by the daemon's log and by `hactl cluster status`.
pub const CLOCK_SKEW_THRESHOLD_MS: i64 = 2000;

impl peer::PeerMessage {
    /// A raft message (already encoded by raft-rs) for `cluster`.
    pub fn raft(cluster: impl Into<String>, encoded: impl Into<Vec<u8>>) -> Self {
        Self {
            cluster: cluster.into(),
            body_format: 0,
            body: Some(peer::peer_message::Body::Raft(encoded.into())),
        }
    }

    /// A controller message (the JSON of the controller's message type) for `cluster`,
    /// in this build's [`CONTROLLER_FORMAT`].
    pub fn controller(cluster: impl Into<String>, payload: Vec<u8>) -> Self {
        Self {
            cluster: cluster.into(),
            body_format: CONTROLLER_FORMAT,
            body: Some(peer::peer_message::Body::Controller(payload)),
        }
    }

    /// The format of a controller body (0, from builds before versioning, is 1).
    pub fn controller_format(&self) -> u32 {
        self.body_format.max(1)
    }

    /// A heartbeat for `cluster`.
    pub fn heartbeat(cluster: impl Into<String>, hb: peer::Heartbeat) -> Self {
        Self {
            cluster: cluster.into(),
            body_format: 0,
            body: Some(peer::peer_message::Body::Heartbeat(hb)),
        }
    }

    /// A hello announcing `node` in `cluster` with this build's protocol version.
    pub fn hello(cluster: impl Into<String>, node: impl Into<String>) -> Self {
        let cluster = cluster.into();
        Self {
            cluster: cluster.clone(),
            body_format: 0,
            body: Some(peer::peer_message::Body::Hello(peer::Hello {
                cluster,
                protocol_version: PEER_PROTOCOL_VERSION,
                node: node.into(),
                software_version: env!("CARGO_PKG_VERSION").to_string(),
            })),
        }
    }

    /// True for heartbeats, which the transport may send unreliably (QUIC datagrams).
    pub fn is_heartbeat(&self) -> bool {
        matches!(self.body, Some(peer::peer_message::Body::Heartbeat(_)))
    }
}

impl client::ClientRequest {
    /// A request with the current [`CLIENT_API_VERSION`].
    pub fn new(request: client::client_request::Request) -> Self {
        Self {
            version: CLIENT_API_VERSION,
            request: Some(request),
        }
    }
}

impl client::ClientResponse {
    /// A response with the current [`CLIENT_API_VERSION`].
    pub fn new(response: client::client_response::Response) -> Self {
        Self {
            version: CLIENT_API_VERSION,
            response: Some(response),
        }
    }

    /// An error response carrying `message`.
    pub fn error(message: impl Into<String>) -> Self {
        Self::new(client::client_response::Response::Error(client::Error {
            message: message.into(),
            outcome_unknown: false,
        }))
    }

    /// An error for a write whose outcome is unknown: it may still be committed.
    pub fn outcome_unknown(message: impl Into<String>) -> Self {
        Self::new(client::client_response::Response::Error(client::Error {
            message: message.into(),
            outcome_unknown: true,
        }))
    }

    /// An ok response carrying `message` and the committed raft `index` (0 if none).
    pub fn ok(message: impl Into<String>, index: u64) -> Self {
        Self::new(client::client_response::Response::Ok(client::Ack {
            message: message.into(),
            index,
        }))
    }
}

impl client::NodeState {
    /// Pacemaker's word for the state, as `hactl cluster status` prints it.
    pub fn as_word(self) -> &'static str {
        match self {
            client::NodeState::Unspecified => "unknown",
            client::NodeState::Online => "online",
            client::NodeState::Offline => "offline",
            client::NodeState::Unclean => "unclean",
        }
    }
}
