//! `VIP`: the native floating-IP resource agent (the fast counterpart of
//! `ocf:heartbeat:IPaddr2`).
//!
//! One implementation, two forms:
//! - the OCF executable `hactl-vip` ([`ocf_main`]): meta-data, validate-all, start,
//!   stop, monitor, parameters from `OCF_RESKEY_*`. Pacemaker itself can run it.
//! - in-process ([`run`], [`Announcer`]), which the executor uses for `ocf:hactl:VIP`
//!   so a start costs no fork/exec at all.
//!
//! Both forms go through [`run`], so an action means the same in both, and parameters
//! are checked in one place ([`validate`], which is also `validate-all`):
//! - a value that is wrong anywhere (not an address, a multicast address, a prefix
//!   longer than the family allows, an interface name with `/`, a negative count) is
//!   "not configured" (6) for start and validate-all;
//! - a value that is only wrong on this node (`nic` absent here) is "invalid
//!   argument" (2) — Pacemaker bans the resource from this node and starts it on
//!   another — instead of 6, which would stop it everywhere;
//! - stop and monitor never fail because of parameters: an address that cannot be
//!   parsed cannot be configured, so stop succeeds and monitor says "not running"
//!   (OCF: stopping what is not running succeeds whatever its parameters). A failed
//!   stop is what makes a cluster fence a node, so a typo must never get there.
//!
//! Why it is fast: IPaddr2 is a shell script that runs `ip` several times, `findif`,
//! and backgrounds `send_arp` (70–180 ms to the first frame). Here the address is added
//! with one rtnetlink request (`RTM_NEWADDR` on a raw `NETLINK_ROUTE` socket) and the
//! first gratuitous ARP is written to an `AF_PACKET` socket right after the kernel acks
//! the address. The remaining announcements (count, interval) go out afterwards: the
//! executable forks a detached sender (new session, stdio on /dev/null, so the
//! executor sees the agent exit at once and its pipes reach EOF), in-process the
//! caller schedules them (a tokio task in the executor). Every later frame first checks
//! that the address is still configured, so a stop is never followed by a stale
//! announcement.
//!
//! Parameters (IPaddr2's names): `ip` (required, IPv4 or IPv6), `cidr_netmask`
//! (prefix length or dotted mask; default: the prefix of the interface subnet that
//! contains `ip`), `nic` (default: that interface, like IPaddr2's findif), `broadcast`
//! (IPv4; default computed, `none` for none), `arp_count` (default 5), `arp_interval`
//! (ms, default 200), `arp_count_refresh` (frames sent on each monitor, default 0),
//! and `arp_mode` = `alternate` (request and reply in turn, as send_arp does; default),
//! `request` or `reply`. For IPv6 the announcement is an unsolicited neighbour
//! advertisement to all-nodes (`ff02::1`) with the override flag.

use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

pub const OCF_SUCCESS: i32 = 0;
pub const OCF_ERR_GENERIC: i32 = 1;
pub const OCF_ERR_ARGS: i32 = 2;
pub const OCF_ERR_UNIMPLEMENTED: i32 = 3;
pub const OCF_ERR_PERM: i32 = 4;
pub const OCF_ERR_CONFIGURED: i32 = 6;
pub const OCF_NOT_RUNNING: i32 = 7;

