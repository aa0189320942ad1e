//! Test harness: a small lab of network namespaces (a node and a client, each with a
//! veth into a bridge that lives in its own namespace), helpers to run code inside a
//! namespace (a thread that `setns`es), and a raw-socket ARP capture.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::time::{Duration, Instant};

/// Whether root-only tests may run; fails loudly unless explicitly skipped.
pub fn require_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var("HACTL_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
        eprintln!("skipped: needs root (HACTL_SKIP_ROOT_TESTS=1)");
        return false;
    }
    panic!("this test needs root (network namespaces); set HACTL_SKIP_ROOT_TESTS=1 to skip");
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// node ns `hx-e<tag>-n` (iface `hx-e<tag>n0`, 10.66.0.1/24), client ns `hx-e<tag>-c`
/// (iface `hx-e<tag>c0`, 10.66.0.2/24), bridge ns `hx-e<tag>-s`. Removed on drop.
pub struct Lab {
    pub node: String,
    pub client: String,
    pub switch: String,
    pub node_if: String,
    pub client_if: String,
}

impl Lab {
    pub fn new(tag: &str) -> Lab {
        assert!(tag.len() <= 4, "tag too long for interface names");
        let lab = Lab {
            node: format!("hx-e{tag}-n"),
            client: format!("hx-e{tag}-c"),
            switch: format!("hx-e{tag}-s"),
            node_if: format!("hx-e{tag}n0"),
            client_if: format!("hx-e{tag}c0"),
        };
        lab.remove();
        for ns in [&lab.switch, &lab.node, &lab.client] {
            ip(&["netns", "add", ns]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        let br = format!("hx-e{tag}br");
        ip(&["-n", &lab.switch, "link", "add", &br, "type", "bridge"]);
        ip(&["-n", &lab.switch, "link", "set", &br, "up"]);
        for (ns, ifname, addr, side) in [
            (
                &lab.node,
                &lab.node_if,
                "10.66.0.1/24",
                format!("hx-e{tag}ns"),
            ),
            (
                &lab.client,
                &lab.client_if,
                "10.66.0.2/24",
                format!("hx-e{tag}cs"),
            ),
        ] {
            ip(&[
                "link",
                "add",
                ifname,
                "netns",
                ns,
                "type",
                "veth",
                "peer",
                "name",
                &side,
                "netns",
                &lab.switch,
            ]);
            ip(&["-n", &lab.switch, "link", "set", &side, "master", &br, "up"]);
            ip(&["-n", ns, "addr", "add", addr, "dev", ifname]);
            ip(&["-n", ns, "link", "set", ifname, "up"]);
        }
        lab
    }

    fn remove(&self) {
        for ns in [&self.node, &self.client, &self.switch] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }

    /// MAC address of the node's interface.
    pub fn node_mac(&self) -> [u8; 6] {
        let ifname = self.node_if.clone();
        in_netns(&self.node, move || {
            let out = Command::new("ip")
                .args(["-o", "link", "show", &ifname])
                .output()
                .unwrap();
            let s = String::from_utf8_lossy(&out.stdout).to_string();
            let mac = s
                .split("link/ether ")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .to_string();
            let mut m = [0u8; 6];
            for (i, p) in mac.split(':').enumerate() {
                m[i] = u8::from_str_radix(p, 16).unwrap();
            }
            m
        })
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Runs `f` on a thread that has joined network namespace `ns`.
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    hactl_lab::in_netns(ns, f).unwrap_or_else(|e| panic!("{e}"))
}

/// A raw AF_PACKET socket capturing ARP on `ifname` in `ns` (open before the action
/// that should produce frames; the kernel queues them until read).
pub struct ArpCapture {
    fd: OwnedFd,
}

/// A gratuitous ARP seen on the wire.
#[derive(Debug, Clone)]
pub struct Garp {
    pub at: Instant,
    pub op: u16,
    pub sender_mac: [u8; 6],
}

impl ArpCapture {
    pub fn open(ns: &str, ifname: &str) -> ArpCapture {
        Self::open_ethertype(ns, ifname, 0x0806)
    }

    /// Captures IPv6 (for neighbour advertisements) instead of ARP.
    pub fn open_ipv6(ns: &str, ifname: &str) -> ArpCapture {
        Self::open_ethertype(ns, ifname, 0x86DD)
    }

    fn open_ethertype(ns: &str, ifname: &str, ethertype: u16) -> ArpCapture {
        let ifname = ifname.to_string();
        let fd = in_netns(ns, move || {
            let proto = ethertype.to_be() as i32;
            // SAFETY: plain socket call.
            let fd = unsafe {
                libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto)
            };
            assert!(
                fd >= 0,
                "packet socket: {}",
                std::io::Error::last_os_error()
            );
            // SAFETY: fresh fd.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            let c = std::ffi::CString::new(ifname).unwrap();
            // SAFETY: valid C string.
            let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
            // SAFETY: zeroed sockaddr_ll is valid.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto as u16;
            sll.sll_ifindex = idx as i32;
            // SAFETY: sll valid for the call.
            let rc = unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    (&sll as *const libc::sockaddr_ll).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as u32,
                )
            };
            assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
            fd
        });
        ArpCapture { fd }
    }

