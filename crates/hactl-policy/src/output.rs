//! Text renderings: crm_simulate-style status blocks, and score explanations.

use std::fmt::Write;

use hactl_model::{Cib, Resource, Score};

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
                    what: c.what.to_string(),
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
                    let ties = (0..s.nodes.len())
                        .filter(|&m| m != n && s.nodes[m].available() && p.allowed[m] == Some(best))
                        .count();
                    if !p.managed {
                        "unmanaged: stays where it is".to_string()
                    } else if ties == 0 {
                        format!("highest score ({best}) among available nodes")
                    } else if p.active.first() == Some(&n) {
                        format!("ties at {best}; already running there")
                    } else {
                        format!("ties at {best}; fewest resources assigned, then name")
                    }
                }
                None => match &p.next_role_reason {
                    Some(r) if r == "target-role" => "target-role=Stopped".to_string(),
                    Some(r) if r == "orphan" => "no longer configured (orphan)".to_string(),
                    Some(r) => format!("no node can run it ({r})"),
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

fn find<'a>(t: &'a Transition, id: &str) -> Option<&'a Placement> {
    t.placements.iter().find(|p| p.resource == id)
}

fn rsc_line(p: &Placement, view: StatusView) -> String {
    let mut state = String::new();
    let nodes: Vec<String> = match view {
        StatusView::Current => p.current.clone(),
        StatusView::Revised => p.target.iter().cloned().collect(),
    };
    if p.orphan && view == StatusView::Current {
        state.push_str("ORPHANED ");
    }
    let failed = view == StatusView::Current && p.failed && !p.failed_on.is_empty();
    match nodes.len() {
        0 => state.push_str("Stopped"),
        1 => {
            if failed {
                let _ = write!(state, "FAILED {}", nodes[0]);
            } else {
                let _ = write!(state, "Started {}", nodes[0]);
            }
        }
        _ => {
            let _ = write!(state, "Started [ {} ]", nodes.join(" "));
        }
    }
    if p.disabled && nodes.is_empty() {
        state.push_str(" (disabled)");
    }
    if p.maintenance {
        state.push_str(" (maintenance)");
    } else if p.unmanaged {
        state.push_str(" (unmanaged)");
    }
    if p.blocked && view == StatusView::Current {
        state.push_str(" (blocked)");
    }
    format!("{}\t({}):\t {}", p.resource, p.agent, state)
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
    for n in &t.nodes {
        let fenced = view == StatusView::Revised
            && n.unclean
            && t.summary
                .iter()
                .any(|l| l.starts_with("Fence") && l.contains(&format!(" {} '", n.name)));
        if fenced {
            offline.push(n.name.as_str());
            continue;
        }
        if n.unclean {
            let _ = writeln!(
                out,
                "    * Node {}: UNCLEAN ({})",
                n.name,
                if n.online { "online" } else { "offline" }
            );
        } else if !n.online {
            offline.push(n.name.as_str());
        } else if n.pending {
            let _ = writeln!(out, "    * Node {}: pending", n.name);
        } else if n.maintenance {
            let _ = writeln!(out, "    * Node {}: maintenance", n.name);
        } else if n.standby {
            let _ = writeln!(out, "    * Node {}: standby", n.name);
        } else {
            online.push(n.name.as_str());
        }
    }
    if !online.is_empty() {
        let _ = writeln!(out, "    * Online: [ {} ]", online.join(" "));
    }
    if !offline.is_empty() {
        let _ = writeln!(out, "    * OFFLINE: [ {} ]", offline.join(" "));
    }
    out.push_str("\n  * Full List of Resources:\n");
    for r in &cib.config.resources {
        match r {
            Resource::Primitive(p) => {
                if let Some(pl) = find(t, &p.id) {
                    let _ = writeln!(out, "    * {}", rsc_line(pl, view));
                }
            }
            Resource::Group(g) => {
                let _ = writeln!(out, "    * Resource Group: {}:", g.id);
                for c in &g.children {
                    if let Some(pl) = find(t, &c.id) {
                        let _ = writeln!(out, "      * {}", rsc_line(pl, view));
                    }
                }
            }
        }
    }
    for pl in t.placements.iter().filter(|p| p.orphan) {
        if view == StatusView::Current && !pl.current.is_empty() {
            let _ = writeln!(out, "    * {}", rsc_line(pl, view));
        }
    }
    out
}
