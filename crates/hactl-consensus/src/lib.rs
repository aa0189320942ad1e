//! Consensus for hactl: raft-rs behind our own API, replicating the CIB.
//!
//! * The Raft log carries [`Change`]s (JSON); every node applies committed changes to
//!   its [`Cib`] in log order, so all nodes converge on the same CIB.
//! * Storage is redb ([`storage`]): log, hard state, configuration and CIB snapshots.
//!   Everything a Ready produces is flushed (fsync) before any message leaves and
//!   before any proposal is acknowledged, so neither `kill -9` nor a power cut loses
//!   an acknowledged change (tests/power_loss.rs cuts the power under a node). A store
//!   that fails its checksums or the Raft log's invariants is refused at start
//!   ([`Error::Damaged`]).
//! * A raft-rs panic (a broken invariant) is not caught: the node stops and its
//!   [`Status::fatal`] says so; the daemon then stops its resources and exits.
//! * A proposal resolves when its entry is applied on the proposing node: a read of the
//!   local CIB right after a successful write sees the write.
//! * No raft or protobuf-2 type appears in this API. Peer messages leave as opaque bytes
//!   through a [`Transport`] callback and come back through [`Handle::step`].
//!
//! * Every entry and snapshot carries a format version ([`format`]); a node that meets a
//!   committed entry it cannot read stops applying and says why ([`Status::stalled`]);
//!   the leader writes the highest format every member has announced
//!   ([`Handle::peer_report`]).
//! * A node whose state directory is empty founds the cluster only when the caller says
//!   it may ([`Config::may_found`]); otherwise it has lost its state and rejoins as a
//!   non-voter until it has caught up ([`rejoin`]).
//!
//! The Raft node runs on its own OS thread (storage writes block), driven by a channel of
//! commands and a tick clock.

pub mod alone;
pub mod format;
mod known_formats;
mod membership;
mod node;
pub mod rejoin;
mod slog_bridge;
mod storage;
pub mod testing;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use alone::{AloneError, AloneProof, LogEnd};
pub use hactl_model::change::Change;
pub use hactl_model::Cib;
pub use node::Handle;
pub use rejoin::RejoinPhase;

/// A Raft node id. The daemon maps node names to ids through the cluster config.
pub type NodeId = u64;

/// Sends an encoded peer message to a node. Must not block (queue and return).
pub type Transport = Arc<dyn Fn(NodeId, Vec<u8>) + Send + Sync>;

/// Errors starting or running a node.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("storage: {0}")]
    Storage(String),
    /// The Raft store on disk fails its checksums or the Raft log's invariants. The
    /// node refuses to start from it: it could undo committed changes.
    #[error(
        "the Raft store {} is damaged: {detail}. Refusing to start from it. If the other \
         members are healthy, move it away and add this node to the cluster again",
        path.display()
    )]
    Damaged {
        path: std::path::PathBuf,
        detail: String,
    },
    #[error("raft: {0}")]
    Raft(String),
    #[error("invalid consensus configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Format(#[from] format::FormatError),
}

/// Why a proposal did not succeed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProposeError {
    /// The change was committed (or checked locally) and refused by the CIB model; the
    /// CIB is unchanged.
    #[error("change rejected: {0}")]
    Rejected(hactl_model::ModelError),
    /// No leader is known (election in progress, or no quorum): retry later.
    #[error("no leader (election in progress or no quorum)")]
    NoLeader,
    /// Raft refused the proposal (for example a membership change while another is
    /// pending).
    #[error("proposal dropped: {0}")]
    Dropped(String),
    /// The change needs an entry format a member cannot read yet (it runs an older
    /// build, or this node has never heard it): refused, not written.
    #[error(
        "this change needs entry format {needs} and a member reads only up to format \
         {writes}: upgrade every node first (docs/architecture.md, rolling upgrade)"
    )]
    TooNew { needs: u32, writes: u32 },
    /// The node has stopped.
    #[error("consensus node stopped")]
    Stopped,
    /// The change was handed to Raft but not seen applied in time (a lost leader, no
    /// quorum): it may still be committed later, so "not committed" would be wrong.
    #[error("outcome unknown: {0}")]
    Unknown(String),
}

