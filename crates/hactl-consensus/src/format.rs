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
//!   `UpdateResource` and ticket constraints in `AddConstraint`. (New optional fields,
//!   such as utilization, are ignored by older readers: a known rolling-upgrade gap.)
//!   A change a format cannot carry is refused while the cluster writes that format
//!   ([`required_format`]): a member on an older build could not apply it. A new
//!   `Change` variant needs a new format here.
//!
//! * Format 4: as 3; adds [`Change::RecordTransition`] (the transition history). A DC
//!   whose cluster still writes format 3 does not record its transitions (the
//!   proposal is refused; the history just has a gap until every member reads 4).
//!
//! The leader writes `min(own max, every member's announced max)`, so a member running
//! an older build can always read the log (the rolling-upgrade rule in
//! docs/architecture.md).

use hactl_model::change::{Change, Constraint};
use hactl_model::Cib;
use hactl_model::Resource;

/// The highest format this build reads and writes.
pub const ENTRY_FORMAT: u32 = 4;
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
        Change::ReplaceConfiguration { .. }
        | Change::SetDefault { .. }
        | Change::SetTicket { .. }
        | Change::SetAlert { .. }
        | Change::DeleteAlert { .. } => 3,
        Change::RecordTransition { .. } => 4,
        Change::AddResource { resource } | Change::UpdateResource { resource } => {
            resource_format(resource)
        }
        Change::AddConstraint { constraint } => match constraint {
            Constraint::Ticket(_) => 3,
            _ => LEGACY_FORMAT,
        },
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
        | Change::AddNode { .. }
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

/// Clones arrived with format 3; a build before it cannot decode one.
fn resource_format(resource: &Resource) -> u32 {
    match resource {
        Resource::Clone(_) => 3,
        Resource::Primitive(_) | Resource::Group(_) => LEGACY_FORMAT,
    }
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
