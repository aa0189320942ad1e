//! The native fence_xvm client: multicast request, TCP call-back, challenge/response
//! in both directions, result byte and host list. Every wait is bounded.

use super::proto::{
    challenge_response, hashes_equal, FenceKey, HashType, HostRecord, Op, ProtoError, Request,
    ResultCode, DEFAULT_GROUP_V4, DEFAULT_PORT, HASH_FIELD_LEN, HOST_RECORD_LEN,
};
use rand::RngCore;
use socket2::{Domain, Protocol, Socket, Type};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// Most records a host list may have before we call it garbage.
const MAX_HOST_RECORDS: usize = 65536;

/// How to reach fence_virtd.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub key: FenceKey,
    /// Request signature hash; fence_virtd drops requests weaker than its minimum.
    pub hash: HashType,
    /// Challenge/response hash; must equal fence_virtd's `auth`.
    pub auth: HashType,
    /// Multicast group (IPv4 or IPv6; the family follows from it).
    pub group: IpAddr,
    /// Multicast port.
    pub port: u16,
    /// TCP call-back port written into the request; 0 picks a free one, so concurrent
    /// operations never fight over a fixed port.
    pub callback_port: u16,
    /// How long to wait for the call-back, and for each later step.
    pub timeout: Duration,
    /// Resend interval (same seqno) until the call-back arrives.
    pub retrans: Duration,
    /// Multicast TTL / hop limit.
    pub ttl: u32,
    /// Local addresses to send from (and be called back on); empty = every address
    /// of the group's family (IPv6: not ::1 or link-local, which cannot be called back).
    pub sources: Vec<IpAddr>,
}

impl ClientConfig {
    /// fence_xvm's defaults: 225.0.0.12:1229, sha256/sha256, 30 s, resend every 2 s.
    pub fn new(key: FenceKey) -> ClientConfig {
        ClientConfig {
            key,
            hash: HashType::Sha256,
            auth: HashType::Sha256,
            group: IpAddr::V4(DEFAULT_GROUP_V4),
            port: DEFAULT_PORT,
            callback_port: 0,
            timeout: Duration::from_secs(30),
            retrans: Duration::from_secs(2),
            ttl: 2,
            sources: Vec::new(),
        }
    }
}

/// Power state reported by `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerState {
    On,
    /// Off, or a domain fence_virtd does not know (it cannot tell them apart).
    Off,
}

impl fmt::Display for PowerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PowerState::On => "ON",
            PowerState::Off => "OFF",
        })
    }
}

/// What went wrong talking to fence_virtd.
#[derive(Debug, thiserror::Error)]
pub enum XvmError {
    #[error(transparent)]
    Proto(#[from] ProtoError),
    #[error("{0}")]
    Config(String),
    #[error("no local {family} address to send the request from and be called back on")]
    NoSourceAddress { family: &'static str },
    #[error("cannot listen for fence_virtd's call-back on port {port}: {source}")]
    Listen {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot send the request to {group}:{port} from any local address ({source})")]
    Send {
        group: IpAddr,
        port: u16,
        #[source]
        source: SendError,
    },
    #[error(
        "no answer from fence_virtd within {:.1}s (request to {group}:{port} from {sources}, hash {hash}): \
         check the multicast route, the key and the hash type \
         (fence_virtd silently drops requests it cannot verify or whose hash is weaker than its minimum)",
        waited.as_secs_f32()
    )]
    NoAnswer {
        waited: Duration,
        group: IpAddr,
        port: u16,
        hash: HashType,
        sources: String,
    },
    #[error(
        "fence_virtd answered our challenge wrongly: the key or the auth hash ({auth}) \
         differs from fence_virtd's"
    )]
    ChallengeFailed { auth: HashType },
    #[error(
        "fence_virtd closed the connection {when}: it did not accept our challenge response, \
         so the key or the auth hash ({auth}) differs from fence_virtd's"
    )]
    Rejected { auth: HashType, when: &'static str },
    #[error("fence_virtd did not {step} within {:.1}s", waited.as_secs_f32())]
    StepTimeout {
        step: &'static str,
        waited: Duration,
    },
    #[error("connection to fence_virtd failed while waiting to {step}: {source}")]
    Io {
        step: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("fence_virtd failed to {op} {domain:?}")]
    Failed { op: Op, domain: String },
    #[error("fence_virtd denied {op} of {domain:?} (its static permission map excludes us)")]
    PermissionDenied { op: Op, domain: String },
    #[error("fence_virtd sent unexpected result {code} for {op}")]
    UnexpectedResult { op: Op, code: u8 },
    #[error("malformed host list from fence_virtd: {0}")]
    BadHostList(String),
}

