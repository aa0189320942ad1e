//! The cluster's certificates: one CA per cluster (created by `hactl cluster setup`),
//! one certificate per node signed by it, ECDSA P-256 keys generated with ring.
//!
//! A node certificate names the node in its DNS subject alternative name (and in its
//! CN); that name is what peers authenticate. It also lists the node's IP addresses.
//! The CA's subject carries the cluster name (O=cluster). Certificates use rcgen's
//! default validity (no practical expiry): rotation is `hactl cluster setup --force`,
//! and trust is limited to this one CA rather than bounded by time.
//!
//! Files (in the config dir, default `/etc/hactl`): `ca.pem` (CA certificate, 0644),
//! `ca.key` (CA key, 0600, only on the node where setup ran), `node.pem` (0644),
//! `node.key` (0600).

use crate::name::NodeName;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const CA_CERT_FILE: &str = "ca.pem";
pub const CA_KEY_FILE: &str = "ca.key";
pub const NODE_CERT_FILE: &str = "node.pem";
pub const NODE_KEY_FILE: &str = "node.key";

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: {why}")]
    Invalid { what: String, why: String },
}

fn invalid(what: impl Into<String>, why: impl ToString) -> PkiError {
    PkiError::Invalid {
        what: what.into(),
        why: why.to_string(),
    }
}

/// The cluster's certificate authority (certificate and private key).
pub struct Ca {
    cluster: String,
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// Creates a new CA for `cluster_name`.
pub fn create_ca(cluster_name: &str) -> Result<Ca, PkiError> {
    Ca::create(cluster_name)
}

/// Issues a certificate for `node_name` (valid for its `addresses` too) under `ca`.
pub fn issue_node_cert(
    ca: &Ca,
    node_name: &NodeName,
    addresses: &[IpAddr],
) -> Result<NodeIdentity, PkiError> {
    ca.issue_node_cert(node_name, addresses)
}

impl Ca {
    pub fn create(cluster_name: &str) -> Result<Ca, PkiError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(
            DnType::CommonName,
            format!("hactl cluster CA {cluster_name}"),
        );
        params
            .distinguished_name
            .push(DnType::OrganizationName, cluster_name);
        // pathlen 0: the CA signs node certificates only, never another CA.
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Ca {
            cluster: cluster_name.to_string(),
            cert,
            key,
        })
    }

    /// Loads a CA from its certificate and key in PEM (to issue more node certificates,
    /// e.g. for `hactl cluster node add`).
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Ca, PkiError> {
        let cluster = cluster_of_ca_pem(cert_pem)?;
        let key = KeyPair::from_pem(key_pem).map_err(|e| invalid("CA key", e))?;
        let params = CertificateParams::from_ca_cert_pem(cert_pem)
            .map_err(|e| invalid("CA certificate", e))?;
        if params.is_ca == IsCa::NoCa || params.is_ca == IsCa::ExplicitNoCa {
            return Err(invalid("CA certificate", "not a CA certificate"));
        }
        // Re-create the certificate object rcgen needs for signing; what a signature
        // depends on (subject name, key identifier, key) is taken from the original.
        let cert = params.self_signed(&key)?;
        let ca = Ca { cluster, cert, key };
        let ours = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| invalid("CA certificate", e))?;
        if spki_of(&ours)? != spki_of(ca.cert.der())? {
            return Err(invalid("CA key", "does not belong to the CA certificate"));
        }
        Ok(ca)
    }

    pub fn load(dir: &Path) -> Result<Ca, PkiError> {
        let cert = read_string(&dir.join(CA_CERT_FILE))?;
        let key = read_string(&dir.join(CA_KEY_FILE))?;
        Ca::from_pem(&cert, &key)
    }

    /// Writes `ca.pem` (0644) and `ca.key` (0600) into `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), PkiError> {
        write_file(&dir.join(CA_CERT_FILE), self.cert_pem().as_bytes(), 0o644)?;
        write_file(&dir.join(CA_KEY_FILE), self.key_pem().as_bytes(), 0o600)
    }

    pub fn cluster_name(&self) -> &str {
        &self.cluster
    }

    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    pub fn issue_node_cert(
        &self,
        node_name: &NodeName,
        addresses: &[IpAddr],
    ) -> Result<NodeIdentity, PkiError> {
        let mut params = CertificateParams::new(vec![node_name.to_string()])?;
        for ip in addresses {
            params.subject_alt_names.push(SanType::IpAddress(*ip));
        }
        params
            .distinguished_name
            .push(DnType::CommonName, node_name.as_str());
        params
            .distinguished_name
            .push(DnType::OrganizationName, self.cluster.as_str());
        // Every node is both a QUIC server and a QUIC client of its peers.
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.cert, &self.key)?;
        Ok(NodeIdentity {
            cluster: self.cluster.clone(),
            node: node_name.clone(),
            ca_cert_pem: self.cert_pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// What a node needs to take part: its name, the cluster's name and CA certificate, its
/// own certificate and private key (all PEM).
#[derive(Clone)]
pub struct NodeIdentity {
    pub cluster: String,
    pub node: NodeName,
    pub ca_cert_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for NodeIdentity {
    // Never print the private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeIdentity")
            .field("cluster", &self.cluster)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl NodeIdentity {
    /// Builds an identity from PEM text, taking the node name from the certificate and
    /// the cluster name from the CA certificate, and checking they fit together.
    pub fn from_pem(ca_cert_pem: &str, cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let cluster = cluster_of_ca_pem(ca_cert_pem)?;
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| invalid("node certificate", e))?;
        let node = node_name_of_cert(&der).map_err(|why| invalid("node certificate", why))?;
        let id = NodeIdentity {
            cluster,
            node,
            ca_cert_pem: ca_cert_pem.to_string(),
            cert_pem: cert_pem.to_string(),
            key_pem: key_pem.to_string(),
        };
        // Fail here with a clear message rather than at the first TLS handshake.
        id.key_der()?;
        id.ca_der()?;
        crate::tls::check_identity(&id)?;
        Ok(id)
    }

    /// Loads `ca.pem`, `node.pem` and `node.key` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, PkiError> {
        let ca = read_string(&dir.join(CA_CERT_FILE))?;
        let cert = read_string(&dir.join(NODE_CERT_FILE))?;
        let key_path = dir.join(NODE_KEY_FILE);
        let key = read_string(&key_path)?;
        Self::from_pem(&ca, &cert, &key)
    }

    /// Writes `ca.pem`, `node.pem` (0644) and `node.key` (0600) into `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), PkiError> {
        write_file(&dir.join(CA_CERT_FILE), self.ca_cert_pem.as_bytes(), 0o644)?;
        write_file(&dir.join(NODE_CERT_FILE), self.cert_pem.as_bytes(), 0o644)?;
        write_file(&dir.join(NODE_KEY_FILE), self.key_pem.as_bytes(), 0o600)
    }

    pub fn ca_der(&self) -> Result<CertificateDer<'static>, PkiError> {
        CertificateDer::from_pem_slice(self.ca_cert_pem.as_bytes())
            .map_err(|e| invalid("CA certificate", e))
    }

    pub fn cert_der(&self) -> Result<CertificateDer<'static>, PkiError> {
        CertificateDer::from_pem_slice(self.cert_pem.as_bytes())
            .map_err(|e| invalid("node certificate", e))
    }

    pub fn key_der(&self) -> Result<PrivateKeyDer<'static>, PkiError> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(|e| invalid("node key", e))
    }
}