#[derive(Debug, thiserror::Error)]
pub enum VipError {
    #[error("missing required parameter '{0}'")]
    Missing(&'static str),
    #[error("parameter '{name}': {msg}")]
    Invalid { name: &'static str, msg: String },
    #[error("nic '{0}' does not exist")]
    NoSuchNic(String),
    #[error("no interface has a subnet containing {0}; set nic and cidr_netmask")]
    NoInterface(IpAddr),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
}

impl VipError {
    /// The OCF exit code for this error.
    pub fn rc(&self) -> i32 {
        match self {
            VipError::Missing(_) | VipError::Invalid { .. } => OCF_ERR_CONFIGURED,
            // Valid elsewhere, perhaps: the interface exists on some nodes only.
            VipError::NoSuchNic(_) => OCF_ERR_ARGS,
            // IPaddr2 returns a generic error for an off-subnet ip without nic.
            VipError::NoInterface(_) => OCF_ERR_GENERIC,
            VipError::Io { source, .. } if source.raw_os_error() == Some(libc::EPERM) => {
                OCF_ERR_PERM
            }
            VipError::Io { .. } => OCF_ERR_GENERIC,
        }
    }
    fn io(what: impl Into<String>, source: io::Error) -> Self {
        VipError::Io {
            what: what.into(),
            source,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArpMode {
    Alternate,
    Request,
    Reply,
}

/// Parsed parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VipParams {
    pub ip: IpAddr,
    pub prefix: Option<u8>,
    pub nic: Option<String>,
    /// `None`: compute; `Some(None)`: no broadcast address.
    pub broadcast: Option<Option<Ipv4Addr>>,
    pub arp_count: u32,
    pub arp_interval: Duration,
    pub arp_count_refresh: u32,
    pub arp_mode: ArpMode,
}

fn nonempty<'a>(p: &'a HashMap<String, String>, k: &str) -> Option<&'a str> {
    p.get(k).map(|s| s.trim()).filter(|s| !s.is_empty())
}

fn parse_u32(
    p: &HashMap<String, String>,
    name: &'static str,
    default: u32,
) -> Result<u32, VipError> {
    match nonempty(p, name) {
        None => Ok(default),
        Some(s) => s.parse().map_err(|_| VipError::Invalid {
            name,
            msg: format!("'{s}' is not a non-negative integer"),
        }),
    }
}

impl VipParams {
    /// Parses IPaddr2-style parameters; errors name the parameter.
    pub fn parse(p: &HashMap<String, String>) -> Result<Self, VipError> {
        let ip_s = nonempty(p, "ip").ok_or(VipError::Missing("ip"))?;
        let ip: IpAddr = ip_s.parse().map_err(|_| VipError::Invalid {
            name: "ip",
            msg: format!("'{ip_s}' is not an IPv4 or IPv6 address"),
        })?;
        if ip.is_unspecified() || ip.is_multicast() {
            return Err(VipError::Invalid {
                name: "ip",
                msg: format!("{ip} cannot be a service address"),
            });
        }
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match nonempty(p, "cidr_netmask") {
            None => None,
            Some(s) => Some(parse_prefix(s, max)?),
        };
        let nic = match nonempty(p, "nic") {
            None => None,
            Some(s) => Some(parse_nic(s)?),
        };
        let broadcast = match nonempty(p, "broadcast") {
            None | Some("+") => None,
            Some("none") | Some("-") => Some(None),
            Some(s) => Some(Some(s.parse::<Ipv4Addr>().map_err(|_| {
                VipError::Invalid {
                    name: "broadcast",
                    msg: format!("'{s}' is not an IPv4 address"),
                }
            })?)),
        };
        let arp_mode = match nonempty(p, "arp_mode") {
            None | Some("alternate") => ArpMode::Alternate,
            Some("request") => ArpMode::Request,
            Some("reply") => ArpMode::Reply,
            Some(s) => {
                return Err(VipError::Invalid {
                    name: "arp_mode",
                    msg: format!("'{s}' is not one of alternate, request, reply"),
                })
            }
        };
        Ok(VipParams {
            ip,
            prefix,
            nic,
            broadcast,
            arp_count: parse_u32(p, "arp_count", 5)?,
            arp_interval: Duration::from_millis(parse_u32(p, "arp_interval", 200)? as u64),
            arp_count_refresh: parse_u32(p, "arp_count_refresh", 0)?,
            arp_mode,
        })
    }
}

/// An interface name (IPaddr2 accepts `nic:label`; the label is not used here).
fn parse_nic(s: &str) -> Result<String, VipError> {
    let name = s.split(':').next().unwrap_or(s);
    if name.is_empty()
        || name.len() >= libc::IFNAMSIZ
        || name.contains('/')
        || name.contains('\0')
        || name.chars().any(char::is_whitespace)
    {
        return Err(VipError::Invalid {
            name: "nic",
            msg: format!("'{s}' is not an interface name"),
        });
    }
    Ok(name.to_string())
}

/// The address (and interface) stop and monitor look for, read leniently: a value
/// that does not parse cannot name an address that is configured here, and a bad
/// `nic` only widens the search to every interface.
fn lookup_target(p: &HashMap<String, String>) -> Option<(IpAddr, Option<String>)> {
    let ip: IpAddr = nonempty(p, "ip")?.parse().ok()?;
    let nic = nonempty(p, "nic").and_then(|s| parse_nic(s).ok());
    Some((ip, nic))
}

/// `validate-all`: every check start makes, without changing anything. Errors carry
/// the OCF code (see the module docs for 6 versus 2).
pub fn validate(p: &HashMap<String, String>) -> Result<(VipParams, Resolved), VipError> {
    let params = VipParams::parse(p)?;
    let resolved = resolve(&params)?;
    Ok((params, resolved))
}

fn parse_prefix(s: &str, max: u8) -> Result<u8, VipError> {
    if let Ok(n) = s.parse::<u8>() {
        if n <= max {
            return Ok(n);
        }
    } else if max == 32 {
        if let Ok(mask) = s.parse::<Ipv4Addr>() {
            let m = u32::from(mask);
            if m.leading_ones() + m.trailing_zeros() == 32 {
                return Ok(m.leading_ones() as u8);
            }
        }
    }
    Err(VipError::Invalid {
        name: "cidr_netmask",
        msg: format!("'{s}' is not a prefix length (0-{max}) or netmask"),
    })
}

/// The interface and prefix the address goes on, after findif.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub nic: String,
    pub ifindex: u32,
    pub prefix: u8,
    pub mac: [u8; 6],
}

/// One address as seen by getifaddrs.
#[derive(Clone, Debug)]
struct IfAddr {
    nic: String,
    addr: IpAddr,
    prefix: u8,
}

fn prefix_of(mask: IpAddr) -> u8 {
    match mask {
        IpAddr::V4(m) => u32::from(m).leading_ones() as u8,
        IpAddr::V6(m) => u128::from(m).leading_ones() as u8,
    }
}

fn in_subnet(net: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix as u32)
            };
            u32::from(n) & m == u32::from(i) & m
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix as u32)
            };
            u128::from(n) & m == u128::from(i) & m
        }
        _ => false,
    }
}

