//! Proposing CIB changes through the daemon, as the controller sees it.

use std::future::Future;
use std::pin::Pin;

/// Why a proposed change did not take effect.
#[derive(Debug, thiserror::Error)]
pub enum ProposeError {
    /// The CIB model refused the change; the CIB is unchanged. Only this one is
    /// worth retrying piece by piece (another change in a batch may be the bad one).
    #[error("change rejected: {0}")]
    Rejected(#[from] hactl_model::ModelError),
    /// The daemon is stopping.
    #[error("daemon stopped")]
    Stopped,
    /// Not committed (no leader, no quorum, a lost leader): retry later, whole.
    #[error("not committed: {0}")]
    NotCommitted(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// What [`crate::Host::propose`] and [`crate::dc::ClusterIo::propose`] return:
/// resolves once the change is applied locally.
pub type Proposal<'a> = Pin<Box<dyn Future<Output = Result<(), ProposeError>> + Send + 'a>>;
