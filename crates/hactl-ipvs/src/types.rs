//! The IPVS table in Rust types: a virtual service, its real servers, and the
//! conversions to and from the family's attributes.

use crate::nla::{DestAttr, InetAddr, StatsAttr, SvcAttr};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

/// `IP_VS_SVC_F_PERSISTENT`.
const F_PERSISTENT: u32 = 0x1;
/// The flags this crate sets and compares (the kernel adds `HASHED` on its own).
const F_MANAGED: u32 = F_PERSISTENT;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    fn number(self) -> u16 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
    }
    fn from_number(n: u16) -> Option<Self> {
        match n {
            6 => Some(Protocol::Tcp),
            17 => Some(Protocol::Udp),
            132 => Some(Protocol::Sctp),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// Which service: an address, port and protocol, or a firewall mark (per family).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKey {
    Addr {
        protocol: Protocol,
        addr: IpAddr,
        port: u16,
    },
    Fwmark {
        mark: u32,
        ipv6: bool,
    },
}

impl ServiceKey {
    pub fn is_ipv6(&self) -> bool {
        match self {
            ServiceKey::Addr { addr, .. } => addr.is_ipv6(),
            ServiceKey::Fwmark { ipv6, .. } => *ipv6,
        }
    }
    /// The attributes that name this service in a request.
    pub(crate) fn attrs(&self) -> Vec<SvcAttr> {
        let af = SvcAttr::Af(if self.is_ipv6() { AF_INET6 } else { AF_INET });
        match *self {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => vec![
                af,
                SvcAttr::Protocol(protocol.number()),
                SvcAttr::Addr(inet(addr)),
                SvcAttr::Port(port),
            ],
            ServiceKey::Fwmark { mark, .. } => vec![af, SvcAttr::Fwmark(mark)],
        }
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => write!(f, "{} {}", protocol.name(), SockAddr(*addr, *port)),
            ServiceKey::Fwmark { mark, ipv6 } => {
                write!(f, "fwmark {mark}{}", if *ipv6 { " (IPv6)" } else { "" })
            }
        }
    }
}

/// `addr:port`, with brackets for IPv6 (as ipvsadm prints).
pub struct SockAddr(pub IpAddr, pub u16);

impl fmt::Display for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.1),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.1),
        }
    }
}

/// Forwarding method (`IP_VS_CONN_F_*` in the low bits of the destination flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Forward {
    /// Masquerading (NAT), `ipvsadm -m`.
    Nat,
    /// Direct routing, `-g`.
    Dr,
    /// IP-in-IP tunnel, `-i`.
    Tun,
    /// Anything else the kernel reports (local node, bypass).
    Other(u32),
}

impl Forward {
    fn code(self) -> u32 {
        match self {
            Forward::Nat => 0,
            Forward::Tun => 2,
            Forward::Dr => 3,
            Forward::Other(c) => c,
        }
    }
    fn from_code(c: u32) -> Self {
        match c & 0x7 {
            0 => Forward::Nat,
            2 => Forward::Tun,
            3 => Forward::Dr,
            c => Forward::Other(c),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Forward::Nat => "nat",
            Forward::Dr => "dr",
            Forward::Tun => "tun",
            Forward::Other(_) => "other",
        }
    }
}

/// Persistence (`ipvsadm -p TIMEOUT -M NETMASK`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Persistence {
    pub timeout: u32,
    /// Clients are grouped by this prefix length (32/128: per client address).
    pub prefix: u8,
}

/// A virtual service's settings (what `ipvsadm -A/-E` sets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub key: ServiceKey,
    pub scheduler: String,
    pub persistence: Option<Persistence>,
}

/// Kernel counters of a service or a real server (read only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceStats {
    pub conns: u32,
    pub in_pkts: u32,
    pub out_pkts: u32,
    pub in_bytes: u64,
    pub out_bytes: u64,
}