/// # Safety
/// `sa` must be null or point to a valid sockaddr from getifaddrs.
unsafe fn sockaddr_ip(sa: *const libc::sockaddr) -> Option<IpAddr> {
    if sa.is_null() {
        return None;
    }
    match (*sa).sa_family as i32 {
        libc::AF_INET => {
            let sin = &*(sa as *const libc::sockaddr_in);
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                sin.sin_addr.s_addr,
            ))))
        }
        libc::AF_INET6 => {
            let sin6 = &*(sa as *const libc::sockaddr_in6);
            Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

/// All IPv4/IPv6 addresses in the current network namespace.
fn addresses() -> Result<Vec<IfAddr>, VipError> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(VipError::io("getifaddrs", io::Error::last_os_error()));
    }
    let mut out = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: cur is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cur };
        // SAFETY: pointers come from getifaddrs.
        let addr = unsafe { sockaddr_ip(ifa.ifa_addr) };
        let mask = unsafe { sockaddr_ip(ifa.ifa_netmask) };
        if let (Some(addr), false) = (addr, ifa.ifa_name.is_null()) {
            // SAFETY: ifa_name is a NUL-terminated string owned by the list.
            let nic = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }
                .to_string_lossy()
                .into_owned();
            out.push(IfAddr {
                nic,
                addr,
                prefix: mask.map(prefix_of).unwrap_or(0),
            });
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: head came from getifaddrs.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

fn ifindex(nic: &str) -> Option<u32> {
    let c = CString::new(nic).ok()?;
    // SAFETY: c is a valid C string.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx)
}

fn ifreq_for(nic: &str) -> libc::ifreq {
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req
        .ifr_name
        .iter_mut()
        .zip(nic.bytes().take(libc::IFNAMSIZ - 1))
    {
        *d = s as libc::c_char;
    }
    req
}

fn ioctl_sock() -> Result<OwnedFd, VipError> {
    // SAFETY: plain socket call; fd ownership moves into OwnedFd.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(VipError::io("socket", io::Error::last_os_error()));
    }
    // SAFETY: fd is a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn hwaddr(nic: &str) -> Result<[u8; 6], VipError> {
    let sock = ioctl_sock()?;
    let mut req = ifreq_for(nic);
    // SAFETY: SIOCGIFHWADDR reads ifr_name and fills ifr_hwaddr.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req) } < 0 {
        return Err(VipError::io(
            format!("reading MAC of {nic}"),
            io::Error::last_os_error(),
        ));
    }
    // SAFETY: the kernel filled the hwaddr member.
    let data = unsafe { req.ifr_ifru.ifru_hwaddr.sa_data };
    let mut mac = [0u8; 6];
    for (m, d) in mac.iter_mut().zip(data.iter()) {
        *m = *d as u8;
    }
    Ok(mac)
}

/// Brings `nic` up if it is down (IPaddr2 does the same).
fn ensure_up(nic: &str) -> Result<(), VipError> {
    let sock = ioctl_sock()?;
    let mut req = ifreq_for(nic);
    // SAFETY: SIOCGIFFLAGS fills ifr_flags.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(VipError::io(
            format!("flags of {nic}"),
            io::Error::last_os_error(),
        ));
    }
    // SAFETY: flags member was just filled.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    if flags & libc::IFF_UP as libc::c_short == 0 {
        req.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
        // SAFETY: SIOCSIFFLAGS reads ifr_name and ifr_flags.
        if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
            return Err(VipError::io(
                format!("bringing {nic} up"),
                io::Error::last_os_error(),
            ));
        }
    }
    Ok(())
}