/// The raw outcome of one exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub code: ResultCode,
    /// Only for [`Op::HostList`].
    pub hosts: Vec<HostRecord>,
    pub seqno: u32,
}

/// A fence_xvm client; cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    cfg: ClientConfig,
}

impl Client {
    pub fn new(cfg: ClientConfig) -> Result<Client, XvmError> {
        if cfg.timeout.is_zero() {
            return Err(XvmError::Config("timeout must be positive".into()));
        }
        if cfg.retrans.is_zero() {
            return Err(XvmError::Config("retrans must be positive".into()));
        }
        if !cfg.group.is_multicast() {
            return Err(XvmError::Config(format!(
                "{} is not a multicast address",
                cfg.group
            )));
        }
        if let Some(bad) = cfg
            .sources
            .iter()
            .find(|s| s.is_ipv4() != cfg.group.is_ipv4())
        {
            return Err(XvmError::Config(format!(
                "source address {bad} is not of the multicast group's family ({})",
                cfg.group
            )));
        }
        Ok(Client { cfg })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    /// `status`: ON or OFF (OFF also for a domain fence_virtd does not know).
    pub async fn status(&self, domain: &str) -> Result<PowerState, XvmError> {
        let r = self.request(Op::Status, domain).await?;
        match r.code {
            ResultCode::Success => Ok(PowerState::On),
            ResultCode::Off => Ok(PowerState::Off),
            code => Err(result_error(Op::Status, domain, code)),
        }
    }

    pub async fn off(&self, domain: &str) -> Result<(), XvmError> {
        self.expect_success(Op::Off, domain).await
    }

    pub async fn on(&self, domain: &str) -> Result<(), XvmError> {
        self.expect_success(Op::On, domain).await
    }

    /// Note: fence_virtd's reboot of a domain that is off leaves it off.
    pub async fn reboot(&self, domain: &str) -> Result<(), XvmError> {
        self.expect_success(Op::Reboot, domain).await
    }

    /// fence_virtd's `monitor`: proves the daemon answers and shares our key.
    pub async fn monitor(&self) -> Result<(), XvmError> {
        self.expect_success(Op::Monitor, "").await
    }

    /// The domains fence_virtd can fence (only those we may, with a permission map).
    pub async fn list(&self) -> Result<Vec<HostRecord>, XvmError> {
        let r = self.request(Op::HostList, "").await?;
        match r.code {
            ResultCode::HostList => Ok(r.hosts),
            code => Err(result_error(Op::HostList, "", code)),
        }
    }

    async fn expect_success(&self, op: Op, domain: &str) -> Result<(), XvmError> {
        let r = self.request(op, domain).await?;
        match r.code {
            ResultCode::Success => Ok(()),
            code => Err(result_error(op, domain, code)),
        }
    }

    /// One operation: a fresh seqno, sent (and resent with the same seqno) until
    /// fence_virtd calls back or the timeout passes.
    pub async fn request(&self, op: Op, domain: &str) -> Result<Reply, XvmError> {
        let cfg = &self.cfg;
        if op.needs_domain() && domain.is_empty() {
            return Err(XvmError::Config(format!("{op} needs a domain name")));
        }
        let v6 = cfg.group.is_ipv6();
        let family = if v6 { "IPv6" } else { "IPv4" };
        let sources = if cfg.sources.is_empty() {
            local_sources(v6)
        } else {
            cfg.sources.iter().map(|&a| (a, 0)).collect()
        };
        if sources.is_empty() {
            return Err(XvmError::NoSourceAddress { family });
        }
        let listener = listen(v6, cfg.callback_port)?;
        let cb_port = listener
            .local_addr()
            .map_err(|source| XvmError::Listen {
                port: cfg.callback_port,
                source,
            })?
            .port();

        // ThreadRng is not Send: keep it out of the awaits so the future can move
        // between threads (the fencer runs on the daemon's multi-threaded runtime).
        let (seqno, random) = {
            let mut rng = rand::thread_rng();
            let mut random = [0u8; 6];
            if cfg.hash != HashType::None {
                rng.fill_bytes(&mut random);
            }
            (rng.next_u32(), random)
        };
        // One signed copy per source address, each naming that address for the call-back.
        let mut copies = Vec::with_capacity(sources.len());
        for &(addr, ifindex) in &sources {
            let req = Request {
                op,
                hash: cfg.hash,
                flags: 0,
                domain: domain.to_string(),
                address: addr,
                port: cb_port,
                random,
                seqno,
            };
            let bytes = req.encode(&cfg.key)?;
            match sender(addr, ifindex, cfg.ttl) {
                Ok(sock) => copies.push((addr, sock, bytes)),
                Err(e) => tracing::debug!(%addr, error = %e, "cannot open multicast sender"),
            }
        }
        let dest = SocketAddr::new(cfg.group, cfg.port);
        let src_list = sources
            .iter()
            .map(|(a, _)| a.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        tracing::debug!(%op, domain, seqno, %dest, sources = %src_list, "fence_xvm request");

        let start = Instant::now();
        let deadline = start + cfg.timeout;
        let stream = loop {
            send_all(&copies, dest, cfg)
                .await
                .map_err(|source| XvmError::Send {
                    group: cfg.group,
                    port: cfg.port,
                    source,
                })?;
            let now = Instant::now();
            if now >= deadline {
                break None;
            }
            let wait = cfg.retrans.min(deadline - now);
            match tokio::time::timeout(wait, listener.accept()).await {
                Ok(Ok((s, peer))) => {
                    tracing::debug!(%peer, seqno, "fence_virtd called back");
                    break Some(s);
                }
                Ok(Err(source)) => {
                    return Err(XvmError::Io {
                        step: "accept the call-back",
                        source,
                    })
                }
                Err(_) if Instant::now() >= deadline => break None,
                Err(_) => tracing::debug!(seqno, "no call-back yet; resending"),
            }
        };
        drop(listener);
        let Some(mut stream) = stream else {
            return Err(XvmError::NoAnswer {
                waited: start.elapsed(),
                group: cfg.group,
                port: cfg.port,
                hash: cfg.hash,
                sources: src_list,
            });
        };
        let _ = stream.set_nodelay(true);
        self.authenticate(&mut stream).await?;
        let code = match read_exact_bounded(&mut stream, 1, cfg.timeout, "send the result").await {
            Ok(b) => ResultCode::from_byte(b[0]),
            Err(XvmError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::UnexpectedEof
                    && cfg.auth != HashType::None =>
            {
                // fence_virtd hangs up without a result when our response was wrong.
                return Err(XvmError::Rejected {
                    auth: cfg.auth,
                    when: "instead of sending a result",
                });
            }
            Err(e) => return Err(e),
        };
        let mut hosts = Vec::new();
        if code == ResultCode::HostList {
            hosts = read_host_list(&mut stream, cfg.timeout).await?;
        }
        tracing::debug!(%op, domain, seqno, ?code, elapsed_us = start.elapsed().as_micros() as u64, "fence_xvm reply");
        Ok(Reply { code, hosts, seqno })
    }

    /// Challenge/response, the client challenging first.
    async fn authenticate(&self, s: &mut TcpStream) -> Result<(), XvmError> {
        let cfg = &self.cfg;
        if cfg.auth == HashType::None {
            return Ok(());
        }
        let mut c1 = [0u8; HASH_FIELD_LEN];
        rand::thread_rng().fill_bytes(&mut c1);
        write_bounded(s, &c1, cfg.timeout, "read our challenge").await?;
        let r1 = read64(s, cfg.timeout, "answer our challenge", cfg.auth).await?;
        if !hashes_equal(&r1, &challenge_response(cfg.auth, &cfg.key, &c1)) {
            return Err(XvmError::ChallengeFailed { auth: cfg.auth });
        }
        let c2 = read64(s, cfg.timeout, "send its challenge", cfg.auth).await?;
        let r2 = challenge_response(cfg.auth, &cfg.key, &c2);
        write_bounded(s, &r2, cfg.timeout, "read our response").await?;
        Ok(())
    }
}

fn result_error(op: Op, domain: &str, code: ResultCode) -> XvmError {
    let domain = domain.to_string();
    match code {
        ResultCode::Fail => XvmError::Failed { op, domain },
        ResultCode::PermissionDenied => XvmError::PermissionDenied { op, domain },
        ResultCode::Success => XvmError::UnexpectedResult { op, code: 0 },
        ResultCode::Off => XvmError::UnexpectedResult { op, code: 2 },
        ResultCode::HostList => XvmError::UnexpectedResult { op, code: 253 },
        ResultCode::Other(c) => XvmError::UnexpectedResult { op, code: c },
    }
}

async fn read64(
    s: &mut TcpStream,
    timeout: Duration,
    step: &'static str,
    auth: HashType,
) -> Result<[u8; HASH_FIELD_LEN], XvmError> {
    match read_exact_bounded(s, HASH_FIELD_LEN, timeout, step).await {
        Ok(v) => {
            let mut out = [0u8; HASH_FIELD_LEN];
            out.copy_from_slice(&v);
            Ok(out)
        }
        Err(XvmError::Io { source, .. }) if source.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err(XvmError::Rejected {
                auth,
                when: "during authentication",
            })
        }
        Err(e) => Err(e),
    }
}

async fn read_exact_bounded(
    s: &mut TcpStream,
    n: usize,
    timeout: Duration,
    step: &'static str,
) -> Result<Vec<u8>, XvmError> {
    let mut buf = vec![0u8; n];
    match tokio::time::timeout(timeout, s.read_exact(&mut buf)).await {
        Ok(Ok(_)) => Ok(buf),
        Ok(Err(source)) => Err(XvmError::Io { step, source }),
        Err(_) => Err(XvmError::StepTimeout {
            step,
            waited: timeout,
        }),
    }
}

async fn write_bounded(
    s: &mut TcpStream,
    data: &[u8],
    timeout: Duration,
    step: &'static str,
) -> Result<(), XvmError> {
    match tokio::time::timeout(timeout, s.write_all(data)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(source)) => Err(XvmError::Io { step, source }),
        Err(_) => Err(XvmError::StepTimeout {
            step,
            waited: timeout,
        }),
    }
}

async fn read_host_list(s: &mut TcpStream, timeout: Duration) -> Result<Vec<HostRecord>, XvmError> {
    let mut hosts = Vec::new();
    loop {
        let rec = read_exact_bounded(s, HOST_RECORD_LEN, timeout, "send the host list").await?;
        let mut arr = [0u8; HOST_RECORD_LEN];
        arr.copy_from_slice(&rec);
        match HostRecord::parse(&arr) {
            Some(h) => hosts.push(h),
            None => break,
        }
        if hosts.len() > MAX_HOST_RECORDS {
            return Err(XvmError::BadHostList(format!(
                "more than {MAX_HOST_RECORDS} records without a terminator"
            )));
        }
    }
    // fence_virtd sends the backend's return value after the terminator; it carries
    // nothing we need, so do not wait long for it.
    let _ = read_exact_bounded(s, 1, timeout.min(Duration::from_millis(100)), "finish").await;
    Ok(hosts)
}

/// Local addresses to send from, with their interface index (for IPv6 pinning).
fn local_sources(v6: bool) -> Vec<(IpAddr, u32)> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut out: Vec<(IpAddr, u32)> = Vec::new();
    for ifa in addrs {
        let Some(sa) = ifa.address else { continue };
        let ifindex = nix::net::if_::if_nametoindex(ifa.interface_name.as_str()).unwrap_or(0);
        let ip = if let Some(v4) = sa.as_sockaddr_in() {
            IpAddr::V4(v4.ip())
        } else if let Some(v6a) = sa.as_sockaddr_in6() {
            IpAddr::V6(v6a.ip())
        } else {
            continue;
        };
        let keep = match ip {
            IpAddr::V4(_) => !v6,
            // fence_virtd calls back with scope id 0: ::1 and link-local cannot work.
            IpAddr::V6(a) => v6 && !a.is_loopback() && (a.segments()[0] & 0xffc0) != 0xfe80,
        };
        if keep && !out.iter().any(|(a, _)| *a == ip) {
            out.push((ip, ifindex));
        }
    }
    // Non-loopback first: that is where the hypervisor usually is.
    out.sort_by_key(|(a, _)| a.is_loopback());
    out
}