    /// Drops frames already queued.
    pub fn flush(&self) {
        let mut buf = [0u8; 2048];
        // SAFETY: buf writable; MSG_DONTWAIT never blocks.
        while unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        } > 0
        {}
    }

    /// Waits (bounded) for an unsolicited neighbour advertisement (ICMPv6 136 to
    /// ff02::1, override flag) for `vip`; returns the advertised link-layer address.
    pub fn next_na(&self, vip: std::net::Ipv6Addr, deadline: Instant) -> Option<[u8; 6]> {
        let mut buf = [0u8; 2048];
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut pfd, 1, left.as_millis().max(1) as i32) } <= 0 {
                continue;
            }
            // SAFETY: buf writable.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 86 {
                continue;
            }
            let f = &buf[..n as usize];
            let dst: [u8; 16] = f[38..54].try_into().ok()?;
            let icmp = &f[54..];
            if f[20] == 58
                && std::net::Ipv6Addr::from(dst) == "ff02::1".parse::<std::net::Ipv6Addr>().ok()?
                && icmp[0] == 136
                && icmp[4] & 0x20 != 0
                && icmp[8..24] == vip.octets()
                && icmp[24] == 2
            {
                let mut mac = [0u8; 6];
                mac.copy_from_slice(&icmp[26..32]);
                return Some(mac);
            }
        }
    }

    /// Waits (bounded) for the next gratuitous ARP announcing `vip`.
    pub fn next_garp(&self, vip: std::net::Ipv4Addr, deadline: Instant) -> Option<Garp> {
        let mut buf = [0u8; 2048];
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis().max(1) as i32) };
            if n <= 0 {
                continue;
            }
            // SAFETY: buf writable.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            let at = Instant::now();
            if n < 42 {
                continue;
            }
            let f = &buf[..n as usize];
            let spa = &f[28..32];
            let tpa = &f[38..42];
            if f[12..14] == [0x08, 0x06] && spa == vip.octets() && tpa == vip.octets() {
                let mut mac = [0u8; 6];
                mac.copy_from_slice(&f[22..28]);
                return Some(Garp {
                    at,
                    op: u16::from_be_bytes([f[20], f[21]]),
                    sender_mac: mac,
                });
            }
        }
    }
}

/// A TCP server on `addr` inside `ns` that answers each connection with `reply`.
pub fn serve(ns: &str, addr: SocketAddr, reply: &'static str) {
    let listener = in_netns(ns, move || {
        TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"))
    });
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let _ = s.write_all(reply.as_bytes());
        }
    });
}

/// Connects from `ns` to `addr` and reads the whole reply.
pub fn fetch(ns: &str, addr: SocketAddr) -> std::io::Result<String> {
    in_netns(ns, move || {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    })
}

pub fn vip_addr() -> IpAddr {
    "10.66.0.100".parse().unwrap()
}
