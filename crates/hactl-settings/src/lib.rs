//! What `hactl` (the CLI) and `hactl daemon` agree on outside the control socket: the
//! keys of `cluster.toml`'s `[settings]` that the CLI writes and the daemon reads, and
//! the marker files the CLI leaves in the daemon's state directory. Here so that the
//! CLI does not reach into the daemon's internals for them.
//!
//! * [`two_node`]: `two_node = true` (docs/cluster-setup.md, "Two nodes").
//! * [`witness`]: `witness = "IP:PORT"` (docs/cluster-setup.md, "Witness").
//! * [`force_alone`]: the `--force-alone` marker of `hactl cluster start`.

pub mod force_alone;
pub mod two_node;
pub mod witness;

use thiserror::Error;

/// A `[settings]` value of the wrong kind or form.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("settings.{key}: {why}")]
pub struct SettingsError {
    pub key: &'static str,
    pub why: String,
}