/// Finds the interface and prefix (findif): the given nic, else the interface with a
/// subnet that contains `ip` (longest prefix wins, the VIP itself is ignored).
pub fn resolve(p: &VipParams) -> Result<Resolved, VipError> {
    let addrs = addresses()?;
    let (nic, prefix) = match &p.nic {
        Some(nic) => {
            if ifindex(nic).is_none() {
                return Err(VipError::NoSuchNic(nic.clone()));
            }
            let prefix = p.prefix.or_else(|| {
                addrs
                    .iter()
                    .filter(|a| {
                        &a.nic == nic && a.addr != p.ip && in_subnet(a.addr, a.prefix, p.ip)
                    })
                    .map(|a| a.prefix)
                    .max()
            });
            (
                nic.clone(),
                prefix.unwrap_or(if p.ip.is_ipv4() { 32 } else { 128 }),
            )
        }
        None => {
            let best = addrs
                .iter()
                .filter(|a| a.addr != p.ip && !a.addr.is_loopback())
                .filter(|a| in_subnet(a.addr, a.prefix, p.ip))
                .max_by_key(|a| a.prefix)
                .ok_or(VipError::NoInterface(p.ip))?;
            (best.nic.clone(), p.prefix.unwrap_or(best.prefix))
        }
    };
    let ifindex = ifindex(&nic).ok_or_else(|| VipError::NoSuchNic(nic.clone()))?;
    let mac = hwaddr(&nic)?;
    Ok(Resolved {
        nic,
        ifindex,
        prefix,
        mac,
    })
}

/// Whether `ip` is configured (on `nic` if given).
pub fn is_configured(ip: IpAddr, nic: Option<&str>) -> Result<bool, VipError> {
    Ok(addresses()?
        .iter()
        .any(|a| a.addr == ip && (nic.is_none() || nic == Some(a.nic.as_str()))))
}

// ---- rtnetlink -------------------------------------------------------------------

const NLMSG_HDRLEN: usize = 16;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const IFA_FLAGS: u16 = 8;
const IFA_F_NODAD: u32 = 0x02;

fn push_attr(buf: &mut Vec<u8>, ty: u16, data: &[u8]) {
    let len = 4 + data.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(data);
    buf.resize(buf.len().next_multiple_of(4), 0);
}

fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// Builds an RTM_NEWADDR / RTM_DELADDR request.
fn addr_request(new: bool, ip: IpAddr, prefix: u8, ifindex: u32, brd: Option<Ipv4Addr>) -> Vec<u8> {
    let mut m = vec![0u8; NLMSG_HDRLEN];
    let family = if ip.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    } as u8;
    // struct ifaddrmsg: family, prefixlen, flags, scope, index
    m.extend_from_slice(&[family, prefix, 0, 0]);
    m.extend_from_slice(&ifindex.to_ne_bytes());
    let b = ip_bytes(ip);
    push_attr(&mut m, IFA_LOCAL, &b);
    push_attr(&mut m, IFA_ADDRESS, &b);
    if new {
        if let Some(brd) = brd {
            push_attr(&mut m, IFA_BROADCAST, &brd.octets());
        }
        if ip.is_ipv6() {
            // Usable at once: a VIP moving between nodes must not wait for DAD.
            push_attr(&mut m, IFA_FLAGS, &IFA_F_NODAD.to_ne_bytes());
        }
    }
    let ty = if new {
        libc::RTM_NEWADDR
    } else {
        libc::RTM_DELADDR
    };
    let mut flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
    if new {
        flags |= (libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16;
    }
    let len = m.len() as u32;
    m[0..4].copy_from_slice(&len.to_ne_bytes());
    m[4..6].copy_from_slice(&ty.to_ne_bytes());
    m[6..8].copy_from_slice(&flags.to_ne_bytes());
    m[8..12].copy_from_slice(&1u32.to_ne_bytes());
    m
}

/// Sends one request and returns the kernel's errno (0 = success).
fn netlink_call(req: &[u8]) -> Result<i32, VipError> {
    // SAFETY: plain socket call; ownership moves into OwnedFd.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(VipError::io("netlink socket", io::Error::last_os_error()));
    }
    // SAFETY: fresh fd we own.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: zeroed sockaddr_nl addresses the kernel.
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as u16;
    // SAFETY: buffer and address are valid for the call.
    let n = unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            req.as_ptr().cast(),
            req.len(),
            0,
            (&kernel as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if n < 0 {
        return Err(VipError::io("netlink send", io::Error::last_os_error()));
    }
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: buf is writable for its length.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(VipError::io("netlink recv", e));
        }
        let n = n as usize;
        let mut off = 0;
        while off + NLMSG_HDRLEN <= n {
            let len =
                u32::from_ne_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]]) as usize;
            let ty = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
            if ty == libc::NLMSG_ERROR as u16 && off + NLMSG_HDRLEN + 4 <= n {
                let p = off + NLMSG_HDRLEN;
                let err = i32::from_ne_bytes([buf[p], buf[p + 1], buf[p + 2], buf[p + 3]]);
                return Ok(-err);
            }
            if len < NLMSG_HDRLEN {
                break;
            }
            off += (len + 3) & !3;
        }
    }
}

