//! Pacemaker CIB XML: import into the hactl model ([`import`]), export back out
//! ([`export`], so that `crm_simulate` can read what we generate), and a generator of
//! large synthetic CIBs for benchmarks ([`generate`]).

mod alerts;
mod conditional;
mod dom;
pub mod export;
mod export_rules;
pub mod generate;
mod import;
mod pattern;
mod refuse;
mod refuse_migration;
mod refuse_remote;
mod sets;
mod templates;
mod tickets;

pub use export::export;
pub use import::{import, import_reader, NODE_SCORE_ATTR, NO_QUORUM_PANIC_PROPERTY};
pub use pattern::cluster_refusal as rsc_pattern_cluster_refusal;
pub use templates::ignored_colocations;

/// Why a CIB could not be imported. Every variant names the element (and its id when
/// it has one) so that the operator can find it in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("malformed XML at byte {position}: {message}")]
    Xml { position: u64, message: String },
    #[error("the root element is <{0}>, not <cib>: not a Pacemaker CIB")]
    NotACib(String),
    #[error("unsupported <{element}>{}: {reason}", fmt_id(.id))]
    Unsupported {
        element: String,
        id: Option<String>,
        reason: String,
    },
    #[error("<{element}>{} is missing {attribute}", fmt_id(.id))]
    Missing {
        element: String,
        id: Option<String>,
        attribute: String,
    },
    #[error("<{element}>{}: invalid {attribute}={value:?}: {reason}", fmt_id(.id))]
    Invalid {
        element: String,
        id: Option<String>,
        attribute: String,
        value: String,
        reason: String,
    },
}

fn fmt_id(id: &Option<String>) -> String {
    match id {
        Some(id) => format!(" id={id:?}"),
        None => String::new(),
    }
}
