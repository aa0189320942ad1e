//! Pacemaker-compatible digests of the parameters an operation ran with.
//!
//! An operation's history record carries the digest of its parameters
//! (`op-digest`); for an agent that can reload, also the names of the parameters a
//! reload cannot apply (`op-force-restart`) and the digest of just those
//! (`op-restart-digest`). The scheduler recomputes them from the current
//! definition: a different restart digest means restart, a different op digest
//! alone means reload (or restart when the agent cannot reload), and a recurring
//! monitor whose digest differs is scheduled again. The same function computes both
//! sides (the executing node and the scheduler), and it computes what Pacemaker
//! does, so histories written by Pacemaker compare equal when nothing changed:
//! MD5 of `" <parameters a=\"1\" b=\"2\"/>\n"`, names sorted, Pacemaker's meta
//! parameters and bookkeeping names left out, and for a recurring operation its
//! timeout (`CRM_meta_timeout`, milliseconds) kept in.

use std::collections::BTreeMap;
use std::fmt::Write;

use md5::{Digest, Md5};

/// Operation attributes that are settings of the operation (Pacemaker meta
/// attributes, written on `<op>` itself) rather than parameters passed to the
/// agent: they do not enter digests. An operation's other extra attributes
/// (`OCF_CHECK_LEVEL`) are its instance attributes.
pub const OP_META_ATTRS: &[&str] = &[
    "start-delay",
    "interval-origin",
    "record-pending",
    "requires",
    "description",
];

/// An operation's own parameters (its instance attributes): the attributes of
/// `spec` that are not [`OP_META_ATTRS`].
pub fn op_params(spec: Option<&crate::OpSpec>) -> Vec<(&str, &str)> {
    spec.map(|s| {
        s.extra
            .iter()
            .filter(|(k, _)| !OP_META_ATTRS.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    })
    .unwrap_or_default()
}

/// Whether a parameter name is left out of every digest (Pacemaker's meta
/// parameters and bookkeeping names).
fn filtered(name: &str) -> bool {
    name.starts_with("CRM_meta_")
        || matches!(
            name,
            "id" | "crm_feature_set" | "op-digest" | "pcmk_external_ip"
        )
}

/// The digest of an operation's parameters (`op-digest`): the resource's
/// parameters, then the operation's own (which win on a clash), and the timeout
/// when the operation is recurring.
pub fn op_digest<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    interval_ms: u64,
    timeout_ms: u64,
) -> String {
    let mut set: BTreeMap<&str, String> = params
        .into_iter()
        .filter(|(k, _)| !filtered(k))
        .map(|(k, v)| (k, v.to_string()))
        .collect();
    if interval_ms > 0 {
        set.insert("CRM_meta_timeout", timeout_ms.to_string());
    }
    digest_of(set.iter().map(|(k, v)| (*k, v.as_str())))
}

/// The digest of the parameters named in `force_restart` (a space-separated list,
/// `op-force-restart`) among `params` (`op-restart-digest`).
pub fn restart_digest<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    force_restart: &str,
) -> String {
    let names: Vec<&str> = force_restart.split_whitespace().collect();
    let set: BTreeMap<&str, &str> = params
        .into_iter()
        .filter(|(k, _)| !filtered(k) && names.contains(k))
        .collect();
    digest_of(set.into_iter())
}

/// Whether `digest` is the digest of `params` without the private ones named in
/// `secure` (` passwd `): then only masked secrets differ. Both of Pacemaker's
/// forms count: all parameters with the timeout of a recurring operation, and
/// (histories before feature set 3.16) the resource's parameters alone, without
/// fencing parameters and without the timeout.
pub fn secure_digest_matches<'a>(
    params: &[(&'a str, &'a str)],
    resource_params: &[(&'a str, &'a str)],
    secure: &str,
    interval_ms: u64,
    timeout_ms: u64,
    digest: &str,
) -> bool {
    let private: Vec<&str> = secure.split_whitespace().collect();
    let public = |list: &[(&'a str, &'a str)]| {
        list.iter()
            .copied()
            .filter(|(k, _)| !private.contains(k))
            .collect::<Vec<_>>()
    };
    let fence_param = |k: &str| k.starts_with("pcmk_") || k == "provides";
    let old: Vec<(&str, &str)> = public(resource_params)
        .into_iter()
        .filter(|(k, _)| !fence_param(k))
        .collect();
    op_digest(public(params), interval_ms, timeout_ms) == digest || op_digest(old, 0, 0) == digest
}

/// The `op-force-restart` list for these parameter names: ` a b ` (Pacemaker
/// looks words up with the spaces around them), or empty.
pub fn force_restart_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for n in names {
        if out.is_empty() {
            out.push(' ');
        }
        out.push_str(n);
        out.push(' ');
    }
    out
}

/// MD5 (hex) of `<parameters …/>` with the attributes in the order given (sorted by
/// the callers), escaped as Pacemaker writes XML attribute values.
fn digest_of<'a>(attrs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut s = String::from(" <parameters");
    for (k, v) in attrs {
        s.push(' ');
        s.push_str(k);
        s.push_str("=\"");
        escape_into(&mut s, v);
        s.push('"');
    }
    s.push_str("/>\n");
    let sum = Md5::digest(s.as_bytes());
    let mut hex = String::with_capacity(32);
    for b in sum {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

fn escape_into(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c if c.is_ascii_control() => {
                // Writing to a String cannot fail.
                let _ = write!(out, "&#x{:02X};", c as u32);
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Digests recorded by Pacemaker in its own regression cases (bug-5025-1,
    // generated CIBs): no parameters, and a recurring op with the default timeout.
    #[test]
    fn digests_match_the_ones_pacemaker_recorded() {
        assert_eq!(op_digest([], 0, 20_000), "f2317cad3d54cec5d7d7aa7d0bf35cf8");
        assert_eq!(
            op_digest([], 10_000, 20_000),
            "4811cef7f7f94e3a35a70be7916cb2fd"
        );
        assert_eq!(
            restart_digest([("allow-migrate", "1")], " state "),
            "f2317cad3d54cec5d7d7aa7d0bf35cf8"
        );
    }

    #[test]
    fn names_are_sorted_meta_parameters_left_out_and_values_escaped() {
        let a = op_digest([("b", "1"), ("a", "x\"<")], 0, 1);
        let b = op_digest([("CRM_meta_clone", "2"), ("a", "x\"<"), ("b", "1")], 0, 9);
        assert_eq!(a, b);
        assert_ne!(a, op_digest([("a", "x\"<"), ("b", "2")], 0, 1));
        // The timeout counts only for recurring operations.
        assert_ne!(op_digest([], 5_000, 1), op_digest([], 5_000, 2));
    }

    #[test]
    fn force_restart_lists_have_surrounding_spaces() {
        assert_eq!(force_restart_list(["ip", "nic"]), " ip nic ");
        assert_eq!(force_restart_list([]), "");
    }
}
