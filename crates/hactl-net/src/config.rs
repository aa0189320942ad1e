//! The cluster config (`cluster.toml` in the config dir, identical on every node) and
//! the per-node bundle file that carries a node's identity to it.
//!
//! ```toml
//! format = 1
//! name = "prod"
//!
//! [[nodes]]
//! name = "node1"
//! id = 1
//! address = "10.0.0.1:7420"
//! more_addresses = ["192.168.1.1:7420"]   # optional: heartbeat links 1..3
//!
//! [settings]          # free-form daemon settings (heartbeat profile, ...), optional
//! ```

use crate::name::NodeName;
use crate::pki::{self, NodeIdentity, PkiError};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// File name of the cluster config in the config dir.
pub const CLUSTER_CONFIG_FILE: &str = "cluster.toml";
/// Marker in the config dir: this node may found the cluster (its bundle was made by
/// `hactl cluster setup`). The daemon removes it once the founding state is on disk,
/// so a node that later loses its state dir rejoins instead of founding again.
pub const FOUNDER_FILE: &str = "founder";
/// Default config dir.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/hactl";
/// Default UDP port of the QUIC peer plane when an address has no port.
pub const DEFAULT_PEER_PORT: u16 = 7420;
/// Most addresses (heartbeat links) a node may have, as corosync knet's links.
pub const MAX_LINKS: usize = 4;
/// Version of the config and bundle file formats.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {why}")]
    Parse { path: PathBuf, why: String },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Pki(#[from] PkiError),
}

/// One cluster member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeEntry {
    pub name: NodeName,
    /// Raft id, unique and never reused within the cluster, > 0.
    pub id: u64,
    /// The node's QUIC peer address: link 0.
    pub address: SocketAddr,
    /// Further addresses, links 1, 2, 3 in order (redundant heartbeat links: link
    /// `k` of every node is one network). Same port as `address`: the node listens
    /// on one UDP port on all its addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_addresses: Vec<SocketAddr>,
}

impl NodeEntry {
    /// Every address of the node, link 0 first.
    pub fn addresses(&self) -> Vec<SocketAddr> {
        std::iter::once(self.address)
            .chain(self.more_addresses.iter().copied())
            .collect()
    }

    /// Checks the node's own addresses: at most [`MAX_LINKS`], none unspecified, one
    /// port for all.
    fn validate_addresses(&self) -> Result<(), ConfigError> {
        let all = self.addresses();
        if all.len() > MAX_LINKS {
            return Err(ConfigError::Invalid(format!(
                "node {}: {} addresses given; at most {MAX_LINKS} links are supported",
                self.name,
                all.len()
            )));
        }
        for a in &all {
            if a.ip().is_unspecified() {
                return Err(ConfigError::Invalid(format!(
                    "node {}: address {a} is unspecified; give the address peers reach it at",
                    self.name
                )));
            }
            if a.port() != self.address.port() {
                return Err(ConfigError::Invalid(format!(
                    "node {}: address {a} has another port than {} (a node listens on one \
                     port on all its addresses)",
                    self.name, self.address
                )));
            }
        }
        Ok(())
    }
}

/// Parses a node's addresses: `ADDR[,ADDR...]`, link 0 first, each as
/// [`parse_peer_address`]; an address without a port takes the first one's.
pub fn parse_peer_addresses(s: &str) -> Result<Vec<SocketAddr>, ConfigError> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        let mut a = parse_peer_address(part)?;
        if let Some(first) = out.first() {
            if part.parse::<std::net::IpAddr>().is_ok() {
                a.set_port(first.port());
            }
        }
        out.push(a);
    }
    if out.len() > MAX_LINKS {
        return Err(ConfigError::Invalid(format!(
            "{s:?}: {} addresses; at most {MAX_LINKS} links are supported",
            out.len()
        )));
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterConfig {
    #[serde(default = "format_version")]
    pub format: u32,
    pub name: String,
    pub nodes: Vec<NodeEntry>,
    /// Daemon settings the peer plane does not interpret (owned by the daemon).
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub settings: toml::Table,
}

fn format_version() -> u32 {
    FORMAT_VERSION
}

/// Checks a cluster name: 1 to 64 letters, digits, `-`, `_` or `.`.
pub fn validate_cluster_name(name: &str) -> Result<(), ConfigError> {
    if name.is_empty() || name.len() > 64 {
        return Err(ConfigError::Invalid(format!(
            "invalid cluster name {name:?}: must have 1 to 64 characters"
        )));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(ConfigError::Invalid(format!(
            "invalid cluster name {name:?}: only letters, digits, '-', '_' and '.' are allowed"
        )));
    }
    Ok(())
}

/// Parses a peer address: `IP`, `IP:PORT` or `[IPv6]:PORT`; the port defaults to
/// [`DEFAULT_PEER_PORT`]. Host names are refused: the address must not depend on DNS.
pub fn parse_peer_address(s: &str) -> Result<SocketAddr, ConfigError> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        if a.port() == 0 {
            return Err(ConfigError::Invalid(format!(
                "bad address {s:?}: port 0 is not allowed"
            )));
        }
        return Ok(a);
    }
    if let Ok(ip) = s.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_PEER_PORT));
    }
    Err(ConfigError::Invalid(format!(
        "bad address {s:?}: expected an IP address with an optional port \
         (10.0.0.1, 10.0.0.1:{DEFAULT_PEER_PORT}, [fd00::1]:{DEFAULT_PEER_PORT})"
    )))
}