/// Why a certificate names no usable node.
#[derive(Debug, thiserror::Error)]
pub enum CertNameError {
    #[error("peer presented no certificate")]
    NoCertificate,
    #[error("unexpected peer identity type")]
    IdentityType,
    #[error("unparsable certificate: {0}")]
    Unparsable(String),
    #[error("bad subjectAltName: {0}")]
    BadSan(String),
    #[error("no subjectAltName")]
    NoSan,
    #[error("no DNS name in subjectAltName")]
    NoDnsName,
    #[error(transparent)]
    Name(#[from] crate::name::NameError),
}

/// The node name a certificate was issued for: its first DNS subject alternative name.
pub fn node_name_of_cert(der: &CertificateDer<'_>) -> Result<NodeName, CertNameError> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|e| CertNameError::Unparsable(e.to_string()))?;
    let san = cert
        .subject_alternative_name()
        .map_err(|e| CertNameError::BadSan(e.to_string()))?
        .ok_or(CertNameError::NoSan)?;
    for gn in &san.value.general_names {
        if let GeneralName::DNSName(n) = gn {
            return Ok(NodeName::new(*n)?);
        }
    }
    Err(CertNameError::NoDnsName)
}

/// The cluster name recorded in a CA certificate (its O attribute).
pub fn cluster_of_ca_pem(ca_pem: &str) -> Result<String, PkiError> {
    let der = CertificateDer::from_pem_slice(ca_pem.as_bytes())
        .map_err(|e| invalid("CA certificate", e))?;
    let params =
        CertificateParams::from_ca_cert_der(&der).map_err(|e| invalid("CA certificate", e))?;
    match params.distinguished_name.get(&DnType::OrganizationName) {
        Some(v) => dn_value_string(v).ok_or_else(|| invalid("CA certificate", "bad O attribute")),
        None => Err(invalid(
            "CA certificate",
            "no cluster name (O attribute): not a hactl cluster CA",
        )),
    }
}

fn dn_value_string(v: &DnValue) -> Option<String> {
    match v {
        DnValue::Utf8String(s) => Some(s.clone()),
        DnValue::PrintableString(s) => Some(s.as_str().to_string()),
        DnValue::Ia5String(s) => Some(s.as_str().to_string()),
        DnValue::TeletexString(s) => Some(s.as_str().to_string()),
        _ => None,
    }
}

fn spki_of(der: &CertificateDer<'_>) -> Result<Vec<u8>, PkiError> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der.as_ref()).map_err(|e| invalid("certificate", e))?;
    Ok(cert.public_key().raw.to_vec())
}

fn read_string(path: &Path) -> Result<String, PkiError> {
    std::fs::read_to_string(path).map_err(|source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `bytes` to `path` atomically (temp file + rename) with permission `mode`; the
/// file never exists with wider permissions, even for a moment.
pub fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), PkiError> {
    let io = |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io)?;
    // The umask may have narrowed `mode`; set it exactly.
    f.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
