//! Versioned replicated data: every log entry and every CIB snapshot says which format
//! it is in, and a node refuses (rather than skips) data in a format it does not know.
//!
//! * Format 1: the bare JSON of a [`Change`] (entries) or of the [`Cib`] (snapshots).
//!   What builds before versioning wrote and are the only thing they read.
//! * Format 2: [`MAGIC`], the format as a big-endian u16, then the JSON. Later formats
//!   keep the header and change what follows it.
//! * Format 3: as 2; adds the changes added since format 2 was defined:
//!   [`Change::ReplaceConfiguration`], [`Change::SetDefault`], [`Change::SetTicket`],
//!   [`Change::SetAlert`], [`Change::DeleteAlert`], clones in `AddResource` /
//!   `UpdateResource` and ticket constraints in `AddConstraint`.
//!   A change a format cannot carry is refused while the cluster writes that format
//!   ([`required_format`]): a member on an older build could not apply it. A new
//!   `Change` variant needs a new format here, and so does a new optional field: an
//!   older reader ignores a field it does not know (serde), so it would apply the
//!   change and misread it; a change that uses the field needs the format whose
//!   readers know it.
//!
//! * Format 4: as 3; adds [`Change::RecordTransition`] (the transition history). A DC
//!   whose cluster still writes format 3 does not record its transitions (the
//!   proposal is refused; the history just has a gap until every member reads 4), and
//!   [`Change::ClearTransientAttributeBefore`] (a joining node clears only a stale
//!   shutdown mark; in a cluster still on format 3 it clears the mark as before).
//!   Its readers also know utilization (`Node`, `Primitive`), added after format 3
//!   was defined.
//! * Format 5: as 4; its readers know the optional fields added since: rules nested in
//!   rules and rules on dates, resources and operations; attribute sets with a rule
//!   (`Configuration::conditional`); remote nodes (`Configuration::remote_nodes`);
//!   `require_all` and `one_or_more` on orderings; and
//!   the source and target of a migration step on an operation record. The DC does
//!   not plan live migrations while the cluster writes an older format (their
//!   records could not be written).
//!
//! The leader writes `min(own max, every member's announced max)`, so a member running
//! an older build can always read the log (the rolling-upgrade rule in
//! docs/architecture.md).

use hactl_model::change::{Change, Constraint};
use hactl_model::{
    Cib, Configuration, LocationConstraint, Node, OrderConstraint, Primitive, Resource, Rule,
};

/// The highest format this build reads and writes.
pub const ENTRY_FORMAT: u32 = 5;
/// The first format whose readers know a migration step's source and target.
pub const MIGRATION_FORMAT: u32 = 5;
/// The format of builds that did not announce one (they only read bare JSON).
pub const LEGACY_FORMAT: u32 = 1;
/// Header of framed data (formats ≥ 2). JSON never starts with it.
pub const MAGIC: &[u8; 2] = b"hx";

/// Why replicated data cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("{what} is in format {found}, this node reads up to format {max}: upgrade it")]
    TooNew {
        what: &'static str,
        found: u32,
        max: u32,
    },
    #[error("{what} in format {format} does not decode: {why}")]
    Undecodable {
        what: &'static str,
        format: u32,
        why: String,
    },
    #[error("encoding {what}: {why}")]
    Encode { what: &'static str, why: String },
}

/// Frames `value` as JSON in `format` (1: bare; ≥ 2: header, then JSON).
fn encode<T: serde::Serialize>(
    what: &'static str,
    value: &T,
    format: u32,
) -> Result<Vec<u8>, FormatError> {
    let json = serde_json::to_vec(value).map_err(|e| FormatError::Encode {
        what,
        why: e.to_string(),
    })?;
    if format <= LEGACY_FORMAT {
        return Ok(json);
    }
    let v = u16::try_from(format).map_err(|_| FormatError::Encode {
        what,
        why: format!("format {format} out of range"),
    })?;
    let mut out = Vec::with_capacity(json.len() + 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&v.to_be_bytes());
    out.extend_from_slice(&json);
    Ok(out)
}

