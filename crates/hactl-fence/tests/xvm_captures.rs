//! The packet captures of the real fence_xvm talking to the real fence_virtd
//! (testdata/capture-*.txt, with their throw-away keys) as test vectors: every request
//! decodes, its hash recomputes byte for byte from the key, re-encoding the decoded
//! fields gives the captured bytes, and the challenge responses on the TCP stream
//! recompute.

use hactl_fence::xvm::proto::{
    challenge_response, verify_request, FenceKey, HashType, HostRecord, Op, Request, ResultCode,
    HASH_FIELD_LEN, HOST_RECORD_LEN, REQUEST_LEN,
};
use std::net::IpAddr;
use std::path::PathBuf;

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

/// What the decoder's text says about one capture.
struct Capture {
    auth: HashType,
    request: Vec<u8>,
    /// Bytes the client sent on the TCP call-back, in order.
    client_stream: Vec<u8>,
    /// Bytes fence_virtd sent on the TCP call-back, in order.
    daemon_stream: Vec<u8>,
    key: FenceKey,
}

fn hex_line(line: &str) -> Option<Vec<u8>> {
    // "  0000  04 02 04 00 74 ...  ....test" : offset, up to 16 bytes, then ASCII.
    let t = line.trim_start();
    let (off, rest) = t.split_once("  ")?;
    if off.len() != 4 || !off.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = Vec::new();
    for tok in rest.split(' ').take(16) {
        if tok.len() != 2 {
            break;
        }
        out.push(u8::from_str_radix(tok, 16).ok()?);
    }
    Some(out)
}

fn load(name: &str) -> Capture {
    let text = std::fs::read_to_string(testdata(&format!("capture-{name}.txt"))).unwrap();
    let key = FenceKey::load(&testdata(&format!("{name}.key"))).unwrap();
    let auth_name = text
        .lines()
        .find(|l| l.starts_with("# daemon config:"))
        .and_then(|l| l.split("auth = \"").nth(1))
        .and_then(|s| s.split('"').next())
        .unwrap();
    let auth: HashType = auth_name.parse().unwrap();
    let decode = text.split("## decode").nth(1).unwrap();
    let mut lines = decode.lines().peekable();

    // The request: the hex block right after the first "UDP ... 176 bytes" line.
    for l in lines.by_ref() {
        if l.contains("] UDP ") {
            break;
        }
    }
    let mut request = Vec::new();
    while let Some(bytes) = lines.peek().and_then(|l| hex_line(l)) {
        request.extend(bytes);
        lines.next();
    }
    let req_port = u16::from_le_bytes([request[96], request[97]]);

    // The TCP segments, split by direction: the client's end is the request's port.
    for l in lines.by_ref() {
        if l.starts_with("TCP exchange, segment by segment") {
            break;
        }
    }
    let mut client_stream = Vec::new();
    let mut daemon_stream = Vec::new();
    let mut from_client = None;
    for l in lines {
        if let Some(bytes) = hex_line(l) {
            let dir: bool = from_client.unwrap();
            if dir {
                client_stream.extend(bytes);
            } else {
                daemon_stream.extend(bytes);
            }
        } else if let Some((src, _)) = l.trim().split_once(" -> ") {
            from_client = Some(src.ends_with(&format!(":{req_port}")));
        } else if l.starts_with("call-back verified") {
            break;
        }
    }
    Capture {
        auth,
        request,
        client_stream,
        daemon_stream,
        key,
    }
}

fn req_array(c: &Capture) -> [u8; REQUEST_LEN] {
    c.request.as_slice().try_into().unwrap()
}

/// Decodes, verifies and re-encodes the request; returns the decoded fields.
fn check_request(c: &Capture) -> Request {
    assert_eq!(c.request.len(), REQUEST_LEN);
    let buf = req_array(c);
    let d = Request::decode(&c.request).unwrap();
    assert!(
        verify_request(&buf, &c.key).unwrap(),
        "captured hash recomputes"
    );
    // Our encoder, given the same fields (incl. random bytes and seqno), reproduces
    // the captured datagram byte for byte.
    assert_eq!(d.request.encode(&c.key).unwrap().to_vec(), c.request);
    // And a different key does not verify.
    let mut other = std::fs::read(testdata("status-sha256.key")).unwrap();
    other[0] ^= 0x55;
    let other = FenceKey::from_bytes(other);
    if d.request.hash != HashType::None {
        assert!(!verify_request(&buf, &other).unwrap());
    }
    d.request
}

/// Checks the challenge/response of both directions; returns the bytes after it.
fn check_auth(c: &Capture) -> Vec<u8> {
    if c.auth == HashType::None {
        assert!(c.client_stream.is_empty());
        return c.daemon_stream.clone();
    }
    let n = HASH_FIELD_LEN;
    let c1: [u8; 64] = c.client_stream[..n].try_into().unwrap();
    let r1: [u8; 64] = c.daemon_stream[..n].try_into().unwrap();
    let c2: [u8; 64] = c.daemon_stream[n..2 * n].try_into().unwrap();
    let r2: [u8; 64] = c.client_stream[n..2 * n].try_into().unwrap();
    assert_eq!(
        challenge_response(c.auth, &c.key, &c1),
        r1,
        "daemon's answer"
    );
    assert_eq!(
        challenge_response(c.auth, &c.key, &c2),
        r2,
        "client's answer"
    );
    assert_eq!(c.client_stream.len(), 2 * n);
    c.daemon_stream[2 * n..].to_vec()
}