fn listen(v6: bool, port: u16) -> Result<TcpListener, XvmError> {
    let err = |source| XvmError::Listen { port, source };
    let (domain, addr) = if v6 {
        (
            Domain::IPV6,
            SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
        )
    } else {
        (
            Domain::IPV4,
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
        )
    };
    let sock = Socket::new(domain, Type::STREAM, Some(Protocol::TCP)).map_err(err)?;
    sock.set_reuse_address(true).map_err(err)?;
    sock.set_nonblocking(true).map_err(err)?;
    sock.bind(&addr.into()).map_err(err)?;
    sock.listen(16).map_err(err)?;
    TcpListener::from_std(sock.into()).map_err(err)
}

/// A UDP socket that sends multicast out of the interface owning `addr`.
fn sender(addr: IpAddr, ifindex: u32, ttl: u32) -> std::io::Result<UdpSocket> {
    let sock = match addr {
        IpAddr::V4(a) => {
            let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
            s.set_multicast_ttl_v4(ttl)?;
            s.set_multicast_if_v4(&a)?;
            s
        }
        IpAddr::V6(_) => {
            let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
            s.set_multicast_hops_v6(ttl)?;
            if ifindex != 0 {
                s.set_multicast_if_v6(ifindex)?;
            }
            s
        }
    };
    sock.set_nonblocking(true)?;
    UdpSocket::from_std(sock.into())
}

