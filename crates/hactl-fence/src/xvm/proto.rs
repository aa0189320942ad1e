//! The fence_xvm wire format: the 176-byte `fence_req_t`, its keyed hash, the TCP
//! challenge/response, result bytes and host-list records. Pure functions, no I/O
//! except loading a key file.
//!
//! Integers are little-endian (every deployed fence_virtd is, and it reads them as
//! native integers); addresses are raw network-order bytes.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Size of a request datagram.
pub const REQUEST_LEN: usize = 176;
/// Size of the domain field (NUL-terminated, so at most 63 bytes of name).
pub const DOMAIN_FIELD_LEN: usize = 64;
/// Longest domain name or UUID that fits.
pub const MAX_DOMAIN_LEN: usize = DOMAIN_FIELD_LEN - 1;
/// Size of the hash field and of every challenge/response on the TCP stream.
pub const HASH_FIELD_LEN: usize = 64;
/// Size of one host-list record.
pub const HOST_RECORD_LEN: usize = 130;
/// fence_virtd and fence_xvm use at most this many bytes of the key file.
pub const MAX_KEY_LEN: usize = 4096;
/// Default IPv4 multicast group.
pub const DEFAULT_GROUP_V4: Ipv4Addr = Ipv4Addr::new(225, 0, 0, 12);
/// Default IPv6 multicast group (site-local scope).
pub const DEFAULT_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff05, 0, 0, 0, 0, 0, 3, 1);
/// Default multicast port.
pub const DEFAULT_PORT: u16 = 1229;
/// Default key file of fence_xvm.
pub const DEFAULT_KEY_FILE: &str = "/etc/cluster/fence_xvm.key";

const OFF_REQUEST: usize = 0;
const OFF_HASHTYPE: usize = 1;
const OFF_ADDRLEN: usize = 2;
const OFF_FLAGS: usize = 3;
const OFF_DOMAIN: usize = 4;
const OFF_ADDRESS: usize = 68;
const ADDRESS_FIELD_LEN: usize = 28;
const OFF_PORT: usize = 96;
const OFF_RANDOM: usize = 98;
const OFF_SEQNO: usize = 104;
const OFF_FAMILY: usize = 108;
const OFF_HASH: usize = 112;

/// Linux address family numbers as carried in the `family` field.
pub const AF_INET: u32 = 2;
pub const AF_INET6: u32 = 10;

/// Request flag bit 0: the domain is a UUID (fence_virtd's libvirt backend ignores it).
pub const FLAG_UUID: u8 = 1;

/// Errors in building or reading wire data.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtoError {
    #[error("domain name is {0} bytes long; fence_xvm allows at most 63")]
    DomainTooLong(usize),
    #[error("domain name contains a NUL byte")]
    DomainHasNul,
    #[error("request is {0} bytes; a fence_xvm request is exactly 176")]
    BadLength(usize),
    #[error("unknown operation code {0} in request")]
    UnknownOp(u8),
    #[error("unknown hash type {0} in request")]
    UnknownHashType(u8),
    #[error("unknown address family {0} in request")]
    UnknownFamily(u32),
}

/// The operation a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Null = 0,
    Off = 1,
    Reboot = 2,
    On = 3,
    Status = 4,
    /// `monitor` (DEVSTATUS): fence_virtd answers without touching the backend.
    Monitor = 5,
    /// `list`: the answer is a host list.
    HostList = 6,
}

