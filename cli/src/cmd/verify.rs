//! `hactl cluster verify` (crm_verify -L / -x): checks the live CIB or a file
//! (Pacemaker XML or hactl JSON) with `hactl-verify`, prints each finding with the id
//! it concerns and a hint, and exits 0 (clean), 1 (warnings only) or 2 (errors, or
//! warnings with `--strict`; also when the CIB cannot be read). docs/user-guide.md,
//! "Exit codes"; tested in cli/tests/verify_cli.rs.

use anyhow::{Context, Result};
use hactl_daemon::profile::Profile;
use hactl_model::Cib;
use hactl_verify::{Context as VerifyContext, Network, Report, Severity, EXIT_ERRORS};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::verbs::{OutputFormat, Session};

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// Check this CIB file (Pacemaker XML or hactl JSON) instead of the live CIB
    /// (crm_verify -x).
    #[arg(long, value_name = "FILE")]
    cib: Option<PathBuf>,
    /// The file is meant for this machine: also check its VIPs against this
    /// machine's subnets (always done for the live CIB).
    #[arg(long, requires = "cib")]
    local: bool,
    /// Treat warnings as errors (exit 2).
    #[arg(long)]
    strict: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

pub fn run(socket: &Path, config_dir: &Path, a: VerifyArgs) -> Result<ExitCode> {
    // An unreadable CIB is an error finding's exit code, not a warning's (1).
    let cib = match read(socket, a.cib.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(EXIT_ERRORS));
        }
    };
    let local = a.cib.is_none() || a.local;
    let ctx = VerifyContext {
        liveness: liveness(&cib),
        local_networks: local.then(local_networks),
        two_node: local && two_node(config_dir),
        ignored_colocations: a
            .cib
            .as_deref()
            .map(ignored_colocations)
            .unwrap_or_default(),
    };
    let report = hactl_verify::verify(&cib, &ctx);
    match a.output {
        OutputFormat::Json => print_json(&report, a.strict)?,
        OutputFormat::Text => print_text(&report, a.strict),
    }
    Ok(ExitCode::from(report.exit_code(a.strict)))
}

/// Whether this machine's `cluster.toml` puts the cluster in two-node mode without a
/// witness, where only fencing can let a survivor continue (a missing or unreadable
/// file: not known to, so not checked). With a witness the witness decides, and the
/// refused node stops under `no-quorum-policy` as a minority does
/// (docs/architecture.md, "Witness").
fn two_node(config_dir: &Path) -> bool {
    let path = config_dir.join(hactl_net::config::CLUSTER_CONFIG_FILE);
    hactl_net::ClusterConfig::load(&path).ok().is_some_and(|c| {
        hactl_settings::two_node::configured(&c.settings).unwrap_or(false)
            && !hactl_settings::witness::address(&c.settings).is_ok_and(|w| w.is_some())
    })
}

/// The template and tag colocations a Pacemaker XML file names (the import dropped
/// them; see `hactl_cib_xml::ignored_colocations`). A JSON file has none; a file
/// that cannot be read was reported by `read` already.
fn ignored_colocations(file: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return Vec::new();
    };
    if !text.trim_start().starts_with('<') {
        return Vec::new();
    }
    hactl_cib_xml::ignored_colocations(&text).unwrap_or_default()
}

fn read(socket: &Path, file: Option<&Path>) -> Result<Cib> {
    let mut s = Session::open(Some(socket), file)?;
    s.cib().context("cannot read the CIB")
}

/// The heartbeat timing the CIB asks for (its `heartbeat-profile`; the default
/// profile when it names none or one hactl does not know — `model` reports that).
fn liveness(cib: &Cib) -> hactl_model::split_brain::Liveness {
    cib.config
        .options()
        .ok()
        .and_then(|o| Profile::by_name(&o.heartbeat_profile))
        .unwrap_or(Profile::DEFAULT)
        .liveness()
}

/// This machine's networks, from its interfaces' addresses and netmasks.
fn local_networks() -> Vec<Network> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let ip = |sa: &nix::sys::socket::SockaddrStorage| -> Option<IpAddr> {
        sa.as_sockaddr_in()
            .map(|a| IpAddr::V4(a.ip()))
            .or_else(|| sa.as_sockaddr_in6().map(|a| IpAddr::V6(a.ip())))
    };
    let prefix = |m: IpAddr| match m {
        IpAddr::V4(m) => u32::from(m).count_ones() as u8,
        IpAddr::V6(m) => u128::from(m).count_ones() as u8,
    };
    addrs
        .filter_map(|ifa| {
            let addr = ip(ifa.address.as_ref()?)?;
            let mask = ifa.netmask.as_ref().and_then(ip)?;
            Some(Network {
                addr,
                prefix: prefix(mask),
            })
        })
        .collect()
}

#[derive(serde::Serialize)]
struct JsonReport<'a> {
    valid: bool,
    exit_code: u8,
    errors: usize,
    warnings: usize,
    #[serde(flatten)]
    report: &'a Report,
}

fn print_json(r: &Report, strict: bool) -> Result<()> {
    let j = JsonReport {
        valid: r.errors() == 0,
        exit_code: r.exit_code(strict),
        errors: r.errors(),
        warnings: r.warnings(),
        report: r,
    };
    outln!("{}", serde_json::to_string_pretty(&j)?);
    Ok(())
}

fn print_text(r: &Report, strict: bool) {
    for f in &r.findings {
        let sev = match (f.severity, strict) {
            (Severity::Error, _) | (Severity::Warning, true) => "error",
            (Severity::Warning, false) => "warning",
        };
        outln!("{sev}: {}: {} [{}]", f.id, f.message, f.check);
        outln!("  hint: {}", f.hint);
    }
    for n in &r.notes {
        outln!("note: {n}");
    }
    match (r.errors(), r.warnings()) {
        (0, 0) => outln!("configuration valid: no errors or warnings"),
        (e, w) => outln!("{e} error(s), {w} warning(s)"),
    }
}
