//! What the DC and the nodes' executor services tell each other. Carried as JSON
//! inside one arm of the peer protocol (`PeerMessage.controller`), so the transport
//! does not need to know the model's types.

use serde::{Deserialize, Serialize};

use crate::engine::{Dispatch, FenceRequest};
use crate::ops::{OpDetails, Outcome};

/// One controller message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "msg", rename_all = "snake_case")]
pub enum ControllerMsg {
    /// DC → node: run this operation.
    Execute(Dispatch),
    /// Node → DC: an operation's result, or a recurring monitor's change.
    Report(Report),
    /// DC → node: these reports are recorded in the CIB; forget them.
    Ack { seqs: Vec<u64> },
    /// DC → node: a new DC took over, or the node (re)joined: answer with `Synced`.
    Resync,
    /// Node → DC: every report not acknowledged yet, after the operations that were
    /// running when `Resync` came have finished. Also sent unasked when the node's
    /// service starts. `boot` changes with every start of the service: a node whose
    /// boot differs from the one its history was probed under is probed again.
    Synced {
        node: String,
        boot: u64,
        reports: Vec<Report>,
    },
    /// DC → node: run the fencer against `target`.
    Fence(FenceRequest),
    /// Node → DC: the fencer's answer.
    FenceResult {
        transition: u64,
        action: usize,
        target: String,
        ok: bool,
        reason: Option<String>,
    },
}

/// A controller message on the wire. The DC's messages carry the Raft term it leads
/// in, so that a node can refuse the orders of a DC deposed since
/// ([`crate::orders`]); the nodes' messages carry none. A message from a build
/// before the term was added decodes with `dc_term: None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(flatten)]
    pub msg: ControllerMsg,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dc_term: Option<u64>,
}

impl Envelope {
    pub fn to_json(&self) -> Vec<u8> {
        // As for `ControllerMsg`: plain types, serializing cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_json(b: &[u8]) -> Result<Envelope, serde_json::Error> {
        serde_json::from_slice(b)
    }
}

/// A result the node keeps until the DC acknowledges it: a DC that dies before
/// recording it leaves it for the next DC (see `docs/architecture.md`, "DC failover").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Per service run, increasing; what `Ack` refers to.
    pub seq: u64,
    pub node: String,
    pub boot: u64,
    /// The graph action this answers; `None` for a recurring monitor's change.
    pub transition: Option<u64>,
    pub action: Option<usize>,
    pub details: OpDetails,
    pub outcome: Outcome,
}

impl ControllerMsg {
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing these plain types cannot fail (no maps with non-string keys).
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_json(b: &[u8]) -> Result<ControllerMsg, serde_json::Error> {
        serde_json::from_slice(b)
    }
}
