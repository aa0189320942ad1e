//! Mutual TLS under the cluster CA, for quinn.
//!
//! Both sides trust exactly one root: the cluster CA (no system roots). The server
//! requires a client certificate and verifies it against that root (rustls's
//! `WebPkiClientVerifier`); the client verifies the server's certificate against the same
//! root and checks that it names the node it meant to reach. TLS 1.3 only (QUIC needs
//! it), ring as the crypto provider.

use crate::name::NodeName;
use crate::pki::{node_name_of_cert, CertNameError, NodeIdentity, PkiError};
use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, UnixTime};
use std::sync::Arc;

/// ALPN protocol id of the hactl peer protocol; a different id fails the handshake.
pub const ALPN: &[u8] = b"hactl-peer/1";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn err(what: &str, e: impl ToString) -> PkiError {
    PkiError::Invalid {
        what: what.to_string(),
        why: e.to_string(),
    }
}

fn roots(id: &NodeIdentity) -> Result<Arc<RootCertStore>, PkiError> {
    let mut roots = RootCertStore::empty();
    roots
        .add(id.ca_der()?)
        .map_err(|e| err("CA certificate", e))?;
    Ok(Arc::new(roots))
}

fn client_verifier(id: &NodeIdentity) -> Result<Arc<dyn ClientCertVerifier>, PkiError> {
    WebPkiClientVerifier::builder_with_provider(roots(id)?, provider())
        .build()
        .map_err(|e| err("client verifier", e))
}

/// The rustls server side: requires a client certificate from the cluster CA.
pub fn rustls_server_config(id: &NodeIdentity) -> Result<rustls::ServerConfig, PkiError> {
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| err("TLS", e))?
        .with_client_cert_verifier(client_verifier(id)?)
        .with_single_cert(vec![id.cert_der()?], id.key_der()?)
        .map_err(|e| err("node certificate/key", e))?;
    cfg.alpn_protocols = vec![ALPN.to_vec()];
    Ok(cfg)
}

/// The rustls client side: presents our certificate, trusts only the cluster CA.
pub fn rustls_client_config(id: &NodeIdentity) -> Result<rustls::ClientConfig, PkiError> {
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| err("TLS", e))?
        .with_root_certificates(roots(id)?)
        .with_client_auth_cert(vec![id.cert_der()?], id.key_der()?)
        .map_err(|e| err("node certificate/key", e))?;
    cfg.alpn_protocols = vec![ALPN.to_vec()];
    Ok(cfg)
}

/// quinn server configuration for `id` with the given transport parameters.
pub fn server_config(
    id: &NodeIdentity,
    transport: Arc<quinn::TransportConfig>,
) -> Result<quinn::ServerConfig, PkiError> {
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(rustls_server_config(id)?)
        .map_err(|e| err("QUIC TLS", e))?;
    let mut cfg = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    cfg.transport_config(transport);
    Ok(cfg)
}

/// quinn client configuration for `id` with the given transport parameters. The
/// expected peer name is given per connection (`Endpoint::connect(addr, name)`).
pub fn client_config(
    id: &NodeIdentity,
    transport: Arc<quinn::TransportConfig>,
) -> Result<quinn::ClientConfig, PkiError> {
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(rustls_client_config(id)?)
        .map_err(|e| err("QUIC TLS", e))?;
    let mut cfg = quinn::ClientConfig::new(Arc::new(crypto));
    cfg.transport_config(transport);
    Ok(cfg)
}

/// Checks that an identity is usable: the key matches the certificate and the
/// certificate was issued by the identity's CA for a client and a server.
pub(crate) fn check_identity(id: &NodeIdentity) -> Result<(), PkiError> {
    rustls_server_config(id)?;
    rustls_client_config(id)?;
    let cert = id.cert_der()?;
    client_verifier(id)?
        .verify_client_cert(&cert, &[], UnixTime::now())
        .map_err(|e| {
            err(
                "node certificate",
                format!("not valid under the cluster CA: {e}"),
            )
        })?;
    Ok(())
}