/// A real server (what `ipvsadm -a/-e` sets), plus the kernel's connection counts
/// when read back (ignored when comparing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dest {
    pub addr: IpAddr,
    pub port: u16,
    pub forward: Forward,
    pub weight: u32,
    pub upper_threshold: u32,
    pub lower_threshold: u32,
    pub active_conns: u32,
    pub inactive_conns: u32,
    /// The kernel's counters for this real server (`ipvsadm -Ln --stats`).
    pub stats: ServiceStats,
}

impl Dest {
    pub fn new(addr: IpAddr, port: u16, forward: Forward, weight: u32) -> Self {
        Dest {
            addr,
            port,
            forward,
            weight,
            upper_threshold: 0,
            lower_threshold: 0,
            active_conns: 0,
            inactive_conns: 0,
            stats: ServiceStats::default(),
        }
    }
    /// Same settings (counters aside).
    pub fn same_settings(&self, o: &Dest) -> bool {
        (
            self.forward,
            self.weight,
            self.upper_threshold,
            self.lower_threshold,
        ) == (o.forward, o.weight, o.upper_threshold, o.lower_threshold)
    }
    pub(crate) fn key_attrs(&self) -> Vec<DestAttr> {
        vec![
            DestAttr::Addr(inet(self.addr)),
            DestAttr::Port(self.port),
            DestAttr::AddrFamily(af_of(self.addr)),
        ]
    }
    pub(crate) fn attrs(&self) -> Vec<DestAttr> {
        let mut v = self.key_attrs();
        v.extend([
            DestAttr::FwdMethod(self.forward.code()),
            DestAttr::Weight(self.weight),
            DestAttr::UThresh(self.upper_threshold),
            DestAttr::LThresh(self.lower_threshold),
        ]);
        v
    }
    pub(crate) fn from_attrs(attrs: &[DestAttr], service_ipv6: bool) -> Option<Dest> {
        let mut raw = None;
        let mut port = None;
        let mut ipv6 = service_ipv6;
        let mut d = Dest::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0, Forward::Dr, 0);
        for a in attrs {
            match a {
                DestAttr::Addr(x) => raw = Some(*x),
                DestAttr::Port(p) => port = Some(*p),
                DestAttr::AddrFamily(f) => ipv6 = *f == AF_INET6,
                DestAttr::FwdMethod(c) => d.forward = Forward::from_code(*c),
                DestAttr::Weight(w) => d.weight = *w,
                DestAttr::UThresh(x) => d.upper_threshold = *x,
                DestAttr::LThresh(x) => d.lower_threshold = *x,
                DestAttr::ActiveConns(x) => d.active_conns = *x,
                DestAttr::InactConns(x) => d.inactive_conns = *x,
                DestAttr::Stats(s) => d.stats = stats_from(s),
                _ => {}
            }
        }
        d.addr = from_inet(raw?, ipv6);
        d.port = port?;
        Some(d)
    }
}

fn af_of(a: IpAddr) -> u16 {
    if a.is_ipv6() {
        AF_INET6
    } else {
        AF_INET
    }
}

fn inet(a: IpAddr) -> InetAddr {
    let mut out = [0u8; 16];
    match a {
        IpAddr::V4(v) => out[..4].copy_from_slice(&v.octets()),
        IpAddr::V6(v) => out.copy_from_slice(&v.octets()),
    }
    out
}

fn from_inet(a: InetAddr, ipv6: bool) -> IpAddr {
    if ipv6 {
        IpAddr::V6(Ipv6Addr::from(a))
    } else {
        IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))
    }
}

/// The kernel's netmask encoding: an IPv4 mask as stored in network order, an IPv6
/// prefix length as a plain number (what ipvsadm sends).
fn netmask_raw(prefix: u8, ipv6: bool) -> u32 {
    if ipv6 {
        u32::from(prefix.min(128))
    } else {
        let m = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix.min(32)))
        };
        u32::from_ne_bytes(m.to_be_bytes())
    }
}

fn prefix_from_raw(raw: u32, ipv6: bool) -> u8 {
    if ipv6 {
        raw.min(128) as u8
    } else {
        u32::from_be_bytes(raw.to_ne_bytes()).leading_ones() as u8
    }
}

