//! `rsc_ticket` constraints and the status section's `<tickets>`.

use std::collections::BTreeMap;

use hactl_model::{Configuration, TicketConstraint, TicketState};

use crate::dom::Element;
use crate::export::attr;
use crate::import::{bool_attr, invalid, parsed, required, unsupported};
use crate::ImportError;

/// `rsc_ticket` with `rsc`, or with resource sets (one constraint per member, the
/// set's `role` in place of `rsc-role`, as Pacemaker unpacks them).
pub(crate) fn import_constraint(
    k: &Element,
    config: &mut Configuration,
) -> Result<(), ImportError> {
    let id = required(k, "id")?;
    let ticket = required(k, "ticket")?;
    if k.attr("rsc-instance").is_some() {
        return Err(unsupported(k, "rsc-instance is not supported"));
    }
    let loss_policy = parsed(k, "loss-policy")?;
    let out = &mut config.constraints.tickets;
    if k.children.is_empty() {
        out.push(TicketConstraint {
            id: id.to_string(),
            rsc: required(k, "rsc")?.to_string(),
            ticket: ticket.to_string(),
            rsc_role: parsed(k, "rsc-role")?,
            loss_policy,
        });
        return Ok(());
    }
    if k.attr("rsc").is_some() {
        return Err(invalid(
            k,
            "rsc",
            k.attr("rsc").unwrap_or_default(),
            "either rsc or resource sets, not both",
        ));
    }
    for set in &k.children {
        if set.name != "resource_set" || set.attr("id-ref").is_some() {
            return Err(unsupported(
                set,
                "only resource sets (without id-ref) inside <rsc_ticket>",
            ));
        }
        let set_id = required(set, "id")?;
        let role = parsed(set, "role")?;
        for (n, r) in set.children.iter().enumerate() {
            if r.name != "resource_ref" {
                return Err(unsupported(r, "unexpected element inside <resource_set>"));
            }
            out.push(TicketConstraint {
                id: format!("{set_id}.{}", n + 1),
                rsc: required(r, "id")?.to_string(),
                ticket: ticket.to_string(),
                rsc_role: role,
                loss_policy,
            });
        }
    }
    Ok(())
}

/// `<tickets><ticket_state id=… granted=… standby=… last-granted=…/></tickets>`.
pub(crate) fn import_states(
    el: &Element,
    out: &mut BTreeMap<String, TicketState>,
) -> Result<(), ImportError> {
    for t in &el.children {
        if t.name != "ticket_state" {
            return Err(unsupported(t, "unexpected element inside <tickets>"));
        }
        let last_granted =
            match t.attr("last-granted") {
                None => None,
                Some(v) => Some(v.trim().parse::<i64>().map_err(|_| {
                    invalid(t, "last-granted", v, "expected seconds since the epoch")
                })?),
            };
        let state = TicketState {
            granted: bool_attr(t, "granted")?.unwrap_or(false),
            standby: bool_attr(t, "standby")?.unwrap_or(false),
            last_granted,
        };
        out.insert(required(t, "id")?.to_string(), state);
    }
    Ok(())
}

pub(crate) fn export_constraints(out: &mut String, tickets: &[TicketConstraint]) {
    for t in tickets {
        out.push_str("      <rsc_ticket");
        attr(out, "id", &t.id);
        attr(out, "rsc", &t.rsc);
        if let Some(r) = t.rsc_role {
            attr(out, "rsc-role", r.as_str());
        }
        attr(out, "ticket", &t.ticket);
        if let Some(l) = t.loss_policy {
            attr(out, "loss-policy", l.as_str());
        }
        out.push_str("/>\n");
    }
}

pub(crate) fn export_states(out: &mut String, tickets: &BTreeMap<String, TicketState>) {
    if tickets.is_empty() {
        return;
    }
    out.push_str("    <tickets>\n");
    for (id, t) in tickets {
        out.push_str("      <ticket_state");
        attr(out, "id", id);
        attr(out, "granted", if t.granted { "true" } else { "false" });
        if t.standby {
            attr(out, "standby", "true");
        }
        if let Some(at) = t.last_granted {
            attr(out, "last-granted", &at.to_string());
        }
        out.push_str("/>\n");
    }
    out.push_str("    </tickets>\n");
}