/// The node name of the peer on an established connection, from its verified
/// certificate (never from anything the peer says).
pub fn peer_node_name(conn: &quinn::Connection) -> Result<NodeName, CertNameError> {
    node_name_of_cert(&peer_certificate(conn)?)
}

/// ALPN protocol id of the witness protocol (`proto/witness.proto`).
pub const WITNESS_ALPN: &[u8] = b"hactl-witness/1";

/// The name on a cluster's witness certificate, which is also the TLS server name a
/// node of that cluster asks the witness for: the witness picks the certificate (and
/// so the cluster) by it. Letters and digits of the cluster name are kept, anything
/// else becomes `-`.
pub fn witness_name(cluster: &str) -> Result<NodeName, PkiError> {
    let label: String = cluster
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    NodeName::new(format!("witness.{}", label.trim_matches('-')))
        .map_err(|e| err("witness name", e))
}

/// The quinn client side of the witness protocol: our node certificate, trusting only
/// our cluster CA (the witness must present a certificate for [`witness_name`]).
pub fn witness_client_config(
    id: &NodeIdentity,
    transport: Arc<quinn::TransportConfig>,
) -> Result<quinn::ClientConfig, PkiError> {
    let mut tls = rustls_client_config(id)?;
    tls.alpn_protocols = vec![WITNESS_ALPN.to_vec()];
    let crypto =
        quinn::crypto::rustls::QuicClientConfig::try_from(tls).map_err(|e| err("QUIC TLS", e))?;
    let mut cfg = quinn::ClientConfig::new(Arc::new(crypto));
    cfg.transport_config(transport);
    Ok(cfg)
}

/// The quinn server side of a witness serving several clusters: `ids` holds its
/// identity in each (issued by that cluster's CA for [`witness_name`]). The certificate
/// is chosen by the server name the client asks for; a client certificate is required
/// and must chain to one of the CAs. Which one is checked after the handshake
/// ([`verify_under`]): the client must belong to the cluster it asked for.
pub fn witness_server_config(
    ids: &[NodeIdentity],
    transport: Arc<quinn::TransportConfig>,
) -> Result<quinn::ServerConfig, PkiError> {
    let mut roots = RootCertStore::empty();
    let mut by_name = rustls::server::ResolvesServerCertUsingSni::new();
    for id in ids {
        roots
            .add(id.ca_der()?)
            .map_err(|e| err("CA certificate", e))?;
        let key =
            rustls::sign::CertifiedKey::from_der(vec![id.cert_der()?], id.key_der()?, &provider())
                .map_err(|e| err("witness certificate/key", e))?;
        by_name
            .add(witness_name(&id.cluster)?.as_str(), key)
            .map_err(|e| err("witness certificate", e))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| err("client verifier", e))?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| err("TLS", e))?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(by_name));
    tls.alpn_protocols = vec![WITNESS_ALPN.to_vec()];
    let crypto =
        quinn::crypto::rustls::QuicServerConfig::try_from(tls).map_err(|e| err("QUIC TLS", e))?;
    let mut cfg = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    cfg.transport_config(transport);
    Ok(cfg)
}

/// Whether `cert` (a client's end-entity certificate) chains to `id`'s cluster CA.
pub fn verify_under(id: &NodeIdentity, cert: &CertificateDer<'_>) -> Result<(), PkiError> {
    client_verifier(id)?
        .verify_client_cert(cert, &[], UnixTime::now())
        .map(|_| ())
        .map_err(|e| err("client certificate", e))
}

/// The server name the client asked for on an established (server side) connection.
pub fn requested_server_name(conn: &quinn::Connection) -> Option<String> {
    conn.handshake_data()?
        .downcast::<quinn::crypto::rustls::HandshakeData>()
        .ok()?
        .server_name
}

/// The verified end-entity certificate the peer presented on an established connection.
pub fn peer_certificate(
    conn: &quinn::Connection,
) -> Result<CertificateDer<'static>, CertNameError> {
    let identity = conn.peer_identity().ok_or(CertNameError::NoCertificate)?;
    let certs = identity
        .downcast::<Vec<CertificateDer<'static>>>()
        .map_err(|_| CertNameError::IdentityType)?;
    certs.first().cloned().ok_or(CertNameError::NoCertificate)
}
