//! Text renderings: crm_simulate-style status blocks, and score explanations.

use std::fmt::Write;

use hactl_model::{Cib, Resource, Score};

use crate::remote::RemoteView;
use crate::sched::{NodeSel, Sched};
use crate::{Contribution, Placement, ResourceScores, StatusView, Transition};

pub(crate) fn scores(s: &Sched<'_>) -> Vec<ResourceScores> {
    s.prims
        .iter()
        .map(|p| {
            let contributions = p
                .explain
                .iter()
                .map(|c| Contribution {
                    what: c.what.clone(),
                    score: c.score,
                    nodes: match &c.nodes {
                        NodeSel::All => None,
                        NodeSel::One(n) => Some(vec![*n]),
                        NodeSel::Many(v) => Some(v.clone()),
                    },
                })
                .collect();
            let chosen = p.assigned.map(|n| s.nodes[n].name.to_string());
            let why = match p.assigned {
                Some(n) => {
                    let best = p.allowed[n].unwrap_or(Score::ZERO);
                    let usable = |m: usize| s.nodes[m].available() && p.allowed[m].is_some();
                    let ties = (0..s.nodes.len())
                        .filter(|&m| m != n && usable(m) && p.allowed[m] == Some(best))
                        .count();
                    // The best of the other nodes that could have run it.
                    let runner_up = (0..s.nodes.len())
                        .filter(|&m| m != n && usable(m))
                        .filter_map(|m| p.allowed[m].map(|sc| (sc, m)))
                        .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
                    let next = match runner_up {
                        Some((sc, m)) if sc >= Score::ZERO => {
                            format!("; next best {} with {sc}", s.nodes[m].name)
                        }
                        _ => "; no other node can run it".to_string(),
                    };
                    if !p.managed {
                        "unmanaged: stays where it is".to_string()
                    } else if ties == 0 {
                        format!("highest score ({best}) among available nodes{next}")
                    } else if p.active.first() == Some(&n) {
                        format!("ties at {best}; already running there")
                    } else {
                        format!("ties at {best}; fewest resources assigned, then name order")
                    }
                }
                None => match &p.next_role_reason {
                    Some(r) if r == "target-role" => "target-role=Stopped".to_string(),
                    Some(r) if r == "orphan" => "no longer configured (orphan)".to_string(),
                    Some(r) if r == "node availability" => {
                        "no available node has a score of 0 or more".to_string()
                    }
                    Some(r) => format!("stopped ({r})"),
                    None => "no node can run it".to_string(),
                },
            };
            ResourceScores {
                resource: p.id.clone(),
                scores: p.allowed.clone(),
                contributions,
                chosen,
                why,
            }
        })
        .collect()
}

pub(crate) fn explain(t: &Transition) -> String {
    let mut out = String::new();
    for rs in &t.scores {
        let _ = writeln!(
            out,
            "{}: {} ({})",
            rs.resource,
            rs.chosen.as_deref().unwrap_or("stopped"),
            rs.why
        );
        for (n, node) in t.nodes.iter().enumerate() {
            let score = match rs.scores.get(n).copied().flatten() {
                Some(s) => s.to_string(),
                None => "not allowed".to_string(),
            };
            let unavailable = !node.online
                || node.unclean
                || node.standby
                || node.maintenance
                || node.pending
                || node.shutdown;
            let avail = if unavailable {
                " (node unavailable)"
            } else {
                ""
            };
            let _ = writeln!(out, "  {:<16} {:>10}{}", node.name, score, avail);
            for c in &rs.contributions {
                let applies = c.nodes.as_ref().is_none_or(|v| v.contains(&n));
                if applies {
                    let _ = writeln!(out, "      {:>10}  {}", c.score.to_string(), c.what);
                }
            }
        }
    }
    out
}

