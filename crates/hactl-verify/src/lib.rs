//! `hactl cluster verify`: what a CIB would do to a cluster, checked before it is
//! pushed. Pacemaker's `crm_verify` checks for the constructs hactl supports, the
//! model's own validation, and hactl's checks (fencing off with a no-quorum-policy
//! that keeps resources, stops slower than the split-brain hold, VIPs outside every
//! local subnet, monitors that run more often than they may take).
//!
//! Pure: the caller passes the heartbeat timing and the local networks (none when
//! checking a file for another machine: the VIP check is then skipped with a note).

mod checks;
pub mod net;
mod status;

use hactl_model::split_brain::Liveness;
use hactl_model::Cib;
use serde::Serialize;

pub use net::Network;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One problem: what it concerns (`id`), what is wrong and what to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable name of the check, for scripts (`no-stonith-resources`, …).
    pub check: &'static str,
    /// The resource, constraint, property or operation concerned.
    pub id: String,
    pub message: String,
    pub hint: String,
}

/// What verification needs besides the CIB.
#[derive(Clone, Debug)]
pub struct Context {
    /// The heartbeat timing the split-brain hold derives from.
    pub liveness: Liveness,
    /// This machine's networks; `None` when they are not this CIB's (a file).
    pub local_networks: Option<Vec<Network>>,
    /// The cluster is in two-node mode (`two_node = true` in `cluster.toml`) without a
    /// witness: only fencing lets a survivor continue.
    pub two_node: bool,
    /// Colocations the Pacemaker XML names between two templates or tags, which the
    /// import dropped (`hactl_cib_xml::ignored_colocations`); empty for JSON and
    /// the live CIB, which never hold one.
    pub ignored_colocations: Vec<String>,
}

/// Every finding, and notes on what was not checked.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub notes: Vec<String>,
}

/// Exit code: no findings.
pub const EXIT_CLEAN: u8 = 0;
/// Exit code: warnings only.
pub const EXIT_WARNINGS: u8 = 1;
/// Exit code: at least one error (or, with `strict`, a warning).
pub const EXIT_ERRORS: u8 = 2;

impl Report {
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, s: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
    }

    /// 0 clean, 1 warnings only, 2 errors; `strict` counts warnings as errors.
    pub fn exit_code(&self, strict: bool) -> u8 {
        match (self.errors(), self.warnings()) {
            (0, 0) => EXIT_CLEAN,
            (0, _) if !strict => EXIT_WARNINGS,
            _ => EXIT_ERRORS,
        }
    }
}

/// Checks `cib`; findings come errors first, each group in configuration order.
pub fn verify(cib: &Cib, ctx: &Context) -> Report {
    let mut r = Report::default();
    checks::model(cib, &mut r);
    checks::fencing(cib, &mut r);
    if ctx.two_node {
        checks::two_node(cib, &mut r);
    }
    checks::split_brain(cib, &ctx.liveness, &mut r);
    checks::monitors(cib, &mut r);
    checks::on_fail(cib, &mut r);
    checks::ignored_colocations(&ctx.ignored_colocations, &mut r);
    status::failed_stops(cib, &mut r);
    status::multiply_active(cib, &mut r);
    match &ctx.local_networks {
        Some(nets) => checks::vips(cib, nets, &mut r),
        None => r.notes.push(
            "VIPs were not checked against local subnets (a file is checked for no \
             particular machine; run `hactl cluster verify` on a node for that)"
                .into(),
        ),
    }
    r.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    r
}

#[cfg(test)]
mod tests;