impl Service {
    pub(crate) fn attrs(&self) -> Vec<SvcAttr> {
        let ipv6 = self.key.is_ipv6();
        let mut v = self.key.attrs();
        let (flags, timeout, prefix) = match self.persistence {
            Some(p) => (F_PERSISTENT, p.timeout, p.prefix),
            None => (0, 0, if ipv6 { 128 } else { 32 }),
        };
        v.extend([
            SvcAttr::SchedName(self.scheduler.clone()),
            SvcAttr::Flags {
                flags,
                mask: F_MANAGED,
            },
            SvcAttr::Timeout(timeout),
            SvcAttr::Netmask(netmask_raw(prefix, ipv6)),
        ]);
        v
    }

    pub(crate) fn from_attrs(attrs: &[SvcAttr]) -> Option<(Service, ServiceStats)> {
        let (mut af, mut proto, mut raw, mut port, mut mark) = (None, None, None, None, None);
        let (mut sched, mut flags, mut timeout, mut netmask) = (String::new(), 0, 0, 0);
        let mut stats = ServiceStats::default();
        for a in attrs {
            match a {
                SvcAttr::Af(x) => af = Some(*x),
                SvcAttr::Protocol(x) => proto = Some(*x),
                SvcAttr::Addr(x) => raw = Some(*x),
                SvcAttr::Port(x) => port = Some(*x),
                SvcAttr::Fwmark(x) => mark = Some(*x).filter(|m| *m != 0),
                SvcAttr::SchedName(s) => sched = s.clone(),
                SvcAttr::Flags { flags: f, .. } => flags = *f,
                SvcAttr::Timeout(t) => timeout = *t,
                SvcAttr::Netmask(n) => netmask = *n,
                SvcAttr::Stats(s) => stats = stats_from(s),
                SvcAttr::Other(_) => {}
            }
        }
        let ipv6 = af? == AF_INET6;
        let key = match mark {
            Some(mark) => ServiceKey::Fwmark { mark, ipv6 },
            None => ServiceKey::Addr {
                protocol: Protocol::from_number(proto?)?,
                addr: from_inet(raw?, ipv6),
                port: port?,
            },
        };
        let persistence = (flags & F_PERSISTENT != 0).then(|| Persistence {
            timeout,
            prefix: prefix_from_raw(netmask, ipv6),
        });
        Some((
            Service {
                key,
                scheduler: sched,
                persistence,
            },
            stats,
        ))
    }
}

fn stats_from(attrs: &[StatsAttr]) -> ServiceStats {
    let mut s = ServiceStats::default();
    for a in attrs {
        match a {
            StatsAttr::Conns(x) => s.conns = *x,
            StatsAttr::InPkts(x) => s.in_pkts = *x,
            StatsAttr::OutPkts(x) => s.out_pkts = *x,
            StatsAttr::InBytes(x) => s.in_bytes = *x,
            StatsAttr::OutBytes(x) => s.out_bytes = *x,
            StatsAttr::Other(_) => {}
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_attributes_read_back_as_the_same_service() {
        for (addr, prefix) in [("10.0.0.100", 24u8), ("fd00::100", 64)] {
            let s = Service {
                key: ServiceKey::Addr {
                    protocol: Protocol::Udp,
                    addr: addr.parse().unwrap(),
                    port: 53,
                },
                scheduler: "wrr".into(),
                persistence: Some(Persistence {
                    timeout: 300,
                    prefix,
                }),
            };
            let (back, _) = Service::from_attrs(&s.attrs()).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn an_ipv4_netmask_goes_out_as_the_kernel_stores_it() {
        // 255.255.255.0 as the bytes of a network-order word.
        assert_eq!(netmask_raw(24, false).to_ne_bytes(), [255, 255, 255, 0]);
        assert_eq!(netmask_raw(128, true), 128);
    }

    #[test]
    fn dest_attributes_read_back_as_the_same_dest() {
        let d = Dest::new("fd00::5".parse().unwrap(), 8080, Forward::Tun, 7);
        assert_eq!(Dest::from_attrs(&d.attrs(), false), Some(d));
    }
}
