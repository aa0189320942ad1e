//! Tickets (Pacemaker's multi-site tokens): a resource that depends on a ticket
//! runs only while the ticket is granted to this cluster and not in standby.

use serde::{Deserialize, Serialize};

use crate::values::{LossPolicy, Role};

/// `rsc_ticket`: `rsc` (in `rsc_role`, any role when `None`) needs `ticket`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TicketConstraint {
    pub id: String,
    pub rsc: String,
    pub ticket: String,
    pub rsc_role: Option<Role>,
    /// `None`: demote for the Promoted role, stop otherwise (Pacemaker's default).
    pub loss_policy: Option<LossPolicy>,
}

/// What this cluster knows of one ticket (Pacemaker's `ticket_state`). A ticket
/// that has no state is not granted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TicketState {
    pub granted: bool,
    /// Granted but in standby: its resources stop as if it were revoked, without
    /// the loss policy.
    pub standby: bool,
    /// Seconds since the epoch when it was last granted.
    pub last_granted: Option<i64>,
}
