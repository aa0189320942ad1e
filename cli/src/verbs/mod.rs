//! What every configuration verb shares: pcs's argument grammar ([`args`]), and the
//! path of a change ([`session`]): fetch the CIB, build `Change`s, check them by
//! applying them to a local copy, then either print the transition they would cause
//! (`--dry-run`), rewrite a CIB file (`--cib FILE`), or propose them to the cluster
//! and wait until it has settled.

pub mod args;
pub mod session;
pub mod verdict;

pub use session::{ChangeFlags, OutputFormat, Plan, ReadFlags, Session};
