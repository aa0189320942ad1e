//! What an `ocf:hactl:ipvs` service looks like right now, for `hactl status`: its
//! real servers' health (up/down since when), the weights in the kernel's table and
//! the kernel's connection counters.
//!
//! The node holding the service reads the kernel (one netlink dump) and publishes the
//! result on a watch channel ([`crate::Executor::ipvs_status`]); the controller turns
//! it into a transient node attribute ([`hactl_model::ipvs_status`]). The rate is
//! bounded here, because each publication becomes a Raft entry: one right after each
//! health transition is applied, and otherwise one per `status_interval` only when
//! something changed — never more than one a second per service.

use crate::ipvs_health::{Registry, ServerId};
use hactl_agent_ipvs::{CheckKind, IpvsConfig, RealServer, SockAddr};
use hactl_ipvs::{Dest, ServiceKey, ServiceState};
use hactl_model::ipvs_status::{IpvsRealServerState, IpvsServiceState};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// Published state per resource id.
pub type StatusMap = BTreeMap<String, IpvsServiceState>;

/// The least time between two publications of one service's state.
const MIN_SPACING: Duration = Duration::from_secs(1);

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// What the checker knows: the servers down, and when each server's health last
/// changed (or the checks began).
#[derive(Clone, Debug, Default)]
pub(crate) struct Health {
    pub(crate) down: HashSet<ServerId>,
    pub(crate) since: HashMap<ServerId, i64>,
}

impl Health {
    pub(crate) fn set(&mut self, id: ServerId, up: bool, now: i64) {
        if up {
            self.down.remove(&id);
        } else {
            self.down.insert(id);
        }
        self.since.insert(id, now);
    }

    /// This health for a (new) configuration: servers that stay keep theirs, new
    /// ones are up since `now`.
    pub(crate) fn keep_only(&self, cfg: &IpvsConfig, now: i64) -> Health {
        let ids: Vec<ServerId> = cfg.real_servers.iter().map(|r| (r.addr, r.port)).collect();
        Health {
            down: self
                .down
                .iter()
                .filter(|id| ids.contains(id))
                .copied()
                .collect(),
            since: ids
                .iter()
                .map(|id| (*id, self.since.get(id).copied().unwrap_or(now)))
                .collect(),
        }
    }
}

fn check_name(k: &CheckKind) -> &'static str {
    match k {
        CheckKind::Tcp => "tcp",
        CheckKind::Http { tls: false, .. } => "http",
        CheckKind::Http { tls: true, .. } => "https",
        CheckKind::Misc { .. } => "misc",
        CheckKind::None => "none",
    }
}

fn service_name(key: &ServiceKey) -> String {
    match *key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => format!("{}/{}", SockAddr(addr, port), protocol.name()),
        ServiceKey::Fwmark { mark, ipv6: false } => format!("fwmark {mark}"),
        ServiceKey::Fwmark { mark, ipv6: true } => format!("fwmark {mark} (IPv6)"),
    }
}

fn server_state(
    rs: &RealServer,
    dest: Option<&Dest>,
    health: Option<&Health>,
) -> IpvsRealServerState {
    let id = (rs.addr, rs.port);
    let (word, since) = match health {
        None => ("unchecked", None),
        Some(h) if h.down.contains(&id) => ("down", h.since.get(&id).copied()),
        Some(h) => ("up", h.since.get(&id).copied()),
    };
    IpvsRealServerState {
        address: SockAddr(rs.addr, rs.port).to_string(),
        sorry_server: false,
        health: word.into(),
        since,
        configured_weight: rs.weight,
        weight: dest.map(|d| d.weight),
        forward: rs.forward.name().into(),
        active_conns: dest.map_or(0, |d| d.active_conns),
        inactive_conns: dest.map_or(0, |d| d.inactive_conns),
        conns: dest.map_or(0, |d| u64::from(d.stats.conns)),
    }
}

/// The state of `cfg`'s service from the kernel's table (`None`: the service is not
/// in it) and the checker's `health`.
pub(crate) fn build(
    cfg: &IpvsConfig,
    kernel: Option<&ServiceState>,
    health: &Health,
    now: i64,
) -> IpvsServiceState {
    let dest = |rs: &RealServer| {
        kernel.and_then(|k| {
            k.dests
                .iter()
                .find(|d| (d.addr, d.port) == (rs.addr, rs.port))
        })
    };
    let checked = cfg.health.kind != CheckKind::None;
    let mut real_servers: Vec<IpvsRealServerState> = cfg
        .real_servers
        .iter()
        .map(|rs| server_state(rs, dest(rs), checked.then_some(health)))
        .collect();
    if let Some(s) = &cfg.sorry_server {
        let mut st = server_state(s, dest(s), None);
        st.sorry_server = true;
        real_servers.push(st);
    }
    let stats = kernel.map(|k| k.stats).unwrap_or_default();
    IpvsServiceState {
        service: service_name(&cfg.service.key),
        scheduler: cfg.service.scheduler.clone(),
        forward: cfg.forward.name().into(),
        in_kernel: kernel.is_some(),
        check: check_name(&cfg.health.kind).into(),
        read_at: now,
        conns: stats.conns.into(),
        in_pkts: stats.in_pkts.into(),
        out_pkts: stats.out_pkts.into(),
        in_bytes: stats.in_bytes,
        out_bytes: stats.out_bytes,
        real_servers,
    }
}

