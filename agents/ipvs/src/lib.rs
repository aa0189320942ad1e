//! `ipvs`: one IPVS (LVS) virtual service as a resource (`ocf:hactl:ipvs`).
//!
//! One implementation, two forms, like `ocf:hactl:VIP`:
//! - the OCF executable `hactl-ipvs` ([`ocf_main`]), which Pacemaker itself can run;
//! - in-process ([`run`]), which the executor uses for `ocf:hactl:ipvs`.
//!
//! The kernel is reached over the IPVS generic-netlink family ([`hactl_ipvs`]), never
//! by running ipvsadm. Actions:
//! - `start`, `reload`, `reload-agent`: make the kernel's table for this service
//!   match the configuration exactly, in place (idempotent; a partial table left by a
//!   crash is completed, stray real servers removed; the service is never deleted and
//!   re-added, so an update keeps established connections).
//! - `stop`: delete exactly this service (nothing else in the table is touched).
//! - `monitor`: not running (7) without the service; with it, repair any drift and
//!   report running.
//! - `validate-all`: the configuration (rc 6 when wrong), then whether this kernel
//!   has IPVS at all (rc 5 when not).
//!
//! Parameters follow keepalived's meanings: see [`meta_data`] and [`config`].
//! Stop and monitor never fail because of parameters: parameters that do not name a
//! service cannot have created one.

pub mod config;
pub mod realserver;
pub mod sync;

pub use config::{CheckKind, ConfigError, HealthConfig, IpvsConfig, RealServer, SCHEDULERS};
pub use hactl_ipvs::SockAddr;
use hactl_ipvs::{Ipvs, IpvsError, Step};
use std::collections::HashMap;

pub const OCF_SUCCESS: i32 = 0;
pub const OCF_ERR_GENERIC: i32 = 1;
pub const OCF_ERR_ARGS: i32 = 2;
pub const OCF_ERR_UNIMPLEMENTED: i32 = 3;
pub const OCF_ERR_PERM: i32 = 4;
pub const OCF_ERR_INSTALLED: i32 = 5;
pub const OCF_ERR_CONFIGURED: i32 = 6;
pub const OCF_NOT_RUNNING: i32 = 7;

const ENOENT: i32 = 2;
const EPERM: i32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("scheduler '{0}' is not available in this kernel (module ip_vs_{0})")]
    NoScheduler(String),
    #[error(transparent)]
    Ipvs(#[from] IpvsError),
}

impl AgentError {
    /// The OCF exit code for this error.
    pub fn rc(&self) -> i32 {
        match self {
            AgentError::Config(_) => OCF_ERR_CONFIGURED,
            AgentError::NoScheduler(_) | AgentError::Ipvs(IpvsError::NotAvailable) => {
                OCF_ERR_INSTALLED
            }
            AgentError::Ipvs(e) if e.errno() == Some(EPERM) => OCF_ERR_PERM,
            AgentError::Ipvs(_) => OCF_ERR_GENERIC,
        }
    }
}

/// What an action did.
#[derive(Debug)]
pub struct Outcome {
    pub rc: i32,
    pub exit_reason: Option<String>,
    /// The changes made to the kernel's table (start/reload: the reconciliation,
    /// monitor: a drift repair), for the log.
    pub steps: Vec<Step>,
    /// Things that went wrong without failing the action, for the log.
    pub notes: Vec<String>,
}

impl Outcome {
    pub(crate) fn error(rc: i32, reason: String) -> Self {
        Outcome {
            rc,
            exit_reason: Some(reason),
            steps: Vec::new(),
            notes: Vec::new(),
        }
    }
    pub(crate) fn unimplemented(action: &str) -> Self {
        Outcome::error(
            OCF_ERR_UNIMPLEMENTED,
            format!("action '{action}' is not implemented"),
        )
    }
    pub(crate) fn rc(rc: i32) -> Self {
        Outcome {
            rc,
            exit_reason: None,
            steps: Vec::new(),
            notes: Vec::new(),
        }
    }
    fn from(r: Result<Vec<Step>, AgentError>) -> Self {
        match r {
            Ok(steps) => Outcome {
                steps,
                ..Outcome::rc(OCF_SUCCESS)
            },
            Err(e) => Outcome::error(e.rc(), e.to_string()),
        }
    }
}

/// Makes the kernel's table match `cfg` with the servers `down` says are failing
/// taken out (or to weight 0).
pub fn apply(
    cfg: &IpvsConfig,
    down: impl Fn(&RealServer) -> bool,
) -> Result<Vec<Step>, AgentError> {
    let mut ipvs = Ipvs::open()?;
    hactl_ipvs::reconcile(&mut ipvs, &cfg.table(down)).map_err(|e| match e.errno() {
        // NEW_SERVICE answers ENOENT when the scheduler's module is missing.
        Some(ENOENT) => AgentError::NoScheduler(cfg.service.scheduler.clone()),
        _ => AgentError::Ipvs(e),
    })
}

/// `validate-all`: the configuration, then the kernel.
pub fn validate(params: &HashMap<String, String>) -> Result<IpvsConfig, AgentError> {
    let cfg = IpvsConfig::parse(params)?;
    sync::parse(params)?;
    Ipvs::open()?;
    Ok(cfg)
}

