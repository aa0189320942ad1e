//! One rendering of a cluster snapshot, shared by `hactl status` and `hactl mon` so
//! the two never drift: a [`Snapshot`] (the CIB, what the answering daemon sees, the
//! time) becomes a [`View`] (the scheduler's reading of it plus a [`StatusReport`]),
//! which renders as text ([`text`]), JSON (the report, `schema_version`
//! [`SCHEMA_VERSION`], documented in docs/status-json.md) or crm_mon's
//! `--output-as=xml` shape ([`xml`]). Pure: no I/O, no clock.

pub mod history;
pub mod ipvs;
pub mod mon;
pub mod report;
pub mod text;
pub mod time;
pub mod xml;

pub use report::{
    failed_actions, CloneView, DaemonView, FailedAction, FencingView, LinkView, MemberInfo,
    NodeFailCount, PendingFence, StatusReport, UnconfirmedNode,
};
pub use text::Sections;

use hactl_model::Cib;
use hactl_policy::{schedule, Transition};

/// The version of the JSON document `hactl status --output json` prints. Raise it
/// when a field changes meaning or goes away (adding a field does not).
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("the CIB cannot be scheduled: {0}")]
    Schedule(#[from] hactl_policy::PolicyError),
    #[error("encoding the view: {0}")]
    Encode(String),
}

/// What a view is made from: everything arrives from outside, nothing is read here.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub cib: Cib,
    /// The answering daemon's own view (membership, raft); none for a CIB file.
    pub daemon: Option<DaemonView>,
    /// Seconds since the epoch the scheduler evaluates rules and expiries at.
    pub now: i64,
}

/// A snapshot read by the scheduler, ready to render.
#[derive(Clone, Debug)]
pub struct View {
    pub cib: Cib,
    pub transition: Transition,
    pub report: StatusReport,
}

impl View {
    /// A node's permanent attributes, then its transient ones (crm_mon -A lists both).
    pub(crate) fn node_attributes(&self, node: &str) -> Vec<(&String, &String)> {
        let permanent = self.cib.config.nodes.iter().filter(|n| n.name == node);
        let transient = self.cib.status.nodes.get(node).map(|s| &s.attributes);
        // IPVS service state rides in transient attributes: shown as the service.
        let ipvs = |(k, _): &(&String, &String)| ipvs::is_state_attr(k);
        permanent
            .flat_map(|n| n.attributes.iter())
            // Standby is the node's state, shown as such; crm_mon -A leaves it out.
            .filter(|(k, _)| k.as_str() != "standby")
            .chain(transient.into_iter().flatten().filter(|a| !ipvs(a)))
            .collect()
    }

    /// The clone set a placement is an instance of.
    pub fn clone_set(&self, p: &hactl_policy::Placement) -> Option<&hactl_model::CloneSet> {
        let id = p.clone.as_deref()?;
        self.cib.config.resources.iter().find_map(|r| match r {
            hactl_model::Resource::Clone(c) if c.id == id => Some(c),
            _ => None,
        })
    }

    /// The name a placement shows under: an anonymous clone's instance as its
    /// primitive (crm_mon's `ping`, not `ping:2`).
    pub fn shown_id<'a>(&self, p: &'a hactl_policy::Placement) -> &'a str {
        match self.clone_set(p) {
            Some(c) => c.shown_instance(&p.resource),
            None => &p.resource,
        }
    }

    pub fn new(s: Snapshot) -> Result<View, ViewError> {
        let transition = schedule(&s.cib, s.now)?;
        let report = report::build(&s.cib, &transition, s.daemon);
        Ok(View {
            cib: s.cib,
            transition,
            report,
        })
    }

    /// The report as pretty JSON.
    pub fn json(&self) -> Result<String, ViewError> {
        serde_json::to_string_pretty(&self.report).map_err(|e| ViewError::Encode(e.to_string()))
    }
}