/// Equal but for the time of the reading.
fn same(a: &IpvsServiceState, b: &IpvsServiceState) -> bool {
    IpvsServiceState {
        read_at: 0,
        ..a.clone()
    } == IpvsServiceState {
        read_at: 0,
        ..b.clone()
    }
}

fn read_kernel(key: ServiceKey) -> Result<Option<ServiceState>, hactl_ipvs::IpvsError> {
    hactl_ipvs::Ipvs::open()?.service(&key)
}

/// Reads and publishes `rsc`'s state: at once, after each `kick` (a health
/// transition applied) and every `status_interval`; a reading equal to the last
/// published one is not published again.
pub(crate) async fn report_loop(
    reg: Arc<Registry>,
    rsc: String,
    cfg: IpvsConfig,
    health: Arc<Mutex<Health>>,
    alive: Arc<AtomicBool>,
    kick: Arc<Notify>,
) {
    let mut last: Option<IpvsServiceState> = None;
    let mut warned = false;
    loop {
        let key = cfg.service.key;
        match tokio::task::spawn_blocking(move || read_kernel(key)).await {
            Ok(Ok(kernel)) => {
                warned = false;
                let h = health.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let st = build(&cfg, kernel.as_ref(), &h, unix_now());
                if !last.as_ref().is_some_and(|l| same(l, &st)) {
                    reg.publish(&rsc, &alive, st.clone());
                    last = Some(st);
                }
            }
            Ok(Err(e)) if !warned => {
                warned = true;
                tracing::warn!(resource = %rsc, error = %e, "cannot read the ipvs table for status");
            }
            Ok(Err(_)) => {}
            Err(e) => tracing::error!(resource = %rsc, error = %e, "ipvs status task failed"),
        }
        tokio::time::sleep(MIN_SPACING).await;
        let rest = cfg.status_interval.saturating_sub(MIN_SPACING);
        if cfg.status_interval.is_zero() {
            kick.notified().await;
        } else {
            tokio::select! {
                _ = kick.notified() => {}
                _ = tokio::time::sleep(rest) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap as Map;

    fn cfg(extra: &[(&str, &str)]) -> IpvsConfig {
        let mut p: Map<String, String> = [
            ("vip", "10.0.0.100"),
            ("port", "80"),
            ("real_servers", "10.0.0.11:80,weight=3 10.0.0.12:80"),
            ("sorry_server", "10.0.0.99:80"),
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        p.retain(|_, v| !v.is_empty());
        IpvsConfig::parse(&p).unwrap()
    }

    #[test]
    fn a_down_server_shows_down_with_its_kernel_weight_and_counts() {
        let c = cfg(&[("check", "tcp")]);
        let rs11: std::net::IpAddr = "10.0.0.11".parse().unwrap();
        let rs12: std::net::IpAddr = "10.0.0.12".parse().unwrap();
        let mut h = Health::default().keep_only(&c, 100);
        h.set((rs12, 80), false, 150);
        let mut kept = Dest::new(rs11, 80, hactl_ipvs::Forward::Dr, 3);
        kept.active_conns = 4;
        kept.inactive_conns = 2;
        kept.stats.conns = 9;
        let kernel = ServiceState {
            service: c.service.clone(),
            stats: Default::default(),
            dests: vec![kept],
        };
        let st = build(&c, Some(&kernel), &h, 200);
        assert_eq!(st.service, "10.0.0.100:80/tcp");
        assert_eq!((st.scheduler.as_str(), st.forward.as_str()), ("wlc", "dr"));
        let a = &st.real_servers[0];
        assert_eq!(
            (
                a.health.as_str(),
                a.since,
                a.weight,
                a.active_conns,
                a.inactive_conns,
                a.conns
            ),
            ("up", Some(100), Some(3), 4, 2, 9)
        );
        let b = &st.real_servers[1];
        assert_eq!(
            (b.health.as_str(), b.since, b.weight),
            ("down", Some(150), None)
        );
        let sorry = &st.real_servers[2];
        assert!(sorry.sorry_server && sorry.weight.is_none());
        assert_eq!(sorry.health, "unchecked");
    }

    #[test]
    fn without_checks_servers_are_unchecked_and_a_reading_time_alone_is_no_change() {
        let c = cfg(&[("check", "none")]);
        let a = build(&c, None, &Health::default(), 1);
        assert!(!a.in_kernel);
        assert!(a.real_servers.iter().all(|r| r.health == "unchecked"));
        assert!(same(&a, &build(&c, None, &Health::default(), 2)));
    }
}