fn stop(params: &HashMap<String, String>) -> Result<Vec<Step>, AgentError> {
    let Some(key) = config::lookup_key(params) else {
        return Ok(Vec::new());
    };
    let mut ipvs = match Ipvs::open() {
        // No IPVS in this kernel: no service can exist.
        Err(IpvsError::NotAvailable) => return Ok(Vec::new()),
        r => r?,
    };
    match ipvs.del_service(&key) {
        Ok(()) => Ok(Vec::new()),
        // Already gone (ESRCH from the kernel).
        Err(e) if e.errno() == Some(3) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// Runs one action with every real server taken as healthy (the executable form has
/// no health checks; the daemon passes its own view through [`run_with_health`]).
pub fn run(action: &str, params: &HashMap<String, String>) -> Outcome {
    run_with_health(action, params, |_| false)
}

pub fn run_with_health(
    action: &str,
    params: &HashMap<String, String>,
    down: impl Fn(&RealServer) -> bool,
) -> Outcome {
    match action {
        "validate-all" => Outcome::from(validate(params).map(|_| Vec::new())),
        "start" | "reload" | "reload-agent" => Outcome::from(start(params, down)),
        "stop" => {
            let mut out = Outcome::from(stop(params));
            // The service is gone, which is all a stop promises: a sync daemon that
            // cannot be switched must not fail it (a failed stop gets a node fenced).
            match with_sync(params, sync::become_backup) {
                Ok(()) | Err(AgentError::Ipvs(IpvsError::NotAvailable)) => {}
                Err(e) => out
                    .notes
                    .push(format!("connection sync not switched to backup: {e}")),
            }
            out
        }
        "monitor" | "status" => monitor(params, down),
        _ => Outcome::unimplemented(action),
    }
}

fn start(
    params: &HashMap<String, String>,
    down: impl Fn(&RealServer) -> bool,
) -> Result<Vec<Step>, AgentError> {
    let cfg = IpvsConfig::parse(params)?;
    sync::parse(params)?;
    let steps = apply(&cfg, down)?;
    with_sync(params, sync::become_master)?;
    Ok(steps)
}

/// Runs `f` when connection sync is configured (parameters that do not parse: none).
fn with_sync(
    params: &HashMap<String, String>,
    f: fn(&sync::SyncConfig) -> Result<(), IpvsError>,
) -> Result<(), AgentError> {
    match sync::parse(params) {
        Ok(Some(c)) => f(&c).map_err(AgentError::from),
        _ => Ok(()),
    }
}

fn monitor(params: &HashMap<String, String>, down: impl Fn(&RealServer) -> bool) -> Outcome {
    let out = monitor_table(params, down);
    // Not running here: a backup for whoever holds it. Running: the master.
    let role = match out.rc {
        OCF_NOT_RUNNING => sync::become_backup,
        OCF_SUCCESS => sync::become_master,
        _ => return out,
    };
    match with_sync(params, role) {
        // A kernel without IPVS cannot sync; "not running" stays the answer.
        Err(AgentError::Ipvs(IpvsError::NotAvailable)) => out,
        Err(e) => Outcome::from(Err(e)),
        Ok(()) => out,
    }
}

fn monitor_table(params: &HashMap<String, String>, down: impl Fn(&RealServer) -> bool) -> Outcome {
    let Some(key) = config::lookup_key(params) else {
        return Outcome::rc(OCF_NOT_RUNNING);
    };
    let present = Ipvs::open().and_then(|mut i| i.service(&key));
    match present {
        Err(IpvsError::NotAvailable) | Ok(None) => Outcome::rc(OCF_NOT_RUNNING),
        Err(e) => Outcome::from(Err(e.into())),
        // Running; a configuration that no longer parses is not repaired from.
        Ok(Some(_)) => match IpvsConfig::parse(params) {
            Err(_) => Outcome::rc(OCF_SUCCESS),
            Ok(cfg) => Outcome::from(apply(&cfg, down)),
        },
    }
}

/// The OCF executable's entry point for `ipvs` (parameters from `OCF_RESKEY_*`).
pub fn ocf_main(args: &[String]) -> i32 {
    ocf_entry(args, "ipvs", meta_data(), run)
}

/// The OCF executable's entry point for `lvs-realserver`; its state goes to
/// `HA_RSCTMP` (default `/run/resource-agents`), keyed by `OCF_RESOURCE_INSTANCE`.
pub fn realserver_ocf_main(args: &[String]) -> i32 {
    let dir = std::env::var_os("HA_RSCTMP")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/run/resource-agents".into());
    let instance = std::env::var("OCF_RESOURCE_INSTANCE").unwrap_or_else(|_| "default".into());
    ocf_entry(
        args,
        "lvs-realserver",
        realserver::meta_data(),
        |action, params| realserver::run(action, &instance, params, &dir),
    )
}

fn ocf_entry(
    args: &[String],
    name: &str,
    meta: &str,
    run: impl Fn(&str, &HashMap<String, String>) -> Outcome,
) -> i32 {
    let Some(action) = args.get(1).map(String::as_str) else {
        eprintln!("usage: {name} {{start|stop|monitor|validate-all|meta-data}}");
        return OCF_ERR_ARGS;
    };
    if action == "meta-data" {
        print!("{meta}");
        return OCF_SUCCESS;
    }
    let params: HashMap<String, String> = std::env::vars()
        .filter_map(|(k, v)| {
            k.strip_prefix("OCF_RESKEY_")
                .filter(|k| !k.starts_with("CRM_meta_"))
                .map(|k| (k.to_string(), v))
        })
        .collect();
    let out = run(action, &params);
    for s in &out.steps {
        eprintln!("{name}: {action}: {s}");
    }
    for n in &out.notes {
        eprintln!("{name}: {action}: warning: {n}");
    }
    if let Some(r) = &out.exit_reason {
        eprintln!("ocf-exit-reason:{r}");
    }
    out.rc
}

pub fn meta_data() -> &'static str {
    include_str!("meta-data.xml")
}