/// The format of `data` and its payload.
pub fn split(data: &[u8]) -> (u32, &[u8]) {
    match data {
        [a, b, hi, lo, rest @ ..] if [*a, *b] == *MAGIC => {
            (u32::from(u16::from_be_bytes([*hi, *lo])), rest)
        }
        _ => (LEGACY_FORMAT, data),
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    what: &'static str,
    data: &[u8],
    max: u32,
) -> Result<T, FormatError> {
    let (format, payload) = split(data);
    if format > max {
        return Err(FormatError::TooNew {
            what,
            found: format,
            max,
        });
    }
    serde_json::from_slice(payload).map_err(|e| FormatError::Undecodable {
        what,
        format,
        why: e.to_string(),
    })
}

/// The lowest format whose readers know every part of `change`.
pub fn required_format(change: &Change) -> u32 {
    // No wildcard arm: a new variant must be placed in a format here, or it would be
    // written to members that cannot decode it (they would stop, see the module doc).
    match change {
        Change::SetDefault { .. }
        | Change::SetTicket { .. }
        | Change::SetAlert { .. }
        | Change::DeleteAlert { .. } => 3,
        Change::RecordTransition { .. } | Change::ClearTransientAttributeBefore { .. } => 4,
        Change::ReplaceConfiguration { config, .. } => configuration_format(config).max(3),
        Change::AddResource { resource } | Change::UpdateResource { resource } => {
            resource_format(resource)
        }
        Change::AddConstraint { constraint } => match constraint {
            Constraint::Ticket(_) => 3,
            Constraint::Location(l) => location_format(l),
            Constraint::Order(o) => order_format(o),
            Constraint::Colocation(_) => LEGACY_FORMAT,
        },
        Change::AddNode { node } => node_format(node),
        Change::RecordOp { op, .. } if op.migration.is_some() => MIGRATION_FORMAT,
        Change::Batch { changes } => changes
            .iter()
            .map(required_format)
            .fold(LEGACY_FORMAT, u32::max),
        Change::SetProperty { .. }
        | Change::UnsetProperty { .. }
        | Change::DeleteResource { .. }
        | Change::AddGroupMembers { .. }
        | Change::RemoveGroupMembers { .. }
        | Change::RemoveConstraint { .. }
        | Change::RemoveNode { .. }
        | Change::SetNodeAttribute { .. }
        | Change::SetStandby { .. }
        | Change::SetMaintenance { .. }
        | Change::SetTransientAttribute { .. }
        | Change::RecordOp { .. }
        | Change::SetFailCount { .. }
        | Change::ClearFailCount { .. }
        | Change::ForgetHistory { .. }
        | Change::SetNodeState { .. }
        | Change::SetQuorum { .. }
        | Change::RecordFencing { .. }
        | Change::RecordFenceEvent { .. }
        | Change::AddFencingLevel { .. }
        | Change::RemoveFencingLevel { .. } => LEGACY_FORMAT,
    }
}

/// Clones arrived with format 3; a build before it cannot decode one. Utilization
/// is known from format 4.
fn resource_format(resource: &Resource) -> u32 {
    let utilization = |p: &Primitive| {
        if p.utilization.is_empty() {
            LEGACY_FORMAT
        } else {
            4
        }
    };
    match resource {
        Resource::Clone(c) => resource_format(&c.child).max(3),
        Resource::Primitive(p) => utilization(p),
        Resource::Group(g) => highest(g.children.iter().map(utilization)),
    }
}

/// The highest of `formats`, at least the legacy one.
fn highest(formats: impl Iterator<Item = u32>) -> u32 {
    formats.fold(LEGACY_FORMAT, u32::max)
}

fn node_format(node: &Node) -> u32 {
    if node.utilization.is_empty() {
        LEGACY_FORMAT
    } else {
        4
    }
}

/// Rules nested in rules, or on dates, resources or operations: format 5.
fn rule_format(rule: &Rule) -> u32 {
    let newer = rule.walk().iter().any(|r| {
        !(r.rules.is_empty()
            && r.dates.is_empty()
            && r.resources.is_empty()
            && r.operations.is_empty())
    });
    if newer {
        5
    } else {
        LEGACY_FORMAT
    }
}

fn location_format(l: &LocationConstraint) -> u32 {
    highest(l.rules.iter().map(rule_format))
}

fn order_format(o: &OrderConstraint) -> u32 {
    if o.require_all.is_some() || o.one_or_more.is_some() {
        5
    } else {
        LEGACY_FORMAT
    }
}

/// What a whole configuration (`cib push`) needs: the most any part of it needs.
fn configuration_format(c: &Configuration) -> u32 {
    // Rule-bound attribute sets and remote nodes are parts of format 5.
    let newer_parts =
        if c.conditional.is_empty() && c.remote_nodes.is_empty() && c.bundles.is_empty() {
            LEGACY_FORMAT
        } else {
            5
        };
    let constraints = &c.constraints;
    highest(
        [
            newer_parts,
            highest(c.resources.iter().map(resource_format)),
            highest(c.nodes.iter().map(node_format)),
            highest(constraints.location.iter().map(location_format)),
            highest(constraints.order.iter().map(order_format)),
        ]
        .into_iter(),
    )
}

pub fn encode_change(change: &Change, format: u32) -> Result<Vec<u8>, FormatError> {
    encode("log entry", change, format)
}

pub fn decode_change(data: &[u8], max: u32) -> Result<Change, FormatError> {
    decode("log entry", data, max)
}

pub fn encode_cib(cib: &Cib, format: u32) -> Result<Vec<u8>, FormatError> {
    encode("CIB snapshot", cib, format)
}

pub fn decode_cib(data: &[u8], max: u32) -> Result<Cib, FormatError> {
    decode("CIB snapshot", data, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change() -> Change {
        Change::SetProperty {
            name: "a".into(),
            value: "b".into(),
        }
    }

    #[test]
    fn formats_round_trip_and_legacy_is_bare_json() {
        let c = change();
        let v1 = encode_change(&c, 1).unwrap();
        assert_eq!(
            v1,
            serde_json::to_vec(&c).unwrap(),
            "format 1 is what old builds read"
        );
        let v2 = encode_change(&c, 2).unwrap();
        assert_eq!(&v2[..4], b"hx\0\x02");
        for d in [&v1, &v2] {
            assert_eq!(decode_change(d, 2).unwrap(), c);
        }
        assert_eq!(split(&v2).0, 2);
    }

    #[test]
    fn replace_needs_format_3_even_inside_a_batch() {
        let replace = Change::ReplaceConfiguration {
            config: Box::default(),
            expected_epoch: None,
        };
        assert_eq!(required_format(&change()), LEGACY_FORMAT);
        assert_eq!(required_format(&replace), 3);
        let batch = Change::Batch {
            changes: vec![change(), replace],
        };
        assert_eq!(required_format(&batch), 3);
    }

    #[test]
    fn clones_and_alerts_are_not_written_to_readers_of_format_2() {
        let primitive = Resource::Primitive(hactl_model::Primitive {
            id: "web".into(),
            ..Default::default()
        });
        let clone = Resource::Clone(hactl_model::CloneSet {
            id: "web-clone".into(),
            meta: Default::default(),
            child: Box::new(primitive.clone()),
        });
        let add = |resource| Change::AddResource { resource };
        assert_eq!(required_format(&add(primitive)), LEGACY_FORMAT);
        assert_eq!(required_format(&add(clone)), 3);
        let delete_alert = Change::DeleteAlert { id: "a".into() };
        assert_eq!(required_format(&delete_alert), 3);
    }

    #[test]
    fn transition_records_are_not_written_to_readers_of_format_3() {
        let record = Change::RecordTransition {
            record: Box::default(),
        };
        assert_eq!(required_format(&record), 4);
        let batch = Change::Batch {
            changes: vec![change(), record],
        };
        assert_eq!(required_format(&batch), 4);
    }

    #[test]
    fn newer_optional_fields_need_the_format_whose_readers_know_them() {
        let mut vm = hactl_model::Primitive {
            id: "vm".into(),
            ..Default::default()
        };
        let add = |p: &hactl_model::Primitive| Change::AddResource {
            resource: Resource::Primitive(p.clone()),
        };
        assert_eq!(required_format(&add(&vm)), LEGACY_FORMAT);
        vm.utilization.insert("cpu".into(), "2".into());
        assert_eq!(required_format(&add(&vm)), 4);
        let order = |require_all| Change::AddConstraint {
            constraint: Constraint::Order(OrderConstraint {
                require_all,
                ..Default::default()
            }),
        };
        assert_eq!(required_format(&order(None)), LEGACY_FORMAT);
        assert_eq!(required_format(&order(Some(false))), 5);
        let mut config = Configuration::default();
        let replace = |config: &Configuration| Change::ReplaceConfiguration {
            config: Box::new(config.clone()),
            expected_epoch: None,
        };
        assert_eq!(required_format(&replace(&config)), 3);
        config
            .conditional
            .push(hactl_model::conditional::ConditionalSet::default());
        assert_eq!(required_format(&replace(&config)), 5);
        let mut config = Configuration::default();
        config.remote_nodes.push(Node::default());
        assert_eq!(required_format(&replace(&config)), 5);
    }

    #[test]
    fn newer_format_is_refused_not_misread() {
        let v2 = encode_change(&change(), 2).unwrap();
        assert_eq!(
            decode_change(&v2, 1),
            Err(FormatError::TooNew {
                what: "log entry",
                found: 2,
                max: 1
            })
        );
        let v9 = encode_change(&change(), 9).unwrap();
        assert!(matches!(
            decode_change(&v9, ENTRY_FORMAT),
            Err(FormatError::TooNew { found: 9, .. })
        ));
        assert!(matches!(
            decode_change(b"not json", ENTRY_FORMAT),
            Err(FormatError::Undecodable { format: 1, .. })
        ));
    }
}
