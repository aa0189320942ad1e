//! How long fencing of a node waits before it starts, on the node that fences.
//!
//! Two nodes that lose each other may both try to fence the other. Pacemaker's
//! answers, both here:
//!
//! - `pcmk_delay_base` / `pcmk_delay_max` on a device (`hactl_fence::device`): a fixed
//!   or random wait before an off or reboot through that device;
//! - the cluster property `priority-fencing-delay`: fencing of a *lost* node that
//!   holds the highest-priority resources waits this long, when the fencing side has
//!   no majority (the other side may be the one to survive). The node running the
//!   important resources then fences its peer first and keeps them.
//!
//! This module computes the second from the transition that asks for the fencing
//! (where each resource is active, which nodes are online), as Pacemaker's scheduler
//! does.

use std::collections::BTreeMap;
use std::time::Duration;

use hactl_model::Cib;
use hactl_policy::Transition;

/// A resource's `priority` meta attribute: its own, else its group's, else the
/// resource defaults'; 0 when unset or not a number.
fn priority_of(cib: &Cib, rsc: &str, group: Option<&str>) -> i64 {
    let cfg = &cib.config;
    let own = cfg.find_primitive(rsc).and_then(|p| p.meta.get("priority"));
    let grp = group
        .and_then(|g| cfg.find_resource(g))
        .and_then(|g| g.meta().get("priority"));
    own.or(grp)
        .or_else(|| cfg.rsc_defaults.get("priority"))
        .and_then(|v| v.trim().split('.').next()?.parse::<i64>().ok())
        .unwrap_or(0)
}

/// Each node's priority: the sum of the priorities of the resources active on it.
pub fn node_priorities(t: &Transition, cib: &Cib) -> BTreeMap<String, i64> {
    let mut prio: BTreeMap<String, i64> = t.nodes.iter().map(|n| (n.name.clone(), 0)).collect();
    for p in &t.placements {
        let value = priority_of(cib, &p.resource, p.group.as_deref());
        for n in &p.current {
            *prio.entry(n.clone()).or_default() += value;
        }
    }
    prio
}

/// The `priority-fencing-delay` for fencing `target` as transition `t` (computed from
/// `cib`) asks: the property's value when the target is lost (not online), this
/// side sees at most half of the nodes online, and the target's priority is the
/// highest and not everyone's; otherwise none.
pub fn priority_fencing_delay(t: &Transition, cib: &Cib, target: &str) -> Duration {
    if t.nodes.iter().any(|n| n.name == target && n.online) {
        return Duration::ZERO;
    }
    let online = t.nodes.iter().filter(|n| n.online).count();
    if online > t.nodes.len() / 2 {
        return Duration::ZERO;
    }
    delay_if_highest(t, cib, target)
}

/// `priority-fencing-delay` when `target` runs (per `t`) the highest-priority
/// resources and not every node the same; otherwise none. Also the delay before a
/// two-node member asks its witness.
pub fn delay_if_highest(t: &Transition, cib: &Cib, target: &str) -> Duration {
    let delay = cib
        .config
        .options()
        .map(|o| o.priority_fencing_delay_ms)
        .unwrap_or(0);
    if delay == 0 {
        return Duration::ZERO;
    }
    let prio = node_priorities(t, cib);
    let top = prio.values().copied().max().unwrap_or(0);
    let lowest = prio.values().copied().min().unwrap_or(0);
    let mine = prio.get(target).copied().unwrap_or(0);
    if top == lowest || mine < top {
        return Duration::ZERO;
    }
    Duration::from_millis(delay)
}
