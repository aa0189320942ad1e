//! One-way message latency of the QUIC transport on loopback.
//!
//! Two transports in one process; the sender stamps each message with an `Instant`
//! offset in the payload, the receiver computes the delay on arrival (same clock, so
//! this is true one-way latency). Messages are paced (one every 2 ms) so the numbers are
//! per-message latency, not queueing under a burst. Heartbeats (datagrams) and raft-sized
//! stream messages are measured separately, and so is setting up a connection.
//!
//! Run: `cargo bench -p hactl-net --bench loopback_latency`

use hactl_net::{pki, NodeName, Transport};
use hactl_proto::peer::{peer_message::Body, Heartbeat, PeerMessage};
use std::time::{Duration, Instant};

const N: usize = 2000;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ca = pki::create_ca("bench")?;
    let n1 = NodeName::new("n1")?;
    let n2 = NodeName::new("n2")?;
    let (t1, _rx1) = Transport::bind(ca.issue_node_cert(&n1, &[])?, "127.0.0.1:0".parse()?).await?;
    let (t2, mut rx2) =
        Transport::bind(ca.issue_node_cert(&n2, &[])?, "127.0.0.1:0".parse()?).await?;
    let a2 = t2.local_addr()?;
    t1.probe(&n2, a2).await?;
    let origin = Instant::now();

    // Connection setup: a fresh QUIC connection with the mutual-TLS handshake, the
    // hello, and the peer's confirmation that it read it (what a reconnect costs).
    let mut setup = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        t1.probe(&n2, a2).await?;
        setup.push(t.elapsed());
    }
    setup.sort();
    println!(
        "{:<22} n={:<5} p50={:>8.1?} p99={:>8.1?} max={:>8.1?}",
        "connect + mTLS (probe)",
        setup.len(),
        pct(&setup, 0.50),
        pct(&setup, 0.99),
        setup[setup.len() - 1]
    );

    for (label, size, heartbeat) in [
        ("raft 256 B (stream)", 256usize, false),
        ("raft 16 KiB (stream)", 16 * 1024, false),
        ("heartbeat (datagram)", 0, true),
    ] {
        // Warm up the connection.
        for _ in 0..50 {
            t1.send(&n2, a2, &PeerMessage::raft("", vec![0; 8]))?;
            tokio::time::timeout(Duration::from_secs(5), rx2.recv()).await?;
        }
        let mut lat = Vec::with_capacity(N);
        for _ in 0..N {
            let stamp = origin.elapsed().as_nanos() as u64;
            let msg = if heartbeat {
                PeerMessage::heartbeat(
                    "",
                    Heartbeat {
                        node: "n1".into(),
                        sent_unix_micros: stamp,
                        ..Default::default()
                    },
                )
            } else {
                let mut payload = stamp.to_be_bytes().to_vec();
                payload.resize(size.max(8), 0);
                PeerMessage::raft("", payload)
            };
            t1.send(&n2, a2, &msg)?;
            let Ok(Some((_, got))) = tokio::time::timeout(Duration::from_secs(1), rx2.recv()).await
            else {
                continue; // a lost datagram
            };
            let now = origin.elapsed().as_nanos() as u64;
            let sent = match got.body {
                Some(Body::Raft(b)) => u64::from_be_bytes(b[..8].try_into()?),
                Some(Body::Heartbeat(h)) => h.sent_unix_micros,
                _ => continue,
            };
            lat.push(Duration::from_nanos(now.saturating_sub(sent)));
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        lat.sort();
        println!(
            "{label:<22} n={:<5} p50={:>8.1?} p99={:>8.1?} max={:>8.1?}",
            lat.len(),
            pct(&lat, 0.50),
            pct(&lat, 0.99),
            lat[lat.len() - 1]
        );
    }
    Ok(())
}
