//! The witness server: one QUIC port for every cluster it serves.
//!
//! Its configuration directory holds one identity per cluster,
//! `clusters/CLUSTER/{ca.pem,node.pem,node.key}`, issued by that cluster's CA for
//! [`hactl_net::tls::witness_name`] (`hactl cluster witness add` writes it, `hactl
//! witness add-cluster` installs it). A node asks for its own cluster's witness name;
//! the handshake picks that identity, and the witness then checks that the node's
//! certificate was issued by *that* cluster's CA, so a node of one cluster can never
//! ask for another.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hactl_net::NodeIdentity;
use hactl_proto::frame;
use hactl_proto::witness::{WitnessOp, WitnessReply, WitnessRequest};
use thiserror::Error;
use tracing::{debug, info, warn};

use crate::grants::{Ask, Grants, GrantsError, Reply};
use crate::{MAX_MESSAGE, PROTOCOL_VERSION};

/// Where a witness keeps each cluster's identity, under its configuration directory.
pub const CLUSTERS_DIR: &str = "clusters";

#[derive(Debug, Error)]
pub enum ServerError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cluster identity in {path}: {source}")]
    Identity {
        path: PathBuf,
        source: hactl_net::PkiError,
    },
    #[error("{0}: no cluster identities (add one with `hactl witness add-cluster BUNDLE`)")]
    NoClusters(PathBuf),
    #[error("clusters {0:?} and {1:?} have the same witness name: serve them from two witnesses")]
    SameName(String, String),
    #[error(transparent)]
    Tls(#[from] hactl_net::PkiError),
    #[error(transparent)]
    Grants(#[from] GrantsError),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// The directory of `cluster`'s identity under a witness configuration directory.
pub fn cluster_dir(config_dir: &Path, cluster: &str) -> PathBuf {
    config_dir.join(CLUSTERS_DIR).join(cluster)
}

/// Every cluster identity under `config_dir`, keyed by witness name.
pub fn load_identities(config_dir: &Path) -> Result<HashMap<String, NodeIdentity>, ServerError> {
    let dir = config_dir.join(CLUSTERS_DIR);
    let io = |source| ServerError::Io {
        path: dir.clone(),
        source,
    };
    let mut ids: HashMap<String, NodeIdentity> = HashMap::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ServerError::NoClusters(dir))
        }
        Err(e) => return Err(io(e)),
    };
    for e in entries {
        let path = e.map_err(io)?.path();
        if !path.is_dir() {
            continue;
        }
        let id = NodeIdentity::load(&path).map_err(|source| ServerError::Identity {
            path: path.clone(),
            source,
        })?;
        let name = hactl_net::tls::witness_name(&id.cluster)?
            .as_str()
            .to_string();
        if let Some(other) = ids.get(&name) {
            return Err(ServerError::SameName(other.cluster.clone(), id.cluster));
        }
        ids.insert(name, id);
    }
    if ids.is_empty() {
        return Err(ServerError::NoClusters(dir));
    }
    Ok(ids)
}

/// A bound witness.
pub struct Server {
    endpoint: quinn::Endpoint,
    ids: Arc<HashMap<String, NodeIdentity>>,
    grants: Arc<Mutex<Grants>>,
}