fn default_broadcast(ip: Ipv4Addr, prefix: u8) -> Option<Ipv4Addr> {
    if prefix >= 31 {
        return None;
    }
    let host = u32::MAX >> prefix;
    Some(Ipv4Addr::from(u32::from(ip) | host))
}

/// Adds the address (idempotent: already present is success).
pub fn add_address(p: &VipParams, r: &Resolved) -> Result<(), VipError> {
    ensure_up(&r.nic)?;
    let brd = match (p.ip, p.broadcast) {
        (IpAddr::V4(ip), None) => default_broadcast(ip, r.prefix),
        (IpAddr::V4(_), Some(b)) => b,
        (IpAddr::V6(_), _) => None,
    };
    let errno = netlink_call(&addr_request(true, p.ip, r.prefix, r.ifindex, brd))?;
    match errno {
        0 | libc::EEXIST => Ok(()),
        e => Err(VipError::io(
            format!("adding {}/{} to {}", p.ip, r.prefix, r.nic),
            io::Error::from_raw_os_error(e),
        )),
    }
}

/// Removes the address (idempotent: absent is success).
pub fn del_address(ip: IpAddr, prefix: u8, ifindex: u32, nic: &str) -> Result<(), VipError> {
    let errno = netlink_call(&addr_request(false, ip, prefix, ifindex, None))?;
    match errno {
        0 | libc::EADDRNOTAVAIL | libc::ENOENT | libc::ESRCH => Ok(()),
        e => Err(VipError::io(
            format!("removing {ip} from {nic}"),
            io::Error::from_raw_os_error(e),
        )),
    }
}

// ---- announcements ---------------------------------------------------------------

const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86DD;

/// Gratuitous ARP frame (`op` 1 = request, 2 = reply), padded to the Ethernet minimum.
pub fn garp_frame(mac: [u8; 6], ip: Ipv4Addr, op: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ETH_P_ARP.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4]);
    f.extend_from_slice(&op.to_be_bytes());
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ip.octets());
    // Target hardware address: zero in a request (RFC 5227), broadcast in a reply.
    f.extend_from_slice(if op == 1 { &[0; 6] } else { &[0xff; 6] });
    f.extend_from_slice(&ip.octets());
    f.resize(60, 0);
    f
}

/// Unsolicited neighbour advertisement (RFC 4861 §7.2.6) for `ip` to ff02::1.
pub fn unsolicited_na_frame(mac: [u8; 6], ip: Ipv6Addr) -> Vec<u8> {
    let dst = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let mut icmp = vec![136u8, 0, 0, 0, 0x20, 0, 0, 0]; // type NA, override flag
    icmp.extend_from_slice(&ip.octets());
    icmp.extend_from_slice(&[2, 1]); // option: target link-layer address, 8 bytes
    icmp.extend_from_slice(&mac);
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    };
    add(&ip.octets());
    add(&dst.octets());
    add(&(icmp.len() as u32).to_be_bytes());
    add(&[0, 0, 0, 58]);
    add(&icmp);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let ck = !(sum as u16);
    icmp[2..4].copy_from_slice(&ck.to_be_bytes());

    let mut f = Vec::with_capacity(14 + 40 + icmp.len());
    f.extend_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ETH_P_IPV6.to_be_bytes());
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    f.extend_from_slice(&[58, 255]);
    f.extend_from_slice(&ip.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&icmp);
    f
}

/// Sends the announcements for one address: frame `i` is sent by the `i`-th call to
/// [`Announcer::send_next`].
pub struct Announcer {
    sock: OwnedFd,
    ifindex: u32,
    nic: String,
    ip: IpAddr,
    frames: Vec<Vec<u8>>,
    sent: u32,
    count: u32,
    interval: Duration,
}

