//! Alerts, as Pacemaker's `<alerts>` section has them: an agent (`path`) run on
//! cluster events with the `CRM_alert_*` environment, once per recipient, with
//! instance attributes (passed as environment) and meta attributes (`timeout`,
//! `timestamp-format`); a recipient may override both. `select_kind` and
//! `select_attributes` narrow the events (Pacemaker's `<select>`).

use serde::{Deserialize, Serialize};

use crate::values::parse_interval_ms;
pub use crate::values::AlertKind;
use crate::{Attrs, ModelError};

/// An alert agent and who it tells.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Alert {
    pub id: String,
    /// The agent's absolute path.
    pub path: String,
    pub description: Option<String>,
    /// Instance attributes: passed to the agent as environment variables.
    pub params: Attrs,
    /// `timeout` (default 30s) and `timestamp-format` (default `%H:%M:%S.%06N`).
    pub meta: Attrs,
    /// Only these kinds of event; `None`: every kind.
    pub select_kind: Option<Vec<AlertKind>>,
    /// With `attribute` events: only these attribute names; empty: every attribute.
    pub select_attributes: Vec<String>,
    pub recipients: Vec<AlertRecipient>,
}

/// Where an alert goes (a file name, an address: the agent decides what it means).
/// Recipient values can be secrets (a webhook URL with a token): never log them
/// above debug.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertRecipient {
    pub id: String,
    pub value: String,
    pub description: Option<String>,
    /// Overrides the alert's instance attributes.
    pub params: Attrs,
    /// Overrides the alert's meta attributes.
    pub meta: Attrs,
}

/// Pacemaker's default alert timeout.
pub const DEFAULT_ALERT_TIMEOUT_MS: u64 = 30_000;
/// Pacemaker's default `timestamp-format`.
pub const DEFAULT_TIMESTAMP_FORMAT: &str = "%H:%M:%S.%06N";

impl Alert {
    /// Whether events of `kind` (and attribute `name`, for attribute events) go to
    /// this alert.
    pub fn selects(&self, kind: AlertKind, attribute: Option<&str>) -> bool {
        let kind_ok = self.select_kind.as_ref().is_none_or(|k| k.contains(&kind));
        let attr_ok = match (kind, attribute) {
            (AlertKind::Attribute, Some(a)) => {
                self.select_attributes.is_empty() || self.select_attributes.iter().any(|s| s == a)
            }
            _ => true,
        };
        kind_ok && attr_ok
    }

    /// A meta attribute for `recipient`: its own, else the alert's.
    pub fn meta_for<'a>(&'a self, recipient: &'a AlertRecipient, name: &str) -> Option<&'a str> {
        recipient
            .meta
            .get(name)
            .or_else(|| self.meta.get(name))
            .map(String::as_str)
    }

    /// The agent's timeout for `recipient`, in milliseconds.
    pub fn timeout_ms(&self, recipient: &AlertRecipient) -> u64 {
        self.meta_for(recipient, "timeout")
            .and_then(parse_interval_ms)
            .filter(|t| *t > 0)
            .unwrap_or(DEFAULT_ALERT_TIMEOUT_MS)
    }

    /// The `timestamp-format` for `recipient`.
    pub fn timestamp_format<'a>(&'a self, recipient: &'a AlertRecipient) -> &'a str {
        self.meta_for(recipient, "timestamp-format")
            .unwrap_or(DEFAULT_TIMESTAMP_FORMAT)
    }
}

/// Checks an alert: path, ids, meta values.
pub(crate) fn check(a: &Alert, errs: &mut Vec<ModelError>) {
    let ctx = || format!("alert {:?}", a.id);
    if !a.path.starts_with('/') {
        errs.push(ModelError::Invalid {
            context: ctx(),
            message: format!("path {:?} is not an absolute path", a.path),
        });
    }
    for meta in std::iter::once(&a.meta).chain(a.recipients.iter().map(|r| &r.meta)) {
        if let Some(t) = meta.get("timeout") {
            if parse_interval_ms(t).is_none() {
                errs.push(ModelError::BadInterval {
                    context: format!("{} meta timeout", ctx()),
                    value: t.clone(),
                });
            }
        }
    }
    for r in &a.recipients {
        if r.value.is_empty() {
            errs.push(ModelError::Invalid {
                context: format!("alert recipient {:?}", r.id),
                message: "a recipient needs a value".into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(kinds: Option<Vec<AlertKind>>, attrs: &[&str]) -> Alert {
        Alert {
            select_kind: kinds,
            select_attributes: attrs.iter().map(|a| a.to_string()).collect(),
            ..Default::default()
        }
    }

    const KINDS: [AlertKind; 4] = [
        AlertKind::Node,
        AlertKind::Fencing,
        AlertKind::Resource,
        AlertKind::Attribute,
    ];

    #[test]
    fn no_select_takes_every_event() {
        let a = alert(None, &[]);
        for k in KINDS {
            assert!(a.selects(k, None), "{k}");
        }
        assert!(a.selects(AlertKind::Attribute, Some("pingd")));
    }

    #[test]
    fn select_kind_takes_only_the_kinds_listed() {
        let a = alert(Some(vec![AlertKind::Node, AlertKind::Fencing]), &[]);
        let taken: Vec<AlertKind> = KINDS.into_iter().filter(|k| a.selects(*k, None)).collect();
        assert_eq!(taken, [AlertKind::Node, AlertKind::Fencing]);
        assert!(!a.selects(AlertKind::Attribute, Some("pingd")));
        // A select with no kind listed takes nothing.
        let none = alert(Some(vec![]), &[]);
        assert!(KINDS.into_iter().all(|k| !none.selects(k, None)));
    }

    #[test]
    fn select_attributes_narrows_attribute_events_by_name_only() {
        let a = alert(Some(vec![AlertKind::Attribute]), &["pingd", "site"]);
        assert!(a.selects(AlertKind::Attribute, Some("pingd")));
        assert!(a.selects(AlertKind::Attribute, Some("site")));
        assert!(!a.selects(AlertKind::Attribute, Some("standby")));
        // Names say nothing about the other kinds.
        let b = alert(None, &["pingd"]);
        assert!(b.selects(AlertKind::Node, None));
        assert!(!b.selects(AlertKind::Attribute, Some("standby")));
        // No names: every attribute.
        let c = alert(Some(vec![AlertKind::Attribute]), &[]);
        assert!(c.selects(AlertKind::Attribute, Some("standby")));
    }
}
