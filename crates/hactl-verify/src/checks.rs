//! The checks, one function per concern. Messages that crm_verify also prints use
//! its words, so an operator searching for them finds Pacemaker's documentation.

use std::net::IpAddr;
use std::time::Duration;

use hactl_model::split_brain::{clean_within, hold, Liveness};
use hactl_model::values::{demote_recovers, format_interval_ms};
use hactl_model::{Cib, ModelError, NoQuorumPolicy, OnFail, OpSpec, Primitive};

use crate::{Finding, Network, Report, Severity};

pub(crate) fn push(
    r: &mut Report,
    severity: Severity,
    check: &'static str,
    id: &str,
    message: String,
    hint: &str,
) {
    r.findings.push(Finding {
        severity,
        check,
        id: id.to_string(),
        message,
        hint: hint.to_string(),
    });
}

fn primitives(cib: &Cib) -> impl Iterator<Item = &Primitive> {
    cib.config.resources.iter().flat_map(|r| r.primitives())
}

/// The model's own validation: ids, references, values.
pub(crate) fn model(cib: &Cib, r: &mut Report) {
    let Err(errs) = cib.config.validate() else {
        return;
    };
    for e in errs {
        let id = match &e {
            ModelError::DuplicateId { id, .. } | ModelError::UnknownReference { id, .. } => {
                id.clone()
            }
            ModelError::BadScore { context, .. }
            | ModelError::BadInterval { context, .. }
            | ModelError::Invalid { context, .. } => context.clone(),
            ModelError::BadValue { value, .. } => value.clone(),
        };
        push(
            r,
            Severity::Error,
            "invalid",
            &id,
            e.to_string(),
            "fix the value; `hactl cib validate` lists these structural problems alone",
        );
    }
}

/// crm_verify's fencing checks, and hactl's: fencing off with a no-quorum-policy
/// that keeps a cut-off node's resources running.
pub(crate) fn fencing(cib: &Cib, r: &mut Report) {
    let Ok(o) = cib.config.options() else {
        return; // reported by `model`
    };
    let has_devices = primitives(cib).any(|p| p.agent.class == "stonith");
    if o.stonith_enabled && !has_devices {
        push(
            r,
            Severity::Error,
            "no-stonith-resources",
            "stonith-enabled",
            "Resource start-up disabled since no STONITH resources have been defined".into(),
            "configure a fence device (`hactl stonith create ...`) or set \
             stonith-enabled=false; clusters with shared data need fencing",
        );
    }
    if o.stonith_enabled {
        return;
    }
    match o.no_quorum_policy {
        NoQuorumPolicy::Stop => {}
        NoQuorumPolicy::Suicide => push(
            r,
            Severity::Error,
            "suicide-without-fencing",
            "no-quorum-policy",
            "Resetting no-quorum-policy to 'stop' because fencing is disabled".into(),
            "set no-quorum-policy=stop, or enable fencing",
        ),
        p => push(
            r,
            Severity::Warning,
            "fencing-off-quorum-policy",
            "no-quorum-policy",
            format!(
                "fencing is disabled and no-quorum-policy={p}: a node cut off from the \
                 majority keeps its resources while the majority starts them elsewhere \
                 (split brain)"
            ),
            "set no-quorum-policy=stop (the default), or enable fencing",
        ),
    }
}

/// Two-node mode recovers only by fencing: without a device (or with fencing off) the
/// loss of either node stops everything (docs/architecture.md, "Two-node mode").
pub(crate) fn two_node(cib: &Cib, r: &mut Report) {
    if cib.config.fencing_configured() {
        return;
    }
    push(
        r,
        Severity::Error,
        "two-node-without-fencing",
        "stonith-enabled",
        "two-node mode without a fence device: when either node is lost nothing is \
         recovered (the survivor may continue only after fencing its peer)"
            .into(),
        "configure a fence device (`hactl stonith create ...`) with stonith-enabled=true, \
         add a witness (`hactl cluster witness add IP`), or add a third node",
    );
}

/// Without fencing, with `stonith-watchdog-timeout`: the majority holds a lost node's
/// resources for a hold derived from the watchdog, not from the stops; a stop that
/// needs longer is cut short by the node's watchdog reset.
pub(crate) fn split_brain(cib: &Cib, l: &Liveness, r: &mut Report) {
    let Ok(o) = cib.config.options() else {
        return;
    };
    if o.stonith_enabled || o.stonith_watchdog_timeout_ms == 0 {
        return;
    }
    let w = Duration::from_millis(o.stonith_watchdog_timeout_ms);
    let held = |stop: Duration, watchdog| hold(l, clean_within(stop, watchdog));
    for p in primitives(cib).filter(|p| p.agent.class != "stonith") {
        let stop = Duration::from_millis(cib.config.op_timeout_ms(p.op("stop", 0)));
        let (needed, actual) = (held(stop, None), held(stop, Some(w)));
        if needed > actual {
            push(
                r,
                Severity::Warning,
                "stop-timeout-exceeds-hold",
                &p.id,
                format!(
                    "stop timeout {} exceeds the split-brain hold: the majority starts \
                     this resource {} after losing its node, when that node's watchdog \
                     (stonith-watchdog-timeout {}) has reset it, and a stop that needs \
                     its full timeout is cut short by the reset",
                    ms(stop),
                    ms(actual),
                    ms(w)
                ),
                "shorten the stop timeout, or raise stonith-watchdog-timeout above it",
            );
        }
    }
}