impl Server {
    /// Loads the identities of `config_dir` and the grants of `state_dir`, and binds
    /// `listen` (UDP). Needs a tokio runtime.
    pub fn bind(
        config_dir: &Path,
        state_dir: &Path,
        listen: SocketAddr,
    ) -> Result<Server, ServerError> {
        let ids = load_identities(config_dir)?;
        let grants = Grants::open(state_dir)?;
        let list: Vec<NodeIdentity> = ids.values().cloned().collect();
        let cfg = hactl_net::tls::witness_server_config(&list, Arc::new(transport()))?;
        let endpoint =
            quinn::Endpoint::server(cfg, listen).map_err(|source| ServerError::Bind {
                addr: listen,
                source,
            })?;
        let mut names: Vec<&str> = list.iter().map(|i| i.cluster.as_str()).collect();
        names.sort_unstable();
        info!(%listen, clusters = ?names, "witness listening");
        Ok(Server {
            endpoint,
            ids: Arc::new(ids),
            grants: Arc::new(Mutex::new(grants)),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.endpoint.local_addr()
    }

    /// Serves until the endpoint is closed.
    pub async fn run(self) {
        while let Some(incoming) = self.endpoint.accept().await {
            let ids = self.ids.clone();
            let grants = self.grants.clone();
            tokio::spawn(async move { connection(incoming, ids, grants).await });
        }
    }
}

/// The witness's QUIC timing: as the peer plane's (a dead client is noticed in 3 s).
pub(crate) fn transport() -> quinn::TransportConfig {
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(std::time::Duration::from_millis(500)));
    t.max_idle_timeout(quinn::IdleTimeout::try_from(std::time::Duration::from_secs(3)).ok());
    t
}

/// Which cluster and node a connection is from: the identity of the server name it
/// asked for, and a certificate that cluster's CA issued.
fn who(
    conn: &quinn::Connection,
    ids: &HashMap<String, NodeIdentity>,
) -> Result<(String, String), String> {
    let name = hactl_net::tls::requested_server_name(conn).ok_or("no server name")?;
    let id = ids
        .get(&name)
        .ok_or_else(|| format!("no cluster here for {name}"))?;
    let cert = hactl_net::tls::peer_certificate(conn).map_err(|e| e.to_string())?;
    hactl_net::tls::verify_under(id, &cert).map_err(|e| e.to_string())?;
    let node = hactl_net::pki::node_name_of_cert(&cert).map_err(|e| e.to_string())?;
    Ok((id.cluster.clone(), node.as_str().to_string()))
}

async fn connection(
    incoming: quinn::Incoming,
    ids: Arc<HashMap<String, NodeIdentity>>,
    grants: Arc<Mutex<Grants>>,
) {
    let remote = incoming.remote_address();
    let conn = match incoming.await {
        Ok(c) => c,
        Err(e) => {
            warn!(%remote, error = %e, "witness: handshake refused");
            return;
        }
    };
    let (cluster, node) = match who(&conn, &ids) {
        Ok(w) => w,
        Err(why) => {
            warn!(%remote, why, "witness: client refused");
            conn.close(1u32.into(), b"refused");
            return;
        }
    };
    debug!(%remote, cluster, node, "witness: client connected");
    while let Ok((mut send, mut recv)) = conn.accept_bi().await {
        let reply = match frame::read_async::<WitnessRequest, _>(&mut recv, MAX_MESSAGE).await {
            Ok(Some(req)) => answer(&grants, &cluster, &node, &req),
            Ok(None) => continue,
            Err(e) => refusal(format!("bad request: {e}")),
        };
        if let Err(e) = frame::write_async(&mut send, &reply, MAX_MESSAGE).await {
            debug!(cluster, node, error = %e, "witness: reply not sent");
        }
        // The stream is done either way; a reset peer needs no more.
        send.finish().ok();
    }
}

fn refusal(error: String) -> WitnessReply {
    WitnessReply {
        error,
        ..WitnessReply::default()
    }
}

/// The rule of [`Grants`] applied to one request of `node` of `cluster`.
fn answer(grants: &Mutex<Grants>, cluster: &str, node: &str, req: &WitnessRequest) -> WitnessReply {
    if req.version != PROTOCOL_VERSION {
        return refusal(format!(
            "witness protocol version {} is not spoken here (this witness speaks {PROTOCOL_VERSION})",
            req.version
        ));
    }
    if req.cluster != cluster {
        return refusal(format!(
            "asked for cluster {:?} with a certificate of cluster {cluster:?}",
            req.cluster
        ));
    }
    let Ok(mut g) = grants.lock() else {
        return refusal("witness state unavailable".into());
    };
    let r: Result<Reply, GrantsError> = match req.op() {
        WitnessOp::WitnessQuery => Ok(g.query(cluster)),
        WitnessOp::WitnessAsk => {
            let ask = Ask {
                side: req.side.clone(),
                log: (req.log_term, req.log_index),
            };
            g.ask(cluster, node, &ask, std::time::Instant::now())
        }
        WitnessOp::WitnessRelease => g.release(cluster, node, req.generation),
    };
    match r {
        Ok(r) => {
            match req.op() {
                WitnessOp::WitnessAsk if r.granted => {
                    warn!(
                        cluster,
                        node,
                        side = ?r.side,
                        generation = r.generation,
                        "witness: granted: continue without the other half"
                    )
                }
                WitnessOp::WitnessAsk if r.waiting => {
                    info!(cluster, node, side = ?r.side, "witness: claimed: waiting for the rest of the half")
                }
                WitnessOp::WitnessAsk => {
                    warn!(cluster, node, holder = ?r.holder, side = ?r.side,
                        "witness: refused: the other half holds or claimed the grant")
                }
                WitnessOp::WitnessRelease if r.holder.is_none() => {
                    info!(cluster, node, "witness: grant released: whole again")
                }
                _ => {}
            }
            WitnessReply {
                granted: r.granted,
                holder: r.holder.unwrap_or_default(),
                generation: r.generation,
                error: String::new(),
                side: r.side,
                waiting: r.waiting,
            }
        }
        // Nothing was granted: the state could not be made durable first.
        Err(e) => refusal(format!("witness state not written: {e}")),
    }
}