impl Announcer {
    /// `count` frames, `interval` apart, on the resolved interface.
    pub fn new(p: &VipParams, r: &Resolved, count: u32) -> Result<Self, VipError> {
        let frames = match p.ip {
            IpAddr::V4(ip) => match p.arp_mode {
                ArpMode::Alternate => vec![garp_frame(r.mac, ip, 1), garp_frame(r.mac, ip, 2)],
                ArpMode::Request => vec![garp_frame(r.mac, ip, 1)],
                ArpMode::Reply => vec![garp_frame(r.mac, ip, 2)],
            },
            IpAddr::V6(ip) => vec![unsolicited_na_frame(r.mac, ip)],
        };
        // Protocol 0: this socket only sends, so the kernel queues nothing to it.
        // SAFETY: plain socket call; ownership moves into OwnedFd.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(VipError::io("packet socket", io::Error::last_os_error()));
        }
        Ok(Announcer {
            // SAFETY: fresh fd we own.
            sock: unsafe { OwnedFd::from_raw_fd(fd) },
            ifindex: r.ifindex,
            nic: r.nic.clone(),
            ip: p.ip,
            frames,
            sent: 0,
            count,
            interval: p.arp_interval,
        })
    }

    pub fn remaining(&self) -> u32 {
        self.count.saturating_sub(self.sent)
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Whether the address is still configured; later frames are sent only then.
    pub fn still_owned(&self) -> bool {
        is_configured(self.ip, Some(&self.nic)).unwrap_or(false)
    }

    /// Sends the next frame. Returns `Ok(false)` when all were sent.
    pub fn send_next(&mut self) -> Result<bool, VipError> {
        if self.remaining() == 0 {
            return Ok(false);
        }
        let frame = &self.frames[self.sent as usize % self.frames.len()];
        // SAFETY: sockaddr_ll is plain data.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = u16::from_be_bytes([frame[12], frame[13]]).to_be();
        sll.sll_ifindex = self.ifindex as i32;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&frame[..6]);
        // SAFETY: frame and address are valid for the call.
        let n = unsafe {
            libc::sendto(
                self.sock.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if n < 0 {
            return Err(VipError::io(
                format!("sending announcement on {}", self.nic),
                io::Error::last_os_error(),
            ));
        }
        self.sent += 1;
        Ok(true)
    }

    /// Sends the rest, blocking: sleeps `interval` before each frame and stops early if
    /// the address was removed meanwhile.
    pub fn send_rest_blocking(mut self) {
        while self.remaining() > 0 {
            std::thread::sleep(self.interval);
            if !self.still_owned() || self.send_next().is_err() {
                return;
            }
        }
    }
}

// ---- actions ----------------------------------------------------------------------

/// start: adds the address and sends the first announcement before returning. The
/// returned announcer holds the remaining frames (`arp_count - 1`), for the caller to
/// send in the background.
pub fn start(p: &VipParams) -> Result<Announcer, VipError> {
    let r = resolve(p)?;
    add_address(p, &r)?;
    let mut a = Announcer::new(p, &r, p.arp_count)?;
    a.send_next()?;
    Ok(a)
}

/// stop: removes `ip` if present (from `nic` if given, else wherever it is).
pub fn stop(ip: IpAddr, nic: Option<&str>) -> Result<(), VipError> {
    let addrs = addresses()?;
    let Some(found) = addrs
        .iter()
        .find(|a| a.addr == ip && nic.is_none_or(|n| n == a.nic))
    else {
        return Ok(());
    };
    let Some(idx) = ifindex(&found.nic) else {
        return Ok(());
    };
    del_address(ip, found.prefix, idx, &found.nic)
}

/// monitor: `Ok(None)` if not running, else the announcer for `arp_count_refresh`
/// frames (first one already sent) when that is non-zero.
pub fn monitor(p: &VipParams) -> Result<MonitorResult, VipError> {
    if !is_configured(p.ip, p.nic.as_deref())? {
        return Ok(MonitorResult::NotRunning);
    }
    if p.arp_count_refresh == 0 {
        return Ok(MonitorResult::Running(None));
    }
    let r = resolve(p)?;
    let mut a = Announcer::new(p, &r, p.arp_count_refresh)?;
    a.send_next()?;
    Ok(MonitorResult::Running(Some(a)))
}

pub enum MonitorResult {
    NotRunning,
    Running(Option<Announcer>),
}

pub fn meta_data() -> &'static str {
    r#"<?xml version="1.0"?>
<resource-agent name="VIP" version="0.1">
<version>1.1</version>
<longdesc lang="en">Native floating IP address (IPv4 or IPv6). Adds the address with one rtnetlink request and announces it with gratuitous ARP (IPv4) or an unsolicited neighbour advertisement (IPv6) from a raw socket; the first announcement leaves before start returns. Parameter names follow ocf:heartbeat:IPaddr2.</longdesc>
<shortdesc lang="en">Floating IP address (native, fast)</shortdesc>
<parameters>
<parameter name="ip" unique="1" required="1">
<longdesc lang="en">The IPv4 or IPv6 address to manage, e.g. 192.168.1.100.</longdesc>
<shortdesc lang="en">IP address</shortdesc>
<content type="string" default=""/>
</parameter>
<parameter name="cidr_netmask" required="0">
<longdesc lang="en">Prefix length (24) or dotted netmask (255.255.255.0). Default: the prefix of the interface subnet that contains ip.</longdesc>
<shortdesc lang="en">Prefix length</shortdesc>
<content type="string" default=""/>
</parameter>
<parameter name="nic" required="0">
<longdesc lang="en">Interface to put the address on. Default: the interface whose subnet contains ip.</longdesc>
<shortdesc lang="en">Network interface</shortdesc>
<content type="string" default=""/>
</parameter>
<parameter name="broadcast" required="0">
<longdesc lang="en">IPv4 broadcast address; default computed from the prefix; "none" for none.</longdesc>
<shortdesc lang="en">Broadcast address</shortdesc>
<content type="string" default=""/>
</parameter>
<parameter name="arp_count" required="0">
<longdesc lang="en">Number of announcements sent on start.</longdesc>
<shortdesc lang="en">Announcement count</shortdesc>
<content type="integer" default="5"/>
</parameter>
<parameter name="arp_interval" required="0">
<longdesc lang="en">Milliseconds between announcements.</longdesc>
<shortdesc lang="en">Announcement interval (ms)</shortdesc>
<content type="integer" default="200"/>
</parameter>
<parameter name="arp_count_refresh" required="0">
<longdesc lang="en">Number of announcements sent on each monitor while running.</longdesc>
<shortdesc lang="en">Announcements per monitor</shortdesc>
<content type="integer" default="0"/>
</parameter>
<parameter name="arp_mode" required="0">
<longdesc lang="en">Gratuitous ARP type: alternate (request and reply in turn), request or reply.</longdesc>
<shortdesc lang="en">Gratuitous ARP type</shortdesc>
<content type="select" default="alternate">
<option value="alternate"/>
<option value="request"/>
<option value="reply"/>
</content>
</parameter>
</parameters>
<actions>
<action name="start" timeout="20s"/>
<action name="stop" timeout="20s"/>
<action name="monitor" timeout="20s" interval="10s" depth="0"/>
<action name="meta-data" timeout="5s"/>
<action name="validate-all" timeout="20s"/>
</actions>
</resource-agent>
"#
}

