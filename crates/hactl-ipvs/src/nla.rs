//! The IPVS generic-netlink family's attributes (`include/uapi/linux/ip_vs.h`), as
//! netlink-packet-core [`Nla`]s. Values keep the kernel's encodings (ports and the
//! IPv4 persistence netmask in network order, addresses as a 16-byte
//! `nf_inet_addr`); [`crate::types`] turns them into Rust types.

use netlink_packet_core::{
    emit_u16, emit_u16_be, emit_u32, parse_string, parse_u16, parse_u16_be, parse_u32, parse_u64,
    DecodeError, DefaultNla, Emitable, ErrorContext, Nla, NlaBuffer, NlasIterator, Parseable,
};

// Commands (enum ipvs_cmd).
pub const IPVS_CMD_NEW_SERVICE: u8 = 1;
pub const IPVS_CMD_SET_SERVICE: u8 = 2;
pub const IPVS_CMD_DEL_SERVICE: u8 = 3;
pub const IPVS_CMD_GET_SERVICE: u8 = 4;
pub const IPVS_CMD_NEW_DEST: u8 = 5;
pub const IPVS_CMD_SET_DEST: u8 = 6;
pub const IPVS_CMD_DEL_DEST: u8 = 7;
pub const IPVS_CMD_GET_DEST: u8 = 8;
pub const IPVS_CMD_NEW_DAEMON: u8 = 9;
pub const IPVS_CMD_DEL_DAEMON: u8 = 10;
pub const IPVS_CMD_GET_DAEMON: u8 = 11;

const IPVS_CMD_ATTR_SERVICE: u16 = 1;
const IPVS_CMD_ATTR_DEST: u16 = 2;
const IPVS_CMD_ATTR_DAEMON: u16 = 3;

const SVC_AF: u16 = 1;
const SVC_PROTOCOL: u16 = 2;
const SVC_ADDR: u16 = 3;
const SVC_PORT: u16 = 4;
const SVC_FWMARK: u16 = 5;
const SVC_SCHED_NAME: u16 = 6;
const SVC_FLAGS: u16 = 7;
const SVC_TIMEOUT: u16 = 8;
const SVC_NETMASK: u16 = 9;
const SVC_STATS: u16 = 10;

const DEST_ADDR: u16 = 1;
const DEST_PORT: u16 = 2;
const DEST_FWD_METHOD: u16 = 3;
const DEST_WEIGHT: u16 = 4;
const DEST_U_THRESH: u16 = 5;
const DEST_L_THRESH: u16 = 6;
const DEST_ACTIVE_CONNS: u16 = 7;
const DEST_INACT_CONNS: u16 = 8;
const DEST_PERSIST_CONNS: u16 = 9;
const DEST_STATS: u16 = 10;
const DEST_ADDR_FAMILY: u16 = 11;

const DAEMON_STATE: u16 = 1;
const DAEMON_MCAST_IFN: u16 = 2;
const DAEMON_SYNC_ID: u16 = 3;

const STATS_CONNS: u16 = 1;
const STATS_INPKTS: u16 = 2;
const STATS_OUTPKTS: u16 = 3;
const STATS_INBYTES: u16 = 4;
const STATS_OUTBYTES: u16 = 5;

/// `union nf_inet_addr`: the kernel copies 16 bytes whatever the family.
pub type InetAddr = [u8; 16];

/// Top-level attributes of an IPVS message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CmdAttr {
    Service(Vec<SvcAttr>),
    Dest(Vec<DestAttr>),
    Daemon(Vec<DaemonAttr>),
    Other(DefaultNla),
}

/// `IPVS_SVC_ATTR_*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SvcAttr {
    Af(u16),
    Protocol(u16),
    Addr(InetAddr),
    /// Host order here, network order on the wire.
    Port(u16),
    Fwmark(u32),
    SchedName(String),
    /// `struct ip_vs_flags { flags, mask }`.
    Flags {
        flags: u32,
        mask: u32,
    },
    /// Persistence timeout, seconds.
    Timeout(u32),
    /// Raw: an IPv4 mask in network order, or an IPv6 prefix length.
    Netmask(u32),
    Stats(Vec<StatsAttr>),
    Other(DefaultNla),
}

