//! `hactl ticket`: grant, revoke, standby and activate tickets (crm_ticket's verbs,
//! pcs's `constraint ticket` for the dependency). Ticket states live in the status
//! section of the replicated CIB: a ticket is granted to this site, not configured.

use anyhow::{bail, Context, Result};
use hactl_model::change::{Change, Constraint};
use hactl_model::{Cib, TicketConstraint};
use std::process::ExitCode;

use crate::verbs::args::parse_kv;
use crate::verbs::session::unix_now;
use crate::verbs::{ChangeFlags, OutputFormat, Plan, Session};

#[derive(clap::Args, Debug)]
pub struct TicketSel {
    /// The ticket's name.
    pub ticket: String,
    #[command(flatten)]
    pub flags: ChangeFlags,
}

#[derive(clap::Subcommand, Debug)]
pub enum TicketCommand {
    /// Grant the ticket to this cluster: resources that need it may run.
    Grant(TicketSel),
    /// Revoke the ticket: its resources stop (or are fenced or frozen, by their
    /// loss-policy).
    Revoke(TicketSel),
    /// Keep the ticket but stop its resources (no loss-policy applies).
    Standby(TicketSel),
    /// Leave standby: the ticket's resources may run again.
    Activate(TicketSel),
    /// Make RSC depend on the ticket (pcs constraint ticket add):
    /// `add TICKET RSC [loss-policy=stop|demote|fence|freeze] [rsc-role=ROLE] [id=ID]`.
    /// Remove it with `constraint remove ID`.
    Add {
        /// The ticket the resource depends on.
        ticket: String,
        /// The resource that runs only while the ticket is granted.
        rsc: String,
        /// NAME=VALUE options: loss-policy, rsc-role, id.
        options: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// List tickets: granted, standby, and the resources that need each.
    List {
        #[command(flatten)]
        flags: ChangeFlags,
    },
}

pub fn run(c: TicketCommand) -> Result<ExitCode> {
    let (sel, granted, standby, verb) = match c {
        TicketCommand::Grant(s) => (s, Some(true), None, "grant"),
        TicketCommand::Revoke(s) => (s, Some(false), None, "revoke"),
        TicketCommand::Standby(s) => (s, None, Some(true), "standby"),
        TicketCommand::Activate(s) => (s, None, Some(false), "activate"),
        TicketCommand::Add {
            ticket,
            rsc,
            options,
            flags,
        } => {
            let mut s = Session::open(flags.socket.as_deref(), flags.cib.as_deref())?;
            let cib = s.cib()?;
            s.submit(&flags, &cib, &add_plan(&ticket, &rsc, &options)?)?;
            return Ok(ExitCode::SUCCESS);
        }
        TicketCommand::List { flags } => {
            list(&flags)?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    let mut s = Session::open(sel.flags.socket.as_deref(), sel.flags.cib.as_deref())?;
    let cib = s.cib()?;
    let plan = ticket_plan(&cib, &sel.ticket, granted, standby, verb, unix_now())?;
    s.submit(&sel.flags, &cib, &plan)?;
    Ok(ExitCode::SUCCESS)
}

fn ticket_plan(
    cib: &Cib,
    ticket: &str,
    granted: Option<bool>,
    standby: Option<bool>,
    verb: &str,
    now: i64,
) -> Result<Plan> {
    let known = cib.status.tickets.contains_key(ticket)
        || cib
            .config
            .constraints
            .tickets
            .iter()
            .any(|t| t.ticket == ticket);
    if !known && granted != Some(true) {
        bail!("no ticket {ticket:?}: no resource needs it and it was never granted");
    }
    let change = Change::SetTicket {
        ticket: ticket.to_string(),
        granted,
        standby,
        at: Some(now),
    };
    Ok(Plan::new(format!("{verb} ticket {ticket}"), vec![change]))
}

fn add_plan(ticket: &str, rsc: &str, options: &[String]) -> Result<Plan> {
    let mut c = TicketConstraint {
        id: format!("ticket-{ticket}-{rsc}"),
        rsc: rsc.to_string(),
        ticket: ticket.to_string(),
        ..Default::default()
    };
    for o in options {
        let (k, v) = parse_kv(o).context("ticket option")?;
        match k.as_str() {
            "loss-policy" => c.loss_policy = Some(v.parse()?),
            "rsc-role" => c.rsc_role = Some(v.parse()?),
            "id" => c.id = v,
            _ => bail!("unknown option {k:?}: expected loss-policy, rsc-role or id"),
        }
    }
    let what = format!("make {rsc} depend on ticket {ticket}");
    let change = Change::AddConstraint {
        constraint: Constraint::Ticket(c),
    };
    Ok(Plan::new(what, vec![change]))
}

fn list(flags: &ChangeFlags) -> Result<()> {
    let mut s = Session::open(flags.socket.as_deref(), flags.cib.as_deref())?;
    let cib = s.cib()?;
    let mut names: Vec<&str> = cib.status.tickets.keys().map(String::as_str).collect();
    names.extend(
        cib.config
            .constraints
            .tickets
            .iter()
            .map(|t| t.ticket.as_str()),
    );
    names.sort_unstable();
    names.dedup();
    if flags.output == OutputFormat::Json {
        let m: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .map(|n| {
                let st = cib.status.tickets.get(*n).cloned().unwrap_or_default();
                Ok((n.to_string(), serde_json::to_value(st)?))
            })
            .collect::<Result<_>>()?;
        outln!("{}", serde_json::to_string_pretty(&m)?);
        return Ok(());
    }
    outln!("Tickets:");
    for n in names {
        let st = cib.status.tickets.get(n).cloned().unwrap_or_default();
        let state = match (st.granted, st.standby) {
            (true, false) => "granted",
            (true, true) => "granted, standby",
            (false, true) => "revoked, standby",
            (false, false) => "revoked",
        };
        let needed: Vec<&str> = cib
            .config
            .constraints
            .tickets
            .iter()
            .filter(|t| t.ticket == n)
            .map(|t| t.rsc.as_str())
            .collect();
        outln!("  {n}: {state} (needed by: {})", needed.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hactl_model::{AgentSpec, LossPolicy, Primitive, Resource};

    #[test]
    fn add_makes_a_validated_dependency() {
        let mut cib = Cib::default();
        cib.config.resources.push(Resource::Primitive(Primitive {
            id: "r".into(),
            agent: AgentSpec::parse("ocf:pacemaker:Dummy").unwrap(),
            ..Default::default()
        }));
        let opts = vec!["loss-policy=freeze".to_string()];
        add_plan("T", "r", &opts)
            .unwrap()
            .change()
            .apply(&mut cib)
            .unwrap();
        let t = &cib.config.constraints.tickets[0];
        assert_eq!(
            (t.id.as_str(), t.loss_policy),
            ("ticket-T-r", Some(LossPolicy::Freeze))
        );
        // An unknown resource is refused by validation, a bad policy by parsing.
        let bad = add_plan("T", "nope", &[]).unwrap().change().apply(&mut cib);
        assert!(bad.is_err());
        assert!(add_plan("T", "r", &["loss-policy=later".to_string()]).is_err());
    }

    #[test]
    fn grant_records_the_time_and_revoke_keeps_it() {
        let mut cib = Cib::default();
        cib.config.constraints.tickets.push(TicketConstraint {
            id: "t".into(),
            rsc: "r".into(),
            ticket: "T".into(),
            ..Default::default()
        });
        let grant = ticket_plan(&cib, "T", Some(true), None, "grant", 1_700_000_000).unwrap();
        grant.change().apply(&mut cib).unwrap();
        assert!(cib.status.tickets["T"].granted);
        assert_eq!(cib.status.tickets["T"].last_granted, Some(1_700_000_000));
        let epoch = cib.epoch;
        let revoke = ticket_plan(&cib, "T", Some(false), None, "revoke", 1_800_000_000).unwrap();
        revoke.change().apply(&mut cib).unwrap();
        assert!(!cib.status.tickets["T"].granted);
        assert_eq!(cib.status.tickets["T"].last_granted, Some(1_700_000_000));
        assert_eq!(cib.epoch, epoch, "a ticket is status, not configuration");
        assert!(ticket_plan(&cib, "nope", None, Some(true), "standby", 0).is_err());
    }
}
