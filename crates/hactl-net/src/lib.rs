//! hactl's peer plane.
//!
//! * [`NodeName`]: a validated node name (a DNS-style host name; it is also the DNS
//!   subject alternative name of the node's certificate).
//! * [`pki`]: the cluster CA and node certificates (rcgen), PEM files on disk.
//! * [`config`]: the cluster config (`cluster.toml`) and per-node bundle files.
//! * [`tls`]: rustls/quinn configurations for mutual TLS under the cluster CA.
//! * [`Transport`]: QUIC between nodes. Send a [`PeerMessage`] to a named node at an
//!   address, receive `(NodeName, PeerMessage)` from a channel.
//!
//! # Transport in short
//!
//! ```no_run
//! # async fn demo(identity: hactl_net::NodeIdentity, peer: hactl_net::NodeName,
//! #               addr: std::net::SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
//! use hactl_net::Transport;
//! use hactl_proto::peer::PeerMessage;
//! let (transport, mut incoming) =
//!     Transport::bind(identity, "0.0.0.0:7420".parse()?).await?;
//! transport.send(&peer, addr, &PeerMessage::raft("", vec![1, 2, 3]))?;
//! while let Some((from, msg)) = incoming.recv().await {
//!     // `from` comes from the sender's verified certificate.
//!     let _ = (from, msg);
//! }
//! # Ok(()) }
//! ```
//!
//! [`PeerMessage`]: hactl_proto::peer::PeerMessage

pub mod config;
mod lograte;
mod name;
pub mod pki;
pub mod tls;
mod transport;

pub use config::{Bundle, ClusterConfig, NodeEntry};
pub use name::{NameError, NodeName};
pub use pki::{Ca, CertNameError, NodeIdentity, PkiError};
pub use transport::{Incoming, NetError, SendError, Transport, TransportOptions};
