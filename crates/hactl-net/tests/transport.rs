//! The QUIC transport on loopback with real certificates.

mod common;

use common::*;
use hactl_net::{NetError, Transport};
use hactl_proto::peer::{peer_message::Body, Heartbeat, PeerMessage};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_exchange_messages_both_ways_in_order() {
    let ids = identities("lab", &["n1", "n2"]);
    let (t1, mut rx1, a1) = bind(ids[0].clone()).await;
    let (t2, mut rx2, a2) = bind(ids[1].clone()).await;
    for i in 0..100u8 {
        t1.send(&name("n2"), a2, &PeerMessage::raft("", vec![i; 10]))
            .unwrap();
    }
    for i in 0..100u8 {
        let (from, msg) = recv(&mut rx2, 10).await;
        assert_eq!(from, name("n1"));
        assert_eq!(msg.cluster, "lab");
        assert_eq!(msg.body, Some(Body::Raft(vec![i; 10])));
    }
    t2.send(&name("n1"), a1, &PeerMessage::raft("", b"back".to_vec()))
        .unwrap();
    let (from, msg) = recv(&mut rx1, 10).await;
    assert_eq!(from, name("n2"));
    assert_eq!(msg.body, Some(Body::Raft(b"back".to_vec())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_all_pairs_and_heartbeats_as_datagrams() {
    let ids = identities("lab", &["n1", "n2", "n3"]);
    let mut nodes = Vec::new();
    for id in ids {
        nodes.push(bind(id).await);
    }
    let names = ["n1", "n2", "n3"];
    for (i, (t, _, _)) in nodes.iter().enumerate() {
        for (j, (_, _, addr)) in nodes.iter().enumerate() {
            if i != j {
                let hb = Heartbeat {
                    node: names[i].into(),
                    term: 1,
                    leader_id: 1,
                    sent_unix_micros: 0,
                    seq: j as u64,
                    ..Default::default()
                };
                t.send(&name(names[j]), *addr, &PeerMessage::heartbeat("", hb))
                    .unwrap();
                t.send(
                    &name(names[j]),
                    *addr,
                    &PeerMessage::raft("", vec![i as u8, j as u8]),
                )
                .unwrap();
            }
        }
    }
    for (j, (_, rx, _)) in nodes.iter_mut().enumerate() {
        let mut raft_from = Vec::new();
        let mut hb_from = Vec::new();
        // Datagrams may be lost in principle; on loopback they are not, so expect all 4.
        while raft_from.len() + hb_from.len() < 4 {
            let (from, msg) = recv(rx, 10).await;
            match msg.body {
                Some(Body::Raft(b)) => {
                    assert_eq!(b[1] as usize, j);
                    assert_eq!(names[b[0] as usize], from.as_str());
                    raft_from.push(from);
                }
                Some(Body::Heartbeat(h)) => {
                    assert_eq!(h.node, from.as_str());
                    assert_eq!(h.seq as usize, j);
                    hb_from.push(from);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        raft_from.sort();
        hb_from.sort();
        assert_eq!(raft_from, hb_from);
        assert!(!raft_from.contains(&name(names[j])));
    }
}

/// A tracing writer that keeps everything logged, to assert refusals are logged.
#[derive(Clone, Default)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuf {
    type Writer = LogBuf;
    fn make_writer(&'a self) -> LogBuf {
        self.clone()
    }
}

impl LogBuf {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
    async fn wait_for(&self, needle: &str) -> bool {
        self.wait_for_line(|l| l.contains(needle)).await
    }
    async fn wait_for_line(&self, pred: impl Fn(&str) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::time::Instant::now() < deadline {
            if self.text().lines().any(&pred) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }
}

/// Runs on a current-thread runtime so the thread-local log subscriber sees every task.
#[tokio::test]
async fn certificate_from_another_ca_is_refused_both_ways_and_logged() {
    let logs = LogBuf::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let ours = identities("lab", &["n1", "n2"]);
    let theirs = identities("lab", &["n3"]); // same cluster name, different CA
    let (t1, mut rx1, a1) = bind(ours[0].clone()).await;
    let (t3, mut rx3, a3) = bind(theirs[0].clone()).await;

    // We cannot connect to them: their server certificate is not from our CA.
    let err = t1.probe(&name("n3"), a3).await.unwrap_err();
    assert!(matches!(err, NetError::Connect { .. }), "{err}");
    assert!(logs.wait_for("cannot connect to peer").await);
    let line = logs
        .text()
        .lines()
        .find(|l| l.contains("cannot connect to peer"))
        .unwrap()
        .to_string();
    assert!(
        line.contains("node=n3") && line.contains(&a3.to_string()),
        "{line}"
    );

    // They cannot connect to us.
    assert!(t3.probe(&name("n1"), a1).await.is_err());

    // A client that trusts our CA but presents a certificate from another CA gets past
    // its own check; our server must refuse it and log the refusal with its address.
    let mut impostor = theirs[0].clone();
    impostor.ca_cert_pem = ours[0].ca_cert_pem.clone();
    let (ti, _rxi) = Transport::bind(impostor, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let ai = ti.local_addr().unwrap();
    assert!(ti.probe(&name("n1"), a1).await.is_err());
    let want = format!("addr={ai}");
    assert!(
        logs.wait_for_line(|l| l.contains("refused peer connection")
            && l.contains(&want)
            && l.contains("certificate"))
            .await,
        "{}",
        logs.text()
    );

    // And nothing reached either side through send().
    t1.send(&name("n3"), a3, &PeerMessage::raft("", vec![1]))
        .unwrap();
    ti.send(&name("n1"), a1, &PeerMessage::raft("", vec![2]))
        .unwrap();
    assert!(tokio::time::timeout(Duration::from_millis(500), rx1.recv())
        .await
        .is_err());
    assert!(tokio::time::timeout(Duration::from_millis(500), rx3.recv())
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_whose_certificate_names_another_node_is_refused() {
    let ids = identities("lab", &["n1", "n2", "n3"]);
    let (t1, _rx1, _a1) = bind(ids[0].clone()).await;
    let (_t2, mut rx2, a2) = bind(ids[1].clone()).await;
    // n2 listens at a2, but the sender believes n3 lives there (stale or forged
    // address): the handshake must fail, since n2's certificate does not name n3.
    let err = t1.probe(&name("n3"), a2).await.unwrap_err();
    assert!(err.to_string().contains("n3"), "{err}");
    t1.send(&name("n3"), a2, &PeerMessage::raft("", vec![9]))
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(500), rx2.recv())
            .await
            .is_err(),
        "a message addressed to n3 was delivered to n2"
    );
    // The right name at the same address works.
    t1.probe(&name("n2"), a2).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_do_not_crash_the_receiver() {
    let ids = identities("lab", &["n1", "n2", "n3"]);
    let (_t1, mut rx1, a1) = bind(ids[0].clone()).await;

    // A raw QUIC client with a valid certificate writes garbage frames.
    let qt = Arc::new(quinn::TransportConfig::default());
    let client_cfg = hactl_net::tls::client_config(&ids[1], qt).unwrap();
    let mut ep = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    ep.set_default_client_config(client_cfg);
    for garbage in [
        // Length prefix far over the maximum.
        u32::MAX.to_be_bytes().to_vec(),
        // A hello frame whose body is not protobuf.
        vec![0, 0, 0, 3, 0x0f, 0xff, 0xff],
        // Half a prefix, then end of stream.
        vec![0, 0],
    ] {
        let conn = ep.connect(a1, "n1").unwrap().await.unwrap();
        let mut s = conn.open_uni().await.unwrap();
        s.write_all(&garbage).await.unwrap();
        let _ = s.finish();
        // The receiver closes the connection with its protocol-error code.
        let closed = tokio::time::timeout(Duration::from_secs(5), conn.closed())
            .await
            .expect("receiver did not close the connection");
        match closed {
            quinn::ConnectionError::ApplicationClosed(c) => {
                assert_eq!(c.error_code, quinn::VarInt::from_u32(1), "{c:?}")
            }
            other => panic!("unexpected close {other:?}"),
        }
    }
    // Garbage datagrams are dropped (logged), the connection stays up.
    let conn = ep.connect(a1, "n1").unwrap().await.unwrap();
    conn.send_datagram(bytes::Bytes::from_static(&[0, 0, 0, 9, 1]))
        .unwrap();
    conn.send_datagram(bytes::Bytes::from_static(&[0xff; 8]))
        .unwrap();
    // The receiver still works for a well-behaved peer.
    let (t3, _rx3, _a3) = bind(ids[2].clone()).await;
    let got = send_until_received(
        &t3,
        &name("n1"),
        a1,
        &PeerMessage::raft("", b"still alive".to_vec()),
        &mut rx1,
        Duration::from_secs(10),
    )
    .await
    .expect("receiver stopped working after malformed frames");
    assert_eq!(got.0, name("n3"));
    assert_eq!(got.1.body, Some(Body::Raft(b"still alive".to_vec())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_resumes_after_the_receiver_restarts() {
    let ids = identities("lab", &["n1", "n2"]);
    let (t1, _rx1, _a1) = bind(ids[0].clone()).await;
    let (t2, mut rx2, a2) = bind(ids[1].clone()).await;
    let msg = PeerMessage::raft("", b"before".to_vec());
    let got = send_until_received(
        &t1,
        &name("n2"),
        a2,
        &msg,
        &mut rx2,
        Duration::from_secs(10),
    )
    .await
    .expect("first delivery");
    assert_eq!(got.1.body, Some(Body::Raft(b"before".to_vec())));

    // Restart n2 on the same address (the port may take a moment to be released).
    t2.shutdown().await;
    drop(rx2);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let (_t2b, mut rx2b) = loop {
        match Transport::bind(ids[1].clone(), a2).await {
            Ok(x) => break x,
            Err(e) if tokio::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("cannot rebind {a2}: {e}"),
        }
    };
    // n1 keeps sending on its old connection until it notices, then reconnects.
    let msg = PeerMessage::raft("", b"after".to_vec());
    let got = send_until_received(
        &t1,
        &name("n2"),
        a2,
        &msg,
        &mut rx2b,
        Duration::from_secs(15),
    )
    .await
    .expect("delivery did not resume after restart");
    assert_eq!(got.0, name("n1"));
    assert_eq!(got.1.body, Some(Body::Raft(b"after".to_vec())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_returns_an_error_instead_of_blocking() {
    let ids = identities("lab", &["n1", "n2"]);
    let opts = hactl_net::TransportOptions {
        queue_capacity: 4,
        ..Default::default()
    };
    let (t1, _rx1) = Transport::bind_with(ids[0].clone(), "127.0.0.1:0".parse().unwrap(), opts)
        .await
        .unwrap();
    // Nobody listens at this address: the peer task is stuck connecting (up to the
    // connect timeout), so the queue fills up.
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead = sock.local_addr().unwrap();
    let mut full = false;
    for _ in 0..100 {
        match t1.send(&name("n2"), dead, &PeerMessage::raft("", vec![0; 100])) {
            Ok(()) => {}
            Err(hactl_net::SendError::QueueFull { node }) => {
                assert_eq!(node, name("n2"));
                full = true;
                break;
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert!(full, "queue never reported full");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_starts_once_a_late_peer_comes_up() {
    let ids = identities("lab", &["n1", "n2"]);
    let (t1, _rx1, _a1) = bind(ids[0].clone()).await;
    // n2's address exists but nothing answers QUIC there yet (a silent UDP socket):
    // n1's connection attempts time out and back off.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let a2 = silent.local_addr().unwrap();
    for _ in 0..5 {
        t1.send(&name("n2"), a2, &PeerMessage::raft("", b"early".to_vec()))
            .unwrap();
    }
    assert!(t1.probe(&name("n2"), a2).await.is_err());
    drop(silent);
    let (_t2, mut rx2) = Transport::bind(ids[1].clone(), a2).await.unwrap();
    let got = send_until_received(
        &t1,
        &name("n2"),
        a2,
        &PeerMessage::raft("", b"late".to_vec()),
        &mut rx2,
        Duration::from_secs(15),
    )
    .await
    .expect("no delivery after the peer came up");
    assert_eq!(got.0, name("n1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_cluster_or_protocol_version_is_refused() {
    use hactl_proto::frame;
    let ids = identities("lab", &["n1", "n2"]);
    let (_t1, mut rx1, a1) = bind(ids[0].clone()).await;
    let qt = Arc::new(quinn::TransportConfig::default());
    let mut ep = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    ep.set_default_client_config(hactl_net::tls::client_config(&ids[1], qt).unwrap());
    let max = hactl_proto::MAX_FRAME_LEN;

    // A hello for another cluster, then one with a future protocol version: the
    // connection is closed with the protocol-error code.
    let mut other_version = PeerMessage::hello("lab", "n2");
    if let Some(Body::Hello(h)) = other_version.body.as_mut() {
        h.protocol_version = 99;
    }
    for hello in [PeerMessage::hello("prod", "n2"), other_version] {
        let conn = ep.connect(a1, "n1").unwrap().await.unwrap();
        let mut s = conn.open_uni().await.unwrap();
        s.write_all(&frame::encode(&hello, max).unwrap())
            .await
            .unwrap();
        let closed = tokio::time::timeout(Duration::from_secs(5), conn.closed())
            .await
            .expect("connection not closed");
        assert!(
            matches!(&closed, quinn::ConnectionError::ApplicationClosed(c) if c.error_code == quinn::VarInt::from_u32(1)),
            "{closed:?}"
        );
    }

    // A good hello, a message stamped for another cluster (dropped), then a good one
    // (delivered, and it is the first thing delivered).
    let conn = ep.connect(a1, "n1").unwrap().await.unwrap();
    let mut s = conn.open_uni().await.unwrap();
    for m in [
        PeerMessage::hello("lab", "n2"),
        PeerMessage::raft("prod", b"wrong cluster".to_vec()),
        PeerMessage::raft("lab", b"right cluster".to_vec()),
    ] {
        s.write_all(&frame::encode(&m, max).unwrap()).await.unwrap();
    }
    let (from, msg) = recv(&mut rx1, 10).await;
    assert_eq!(from, name("n2"));
    assert_eq!(msg.body, Some(Body::Raft(b"right cluster".to_vec())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_works_from_a_thread_outside_the_runtime() {
    let ids = identities("lab", &["n1", "n2"]);
    let (t1, _rx1, _a1) = bind(ids[0].clone()).await;
    let (_t2, mut rx2, a2) = bind(ids[1].clone()).await;
    let sender = t1.clone();
    std::thread::spawn(move || {
        sender
            .send(
                &name("n2"),
                a2,
                &PeerMessage::raft("", b"from a thread".to_vec()),
            )
            .unwrap();
    })
    .join()
    .unwrap();
    let (_, msg) = recv(&mut rx2, 10).await;
    assert_eq!(msg.body, Some(Body::Raft(b"from a thread".to_vec())));
}

fn capture_logs() -> (LogBuf, tracing::subscriber::DefaultGuard) {
    let logs = LogBuf::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    (logs, guard)
}

fn count(logs: &LogBuf, needle: &str) -> usize {
    logs.text().lines().filter(|l| l.contains(needle)).count()
}

/// Anyone can make handshakes fail: a UDP flood once wrote one WARN line per
/// attempt (36 MB of log). Twenty refused impostors make one line per interval.
/// Current-thread runtime, so the thread-local log subscriber sees every task.
#[tokio::test]
async fn a_burst_of_failed_handshakes_logs_one_line() {
    let (logs, _guard) = capture_logs();
    let ours = identities("lab", &["n1"]);
    let theirs = identities("lab", &["n3"]);
    let (_t1, _rx1, a1) = bind(ours[0].clone()).await;
    // Trusts our CA, presents a certificate from another: our server refuses it.
    let mut impostor = theirs[0].clone();
    impostor.ca_cert_pem = ours[0].ca_cert_pem.clone();
    let (ti, _rxi) = Transport::bind(impostor, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    for _ in 0..20 {
        assert!(ti.probe(&name("n1"), a1).await.is_err());
    }
    assert_eq!(
        count(&logs, "refused peer connection"),
        1,
        "{}",
        logs.text()
    );
}

/// A peer that is down used to add "cannot connect to peer" to the log on every
/// reconnect attempt (every 2 s per peer, for as long as it stayed down).
#[tokio::test]
async fn an_unreachable_peer_is_reported_once() {
    let (logs, _guard) = capture_logs();
    let ids = identities("lab", &["n1", "n2"]);
    let opts = hactl_net::TransportOptions {
        connect_timeout: Duration::from_millis(100),
        reconnect_backoff_max: Duration::from_millis(100),
        ..Default::default()
    };
    let (t1, _rx1) = Transport::bind_with(ids[0].clone(), "127.0.0.1:0".parse().unwrap(), opts)
        .await
        .unwrap();
    // A port nobody listens on.
    let gone = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let until = tokio::time::Instant::now() + Duration::from_secs(3);
    while tokio::time::Instant::now() < until {
        let _ = t1.send(&name("n2"), gone, &PeerMessage::raft("", vec![1]));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count(&logs, "cannot connect to peer"), 1, "{}", logs.text());
}

/// A node with two addresses (redundant links): both carry messages under mutual TLS
/// (the peer is verified by its node name, not by the address, so the second address
/// needs nothing in the certificate), each link has its own connection and RTT, and a
/// link whose address does not answer holds up nothing on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_is_reached_on_each_of_its_links_independently() {
    let ids = identities("lab", &["n1", "n2"]);
    let (t1, _rx1, _) = bind(ids[0].clone()).await;
    // n2 listens on every address, as the daemon does; its certificate names 127.0.0.1.
    let (t2, mut rx2) = Transport::bind(ids[1].clone(), "0.0.0.0:0".parse().unwrap())
        .await
        .unwrap();
    let port = t2.local_addr().unwrap().port();
    let link0: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let link1: std::net::SocketAddr = format!("127.0.0.2:{port}").parse().unwrap();
    let n2 = name("n2");
    for (k, addr) in [(0u8, link0), (1, link1)] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            t1.send_link(&n2, k, addr, &PeerMessage::raft("", vec![k]))
                .unwrap();
            match tokio::time::timeout(Duration::from_millis(100), rx2.recv()).await {
                Ok(Some((from, m))) if m.body == Some(Body::Raft(vec![k])) => {
                    assert_eq!(from, name("n1"));
                    break;
                }
                _ => assert!(tokio::time::Instant::now() < deadline, "link {k} silent"),
            }
        }
        assert!(t1.link_rtt(&n2, k).is_some(), "no RTT on link {k}");
    }
    // Link 1 now points at a port nobody serves: link 0 goes on, link 1 has no RTT.
    let dead = std::net::UdpSocket::bind("127.0.0.2:0").unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    for i in 0..20u8 {
        t1.send_link(&n2, 1, dead_addr, &PeerMessage::raft("", vec![100 + i]))
            .unwrap();
        t1.send_link(&n2, 0, link0, &PeerMessage::raft("", vec![i]))
            .unwrap();
    }
    for i in 0..20u8 {
        let (_, m) = recv(&mut rx2, 10).await;
        assert_eq!(m.body, Some(Body::Raft(vec![i])));
    }
    assert!(t1.link_rtt(&n2, 1).is_none());
    assert!(t1.link_rtt(&n2, 0).is_some());
}
