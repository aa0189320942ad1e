//! What a daemon uses to ask its cluster's witness.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hactl_net::NodeIdentity;
use hactl_proto::frame;
use hactl_proto::witness::{WitnessOp, WitnessReply, WitnessRequest};
use thiserror::Error;
use tokio::sync::Mutex;

use crate::grants::{Ask, Reply};
use crate::{MAX_MESSAGE, PROTOCOL_VERSION};

#[derive(Debug, Error)]
pub enum WitnessError {
    #[error("no answer from the witness at {addr} within {ms} ms")]
    Timeout { addr: SocketAddr, ms: u64 },
    #[error("witness at {addr}: {why}")]
    Unreachable { addr: SocketAddr, why: String },
    #[error("witness at {addr} refused the request: {why}")]
    Refused { addr: SocketAddr, why: String },
    #[error(transparent)]
    Tls(#[from] hactl_net::PkiError),
    #[error("binding a UDP socket: {0}")]
    Bind(std::io::Error),
}

/// A connection (made on demand, kept while it lives) to one witness.
pub struct WitnessClient {
    endpoint: quinn::Endpoint,
    addr: SocketAddr,
    cluster: String,
    server_name: String,
    conn: Mutex<Option<quinn::Connection>>,
}

impl WitnessClient {
    /// A client for `identity`'s cluster. Needs a tokio runtime.
    pub fn new(identity: &NodeIdentity, addr: SocketAddr) -> Result<WitnessClient, WitnessError> {
        let cfg =
            hactl_net::tls::witness_client_config(identity, Arc::new(crate::server::transport()))?;
        let local: SocketAddr = if addr.is_ipv6() {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        };
        let mut endpoint = quinn::Endpoint::client(local).map_err(WitnessError::Bind)?;
        endpoint.set_default_client_config(cfg);
        Ok(WitnessClient {
            endpoint,
            addr,
            cluster: identity.cluster.clone(),
            server_name: hactl_net::tls::witness_name(&identity.cluster)?
                .as_str()
                .to_string(),
            conn: Mutex::new(None),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// One request, answered within `timeout` or not at all.
    pub async fn request(
        &self,
        op: WitnessOp,
        generation: u64,
        timeout: Duration,
    ) -> Result<Reply, WitnessError> {
        self.send(op, generation, Ask::default(), timeout).await
    }

    /// Asks that this node's half continue (`ask.side`: the voters it reaches, itself
    /// included; `ask.log`: its log end as its seal took effect).
    pub async fn ask(&self, ask: Ask, timeout: Duration) -> Result<Reply, WitnessError> {
        self.send(WitnessOp::WitnessAsk, 0, ask, timeout).await
    }

    async fn send(
        &self,
        op: WitnessOp,
        generation: u64,
        ask: Ask,
        timeout: Duration,
    ) -> Result<Reply, WitnessError> {
        let req = WitnessRequest {
            version: PROTOCOL_VERSION,
            cluster: self.cluster.clone(),
            op: op.into(),
            generation,
            side: ask.side,
            log_term: ask.log.0,
            log_index: ask.log.1,
        };
        let r = tokio::time::timeout(timeout, self.exchange(&req)).await;
        let r = r.map_err(|_| WitnessError::Timeout {
            addr: self.addr,
            ms: timeout.as_millis() as u64,
        })?;
        if r.is_err() {
            // The next request connects afresh (the witness may have restarted).
            *self.conn.lock().await = None;
        }
        let reply = r?;
        if !reply.error.is_empty() {
            return Err(WitnessError::Refused {
                addr: self.addr,
                why: reply.error,
            });
        }
        Ok(Reply {
            granted: reply.granted,
            holder: (!reply.holder.is_empty()).then_some(reply.holder),
            side: reply.side,
            generation: reply.generation,
            waiting: reply.waiting,
        })
    }

    async fn exchange(&self, req: &WitnessRequest) -> Result<WitnessReply, WitnessError> {
        let unreachable = |why: String| WitnessError::Unreachable {
            addr: self.addr,
            why,
        };
        let conn = self.connection().await?;
        let (mut send, mut recv) = conn
            .open_bi()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        frame::write_async(&mut send, req, MAX_MESSAGE)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        send.finish().map_err(|e| unreachable(e.to_string()))?;
        frame::read_async::<WitnessReply, _>(&mut recv, MAX_MESSAGE)
            .await
            .map_err(|e| unreachable(e.to_string()))?
            .ok_or_else(|| unreachable("the witness closed the stream".into()))
    }

    async fn connection(&self) -> Result<quinn::Connection, WitnessError> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| c.close_reason().is_none()) {
            return Ok(c.clone());
        }
        let unreachable = |why: String| WitnessError::Unreachable {
            addr: self.addr,
            why,
        };
        let c = self
            .endpoint
            .connect(self.addr, &self.server_name)
            .map_err(|e| unreachable(e.to_string()))?
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        *slot = Some(c.clone());
        Ok(c)
    }
}
