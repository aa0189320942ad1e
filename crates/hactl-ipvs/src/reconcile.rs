//! Making the kernel's table for one service match a wanted table, in place: the
//! service is never deleted and re-added (that would drop every connection), real
//! servers are added, removed or edited one by one.

use crate::client::{Ipvs, IpvsError, ServiceState};
use crate::types::{Dest, Service, SockAddr};
use std::fmt;
use std::net::IpAddr;

/// The table one service should have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub service: Service,
    pub dests: Vec<Dest>,
}

/// One change to the kernel's table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    AddService,
    EditService,
    DelDest(IpAddr, u16),
    EditDest(Dest),
    AddDest(Dest),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::AddService => write!(f, "add service"),
            Step::EditService => write!(f, "edit service"),
            Step::DelDest(a, p) => write!(f, "remove real server {}", SockAddr(*a, *p)),
            Step::EditDest(d) => write!(
                f,
                "set real server {} to {} weight {}",
                SockAddr(d.addr, d.port),
                d.forward.name(),
                d.weight
            ),
            Step::AddDest(d) => write!(
                f,
                "add real server {} ({} weight {})",
                SockAddr(d.addr, d.port),
                d.forward.name(),
                d.weight
            ),
        }
    }
}

/// The steps that turn `current` (the kernel's view of the service, `None` if it
/// does not exist) into `want`. Removals come first, so a weight never briefly
/// counts twice; an empty plan means the kernel already matches.
pub fn plan(want: &Table, current: Option<&ServiceState>) -> Vec<Step> {
    let Some(cur) = current else {
        let mut steps = vec![Step::AddService];
        steps.extend(want.dests.iter().copied().map(Step::AddDest));
        return steps;
    };
    let mut steps = Vec::new();
    if cur.service != want.service {
        steps.push(Step::EditService);
    }
    let find = |list: &[Dest], d: &Dest| {
        list.iter()
            .find(|x| x.addr == d.addr && x.port == d.port)
            .copied()
    };
    for d in &cur.dests {
        if find(&want.dests, d).is_none() {
            steps.push(Step::DelDest(d.addr, d.port));
        }
    }
    for d in &want.dests {
        match find(&cur.dests, d) {
            Some(c) if c.same_settings(d) => {}
            Some(_) => steps.push(Step::EditDest(*d)),
            None => steps.push(Step::AddDest(*d)),
        }
    }
    steps
}

/// Reads the service, plans, and applies the plan; returns the steps taken.
pub fn reconcile(ipvs: &mut Ipvs, want: &Table) -> Result<Vec<Step>, IpvsError> {
    let current = ipvs.service(&want.service.key)?;
    let steps = plan(want, current.as_ref());
    let key = want.service.key;
    for s in &steps {
        match s {
            Step::AddService => ipvs.add_service(&want.service)?,
            Step::EditService => ipvs.edit_service(&want.service)?,
            Step::DelDest(a, p) => ipvs.del_dest(&key, *a, *p)?,
            Step::EditDest(d) => ipvs.edit_dest(&key, d)?,
            Step::AddDest(d) => ipvs.add_dest(&key, d)?,
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Forward, Protocol, ServiceKey, ServiceStats};

    fn svc(sched: &str) -> Service {
        Service {
            key: ServiceKey::Addr {
                protocol: Protocol::Tcp,
                addr: "10.0.0.100".parse().unwrap(),
                port: 80,
            },
            scheduler: sched.into(),
            persistence: None,
        }
    }
    fn d(last: u8, w: u32) -> Dest {
        Dest::new(IpAddr::from([10, 0, 0, last]), 80, Forward::Dr, w)
    }

    #[test]
    fn a_missing_service_is_created_with_every_real_server() {
        let want = Table {
            service: svc("wlc"),
            dests: vec![d(11, 1), d(12, 2)],
        };
        assert_eq!(
            plan(&want, None),
            vec![
                Step::AddService,
                Step::AddDest(d(11, 1)),
                Step::AddDest(d(12, 2))
            ]
        );
    }

    #[test]
    fn a_partial_or_drifted_table_is_repaired_in_place() {
        let want = Table {
            service: svc("wlc"),
            dests: vec![d(11, 1), d(12, 2), d(13, 1)],
        };
        let mut busy = d(12, 5);
        busy.active_conns = 9; // counters never count as drift
        let cur = ServiceState {
            service: svc("rr"),
            stats: ServiceStats::default(),
            dests: vec![d(11, 1), busy, d(99, 1)],
        };
        assert_eq!(
            plan(&want, Some(&cur)),
            vec![
                Step::EditService,
                Step::DelDest(IpAddr::from([10, 0, 0, 99]), 80),
                Step::EditDest(d(12, 2)),
                Step::AddDest(d(13, 1)),
            ]
        );
    }

    #[test]
    fn a_matching_table_needs_nothing() {
        let want = Table {
            service: svc("wlc"),
            dests: vec![d(11, 1)],
        };
        let mut counted = d(11, 1);
        counted.inactive_conns = 3;
        let cur = ServiceState {
            service: svc("wlc"),
            stats: ServiceStats::default(),
            dests: vec![counted],
        };
        assert!(plan(&want, Some(&cur)).is_empty());
    }
}
