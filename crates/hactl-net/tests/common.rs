//! Helpers shared by the transport tests.
#![allow(dead_code)]

use hactl_net::{pki, NodeIdentity, NodeName, Transport};
use hactl_proto::peer::PeerMessage;
use std::net::SocketAddr;
use std::time::Duration;

pub fn name(s: &str) -> NodeName {
    NodeName::new(s).unwrap()
}

pub fn identities(cluster: &str, nodes: &[&str]) -> Vec<NodeIdentity> {
    let ca = pki::create_ca(cluster).unwrap();
    nodes
        .iter()
        .map(|n| {
            ca.issue_node_cert(&name(n), &["127.0.0.1".parse().unwrap()])
                .unwrap()
        })
        .collect()
}

pub async fn bind(id: NodeIdentity) -> (Transport, hactl_net::Incoming, SocketAddr) {
    let (t, rx) = Transport::bind(id, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = t.local_addr().unwrap();
    (t, rx, addr)
}

/// Sends `msg` every 50 ms until `rx` yields a message (bounded by `deadline`), to ride
/// over connection setup and reconnect backoff; returns the first one received.
pub async fn send_until_received(
    from: &Transport,
    to: &NodeName,
    addr: SocketAddr,
    msg: &PeerMessage,
    rx: &mut hactl_net::Incoming,
    deadline: Duration,
) -> Option<(NodeName, PeerMessage)> {
    let give_up = tokio::time::Instant::now() + deadline;
    loop {
        let _ = from.send(to, addr, msg);
        match tokio::time::timeout(Duration::from_millis(50), rx.recv()).await {
            Ok(Some(m)) => return Some(m),
            Ok(None) => return None,
            Err(_) if tokio::time::Instant::now() >= give_up => return None,
            Err(_) => {}
        }
    }
}

/// Receives the next message, failing the test after `secs` seconds.
pub async fn recv(rx: &mut hactl_net::Incoming, secs: u64) -> (NodeName, PeerMessage) {
    tokio::time::timeout(Duration::from_secs(secs), rx.recv())
        .await
        .expect("timed out waiting for a message")
        .expect("incoming channel closed")
}
