//! The fencer's building blocks.
pub mod xvm;
