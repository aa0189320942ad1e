//! The witness over real QUIC with mutual TLS: two clusters served from one port, each
//! authenticated by its own CA.

use std::time::Duration;

use hactl_net::{Ca, NodeIdentity, NodeName};
use hactl_witness::server::{cluster_dir, Server};
use hactl_witness::{Ask, WitnessClient, WitnessError, WitnessOp};

const T: Duration = Duration::from_secs(5);

fn node(ca: &Ca, name: &str) -> NodeIdentity {
    ca.issue_node_cert(&NodeName::new(name).unwrap(), &[])
        .unwrap()
}

/// A witness configuration directory serving `cas`.
fn witness_dir(cas: &[&Ca]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for ca in cas {
        let name = hactl_net::tls::witness_name(ca.cluster_name()).unwrap();
        let d = cluster_dir(dir.path(), ca.cluster_name());
        std::fs::create_dir_all(&d).unwrap();
        ca.issue_node_cert(&name, &[]).unwrap().save(&d).unwrap();
    }
    dir
}

/// A witness on a free local port, running on the test's runtime.
fn serve(cfg: &std::path::Path, state: &std::path::Path) -> std::net::SocketAddr {
    let server = Server::bind(cfg, state, "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    tokio::spawn(server.run());
    addr
}

#[tokio::test]
async fn two_clusters_one_witness_each_grants_one_node() {
    let web = Ca::create("web").unwrap();
    let db = Ca::create("db_1").unwrap();
    let cfg = witness_dir(&[&web, &db]);
    let state = tempfile::tempdir().unwrap();
    let addr = serve(cfg.path(), state.path());

    let ask = |id: NodeIdentity| async move {
        let c = WitnessClient::new(&id, addr).unwrap();
        c.request(WitnessOp::WitnessAsk, 0, T).await
    };
    let w1 = ask(node(&web, "n1")).await.unwrap();
    assert!(w1.granted);
    let w2 = ask(node(&web, "n2")).await.unwrap();
    assert!(!w2.granted);
    assert_eq!(w2.holder.as_deref(), Some("n1"));
    // The other cluster has a grant of its own, for a node of the same name.
    assert!(ask(node(&db, "n2")).await.unwrap().granted);

    // The holder releases; then the other node may be granted.
    let n1 = WitnessClient::new(&node(&web, "n1"), addr).unwrap();
    n1.request(WitnessOp::WitnessRelease, w1.generation, T)
        .await
        .unwrap();
    assert!(ask(node(&web, "n2")).await.unwrap().granted);
}

/// Halves of four over the wire: the first ask claims the grant for its half and
/// waits; the other half is refused and told the claimed half; the partner's ask
/// completes it, naming the node with the greater log end as the holder.
#[tokio::test]
async fn a_half_of_four_is_granted_over_the_wire() {
    let web = Ca::create("web").unwrap();
    let cfg = witness_dir(&[&web]);
    let state = tempfile::tempdir().unwrap();
    let addr = serve(cfg.path(), state.path());
    let ask = |me: &'static str, side: [&'static str; 2], log: (u64, u64)| {
        let id = node(&web, me);
        async move {
            let c = WitnessClient::new(&id, addr).unwrap();
            let side = side.map(String::from).to_vec();
            c.ask(Ask { side, log }, T).await.unwrap()
        }
    };
    let half = vec!["n1".to_string(), "n2".to_string()];
    let a = ask("n2", ["n2", "n1"], (3, 10)).await;
    assert!(a.waiting && !a.granted && a.side == half);
    let b = ask("n3", ["n3", "n4"], (3, 12)).await;
    assert!(!b.granted && !b.waiting && b.side == half);
    let c = ask("n1", ["n1", "n2"], (3, 11)).await;
    assert!(c.granted && c.side == half && c.holder.as_deref() == Some("n1"));
    assert!(ask("n2", ["n2", "n1"], (3, 10)).await.granted);
}

#[tokio::test]
async fn a_node_of_an_unknown_ca_is_refused() {
    let web = Ca::create("web").unwrap();
    let cfg = witness_dir(&[&web]);
    let state = tempfile::tempdir().unwrap();
    let addr = serve(cfg.path(), state.path());
    // Same cluster name, another CA: the witness's certificate does not verify for it,
    // and its certificate does not verify for the witness.
    let impostor = Ca::create("web").unwrap();
    let c = WitnessClient::new(&node(&impostor, "n1"), addr).unwrap();
    let r = c.request(WitnessOp::WitnessAsk, 0, T).await;
    assert!(matches!(r, Err(WitnessError::Unreachable { .. })), "{r:?}");
    let state_file = state.path().join("web.grant");
    assert!(
        !state_file.exists(),
        "an impostor's ask changed the witness state"
    );
}