/// Why no copy of a request could be sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// There was no socket to send from.
    #[error("no usable socket")]
    NoSocket,
    /// Every copy failed, each for its reason.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    AllFailed(Vec<CopyError>),
}

/// Why one copy (from one local address) was not sent.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("from {addr}: {source}")]
    Io {
        addr: IpAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("from {addr}: send timed out")]
    TimedOut { addr: IpAddr },
}

/// Sends every copy once; fails only if none could be sent.
async fn send_all(
    copies: &[(IpAddr, UdpSocket, [u8; 176])],
    dest: SocketAddr,
    cfg: &ClientConfig,
) -> Result<(), SendError> {
    let mut sent = 0;
    let mut errors = Vec::new();
    for (addr, sock, bytes) in copies {
        let addr = *addr;
        match tokio::time::timeout(cfg.retrans, sock.send_to(bytes, dest)).await {
            Ok(Ok(_)) => sent += 1,
            Ok(Err(source)) => errors.push(CopyError::Io { addr, source }),
            Err(_) => errors.push(CopyError::TimedOut { addr }),
        }
    }
    if sent == 0 {
        return Err(if errors.is_empty() {
            SendError::NoSocket
        } else {
            SendError::AllFailed(errors)
        });
    }
    for e in &errors {
        tracing::debug!(error = %e, "multicast copy not sent");
    }
    Ok(())
}