impl Op {
    pub fn from_code(code: u8) -> Result<Op, ProtoError> {
        Ok(match code {
            0 => Op::Null,
            1 => Op::Off,
            2 => Op::Reboot,
            3 => Op::On,
            4 => Op::Status,
            5 => Op::Monitor,
            6 => Op::HostList,
            other => return Err(ProtoError::UnknownOp(other)),
        })
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    /// Whether the operation names a target domain.
    pub fn needs_domain(self) -> bool {
        !matches!(self, Op::Monitor | Op::HostList)
    }

    pub fn name(self) -> &'static str {
        match self {
            Op::Null => "null",
            Op::Off => "off",
            Op::Reboot => "reboot",
            Op::On => "on",
            Op::Status => "status",
            Op::Monitor => "monitor",
            Op::HostList => "list",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Hash used for the request signature and for the challenge/response.
/// Ordered by strength: fence_virtd accepts a request hash >= its configured one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HashType {
    None = 0,
    Sha1 = 1,
    Sha256 = 2,
    Sha512 = 3,
}

impl HashType {
    pub fn from_code(code: u8) -> Result<HashType, ProtoError> {
        Ok(match code {
            0 => HashType::None,
            1 => HashType::Sha1,
            2 => HashType::Sha256,
            3 => HashType::Sha512,
            other => return Err(ProtoError::UnknownHashType(other)),
        })
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn name(self) -> &'static str {
        match self {
            HashType::None => "none",
            HashType::Sha1 => "sha1",
            HashType::Sha256 => "sha256",
            HashType::Sha512 => "sha512",
        }
    }

    fn algorithm(self) -> Option<&'static ring::digest::Algorithm> {
        match self {
            HashType::None => None,
            HashType::Sha1 => Some(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY),
            HashType::Sha256 => Some(&ring::digest::SHA256),
            HashType::Sha512 => Some(&ring::digest::SHA512),
        }
    }
}

impl fmt::Display for HashType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown hash name.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown hash type {0:?}: expected none, sha1, sha256 or sha512")]
pub struct UnknownHashName(pub String);

impl FromStr for HashType {
    type Err = UnknownHashName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(HashType::None),
            "sha1" => Ok(HashType::Sha1),
            "sha256" => Ok(HashType::Sha256),
            "sha512" => Ok(HashType::Sha512),
            _ => Err(UnknownHashName(s.to_string())),
        }
    }
}

/// Problems loading a key file.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read fence key file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("fence key file {path} is empty")]
    Empty { path: PathBuf },
}

/// The shared secret: the raw bytes of the key file (at most 4096, nothing stripped).
/// Its Debug output never shows the bytes, so keys cannot end up in logs.
#[derive(Clone, PartialEq, Eq)]
pub struct FenceKey {
    bytes: Vec<u8>,
}

impl FenceKey {
    /// A key from raw bytes; like fence_virtd, only the first 4096 bytes count.
    pub fn from_bytes(mut bytes: Vec<u8>) -> FenceKey {
        bytes.truncate(MAX_KEY_LEN);
        FenceKey { bytes }
    }