fn ms(d: Duration) -> String {
    format_interval_ms(d.as_millis() as u64)
}

/// A recurring monitor whose timeout (its own or `op_defaults`) is longer than its
/// interval: a slow answer runs into the next check. Pacemaker's 20 s default
/// timeout does not count: only a timeout someone wrote down.
pub(crate) fn monitors(cib: &Cib, r: &mut Report) {
    let default = cib
        .config
        .op_defaults
        .get("timeout")
        .and_then(|t| hactl_model::values::parse_interval_ms(t));
    for p in primitives(cib) {
        for op in p.ops.iter().filter(|o| o.name == "monitor") {
            let Some(timeout) = op.timeout_ms.or(default) else {
                continue;
            };
            if op.interval_ms == 0 || op.enabled == Some(false) || timeout <= op.interval_ms {
                continue;
            }
            let id = if op.id.is_empty() { &p.id } else { &op.id };
            push(
                r,
                Severity::Warning,
                "monitor-interval-below-timeout",
                id,
                format!(
                    "{}: monitor interval {} is below its timeout {}: a slow check runs \
                     into the next one",
                    p.id,
                    format_interval_ms(op.interval_ms),
                    format_interval_ms(timeout)
                ),
                "make the interval at least the timeout, or shorten the timeout",
            );
        }
    }
}

/// Why `on-fail` of `op` is not allowed there, as Pacemaker judges it (it then
/// uses the default, and so does hactl's scheduler).
fn on_fail_refused(op: &OpSpec) -> Option<String> {
    let v = op.on_fail?;
    if op.name == "stop" && !v.allowed_for_stop() {
        return Some(format!("'{v}' is not allowed for stop"));
    }
    if v == OnFail::Demote && !demote_recovers(&op.name, op.interval_ms, op.role) {
        return Some("'demote' is not allowed for it".into());
    }
    None
}

/// An `on-fail` an operation does not allow: a stop cannot recover by stopping
/// (nor by standby or demote), and only a promote or a Promoted monitor can by
/// demoting. Pacemaker calls this a configuration error.
pub(crate) fn on_fail(cib: &Cib, r: &mut Report) {
    for p in primitives(cib) {
        for op in &p.ops {
            let Some(why) = on_fail_refused(op) else {
                continue;
            };
            let id = if op.id.is_empty() { &p.id } else { &op.id };
            push(
                r,
                Severity::Error,
                "on-fail-not-allowed",
                id,
                format!(
                    "Resetting 'on-fail' for {} {} action to default value because {why}",
                    p.id, op.name
                ),
                "remove on-fail from this operation, or choose a value it allows",
            );
        }
    }
}

/// Colocations between two templates or tags: Pacemaker ignores them with a
/// configuration error, and so does hactl's import.
pub(crate) fn ignored_colocations(ids: &[String], r: &mut Report) {
    for id in ids {
        push(
            r,
            Severity::Error,
            "colocation-of-templates",
            id,
            format!("Ignoring constraint '{id}' because two templates or tags cannot be colocated"),
            "colocate the resources themselves, or a template or tag with one resource \
             (or use resource sets)",
        );
    }
}

/// The agents whose `ip` parameter is an address the node brings up.
const VIP_AGENTS: [&str; 2] = ["IPaddr2", "IPaddr"];

/// A VIP that lies in none of this machine's networks: IPaddr2 cannot find an
/// interface for it (unless `nic` names one), and nothing routes it here.
pub(crate) fn vips(cib: &Cib, nets: &[Network], r: &mut Report) {
    let vips = primitives(cib)
        .filter(|p| p.agent.class == "ocf" && VIP_AGENTS.contains(&p.agent.kind.as_str()));
    for p in vips {
        let Some(ip) = p.params.get("ip") else {
            continue;
        };
        match ip.trim().parse::<IpAddr>() {
            Err(_) => push(
                r,
                Severity::Error,
                "vip-not-an-address",
                &p.id,
                format!("ip={ip:?} is not an IP address"),
                "give the address, e.g. ip=192.0.2.10",
            ),
            Ok(a) if !nets.iter().any(|n| n.contains(a)) => push(
                r,
                Severity::Warning,
                "vip-outside-local-subnets",
                &p.id,
                format!(
                    "VIP {a} lies outside every subnet of this node ({})",
                    nets.iter()
                        .map(Network::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "check the address; IPaddr2 needs a local subnet to choose an \
                 interface, unless nic= and cidr_netmask= are given",
            ),
            Ok(_) => {}
        }
    }
}