/// Detaches the remaining announcements into a child process (new session, stdio on
/// /dev/null) so the agent can exit now without holding the executor's pipes.
fn send_rest_detached(a: Announcer) -> Result<(), VipError> {
    if a.remaining() == 0 {
        return Ok(());
    }
    // SAFETY: the executable is single-threaded, so the child may run normal code.
    match unsafe { libc::fork() } {
        -1 => Err(VipError::io("fork", io::Error::last_os_error())),
        0 => {
            // SAFETY: in the child; setsid/open/dup2/_exit are async-signal-safe.
            unsafe {
                libc::setsid();
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                if null >= 0 {
                    for fd in 0..3 {
                        libc::dup2(null, fd);
                    }
                }
            }
            a.send_rest_blocking();
            // SAFETY: leave without running the parent's atexit handlers.
            unsafe { libc::_exit(0) }
        }
        _ => Ok(()),
    }
}

/// What one action did, the same for the executable and the in-process form.
pub struct Outcome {
    pub rc: i32,
    /// What an OCF agent prints as `ocf-exit-reason:`.
    pub exit_reason: Option<String>,
    /// Announcements still to send (after start, or a monitor with
    /// `arp_count_refresh`); the caller sends them in the background.
    pub announcer: Option<Announcer>,
}

impl Outcome {
    fn rc(rc: i32) -> Self {
        Outcome {
            rc,
            exit_reason: None,
            announcer: None,
        }
    }
    fn failed(e: VipError) -> Self {
        Outcome {
            rc: e.rc(),
            exit_reason: Some(e.to_string()),
            announcer: None,
        }
    }
    fn from(r: Result<Option<Announcer>, VipError>) -> Self {
        match r {
            Ok(announcer) => Outcome {
                announcer,
                ..Outcome::rc(OCF_SUCCESS)
            },
            Err(e) => Outcome::failed(e),
        }
    }
}

/// Runs one action (not meta-data) with the resource's parameters.
pub fn run(action: &str, params: &HashMap<String, String>) -> Outcome {
    match action {
        "validate-all" => Outcome::from(validate(params).map(|_| None)),
        "start" => Outcome::from(VipParams::parse(params).and_then(|p| start(&p).map(Some))),
        // Whatever the parameters: nothing that cannot be parsed can be running.
        "stop" => match lookup_target(params) {
            None => Outcome::rc(OCF_SUCCESS),
            Some((ip, nic)) => Outcome::from(stop(ip, nic.as_deref()).map(|()| None)),
        },
        "monitor" | "status" => monitor_action(params),
        _ => Outcome {
            exit_reason: Some(format!("action '{action}' is not implemented")),
            ..Outcome::rc(OCF_ERR_UNIMPLEMENTED)
        },
    }
}

/// monitor: "not running" when the address is not here, whatever the parameters
/// (so a probe of a misconfigured resource is an answer, not a failure); a running
/// address with parameters that no longer parse is "not configured".
fn monitor_action(params: &HashMap<String, String>) -> Outcome {
    let Some((ip, nic)) = lookup_target(params) else {
        return Outcome::rc(OCF_NOT_RUNNING);
    };
    match is_configured(ip, nic.as_deref()) {
        Ok(false) => return Outcome::rc(OCF_NOT_RUNNING),
        Ok(true) => {}
        Err(e) => return Outcome::failed(e),
    }
    match VipParams::parse(params).and_then(|p| monitor(&p)) {
        Ok(MonitorResult::NotRunning) => Outcome::rc(OCF_NOT_RUNNING),
        Ok(MonitorResult::Running(a)) => Outcome::from(Ok(a)),
        Err(e) => Outcome::failed(e),
    }
}