#[test]
fn status_sha256() {
    let c = load("status-sha256");
    let r = check_request(&c);
    assert_eq!(r.op, Op::Status);
    assert_eq!(r.hash, HashType::Sha256);
    assert_eq!(r.domain, "test");
    assert_eq!(r.address, "192.168.231.11".parse::<IpAddr>().unwrap());
    assert_eq!(r.port, 1229);
    assert_eq!(r.seqno, 338458);
    assert_eq!(r.random, [0xd9, 0x8a, 0x1b, 0xfe, 0x6b, 0x24]);
    let rest = check_auth(&c);
    assert_eq!(rest, vec![0]);
    assert_eq!(ResultCode::from_byte(rest[0]), ResultCode::Success);
}

#[test]
fn status_nohash_noauth() {
    let c = load("status-nohash-noauth");
    let r = check_request(&c);
    assert_eq!(r.op, Op::Status);
    assert_eq!(r.hash, HashType::None);
    assert_eq!(r.random, [0; 6]);
    assert!(c.request[112..].iter().all(|&b| b == 0));
    // With hash none the signature ignores the key entirely.
    let any = FenceKey::from_bytes(b"whatever".to_vec());
    assert!(verify_request(&req_array(&c), &any).unwrap());
    assert_eq!(check_auth(&c), vec![0]);
}

#[test]
fn status_ipv6_sha256() {
    let c = load("status-ipv6-sha256");
    let r = check_request(&c);
    assert_eq!(r.op, Op::Status);
    assert_eq!(
        r.address,
        "fd5a:e231:0:1::17".parse::<IpAddr>().unwrap(),
        "IPv6 call-back address"
    );
    let d = Request::decode(&c.request).unwrap();
    assert_eq!(d.addrlen, 16);
    assert_eq!(&c.request[108..112], &[10, 0, 0, 0]);
    assert_eq!(check_auth(&c), vec![0]);
}

#[test]
fn off_hash_sha1_auth_sha512() {
    let c = load("off-hash-sha1-auth-sha512");
    let r = check_request(&c);
    assert_eq!(r.op, Op::Off);
    assert_eq!(r.hash, HashType::Sha1);
    // sha1 signature: 20 digest bytes, the remaining 44 zero.
    assert!(c.request[112 + 20..].iter().all(|&b| b == 0));
    assert!(c.request[112..112 + 20].iter().any(|&b| b != 0));
    assert_eq!(c.auth, HashType::Sha512);
    assert_eq!(check_auth(&c), vec![0]);
}

#[test]
fn reboot_sha256() {
    let c = load("reboot-sha256");
    let r = check_request(&c);
    assert_eq!(r.op, Op::Reboot);
    assert_eq!(check_auth(&c), vec![0]);
}

#[test]
fn list_sha256_records() {
    let c = load("list-sha256");
    let r = check_request(&c);
    assert_eq!(r.op, Op::HostList);
    assert_eq!(r.domain, "");
    let rest = check_auth(&c);
    assert_eq!(ResultCode::from_byte(rest[0]), ResultCode::HostList);
    // 253, one record, the terminator, one trailing byte.
    assert_eq!(rest.len(), 1 + 2 * HOST_RECORD_LEN + 1);
    let rec: [u8; HOST_RECORD_LEN] = rest[1..1 + HOST_RECORD_LEN].try_into().unwrap();
    // The daemon leaves byte 63 of each string and the pad byte uninitialised.
    assert_ne!(rec[63], 0);
    let h = HostRecord::parse(&rec).unwrap();
    assert_eq!(h.name, "test");
    assert_eq!(h.uuid, "6695eb01-f6a4-8304-79aa-97f2502e193f");
    assert!(h.is_on());
    assert_eq!(
        h.list_line(),
        "test                             6695eb01-f6a4-8304-79aa-97f2502e193f on"
    );
    let term: [u8; HOST_RECORD_LEN] = rest[1 + HOST_RECORD_LEN..1 + 2 * HOST_RECORD_LEN]
        .try_into()
        .unwrap();
    assert_eq!(HostRecord::parse(&term), None);
}

#[test]
fn every_capture_file_is_covered() {
    // A new capture dropped into testdata must get a test above.
    let mut names: Vec<String> = std::fs::read_dir(testdata(""))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("capture-"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "capture-list-sha256.txt",
            "capture-off-hash-sha1-auth-sha512.txt",
            "capture-reboot-sha256.txt",
            "capture-status-ipv6-sha256.txt",
            "capture-status-nohash-noauth.txt",
            "capture-status-sha256.txt",
        ]
    );
}

#[test]
fn key_debug_is_redacted() {
    let k = FenceKey::load(&testdata("status-sha256.key")).unwrap();
    assert_eq!(format!("{k:?}"), "FenceKey(<redacted 4096 bytes>)");
}

#[test]
fn long_domain_is_rejected() {
    let r = Request {
        op: Op::Off,
        hash: HashType::Sha256,
        flags: 0,
        domain: "x".repeat(64),
        address: "10.0.0.1".parse().unwrap(),
        port: 1229,
        random: [0; 6],
        seqno: 1,
    };
    let k = FenceKey::from_bytes(b"k".to_vec());
    assert!(r.encode(&k).is_err());
    let ok = Request {
        domain: "x".repeat(63),
        ..r
    };
    assert!(ok.encode(&k).is_ok());
}