/// Timing, in ticks of `tick`: heartbeats every `heartbeat_ticks`, elections after
/// `election_ticks` (randomized up to twice that, by raft).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub tick: Duration,
    pub heartbeat_ticks: usize,
    pub election_ticks: usize,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            tick: Duration::from_millis(10),
            heartbeat_ticks: 5,
            election_ticks: 25,
        }
    }
}

/// How to start a node.
#[derive(Debug, Clone)]
pub struct Config {
    pub id: NodeId,
    /// The cluster's configured members (this node included). With `may_found` and an
    /// empty `data_dir` they become the voters of a new cluster (every founder must be
    /// given the same list). A node rejoining without state uses the list to know whom
    /// it must hear from before it lends its vote ([`rejoin`]).
    pub initial_voters: Vec<NodeId>,
    /// Whether this node may found a new cluster when `data_dir` holds no state. The
    /// fact comes from outside the store (the daemon: a founder marker written by
    /// `hactl cluster setup`, consumed once the founding state is on disk): an empty
    /// store alone cannot tell a founder from a member that lost its disk.
    pub may_found: bool,
    /// Where this node's Raft store (`raft.redb`) lives.
    pub data_dir: PathBuf,
    pub timing: Timing,
    /// Take a CIB snapshot and drop the log before it every this many applied entries.
    pub compact_after: u64,
    /// The highest entry format this node reads and writes ([`format::ENTRY_FORMAT`];
    /// lower only to act as an older build in tests).
    pub max_format: u32,
    /// How long a proposal that needs a newer format may wait for a member never heard
    /// from to announce the format it reads (see `known_formats.rs`); `None`: twelve
    /// election timeouts.
    pub format_wait: Option<Duration>,
}

impl Config {
    /// A founding member's config (`may_found`: see the field).
    pub fn new(id: NodeId, initial_voters: Vec<NodeId>, data_dir: impl Into<PathBuf>) -> Config {
        Config {
            id,
            may_found: !initial_voters.is_empty(),
            initial_voters,
            data_dir: data_dir.into(),
            timing: Timing::default(),
            compact_after: 1000,
            max_format: format::ENTRY_FORMAT,
            format_wait: None,
        }
    }
}

/// What a peer says about itself (the daemon carries it in heartbeats). The leader
/// uses `max_format` to choose the entry format; a rejoining node uses the rest to
/// decide whom it may vote for; the leader demotes a voter that reports
/// [`RejoinPhase::NoState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerReport {
    /// Highest entry format the peer reads (builds before versioning: 1).
    pub max_format: u32,
    /// Set while the peer rejoins after losing its state.
    pub rejoin: Option<RejoinPhase>,
    /// Term and index of the last entry of the peer's log.
    pub last_term: u64,
    pub last_index: u64,
}

/// A node's role in Raft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

/// A node's view of the cluster, published after every change.
#[derive(Debug, Clone)]
pub struct Status {
    pub id: NodeId,
    pub role: Role,
    /// The leader (the DC) this node follows, if known.
    pub leader: Option<NodeId>,
    pub term: u64,
    pub commit_index: u64,
    pub applied_index: u64,
    pub last_index: u64,
    /// Index of the last CIB snapshot (the log starts after it).
    pub snapshot_index: u64,
    pub voters: Vec<NodeId>,
    /// Non-voting members (nodes catching up after losing their state).
    pub learners: Vec<NodeId>,
    /// Term of the last entry of the log.
    pub last_term: u64,
    /// Set while this node rejoins after losing its state (it does not vote).
    pub rejoin: Option<RejoinPhase>,
    /// Set when the node met a committed entry it cannot read: it stopped applying
    /// (its CIB is frozen at `applied_index`) until it runs a build that reads it.
    pub stalled: Option<String>,
    /// The entry format this node writes when it leads (the highest every member
    /// reads).
    pub entry_format: u32,
    /// The CIB as of `applied_index`.
    pub cib: Arc<Cib>,
    /// Set when the node stopped on an error (storage failure, corrupt snapshot).
    pub fatal: Option<String>,
    /// False once the node has stopped.
    pub running: bool,
}

impl Status {
    pub fn is_leader(&self) -> bool {
        self.role == Role::Leader
    }
}

/// Starts a node on its own thread; messages for peers go out through `transport`.
pub fn start(config: Config, transport: Transport) -> Result<Handle, Error> {
    node::start(config, transport)
}