impl ClusterConfig {
    /// A config for `name` with `nodes` in the given order, ids 1, 2, 3, ...
    pub fn new(name: &str, nodes: Vec<(NodeName, SocketAddr)>) -> Result<Self, ConfigError> {
        let cfg = ClusterConfig {
            format: FORMAT_VERSION,
            name: name.to_string(),
            nodes: nodes
                .into_iter()
                .enumerate()
                .map(|(i, (name, address))| NodeEntry {
                    name,
                    id: i as u64 + 1,
                    address,
                    more_addresses: Vec::new(),
                })
                .collect(),
            settings: toml::Table::new(),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks names, ids and addresses for emptiness and duplicates.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.format != FORMAT_VERSION {
            return Err(ConfigError::Invalid(format!(
                "unsupported cluster config format {} (this hactl reads format {FORMAT_VERSION})",
                self.format
            )));
        }
        validate_cluster_name(&self.name)?;
        if self.nodes.is_empty() {
            return Err(ConfigError::Invalid(
                "a cluster needs at least one node".into(),
            ));
        }
        let (mut names, mut ids, mut addrs) = (HashSet::new(), HashSet::new(), HashSet::new());
        for n in &self.nodes {
            if !names.insert(&n.name) {
                return Err(ConfigError::Invalid(format!(
                    "node {} is listed twice",
                    n.name
                )));
            }
            if n.id == 0 || !ids.insert(n.id) {
                return Err(ConfigError::Invalid(format!(
                    "node {}: id {} is 0 or used by another node",
                    n.name, n.id
                )));
            }
            n.validate_addresses()?;
            for a in n.addresses() {
                if !addrs.insert(a) {
                    return Err(ConfigError::Invalid(format!(
                        "address {a} is given for more than one node, or twice for {}",
                        n.name
                    )));
                }
            }
        }
        Ok(())
    }

    pub fn node(&self, name: &NodeName) -> Option<&NodeEntry> {
        self.nodes.iter().find(|n| &n.name == name)
    }

    pub fn to_toml(&self) -> String {
        // Serializing plain structs of strings and numbers cannot fail.
        toml::to_string_pretty(self).unwrap_or_default()
    }

    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let cfg: ClusterConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Writes the config to `path` (0644).
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        Ok(pki::write_file(path, self.to_toml().as_bytes(), 0o644)?)
    }
}

/// Everything one node needs to join: the cluster config, the CA certificate, and the
/// node's own certificate and private key, in one TOML file (0600: it holds a key).
#[derive(Clone, Serialize, Deserialize)]
pub struct Bundle {
    #[serde(default = "format_version")]
    pub format: u32,
    pub node: NodeName,
    pub ca_cert: String,
    pub node_cert: String,
    pub node_key: String,
    pub cluster: ClusterConfig,
    /// Made by `hactl cluster setup` for a founding member (installing it writes the
    /// [`FOUNDER_FILE`] marker); false for a node added to a running cluster.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub founder: bool,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("node", &self.node)
            .field("cluster", &self.cluster.name)
            .finish_non_exhaustive()
    }
}

impl Bundle {
    pub fn new(identity: &NodeIdentity, cluster: &ClusterConfig) -> Self {
        Bundle {
            format: FORMAT_VERSION,
            node: identity.node.clone(),
            ca_cert: identity.ca_cert_pem.clone(),
            node_cert: identity.cert_pem.clone(),
            node_key: identity.key_pem.clone(),
            cluster: cluster.clone(),
            founder: false,
        }
    }

    /// The node identity in the bundle, checked: the certificate names the bundle's
    /// node, chains to the CA, the key fits, and the CA belongs to the cluster named in
    /// the config, which lists the node.
    pub fn identity(&self) -> Result<NodeIdentity, ConfigError> {
        let id = NodeIdentity::from_pem(&self.ca_cert, &self.node_cert, &self.node_key)?;
        if id.node != self.node {
            return Err(ConfigError::Invalid(format!(
                "bundle for {} holds a certificate for {}",
                self.node, id.node
            )));
        }
        if id.cluster != self.cluster.name {
            return Err(ConfigError::Invalid(format!(
                "bundle's CA is for cluster {:?}, its config for {:?}",
                id.cluster, self.cluster.name
            )));
        }
        if self.cluster.node(&self.node).is_none() {
            return Err(ConfigError::Invalid(format!(
                "bundle for {} but the cluster config does not list that node",
                self.node
            )));
        }
        Ok(id)
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let b: Bundle = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
        if b.format != FORMAT_VERSION {
            return Err(ConfigError::Invalid(format!(
                "{}: unsupported bundle format {}",
                path.display(),
                b.format
            )));
        }
        b.cluster.validate()?;
        b.identity()?;
        Ok(b)
    }

    /// Writes the bundle to `path` with mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let text = toml::to_string_pretty(self).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        Ok(pki::write_file(path, text.as_bytes(), 0o600)?)
    }

    /// Installs the bundle into a config dir: `cluster.toml`, `ca.pem`, `node.pem`,
    /// `node.key` (0600), and for a founder's bundle the [`FOUNDER_FILE`] marker (a
    /// non-founder's bundle removes a marker left there). Creates the dir (0755) if
    /// needed.
    pub fn install(&self, dir: &Path) -> Result<NodeIdentity, ConfigError> {
        let id = self.identity()?;
        std::fs::create_dir_all(dir).map_err(|source| ConfigError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        id.save(dir)?;
        self.cluster.save(&dir.join(CLUSTER_CONFIG_FILE))?;
        let marker = dir.join(FOUNDER_FILE);
        if self.founder {
            pki::write_file(
                &marker,
                b"founding member: may create the cluster state\n",
                0o644,
            )?;
        } else {
            match std::fs::remove_file(&marker) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(ConfigError::Io {
                        path: marker,
                        source,
                    })
                }
            }
        }
        Ok(id)
    }
}