/// Entry point of the executable form. Returns the exit code.
pub fn ocf_main(args: &[String]) -> i32 {
    let Some(action) = args.get(1).map(String::as_str) else {
        eprintln!("usage: VIP {{start|stop|monitor|validate-all|meta-data}}");
        return OCF_ERR_ARGS;
    };
    if action == "meta-data" {
        print!("{}", meta_data());
        return OCF_SUCCESS;
    }
    let params: HashMap<String, String> = std::env::vars()
        .filter_map(|(k, v)| {
            k.strip_prefix("OCF_RESKEY_")
                .filter(|k| !k.starts_with("CRM_meta_"))
                .map(|k| (k.to_string(), v))
        })
        .collect();
    let mut out = run(action, &params);
    if let Some(a) = out.announcer.take() {
        if let Err(e) = send_rest_detached(a) {
            out = Outcome::failed(e);
        }
    }
    if let Some(r) = &out.exit_reason {
        eprintln!("ocf-exit-reason:{r}");
    }
    out.rc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(kv: &[(&str, &str)]) -> HashMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_ipaddr2_parameters() {
        let p = VipParams::parse(&params(&[
            ("ip", "10.0.0.5"),
            ("cidr_netmask", "255.255.255.0"),
            ("nic", "eth0:vip"),
            ("arp_count", "3"),
        ]))
        .unwrap();
        assert_eq!(p.prefix, Some(24));
        assert_eq!(p.nic.as_deref(), Some("eth0"));
        assert_eq!(p.arp_count, 3);
        assert_eq!(p.arp_interval, Duration::from_millis(200));
    }

    #[test]
    fn bad_parameters_name_the_parameter_and_give_rc_6() {
        let e = VipParams::parse(&params(&[])).unwrap_err();
        assert_eq!(e.rc(), OCF_ERR_CONFIGURED);
        assert!(e.to_string().contains("'ip'"));
        let e = VipParams::parse(&params(&[("ip", "10.77.0.300")])).unwrap_err();
        assert_eq!(e.rc(), OCF_ERR_CONFIGURED);
        assert!(e.to_string().contains("ip"));
        let e =
            VipParams::parse(&params(&[("ip", "10.0.0.1"), ("cidr_netmask", "33")])).unwrap_err();
        assert!(e.to_string().contains("cidr_netmask"));
        let e = VipParams::parse(&params(&[("ip", "10.0.0.1"), ("arp_count", "-1")])).unwrap_err();
        assert!(e.to_string().contains("arp_count"));
    }

    #[test]
    fn subnet_math() {
        let n: IpAddr = "10.1.2.3".parse().unwrap();
        assert!(in_subnet(n, 24, "10.1.2.200".parse().unwrap()));
        assert!(!in_subnet(n, 24, "10.1.3.1".parse().unwrap()));
        assert!(in_subnet(n, 0, "1.1.1.1".parse().unwrap()));
        assert_eq!(
            default_broadcast(Ipv4Addr::new(10, 1, 2, 3), 24),
            Some(Ipv4Addr::new(10, 1, 2, 255))
        );
        assert_eq!(default_broadcast(Ipv4Addr::new(10, 1, 2, 3), 32), None);
    }

    #[test]
    fn garp_frame_layout() {
        let mac = [2, 0, 0, 0, 0, 1];
        let f = garp_frame(mac, Ipv4Addr::new(10, 0, 0, 9), 2);
        assert_eq!(f.len(), 60);
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert_eq!(&f[20..22], &[0, 2]);
        assert_eq!(&f[28..32], &[10, 0, 0, 9]);
        assert_eq!(&f[38..42], &[10, 0, 0, 9]);
    }

    #[test]
    fn na_checksum_verifies() {
        let ip: Ipv6Addr = "fd00::10".parse().unwrap();
        let f = unsolicited_na_frame([2, 0, 0, 0, 0, 1], ip);
        // Recompute over pseudo-header + ICMPv6 including the checksum: must be 0xffff.
        let icmp = &f[54..];
        let mut sum: u32 = 0;
        let mut words = Vec::new();
        words.extend_from_slice(&f[22..54]);
        words.extend_from_slice(&(icmp.len() as u32).to_be_bytes());
        words.extend_from_slice(&[0, 0, 0, 58]);
        words.extend_from_slice(icmp);
        for c in words.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        while sum >> 16 != 0 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        assert_eq!(sum, 0xffff);
        assert_eq!(icmp[0], 136);
    }
}