/// `IPVS_DEST_ATTR_*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DestAttr {
    Addr(InetAddr),
    Port(u16),
    FwdMethod(u32),
    Weight(u32),
    UThresh(u32),
    LThresh(u32),
    ActiveConns(u32),
    InactConns(u32),
    PersistConns(u32),
    AddrFamily(u16),
    /// The real server's counters (read only).
    Stats(Vec<StatsAttr>),
    Other(DefaultNla),
}

/// `IPVS_DAEMON_ATTR_*` (the connection-sync daemon).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaemonAttr {
    /// `IP_VS_STATE_MASTER` (1) or `IP_VS_STATE_BACKUP` (2).
    State(u32),
    McastIfn(String),
    SyncId(u32),
    Other(DefaultNla),
}

/// `IPVS_STATS_ATTR_*` (the 32-bit set; counters that matter for status).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatsAttr {
    Conns(u32),
    InPkts(u32),
    OutPkts(u32),
    InBytes(u64),
    OutBytes(u64),
    Other(DefaultNla),
}

/// A list of attributes nested in one attribute.
fn nested_len<T: Nla>(v: &[T]) -> usize {
    v.buffer_len()
}

fn parse_nested<T>(payload: &[u8], what: &'static str) -> Result<Vec<T>, DecodeError>
where
    T: for<'a> Parseable<NlaBuffer<&'a [u8]>>,
{
    NlasIterator::new(payload)
        .map(|nla| nla.and_then(|nla| T::parse(&nla)))
        .collect::<Result<Vec<_>, _>>()
        .context(what)
}

fn emit_str(buf: &mut [u8], s: &str) {
    buf[..s.len()].copy_from_slice(s.as_bytes());
    buf[s.len()] = 0;
}

fn ok(r: Result<(), DecodeError>) {
    // The buffer was sized by value_len(), so an emit into it cannot be short.
    debug_assert!(r.is_ok(), "attribute emitted into a buffer sized for it");
}

fn parse_addr(payload: &[u8]) -> Result<InetAddr, DecodeError> {
    // The kernel sends the whole union (16 bytes); accept a bare IPv4 address too.
    if payload.len() != 16 && payload.len() != 4 {
        return Err(DecodeError::invalid_ip_address(payload.len()));
    }
    let mut a = [0u8; 16];
    a[..payload.len()].copy_from_slice(payload);
    Ok(a)
}

impl Nla for CmdAttr {
    fn value_len(&self) -> usize {
        match self {
            CmdAttr::Service(v) => nested_len(v),
            CmdAttr::Dest(v) => nested_len(v),
            CmdAttr::Daemon(v) => nested_len(v),
            CmdAttr::Other(n) => n.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        match self {
            CmdAttr::Service(_) => IPVS_CMD_ATTR_SERVICE,
            CmdAttr::Dest(_) => IPVS_CMD_ATTR_DEST,
            CmdAttr::Daemon(_) => IPVS_CMD_ATTR_DAEMON,
            CmdAttr::Other(n) => n.kind(),
        }
    }
    fn is_nested(&self) -> bool {
        !matches!(self, CmdAttr::Other(_))
    }
    fn emit_value(&self, buf: &mut [u8]) {
        match self {
            CmdAttr::Service(v) => v.as_slice().emit(buf),
            CmdAttr::Dest(v) => v.as_slice().emit(buf),
            CmdAttr::Daemon(v) => v.as_slice().emit(buf),
            CmdAttr::Other(n) => n.emit_value(buf),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for CmdAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let p = buf.value();
        Ok(match buf.kind() {
            IPVS_CMD_ATTR_SERVICE => CmdAttr::Service(parse_nested(p, "IPVS_CMD_ATTR_SERVICE")?),
            IPVS_CMD_ATTR_DEST => CmdAttr::Dest(parse_nested(p, "IPVS_CMD_ATTR_DEST")?),
            IPVS_CMD_ATTR_DAEMON => CmdAttr::Daemon(parse_nested(p, "IPVS_CMD_ATTR_DAEMON")?),
            _ => CmdAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}

impl Nla for SvcAttr {
    fn value_len(&self) -> usize {
        match self {
            SvcAttr::Af(_) | SvcAttr::Protocol(_) | SvcAttr::Port(_) => 2,
            SvcAttr::Addr(_) => 16,
            SvcAttr::Fwmark(_) | SvcAttr::Timeout(_) | SvcAttr::Netmask(_) => 4,
            SvcAttr::SchedName(s) => s.len() + 1,
            SvcAttr::Flags { .. } => 8,
            SvcAttr::Stats(v) => nested_len(v),
            SvcAttr::Other(n) => n.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        match self {
            SvcAttr::Af(_) => SVC_AF,
            SvcAttr::Protocol(_) => SVC_PROTOCOL,
            SvcAttr::Addr(_) => SVC_ADDR,
            SvcAttr::Port(_) => SVC_PORT,
            SvcAttr::Fwmark(_) => SVC_FWMARK,
            SvcAttr::SchedName(_) => SVC_SCHED_NAME,
            SvcAttr::Flags { .. } => SVC_FLAGS,
            SvcAttr::Timeout(_) => SVC_TIMEOUT,
            SvcAttr::Netmask(_) => SVC_NETMASK,
            SvcAttr::Stats(_) => SVC_STATS,
            SvcAttr::Other(n) => n.kind(),
        }
    }
    fn is_nested(&self) -> bool {
        matches!(self, SvcAttr::Stats(_))
    }
    fn emit_value(&self, buf: &mut [u8]) {
        match self {
            SvcAttr::Af(v) | SvcAttr::Protocol(v) => ok(emit_u16(buf, *v)),
            SvcAttr::Addr(a) => buf[..16].copy_from_slice(a),
            SvcAttr::Port(v) => ok(emit_u16_be(buf, *v)),
            SvcAttr::Fwmark(v) | SvcAttr::Timeout(v) | SvcAttr::Netmask(v) => ok(emit_u32(buf, *v)),
            SvcAttr::SchedName(s) => emit_str(buf, s),
            SvcAttr::Flags { flags, mask } => {
                ok(emit_u32(&mut buf[..4], *flags));
                ok(emit_u32(&mut buf[4..8], *mask));
            }
            SvcAttr::Stats(v) => v.as_slice().emit(buf),
            SvcAttr::Other(n) => n.emit_value(buf),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for SvcAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let p = buf.value();
        Ok(match buf.kind() {
            SVC_AF => SvcAttr::Af(parse_u16(p).context("IPVS_SVC_ATTR_AF")?),
            SVC_PROTOCOL => SvcAttr::Protocol(parse_u16(p).context("IPVS_SVC_ATTR_PROTOCOL")?),
            SVC_ADDR => SvcAttr::Addr(parse_addr(p).context("IPVS_SVC_ATTR_ADDR")?),
            SVC_PORT => SvcAttr::Port(parse_u16_be(p).context("IPVS_SVC_ATTR_PORT")?),
            SVC_FWMARK => SvcAttr::Fwmark(parse_u32(p).context("IPVS_SVC_ATTR_FWMARK")?),
            SVC_SCHED_NAME => {
                SvcAttr::SchedName(parse_string(p).context("IPVS_SVC_ATTR_SCHED_NAME")?)
            }
            SVC_FLAGS if p.len() == 8 => SvcAttr::Flags {
                flags: parse_u32(&p[..4]).context("IPVS_SVC_ATTR_FLAGS")?,
                mask: parse_u32(&p[4..]).context("IPVS_SVC_ATTR_FLAGS")?,
            },
            SVC_TIMEOUT => SvcAttr::Timeout(parse_u32(p).context("IPVS_SVC_ATTR_TIMEOUT")?),
            SVC_NETMASK => SvcAttr::Netmask(parse_u32(p).context("IPVS_SVC_ATTR_NETMASK")?),
            SVC_STATS => SvcAttr::Stats(parse_nested(p, "IPVS_SVC_ATTR_STATS")?),
            _ => SvcAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}

impl Nla for DestAttr {
    fn value_len(&self) -> usize {
        match self {
            DestAttr::Addr(_) => 16,
            DestAttr::Port(_) | DestAttr::AddrFamily(_) => 2,
            DestAttr::Stats(v) => nested_len(v),
            DestAttr::Other(n) => n.value_len(),
            _ => 4,
        }
    }
    fn kind(&self) -> u16 {
        match self {
            DestAttr::Addr(_) => DEST_ADDR,
            DestAttr::Port(_) => DEST_PORT,
            DestAttr::FwdMethod(_) => DEST_FWD_METHOD,
            DestAttr::Weight(_) => DEST_WEIGHT,
            DestAttr::UThresh(_) => DEST_U_THRESH,
            DestAttr::LThresh(_) => DEST_L_THRESH,
            DestAttr::ActiveConns(_) => DEST_ACTIVE_CONNS,
            DestAttr::InactConns(_) => DEST_INACT_CONNS,
            DestAttr::PersistConns(_) => DEST_PERSIST_CONNS,
            DestAttr::AddrFamily(_) => DEST_ADDR_FAMILY,
            DestAttr::Stats(_) => DEST_STATS,
            DestAttr::Other(n) => n.kind(),
        }
    }
    fn is_nested(&self) -> bool {
        matches!(self, DestAttr::Stats(_))
    }
    fn emit_value(&self, buf: &mut [u8]) {
        match self {
            DestAttr::Addr(a) => buf[..16].copy_from_slice(a),
            DestAttr::Port(v) => ok(emit_u16_be(buf, *v)),
            DestAttr::AddrFamily(v) => ok(emit_u16(buf, *v)),
            DestAttr::FwdMethod(v)
            | DestAttr::Weight(v)
            | DestAttr::UThresh(v)
            | DestAttr::LThresh(v)
            | DestAttr::ActiveConns(v)
            | DestAttr::InactConns(v)
            | DestAttr::PersistConns(v) => ok(emit_u32(buf, *v)),
            DestAttr::Stats(v) => v.as_slice().emit(buf),
            DestAttr::Other(n) => n.emit_value(buf),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for DestAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let p = buf.value();
        let u = |what: &'static str| parse_u32(p).context(what);
        Ok(match buf.kind() {
            DEST_ADDR => DestAttr::Addr(parse_addr(p).context("IPVS_DEST_ATTR_ADDR")?),
            DEST_PORT => DestAttr::Port(parse_u16_be(p).context("IPVS_DEST_ATTR_PORT")?),
            DEST_FWD_METHOD => DestAttr::FwdMethod(u("IPVS_DEST_ATTR_FWD_METHOD")?),
            DEST_WEIGHT => DestAttr::Weight(u("IPVS_DEST_ATTR_WEIGHT")?),
            DEST_U_THRESH => DestAttr::UThresh(u("IPVS_DEST_ATTR_U_THRESH")?),
            DEST_L_THRESH => DestAttr::LThresh(u("IPVS_DEST_ATTR_L_THRESH")?),
            DEST_ACTIVE_CONNS => DestAttr::ActiveConns(u("IPVS_DEST_ATTR_ACTIVE_CONNS")?),
            DEST_INACT_CONNS => DestAttr::InactConns(u("IPVS_DEST_ATTR_INACT_CONNS")?),
            DEST_PERSIST_CONNS => DestAttr::PersistConns(u("IPVS_DEST_ATTR_PERSIST_CONNS")?),
            DEST_ADDR_FAMILY => {
                DestAttr::AddrFamily(parse_u16(p).context("IPVS_DEST_ATTR_ADDR_FAMILY")?)
            }
            DEST_STATS => DestAttr::Stats(parse_nested(p, "IPVS_DEST_ATTR_STATS")?),
            _ => DestAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}

impl Nla for DaemonAttr {
    fn value_len(&self) -> usize {
        match self {
            DaemonAttr::State(_) | DaemonAttr::SyncId(_) => 4,
            DaemonAttr::McastIfn(s) => s.len() + 1,
            DaemonAttr::Other(n) => n.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        match self {
            DaemonAttr::State(_) => DAEMON_STATE,
            DaemonAttr::McastIfn(_) => DAEMON_MCAST_IFN,
            DaemonAttr::SyncId(_) => DAEMON_SYNC_ID,
            DaemonAttr::Other(n) => n.kind(),
        }
    }
    fn emit_value(&self, buf: &mut [u8]) {
        match self {
            DaemonAttr::State(v) | DaemonAttr::SyncId(v) => ok(emit_u32(buf, *v)),
            DaemonAttr::McastIfn(s) => emit_str(buf, s),
            DaemonAttr::Other(n) => n.emit_value(buf),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for DaemonAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let p = buf.value();
        Ok(match buf.kind() {
            DAEMON_STATE => DaemonAttr::State(parse_u32(p).context("IPVS_DAEMON_ATTR_STATE")?),
            DAEMON_MCAST_IFN => {
                DaemonAttr::McastIfn(parse_string(p).context("IPVS_DAEMON_ATTR_MCAST_IFN")?)
            }
            DAEMON_SYNC_ID => DaemonAttr::SyncId(parse_u32(p).context("IPVS_DAEMON_ATTR_SYNC_ID")?),
            _ => DaemonAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}

impl Nla for StatsAttr {
    fn value_len(&self) -> usize {
        match self {
            StatsAttr::Conns(_) | StatsAttr::InPkts(_) | StatsAttr::OutPkts(_) => 4,
            StatsAttr::InBytes(_) | StatsAttr::OutBytes(_) => 8,
            StatsAttr::Other(n) => n.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        match self {
            StatsAttr::Conns(_) => STATS_CONNS,
            StatsAttr::InPkts(_) => STATS_INPKTS,
            StatsAttr::OutPkts(_) => STATS_OUTPKTS,
            StatsAttr::InBytes(_) => STATS_INBYTES,
            StatsAttr::OutBytes(_) => STATS_OUTBYTES,
            StatsAttr::Other(n) => n.kind(),
        }
    }
    fn emit_value(&self, buf: &mut [u8]) {
        match self {
            StatsAttr::Conns(v) | StatsAttr::InPkts(v) | StatsAttr::OutPkts(v) => {
                ok(emit_u32(buf, *v))
            }
            StatsAttr::InBytes(v) | StatsAttr::OutBytes(v) => {
                buf[..8].copy_from_slice(&v.to_ne_bytes())
            }
            StatsAttr::Other(n) => n.emit_value(buf),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for StatsAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let p = buf.value();
        Ok(match buf.kind() {
            STATS_CONNS => StatsAttr::Conns(parse_u32(p).context("IPVS_STATS_ATTR_CONNS")?),
            STATS_INPKTS => StatsAttr::InPkts(parse_u32(p).context("IPVS_STATS_ATTR_INPKTS")?),
            STATS_OUTPKTS => StatsAttr::OutPkts(parse_u32(p).context("IPVS_STATS_ATTR_OUTPKTS")?),
            STATS_INBYTES => StatsAttr::InBytes(parse_u64(p).context("IPVS_STATS_ATTR_INBYTES")?),
            STATS_OUTBYTES => {
                StatsAttr::OutBytes(parse_u64(p).context("IPVS_STATS_ATTR_OUTBYTES")?)
            }
            _ => StatsAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}
