//! The `http` and `https` real-server checks of `ocf:hactl:ipvs` (keepalived's
//! HTTP_GET and SSL_GET): `GET path` over HTTP/1.0, the status code of the answer
//! and, when a digest is configured, the MD5 of its body.
//!
//! Blocking I/O on a blocking-pool thread (rustls is a blocking state machine here;
//! no async TLS crate is needed for one request): every read and write is bounded by
//! what is left of the attempt's deadline, so a server that drips bytes cannot hold
//! the thread past it. Over TLS the server's certificate is not verified (keepalived's
//! SSL_GET does not either by default): the check asks whether the real server
//! answers, and the director talks to it by address, not by name.

use md5::{Digest, Md5};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The most of an answer read (a health page, not a download).
const MAX_ANSWER: usize = 1 << 20;

/// What the check looks at in an answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    pub status: u16,
    /// MD5 of the body, lower-case hex.
    pub digest: String,
}

/// Accepts any certificate and any handshake signature: without trusting the
/// certificate a signature proves nothing, and checking it would refuse servers
/// whose certificates webpki cannot parse (X.509 v1, as `openssl req -x509` makes
/// without a config) that keepalived's SSL_GET accepts.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config() -> Option<Arc<ClientConfig>> {
    static CONFIG: OnceLock<Option<Arc<ClientConfig>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let cfg = ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| tracing::error!(error = %e, "no TLS versions for https checks"))
                .ok()?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
                .with_no_client_auth();
            Some(Arc::new(cfg))
        })
        .clone()
}

/// A stream whose every read and write ends by `deadline`.
struct Bounded {
    s: TcpStream,
    deadline: Instant,
}

impl Bounded {
    fn left(&self) -> std::io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        Ok(left)
    }
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.s.set_read_timeout(Some(self.left()?))?;
        self.s.read(buf)
    }
}

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.s.set_write_timeout(Some(self.left()?))?;
        self.s.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.s.flush()
    }
}

/// The request, then the whole answer (the server closes: HTTP/1.0).
fn exchange<S: Read + Write>(s: &mut S, target: SocketAddr, path: &str) -> Option<Vec<u8>> {
    let host = match target {
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
    };
    let req = format!(
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: hactl-check\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).ok()?;
    s.flush().ok()?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) if answer.len() + n <= MAX_ANSWER => answer.extend_from_slice(&buf[..n]),
            Ok(_) => return None,
            // A TLS server that closes without close_notify still sent its page.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !answer.is_empty() => break,
            Err(_) => return None,
        }
    }
    Some(answer)
}

/// The status code and body digest of a whole HTTP/1.x answer.
pub(crate) fn parse_answer(answer: &[u8]) -> Option<Answer> {
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&answer[..end]).ok()?;
    let mut status_line = head.lines().next()?.split_whitespace();
    status_line.next().filter(|v| v.starts_with("HTTP/"))?;
    let status = status_line.next()?.parse().ok()?;
    let body = &answer[end + 4..];
    let digest = Md5::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Some(Answer { status, digest })
}

/// `GET path` on `target` (over TLS with `tls`), all within `timeout`.
pub(crate) fn get(target: SocketAddr, path: &str, tls: bool, timeout: Duration) -> Option<Answer> {
    let deadline = Instant::now() + timeout;
    let tcp = TcpStream::connect_timeout(&target, timeout).ok()?;
    let mut s = Bounded { s: tcp, deadline };
    let answer = if tls {
        let name = ServerName::IpAddress(target.ip().into());
        let conn = ClientConnection::new(tls_config()?, name).ok()?;
        exchange(&mut StreamOwned::new(conn, s), target, path)?
    } else {
        exchange(&mut s, target, path)?
    };
    parse_answer(&answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_body_digest_are_read_from_an_answer() {
        let a = parse_answer(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nok\n").unwrap();
        // md5("ok\n"), as `md5sum` prints it.
        assert_eq!(a.status, 200);
        assert_eq!(a.digest, "eff5bc1ef8ec9d03e640fc4370f5eacd");
        assert_eq!(
            parse_answer(b"HTTP/1.1 404 Not Found\r\n\r\n")
                .unwrap()
                .status,
            404
        );
        assert_eq!(parse_answer(b"garbage"), None);
        assert_eq!(parse_answer(b"SSH-2.0 x\r\n\r\n"), None);
    }
}