/// Orders node names the way crm_mon does: digit runs compare as numbers.
pub(crate) fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let lx = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let ly = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let (nx, ny) = (&x[..lx], &y[..ly]);
                let strip = |v: &[u8]| -> usize { v.iter().take_while(|&&c| c == b'0').count() };
                let (tx, ty) = (&nx[strip(nx)..], &ny[strip(ny)..]);
                let o = tx.len().cmp(&ty.len()).then(tx.cmp(ty));
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
                x = &x[lx..];
                y = &y[ly..];
            }
            (Some(c), Some(d)) => {
                let o = c.to_ascii_lowercase().cmp(&d.to_ascii_lowercase());
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

/// One resource as the status lists show it: `vip\t(ocf:heartbeat:IPaddr2):\t Started n1`.
pub fn rsc_line(p: &Placement, t: &Transition, view: StatusView) -> String {
    rsc_line_named(&p.resource, p, t, view)
}

impl Placement {
    /// The nodes it is active on in `view`.
    pub(crate) fn nodes_in(&self, view: StatusView) -> &[String] {
        match view {
            StatusView::Current => &self.current,
            StatusView::Revised => &self.after,
        }
    }

    /// Whether it is marked failed in `view`.
    pub(crate) fn failed_in(&self, view: StatusView) -> bool {
        match view {
            StatusView::Current => self.failed,
            StatusView::Revised => self.failed_after,
        }
    }

    /// Whether it is promoted in `view`.
    pub(crate) fn promoted_in(&self, view: StatusView) -> bool {
        match view {
            StatusView::Current => self.promoted,
            StatusView::Revised => self.promoted_after,
        }
    }
}

/// crm_mon's flags after a name, ` (a, b)`; nothing when there are none.
pub(crate) fn flag_suffix(flags: &[&str]) -> String {
    if flags.is_empty() {
        String::new()
    } else {
        format!(" ({})", flags.join(", "))
    }
}

/// [`rsc_line`] under another name (an anonymous clone's instance shows as its
/// primitive: `CloneSet::shown_instance`).
pub fn rsc_line_named(name: &str, p: &Placement, t: &Transition, view: StatusView) -> String {
    let mut state = String::new();
    let (nodes, failed) = match view {
        StatusView::Current => (&p.current, p.failed && !p.failed_on.is_empty()),
        StatusView::Revised => (&p.after, p.failed_after),
    };
    // crm_mon shows a resource active on several nodes as FAILED when it is marked
    // failed at all (its last failure may be on none of them).
    let failed_any = p.failed_in(view);
    if p.orphan && view == StatusView::Current {
        state.push_str("ORPHANED ");
    }
    // An operation in flight replaces the role (`Starting`); crm_mon shows it
    // for the current state only.
    let pending = p
        .pending_task
        .as_deref()
        .filter(|_| view == StatusView::Current);
    let pending_state = pending.and_then(crate::status_marks::pending_state);
    match nodes.len() {
        0 => state.push_str(pending_state.unwrap_or("Stopped")),
        1 => {
            let promoted = p.promoted_in(view);
            let word = match (failed, p.promotable, promoted) {
                (true, true, true) => "FAILED Promoted",
                (true, _, _) => "FAILED",
                (false, true, true) => "Promoted",
                (false, true, false) => "Unpromoted",
                (false, false, _) => "Started",
            };
            let word = match pending_state {
                Some(w) if !failed => w,
                _ => word,
            };
            let _ = write!(state, "{word} {}", nodes[0]);
        }
        // Multiply active: the node list follows the flags (below).
        _ => state.push_str(match (failed_any, pending_state) {
            (true, _) => "FAILED",
            (false, Some(w)) => w,
            (false, None) => "Started",
        }),
    }
    let mut flags: Vec<&str> = Vec::new();
    let unclean = nodes.iter().any(|n| {
        t.nodes
            .iter()
            .any(|s| &s.name == n && s.unclean && !s.online)
            && !(view == StatusView::Revised && fenced_node(t, n))
    });
    if unclean {
        flags.push("UNCLEAN");
    }
    // A recurring monitor in flight is a flag; other pending tasks are the state.
    if pending == Some("monitor") {
        flags.push("Monitoring");
    }
    if p.disabled {
        flags.push("disabled");
    }
    if p.maintenance {
        flags.push("maintenance");
    } else if p.blocked && failed {
        flags.push("blocked");
    } else if p.unmanaged {
        flags.push("unmanaged");
    }
    if p.failure_ignored {
        flags.push("failure ignored");
    }
    if !flags.is_empty() {
        let _ = write!(state, " ({})", flags.join(", "));
    }
    if nodes.len() > 1 {
        let _ = write!(state, " [ {} ]", nodes.join(" "));
    }
    format!("{name}\t({}):\t {}", p.agent, state)
}

pub(crate) fn fenced_node(t: &Transition, node: &str) -> bool {
    t.actions.iter().any(|a| {
        matches!(a.kind, crate::ActionKind::Fence { .. })
            && a.runnable
            && a.node.as_deref() == Some(node)
    })
}

/// crm_simulate's "Current cluster status:" / "Revised Cluster Status:" block.
pub fn format_status(cib: &Cib, t: &Transition, view: StatusView) -> String {
    let mut out = String::new();
    out.push_str(match view {
        StatusView::Current => "Current cluster status:\n",
        StatusView::Revised => "Revised Cluster Status:\n",
    });
    out.push_str("  * Node List:\n");
    let mut online = Vec::new();
    let mut offline = Vec::new();
    let mut special: Vec<(&str, String)> = Vec::new();
    let mut remote: [Vec<&str>; 2] = [Vec::new(), Vec::new()];
    let mut guests: Vec<&str> = Vec::new();
    for n in &t.nodes {
        if let Some(up) = crate::guest::guest_view(cib, t, &n.name, view) {
            if up {
                guests.push(n.name.as_str());
            }
            continue;
        }
        if let Some(v) = crate::remote::remote_view(cib, t, n, view) {
            match v {
                RemoteView::Online => remote[0].push(n.name.as_str()),
                RemoteView::Offline => remote[1].push(n.name.as_str()),
                RemoteView::Unclean => {
                    special.push((n.name.as_str(), "RemoteNode: UNCLEAN (offline)".into()))
                }
            }
            continue;
        }
        let active_here = t
            .placements
            .iter()
            .any(|p| p.nodes_in(view).contains(&n.name));
        let gone = view == StatusView::Revised && n.unclean && fenced_node(t, &n.name);
        if gone {
            offline.push(n.name.as_str());
        } else if n.unclean {
            let how = if n.online { "online" } else { "offline" };
            special.push((n.name.as_str(), format!("UNCLEAN ({how})")));
        } else if n.pending {
            special.push((n.name.as_str(), "pending".into()));
        } else if !n.online {
            offline.push(n.name.as_str());
        } else if n.maintenance {
            special.push((n.name.as_str(), "maintenance".into()));
        } else if n.standby {
            let what = if active_here {
                "standby (with active resources)"
            } else {
                "standby"
            };
            special.push((n.name.as_str(), what.into()));
        } else {
            online.push(n.name.as_str());
        }
    }
    special.sort_by(|a, b| natural_cmp(a.0, b.0));
    for (name, what) in special {
        let _ = match what.strip_prefix("RemoteNode: ") {
            Some(w) => writeln!(out, "    * RemoteNode {name}: {w}"),
            None => writeln!(out, "    * Node {name}: {what}"),
        };
    }
    for (list, label) in [(online, "Online"), (offline, "OFFLINE")]
        .into_iter()
        .chain(remote.into_iter().zip(["RemoteOnline", "RemoteOFFLINE"]))
        .chain([(guests, "GuestOnline")])
    {
        let mut list = list;
        list.sort_by(|a, b| natural_cmp(a, b));
        if !list.is_empty() {
            let _ = writeln!(out, "    * {label}: [ {} ]", list.join(" "));
        }
    }
    out.push_str("\n  * Full List of Resources:\n");
    out.push_str(&format_resource_blocks(cib, t, view, &|_| true));
    // An orphaned instance of a configured clone is listed in its set's block.
    let in_a_set = |p: &Placement| {
        p.clone.as_deref().is_some_and(|id| {
            cib.config
                .resources
                .iter()
                .any(|r| matches!(r, Resource::Clone(c) if c.id == id))
        })
    };
    for pl in t.placements.iter().filter(|p| p.orphan && !in_a_set(p)) {
        if view == StatusView::Current && !pl.current.is_empty() {
            let _ = writeln!(out, "    * {}", rsc_line(pl, t, view));
        }
    }
    out
}

/// The blocks of the configured resources `keep` selects, in configuration order, as
/// the resource list shows them (a group or clone set with its members); what
/// `crm_mon -n -r` lists as "Inactive Resources" is the blocks with an inactive
/// instance.
pub fn format_resource_blocks(
    cib: &Cib,
    t: &Transition,
    view: StatusView,
    keep: &dyn Fn(&Resource) -> bool,
) -> String {
    let mut out = String::new();
    // One lookup table: searching the placements once per resource was quadratic
    // (220 ms of a 3 x 10,000 simulate, more than scheduling it).
    let by_id: std::collections::HashMap<&str, &Placement> = t
        .placements
        .iter()
        .map(|p| (p.resource.as_str(), p))
        .collect();
    let find = |id: &str| by_id.get(id).copied();
    for block in listing_order(cib) {
        let r = match block {
            Block::Bundle(b) => {
                crate::bundle_status::bundle_block(&mut out, b, &find, t, view);
                continue;
            }
            Block::Resource(r) => r,
        };
        if !keep(r) {
            continue;
        }
        match r {
            Resource::Primitive(p) => {
                if let Some(pl) = find(&p.id) {
                    let _ = writeln!(out, "    * {}", rsc_line(pl, t, view));
                }
            }
            Resource::Group(g) => {
                let mut flags = Vec::new();
                if g.meta
                    .get("target-role")
                    .is_some_and(|r| r.eq_ignore_ascii_case("stopped"))
                {
                    flags.push("disabled");
                }
                if g.meta
                    .get("maintenance")
                    .is_some_and(|v| hactl_model::values::parse_bool(v) == Some(true))
                {
                    flags.push("maintenance");
                }
                let flags = flag_suffix(&flags);
                let _ = writeln!(out, "    * Resource Group: {}{}:", g.id, flags);
                for c in &g.children {
                    if let Some(pl) = find(&c.id) {
                        let _ = writeln!(out, "      * {}", rsc_line(pl, t, view));
                    }
                }
            }
            Resource::Clone(c) => crate::clone_status::clone_block(&mut out, cib, c, t, view),
        }
    }
    out
}

/// A top-level entry of the resource list.
enum Block<'c> {
    Resource(&'c Resource),
    Bundle(&'c hactl_model::bundle::Bundle),
}

/// The configured resources and bundles as crm_mon lists them: highest
/// `priority` first, configuration order among equals (Pacemaker sorts its
/// resource list by priority once it has read the configuration).
fn listing_order(cib: &Cib) -> Vec<Block<'_>> {
    // A bundle sits before the resource that followed it in the CIB.
    let mut blocks: Vec<(i64, (usize, u8), Block<'_>)> = cib
        .config
        .resources
        .iter()
        .enumerate()
        .map(|(at, r)| (listing_priority(r.meta()), (at, 1), Block::Resource(r)))
        .chain(
            cib.config
                .bundles
                .iter()
                .map(|b| (listing_priority(&b.meta), (b.position, 0), Block::Bundle(b))),
        )
        .collect();
    blocks.sort_by_key(|(prio, at, _)| (std::cmp::Reverse(*prio), *at));
    blocks.into_iter().map(|(_, _, b)| b).collect()
}

/// A `priority` meta attribute as Pacemaker reads it for ordering: a score, or
/// the leading integer of a value such as `2.0`; 0 when unset or unreadable.
fn listing_priority(meta: &hactl_model::Attrs) -> i64 {
    let Some(v) = meta.get("priority").map(|v| v.trim()) else {
        return 0;
    };
    if let Ok(s) = v.parse::<Score>() {
        return s.value();
    }
    let sign = usize::from(v.starts_with(['-', '+']));
    let digits = v[sign..].bytes().take_while(u8::is_ascii_digit).count();
    v[..sign + digits].parse::<i64>().unwrap_or(0)
}
