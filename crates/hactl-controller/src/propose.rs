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
    /// The change needs an entry format that a member does not read yet (a rolling
    /// upgrade is under way): refused, nothing written. Splitting a batch helps: the
    /// changes an older member reads still go in.
    #[error(
        "not written until every node is upgraded: needs entry format {needs}, the \
         cluster writes {writes}"
    )]
    TooNew { needs: u32, writes: u32 },
    /// Not committed (no leader, no quorum, a lost leader): retry later, whole.
    #[error("not committed: {0}")]
    NotCommitted(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// What [`crate::Host::propose`] and [`crate::dc::ClusterIo::propose`] return:
/// resolves once the change is applied locally.
pub type Proposal<'a> = Pin<Box<dyn Future<Output = Result<(), ProposeError>> + Send + 'a>>;