    /// Reads a key file the way fence_virtd does: its first 4096 bytes, raw.
    pub fn load(path: &Path) -> Result<FenceKey, KeyError> {
        use std::io::Read;
        let read_err = |source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_err)?;
        let mut bytes = Vec::with_capacity(MAX_KEY_LEN);
        file.take(MAX_KEY_LEN as u64)
            .read_to_end(&mut bytes)
            .map_err(read_err)?;
        if bytes.is_empty() {
            return Err(KeyError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(FenceKey { bytes })
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for FenceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FenceKey(<redacted {} bytes>)", self.bytes.len())
    }
}

impl Drop for FenceKey {
    fn drop(&mut self) {
        // Best effort: do not leave the secret in freed memory.
        for b in self.bytes.iter_mut() {
            // SAFETY: `b` is a valid, aligned, exclusive reference into our own buffer.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

/// `HASH(key ‖ data)` zero-padded to 64 bytes (all zero for [`HashType::None`]).
/// This is both the request signature and the answer to a 64-byte challenge.
pub fn keyed_hash(hash: HashType, key: &FenceKey, data: &[u8]) -> [u8; HASH_FIELD_LEN] {
    let mut out = [0u8; HASH_FIELD_LEN];
    if let Some(alg) = hash.algorithm() {
        let mut ctx = ring::digest::Context::new(alg);
        ctx.update(key.as_bytes());
        ctx.update(data);
        let digest = ctx.finish();
        let d = digest.as_ref();
        out[..d.len()].copy_from_slice(d);
    }
    out
}

/// The answer to a challenge read from (or sent to) fence_virtd.
pub fn challenge_response(
    auth: HashType,
    key: &FenceKey,
    challenge: &[u8; HASH_FIELD_LEN],
) -> [u8; HASH_FIELD_LEN] {
    keyed_hash(auth, key, challenge)
}

/// Constant-time comparison of two 64-byte hash fields.
pub fn hashes_equal(a: &[u8; HASH_FIELD_LEN], b: &[u8; HASH_FIELD_LEN]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The fields of a `fence_req_t`. `addrlen` and `family` follow from `address`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub op: Op,
    pub hash: HashType,
    pub flags: u8,
    /// Target domain name or UUID text ("" for list and monitor).
    pub domain: String,
    /// The address fence_virtd calls back to.
    pub address: IpAddr,
    /// The TCP port fence_virtd calls back to.
    pub port: u16,
    /// Six random bytes (zero when not hashing).
    pub random: [u8; 6],
    pub seqno: u32,
}

/// A request read off the wire, with the hash field as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedRequest {
    pub request: Request,
    pub addrlen: u8,
    pub hash_field: [u8; HASH_FIELD_LEN],
}

impl Request {
    /// The 176 bytes with the hash field all zero.
    pub fn encode_unsigned(&self) -> Result<[u8; REQUEST_LEN], ProtoError> {
        let name = self.domain.as_bytes();
        if name.len() > MAX_DOMAIN_LEN {
            return Err(ProtoError::DomainTooLong(name.len()));
        }
        if name.contains(&0) {
            return Err(ProtoError::DomainHasNul);
        }
        let mut buf = [0u8; REQUEST_LEN];
        buf[OFF_REQUEST] = self.op.code();
        buf[OFF_HASHTYPE] = self.hash.code();
        buf[OFF_FLAGS] = self.flags;
        buf[OFF_DOMAIN..OFF_DOMAIN + name.len()].copy_from_slice(name);
        let family = match self.address {
            IpAddr::V4(a) => {
                buf[OFF_ADDRLEN] = 4;
                buf[OFF_ADDRESS..OFF_ADDRESS + 4].copy_from_slice(&a.octets());
                AF_INET
            }
            IpAddr::V6(a) => {
                buf[OFF_ADDRLEN] = 16;
                buf[OFF_ADDRESS..OFF_ADDRESS + 16].copy_from_slice(&a.octets());
                AF_INET6
            }
        };
        buf[OFF_PORT..OFF_PORT + 2].copy_from_slice(&self.port.to_le_bytes());
        buf[OFF_RANDOM..OFF_RANDOM + 6].copy_from_slice(&self.random);
        buf[OFF_SEQNO..OFF_SEQNO + 4].copy_from_slice(&self.seqno.to_le_bytes());
        buf[OFF_FAMILY..OFF_FAMILY + 4].copy_from_slice(&family.to_le_bytes());
        Ok(buf)
    }

    /// The 176 bytes, signed with `key` using `self.hash`.
    pub fn encode(&self, key: &FenceKey) -> Result<[u8; REQUEST_LEN], ProtoError> {
        let mut buf = self.encode_unsigned()?;
        let sig = keyed_hash(self.hash, key, &buf);
        buf[OFF_HASH..].copy_from_slice(&sig);
        Ok(buf)
    }

    /// Reads a request datagram (does not check the signature: see [`verify_request`]).
    pub fn decode(buf: &[u8]) -> Result<DecodedRequest, ProtoError> {
        if buf.len() != REQUEST_LEN {
            return Err(ProtoError::BadLength(buf.len()));
        }
        let op = Op::from_code(buf[OFF_REQUEST])?;
        let hash = HashType::from_code(buf[OFF_HASHTYPE])?;
        let family = u32::from_le_bytes(le4(&buf[OFF_FAMILY..]));
        let addr = &buf[OFF_ADDRESS..OFF_ADDRESS + ADDRESS_FIELD_LEN];
        let address = match family {
            AF_INET => IpAddr::V4(Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3])),
            AF_INET6 => {
                let mut o = [0u8; 16];
                o.copy_from_slice(&addr[..16]);
                IpAddr::V6(Ipv6Addr::from(o))
            }
            other => return Err(ProtoError::UnknownFamily(other)),
        };
        let mut random = [0u8; 6];
        random.copy_from_slice(&buf[OFF_RANDOM..OFF_RANDOM + 6]);
        let mut hash_field = [0u8; HASH_FIELD_LEN];
        hash_field.copy_from_slice(&buf[OFF_HASH..]);
        Ok(DecodedRequest {
            request: Request {
                op,
                hash,
                flags: buf[OFF_FLAGS],
                domain: c_string(&buf[OFF_DOMAIN..OFF_DOMAIN + DOMAIN_FIELD_LEN]),
                address,
                port: u16::from_le_bytes([buf[OFF_PORT], buf[OFF_PORT + 1]]),
                random,
                seqno: u32::from_le_bytes(le4(&buf[OFF_SEQNO..])),
            },
            addrlen: buf[OFF_ADDRLEN],
            hash_field,
        })
    }
}

/// Checks a request's signature the way fence_virtd does: recompute over the request
/// with a zeroed hash field, compare all 64 bytes (so non-zero padding fails).
pub fn verify_request(buf: &[u8; REQUEST_LEN], key: &FenceKey) -> Result<bool, ProtoError> {
    let hash = HashType::from_code(buf[OFF_HASHTYPE])?;
    let mut zeroed = *buf;
    zeroed[OFF_HASH..].fill(0);
    let mut got = [0u8; HASH_FIELD_LEN];
    got.copy_from_slice(&buf[OFF_HASH..]);
    Ok(hashes_equal(&keyed_hash(hash, key, &zeroed), &got))
}

fn le4(b: &[u8]) -> [u8; 4] {
    [b[0], b[1], b[2], b[3]]
}

/// A NUL-terminated string field, read up to its first NUL and at most 63 bytes: the
/// daemon leaves byte 63 of list records uninitialised.
fn c_string(field: &[u8]) -> String {
    let field = &field[..field.len().min(MAX_DOMAIN_LEN)];
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// The result byte fence_virtd sends last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultCode {
    /// Done; for status: the domain is on.
    Success,
    Fail,
    /// Status only: off, or unknown to the backend.
    Off,
    /// Not allowed by fence_virtd's static permission map.
    PermissionDenied,
    /// A host list follows.
    HostList,
    Other(u8),
}

impl ResultCode {
    pub fn from_byte(b: u8) -> ResultCode {
        match b {
            0 => ResultCode::Success,
            1 => ResultCode::Fail,
            2 => ResultCode::Off,
            3 => ResultCode::PermissionDenied,
            253 => ResultCode::HostList,
            other => ResultCode::Other(other),
        }
    }
}

/// One entry of fence_virtd's host list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostRecord {
    pub name: String,
    pub uuid: String,
    /// libvirt `virDomainState` (1 running, 5 shut off, ...).
    pub state: u8,
}

impl HostRecord {
    /// fence_xvm counts only "running" as on.
    pub fn is_on(&self) -> bool {
        self.state == 1
    }

    /// Parses one 130-byte record; `None` for the all-empty terminator.
    pub fn parse(rec: &[u8; HOST_RECORD_LEN]) -> Option<HostRecord> {
        let name = c_string(&rec[0..64]);
        let uuid = c_string(&rec[64..128]);
        if name.is_empty() && uuid.is_empty() {
            return None;
        }
        Some(HostRecord {
            name,
            uuid,
            state: rec[128],
        })
    }

    /// fence_xvm's `list` line: name in 32 columns, uuid, on/off.
    pub fn list_line(&self) -> String {
        format!(
            "{:<32} {} {}",
            self.name,
            self.uuid,
            if self.is_on() { "on" } else { "off" }
        )
    }
}
