//! Ticket dependencies (`rsc_ticket`): what happens to a resource whose ticket is
//! not granted, or in standby, before placement (Pacemaker's ticket unpacking).

use hactl_model::{LossPolicy, Role, Score, TicketConstraint};

use crate::sched::{RscRef, Sched};

impl Sched<'_> {
    /// Applies every ticket constraint whose ticket is revoked or in standby: bans,
    /// fencing (`loss-policy=fence`) and freezing. Runs before node availability is
    /// fixed, since fencing makes a node unclean.
    pub(crate) fn apply_tickets(&mut self) {
        let cib = self.cib;
        for tc in &cib.config.constraints.tickets {
            let state = cib.status.tickets.get(&tc.ticket);
            let granted = state.is_some_and(|t| t.granted);
            let standby = state.is_some_and(|t| t.standby);
            if granted && !standby {
                continue;
            }
            let members = match self.by_id.get(tc.rsc.as_str()) {
                Some(&RscRef::P(p)) => vec![p],
                Some(&RscRef::G(g)) => self.groups[g].members.clone(),
                // A clone's ticket holds for every instance.
                Some(&RscRef::C(c)) => self.clones[c].instances.clone(),
                None => continue,
            };
            for p in members {
                self.ticket_lost(p, tc, granted);
            }
        }
    }

    fn ticket_lost(&mut self, p: usize, tc: &TicketConstraint, granted: bool) {
        // `Started` means any role, as Pacemaker reads it.
        let role = tc.rsc_role.filter(|r| *r != Role::Started);
        let mut policy = tc.loss_policy.unwrap_or(if role == Some(Role::Promoted) {
            LossPolicy::Demote
        } else {
            LossPolicy::Stop
        });
        if policy == LossPolicy::Fence && !self.opts.stonith_enabled {
            policy = LossPolicy::Stop;
        }
        let promoted_only = role == Some(Role::Promoted);
        let active = self.prims[p].active.clone();
        if granted || active.is_empty() {
            // Standby, or revoked while not running: keep it from starting
            // (a Promoted-only dependency only loses promotion).
            if !promoted_only || policy == LossPolicy::Stop {
                let why = if granted {
                    "__ticket_standby__"
                } else {
                    "__no_ticket__"
                };
                self.location(p, None, Score::NEG_INFINITY, format!("{why} {}", tc.id));
            }
            return;
        }
        let role_matches = role.is_none_or(|r| r == self.prims[p].orig_role);
        let lost = format!("__loss_of_ticket__ {}", tc.id);
        match policy {
            LossPolicy::Stop => self.location(p, None, Score::NEG_INFINITY, lost),
            LossPolicy::Demote => {
                if !promoted_only {
                    self.location(p, None, Score::NEG_INFINITY, lost);
                }
            }
            LossPolicy::Fence if role_matches => {
                self.location(p, None, Score::NEG_INFINITY, lost);
                for n in active {
                    self.fence_node(n, "deadman ticket was lost".into());
                }
            }
            LossPolicy::Freeze if role_matches => {
                self.prims[p].managed = false;
                self.prims[p].blocked = true;
            }
            LossPolicy::Fence | LossPolicy::Freeze => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use hactl_model::{Cib, LossPolicy, Resource, TicketConstraint, TicketState};

    use crate::tests::{base, dummy, running, summary};

    /// rsc1 running on node1, needing ticket T with `policy`; T in `state`.
    fn cib(policy: Option<LossPolicy>, state: Option<TicketState>) -> Cib {
        let mut cib = base(&["node1", "node2"]);
        cib.config
            .resources
            .push(Resource::Primitive(dummy("rsc1")));
        cib.status
            .nodes
            .get_mut("node1")
            .unwrap()
            .resources
            .insert("rsc1".into(), running(1));
        cib.config.constraints.tickets.push(TicketConstraint {
            id: "rsc1-needs-T".into(),
            rsc: "rsc1".into(),
            ticket: "T".into(),
            loss_policy: policy,
            ..Default::default()
        });
        if let Some(s) = state {
            cib.status.tickets.insert("T".into(), s);
        }
        cib
    }

    fn granted(standby: bool) -> Option<TicketState> {
        Some(TicketState {
            granted: true,
            standby,
            last_granted: None,
        })
    }

    #[test]
    fn a_granted_ticket_keeps_the_resource_where_it_is() {
        assert!(summary(&cib(None, granted(false))).is_empty());
    }

    #[test]
    fn a_revoked_or_standby_ticket_stops_the_resource() {
        let stop = vec!["Stop rsc1 ( node1 ) due to node availability".to_string()];
        // No ticket state at all: never granted.
        assert_eq!(summary(&cib(None, None)), stop);
        assert_eq!(summary(&cib(Some(LossPolicy::Stop), granted(true))), stop);
        // Fence without fencing configured falls back to stop.
        assert_eq!(summary(&cib(Some(LossPolicy::Fence), None)), stop);
    }

    #[test]
    fn freeze_leaves_a_running_resource_alone_but_starts_nothing() {
        assert!(summary(&cib(Some(LossPolicy::Freeze), None)).is_empty());
        let mut stopped = cib(Some(LossPolicy::Freeze), None);
        stopped
            .status
            .nodes
            .get_mut("node1")
            .unwrap()
            .resources
            .clear();
        assert!(summary(&stopped).is_empty(), "no start without the ticket");
        stopped
            .status
            .tickets
            .insert("T".into(), granted(false).unwrap());
        assert_eq!(summary(&stopped), vec!["Start rsc1 ( node1 )".to_string()]);
    }
}
