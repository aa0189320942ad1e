//! Alerts: each node runs the configured alert agents for its events (see
//! [`events`]), with Pacemaker's `CRM_alert_*` environment, so existing agents
//! (`/usr/share/pacemaker/alerts/*`) run unchanged.
//!
//! Off the controller's path: one task watches the applied CIB (the consensus
//! status channel, which the controller never waits on) and derives events; each
//! alert has its own worker task that delivers its events in order, one event at a
//! time (its recipients in parallel), each agent run bounded by the alert's
//! `timeout` (its process group is killed then). A hung agent delays only its own
//! alert's later events; its queue holds 1024 events, past which the oldest are
//! dropped, counted and logged (`run::QUEUE_CAPACITY` says why the oldest).
//! Intermediate states that the CIB passes through between two looks of the
//! watcher are not seen (the watch keeps the newest CIB).
//!
//! Tested in tests/tests/netns_alerts.rs with Debian's `alert_file.sh.sample`, and
//! in run_tests.rs (selection, outcome counters, the bounded queue) with a script.

mod events;
mod run;
mod timestamp;

pub use events::{new_fencing, new_ops};
pub use run::Alerts;
